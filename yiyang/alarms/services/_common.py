"""What the alarms services share: the defaults, the service level of an area, the timeline helper."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    Alarm,
    AlarmStep,
    ServiceLevel,
)

DEFAULT_ACK_SECONDS = 60        # the TSA code: calls answered within 60 s
DEFAULT_ARRIVE_MINUTES = 45     # responders on site within 45 minutes
DEFAULT_SILENCE_HOURS = 24      # issue 16: no activity for 24 h in the home of someone living alone
# Not acknowledged: the backup operators, then the duty officer, then the bureau; each waits before the next.
DEFAULT_CHAIN = [
    {"to": "backup", "wait_seconds": 120},
    {"to": "duty_officer", "wait_seconds": 300},
    {"to": "bureau", "wait_seconds": 0},
]
CHAIN_TARGETS = {"backup", "duty_officer", "bureau"}
NOTIFY_RETRIES = 5
MAX_EVENT_AGE = datetime.timedelta(days=7)     # a device's buffered events may arrive late, not a month later
MAX_EVENT_AHEAD = datetime.timedelta(minutes=5)


def _text(value, limit: int) -> str:
    return str(value or "").strip()[:limit]


def _actor_name(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return _("系统")
    return str(actor)[:64]


def _step(alarm: Alarm, kind: str, *, actor=None, at=None, note: str = "") -> AlarmStep:
    return AlarmStep.objects.create(alarm=alarm, kind=kind, at=at or timezone.now(),
                                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                                    actor_name=_actor_name(actor), note=_text(note, 1000))


# ------------------------------------------------------------------------------------------- service level


@dataclass(frozen=True)
class Level:
    ack_seconds: int
    arrive_minutes: int
    chain: list
    silence_hours: int


def service_level_for(region_code: str) -> Level:
    """The street's own service level, else its county's, else the defaults."""
    codes = [region_code[:n] for n in (9, 6) if len(region_code) >= n]
    rows = {row.jurisdiction_id: row for row in ServiceLevel.objects.filter(jurisdiction_id__in=codes)}
    for code in codes:
        if code in rows:
            row = rows[code]
            return Level(row.ack_seconds, row.arrive_minutes, list(row.chain or []), row.silence_hours)
    return Level(DEFAULT_ACK_SECONDS, DEFAULT_ARRIVE_MINUTES, list(DEFAULT_CHAIN), DEFAULT_SILENCE_HOURS)


def parse_chain(chain) -> list[dict]:
    if not isinstance(chain, list) or not chain or len(chain) > 6:
        raise ValidationError({"chain": [_("升级链须为 1 至 6 个环节。")]})
    parsed = []
    for i, step in enumerate(chain, start=1):
        if not isinstance(step, dict) or step.get("to") not in CHAIN_TARGETS:
            raise ValidationError({"chain": [_("第 %(n)d 个环节的升级对象无效（backup、duty_officer 或 bureau）。")
                                             % {"n": i}]})
        wait = step.get("wait_seconds", 0)
        if isinstance(wait, bool) or not isinstance(wait, int) or not 0 <= wait <= 86400:
            raise ValidationError({"chain": [_("第 %(n)d 个环节的等待秒数须为 0 至 86400 的整数。") % {"n": i}]})
        parsed.append({"to": step["to"], "wait_seconds": wait})
    return parsed




def CHAIN_LABELS() -> dict:  # noqa: N802 - a table, translated when read
    return {"backup": _("备班接警员"), "duty_officer": _("值班领导"), "bureau": _("民政局")}


def _skip_locked() -> dict:
    return {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
