"""What the institutions' services share: parsing dates and money into per-field errors, locking, auditing."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.registry.services import Errors

from .. import rules

__all__ = ["Errors", "parse_day", "parse_amount", "record", "today"]


def today() -> datetime.date:
    return timezone.localdate()


def parse_day(value, field: str, errors: Errors, *, not_after_today: bool = True) -> datetime.date | None:
    """A date (a `date` or ISO text); never later than today unless said otherwise."""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        day = value
    else:
        try:
            day = datetime.date.fromisoformat(str(value or "").strip())
        except ValueError:
            errors.add(field, _("请填写有效日期（年-月-日）。"))
            return None
    if not_after_today and day > today():
        errors.add(field, _("日期不能晚于今天。"))
        return None
    return day


def parse_amount(value, field: str, errors: Errors):
    try:
        return rules.parse_money(value)
    except rules.MoneyError:
        errors.add(field, _("请填写大于零、最多两位小数的金额（元）。"))
        return None


def record(*, actor, action, instance, region_code: str, before=None, detail: str = "") -> None:
    audit.record(actor=actor, action=action, instance=instance, before=before, after=audit.snapshot(instance),
                 region_code=region_code, detail=detail)
