"""Set-based roll generation: the SQL that turns rules into lines, inside the database.

Everything here is a handful of INSERT … SELECT / DELETE statements per roll, whatever the number of elders,
written in the SQL both SQLite and PostgreSQL understand (backend differences are confined to `_year`,
`_month`, `_day`). Facts "on the 1st of the month" (alive, present, residence, category, ability level) are
read from the dated history (status events, category periods, published assessments), so a roll for a past
month sees that month as it was, and a death or move registered late is found by the next roll.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from yiyang.assessment.models import Assessment
from yiyang.core import pii
from yiyang.core.models import Region
from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

from . import rules
from .models import APPROVED_ROLL_STATUSES, BenefitSettings, Roll, RollCheck, RollLine, RuleVersion

ELDER = Elder._meta.db_table
CATEGORY = ElderCategory._meta.db_table
EVENT = ElderStatusEvent._meta.db_table
ASSESSMENT = Assessment._meta.db_table
LINE = RollLine._meta.db_table
ROLL = Roll._meta.db_table
CHECK = RollCheck._meta.db_table

LINE_COLUMNS = ("roll_id", "elder_id", "programme_id", "month", "for_month", "kind", "amount", "status", "rule_id",
                "age", "level", "category", "band", "county_code", "region_code", "previous_amount",
                "failure_reason", "withheld_reason", "updated_at")


def _vendor() -> str:
    return connection.vendor


def _part(part: str, expr: str) -> str:
    if _vendor() == "sqlite":
        # Doubled: every query here runs with a parameter list, so the driver turns %% back into %.
        fmt = {"year": "%%Y", "month": "%%m", "day": "%%d"}[part]
        return f"CAST(strftime('{fmt}', {expr}) AS INTEGER)"
    return f"CAST(EXTRACT({part.upper()} FROM {expr}) AS INTEGER)"


def _age_sql(month: datetime.date, birth: str = "e.birth_date") -> str:
    """Age on `month` (a 1st): years, less one when the birthday falls later in the month or year."""
    return (f"({month.year} - {_part('year', birth)} - CASE WHEN {_part('month', birth)} > {month.month} OR "
            f"({_part('month', birth)} = {month.month} AND {_part('day', birth)} > 1) THEN 1 ELSE 0 END)")


class _Fence(str):
    """Keeps the per-person subquery from being flattened into the amount CASE, which would repeat the level
    and category lookups once per table row (an OFFSET is an optimisation fence on both databases)."""

    def __str__(self):
        return " LIMIT -1 OFFSET 0" if _vendor() == "sqlite" else " OFFSET 0"

    def __format__(self, spec):
        return str(self)


_FENCE = _Fence()


def quiet_planner(cursor) -> None:
    """PostgreSQL's JIT spends seconds compiling these one-off statements and saves nothing: off for this
    transaction."""
    if _vendor() == "postgresql":
        cursor.execute("SET LOCAL jit = off")


def _ts(value: datetime.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@dataclass
class Query:
    sql: str
    params: list


def rule_for(programme, jurisdiction: Region, month: datetime.date) -> RuleVersion | None:
    """The adopted rule in force for `month`: the jurisdiction's own, else the nearest one above it."""
    return rules_in_force([programme], jurisdiction, month).get(getattr(programme, "pk", programme))


def rules_in_force(programmes, jurisdiction: Region, month: datetime.date) -> dict[int, RuleVersion]:
    """rule_for of several programmes in one query: {programme id: the rule in force} (none: not there)."""
    code = jurisdiction.code
    prefixes = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
    candidates = (RuleVersion.objects.filter(programme__in=list(programmes), status="adopted",
                                             jurisdiction__code__in=prefixes, valid_from__lte=month)
                  .exclude(valid_until__lt=month).select_related("jurisdiction", "programme", "adopted_by"))
    best: dict[int, RuleVersion] = {}
    for rv in candidates:
        found = best.get(rv.programme_id)
        if found is None or (len(rv.jurisdiction.code), rv.version) > (len(found.jurisdiction.code), found.version):
            best[rv.programme_id] = rv
    return best


def entitlement(*, params: rules.RuleParams, rule_id: int | None, month: datetime.date, jurisdiction_code: str,
                settings: BenefitSettings, candidates: Query | None = None,
                registered_before: datetime.datetime | None = None) -> Query:
    """SELECT elder_id, amount, age, level, category, band, county_code, region_code, rule_id: everyone the
    rule pays for `month` in the jurisdiction (optionally only among `candidates`, a query of elder ids)."""
    p: list = []
    d = month
    next_day = day_start(d + datetime.timedelta(days=1))
    # Residence on the 1st: the destination of the last move on or before it, else the origin of the first
    # move after it, else where the person lives now.
    if params.basis == "residence":
        region_expr = (
            f"COALESCE((SELECT x.to_region_id FROM {EVENT} x "
            f"WHERE x.elder_id = e.id AND x.kind IN ('relocate', 'move_in') AND x.effective_date <= %s "
            f"ORDER BY x.effective_date DESC, x.recorded_at DESC, x.id DESC LIMIT 1), "
            f"(SELECT x.from_region_id FROM {EVENT} x "
            f"WHERE x.elder_id = e.id AND x.kind IN ('relocate', 'move_out') AND x.effective_date > %s "
            f"ORDER BY x.effective_date, x.recorded_at, x.id LIMIT 1), e.residence_region_id)")
        p += [d, d]
        # Index-friendly pre-filter: people living here now, or anyone who has moved at some time.
        where_place = (f"(e.county_code LIKE %s OR e.id IN (SELECT x.elder_id FROM {EVENT} x "
                       f"WHERE x.kind IN ('relocate', 'move_in', 'move_out')))")
        place_params = [jurisdiction_code[:6] + "%"]
    else:
        region_expr = "e.hukou_region_id"
        where_place = "e.hukou_region_id LIKE %s"
        place_params = [jurisdiction_code + "%"]

    needs_level = bool(params.levels) or (params.amount_kind == "level_table"
                                          and any(r.level is not None for r in params.table))
    level_expr = "CAST(NULL AS INTEGER)"
    level_params: list = []
    if needs_level:
        level_expr = (f"(SELECT a.final_level FROM {ASSESSMENT} a WHERE a.elder_id = e.id "
                      f"AND a.status IN ('published', 'disputed') AND a.final_level IS NOT NULL "
                      f"AND a.published_at < %s ORDER BY a.published_at DESC, a.id DESC LIMIT 1)")
        level_params = [_ts(next_day)]
    table_categories = (sorted({r.category for r in params.table if r.category})
                        if params.amount_kind == "level_table" else [])
    cat_cols = []
    cat_params: list = []
    for i, code in enumerate(table_categories):
        cat_cols.append(f"EXISTS (SELECT 1 FROM {CATEGORY} c WHERE c.elder_id = e.id AND c.kind = %s "
                        f"AND c.start_date <= %s AND (c.end_date IS NULL OR c.end_date >= %s)) AS cat{i}")
        cat_params += [code, d, d]

    death_cmp = "<" if settings.pay_month_of_death else "<="
    status_kinds = "('move_out', 'move_in', 'suspend', 'resume')"
    # No dated history at all: trust the record's status and its date.
    legacy = "e.status = 'active' OR e.status_date > %s"
    legacy_params = [d]
    if settings.pay_month_of_death:
        legacy += " OR (e.status = 'deceased' AND e.status_date = %s)"
        legacy_params.append(d)
    present = (
        f"NOT EXISTS (SELECT 1 FROM {EVENT} x WHERE x.elder_id = e.id AND x.kind = 'death' "
        f"AND x.effective_date {death_cmp} %s) "
        f"AND COALESCE((SELECT x.kind IN ('move_in', 'resume') FROM {EVENT} x WHERE x.elder_id = e.id "
        f"AND x.kind IN {status_kinds} AND x.effective_date <= %s "
        f"ORDER BY x.effective_date DESC, x.recorded_at DESC, x.id DESC LIMIT 1), "
        f"(SELECT x.kind <> 'move_in' FROM {EVENT} x WHERE x.elder_id = e.id AND x.kind IN {status_kinds} "
        f"AND x.effective_date > %s ORDER BY x.effective_date, x.recorded_at, x.id LIMIT 1), ({legacy}))")
    present_params = [d, d, d] + legacy_params

    conditions = [where_place, present, "e.birth_date <= %s"]
    cond_params = place_params + present_params + [rules.born_by(d, params.min_age)]
    if params.max_age is not None:
        conditions.append("e.birth_date > %s")
        cond_params.append(rules.born_by(d, params.max_age + 1))
    if params.categories:
        marks = ", ".join(["%s"] * len(params.categories))
        conditions.append(f"EXISTS (SELECT 1 FROM {CATEGORY} c WHERE c.elder_id = e.id AND c.kind IN ({marks}) "
                          f"AND c.start_date <= %s AND (c.end_date IS NULL OR c.end_date >= %s))")
        cond_params += list(params.categories) + [d, d]
    if params.exclude_institution:
        conditions.append("e.living_situation <> 'institution'")
    if registered_before is not None:
        # Nobody is owed money for a month that ended before they were registered.
        conditions.append("e.created_at < %s")
        cond_params.append(_ts(registered_before))
    if candidates is not None:
        conditions.append(f"e.id IN ({candidates.sql})")
        cond_params += candidates.params

    extra_cols = "".join(", " + c for c in cat_cols)
    base = (f"SELECT e.id AS elder_id, e.birth_date AS birth_date, e.county_code AS cur_county, "
            f"{region_expr} AS region_code, {level_expr} AS lvl, {_age_sql(d)} AS age{extra_cols} "
            f"FROM {ELDER} e WHERE " + " AND ".join(conditions))
    base_params = (p if params.basis == "residence" else []) + level_params + cat_params + cond_params

    # Amount, band and category from the parameters (a CASE per rule, highest first).
    out_params: list = []
    if params.amount_kind == "fixed":
        amount = "%s"
        out_params.append(params.fixed_amount)
        band = "''"
        category = "%s"
        out_params.append(params.categories[0] if len(params.categories) == 1 else "")
    elif params.amount_kind == "age_bands":
        whens_amount, whens_band, amt_params, band_params = [], [], [], []
        for b in sorted(params.bands, key=lambda b: -b.min_age):
            cond = "b.birth_date <= %s"
            cparams = [rules.born_by(d, b.min_age)]
            if b.max_age is not None:
                cond += " AND b.birth_date > %s"
                cparams.append(rules.born_by(d, b.max_age + 1))
            whens_amount.append(f"WHEN {cond} THEN %s")
            amt_params += cparams + [b.amount]
            whens_band.append(f"WHEN {cond} THEN %s")
            band_params += cparams + [b.label]
        amount = "CASE " + " ".join(whens_amount) + " END"
        band = "CASE " + " ".join(whens_band) + " ELSE '' END"
        category = "''"
        out_params = amt_params + band_params
    else:
        rows = sorted(params.table, key=lambda r: (-r.amount, r.level is None, r.category == ""))
        whens_amount, whens_cat, amt_params, cat_out_params = [], [], [], []
        for r in rows:
            parts = []
            cparams: list = []
            if r.level is not None:
                parts.append("b.lvl = %s")
                cparams.append(r.level)
            if r.category:
                parts.append(f"b.cat{table_categories.index(r.category)}")
            cond = " AND ".join(parts) or "1 = 1"
            whens_amount.append(f"WHEN {cond} THEN %s")
            amt_params += cparams + [r.amount]
            whens_cat.append(f"WHEN {cond} THEN %s")
            cat_out_params += cparams + [r.category]
        amount = "CASE " + " ".join(whens_amount) + " END"
        category = "CASE " + " ".join(whens_cat) + " ELSE '' END"
        band = "''"
        out_params = amt_params + cat_out_params
    level_filter = ""
    if params.levels:
        level_filter = f" AND b.lvl IN ({', '.join(str(int(v)) for v in params.levels)})"
    sql = (f"SELECT elder_id, amount, age, level, category, band, county_code, region_code, rule_id FROM ("
           f"SELECT b.elder_id AS elder_id, CAST({amount} AS DECIMAL(10, 2)) AS amount, b.age AS age, b.lvl AS level, "
           f"{category} AS category, {band} AS band, SUBSTR(b.region_code, 1, 6) AS county_code, "
           f"b.region_code AS region_code, CAST(%s AS INTEGER) AS rule_id "
           f"FROM ({base}{_FENCE}) b WHERE b.region_code LIKE %s{level_filter}) t WHERE amount IS NOT NULL")
    params_all = out_params + [rule_id] + base_params + [jurisdiction_code + "%"]
    return Query(sql, params_all)


# ---------------------------------------------------------------------------------------------------------
# Generation. Each step runs in its own transaction holding the roll's row lock, and each is idempotent:
# it computes what the lines should be into a temporary table, deletes the roll's open lines that no longer
# match, and inserts the missing ones with ON CONFLICT DO NOTHING. A rerun after a crash (or a second process
# arriving while the first works) therefore ends with exactly the lines one clean run would have produced.

CLOSED_ROLL_STATUSES = APPROVED_ROLL_STATUSES


class _Temp:
    """A temporary table filled from a query, dropped afterwards (PostgreSQL also drops it at commit)."""

    def __init__(self, cursor, name: str, query: Query, index: str = "elder_id"):
        self.cursor, self.name, self.query, self.index = cursor, name, query, index

    def __enter__(self):
        on_commit = " ON COMMIT DROP" if _vendor() == "postgresql" else ""
        self.cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
        self.cursor.execute(f"CREATE TEMPORARY TABLE {self.name}{on_commit} AS {self.query.sql}", self.query.params)
        self.cursor.execute(f"CREATE INDEX {self.name}_idx ON {self.name} ({self.index})")
        if _vendor() == "postgresql":
            self.cursor.execute(f"ANALYZE {self.name}")
        return self.name

    def __exit__(self, *exc):
        # After an error the transaction rolls back, which removes the table with it.
        if exc[0] is None:
            self.cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
        return False


def _insert_lines(cursor, *, roll: Roll, source: str, kind_expr: str, for_month: datetime.date,
                  previous_expr: str = "NULL", where: str = "1 = 1", params: list | None = None) -> int:
    now = _ts(timezone.now())
    cursor.execute(
        f"INSERT INTO {LINE} ({', '.join(LINE_COLUMNS)}) "
        f"SELECT %s, f.elder_id, %s, %s, %s, {kind_expr}, f.amount, 'pending', f.rule_id, f.age, f.level, "
        f"f.category, f.band, f.county_code, f.region_code, {previous_expr}, '', '', %s FROM {source} f "
        f"WHERE {where} "
        f"ON CONFLICT (elder_id, programme_id, month, for_month, kind) DO NOTHING",
        [roll.pk, roll.programme_id, roll.month, for_month, now] + (params or []))
    return cursor.rowcount


def _delete_lines(cursor, *, roll: Roll, condition: str, params: list) -> int:
    """Delete open lines of the roll matching `condition` (SQL over LINE's columns), with their checks."""
    lines = (f"SELECT id FROM {LINE} WHERE roll_id = %s AND status IN ('pending', 'withheld') AND {condition}")
    cursor.execute(f"DELETE FROM {CHECK} WHERE line_id IN ({lines})", [roll.pk] + params)
    cursor.execute(f"DELETE FROM {LINE} WHERE id IN ({lines})", [roll.pk] + params)
    return cursor.rowcount


def regular_lines(roll: Roll, *, rule: RuleVersion | None, settings: BenefitSettings) -> tuple[int, int]:
    """Bring the roll's regular lines in line with the rule; returns (deleted, inserted)."""
    with connection.cursor() as cursor:
        if rule is None:
            return _delete_lines(cursor, roll=roll, condition="kind = 'regular'", params=[]), 0
        query = entitlement(params=rules.parse(rule.params), rule_id=rule.pk, month=roll.month,
                            jurisdiction_code=roll.jurisdiction.code, settings=settings)
        with _Temp(cursor, "benefit_fresh", query) as fresh:
            deleted = _delete_lines(
                cursor, roll=roll, condition=(
                    f"kind = 'regular' AND NOT EXISTS (SELECT 1 FROM {fresh} f WHERE f.elder_id = {LINE}.elder_id "
                    f"AND f.amount = {LINE}.amount AND f.region_code = {LINE}.region_code "
                    f"AND f.rule_id = {LINE}.rule_id)"), params=[])
            inserted = _insert_lines(cursor, roll=roll, source=fresh, kind_expr="'regular'", for_month=roll.month)
        if inserted >= 1000 and _vendor() == "postgresql":
            cursor.execute(f"ANALYZE {LINE}")  # the checks' plans need to know the roll is no longer empty
    return deleted, inserted


def _changed_since(roll_id: int, programme_id: int, jurisdiction_id: int, for_month: datetime.date,
                   since: datetime.datetime) -> Query:
    """Elders whose facts may have changed for `for_month` since its roll was generated, plus payments that
    failed or were withheld (暂缓 postpones a payment: it comes back as 补发 until paid or found not owed)."""
    t = _ts(since)
    return Query(
        f"SELECT x.elder_id FROM {EVENT} x WHERE x.recorded_at > %s "
        f"UNION SELECT c.elder_id FROM {CATEGORY} c WHERE c.updated_at > %s "
        f"UNION SELECT a.elder_id FROM {ASSESSMENT} a WHERE a.published_at > %s "
        f"UNION SELECT e.id FROM {ELDER} e WHERE e.updated_at > %s "
        f"UNION SELECT l.elder_id FROM {LINE} l JOIN {ROLL} r ON r.id = l.roll_id "
        f"WHERE r.jurisdiction_id = %s AND l.programme_id = %s AND l.for_month = %s "
        f"AND l.status IN ('failed', 'withheld') "
        f"AND l.roll_id <> %s",
        [t, t, t, t, jurisdiction_id, programme_id, for_month, roll_id])


def adjustment_lines(roll: Roll, *, for_month: datetime.date, rule: RuleVersion | None, settings: BenefitSettings,
                     since: datetime.datetime | None) -> tuple[int, int]:
    """补发 / 追回 / 重发 for one past month: what should have been paid minus what this jurisdiction issued.

    `since` is when that month's roll was generated: only elders whose history changed after it (or whose
    payment failed) are recomputed; None recomputes everyone (a rule for that month was adopted later).
    """
    candidates = None if since is None else _changed_since(roll.pk, roll.programme_id, roll.jurisdiction_id,
                                                           for_month, since)
    next_month = day_start(rules.add_months(for_month, 1))
    with connection.cursor() as cursor:
        if rule is not None:
            should = entitlement(params=rules.parse(rule.params), rule_id=rule.pk, month=for_month,
                                 jurisdiction_code=roll.jurisdiction.code, settings=settings,
                                 candidates=candidates, registered_before=next_month)
        else:
            should = Query("SELECT elder_id, amount, age, level, category, band, county_code, region_code, "
                           f"rule_id FROM {LINE} WHERE 1 = 0", [])
        issued_where = ("r.jurisdiction_id = %s AND l.programme_id = %s AND l.for_month = %s AND l.roll_id <> %s "
                        "AND l.status IN ('pending', 'withheld', 'paid', 'recovered', 'failed', 'credited')")
        issued_params = [roll.jurisdiction_id, roll.programme_id, for_month, roll.pk]
        if candidates is not None:
            issued_where += f" AND l.elder_id IN ({candidates.sql})"
            issued_params += candidates.params
        issued = Query(
            "SELECT l.elder_id AS elder_id, "
            "SUM(CASE WHEN l.status IN ('failed', 'withheld') THEN 0 ELSE l.amount END) AS amount, "
            "MAX(CASE WHEN l.status = 'failed' THEN 1 ELSE 0 END) AS had_failed, "
            "MAX(l.region_code) AS region_code, MAX(l.county_code) AS county_code "
            f"FROM {LINE} l JOIN {ROLL} r ON r.id = l.roll_id WHERE {issued_where} GROUP BY l.elder_id",
            issued_params)
        with _Temp(cursor, "benefit_should", should) as s_table, _Temp(cursor, "benefit_issued", issued) as i_table:
            diff = Query(
                "SELECT u.elder_id AS elder_id, "
                "CAST(COALESCE(s.amount, 0) - COALESCE(i.amount, 0) AS DECIMAL(10, 2)) AS amount, "
                "CASE WHEN COALESCE(s.amount, 0) < COALESCE(i.amount, 0) THEN 'recovery' "
                "WHEN COALESCE(i.had_failed, 0) = 1 THEN 'reissue' ELSE 'back_pay' END AS kind, "
                "s.rule_id AS rule_id, s.age AS age, s.level AS level, COALESCE(s.category, '') AS category, "
                "COALESCE(s.band, '') AS band, COALESCE(s.county_code, i.county_code) AS county_code, "
                "COALESCE(s.region_code, i.region_code) AS region_code, "
                "CAST(COALESCE(i.amount, 0) AS DECIMAL(10, 2)) AS previous_amount "
                f"FROM (SELECT elder_id FROM {s_table} UNION SELECT elder_id FROM {i_table}) u "
                f"LEFT JOIN {s_table} s ON s.elder_id = u.elder_id LEFT JOIN {i_table} i ON i.elder_id = u.elder_id "
                "WHERE COALESCE(s.amount, 0) <> COALESCE(i.amount, 0)", [])
            with _Temp(cursor, "benefit_diff", diff) as d_table:
                deleted = _delete_lines(cursor, roll=roll, condition=(
                    f"kind <> 'regular' AND for_month = %s AND NOT EXISTS (SELECT 1 FROM {d_table} f "
                    f"WHERE f.elder_id = {LINE}.elder_id AND f.kind = {LINE}.kind AND f.amount = {LINE}.amount)"),
                    params=[for_month])
                inserted = _insert_lines(cursor, roll=roll, source=d_table, kind_expr="f.kind", for_month=for_month,
                                         previous_expr="f.previous_amount")
    return deleted, inserted


def adjustment_months(roll: Roll, settings: BenefitSettings) -> list[tuple[datetime.date, Roll]]:
    """Past months in the look-back window whose roll in this jurisdiction has been approved."""
    first = rules.add_months(roll.month, -settings.lookback_months)
    past = (Roll.objects.filter(programme_id=roll.programme_id, jurisdiction_id=roll.jurisdiction_id,
                                month__gte=first, month__lt=roll.month, status__in=CLOSED_ROLL_STATUSES)
            .order_by("month"))
    return [(r.month, r) for r in past]


# ---------------------------------------------------------------------------------------------------------
# Checks before approval. Unresolved checks are recomputed on every run; resolved ones stay as decided.


def _check_insert(cursor, roll: Roll, kind: str, where: str, params: list, detail: str = "''",
                  detail_params: list | None = None, join: str = "") -> None:
    cursor.execute(
        f"INSERT INTO {CHECK} (roll_id, line_id, kind, detail, region_code, resolution, resolved_at, "
        f"resolved_by_id, note) SELECT %s, l.id, %s, {detail}, l.region_code, '', NULL, NULL, '' "
        f"FROM {LINE} l JOIN {ELDER} e ON e.id = l.elder_id {join} "
        f"WHERE l.roll_id = %s AND l.status = 'pending' AND {where} "
        f"ON CONFLICT (line_id, kind) DO NOTHING",
        [roll.pk, kind] + (detail_params or []) + [roll.pk] + params)


def run_checks(roll: Roll, *, params: rules.RuleParams | None, pays_to_bank: bool) -> None:
    from yiyang.core import pii

    code = roll.jurisdiction.code
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {CHECK} WHERE roll_id = %s AND resolution = ''", [roll.pk])
        positive = "l.amount > 0"
        # `detail` keeps the fact (a date, a code); RollCheck.explain() says it in the reader's language.
        _check_insert(cursor, roll, "deceased", f"{positive} AND e.status = 'deceased'", [],
                      detail="COALESCE(CAST(e.status_date AS TEXT), '')")
        _check_insert(cursor, roll, "moved_away",
                      f"{positive} AND (e.status = 'moved_out' OR e.county_code NOT LIKE %s)", [code[:6] + "%"],
                      detail="e.county_code")
        _check_insert(cursor, roll, "suspended", f"{positive} AND e.status = 'suspended'", [],
                      detail="COALESCE(CAST(e.status_date AS TEXT), '')")
        # Same name, sex and birth date on two lines of this roll: one person registered twice? (Two people
        # sharing one bank account are a check of their own kind, below.)
        # One grouping pass finds the name × birth date × sex shared by several people on the roll.
        _check_insert(cursor, roll, "duplicate", "1 = 1", [], detail="'person'",
                      join=(f"JOIN (SELECT e3.name AS dn, e3.birth_date AS db, e3.sex AS ds FROM {LINE} l3 "
                            f"JOIN {ELDER} e3 ON e3.id = l3.elder_id WHERE l3.roll_id = {int(roll.pk)} "
                            f"GROUP BY e3.name, e3.birth_date, e3.sex HAVING COUNT(DISTINCT l3.elder_id) > 1) d "
                            f"ON d.dn = e.name AND d.db = e.birth_date AND d.ds = e.sex"))
        if pays_to_bank:
            _check_insert(cursor, roll, "bank_missing", f"{positive} AND e.bank_account = ''", [])
        _absence_checks(cursor, roll, positive)
        if params is not None:
            possible = sorted(params.possible_amounts())
            top = max(possible) if possible else 0
            marks = ", ".join(["%s"] * len(possible)) or "NULL"
            _check_insert(cursor, roll, "amount",
                          f"((l.kind = 'regular' AND l.amount NOT IN ({marks})) OR l.amount = 0 "
                          f"OR l.amount > %s OR l.amount < -%s)", possible + [top, top],
                          detail="%s", detail_params=[" ".join(str(a) for a in possible)])
        if pays_to_bank:
            # Account numbers are encrypted: decrypt in batches to find malformed ones and shared accounts.
            cursor.execute(f"SELECT l.id, l.elder_id, l.region_code, e.bank_account FROM {LINE} l "
                           f"JOIN {ELDER} e ON e.id = l.elder_id WHERE l.roll_id = %s AND l.status = 'pending' "
                           f"AND l.amount > 0 AND e.bank_account <> ''", [roll.pk])
            invalid, by_account = [], {}
            while rows := cursor.fetchmany(5000):
                for line_id, elder_id, region_code, token in rows:
                    try:
                        account = pii.decrypt(token)
                    except Exception:  # noqa: BLE001 - an undecryptable value is as bad as a malformed one
                        account = ""
                    if not valid_bank_account(account):
                        invalid.append((line_id, region_code))
                    else:
                        by_account.setdefault(account, set()).add((line_id, elder_id, region_code))
            shared = [(line_id, region_code) for holders in by_account.values()
                      if len({elder for _, elder, _ in holders}) > 1 for line_id, _, region_code in holders]
            _bulk_checks(roll, "bank_invalid", invalid, "")
            _bulk_checks(roll, "shared_account", shared, "")


def _absence_checks(cursor, roll: Roll, positive: str) -> None:
    """长期无服务或探访: someone was meant to see the person in the jurisdiction's `absence_days` before the
    roll's month (a visit was due: the higher apps' contact expectations) and nobody did (no service delivered,
    no visit that saw them: the contact sources). People nobody was meant to see are not judged by it."""
    from yiyang.core import registry

    days = BenefitSettings.for_region(roll.jurisdiction).absence_days
    since, until = day_start(roll.month - datetime.timedelta(days=days)), day_start(roll.month)
    expected = [expect(since=_ts(since), until=_ts(until)) for expect in registry.items("contact_expectations")]
    contacts = [source() for source in registry.items("contact_sources")]
    if not expected or not contacts:
        return
    expected_sql = " UNION ALL ".join(f"SELECT elder_id FROM ({sql}) x{i}" for i, (sql, _p) in enumerate(expected))
    contact_sql = " UNION ALL ".join(f"SELECT elder_id, at FROM ({sql}) s{i}" for i, (sql, _p) in enumerate(contacts))
    params = ([p for _sql, ps in expected for p in ps] + [p for _sql, ps in contacts for p in ps] + [_ts(since)])
    _check_insert(cursor, roll, "absence",
                  f"{positive} AND e.id IN ({expected_sql}) AND NOT EXISTS (SELECT 1 FROM ({contact_sql}) c "
                  f"WHERE c.elder_id = e.id AND c.at >= %s)", params,
                  detail="%s", detail_params=[str(days)])


def _bulk_checks(roll: Roll, kind: str, lines: list[tuple[int, str]], detail: str) -> None:
    RollCheck.objects.bulk_create(
        [RollCheck(roll=roll, line_id=line_id, kind=kind, detail=detail, region_code=region_code)
         for line_id, region_code in lines], batch_size=2000, ignore_conflicts=True)


def valid_bank_account(account: str) -> bool:
    """Digits only, 12–30 long; UnionPay card numbers (16–19 digits starting 62) must pass the Luhn check."""
    if not pii.is_ascii_digits(account) or not 12 <= len(account) <= 30:
        return False
    if account.startswith("62") and 16 <= len(account) <= 19:
        total = 0
        for i, ch in enumerate(reversed(account)):
            n = int(ch)
            if i % 2 == 1:
                n = n * 2 - 9 if n > 4 else n * 2
            total += n
        return total % 10 == 0
    return True


def refresh_totals(roll: Roll) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM {LINE} WHERE roll_id = %s", [roll.pk])
        count, total = cursor.fetchone()
        cursor.execute(f"SELECT COUNT(*) FROM {CHECK} WHERE roll_id = %s AND resolution = ''", [roll.pk])
        (open_checks,) = cursor.fetchone()
    roll.line_count = count
    roll.total_amount = rules.Decimal(str(total)).quantize(rules.Decimal("0.01"))
    roll.open_checks = open_checks
    Roll.objects.filter(pk=roll.pk).update(line_count=count, total_amount=roll.total_amount,
                                           open_checks=open_checks)


def street_totals(roll: Roll) -> list[tuple[str, int, object]]:
    """(street code, lines, amount) of the roll, for the streets' sign-off."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUBSTR(region_code, 1, 9), COUNT(*), COALESCE(SUM(amount), 0) FROM {LINE} "
                       f"WHERE roll_id = %s GROUP BY SUBSTR(region_code, 1, 9) ORDER BY 1", [roll.pk])
        return [(street, count, rules.Decimal(str(total)).quantize(rules.Decimal("0.01")))
                for street, count, total in cursor.fetchall()]


def roll_elders_changed_since(roll: Roll, since: datetime.datetime) -> bool:
    """Has anyone on the roll been edited (bank account, status …) since `since`?"""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {LINE} l JOIN {ELDER} e ON e.id = l.elder_id WHERE l.roll_id = %s "
                       f"AND e.updated_at > %s LIMIT 1", [roll.pk, _ts(since)])
        return cursor.fetchone() is not None
