"""What the visits API's topics share: month parsing, lookups that answer 404 or 422, references."""

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Schema

from yiyang.api.parsing import MONTH_TEXT, moment, month_of, region_of, this_month  # noqa: F401 - shared
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder

from ..models import Visitor


class VisitRef(Schema):
    id: int
    name: str


class VisitAreaRef(Schema):
    code: str
    name: str


def ym(day: datetime.date | None) -> str | None:
    return day.strftime("%Y-%m") if day else None


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
