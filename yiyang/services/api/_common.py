"""What the services API's topics share: lookups that answer 404 or 422, the order schemas."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema

from yiyang.api.types import Money
from yiyang.core.models import CODE_LENGTH, Region, Role
from yiyang.core.permissions import REGION_STAFF, has_role
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder, FamilyLink, Organisation

from ..models import (
    Order,
    OrderEvent,
    OrderStatus,
    ServiceItem,
)

ORDER_ROLES = (*REGION_STAFF, Role.PROVIDER, Role.CAREGIVER, Role.FAMILY, Role.ELDER)
FLAG_ROLES = (*REGION_STAFF, Role.PROVIDER)
# The service allowance is benefits data: the elder's family and region staff, not providers or caregivers.
ALLOWANCE_ROLES = (*REGION_STAFF, Role.FAMILY, Role.ELDER)
STREET_LEN = CODE_LENGTH["street"]
ORDER_RELATED = ("elder", "provider", "item", "caregiver")




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


class RelatedRefs(Schema):
    """The elder, provider and item of a row read from the model, as references (a base of the row schemas;
    a schema without one of these fields ignores its resolver)."""

    @staticmethod
    def resolve_elder(obj):
        return {"id": obj.elder_id, "name": obj.elder.name}

    @staticmethod
    def resolve_provider(obj):
        return {"id": obj.provider_id, "name": obj.provider.name}

    @staticmethod
    def resolve_item(obj):
        return _item_ref(obj.item)


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


class OrderOut(RelatedRefs, OrderFields):
    @staticmethod
    def resolve_status_label(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_channel_label(obj):
        return str(obj.get_channel_display())

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
