"""Demo data of the services app: the example catalogue, the district's prices and subsidy rule, and what
the demo provider offers in which streets (orders come with the order pages, issue 7)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from yiyang.core.demo import DEMO_COUNTY, demo_step

from . import services
from .examples import CATALOGUE, SUBSIDY_RULE, SUBSIDY_SOURCE
from .models import ProviderOffer, ServiceItem, ServicePrice, SubsidyRule

# 颐康 (at 文治街道) serves the town-centre streets; its prices sit a little under the 普惠 ceiling.
PROVIDER_STREETS = ("511903001", "511903002", "511903003")
PROVIDER_DISCOUNT = 0.9


def _start() -> datetime.date:
    return timezone.localdate().replace(day=1) - datetime.timedelta(days=365)


@demo_step
def services_demo(ctx, log) -> None:
    from decimal import ROUND_HALF_UP, Decimal

    from yiyang.core.models import Region
    from yiyang.registry.models import Organisation

    actor = ctx.accounts.get("bureau")
    provider_user = ctx.accounts.get("provider")
    if actor is None or provider_user is None:
        log("services: no demo bureau or provider account, skipped")
        return
    start = _start()
    items = []
    for position, (code, name, category, unit, minutes, skill, _m, _i) in enumerate(CATALOGUE):
        item, _created = ServiceItem.objects.update_or_create(
            code=code, defaults={"name": name, "category": category, "unit": unit, "standard_minutes": minutes,
                                 "required_skill": skill, "position": position})
        items.append(item)
    county = ctx.county
    prices = 0
    for item, row in zip(items, CATALOGUE, strict=True):
        if not ServicePrice.objects.filter(item=item, jurisdiction=county).exists():
            services.set_price(actor=actor, item=item, jurisdiction=county, valid_from=start,
                               market_price=Decimal(row[6]), inclusive_price=Decimal(row[7]),
                               note="示例价格：普惠价为市场价的一半")
            prices += 1
    if not SubsidyRule.objects.filter(jurisdiction=county).exists():
        services.adopt_subsidy_rule(actor=actor, jurisdiction=county, params=SUBSIDY_RULE, valid_from=start,
                                    note="特困全额、低保 90%、低保边缘 70%，80 周岁及以上按普惠价",
                                    source=SUBSIDY_SOURCE)
    provider = Organisation.objects.get(pk=provider_user.organisation_id)
    streets = list(Region.objects.filter(code__in=PROVIDER_STREETS))
    offers = 0
    for item, row in zip(items, CATALOGUE, strict=True):
        if ProviderOffer.objects.filter(provider=provider, item=item).exists():
            continue
        price = (Decimal(row[7]) * Decimal(str(PROVIDER_DISCOUNT))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        services.declare_offer(actor=provider_user, provider=provider, item=item, streets=streets, price=price,
                               valid_from=start)
        offers += 1
    log(f"services: {len(items)} catalogue items, {prices} prices for {county.name} ({DEMO_COUNTY}), "
        f"subsidy rule, {offers} offers by {provider.name} in {len(streets)} streets")
