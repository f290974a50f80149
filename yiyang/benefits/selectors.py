"""Benefits: the reads (scoped to the user's regions, no N+1)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from yiyang.core.models import Region

from . import engine
from .models import Programme, Roll, RollCheck, RollLine, RuleVersion


def programmes():
    return Programme.objects.all()


def rules_for(user, programme: Programme):
    """Every version of the programme's rule the user may see, newest first."""
    return (RuleVersion.objects.restrict(user).filter(programme=programme)
            .select_related("jurisdiction", "adopted_by", "created_by").order_by("jurisdiction_id", "-version"))


def current_rule(programme: Programme, jurisdiction: Region, month: datetime.date) -> RuleVersion | None:
    return engine.rule_for(programme, jurisdiction, month)


@dataclass
class RollFilters:
    programme: str = ""
    month: str = ""  # YYYY-MM
    status: str = ""


def rolls(user, filters: RollFilters | None = None):
    qs = Roll.objects.restrict(user).select_related("programme", "jurisdiction", "approved_by")
    f = filters or RollFilters()
    if f.programme:
        qs = qs.filter(programme__code=f.programme)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.month:
        try:
            qs = qs.filter(month=datetime.date.fromisoformat(f.month[:7] + "-01"))
        except ValueError:
            qs = qs.none()
    return qs.order_by("-month", "programme__position", "jurisdiction_id")


@dataclass
class LineFilters:
    region: str = ""  # a code prefix (street or community)
    kind: str = ""
    status: str = ""
    q: str = ""  # name or masked ID fragment
    with_checks: bool = False


def lines(user, roll: Roll, filters: LineFilters | None = None):
    """Lines of a roll the user may see (streets and communities only their own regions)."""
    qs = (RollLine.objects.restrict(user).filter(roll=roll)
          .select_related("elder", "programme", "rule").order_by("region_code", "elder__name", "for_month"))
    f = filters or LineFilters()
    if f.region:
        qs = qs.filter(region_code__startswith=f.region)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.q:
        qs = qs.filter(Q(elder__name__contains=f.q) | Q(elder__name_pinyin__startswith=f.q.lower())
                       | Q(elder__id_number_masked__contains=f.q))
    if f.with_checks:
        qs = qs.filter(checks__isnull=False).distinct()
    return qs


def checks(user, roll: Roll, *, open_only: bool = True):
    qs = RollCheck.objects.filter(roll=roll).select_related("line", "line__elder", "resolved_by")
    role_scope = getattr(user, "scope_code", "") or ""
    if getattr(user, "role", None) in ("street", "community") and role_scope:
        qs = qs.filter(region_code__startswith=role_scope)
    elif not Roll.objects.restrict(user).filter(pk=roll.pk).exists():
        return qs.none()
    if open_only:
        qs = qs.filter(resolution="")
    return qs.order_by("region_code", "line__elder__name", "kind")


def check_counts(roll: Roll) -> dict[str, int]:
    return dict(RollCheck.objects.filter(roll=roll, resolution="").values_list("kind").annotate(n=Count("id")))


def elder_history(user, elder) -> list[RollLine]:
    """An elder's benefit lines, newest first (the elder page's 补贴发放 section)."""
    return list(RollLine.objects.restrict(user).filter(elder=elder).select_related("programme", "roll")
                .order_by("-month", "-for_month", "programme__position"))


def totals_by_region(user, *, month: datetime.date, level: int = 9) -> list[dict]:
    """Amount and lines per region (code prefix of `level` digits) and programme for a roll month."""
    qs = RollLine.objects.restrict(user).filter(month=month)
    rows = (qs.values("programme__name", "programme__code", "region_code")
            .annotate(lines=Count("id"), amount=Sum("amount")))
    grouped: dict[tuple[str, str], dict] = {}
    for r in rows:
        key = (r["region_code"][:level], r["programme__code"])
        g = grouped.setdefault(key, {"region": key[0], "programme": r["programme__name"], "lines": 0, "amount": 0})
        g["lines"] += r["lines"]
        g["amount"] += r["amount"] or 0
    names = dict(Region.objects.filter(code__in={k[0] for k in grouped}).values_list("code", "name"))
    out = []
    for (code, _prog), g in sorted(grouped.items()):
        g["region_name"] = names.get(code, code)
        out.append(g)
    return out
