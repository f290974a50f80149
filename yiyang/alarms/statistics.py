"""Alarm statistics of an area (a county, a street, a community) and a month, for the dashboard: alarms by kind
and by outcome, the times to acknowledge, to dispatch and to be on site (p50 and p90, in seconds) with the share
within the service level, the false-alarm rate, and the devices offline now.

Set-based: the counts are GROUP BY queries; the times come from one query over the month's alarms of the area
(each row three durations and the row's own service level, computed by the database: the street's level, else
the county's, else the defaults), from which the percentiles and shares are taken. Nothing is read per alarm.

The times are measured from the alarm's first event (`raised_at`), as the service level counts them: acknowledged
within `ack_seconds` of it (the TSA code's 60 s), on site within `arrive_minutes` of it (45 minutes for 90 % of
calls). The share acknowledged counts every alarm of the month (one never acknowledged missed it); the share on
site counts the alarms someone was dispatched to. The false-alarm rate is the share of the resolved alarms whose
outcome was 误报.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, DurationField, ExpressionWrapper, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone

from .models import (
    OPEN_STATUSES,
    Alarm,
    AlarmKind,
    AlarmOutcome,
    Device,
    DeviceStatus,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceTask,
    ServiceLevel,
)
from .services import DEFAULT_ACK_SECONDS, DEFAULT_ARRIVE_MINUTES


@dataclass(frozen=True)
class Timing:
    count: int                  # alarms that reached the step
    p50: float | None           # seconds from the first event
    p90: float | None
    within: int | None = None   # reached within the service level (ack and on site only)
    of: int | None = None       # the alarms the share is taken over
    share: float | None = None  # within / of


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont): sorted x, rank p·(n−1)."""
    if not values:
        return None
    xs = sorted(values)
    rank = p * (len(xs) - 1)
    low = int(rank)
    high = min(low + 1, len(xs) - 1)
    return round(xs[low] + (xs[high] - xs[low]) * (rank - low), 1)


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime(month.year, month.month, 1, tzinfo=tz)
    nxt = datetime.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=tz)
    return start, nxt


def _level(field: str, length: int):
    return Subquery(ServiceLevel.objects.filter(jurisdiction_id=Substr(OuterRef("region_code"), 1, length))
                    .values(field)[:1], output_field=IntegerField())


def _since_raised(field: str):
    return ExpressionWrapper(F(field) - F("raised_at"), output_field=DurationField())


def alarm_statistics(*, region_code: str, month: datetime.date, now: datetime.datetime | None = None) -> dict:
    now = now or timezone.now()
    start, end = month_bounds(month)
    alarms = Alarm.objects.filter(region_code__startswith=region_code, raised_at__gte=start, raised_at__lt=end)

    by_kind = {row["kind"]: row["n"] for row in alarms.values("kind").annotate(n=Count("pk")).order_by("kind")}
    by_outcome = {row["outcome"] or "unresolved": row["n"]
                  for row in alarms.values("outcome").annotate(n=Count("pk")).order_by("outcome")}
    total = sum(by_kind.values())
    open_now = alarms.filter(status__in=OPEN_STATUSES).count()

    rows = list(alarms.annotate(
        ack=_since_raised("acknowledged_at"), sent=_since_raised("dispatched_at"), arrived=_since_raised("on_site_at"),
        ack_limit=Coalesce(_level("ack_seconds", 9), _level("ack_seconds", 6),
                           Value(DEFAULT_ACK_SECONDS)),
        arrive_limit=Coalesce(_level("arrive_minutes", 9), _level("arrive_minutes", 6),
                              Value(DEFAULT_ARRIVE_MINUTES)),
    ).values_list("ack", "sent", "arrived", "ack_limit", "arrive_limit"))

    acks = [(a.total_seconds(), limit) for a, _s, _o, limit, _al in rows if a is not None]
    sent = [s.total_seconds() for _a, s, _o, _l, _al in rows if s is not None]
    arrived = [(o.total_seconds(), limit * 60) for _a, _s, o, _l, limit in rows if o is not None]
    ack_within = sum(1 for seconds, limit in acks if seconds <= limit)
    arrive_within = sum(1 for seconds, limit in arrived if seconds <= limit)

    resolved = sum(n for outcome, n in by_outcome.items() if outcome != "unresolved")
    false_alarms = by_outcome.get(AlarmOutcome.FALSE_ALARM, 0)
    devices = Device.objects.filter(region_code__startswith=region_code, status=DeviceStatus.ACTIVE)
    offline = (MaintenanceTask.objects.filter(region_code__startswith=region_code, kind=MaintenanceKind.OFFLINE,
                                              status=MaintenanceStatus.OPEN, device__status=DeviceStatus.ACTIVE)
               .values("device_id").distinct().count())
    return {
        "region_code": region_code,
        "month": month.strftime("%Y-%m"),
        "total": total,
        "open": open_now,
        "by_kind": {kind: by_kind.get(kind, 0) for kind in AlarmKind.values if by_kind.get(kind)},
        "by_outcome": by_outcome,
        "acknowledge": _timing([s for s, _limit in acks], ack_within, total),
        "dispatch": Timing(len(sent), percentile(sent, 0.5), percentile(sent, 0.9)),
        "on_site": _timing([s for s, _limit in arrived], arrive_within, len(sent)),
        "resolved": resolved,
        "false_alarms": false_alarms,
        "false_alarm_rate": round(false_alarms / resolved, 4) if resolved else None,
        "devices_active": devices.count(),
        "devices_offline": offline,
        "at": now,
    }


def _timing(seconds: list[float], within: int, of: int) -> Timing:
    return Timing(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9), within, of,
                  round(within / of, 4) if of else None)
