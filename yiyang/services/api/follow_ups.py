"""Follow-up calls (回访)."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from yiyang.api.pagination import paginated
from yiyang.api.types import Id, SmallInt, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import selectors, services
from ..models import (
    FollowUpCall,
)
from ._common import IdRef, _person

router = Router()


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
    return selectors.follow_up_calls_for(
        request.user, month=services._month(filters.month) if filters.month else None, pending=filters.pending,
        provider=filters.provider)


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
