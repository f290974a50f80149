"""Follow-up calls (回访): a deterministic sample of each month's completed orders, called back by the
region's staff; low satisfaction flags the order."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.models import AuditAction

from .. import policy
from ..models import (
    FlagKind,
    FollowUpCall,
    FollowUpOutcome,
    Order,
    OrderStatus,
)
from ._common import _month, _region, _text, _user, month_bounds
from .orders import _flag

COMPLETED = (OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.SETTLED)
LOW_SATISFACTION = 2


def _rank(seed, month: datetime.date, pk: int) -> str:
    import hashlib

    return hashlib.sha256(f"{seed or ''}:{month:%Y-%m}:{pk}".encode()).hexdigest()


@transaction.atomic
def sample_follow_ups(*, actor, jurisdiction, month, rate=Decimal("0.1"), seed=None) -> list:
    """Choose the month's completed (confirmed, rated or settled) orders of people in the jurisdiction to call
    back: at least `rate` of them (rounded up), and at least one per provider that served any. The choice is
    deterministic (ordered by a hash of the order id, the month and `seed`); running it again adds only what
    the rate still lacks (nothing when it is met). Returns the calls added."""

    jurisdiction = _region(jurisdiction, "jurisdiction")
    policy.may_sample_follow_ups(actor, jurisdiction.code).require()
    month = _month(month)
    try:
        rate = Decimal(str(rate))
    except (InvalidOperation, ValueError):
        rate = Decimal("-1")
    if not rate.is_finite() or not Decimal("0") < rate <= 1:
        raise ValidationError({"rate": [_("抽样比例须大于 0 且不超过 1。")]})
    start, end = month_bounds(month)
    completed = Order.objects.filter(region_code__startswith=jurisdiction.code, status__in=COMPLETED,
                                     check_out_at__gte=start, check_out_at__lt=end)
    rows = list(completed.select_for_update(of=("self",)).order_by("pk")
                .values_list("pk", "provider_id", "region_code", "follow_up__id"))
    sampled = {pk for pk, _p, _r, call in rows if call is not None}
    candidates = sorted((r for r in rows if r[3] is None), key=lambda r: _rank(seed, month, r[0]))
    chosen: list[tuple] = []
    covered = {provider for pk, provider, _r, call in rows if call is not None}
    for row in candidates:  # one per provider first, in hash order
        if row[1] not in covered:
            covered.add(row[1])
            chosen.append(row)
    target = math.ceil(rate * len(rows)) if rows else 0
    taken = {row[0] for row in chosen}
    for row in candidates:
        if len(sampled) + len(chosen) >= target:
            break
        if row[0] not in taken:
            taken.add(row[0])
            chosen.append(row)
    now = timezone.now()
    calls = FollowUpCall.objects.bulk_create(
        FollowUpCall(order_id=pk, month=month, region_code=region, sampled_at=now, sampled_by=_user(actor))
        for pk, _provider, region, _call in chosen)
    if calls:
        audit.record(actor=actor, action=AuditAction.CREATE, object_type="services.followupcall",
                     object_repr=jurisdiction.name, region_code=jurisdiction.code,
                     detail=_("%(month)s 回访抽样：完成订单 %(n)d 单，新抽取 %(k)d 单（比例 %(rate)s）") % {
                         "month": month.strftime("%Y-%m"), "n": len(rows), "k": len(calls),
                         "rate": format(rate.normalize(), "f")})
    return calls


@transaction.atomic
def record_follow_up(*, actor, call, outcome: str, satisfaction=None, issues: str = "", note: str = ""):
    """Record a call back, by bureau, street or community staff of the elder's region (a correction may be
    recorded again). When the person was reached a satisfaction of 1–5 is required; 2 or less flags the order
    (回访满意度低), which holds it back from settlement until someone looks at it."""

    call = FollowUpCall.objects.select_for_update(of=("self",)).select_related("order").get(pk=call.pk)
    policy.may_record_follow_up(actor, call).require()
    if outcome not in FollowUpOutcome.values:
        raise ValidationError({"outcome": [_("请选择回访结果。")]})
    score = None
    if outcome == FollowUpOutcome.REACHED:
        try:
            score = int(str(satisfaction).strip())
        except (TypeError, ValueError):
            score = 0
        if not 1 <= score <= 5 or str(satisfaction).strip() not in {str(score), f"{score}.0"}:
            raise ValidationError({"satisfaction": [_("已接通的回访须填写 1 至 5 的满意度。")]})
    elif satisfaction not in (None, ""):
        raise ValidationError({"satisfaction": [_("未接通或拒绝回访时不能填写满意度。")]})
    before = audit.snapshot(call)
    call.outcome, call.satisfaction = outcome, score
    call.issues, call.note = (issues or "").strip()[:2000], _text(note, 300)
    call.called_at, call.called_by = timezone.now(), _user(actor)
    call.save()
    if score is not None and score <= LOW_SATISFACTION:
        _flag(call.order, FlagKind.FOLLOW_UP, lambda: _("回访满意度 %(s)d 分：%(issues)s") % {
            "s": score, "issues": call.issues or call.note or "-"})
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=call, before=before, after=audit.snapshot(call),
                 region_code=call.region_code,
                 detail=f"{call.get_outcome_display()} {score or ''} {_text(call.issues, 150)}".strip())
    return call
