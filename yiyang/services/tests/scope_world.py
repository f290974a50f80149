"""The services app in the scope world (core/tests/scope_matrix.py): a catalogue, three providers' offers and
orders for elders in each place, built through the real services. Shared by the scope matrix and the policy
tests.

    provider        where              offers in                      caregiver (account)
    颐康 provider   文治街道 511903002  登科 511903001, 文治 511903002  护理员71 (caregiver)
    惠民 other      登科街道 511903001  登科, 文治                       护理员72 (other_caregiver)
    巴州颐养 far     巴州区 511902001    511902001                      护理员73 (no account)

Prices (普惠 / market): 上门助浴 40.00 / 80.00 per visit, 上门助洁 30.00 / 50.00 per hour, in 恩阳区 and 巴州区; the
offers are a little under the ceiling. Rule in both districts: 低保 90 %, 低保边缘 70 %, 80+ the 普惠 price.
"""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from yiyang.core.models import Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import id_number, make_elder
from yiyang.services import services
from yiyang.services.models import ServiceCategory, ServiceItem, ServiceUnit

COUNTY, FAR_COUNTY = "511903", "511902"
STREETS = ("511903001", "511903002")
FAR_STREET = "511902001"
RULE = {"rows": [{"category": "subsistence", "share": "90"}, {"category": "near_subsistence", "share": "70"},
                 {"min_age": 80, "share": "0"}], "others": "market"}


@dataclass
class ServicesWorld:
    world: object
    bath: ServiceItem
    cleaning: ServiceItem
    orgs: dict                      # "provider", "other_provider", "far"
    users: dict                     # the scope world's accounts and "far_provider"
    carers: dict                    # practitioners by the provider key
    elders: dict = field(default_factory=dict)
    offers: dict = field(default_factory=dict)


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def soon() -> datetime.datetime:
    """A visit an hour from now: its caregiver may check in at once (from two hours before)."""
    return timezone.localtime().replace(second=0, microsecond=0) + datetime.timedelta(hours=1)


def build_services_world(world) -> ServicesWorld:
    users = dict(world.users)
    bureau, far_bureau = users["bureau"], users["other_bureau"]
    start = days_ago(30)
    bath = ServiceItem.objects.create(code="bath", name="上门助浴", category=ServiceCategory.BATH,
                                      unit=ServiceUnit.VISIT, standard_minutes=60, required_skill="助浴")
    cleaning = ServiceItem.objects.create(code="cleaning", name="上门助洁", category=ServiceCategory.CLEANING,
                                          unit=ServiceUnit.HOUR, standard_minutes=60)
    for actor, county in ((bureau, COUNTY), (far_bureau, FAR_COUNTY)):
        services.set_price(actor=actor, item=bath, jurisdiction=county, valid_from=start, market_price="80.00",
                           inclusive_price="40.00")
        services.set_price(actor=actor, item=cleaning, jurisdiction=county, valid_from=start,
                           market_price="50.00", inclusive_price="30.00")
        services.adopt_subsidy_rule(actor=actor, jurisdiction=county, params=RULE, valid_from=start,
                                    note="低保九成、低保边缘七成、80 岁以上普惠价", source=f"{county}民政函〔2026〕1号")
    far = make_org("巴州颐养", region=FAR_STREET)
    users["far_provider"] = make_user("far_provider", Role.PROVIDER, organisation=far)
    orgs = {"provider": world.organisations["provider"], "other_provider": world.organisations["other_provider"],
            "far": far}
    carers = {"provider": world.practitioners["caregiver"], "other_provider": world.practitioners["other_caregiver"],
              "far": registry.save_practitioner(
                  actor=users["far_provider"], id_number=id_number(datetime.date(1981, 5, 1), 73, male=False),
                  organisation=far, name="护理员73", phone="13800000000", role="caregiver", skills="助浴,助洁",
                  start_date=days_ago(400))}
    sw = ServicesWorld(world=world, bath=bath, cleaning=cleaning, orgs=orgs, users=users, carers=carers)
    for key, streets, price in (("provider", STREETS, "33.33"), ("other_provider", STREETS, "35.55"),
                                ("far", (FAR_STREET,), "36.66")):
        actor = users["far_provider"] if key == "far" else users[key]
        sw.offers[key] = services.declare_offer(actor=actor, provider=orgs[key], item=bath, streets=list(streets),
                                                price=price, valid_from=start)
        services.declare_offer(actor=actor, provider=orgs[key], item=cleaning, streets=list(streets),
                               price="28.88", valid_from=start)
    return sw


PLACES = {"here": HERE, "next_door": NEXT_DOOR, "other_street": OTHER_STREET, "far": OTHER_COUNTY}


def elder_in(sw: ServicesWorld, place: str, *, name: str | None = None, seq: int = 10, category=None):
    """An elder living in one of the places (the family's mother is world.elders["family"])."""
    if place == "family_mother":
        return sw.world.elders["family"]
    actor = sw.users["other_bureau" if place == "far" else "bureau"]
    # Place keys ("other_street") are not names: a name holds no underscore (core/validators.py).
    name = (name or f"{place}老人").replace("_", "·")
    elder = make_elder(actor, name=name, seq=seq, residence=PLACES[place])
    if category:
        registry.add_category(actor=actor, elder=elder, kind=category, start_date=days_ago(365))
    return elder


def placer_for(sw: ServicesWorld, elder):
    """Someone who may order for the elder: the family for the family's mother, else region staff there."""
    if elder == sw.world.elders["family"]:
        return sw.users["family"], "portal"
    return sw.users["other_bureau" if elder.county_code == FAR_COUNTY else "bureau"], "phone"


def order_for(sw: ServicesWorld, elder, provider: str, *, start=None, item=None, step: str = "requested"):
    """An order taken as far as `step` in its life cycle: requested, accepted, assigned, checked_in, checked_out,
    confirmed, rated, cancelled, declined or no_show."""
    actor, channel = placer_for(sw, elder)
    order = services.place_order(actor=actor, elder=elder, provider=sw.orgs[provider], item=item or sw.bath,
                                 scheduled_start=start or soon(), channel=channel)[0]
    boss = sw.users["far_provider" if provider == "far" else provider]
    carer = sw.carers[provider]
    path = ["accepted", "assigned", "checked_in", "checked_out", "confirmed", "rated"]
    if step == "declined":
        return services.decline_order(actor=boss, order=order, reason="人手不足")
    if step == "cancelled":
        return services.cancel_order(actor=actor, order=order, reason="不需要了")
    reached = path[:path.index(step) + 1] if step in path else (["accepted", "assigned"] if step == "no_show" else [])
    family = sw.users["family"] if elder == sw.world.elders["family"] else None
    for done in reached:
        if done == "accepted":
            order = services.accept_order(actor=boss, order=order)
        elif done == "assigned":
            order = services.assign_order(actor=boss, order=order, caregiver=carer)
        elif done == "checked_in":
            order = services.check_in(actor=_superuser(), order=order)
        elif done == "checked_out":
            order = services.check_out(actor=_superuser(), order=order, notes="已助浴")
        elif done == "confirmed":
            order = services.confirm_order(actor=family or _superuser(), order=order)
        elif done == "rated":
            order = services.rate_order(actor=family or _superuser(), order=order, rating=5)
    if step == "no_show":
        order = services.mark_no_show(actor=boss, order=order, reason="无人在家")
    return order


def _superuser():
    from yiyang.core.models import User

    found = User.objects.filter(username="scope_root").first()
    return found or User.objects.create_superuser("scope_root", password="x")
