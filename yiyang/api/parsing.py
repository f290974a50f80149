"""Parsing what API clients send, shared by the apps' routers: months, moments, region codes. Each refuses a bad
value as a 422 on its field (a ValidationError the API's handler turns into the error envelope)."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core.models import Region

MONTH_TEXT = 10  # "YYYY-MM", with room for stray spaces (stripped)
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_of(value: str, field: str = "month") -> datetime.date:
    """'YYYY-MM' → its 1st; anything else is a 422 on `field`."""
    text = (value or "").strip()
    if not MONTH_RE.match(text):
        raise ValidationError({field: [_("月份格式应为 YYYY-MM，如 2026-11。")]})
    return datetime.date(int(text[:4]), int(text[5:]), 1)


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def moment(value: datetime.datetime | None, field: str) -> datetime.datetime | None:
    """A time a client sent, as an aware datetime the database can store: a year like 0001 with a far UTC
    offset cannot even be converted to UTC (an OverflowError, a 500), so such times are a 422 here."""
    if value is None:
        return None
    try:
        aware = timezone.make_aware(value) if timezone.is_naive(value) else value
        if not 1900 <= aware.astimezone(datetime.UTC).year <= 2200:
            raise OverflowError
    except (OverflowError, ValueError):
        raise ValidationError({field: [_("时间超出合理范围。")]}) from None
    return aware


def region_of(code: str, field: str = "region") -> Region:
    region = Region.objects.filter(code=(code or "").strip()).first()
    if region is None:
        raise ValidationError({field: [_("未知的行政区划代码。")]})
    return region
