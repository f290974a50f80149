"""Set-based work over everyone in a tier: placing people in tiers, generating a month's tasks, coverage.

Each is a few INSERT … SELECT / GROUP BY statements whatever the number of elders (DESIGN §5: nothing
per-elder-per-month in Python), in the SQL both SQLite and PostgreSQL speak. The tier of a person is decided on
the 1st of the month from the facts of that day: age, living situation, categories active that day, and the
latest ability level published before the end of that day. A month's list is fixed then, as a 台账 is: a
category that ends on the 15th still has its visits this month and none the next.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from yiyang.assessment.models import Assessment
from yiyang.core.models import Region
from yiyang.registry.models import Elder, ElderCategory

from . import rules
from .models import Pairing, RuleStatus, TaskStatus, TierRuleSet, VisitTask

ELDER = Elder._meta.db_table
CATEGORY = ElderCategory._meta.db_table
ASSESSMENT = Assessment._meta.db_table
PAIRING = Pairing._meta.db_table
TASK = VisitTask._meta.db_table
TASK_COLUMNS = ("elder_id", "kind", "tier", "rule_set_id", "trigger", "trigger_ref", "trigger_note", "period_month",
                "window_start", "due_at", "remote_counts", "visitor_id", "status", "failed_attempts",
                "cancel_reason", "region_code", "county_code", "created_at")


def day_start(day: datetime.date) -> datetime.datetime:
    """Local midnight at the start of `day`, as an aware datetime."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def _ts(value: datetime.datetime):
    # SQLite stores aware datetimes as UTC text; PostgreSQL takes them as they are.
    if connection.vendor == "sqlite":
        return value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def _typed(kind: str) -> str:
    """A typed parameter: PostgreSQL types a UNION of bare parameters as text, which no date column takes;
    SQLite's CAST would turn a date into a number, and it needs none."""
    return "%s" if connection.vendor == "sqlite" else f"CAST(%s AS {kind})"


def born_by(day: datetime.date, age: int) -> datetime.date:
    """The latest birth date of someone who is at least `age` on `day` (29 February counts from 1 March)."""
    try:
        return day.replace(year=day.year - age)
    except ValueError:
        return day.replace(year=day.year - age, day=28)


# ------------------------------------------------------------------------------------------------- tiers


def _clause_sql(clause: rules.Clause, month: datetime.date, params: list) -> str:
    """A clause over the inner SELECT's columns. The cheap column tests come first: CASE evaluates its AND
    left to right and stops at the first false, and most people fail on living situation or age."""
    parts = []
    if clause.living:
        parts.append(f"e.living_situation IN ({', '.join(['%s'] * len(clause.living))})")
        params += list(clause.living)
    if clause.exclude_living:
        parts.append(f"e.living_situation NOT IN ({', '.join(['%s'] * len(clause.exclude_living))})")
        params += list(clause.exclude_living)
    if clause.min_age is not None:
        parts.append("e.birth_date <= %s")
        params.append(born_by(month, clause.min_age))
    if clause.min_level is not None:
        parts.append("e.f_level >= %s")
        params.append(clause.min_level)
    if clause.categories:
        parts.append("(" + " OR ".join(f"e.{_category_column(k)} = 1" for k in clause.categories) + ")")
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")"


def _clauses_sql(clauses, month, params) -> str:
    return "(" + " OR ".join(_clause_sql(c, month, params) for c in clauses) + ")" if clauses else "(1 = 0)"


def _category_column(kind: str) -> str:
    # Kinds are CategoryKind values (validated by rules.parse): lower-case words joined by underscores.
    if not kind.replace("_", "").isalpha() or not kind.isascii():
        raise ValueError(kind)
    return f"k_{kind.lower()}"


def _needs_level(params: rules.TierParams) -> bool:
    return any(c.min_level is not None for t in params.tiers for c in t.when) or any(
        c.min_level is not None for c in params.covered)


def _categories_used(params: rules.TierParams) -> list[str]:
    kinds = {k for t in params.tiers for c in t.when for k in c.categories}
    kinds |= {k for c in params.covered for k in c.categories}
    return sorted(kinds)


@dataclass
class Placement:
    """The SELECT placing every active elder of an area in a tier (or none) on the 1st of a month: columns
    elder_id, tier, covered (1 when the policy means them to be visited), region_code, county_code."""

    sql: str
    params: list


def placement(params: rules.TierParams, *, month: datetime.date, area_code: str,
              exclude_codes: tuple[str, ...] = ()) -> Placement:
    """Set-based: the facts of the 1st come from two joins computed once over their tables (each person's
    latest published level before the 2nd, and a 0/1 column per category the rules name, active on the 1st),
    not from a correlated subquery per person and clause (a million index probes each on a large county)."""
    p: list = []
    columns = ["e.id AS id", "e.birth_date AS birth_date", "e.living_situation AS living_situation",
               "e.residence_region_id AS region_code", "e.county_code AS county_code"]
    joins = []
    if _needs_level(params):
        columns.append("lv.final_level AS f_level")
        joins.append(
            f"LEFT JOIN (SELECT a.elder_id AS elder_id, a.final_level AS final_level, ROW_NUMBER() OVER "
            f"(PARTITION BY a.elder_id ORDER BY a.published_at DESC, a.id DESC) AS rn FROM {ASSESSMENT} a "
            f"WHERE a.status IN ('published', 'disputed') AND a.final_level IS NOT NULL AND a.published_at < %s"
            f") lv ON lv.elder_id = e.id AND lv.rn = 1")
        p.append(_ts(day_start(month + datetime.timedelta(days=1))))
    kinds = _categories_used(params)
    if kinds:
        columns += [f"COALESCE(ct.{_category_column(k)}, 0) AS {_category_column(k)}" for k in kinds]
        flags = ", ".join(f"MAX(CASE WHEN c.kind = %s THEN 1 ELSE 0 END) AS {_category_column(k)}" for k in kinds)
        marks = ", ".join(["%s"] * len(kinds))
        joins.append(f"LEFT JOIN (SELECT c.elder_id AS elder_id, {flags} FROM {CATEGORY} c WHERE c.kind IN "
                     f"({marks}) AND c.start_date <= %s AND (c.end_date IS NULL OR c.end_date >= %s) "
                     f"GROUP BY c.elder_id) ct ON ct.elder_id = e.id")
        p += kinds + kinds + [month, month]
    inner = (f"SELECT {', '.join(columns)} FROM {ELDER} e {' '.join(joins)} "
             f"WHERE e.status = 'active' AND e.residence_region_id LIKE %s")
    p.append(area_code + "%")
    for code in exclude_codes:
        inner += " AND e.residence_region_id NOT LIKE %s"
        p.append(code + "%")
    # The OFFSET keeps both databases from flattening the inner SELECT into the CASE.
    inner += " LIMIT -1 OFFSET 0" if connection.vendor == "sqlite" else " OFFSET 0"
    case_params: list = []
    whens = []
    for tier in params.ranked:
        whens.append(f"WHEN {_clauses_sql(tier.when, month, case_params)} THEN %s")
        case_params.append(tier.code)
    covered_params: list = []
    covered = _clauses_sql(params.covered, month, covered_params)
    sql = (f"SELECT e.id AS elder_id, CASE {' '.join(whens)} ELSE NULL END AS tier, "
           f"CASE WHEN {covered} THEN 1 ELSE 0 END AS covered, e.region_code AS region_code, "
           f"e.county_code AS county_code FROM ({inner}) e")
    return Placement(sql=sql, params=case_params + covered_params + p)


def rule_sets_in_force(month: datetime.date, area: Region | None = None) -> list[TierRuleSet]:
    """Adopted rule sets valid for `month`, most specific jurisdiction last; within `area` if given (and the
    ones above it that apply there)."""
    qs = TierRuleSet.objects.filter(status=RuleStatus.ADOPTED, valid_from__lte=month).exclude(
        valid_until__lt=month).select_related("jurisdiction")
    found = list(qs)
    if area is not None:
        found = [r for r in found if r.jurisdiction.code.startswith(area.code) or area.code.startswith(
            r.jurisdiction.code)]
    # Several versions of one jurisdiction valid at once cannot happen (adoption closes the previous one); the
    # latest version wins if they ever did.
    best: dict[str, TierRuleSet] = {}
    for r in sorted(found, key=lambda r: r.version):
        best[r.jurisdiction.code] = r
    return sorted(best.values(), key=lambda r: len(r.jurisdiction.code))


def _areas(rule_sets: list[TierRuleSet], area: Region | None) -> list[tuple[TierRuleSet, str, tuple[str, ...]]]:
    """Each rule set with the area it governs here: its jurisdiction (narrowed to `area`), less the places a
    more specific rule set governs; a rule set `area` lies wholly under a more specific one of is left out."""
    codes = [r.jurisdiction.code for r in rule_sets]
    out = []
    for r in rule_sets:
        own = r.jurisdiction.code
        narrower = [c for c in codes if len(c) > len(own) and c.startswith(own)]
        code = own
        if area is not None:
            if any(area.code.startswith(c) for c in narrower):
                continue
            if area.code.startswith(own):
                code = area.code
        out.append((r, code, tuple(sorted(c for c in narrower if c.startswith(code)))))
    return out


# ------------------------------------------------------------------------------------------------- tasks


def windows_table(params: rules.TierParams, month: datetime.date, now: datetime.datetime,
                  p: list) -> str | None:
    """A derived table (tier, period_month, ws, due, remote) of the windows the tiers open in `month`, leaving
    out windows already over at `now`: a task nobody could still do is not made."""
    rows = []
    for tier in params.ranked:
        for start, end in rules.windows(tier.period, month):
            ws, due = day_start(start), day_start(end)
            if due <= now:
                continue
            period_month = rules.month_start(end - datetime.timedelta(days=1))
            rows.append(f"SELECT %s AS tier, {_typed('date')} AS period_month, {_typed('timestamptz')} AS ws, "
                        f"{_typed('timestamptz')} AS due, {_typed('boolean')} AS remote")
            p += [tier.code, period_month, _ts(ws), _ts(due), tier.remote_counts]
    return " UNION ALL ".join(rows) if rows else None


def generate_tasks(*, month: datetime.date, area: Region | None = None,
                   now: datetime.datetime | None = None) -> int:
    """Make the scheduled tasks that the rules in force open in `month` (a 1st), for everyone in a tier, with
    their responsible visitor; returns how many were made. Idempotent: a window's task is made once."""
    now = now or timezone.now()
    made = 0
    with connection.cursor() as cursor:
        for rule_set, code, exclude in _areas(rule_sets_in_force(month, area), area):
            params = rules.parse(rule_set.params)
            wp: list = []
            windows = windows_table(params, month, now, wp)
            if windows is None:
                continue
            place = placement(params, month=month, area_code=code, exclude_codes=exclude)
            cols = ", ".join(TASK_COLUMNS)
            cursor.execute(
                f"INSERT INTO {TASK} ({cols}) "
                f"SELECT f.elder_id, 'scheduled', f.tier, %s, '', '', '', w.period_month, w.ws, w.due, w.remote, "
                f"pr.visitor_id, 'open', 0, '', f.region_code, f.county_code, %s "
                f"FROM ({place.sql}) f JOIN ({windows}) w ON w.tier = f.tier "
                f"LEFT JOIN {PAIRING} pr ON pr.elder_id = f.elder_id AND pr.until IS NULL "
                f"WHERE f.tier IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {TASK} t WHERE t.elder_id = f.elder_id "
                f"AND t.kind = 'scheduled' AND t.window_start = w.ws)",
                [rule_set.pk, _ts(now)] + place.params + wp)
            made += cursor.rowcount
    return made


# ------------------------------------------------------------------------------------------------- simulation


@dataclass
class TierCount:
    code: str
    name: str
    period: str
    people: int
    visits_per_month: float


@dataclass
class Simulation:
    month: datetime.date
    tiers: list[TierCount]
    covered_untiered: int
    untiered_sample: list[int] = field(default_factory=list)

    @property
    def people(self) -> int:
        return sum(t.people for t in self.tiers)

    @property
    def visits_per_month(self) -> float:
        return sum(t.visits_per_month for t in self.tiers)


def simulate(params: rules.TierParams, *, month: datetime.date, area_code: str,
             exclude_codes: tuple[str, ...] = ()) -> Simulation:
    """How many people each tier takes and how many visits a month that means, and who the policy covers but no
    tier places (one GROUP BY over the placement)."""
    place = placement(params, month=month, area_code=area_code, exclude_codes=exclude_codes)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT f.tier, COUNT(*) FROM ({place.sql}) f WHERE f.tier IS NOT NULL GROUP BY f.tier",
                       place.params)
        counts = dict(cursor.fetchall())
        cursor.execute(f"SELECT f.elder_id FROM ({place.sql}) f WHERE f.tier IS NULL AND f.covered = 1 "
                       f"ORDER BY f.elder_id", place.params)
        untiered = [row[0] for row in cursor.fetchall()]
    tiers = [TierCount(code=t.code, name=t.name, period=t.period, people=counts.get(t.code, 0),
                       visits_per_month=counts.get(t.code, 0) * t.visits_per_month()) for t in params.ranked]
    return Simulation(month=month, tiers=tiers, covered_untiered=len(untiered), untiered_sample=untiered[:20])


# ------------------------------------------------------------------------------------------------- coverage


@dataclass
class CoverageRow:
    """One area's (or the total's) figures for a month: tasks due, done, done on time, overdue, open."""

    code: str
    tier: str = ""
    due: int = 0
    done: int = 0
    on_time: int = 0
    overdue: int = 0
    open: int = 0

    @property
    def rate(self) -> float | None:
        return self.done / self.due if self.due else None

    def add(self, other: CoverageRow) -> None:
        self.due += other.due
        self.done += other.done
        self.on_time += other.on_time
        self.overdue += other.overdue
        self.open += other.open


def coverage_rows(*, month: datetime.date, area_code: str, now: datetime.datetime | None = None,
                  by_tier: bool = False, extra_where: str = "", extra_params: list | None = None
                  ) -> list[CoverageRow]:
    """The month's tasks counted per community (and tier): one GROUP BY over the coverage index."""
    now = now or timezone.now()
    tier_col = ", t.tier" if by_tier else ""
    county = area_code[:6]
    where = "t.period_month = %s AND t.status <> 'cancelled' AND t.region_code LIKE %s"
    params: list = [_ts(now), month, area_code + "%"]
    if len(county) == 6:
        where = "t.county_code = %s AND " + where
        params.insert(1, county)
    if extra_where:
        where += " AND " + extra_where
        params += extra_params or []
    sql = (f"SELECT t.region_code{tier_col}, COUNT(*), "
           f"SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN t.status = 'done' AND t.done_at <= t.due_at THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN t.status = 'open' AND t.due_at < %s THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN t.status = 'open' THEN 1 ELSE 0 END) "
           f"FROM {TASK} t WHERE {where} GROUP BY t.region_code{tier_col}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        code, rest = row[0], row[1:]
        tier = ""
        if by_tier:
            tier, rest = rest[0], rest[1:]
        due, done, on_time, overdue, open_ = (int(v or 0) for v in rest)
        out.append(CoverageRow(code=code, tier=tier, due=due, done=done, on_time=on_time, overdue=overdue,
                               open=open_))
    return out


def roll_up(rows: list[CoverageRow], length: int) -> dict[str, CoverageRow]:
    """Sum community rows up to the areas of a code length (9: streets, 6: counties), keeping tiers apart."""
    out: dict[str, CoverageRow] = {}
    for row in rows:
        key = row.code[:length] + ("|" + row.tier if row.tier else "")
        target = out.setdefault(key, CoverageRow(code=row.code[:length], tier=row.tier))
        target.add(row)
    return out


__all__ = ["TaskStatus", "coverage_rows", "generate_tasks", "placement", "roll_up", "rule_sets_in_force",
           "simulate"]
