"""Monthly settlement (月度结算): the bureau prepares each provider's statement for its county and month,
reviews and approves it (the included orders become settled), then exports it for payment."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.bulk import insert_select
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region, RegionLevel

from .. import policy
from ..models import (
    HOLD_FLAG_KINDS,
    TRANSITIONS,
    FlagKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderStatus,
    Settlement,
    SettlementItem,
    SettlementStatus,
)
from ._common import CENT, COUNTY_LEN, _month, _region, _text, _user, month_bounds

SETTLEABLE = (OrderStatus.CONFIRMED, OrderStatus.RATED)
MONEY_PARTS = ("total", "subsidy", "allowance", "copay")


def settlement_orders(*, provider, jurisdiction: Region, month: datetime.date):
    """The orders a statement looks at: the provider's, for people of the county, checked out (local time)
    in the month, confirmed or rated and not yet settled."""
    start, end = month_bounds(month)
    return Order.objects.filter(provider_id=getattr(provider, "pk", provider), county_code=jurisdiction.code,
                                check_out_at__gte=start, check_out_at__lt=end, status__in=SETTLEABLE)


def _fen_sum(field: str, condition: Q | None = None) -> Coalesce:
    """SUM of an amount in whole fen: exact on every database (SQLite would add decimals as floats)."""
    return Coalesce(Sum(Cast(Round(F(field) * 100), BigIntegerField()), filter=condition), 0)


def _yuan(fen) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(CENT)


def _sums(items) -> dict:
    """Count and money totals of a queryset of settlement items, split into included and held back."""
    included, held = Q(held=False), Q(held=True)
    # Aliases differ from the field names (an aggregate may not be named like the field it sums).
    sums = items.aggregate(
        n_orders=Count("pk", filter=included), n_held=Count("pk", filter=held),
        fen_held=_fen_sum("total", held), **{f"fen_{part}": _fen_sum(part, included) for part in MONEY_PARTS})
    return {"order_count": sums["n_orders"], **{part: _yuan(sums[f"fen_{part}"]) for part in MONEY_PARTS},
            "held_count": sums["n_held"], "held_total": _yuan(sums["fen_held"])}


def _hold_reasons(candidates) -> dict[int, str]:
    """Order id → why it is held back (its flags), for the candidates that have a holding flag."""
    reasons: dict[int, list[str]] = {}
    labels = dict(FlagKind.choices)
    for order_id, kind, detail in (OrderFlag.objects.filter(order__in=candidates.values("pk"),
                                                            kind__in=HOLD_FLAG_KINDS)
                                   .order_by("order_id", "kind").values_list("order_id", "kind", "detail")):
        reasons.setdefault(order_id, []).append(f"{labels[kind]}：{detail}" if detail else str(labels[kind]))
    return {order_id: "；".join(texts)[:500] for order_id, texts in reasons.items()}


def _settlement_jurisdiction(provider, jurisdiction) -> Region:
    region = _region(jurisdiction or provider.region_id[:COUNTY_LEN], "jurisdiction")
    if region.level != RegionLevel.COUNTY:
        raise ValidationError({"jurisdiction": [_("结算按区县进行，%(name)s 不是区县。") % {"name": region.name}]})
    return region


def _locked_settlement(*, actor, provider, jurisdiction: Region, month: datetime.date) -> tuple[Settlement, bool]:
    keys = {"provider": provider, "jurisdiction": jurisdiction, "month": month}
    found = Settlement.objects.select_for_update().filter(**keys).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return Settlement.objects.create(**keys, created_by=_user(actor)), True
    except IntegrityError:  # prepared at the same moment by someone else: theirs, locked
        return Settlement.objects.select_for_update().get(**keys), False


@transaction.atomic
def prepare_settlement(*, actor, provider, month, jurisdiction=None) -> Settlement:
    """The provider's statement for a county (default: the provider's own) and a month, by that county's
    bureau: every confirmed or rated order checked out in the month, its money copied from the order; flagged
    orders (far check-in, overlap, duration) are listed apart with their reasons and held back. Preparing a
    draft again replaces its items (as the orders are now); an approved statement is final (409). Set-based:
    the number of queries does not depend on the number of orders."""
    jurisdiction = _settlement_jurisdiction(provider, jurisdiction)
    policy.may_prepare_settlement(actor, jurisdiction.code).require()
    if not provider.region_id.startswith(jurisdiction.code):
        raise DomainError(ErrorCode.NOT_FOUND, _("%(provider)s 不是%(county)s的服务机构。") % {
            "provider": provider.name, "county": jurisdiction.name}, status=404)
    month = _month(month)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"month": [_("不能结算尚未开始的月份。")]})
    settlement, created = _locked_settlement(actor=actor, provider=provider, jurisdiction=jurisdiction, month=month)
    policy.may_prepare_settlement(actor, jurisdiction.code, statement=settlement).require()
    before = None if created else audit.snapshot(settlement)
    settlement.items.all().delete()
    candidates = settlement_orders(provider=provider, jurisdiction=jurisdiction, month=month)
    held = Exists(OrderFlag.objects.filter(order=OuterRef("pk"), kind__in=HOLD_FLAG_KINDS))
    insert_select(SettlementItem, candidates.filter(~held), {
        "settlement": Value(settlement.pk), "order": F("pk"), **{part: F(part) for part in MONEY_PARTS},
        "held": Value(False), "hold_reason": Value("")})
    reasons = _hold_reasons(candidates)
    SettlementItem.objects.bulk_create(
        SettlementItem(settlement=settlement, order_id=pk, held=True, hold_reason=reasons[pk],
                       **{part: row[i] for i, part in enumerate(MONEY_PARTS)})
        for pk, *row in candidates.filter(pk__in=list(reasons)).values_list("pk", *MONEY_PARTS))
    for field, value in _sums(settlement.items.all()).items():
        setattr(settlement, field, value)
    settlement.prepared_at = timezone.now()
    settlement.save()
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, instance=settlement,
                 before=before, after=audit.snapshot(settlement), region_code=jurisdiction.code,
                 detail=_("生成结算单：%(n)d 单 %(total)s 元，暂缓 %(held)d 单 %(held_total)s 元") % {
                     "n": settlement.order_count, "total": settlement.total, "held": settlement.held_count,
                     "held_total": settlement.held_total})
    return settlement


def _mismatch(what: str) -> DomainError:
    return DomainError("settlement_mismatch", _("结算单与%(what)s不符，请重新生成后再审核。") % {"what": what},
                       status=409)


SETTLEABLE = [status for status in OrderStatus if OrderStatus.SETTLED in TRANSITIONS[status]]


@transaction.atomic
def approve_settlement(*, actor, settlement: Settlement) -> Settlement:
    """The bureau approves a draft statement: its totals must equal its items and their orders (to the fen),
    every included order must still be confirmed or rated and unflagged; then the statement is approved and
    every included order becomes settled (one order event each, written set-based): at once for up to
    SETTLE_INLINE_MAX orders, else by the task queue right after (mark_orders_settled)."""
    settlement = Settlement.objects.select_for_update().select_related("jurisdiction").get(pk=settlement.pk)
    policy.may_approve_settlement(actor, settlement).require()
    included = settlement.items.filter(held=False)
    orders = Order.objects.filter(pk__in=included.values("order_id"))
    sums = _sums(settlement.items.all())
    if any(getattr(settlement, field) != value for field, value in sums.items()):
        raise _mismatch(_("明细合计"))
    # One pass over the orders for their sums, their statuses and their flags. The rows are not locked: from
    # confirmed or rated an order can only be rated or settled, so nothing that slips in can unsettle it.
    flagged = Exists(OrderFlag.objects.filter(order=OuterRef("pk"), kind__in=HOLD_FLAG_KINDS))
    from_orders = orders.aggregate(
        n=Count("pk"), unsettleable=Count("pk", filter=~Q(status__in=SETTLEABLE)),
        flagged=Count("pk", filter=Q(flagged)), **{f"fen_{part}": _fen_sum(part) for part in MONEY_PARTS})
    if from_orders["unsettleable"]:
        raise _mismatch(_("订单状态"))
    if from_orders["flagged"]:
        raise _mismatch(_("订单异常标记"))
    if from_orders["n"] != sums["order_count"] or any(
            _yuan(from_orders[f"fen_{part}"]) != sums[part] for part in MONEY_PARTS):
        raise _mismatch(_("订单金额"))
    now = timezone.now()
    before = audit.snapshot(settlement)
    settlement.status = SettlementStatus.APPROVED
    settlement.approved_at, settlement.approved_by = now, _user(actor)
    settlement.save(update_fields=["status", "approved_at", "approved_by"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=settlement, before=before,
                 after=audit.snapshot(settlement), region_code=settlement.jurisdiction_id,
                 detail=_("审核通过：%(n)d 单结算，合计 %(total)s 元") % {
                     "n": settlement.order_count, "total": settlement.total})
    # The statement is approved (payable, exportable) now. Its orders become 已结算 with it when there are few;
    # a county's month can be hundreds of thousands of order rows to rewrite, which the task queue does in
    # batches after this commits. Nothing can stop them: a confirmed or rated order can only be rated or settled.
    actor_pk = getattr(_user(actor), "pk", None)
    if settlement.order_count <= SETTLE_INLINE_MAX:
        moved = _mark_settled(settlement, actor_pk=actor_pk, at=now, limit=None)
        if moved != settlement.order_count:
            raise _mismatch(_("订单数"))
    else:
        from ..tasks import mark_orders_settled_task

        transaction.on_commit(lambda: mark_orders_settled_task.enqueue(settlement.pk, actor_pk))
    return settlement


SETTLE_INLINE_MAX = 5_000
SETTLE_BATCH = 20_000


def _mark_settled(settlement: Settlement, *, actor_pk, at, limit: int | None) -> int:
    """One event each and status 已结算 for (up to `limit` of) the statement's included orders not yet settled."""
    orders = Order.objects.filter(pk__in=settlement.items.filter(held=False).values("order_id"),
                                  status__in=SETTLEABLE)
    if limit is not None:
        ids = list(orders.order_by("pk").values_list("pk", flat=True)[:limit])
        if not ids:
            return 0
        orders = Order.objects.filter(pk__in=ids)
    note = _("%(month)s 月度结算（结算单 %(pk)s）") % {"month": settlement.month.strftime("%Y-%m"), "pk": settlement.pk}
    insert_select(OrderEvent, orders, {
        "order": F("pk"), "from_status": F("status"), "to_status": Value(OrderStatus.SETTLED.value),
        "at": Value(at, output_field=DateTimeField()), "by": Cast(Value(actor_pk), IntegerField()),
        "note": Value(_text(note, 300))})
    return orders.update(status=OrderStatus.SETTLED, updated_at=at)


def mark_orders_settled(*, settlement_id: int, actor_id: int | None = None, batch: int = SETTLE_BATCH) -> int:
    """The background half of approving a large statement: its included orders become 已结算, `batch` at a
    time, each batch its own transaction. Running it again (a worker restarted half-way) finishes the rest and
    moves nothing twice. Returns how many orders moved."""
    settlement = Settlement.objects.get(pk=settlement_id)
    if settlement.status == SettlementStatus.DRAFT:
        return 0
    moved = 0
    while True:
        with transaction.atomic():
            n = _mark_settled(settlement, actor_pk=actor_id, at=timezone.now(), limit=batch)
        moved += n
        if n < batch:
            return moved


@transaction.atomic
def export_settlement(*, actor, settlement: Settlement) -> bytes:
    """The approved statement as an xlsx for payment (settlement_file.write), by the county's bureau; every
    export is in the audit log. A draft cannot be exported (409)."""
    from .. import settlement_file

    settlement = (Settlement.objects.select_for_update(of=("self",)).select_related("jurisdiction", "provider")
                  .get(pk=settlement.pk))
    policy.may_export_settlement(actor, settlement).require()
    content = settlement_file.write(settlement)
    before = audit.snapshot(settlement)
    settlement.status = SettlementStatus.EXPORTED
    settlement.exported_at, settlement.exported_by = timezone.now(), _user(actor)
    settlement.save(update_fields=["status", "exported_at", "exported_by"])
    audit.record(actor=actor, action=AuditAction.EXPORT, instance=settlement, before=before,
                 after=audit.snapshot(settlement), region_code=settlement.jurisdiction_id,
                 detail=settlement_file.file_name(settlement))
    return content
