"""Demo data of the route planner: where the demo providers' caregivers live, so that "plan today" starts each
route from a caregiver's home rather than from the middle of the day's visits."""

from __future__ import annotations

import math
from decimal import Decimal

from yiyang.core.demo import demo_step

# Caregivers live within a few kilometres of the homes they serve (most are from the same town).
HOME_RADIUS_KM = 3.0


@demo_step
def caregiver_homes(ctx, log) -> None:
    from django.db.models import Avg

    from yiyang.registry import services as registry
    from yiyang.registry.models import Elder, Practitioner, PractitionerRole

    provider_user = ctx.accounts.get("provider")
    if provider_user is None:
        log("routing: no demo provider account, skipped")
        return
    people = list(Practitioner.objects.filter(role=PractitionerRole.CAREGIVER, home_latitude__isnull=True,
                                              organisation__region__code__startswith=ctx.county.code)
                  .select_related("organisation").order_by("pk"))
    placed = 0
    for person in people:
        served = Elder.objects.filter(service_orders__caregiver=person, latitude__isnull=False)
        centre = served.aggregate(lat=Avg("latitude"), lon=Avg("longitude"))
        if centre["lat"] is None:  # nobody served yet: somewhere in the provider's own street
            centre = Elder.objects.filter(residence_region__code__startswith=person.organisation.region_id[:9],
                                          latitude__isnull=False).aggregate(lat=Avg("latitude"),
                                                                            lon=Avg("longitude"))
        if centre["lat"] is None:
            continue
        # A deterministic point at a random bearing and distance from the middle of the homes they serve.
        bearing = ctx.rng.uniform(0, 2 * math.pi)
        km = HOME_RADIUS_KM * math.sqrt(ctx.rng.random())
        lat = float(centre["lat"]) + km / 111.0 * math.cos(bearing)
        lon = float(centre["lon"]) + km / (111.0 * math.cos(math.radians(float(centre["lat"])))) * math.sin(bearing)
        actor = provider_user if person.organisation_id == provider_user.organisation_id else ctx.accounts["bureau"]
        registry.save_practitioner(actor=actor, practitioner=person,
                                   home_latitude=Decimal(f"{lat:.6f}"), home_longitude=Decimal(f"{lon:.6f}"))
        placed += 1
    log(f"routing: home locations for {placed} caregivers (route start and end)")
