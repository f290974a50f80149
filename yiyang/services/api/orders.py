"""Orders: the price split before ordering (quote), placing, the list and one order, every step of
the life cycle, and the check-out photo."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict

from yiyang.api.pagination import paginated
from yiyang.api.types import Id, Money, SmallInt, column, money
from yiyang.core.api import ERRORS
from yiyang.core.models import Role
from yiyang.core.policy import require_roles
from yiyang.registry.models import Elder, Organisation, Practitioner

from .. import policy, selectors, services
from ..models import (
    Order,
    OrderChannel,
    OrderEvent,
    OrderStatus,
    ServiceItem,
)
from ._common import (
    ORDER_ROLES,
    IdRef,
    ItemRef,
    OrderDetailOut,
    OrderOut,
    _as_datetime,
    _choice,
    _elder,
    _fresh,
    _get,
    _item,
    _item_ref,
    _provider,
)

router = Router()


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
    unit_price: Money
    total: Money
    share: Money = Field(..., description="Percent of the total the government pays.")
    subsidy: Money
    allowance: Money
    copay: Money
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
    order, created = services.place_order(
        actor=request.user, elder=elder, provider=provider, item=item, scheduled_start=payload.scheduled_start,
        quantity=payload.quantity, channel=str(channel), note=payload.note, client_key=payload.client_key)
    return Status(201 if created else 200, _fresh(request, order.pk))




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
