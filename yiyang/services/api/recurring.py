"""Standing orders (周期服务)."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import paginated
from yiyang.api.types import Id, SmallInt, column, money
from yiyang.core.api import ERRORS
from yiyang.core.models import Role
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import selectors, services
from ..models import (
    OrderChannel,
    RecurringOrder,
    ServiceItem,
)
from ._common import IdRef, ItemRef, RelatedRefs, _elder, _item, _item_ref, _provider

router = Router()


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


class RecurringRow(RelatedRefs, RecurringOut):
    """Resolved from the model (paginated lists)."""

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
    return selectors.recurring_orders_for(request.user, elder=elder, active=active)


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
