"""Home and community services (居家社区养老服务) over REST, mounted at /api/v1/services: the catalogue with the
prices in force, providers' offers, the price split before ordering (quote), and orders through their whole
life cycle (place → accept/decline → assign → check in → check out → confirm → rate; cancel and no-show).

Scoped exactly like the pages (`Model.objects.restrict(user)`): a provider sees its own orders, a caregiver only
the visits assigned to them, the family their linked elder's, bureau, street and community staff those of their
region; an order outside the caller's scope answers 404. Who may take which step is decided by the services
(403 not yours, 409 not now). Money is a string with two decimals ("33.33"), never a float.
"""

import datetime
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, Money, SmallInt, column, money
from yiyang.core.api import ERRORS
from yiyang.core.models import CODE_LENGTH, Region, Role
from yiyang.core.permissions import REGION_STAFF, has_role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder, FamilyLink, Organisation, Practitioner

from . import policy, selectors, services
from .models import (
    AllowanceEntry,
    AllowanceKind,
    CaregiverShift,
    FollowUpCall,
    Order,
    OrderChannel,
    OrderEvent,
    OrderStatus,
    ProviderOffer,
    RecurringOrder,
    ServiceCategory,
    ServiceItem,
    ServicePrice,
)

router = Router(tags=["services"])

ORDER_ROLES = (*REGION_STAFF, Role.PROVIDER, Role.CAREGIVER, Role.FAMILY, Role.ELDER)
FLAG_ROLES = (*REGION_STAFF, Role.PROVIDER)
# The service allowance is benefits data: the elder's family and region staff, not providers or caregivers.
ALLOWANCE_ROLES = (*REGION_STAFF, Role.FAMILY, Role.ELDER)
STREET_LEN = CODE_LENGTH["street"]
ORDER_RELATED = ("elder", "provider", "item", "caregiver")


# ------------------------------------------------------------------------------------------------- helpers


def _decimal_text(value) -> str | None:
    return None if value is None else str(value)


def _person(user) -> str | None:
    return str(user) if user is not None else None


def _ref(region: Region) -> dict:
    return {"code": region.code, "name": region.name}


def _home_code(request) -> str:
    """Where the caller's catalogue is priced: their scope (a provider's: where it sits), else where their
    linked elder lives, else the platform's default jurisdiction."""
    user = request.user
    if user.scope_code:
        return user.scope_code
    link = (FamilyLink.objects.filter(user_id=user.pk).select_related("elder").order_by("pk").first()
            if user.role in (Role.FAMILY, Role.ELDER) else None)
    return link.elder.residence_region_id if link else settings.DEFAULT_JURISDICTION_CODE


def _choice(value: str, choices, field: str) -> None:
    if value and value not in choices.values:
        raise ValidationError({field: [ValidationError(_("不是允许的取值。"), code="invalid_choice")]})


def _region(code: str, field: str = "region") -> Region:
    region = Region.objects.filter(code=code.strip()).first()
    if region is None:
        raise ValidationError({field: [_("未知的行政区划代码。")]})
    return region


def _item(code: str) -> ServiceItem:
    item = ServiceItem.objects.filter(code=code.strip()).first()
    if item is None:
        raise ValidationError({"item": [_("未知的服务项目。")]})
    return item


def _provider(pk: int) -> Organisation:
    provider = Organisation.objects.filter(pk=pk).first()
    if provider is None:
        raise ValidationError({"provider": [_("未知的服务机构。")]})
    return provider


def _as_datetime(text: str) -> datetime.datetime:
    """An ISO 8601 time the services already accepted, as an aware datetime."""
    value = datetime.datetime.fromisoformat(text.strip())
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _elder(request, pk: int) -> Elder:
    return get_scoped_or_404(Elder.objects, request.user, "view", pk=pk)


def _get(request, order_id: int, action: str = "view") -> Order:
    qs = Order.objects.select_related(*ORDER_RELATED, "placed_by")
    return get_scoped_or_404(qs, request.user, action, pk=order_id)


# ------------------------------------------------------------------------------------------------- schemas


class Ref(Schema):
    code: str
    name: str


class IdRef(Schema):
    id: int
    name: str


class ItemRef(Schema):
    code: str
    name: str
    category: str
    unit: str
    unit_label: str


def _item_ref(item: ServiceItem) -> dict:
    return {"code": item.code, "name": item.name, "category": item.category, "unit": item.unit,
            "unit_label": str(item.get_unit_display())}


class PriceOut(Schema):
    jurisdiction: Ref = Field(..., description="Where the price was set (the nearest level up the region tree).")
    valid_from: datetime.date
    valid_until: datetime.date | None
    market_price: str = Field(..., description="市场价, yuan.")
    inclusive_price: str = Field(..., description="普惠价, yuan: the ceiling of subsidised orders.")
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


class OfferOut(Schema):
    id: int
    provider: IdRef
    item: ItemRef
    price: str
    valid_from: datetime.date
    valid_until: datetime.date | None
    streets: list[Ref]

    @staticmethod
    def resolve_provider(obj):
        return {"id": obj.provider_id, "name": obj.provider.name}

    @staticmethod
    def resolve_item(obj):
        return _item_ref(obj.item)

    @staticmethod
    def resolve_price(obj):
        return money(obj.price)

    @staticmethod
    def resolve_streets(obj):
        return [_ref(r) for r in sorted(obj.streets.all(), key=lambda r: r.code)]


class OrderFields(Schema):
    id: int
    status: str
    status_label: str
    channel: str
    channel_label: str
    elder: IdRef
    provider: IdRef
    item: ItemRef
    caregiver: IdRef | None
    scheduled_start: datetime.datetime
    window_minutes: int
    quantity: Money
    note: str
    unit_price: Money
    total: Money
    share: Money = Field(..., description="Percent of the total the government pays.")
    subsidy: Money
    allowance: Money = Field(..., description="Paid from the elder's monthly service allowance.")
    copay: Money = Field(..., description="Paid by the elder.")
    price_basis: str = Field(..., description="`inclusive` (普惠价) or `market` (市场价).")
    price_explanation: str
    check_in_at: datetime.datetime | None
    check_out_at: datetime.datetime | None
    rating: int | None
    created_at: datetime.datetime
    has_photo: bool = Field(False, description="A check-out photo was uploaded (GET …/photo).")


class OrderOut(OrderFields):
    @staticmethod
    def resolve_status_label(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_channel_label(obj):
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_elder(obj):
        return {"id": obj.elder_id, "name": obj.elder.name}

    @staticmethod
    def resolve_provider(obj):
        return {"id": obj.provider_id, "name": obj.provider.name}

    @staticmethod
    def resolve_item(obj):
        return _item_ref(obj.item)

    @staticmethod
    def resolve_caregiver(obj):
        return {"id": obj.caregiver_id, "name": obj.caregiver.name} if obj.caregiver_id else None

    @staticmethod
    def resolve_has_photo(obj):
        return bool(obj.check_out_photo)


class EventOut(Schema):
    from_status: str
    to_status: str
    to_label: str
    at: datetime.datetime
    by: str | None
    note: str


class FlagOut(Schema):
    kind: str
    label: str
    detail: str
    created_at: datetime.datetime


class OrderDetailOut(OrderFields):
    address: str = Field(..., description="Where the visit takes place (the elder's home address).")
    check_in_latitude: str | None
    check_in_longitude: str | None
    check_out_latitude: str | None
    check_out_longitude: str | None
    service_notes: str
    rating_comment: str
    end_reason: str = Field(..., description="Why it was declined, cancelled or not served.")
    placed_by: str | None
    updated_at: datetime.datetime
    events: list[EventOut] = Field(..., description="The order's timeline, in the order the steps "
                                                                "were taken.")
    flags: list[FlagOut] = Field(..., description="Anomalies (far check-in, overlapping visits, odd duration, "
                                                  "elder deceased or moved): for the provider and region staff; "
                                                  "empty for other roles.")


def _detail(request, order: Order) -> dict:
    out = OrderOut.from_orm(order).model_dump()
    labels = dict(OrderStatus.choices)
    events = OrderEvent.objects.filter(order=order).select_related("by").order_by("pk")
    flags = order.flags.order_by("created_at", "pk") if has_role(request.user, *FLAG_ROLES) else []
    out.update({
        "address": order.elder.address,
        "check_in_latitude": _decimal_text(order.check_in_latitude),
        "check_in_longitude": _decimal_text(order.check_in_longitude),
        "check_out_latitude": _decimal_text(order.check_out_latitude),
        "check_out_longitude": _decimal_text(order.check_out_longitude),
        "service_notes": order.service_notes, "rating_comment": order.rating_comment,
        "end_reason": order.end_reason, "placed_by": _person(order.placed_by), "updated_at": order.updated_at,
        "events": [{"from_status": e.from_status, "to_status": e.to_status,
                    "to_label": str(labels.get(e.to_status, e.to_status)), "at": e.at, "by": _person(e.by),
                    "note": e.note} for e in events],
        "flags": [{"kind": f.kind, "label": str(f.get_kind_display()), "detail": f.detail,
                   "created_at": f.created_at} for f in flags],
    })
    return out


def _fresh(request, order_id: int) -> dict:
    return _detail(request, _get(request, order_id))


# ---------------------------------------------------------------------------------------- catalogue, offers


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


# ------------------------------------------------------------------------------------------ quote, placing


class QuoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id = Field(..., description="Elder id.")
    provider: Id = Field(..., description="Provider (organisation) id.")
    item: str = Field(..., max_length=column(ServiceItem, "code"), description="Item code, e.g. `bath`.")
    scheduled_start: str = Field(..., max_length=40, description="ISO 8601 date and time, in the future (at most "
                                                                 "60 days ahead).",
                                 examples=["2026-12-01T09:00:00+08:00"])
    quantity: Decimal = Field(Decimal("1"), description="Visits, hours or meals (up to two decimals).")


class QuoteOut(Schema):
    elder: IdRef
    provider: IdRef
    item: ItemRef
    scheduled_start: datetime.datetime
    quantity: str
    unit_price: str
    total: str
    share: str = Field(..., description="Percent of the total the government pays.")
    subsidy: str
    allowance: str
    copay: str
    basis: str = Field(..., description="`inclusive` (普惠价) or `market` (市场价).")
    reasons: list[str] = Field(..., description="Why the person is subsidised (their categories or age).")
    explanation: str = Field(..., description="The split in one sentence, in the caller's language.")


def _resolved(request, payload: QuoteIn) -> tuple[Elder, Organisation, ServiceItem]:
    return _elder(request, payload.elder), _provider(payload.provider), _item(payload.item)


@router.post("quote", response={200: QuoteOut, **ERRORS}, summary="What an order would cost, and who pays")
def quote(request, payload: QuoteIn):
    """The same checks and split as placing the order (price in force on the day of the service, the
    provider's price held to the 普惠 ceiling, the subsidy rule by the elder's categories and age), shown to
    the person before they confirm. Writes nothing."""
    require_roles(request.user, *ORDER_ROLES)
    elder, provider, item = _resolved(request, payload)
    result = services.preview_quote(actor=request.user, elder=elder, provider=provider, item=item,
                                    scheduled_start=payload.scheduled_start, quantity=payload.quantity)
    start = _as_datetime(payload.scheduled_start)
    return {"elder": {"id": elder.pk, "name": elder.name}, "provider": {"id": provider.pk, "name": provider.name},
            "item": _item_ref(item), "scheduled_start": start, "quantity": money(result.quantity),
            "unit_price": money(result.unit_price), "total": money(result.total), "share": money(result.share),
            "subsidy": money(result.subsidy), "allowance": money(result.allowance),
            "copay": money(result.copay), "basis": result.basis, "reasons": [str(r) for r in result.reasons],
            "explanation": str(result.explain())}


class OrderIn(QuoteIn):
    channel: Literal["portal", "phone", "staff"] | None = Field(
        None, description="`portal` (the elder or family themselves), `phone` or `staff` (a worker on their "
                          "behalf). Default: `portal` for the elder and family, `staff` for others.")
    note: str = Field("", max_length=column(Order, "note"), description="What the person needs (e.g. 需要助浴椅).")
    client_key: str | None = Field(None, max_length=column(Order, "client_key"),
                                   description="The client's key for this submission: "
                                                                    "sending it again returns the same order.")


@router.post("orders", response={200: OrderDetailOut, 201: OrderDetailOut, **ERRORS}, summary="Place an order")
def place_order(request, payload: OrderIn):
    """By the elder or their family for themselves, or by bureau, street or community staff for an elder of
    their region. The price split is fixed as quoted. A retry with the same `client_key` (a flaky phone)
    answers 200 with the order it made; the same key with other content is refused (409)."""
    require_roles(request.user, *ORDER_ROLES)
    elder, provider, item = _resolved(request, payload)
    channel = payload.channel or (OrderChannel.PORTAL if request.user.role in (Role.FAMILY, Role.ELDER)
                                  else OrderChannel.STAFF)
    key = (payload.client_key or "").strip() or None
    replay = bool(key) and Order.objects.filter(client_key=key).exists()
    order = services.place_order(actor=request.user, elder=elder, provider=provider, item=item,
                                 scheduled_start=payload.scheduled_start, quantity=payload.quantity,
                                 channel=str(channel), note=payload.note, client_key=key)
    return Status(200 if replay else 201, _fresh(request, order.pk))


# -------------------------------------------------------------------------------------------------- orders


class OrderFilters(Schema):
    status: str = Field("", max_length=column(Order, "status"), description="One status, e.g. `requested`.")
    date_from: datetime.date | None = Field(None, description="Scheduled on or after this day.")
    date_to: datetime.date | None = Field(None, description="Scheduled on or before this day.")
    provider: Id | None = Field(None, description="Provider (organisation) id.")
    elder: Id | None = Field(None, description="Elder id.")


@router.get("orders", response={200: list[OrderOut], **ERRORS}, summary="Orders in my scope")
@paginated
def list_orders(request, filters: Query[OrderFilters]):
    """Newest visit first. A provider sees its own orders, a caregiver the visits assigned to them, the family
    their linked elder's, bureau, street and community staff those of their region."""
    require_roles(request.user, *ORDER_ROLES)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationError({"date_to": [_("结束日期不能早于开始日期。")]})
    _choice(filters.status, OrderStatus, "status")
    return selectors.orders_for(request.user, selectors.OrderFilters(
        status=filters.status, date_from=filters.date_from, date_to=filters.date_to, provider=filters.provider,
        elder=filters.elder))


@router.get("orders/{int:order_id}", response={200: OrderDetailOut, **ERRORS}, summary="One order")
def get_order(request, order_id: Id):
    """With its timeline (events) and, for the provider and region staff, its flags."""
    require_roles(request.user, *ORDER_ROLES, on_object=True)
    return _fresh(request, order_id)


class NoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(OrderEvent, "note"))


class ReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=min(column(Order, "end_reason"), column(OrderEvent, "note")))


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    caregiver: Id = Field(..., description="Practitioner id of one of the provider's caregivers.")


class CheckInIn(Schema):
    model_config = ConfigDict(extra="forbid")

    at: str | None = Field(None, max_length=40, description="When (ISO 8601), as the phone saw it; default now. "
                                                            "Not in the future.")
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    client_key: str | None = Field(None, max_length=column(OrderEvent, "client_key"),
                                   description="The phone's key for this step: a replay "
                                                                    "from the offline queue is applied once.")


class CheckOutIn(CheckInIn):
    notes: str = Field("", max_length=column(Order, "service_notes"), description="What was done (服务记录).")


class RateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rating: SmallInt = Field(..., description="1 to 5.")
    comment: str = Field("", max_length=column(Order, "rating_comment"))


@router.post("orders/{int:order_id}/accept", response={200: OrderDetailOut, **ERRORS}, summary="Accept (provider)")
def accept(request, order_id: Id, payload: NoteIn):
    order = _get(request, order_id, "change")
    services.accept_order(actor=request.user, order=order, note=payload.note)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/decline", response={200: OrderDetailOut, **ERRORS},
             summary="Decline with a reason (provider)")
def decline(request, order_id: Id, payload: ReasonIn):
    order = _get(request, order_id, "change")
    services.decline_order(actor=request.user, order=order, reason=payload.reason)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/assign", response={200: OrderDetailOut, **ERRORS},
             summary="Assign (or re-assign) a caregiver (provider)")
def assign(request, order_id: Id, payload: AssignIn):
    """The caregiver must be the provider's, employed on the day and have the item's skill."""
    order = _get(request, order_id, "change")
    # Who may assign is answered before whom (only the provider sees its caregivers), as on the page.
    policy.may_assign_order(request.user, order).require()
    caregiver = Practitioner.objects.restrict(request.user).filter(pk=payload.caregiver).first()
    if caregiver is None:
        raise ValidationError({"caregiver": [_("找不到该护理员，或其不是本机构的人员。")]})
    services.assign_order(actor=request.user, order=order, caregiver=caregiver)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/check-in", response={200: OrderDetailOut, **ERRORS},
             summary="Check in at the elder's home (the assigned caregiver)")
def check_in(request, order_id: Id, payload: CheckInIn):
    """From two hours before the scheduled time. Far from the elder's home, or while still checked in
    elsewhere, is flagged, not refused. Replaying the same `client_key` changes nothing."""
    order = _get(request, order_id, "change")
    services.check_in(actor=request.user, order=order, at=payload.at, latitude=payload.latitude,
                      longitude=payload.longitude, client_key=payload.client_key)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/check-out", response={200: OrderDetailOut, **ERRORS},
             summary="Check out with notes (the assigned caregiver)")
def check_out(request, order_id: Id, payload: CheckOutIn):
    """Not before the check-in. A duration outside 50 %–200 % of the standard is flagged. Replaying the same
    `client_key` changes nothing."""
    order = _get(request, order_id, "change")
    services.check_out(actor=request.user, order=order, at=payload.at, latitude=payload.latitude,
                       longitude=payload.longitude, notes=payload.notes, client_key=payload.client_key)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/confirm", response={200: OrderDetailOut, **ERRORS},
             summary="Confirm the service was done (elder, family, street or community)")
def confirm(request, order_id: Id, payload: NoteIn):
    order = _get(request, order_id, "change")
    services.confirm_order(actor=request.user, order=order, note=payload.note)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/rate", response={200: OrderDetailOut, **ERRORS},
             summary="Rate 1–5 with a comment (elder or family)")
def rate(request, order_id: Id, payload: RateIn):
    order = _get(request, order_id, "change")
    services.rate_order(actor=request.user, order=order, rating=payload.rating, comment=payload.comment)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/cancel", response={200: OrderDetailOut, **ERRORS},
             summary="Cancel before the visit starts, with a reason")
def cancel(request, order_id: Id, payload: ReasonIn):
    """By whoever placed it (or the family), the provider, or the street or community; who and why are kept."""
    order = _get(request, order_id, "change")
    services.cancel_order(actor=request.user, order=order, reason=payload.reason)
    return _fresh(request, order_id)


@router.post("orders/{int:order_id}/no-show", response={200: OrderDetailOut, **ERRORS},
             summary="Record a no-show with a reason (provider or caregiver)")
def no_show(request, order_id: Id, payload: ReasonIn):
    order = _get(request, order_id, "change")
    services.mark_no_show(actor=request.user, order=order, reason=payload.reason)
    return _fresh(request, order_id)


# ------------------------------------------------------------------------------------------- check-out photo


@router.post("orders/{int:order_id}/photo", response={200: OrderDetailOut, **ERRORS},
             summary="Upload the visit's photo (the assigned caregiver)")
def upload_photo(request, order_id: Id, photo: File[UploadedFile],
                 client_key: str = Form("", max_length=column(Order, "photo_client_key"))):
    """Multipart: `photo` (JPEG or PNG, at most 5 MB, checked by its content) and optionally `client_key`.
    Once checked in or out and before confirmation; a new photo replaces the previous one. Replaying the same
    `client_key` from the phone's offline queue changes nothing."""
    order = _get(request, order_id, "change")
    services.attach_photo(actor=request.user, order=order, photo=photo, client_key=client_key or None)
    return _fresh(request, order_id)


@router.get("orders/{int:order_id}/photo", response={200: None, **ERRORS}, summary="The visit's photo")
def get_photo(request, order_id: Id):
    """The photo itself (image/jpeg or image/png), to anyone who may see the order; 404 when there is none."""
    require_roles(request.user, *ORDER_ROLES, on_object=True)
    order = _get(request, order_id)
    decision = policy.may_see_photo_order(request.user, order)
    if decision.status == 404:
        raise Http404
    decision.require()
    name = order.check_out_photo.name
    kind = "image/png" if name.lower().endswith(".png") else "image/jpeg"
    try:
        handle = order.check_out_photo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(handle, content_type=kind)


# ------------------------------------------------------------------------------------------------- shifts

SHIFT_ROLES = (Role.PROVIDER, Role.CAREGIVER, Role.BUREAU)


class ShiftOut(Schema):
    id: int
    caregiver: IdRef
    day: datetime.date
    start: str = Field(..., description="HH:MM, local time.")
    end: str = Field(..., description="HH:MM, local time.")
    note: str


def _shift_out(shift: CaregiverShift) -> dict:
    return {"id": shift.pk, "caregiver": {"id": shift.caregiver_id, "name": shift.caregiver.name},
            "day": shift.day, "start": shift.start.strftime("%H:%M"), "end": shift.end.strftime("%H:%M"),
            "note": shift.note}


class ShiftFilters(Schema):
    day: datetime.date | None = Field(None, description="Only this day.")
    date_from: datetime.date | None = Field(None, description="On or after this day.")
    date_to: datetime.date | None = Field(None, description="On or before this day.")
    caregiver: Id | None = Field(None, description="Practitioner id.")


@router.get("shifts", response={200: list[ShiftOut], **ERRORS}, summary="Caregivers' shifts in my scope")
@paginated
def list_shifts(request, filters: Query[ShiftFilters]):
    """A provider sees its caregivers' shifts, a caregiver their own, the bureau those of its district.
    Without a day or range: from today, 14 days."""
    require_roles(request.user, *SHIFT_ROLES)
    qs = CaregiverShift.objects.restrict(request.user).select_related("caregiver")
    if filters.day:
        qs = qs.filter(day=filters.day)
    else:
        start = filters.date_from or timezone.localdate()
        end = filters.date_to or start + datetime.timedelta(days=13)
        if end < start:
            raise ValidationError({"date_to": [_("结束日期不能早于开始日期。")]})
        if (end - start).days > 92:
            raise ValidationError({"date_to": [_("一次最多查询 93 天。")]})
        qs = qs.filter(day__gte=start, day__lte=end)
    if filters.caregiver:
        qs = qs.filter(caregiver_id=filters.caregiver)
    return Rows(qs.order_by("day", "start", "caregiver__name", "pk"), lambda page: [_shift_out(s) for s in page])


class ShiftIn(Schema):
    model_config = ConfigDict(extra="forbid")

    caregiver: Id = Field(..., description="Practitioner id of one of the provider's caregivers.")
    day: datetime.date
    start: str = Field(..., max_length=5, examples=["08:00"])
    end: str = Field(..., max_length=5, examples=["12:00"])
    note: str = Field("", max_length=column(CaregiverShift, "note"))


@router.post("shifts", response={201: ShiftOut, **ERRORS}, summary="Set a shift (provider)")
def create_shift(request, payload: ShiftIn):
    """A shift with the same caregiver, day and start is changed; an overlapping one is refused (422)."""
    require_roles(request.user, Role.PROVIDER)
    caregiver = Practitioner.objects.restrict(request.user, "change").filter(pk=payload.caregiver).first()
    if caregiver is None:
        raise ValidationError({"caregiver": [_("找不到该护理员，或其不是本机构的人员。")]})
    shift = services.set_shift(actor=request.user, caregiver=caregiver, day=payload.day, start=payload.start,
                               end=payload.end, note=payload.note)
    shift = CaregiverShift.objects.select_related("caregiver").get(pk=shift.pk)
    return Status(201, _shift_out(shift))


@router.delete("shifts/{int:shift_id}", response={204: None, **ERRORS}, summary="Remove a shift (provider)")
def delete_shift(request, shift_id: Id):
    # Those who see the shift and may not remove it (a caregiver, the bureau) are told so by the service (403).
    require_roles(request.user, *SHIFT_ROLES, on_object=True)
    shift = get_scoped_or_404(CaregiverShift.objects, request.user, "view", pk=shift_id)
    services.remove_shift(actor=request.user, shift=shift)
    return Status(204, None)


class AvailabilityFilters(Schema):
    start: datetime.datetime = Field(..., description="Start of the visit (ISO 8601).")
    end: datetime.datetime | None = Field(None, description="End; default one hour after the start.")


class AvailabilityOut(Schema):
    caregiver: IdRef
    on_shift: bool | None = Field(..., description="A shift covers the window; null when no shift that day.")
    shifts: list[str] = Field(..., description="The day's shifts, HH:MM-HH:MM.")
    overlapping: int = Field(..., description="Assigned or started visits overlapping the window.")
    skills: list[str]


@router.get("availability", response={200: list[AvailabilityOut], **ERRORS},
            summary="Which of my caregivers are free for a window (provider)")
def availability(request, filters: Query[AvailabilityFilters]):
    require_roles(request.user, Role.PROVIDER)
    start = filters.start if timezone.is_aware(filters.start) else timezone.make_aware(filters.start)
    end = filters.end or start + datetime.timedelta(hours=1)
    end = end if timezone.is_aware(end) else timezone.make_aware(end)
    if end <= start:
        raise ValidationError({"end": [_("结束时间须晚于开始时间。")]})
    rows = selectors.caregiver_availability(provider=request.user.organisation_id, start=start, end=end)
    return [{"caregiver": {"id": r["caregiver"].pk, "name": r["caregiver"].name}, "on_shift": r["on_shift"],
             "shifts": [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in r["shifts"]], "overlapping": r["overlapping"],
             "skills": r["skills"]} for r in rows]


# ------------------------------------------------------------------------------------------------ allowance


class AllowanceEntryOut(Schema):
    kind: str
    kind_label: str
    amount: str = Field(..., description="Positive: credit or refund; negative: drawn by an order.")
    order: int | None
    created_at: datetime.datetime


class AllowanceOut(Schema):
    elder: IdRef
    month: str = Field(..., examples=["2026-11"])
    credited: str
    debited: str = Field(..., description="Drawn by orders (a positive amount).")
    refunded: str = Field(..., description="Given back by orders that ended unserved.")
    balance: str = Field(..., description="What is left for the month: credited − debited + refunded, never < 0.")
    entries: list[AllowanceEntryOut]


@router.get("elders/{int:elder_id}/allowance", response={200: AllowanceOut, **ERRORS},
            summary="An elder's monthly service allowance (服务补贴余额)")
def elder_allowance(request, elder_id: Id, month: str = Query("", max_length=10)):
    """Credited by the approved 服务补贴 roll of the month, drawn by orders of services that month, given back
    when an order is cancelled, declined or not served. Scoped like the elder (404 outside)."""
    require_roles(request.user, *ALLOWANCE_ROLES, on_object=True)
    elder = _elder(request, elder_id)
    first = services._month(month) if month else timezone.localdate().replace(day=1)
    # The entries the caller's scope holds (a bureau sees people registered here who live elsewhere).
    mine = AllowanceEntry.objects.restrict(request.user)
    totals = selectors.allowance_totals(elder, first, entries=mine)
    labels = dict(AllowanceKind.choices)
    entries = mine.filter(elder=elder, month=first).order_by("pk")
    return {"elder": {"id": elder.pk, "name": elder.name}, "month": first.strftime("%Y-%m"),
            **{k: money(v) for k, v in totals.items()},
            "entries": [{"kind": e.kind, "kind_label": str(labels[e.kind]), "amount": money(e.amount),
                         "order": e.order_id, "created_at": e.created_at} for e in entries]}


# ------------------------------------------------------------------------------------------------ follow-ups


class FollowUpOut(Schema):
    id: int
    order: int
    elder: IdRef
    provider: IdRef
    item: str
    check_out_at: datetime.datetime | None
    month: str
    sampled_at: datetime.datetime
    called_at: datetime.datetime | None
    called_by: str | None
    outcome: str = Field(..., description="`reached`, `unreachable`, `refused`, or '' while not called.")
    outcome_label: str
    satisfaction: int | None
    issues: str
    note: str

    @staticmethod
    def resolve_order(obj):
        return obj.order_id if isinstance(obj, FollowUpCall) else obj["order"]


class FollowUpRow(FollowUpOut):
    """Resolved from the model (paginated lists)."""

    @staticmethod
    def resolve_elder(obj):
        return {"id": obj.order.elder_id, "name": obj.order.elder.name}

    @staticmethod
    def resolve_provider(obj):
        return {"id": obj.order.provider_id, "name": obj.order.provider.name}

    @staticmethod
    def resolve_item(obj):
        return obj.order.item.name

    @staticmethod
    def resolve_check_out_at(obj):
        return obj.order.check_out_at

    @staticmethod
    def resolve_month(obj):
        return obj.month.strftime("%Y-%m")

    @staticmethod
    def resolve_called_by(obj):
        return _person(obj.called_by)

    @staticmethod
    def resolve_outcome_label(obj):
        return str(obj.get_outcome_display()) if obj.outcome else ""


def _follow_up_out(call: FollowUpCall) -> dict:
    order = call.order
    return {"id": call.pk, "order": order.pk, "elder": {"id": order.elder_id, "name": order.elder.name},
            "provider": {"id": order.provider_id, "name": order.provider.name}, "item": order.item.name,
            "check_out_at": order.check_out_at, "month": call.month.strftime("%Y-%m"),
            "sampled_at": call.sampled_at, "called_at": call.called_at, "called_by": _person(call.called_by),
            "outcome": call.outcome, "outcome_label": str(call.get_outcome_display()) if call.outcome else "",
            "satisfaction": call.satisfaction, "issues": call.issues, "note": call.note}


FOLLOW_UP_RELATED = ("order__elder", "order__provider", "order__item", "called_by")


class FollowUpFilters(Schema):
    month: str = Field("", max_length=10, description="YYYY-MM.")
    pending: bool | None = Field(None, description="true: not called yet; false: called.")
    provider: Id | None = None


@router.get("follow-ups", response={200: list[FollowUpRow], **ERRORS}, summary="Follow-up calls (回访) in my scope")
@paginated
def list_follow_ups(request, filters: Query[FollowUpFilters]):
    """Bureau, street and community staff see the calls of their region; a provider those of its orders."""
    require_roles(request.user, *REGION_STAFF, Role.PROVIDER)
    qs = FollowUpCall.objects.restrict(request.user).select_related(*FOLLOW_UP_RELATED).order_by("-month", "pk")
    if filters.month:
        qs = qs.filter(month=services._month(filters.month))
    if filters.pending is not None:
        qs = qs.filter(called_at__isnull=filters.pending)
    if filters.provider:
        qs = qs.filter(order__provider_id=filters.provider)
    return qs


class SampleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field("", max_length=column(Region, "code"),
                              description="Region code; default the caller's scope.")
    month: str = Field(..., max_length=10, examples=["2026-11"])
    rate: Decimal = Field(Decimal("0.1"), description="Share of the completed orders to call (0 < rate ≤ 1).")


class SampleOut(Schema):
    added: int
    calls: list[FollowUpOut]


@router.post("follow-ups/sample", response={200: SampleOut, **ERRORS},
             summary="Sample the month's completed orders for follow-up calls")
def sample(request, payload: SampleIn):
    """Deterministic; at least one per provider; running it again adds only what the rate still lacks."""
    require_roles(request.user, *REGION_STAFF)
    code = payload.jurisdiction.strip() or request.user.scope_code or ""
    calls = services.sample_follow_ups(actor=request.user, jurisdiction=code, month=payload.month, rate=payload.rate)
    fresh = FollowUpCall.objects.filter(pk__in=[c.pk for c in calls]).select_related(*FOLLOW_UP_RELATED)
    return {"added": len(calls), "calls": [_follow_up_out(c) for c in fresh.order_by("pk")]}


class FollowUpIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["reached", "unreachable", "refused"]
    satisfaction: SmallInt | None = Field(None, description="1–5, required when reached.")
    issues: str = Field("", max_length=column(FollowUpCall, "issues"))
    note: str = Field("", max_length=column(FollowUpCall, "note"))


@router.post("follow-ups/{int:call_id}", response={200: FollowUpOut, **ERRORS}, summary="Record a follow-up call")
def record(request, call_id: Id, payload: FollowUpIn):
    """A satisfaction of 2 or less flags the order (回访满意度低) and holds it back from settlement."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    call = get_scoped_or_404(FollowUpCall.objects, request.user, "change", pk=call_id)
    services.record_follow_up(actor=request.user, call=call, outcome=payload.outcome,
                              satisfaction=payload.satisfaction, issues=payload.issues, note=payload.note)
    return _follow_up_out(FollowUpCall.objects.select_related(*FOLLOW_UP_RELATED).get(pk=call_id))


# ------------------------------------------------------------------------------------------------ recurring


class RecurringOut(Schema):
    id: int
    elder: IdRef
    provider: IdRef
    item: ItemRef
    weekdays: list[int] = Field(..., description="ISO weekdays: 1 = Monday … 7 = Sunday.")
    time: str = Field(..., description="HH:MM, local time.")
    quantity: str
    note: str
    starts_on: datetime.date
    ends_on: datetime.date | None
    channel: str
    active: bool
    created_at: datetime.datetime
    skipped: list[dict] = Field(..., description="Occurrences that could not be placed: {day, reason}.")


class RecurringRow(RecurringOut):
    """Resolved from the model (paginated lists)."""

    @staticmethod
    def resolve_elder(obj):
        return {"id": obj.elder_id, "name": obj.elder.name}

    @staticmethod
    def resolve_provider(obj):
        return {"id": obj.provider_id, "name": obj.provider.name}

    @staticmethod
    def resolve_item(obj):
        return _item_ref(obj.item)

    @staticmethod
    def resolve_weekdays(obj):
        return obj.weekday_list

    @staticmethod
    def resolve_time(obj):
        return obj.time.strftime("%H:%M")

    @staticmethod
    def resolve_quantity(obj):
        return money(obj.quantity)

    @staticmethod
    def resolve_skipped(obj):
        return [{"day": s.day.isoformat(), "reason": s.reason} for s in obj.skips.all()]


def _recurring_out(rule: RecurringOrder) -> dict:
    return {"id": rule.pk, "elder": {"id": rule.elder_id, "name": rule.elder.name},
            "provider": {"id": rule.provider_id, "name": rule.provider.name}, "item": _item_ref(rule.item),
            "weekdays": rule.weekday_list, "time": rule.time.strftime("%H:%M"), "quantity": money(rule.quantity),
            "note": rule.note, "starts_on": rule.starts_on, "ends_on": rule.ends_on, "channel": rule.channel,
            "active": rule.active, "created_at": rule.created_at,
            "skipped": [{"day": s.day.isoformat(), "reason": s.reason} for s in rule.skips.all()]}


RECURRING_RELATED = ("elder", "provider", "item")


@router.get("recurring", response={200: list[RecurringRow], **ERRORS}, summary="Standing orders in my scope")
@paginated
def list_recurring(request, elder: Id | None = None, active: bool | None = None):
    require_roles(request.user, *REGION_STAFF, Role.PROVIDER, Role.FAMILY, Role.ELDER)
    qs = (RecurringOrder.objects.restrict(request.user).select_related(*RECURRING_RELATED)
          .prefetch_related("skips"))
    if elder:
        qs = qs.filter(elder_id=elder)
    if active is not None:
        qs = qs.filter(active=active)
    return qs


class RecurringIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    provider: Id
    item: str = Field(..., max_length=column(ServiceItem, "code"))
    weekdays: list[SmallInt] = Field(..., max_length=7, description="ISO weekdays, e.g. [2] for every Tuesday.")
    time: str = Field(..., max_length=5, examples=["09:00"])
    quantity: Decimal = Decimal("1")
    starts_on: datetime.date
    ends_on: datetime.date | None = None
    channel: Literal["portal", "phone", "staff"] | None = None
    note: str = Field("", max_length=column(RecurringOrder, "note"))
    client_key: str | None = Field(None, max_length=column(RecurringOrder, "client_key"),
                                   description="Sending the same key again returns the rule it made (200).")


@router.post("recurring", response={200: RecurringOut, 201: RecurringOut, **ERRORS},
             summary="Set up a standing order")
def create_recurring(request, payload: RecurringIn):
    """Checked like an order (its first occurrence is priced now); the orders of its first week are placed at
    once, the later ones by the daily run (manage.py services_daily)."""
    require_roles(request.user, *REGION_STAFF, Role.FAMILY, Role.ELDER)
    elder = _elder(request, payload.elder)
    channel = payload.channel or (OrderChannel.PORTAL if request.user.role in (Role.FAMILY, Role.ELDER)
                                  else OrderChannel.STAFF)
    replay = bool(payload.client_key) and RecurringOrder.objects.filter(client_key=payload.client_key).exists()
    rule = services.create_recurring(actor=request.user, elder=elder, provider=_provider(payload.provider),
                                     item=_item(payload.item), weekdays=payload.weekdays, time=payload.time,
                                     quantity=payload.quantity, starts_on=payload.starts_on,
                                     ends_on=payload.ends_on, channel=str(channel), note=payload.note,
                                     client_key=payload.client_key)
    rule = RecurringOrder.objects.select_related(*RECURRING_RELATED).get(pk=rule.pk)
    return Status(200 if replay else 201, _recurring_out(rule))


@router.post("recurring/{int:recurring_id}/stop", response={200: RecurringOut, **ERRORS},
             summary="Stop a standing order")
def stop_recurring(request, recurring_id: Id):
    require_roles(request.user, *REGION_STAFF, Role.FAMILY, Role.ELDER, on_object=True)
    rule = get_scoped_or_404(RecurringOrder.objects, request.user, "change", pk=recurring_id)
    services.stop_recurring(actor=request.user, recurring=rule)
    return _recurring_out(RecurringOrder.objects.select_related(*RECURRING_RELATED).get(pk=recurring_id))
