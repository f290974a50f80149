"""Reads of the services domain: what is in force where and when, and the facts about a person on a day.

Prices and subsidy rules are set per jurisdiction; the one that applies to a place is the nearest one up the
region tree (community → street → county → city → province) that has a version in force on the day.
"""

from __future__ import annotations

import datetime

from django.db.models import Q

from yiyang.core.models import CODE_LENGTH

from . import pricing
from .models import ProviderOffer, ServiceItem, ServicePrice, SubsidyRule


def region_chain(region_code: str) -> list[str]:
    """The code itself and every ancestor's code, nearest first (codes are prefixes of their children's)."""
    code = str(region_code or "")
    return [code[:n] for n in sorted(CODE_LENGTH.values(), reverse=True) if n <= len(code)]


def _in_force(day: datetime.date) -> Q:
    return Q(valid_from__lte=day) & (Q(valid_until__isnull=True) | Q(valid_until__gte=day))


def _nearest(rows, chain: list[str]):
    """Among rows in force at several levels, the one of the nearest jurisdiction (then the latest start)."""
    rank = {code: i for i, code in enumerate(chain)}
    rows = sorted(rows, key=lambda r: (rank[r.jurisdiction_id], -r.valid_from.toordinal()))
    return rows[0] if rows else None


def price_in_force(item: ServiceItem, region_code: str, day: datetime.date) -> ServicePrice | None:
    """The market and 普惠 price of an item that applies at a place on a day, or None."""
    chain = region_chain(region_code)
    rows = ServicePrice.objects.filter(_in_force(day), item=item, jurisdiction_id__in=chain).select_related(
        "jurisdiction")
    return _nearest(rows, chain)


def subsidy_rule_in_force(region_code: str, day: datetime.date) -> SubsidyRule | None:
    chain = region_chain(region_code)
    return _nearest(SubsidyRule.objects.filter(_in_force(day), jurisdiction_id__in=chain), chain)


def offer_in_force(provider, item: ServiceItem, street_code: str, day: datetime.date) -> ProviderOffer | None:
    """The provider's offer of the item covering the street (a community code is cut to its street) on a day."""
    street = str(street_code or "")[:CODE_LENGTH["street"]]
    provider_id = getattr(provider, "pk", provider)
    return (ProviderOffer.objects.filter(_in_force(day), provider_id=provider_id, item=item, streets__code=street)
            .order_by("-valid_from").first())


def elder_facts(elder, day: datetime.date) -> tuple[set[str], int]:
    """(categories active on the day, age in full years on the day): what the subsidy rule looks at."""
    categories = set(elder.categories.filter(Q(start_date__lte=day) & (Q(end_date__isnull=True)
                                                                       | Q(end_date__gte=day)))
                     .values_list("kind", flat=True))
    return categories, pricing.age_on(elder.birth_date, day)
