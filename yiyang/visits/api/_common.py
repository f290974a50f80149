"""What the visits API's topics share: month parsing, lookups that answer 404 or 422, references."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Schema

from yiyang.core.models import Region
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder

from ..models import Visitor

MONTH_TEXT = 10  # "YYYY-MM", with room for stray spaces (stripped)
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class VisitRef(Schema):
    id: int
    name: str


class VisitAreaRef(Schema):
    code: str
    name: str


def month_of(value: str, field: str = "month") -> datetime.date:
    """'YYYY-MM' → its 1st; anything else is a 422 on `field`."""
    text = (value or "").strip()
    if not MONTH_RE.match(text):
        raise ValidationError({field: [_("月份格式应为 YYYY-MM，如 2026-11。")]})
    return datetime.date(int(text[:4]), int(text[5:]), 1)


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def ym(day: datetime.date | None) -> str | None:
    return day.strftime("%Y-%m") if day else None


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


def elder_of(request, pk: int) -> Elder:
    return get_scoped_or_404(Elder.objects.select_related("residence_region"), request.user, "view", pk=pk)


def visitor_in_body(request, pk: int | None, field: str) -> Visitor | None:
    """A visitor named in a request body: one the caller sees, else a 422 on the field (the body's object is
    not the route's, so it does not answer 404)."""
    if pk is None:
        return None
    visitor = Visitor.objects.restrict(request.user).filter(pk=pk).first()
    if visitor is None:
        raise ValidationError({field: [_("找不到该巡访员。")]})
    return visitor


def person(user) -> str | None:
    return str(user) if user is not None else None


def elder_ref(elder) -> dict:
    return {"id": elder.pk, "name": elder.name}
