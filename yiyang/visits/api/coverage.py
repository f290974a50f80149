"""Coverage (巡访覆盖率) of a month: due, done, on time, overdue and the rate per community, street and county."""

from django.http import Http404
from ninja import Field, Query, Router, Schema

from yiyang.api.types import column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles

from .. import selectors
from ._common import MONTH_TEXT, month_of, region_of, this_month, ym

router = Router()


class CoverageRowOut(Schema):
    code: str
    name: str
    tier: str = Field(..., description="The tier (with `by_tier`), else ''.")
    due: int = Field(..., description="Tasks of the month (cancelled ones left out).")
    done: int
    on_time: int = Field(..., description="Done by their due time.")
    overdue: int = Field(..., description="Open and past due.")
    open: int
    rate: float | None = Field(..., description="done / due (0–1), null when nothing is due.")


class CoverageOut(Schema):
    month: str
    area: str = Field(..., description="The area counted (the caller's scope, or a part of it).")
    total: CoverageRowOut
    counties: list[CoverageRowOut]
    streets: list[CoverageRowOut]
    communities: list[CoverageRowOut]


class CoverageFilters(Schema):
    month: str = Field("", max_length=MONTH_TEXT, description="YYYY-MM; default this month.")
    area: str = Field("", max_length=column(Region, "code"), description="A region within the caller's scope; "
                                                                          "default the whole scope.")
    by_tier: bool = Field(False, description="A row per area and tier.")


def _row(row, names: dict) -> dict:
    rate = row.rate
    return {"code": row.code, "name": names.get(row.code, ""), "tier": row.tier, "due": row.due, "done": row.done,
            "on_time": row.on_time, "overdue": row.overdue, "open": row.open,
            "rate": None if rate is None else round(rate, 4)}


@router.get("coverage", response={200: CoverageOut, **ERRORS}, summary="Visit coverage of a month")
def coverage(request, filters: Query[CoverageFilters]):
    """Counted from the month's tasks in one query (never person by person). An area outside the caller's
    scope answers 404."""
    require_roles(request.user, *REGION_STAFF)
    month = month_of(filters.month) if filters.month.strip() else this_month()
    scope = selectors.coverage_area_for(request.user)
    area = filters.area.strip()
    if area:
        region_of(area, "area")
        if not scope or not area.startswith(scope):
            raise Http404
    result = selectors.coverage(request.user, month=month, area_code=area, by_tier=filters.by_tier)
    rows = [result["total"], *result["counties"], *result["streets"], *result["communities"]]
    names = dict(Region.objects.filter(code__in={r.code for r in rows}).values_list("code", "name"))
    return {"month": ym(month), "area": result.get("area_code", scope),
            "total": _row(result["total"], names), "counties": [_row(r, names) for r in result["counties"]],
            "streets": [_row(r, names) for r in result["streets"]],
            "communities": [_row(r, names) for r in result["communities"]]}
