"""The catalogue with the prices in force, and providers' offers."""

import datetime

from django.utils import timezone
from ninja import Field, Query, Router, Schema

from yiyang.api.pagination import paginated
from yiyang.api.types import Id, Money, column, money
from yiyang.core.api import ERRORS
from yiyang.core.models import Region

from .. import selectors
from ..models import (
    ProviderOffer,
    ServiceCategory,
    ServiceItem,
    ServicePrice,
)
from ._common import STREET_LEN, IdRef, ItemRef, Ref, RelatedRefs, _choice, _home_code, _ref, _region

router = Router()


class PriceOut(Schema):
    jurisdiction: Ref = Field(..., description="Where the price was set (the nearest level up the region tree).")
    valid_from: datetime.date
    valid_until: datetime.date | None
    market_price: Money = Field(..., description="市场价, yuan.")
    inclusive_price: Money = Field(..., description="普惠价, yuan: the ceiling of subsidised orders.")
    note: str


class CatalogueItemOut(Schema):
    code: str
    name: str
    category: str
    category_label: str
    unit: str
    unit_label: str
    standard_minutes: int
    required_skill: str
    description: str
    price: PriceOut | None = Field(..., description="In force in `region` on `date`; null if none is published "
                                                    "(or none the caller may see).")


class CatalogueOut(Schema):
    region: Ref
    date: datetime.date
    items: list[CatalogueItemOut]


class OfferOut(RelatedRefs):
    id: int
    provider: IdRef
    item: ItemRef
    price: Money
    valid_from: datetime.date
    valid_until: datetime.date | None
    streets: list[Ref]

    @staticmethod
    def resolve_streets(obj):
        return [_ref(r) for r in sorted(obj.streets.all(), key=lambda r: r.code)]




class CatalogueFilters(Schema):
    region: str = Field("", max_length=column(Region, "code"),
                        description="Region code; default the caller's jurisdiction.")
    date: datetime.date | None = Field(None, description="Day the prices apply to; default today.")
    category: str = Field("", max_length=column(ServiceItem, "category"),
                          description="Only this category (e.g. `bath`).")


@router.get("catalogue", response={200: CatalogueOut, **ERRORS}, summary="Service items with the prices in force")
def catalogue(request, filters: Query[CatalogueFilters]):
    """The active items by category with the market and 普惠 price in force for the region on the day (the
    nearest jurisdiction up the region tree that published one). Prices follow the price scope: a price the
    caller may not see is null."""
    where = _region(filters.region or _home_code(request))
    day = filters.date or timezone.localdate()
    _choice(filters.category, ServiceCategory, "category")
    items = list(ServiceItem.objects.filter(is_active=True))
    if filters.category:
        items = [i for i in items if i.category == filters.category]
    found = {item.pk: selectors.price_in_force(item, where.code, day) for item in items}
    visible = set(ServicePrice.objects.restrict(request.user)
                  .filter(pk__in=[p.pk for p in found.values() if p is not None]).values_list("pk", flat=True))
    out = []
    for item in items:
        price = found[item.pk]
        out.append({
            "code": item.code, "name": item.name, "category": item.category,
            "category_label": str(item.get_category_display()), "unit": item.unit,
            "unit_label": str(item.get_unit_display()), "standard_minutes": item.standard_minutes,
            "required_skill": item.required_skill, "description": item.description,
            "price": None if price is None or price.pk not in visible else {
                "jurisdiction": _ref(price.jurisdiction), "valid_from": price.valid_from,
                "valid_until": price.valid_until, "market_price": money(price.market_price),
                "inclusive_price": money(price.inclusive_price), "note": price.note},
        })
    return {"region": _ref(where), "date": day, "items": out}


class OfferFilters(Schema):
    item: str = Field("", max_length=column(ServiceItem, "code"), description="Item code.")
    street: str = Field("", max_length=column(Region, "code"),
                        description="Street code (a community code is cut to its street).")
    provider: Id | None = Field(None, description="Provider (organisation) id.")
    date: datetime.date | None = Field(None, description="In force on this day; default today.")


@router.get("offers", response={200: list[OfferOut], **ERRORS}, summary="Providers' offers in force")
@paginated
def list_offers(request, filters: Query[OfferFilters]):
    """Which provider offers which item in which streets at what price, on a day. Scoped: a provider (and its
    caregivers) see its own offers, region staff all of them."""
    day = filters.date or timezone.localdate()
    qs = (ProviderOffer.objects.restrict(request.user)
          .filter(valid_from__lte=day).exclude(valid_until__lt=day)
          .select_related("provider", "item").prefetch_related("streets"))
    if filters.item:
        qs = qs.filter(item__code=filters.item.strip())
    if filters.street:
        qs = qs.filter(streets__code=filters.street.strip()[:STREET_LEN])
    if filters.provider:
        qs = qs.filter(provider_id=filters.provider)
    return qs
