"""Alarm statistics of an area and a month (statistics.py): for the dashboard."""

import datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from yiyang.api.parsing import MONTH_TEXT, month_of, this_month
from yiyang.api.types import column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region
from yiyang.core.policy import require_roles

from .. import statistics
from ._common import DESK, region_of

router = Router()


class TimingOut(Schema):
    count: int = Field(..., description="Alarms that reached the step.")
    p50: float | None = Field(..., description="Median seconds from the first event.")
    p90: float | None
    within: int | None = Field(None, description="Reached within the service level.")
    of: int | None = Field(None, description="The alarms the share is taken over.")
    share: float | None = Field(None, description="within / of (0–1).")


class StatsOut(Schema):
    region_code: str
    month: str
    total: int
    open: int = Field(..., description="Alarms of the month not yet resolved.")
    by_kind: dict[str, int]
    by_outcome: dict[str, int] = Field(..., description="Outcome → alarms; `unresolved` for those without one.")
    acknowledge: TimingOut = Field(..., description="The share is over all the month's alarms.")
    dispatch: TimingOut
    on_site: TimingOut = Field(..., description="The share is over the alarms someone was dispatched to.")
    resolved: int
    false_alarms: int
    false_alarm_rate: float | None
    devices_active: int
    devices_offline: int = Field(..., description="Devices in use with an open 设备离线 task, now.")
    at: datetime.datetime


class StatsFilters(Schema):
    region: str = Field("", max_length=column(Region, "code"), description="An area within the caller's scope; "
                                                                            "default the whole scope.")
    month: str = Field("", max_length=MONTH_TEXT, description="YYYY-MM; default this month.")


@router.get("stats", response={200: StatsOut, **ERRORS}, summary="Alarm statistics of an area and a month")
def stats(request, filters: Query[StatsFilters]):
    """Counted set-based (never alarm by alarm). An area outside the caller's scope answers 404."""
    require_roles(request.user, *DESK)
    month = month_of(filters.month) if filters.month.strip() else this_month()
    if not 1900 <= month.year <= 2200:
        raise ValidationError({"month": [_("月份超出合理范围。")]})
    scope = request.user.scope_code or ""
    code = filters.region.strip() or scope
    region_of(code)
    if not scope or not code.startswith(scope):
        raise Http404
    result = statistics.alarm_statistics(region_code=code, month=month)
    return {**result, **{k: vars(result[k]) for k in ("acknowledge", "dispatch", "on_site")}}
