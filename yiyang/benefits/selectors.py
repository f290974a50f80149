"""Benefits: the reads (scoped to the user's regions, no N+1)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from yiyang.core.models import Region, Role

from . import engine, policy
from .models import LineKind, LineStatus, Programme, Roll, RollCheck, RollLine, RuleVersion, StreetReview


def programmes():
    return Programme.objects.all()


def rules_for(user, programme: Programme):
    """Every version of the programme's rule the user may see, newest first."""
    return (RuleVersion.objects.restrict(user).filter(programme=programme)
            .select_related("jurisdiction", "adopted_by", "created_by").order_by("jurisdiction_id", "-version"))


def current_rule(programme: Programme, jurisdiction: Region, month: datetime.date) -> RuleVersion | None:
    return engine.rule_for(programme, jurisdiction, month)


def current_rules(programmes, jurisdiction: Region, month: datetime.date) -> dict[int, RuleVersion]:
    """current_rule of several programmes in one query: {programme id: rule} (the programmes endpoint)."""
    return engine.rules_in_force(programmes, jurisdiction, month)


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


def payable_lines(user, roll: Roll):
    """The lines of the roll to send to the bank (pending, positive) that the user may see, in file order."""
    return (RollLine.objects.restrict(user).filter(roll=roll, status=LineStatus.PENDING, amount__gt=0)
            .select_related("elder").order_by("region_code", "elder_id", "for_month", "kind"))


def recovery_lines(user, roll: Roll):
    """The roll's recovery (追回) lines the user may see."""
    return (RollLine.objects.restrict(user).filter(roll=roll, kind=LineKind.RECOVERY).select_related("elder")
            .order_by("region_code", "elder_id"))


def checks(user, roll: Roll, *, open_only: bool = True):
    """Checks of a roll the user may see: those of the lines they may see, on a roll they may see."""
    if not Roll.objects.restrict(user).filter(pk=roll.pk).exists():
        return RollCheck.objects.none()
    qs = (RollCheck.objects.filter(roll=roll, line__in=RollLine.objects.restrict(user).filter(roll=roll).values("pk"))
          .select_related("line", "line__elder", "resolved_by"))
    if open_only:
        qs = qs.filter(resolution="")
    return qs.order_by("region_code", "line__elder__name", "kind")


def sees_whole_roll(user, roll: Roll) -> bool:
    """Does the user's line scope cover every line of the roll (the bureau of its jurisdiction)?"""
    return policy.is_bureau_of(user, roll.jurisdiction_id)


def street_reviews(user, roll: Roll) -> list[StreetReview]:
    """The streets' sign-offs of the roll the user may see: all for its bureau, else those of the user's own
    street (a community's street included)."""
    reviews = roll.street_reviews.select_related("street", "reviewed_by")
    if not sees_whole_roll(user, roll):
        region = getattr(user, "region", None)
        mine = [r.code for r in region.ancestors()] + [region.code] if region is not None else []
        reviews = reviews.filter(street_id__in=mine)
    return list(reviews)


def roll_figures(user, rolls) -> dict[int, dict]:
    """Lines, amount and open checks of each roll within the user's scope: the roll's own figures for its
    bureau, the user's part of it for street and community workers (two grouped queries for any number of
    rolls)."""
    rolls = list(rolls)
    out = {r.pk: {"lines": r.line_count, "amount": r.total_amount, "open_checks": r.open_checks, "whole": True}
           for r in rolls if sees_whole_roll(user, r)}
    partial = [r.pk for r in rolls if r.pk not in out]
    if partial:
        lines = RollLine.objects.restrict(user).filter(roll_id__in=partial)
        for r in partial:
            out[r] = {"lines": 0, "amount": Decimal("0.00"), "open_checks": 0, "whole": False}
        for row in lines.order_by().values("roll_id").annotate(n=Count("id"), total=Sum("amount")):
            out[row["roll_id"]].update(lines=row["n"], amount=money(row["total"]))
        open_checks = (RollCheck.objects.filter(roll_id__in=partial, resolution="", line__in=lines.values("pk"))
                       .order_by().values("roll_id").annotate(n=Count("id")))
        for row in open_checks:
            out[row["roll_id"]]["open_checks"] = row["n"]
    return out


def credited_to_allowance(user, roll: Roll) -> dict:
    """What an approved service-voucher roll credited to the service allowances, within the user's scope."""
    row = (RollLine.objects.restrict(user).filter(roll=roll, status=LineStatus.CREDITED).order_by()
           .aggregate(n=Count("id"), total=Sum("amount")))
    return {"lines": row["n"], "amount": money(row["total"])}


def home_jurisdiction(user) -> Region | None:
    """The jurisdiction whose rules and rolls the user works with: a bureau's own region, the county of a
    street or community worker. None for anyone else (superusers act for no jurisdiction of their own)."""
    code = getattr(user, "scope_code", "") or ""
    if user.role == Role.BUREAU and code:
        return Region.objects.filter(code=code).first()
    if user.role in (Role.STREET, Role.COMMUNITY) and len(code) >= 6:
        return Region.objects.filter(code=code[:6]).first()
    return None


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def check_counts(roll: Roll) -> dict[str, int]:
    return dict(RollCheck.objects.filter(roll=roll, resolution="").values_list("kind").annotate(n=Count("id")))


def elder_history(user, elder, *, since: datetime.date | None = None) -> list[RollLine]:
    """An elder's benefit lines the user may see, newest first (the elder page's 补贴发放 section, the family's
    benefits page); `since` keeps the roll months from that month on."""
    return elder_histories(user, [elder], since=since).get(elder.pk, [])


def elder_histories(user, elders, *, since: datetime.date | None = None) -> dict[int, list[RollLine]]:
    """elder_history of several elders in one query: {elder id: lines, newest first} (the family's page)."""
    qs = RollLine.objects.restrict(user).filter(elder__in=[e.pk for e in elders])
    if since is not None:
        qs = qs.filter(month__gte=since)
    out: dict[int, list[RollLine]] = {}
    for line in qs.select_related("programme", "roll").order_by("-month", "-for_month", "programme__position"):
        out.setdefault(line.elder_id, []).append(line)
    return out


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
