"""Who is on duty, and the escalation along the chain while nobody acknowledges."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core.models import Role, User

from ..models import (
    Alarm,
    AlarmStatus,
    DutyRole,
    DutyShift,
    StepKind,
)
from ._common import CHAIN_LABELS, _skip_locked, _step, service_level_for
from .outbox import _notify

log = logging.getLogger("yiyang.alarms")


# ------------------------------------------------------------------------------------------- escalation


def on_duty_users(region_code: str, duty_role: str, at=None) -> list[User]:
    """Who holds `duty_role` now for an area: the street's desk first, else the county's call centre."""
    at = at or timezone.now()
    codes = [region_code[:n] for n in (9, 6) if len(region_code) >= n]
    shifts = (DutyShift.objects.filter(region_code__in=codes, duty_role=duty_role, starts_at__lte=at,
                                       ends_at__gt=at, user__is_active=True)
              .select_related("user").order_by("starts_at"))
    by_code = defaultdict(list)
    for shift in shifts:
        by_code[shift.region_code].append(shift.user)
    if duty_role == DutyRole.OPERATOR:
        # Both desks watch the queue: the street's operators and the county's call centre.
        return list({u.pk: u for code in codes for u in by_code.get(code, [])}.values())
    for code in codes:
        if by_code.get(code):
            return list({u.pk: u for u in by_code[code]}.values())
    return []


def _chain_targets(alarm: Alarm, target: str) -> list[User]:
    code = alarm.region_code
    if target == "backup":
        return on_duty_users(code, DutyRole.BACKUP) or on_duty_users(code, DutyRole.OPERATOR)
    if target == "duty_officer":
        return on_duty_users(code, DutyRole.DUTY_OFFICER)
    return list(User.objects.filter(role=Role.BUREAU, is_active=True,
                                    scope_code__in=[code[:n] for n in (2, 4, 6)]))


def escalate_due(*, now=None) -> int:
    """Walk the chain of every alarm still unacknowledged past its deadline (idempotent: a second run at the
    same moment finds nothing due). Returns how many escalation steps fired."""
    now = now or timezone.now()
    fired = 0
    due = list(Alarm.objects.filter(status=AlarmStatus.RAISED, next_escalation_at__lte=now)
               .order_by("next_escalation_at").values_list("pk", flat=True)[:1000])
    for pk in due:
        with transaction.atomic():
            alarm = (Alarm.objects.select_for_update(of=("self",), **_skip_locked()).select_related("elder", "device")
                     .filter(pk=pk, status=AlarmStatus.RAISED, next_escalation_at__lte=now).first())
            if alarm is None:
                continue
            chain = service_level_for(alarm.region_code).chain
            deadline = alarm.next_escalation_at
            if alarm.escalation_level >= len(chain):
                alarm.next_escalation_at = None
                alarm.save(update_fields=["next_escalation_at"])
                continue
            step = chain[alarm.escalation_level]
            targets = _chain_targets(alarm, step["to"])
            alarm.escalation_level += 1
            last = alarm.escalation_level >= len(chain)
            alarm.next_escalation_at = None if last else deadline + datetime.timedelta(seconds=step["wait_seconds"])
            alarm.save(update_fields=["escalation_level", "next_escalation_at"])
            names = "、".join(str(u) for u in targets) or _("（无人值班）")
            _step(alarm, StepKind.ESCALATED, at=now, note=_("第 %(n)d 级：%(to)s %(names)s") % {
                "n": alarm.escalation_level, "to": CHAIN_LABELS()[step["to"]], "names": names})
            waited = int((now - alarm.raised_at).total_seconds())
            _notify(targets, alarm, _("报警超时未接警：%(alarm)s") % {"alarm": alarm},
                    _("已等待 %(s)d 秒，请立即处理。") % {"s": waited})
            if alarm.next_escalation_at is not None:
                _schedule_escalation(alarm.pk, alarm.next_escalation_at)
            fired += 1
    return fired




def _schedule_escalation(alarm_pk: int, at) -> None:
    from ..tasks import escalate_alarms_task

    def enqueue():
        try:
            escalate_alarms_task.using(run_after=at).enqueue()
        except Exception:  # the queue down must not lose the alarm: the minutely sweep escalates it
            log.exception("could not queue the escalation of alarm %s", alarm_pk)

    transaction.on_commit(enqueue)
