"""What the services modules share: money and date parsing, regions, the constants more than one uses."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core.models import CODE_LENGTH, Region

CENT = Decimal("0.01")
BOOKING_HORIZON_DAYS = 60           # an order may be booked at most this far ahead
COUNTY_LEN = CODE_LENGTH["county"]



def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _region(value, field: str) -> Region:
    if isinstance(value, Region):
        return value
    region = Region.objects.filter(code=str(value or "").strip()).first()
    if region is None:
        raise ValidationError({field: [_("区划代码 %(code)s 不存在。") % {"code": value}]})
    return region


def _date(value, field: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({field: [_("日期格式应为 YYYY-MM-DD。")]}) from None


def _money(value, field: str, errors: dict) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        errors.setdefault(field, []).append(_("金额须为大于 0 的数字。"))
        return None
    if amount != amount.quantize(CENT) or amount >= Decimal("1000000"):
        errors.setdefault(field, []).append(_("金额须精确到分且小于 100 万元。"))
        return None
    return amount.quantize(CENT)


def _text(value, limit: int) -> str:
    return (value or "").strip()[:limit]


def _service_day(order_or_start) -> datetime.date:
    start = getattr(order_or_start, "scheduled_start", order_or_start)
    return timezone.localdate(start)


def _month(value) -> datetime.date:
    """A month as a date, 'YYYY-MM' or 'YYYY-MM-DD' → its 1st; ValidationError otherwise."""
    if isinstance(value, datetime.date):
        return (value.date() if isinstance(value, datetime.datetime) else value).replace(day=1)
    text = str(value or "").strip()
    try:
        return datetime.date.fromisoformat(text if len(text) > 7 else f"{text}-01").replace(day=1)
    except ValueError:
        raise ValidationError({"month": [_("月份格式应为 YYYY-MM，如 2026-11。")]}) from None



def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of a month in local time, as aware datetimes."""
    following = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return (timezone.make_aware(datetime.datetime.combine(month, datetime.time.min)),
            timezone.make_aware(datetime.datetime.combine(following, datetime.time.min)))

