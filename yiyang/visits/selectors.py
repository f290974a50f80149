"""Visits: the reads (scoped, paged in the database; one selector per list, shared by page, export and API)."""

from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from yiyang.core.models import Role
from yiyang.registry.models import Elder, ElderStatus

from . import generation, rules
from .models import FollowUp, Pairing, TaskStatus, TierRuleSet, Visitor, VisitRecord, VisitTask


def elder_scope_for_visitor(model, user, action):
    """registry.Elder's scope hook: a visitor sees (only) the elders they are responsible for or back up."""
    if model is not Elder or user.role != Role.VISITOR or action != "view":
        return None
    return Q(visit_pairings__until__isnull=True) & (Q(visit_pairings__visitor__user=user)
                                                    | Q(visit_pairings__backup__user=user))


def visit_contacts() -> tuple[str, list]:
    """(sql, params) selecting elder_id, at: every visit that saw the person (benefits' absence check)."""
    return (f"SELECT elder_id, visited_at AS at FROM {VisitRecord._meta.db_table} WHERE outcome = 'seen'", [])


def visits_expected(*, since, until) -> tuple[str, list]:
    """(sql, params) selecting elder_id: people a scheduled visit was due for between `since` and `until`."""
    return (f"SELECT elder_id FROM {VisitTask._meta.db_table} WHERE kind = 'scheduled' AND status <> 'cancelled' "
            f"AND due_at > %s AND due_at <= %s", [since, until])


def rule_sets_for(user):
    return TierRuleSet.objects.restrict(user).select_related("jurisdiction", "created_by", "adopted_by")


def visitors_for(user, *, active: bool | None = True, region_code: str = ""):
    qs = Visitor.objects.restrict(user).select_related("region", "user")
    if active is not None:
        qs = qs.filter(active=active)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    return qs


def pairings_for(user, *, visitor: Visitor | None = None, region_code: str = ""):
    qs = (Pairing.objects.restrict(user).filter(until__isnull=True)
          .select_related("elder", "elder__residence_region", "visitor", "backup"))
    if visitor is not None:
        qs = qs.filter(Q(visitor=visitor) | Q(backup=visitor))
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    return qs


def unpaired_for(user, *, month: datetime.date | None = None, region_code: str = ""):
    """Elders with a task in the month (so a tier wants them visited) and nobody responsible: the list each
    community must empty. Scoped like the elder register."""
    month = month or rules.month_start(timezone.localdate())
    # A task whose window overlaps the month (a quarterly one counts in the quarter's last month, yet is due
    # from its first).
    has_task = (VisitTask.objects.filter(elder=OuterRef("pk"), window_start__lt=generation.day_start(
        rules.add_months(month, 1)), due_at__gt=generation.day_start(month)).exclude(status=TaskStatus.CANCELLED))
    paired = Pairing.objects.filter(elder=OuterRef("pk"), until__isnull=True)
    qs = (Elder.objects.restrict(user).filter(status=ElderStatus.ACTIVE).filter(Exists(has_task))
          .exclude(Exists(paired)).select_related("residence_region"))
    if region_code:
        qs = qs.filter(residence_region_id__startswith=region_code)
    return qs.order_by("residence_region_id", "name_pinyin", "id")


def tasks_for(user, *, status: str = "", overdue: bool = False, escalated: bool = False, month=None,
              region_code: str = "", visitor: Visitor | None = None, elder: Elder | None = None, kind: str = ""):
    qs = VisitTask.objects.restrict(user).select_related("elder", "visitor").distinct() if user.role == Role.VISITOR \
        else VisitTask.objects.restrict(user).select_related("elder", "visitor")
    now = timezone.now()
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status=TaskStatus.OPEN, due_at__lt=now)
    if escalated:
        qs = qs.filter(status=TaskStatus.OPEN, escalated_at__isnull=False)
    if month is not None:
        qs = qs.filter(period_month=month)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    if visitor is not None:
        qs = qs.filter(visitor=visitor)
    if elder is not None:
        qs = qs.filter(elder=elder)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("due_at", "id")


def visitor_day(user, *, now: datetime.datetime | None = None):
    """A visitor's phone: their open tasks whose window has begun, ad-hoc and overdue first, then by due time."""
    now = now or timezone.now()
    qs = tasks_for(user, status=TaskStatus.OPEN).filter(window_start__lte=now)
    if user.role != Role.VISITOR:
        # A street or community worker who also visits: their own tasks, not their whole area's.
        qs = qs.filter(visitor__user=user)
    return qs.order_by("kind", "due_at", "id")  # "ad_hoc" < "scheduled"


def records_for(user, *, elder: Elder | None = None, region_code: str = "", month=None):
    qs = VisitRecord.objects.restrict(user).select_related("elder", "visitor", "recorded_by", "task")
    if elder is not None:
        qs = qs.filter(elder=elder)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    if month is not None:
        qs = qs.filter(visited_at__gte=generation.day_start(month),
                       visited_at__lt=generation.day_start(rules.add_months(month, 1)))
    return qs.order_by("-visited_at", "-id")


def follow_ups_for(user, *, status: str = "", region_code: str = ""):
    qs = FollowUp.objects.restrict(user).select_related("elder", "record", "order", "assessment")
    if status:
        qs = qs.filter(status=status)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    return qs.order_by("status", "-created_at", "-id")


def coverage_area_for(user) -> str:
    """The area a user's coverage report covers (their scope code), or "" when they have none."""
    if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY}:
        return user.scope_code or ""
    return ""


def coverage(user, *, month: datetime.date, area_code: str = "", by_tier: bool = False) -> dict:
    """Coverage of `month` under `area_code` (within the user's scope): a row per community, rolled up to the
    streets and the county, and the total. One GROUP BY; the roll-up is over a few hundred rows."""
    scope = coverage_area_for(user)
    if not scope:
        return {"communities": [], "streets": [], "counties": [], "total": generation.CoverageRow(code="")}
    code = area_code if area_code and area_code.startswith(scope) else scope
    rows = generation.coverage_rows(month=month, area_code=code, by_tier=by_tier)
    communities = sorted(rows, key=lambda r: (r.code, r.tier))
    streets = sorted(generation.roll_up(rows, 9).values(), key=lambda r: (r.code, r.tier))
    counties = sorted(generation.roll_up(rows, 6).values(), key=lambda r: (r.code, r.tier))
    total = generation.CoverageRow(code=code)
    for r in rows:
        total.add(r)
    return {"communities": communities, "streets": streets, "counties": counties, "total": total,
            "area_code": code}


def not_seen_for(user, *, month: datetime.date, region_code: str = ""):
    """The people with a task of `month` past its due time and not done: whom the street must chase."""
    return tasks_for(user, month=month, region_code=region_code, overdue=True)
