"""The elder's monthly service allowance."""

import datetime

from django.utils import timezone
from ninja import Field, Query, Router, Schema

from yiyang.api.types import Id, Money, money
from yiyang.core.api import ERRORS
from yiyang.core.policy import require_roles

from .. import selectors, services
from ..models import (
    AllowanceEntry,
    AllowanceKind,
)
from ._common import ALLOWANCE_ROLES, IdRef, _elder

router = Router()


class AllowanceEntryOut(Schema):
    kind: str
    kind_label: str
    amount: Money = Field(..., description="Positive: credit or refund; negative: drawn by an order.")
    order: int | None
    created_at: datetime.datetime


class AllowanceOut(Schema):
    elder: IdRef
    month: str = Field(..., examples=["2026-11"])
    credited: Money
    debited: Money = Field(..., description="Drawn by orders (a positive amount).")
    refunded: Money = Field(..., description="Given back by orders that ended unserved.")
    balance: Money = Field(..., description="What is left for the month: credited − debited + refunded, never < 0.")
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
