"""Recurring orders (周期服务): a standing order places one order per occurrence, a week ahead."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Q,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction
from yiyang.registry.models import Elder

from .. import policy
from ..models import (
    Order,
    OrderChannel,
    RecurringOrder,
    RecurringSkip,
    ServiceItem,
)
from ._common import BOOKING_HORIZON_DAYS, _date, _text, _user
from .orders import _check_channel, _check_channel_fits, _prepare, _quantity, place_order
from .shifts import _clock

RECURRING_AHEAD_DAYS = 7


def _weekdays(value) -> str:
    if isinstance(value, (list, tuple, set)):
        parts = [str(v).strip() for v in value]
    else:
        parts = [p.strip() for p in str(value or "").replace("，", ",").split(",")]
    try:
        days = sorted({int(p) for p in parts if p})
    except ValueError:
        days = []
    if not days or any(not 1 <= d <= 7 for d in days):
        raise ValidationError({"weekdays": [_("请选择每周几（1 为周一，7 为周日）。")]})
    return ",".join(str(d) for d in days)


def occurrences(recurring, first: datetime.date, last: datetime.date) -> list[datetime.datetime]:
    """The standing order's visits (aware, local time) on the days from `first` to `last` inclusive."""
    days = set(recurring.weekday_list)
    first = max(first, recurring.starts_on)
    if recurring.ends_on is not None:
        last = min(last, recurring.ends_on)
    out, day = [], first
    while day <= last:
        if day.isoweekday() in days:
            out.append(timezone.make_aware(datetime.datetime.combine(day, recurring.time)))
        day += datetime.timedelta(days=1)
    return out


@transaction.atomic
def create_recurring(*, actor, elder: Elder, provider, item: ServiceItem, weekdays, time, quantity=1, starts_on,
                     ends_on=None, channel: str = OrderChannel.STAFF, note: str = "", client_key: str | None = None):
    """A standing order (e.g. every Tuesday 9:00), by whoever may order for the elder. Its first occurrence
    is priced now with place_order's checks, so that a wrong provider, item or time is refused at once; then
    the orders of its first week are placed. The same `client_key` again gives back the rule it made."""

    client_key = _text(client_key, 64) or None
    if client_key and (found := RecurringOrder.objects.filter(client_key=client_key).first()) is not None:
        if found.elder_id != elder.pk or found.placed_by_id != getattr(_user(actor), "pk", None):
            raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT,
                              _("该提交编号已用于另一项周期服务，请刷新页面后重新提交。"), status=409)
        return found
    policy.may_set_up_recurring_order(actor, elder).require()
    _check_channel(channel, allowed=(OrderChannel.PORTAL, OrderChannel.PHONE, OrderChannel.STAFF))
    _check_channel_fits(actor, channel)
    days = _weekdays(weekdays)
    at = _clock(time, "time")
    qty = _quantity(quantity)
    start = _date(starts_on, "starts_on")
    end = _date(ends_on, "ends_on") if ends_on not in (None, "") else None
    today = timezone.localdate()
    if start < today:
        raise ValidationError({"starts_on": [_("开始日期不能早于今天。")]})
    if end is not None and end < start:
        raise ValidationError({"ends_on": [_("结束日期不能早于开始日期。")]})
    rule = RecurringOrder(elder=elder, provider=provider, item=item, weekdays=days, time=at, quantity=qty,
                          starts_on=start, ends_on=end, channel=channel, note=_text(note, 300),
                          region_code=elder.residence_region_id, placed_by=_user(actor), client_key=client_key)
    upcoming = [t for t in occurrences(rule, start, start + datetime.timedelta(days=BOOKING_HORIZON_DAYS - 1))
                if t > timezone.now()]
    if not upcoming:
        raise ValidationError({"weekdays": [_("在开始与结束日期之间没有可预约的服务时间。")]})
    # Errors of the first occurrence (offer, price, opening, elder's status) surface now.
    _prepare(actor=actor, elder=elder, provider=provider, item=item, scheduled_start=upcoming[0], quantity=qty,
             allowance_available=Decimal("0"))
    rule.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=rule, after=audit.snapshot(rule),
                 region_code=rule.region_code, detail=f"{item.name} {days} {at:%H:%M}")
    generate_recurring_orders(until=today + datetime.timedelta(days=RECURRING_AHEAD_DAYS), today=today,
                              recurring=[rule])
    return rule


@transaction.atomic
def stop_recurring(*, actor, recurring):
    """Stop a standing order: no more orders are generated (those already placed stay, to cancel one by one).
    A standing order already stopped is refused (409)."""

    recurring = RecurringOrder.objects.select_for_update().get(pk=recurring.pk)
    policy.may_stop_recurring_order(actor, recurring).require()
    before = audit.snapshot(recurring)
    recurring.active, recurring.stopped_at = False, timezone.now()
    recurring.save(update_fields=["active", "stopped_at"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=recurring, before=before,
                 after=audit.snapshot(recurring), region_code=recurring.region_code, detail=_("停止周期服务"))
    return recurring


def _failure(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(str(m) for messages in exc.message_dict.values() for m in messages)[:500]
    return str(getattr(exc, "message", exc))[:500]


def generate_recurring_orders(*, until: datetime.date, today: datetime.date | None = None,
                              recurring=None) -> dict:
    """Place the orders of every active standing order (or of `recurring`) from today up to `until`, each
    through place_order as the one who set it up, with client_key "recurring:<id>:<date>" so that running it
    again never duplicates. An occurrence refused (elder died, offer ended …) is skipped and recorded
    (RecurringSkip), the others go on. Returns counts: placed, existing, skipped."""

    today = today or timezone.localdate()
    rules = recurring if recurring is not None else (
        RecurringOrder.objects.filter(active=True, starts_on__lte=until)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today)).select_related("elder", "provider", "item",
                                                                               "placed_by").order_by("pk"))
    counts = {"placed": 0, "existing": 0, "skipped": 0}
    now = timezone.now()
    for rule in rules:
        times = [t for t in occurrences(rule, today, until) if t > now]
        keys = {f"recurring:{rule.pk}:{timezone.localdate(t).isoformat()}": t for t in times}
        done = set(Order.objects.filter(client_key__in=list(keys)).values_list("client_key", flat=True))
        counts["existing"] += len(done)
        for key, moment in keys.items():
            if key in done:
                continue
            try:
                with transaction.atomic():
                    place_order(actor=rule.placed_by, elder=rule.elder, provider=rule.provider, item=rule.item,
                                scheduled_start=moment, quantity=rule.quantity, channel=OrderChannel.RECURRING,
                                note=rule.note, client_key=key)
            except (ValidationError, DomainError) as exc:
                counts["skipped"] += 1
                RecurringSkip.objects.update_or_create(recurring=rule, day=timezone.localdate(moment),
                                                       defaults={"reason": _failure(exc)})
            else:
                counts["placed"] += 1
    return counts
