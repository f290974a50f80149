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
from yiyang.core.models import Region
from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

from . import rules
from .models import BenefitSettings, Roll, RollCheck, RollLine, RuleVersion

ELDER = Elder._meta.db_table
CATEGORY = ElderCategory._meta.db_table
EVENT = ElderStatusEvent._meta.db_table
REGION = Region._meta.db_table
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
        fmt = {"year": "%Y", "month": "%m", "day": "%d"}[part]
        return f"CAST(strftime('{fmt}', {expr}) AS INTEGER)"
    return f"CAST(EXTRACT({part.upper()} FROM {expr}) AS INTEGER)"


def _age_sql(month: datetime.date, birth: str = "e.birth_date") -> str:
    """Age on `month` (a 1st): years, less one when the birthday falls later in the month or year."""
    return (f"({month.year} - {_part('year', birth)} - CASE WHEN {_part('month', birth)} > {month.month} OR "
            f"({_part('month', birth)} = {month.month} AND {_part('day', birth)} > 1) THEN 1 ELSE 0 END)")


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
    code = jurisdiction.code
    prefixes = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
    candidates = (RuleVersion.objects.filter(programme=programme, status="adopted", jurisdiction__code__in=prefixes,
                                             valid_from__lte=month)
                  .exclude(valid_until__lt=month).select_related("jurisdiction"))
    best = None
    for rv in candidates:
        if best is None or (len(rv.jurisdiction.code), rv.version) > (len(best.jurisdiction.code), best.version):
            best = rv
    return best


def entitlement(*, params: rules.RuleParams, rule_id: int | None, month: datetime.date, jurisdiction_code: str,
                settings: BenefitSettings, candidates: Query | None = None) -> Query:
    """SELECT elder_id, amount, age, level, category, band, county_code, region_code, rule_id: everyone the
    rule pays for `month` in the jurisdiction (optionally only among `candidates`, a query of elder ids)."""
    p: list = []
    d = month
    next_day = day_start(d + datetime.timedelta(days=1))
    # Residence on the 1st: the destination of the last move on or before it, else the origin of the first
    # move after it, else where the person lives now.
    if params.basis == "residence":
        region_expr = (
            f"COALESCE((SELECT r.code FROM {EVENT} x JOIN {REGION} r ON r.id = x.to_region_id "
            f"WHERE x.elder_id = e.id AND x.kind IN ('relocate', 'move_in') AND x.effective_date <= %s "
            f"ORDER BY x.effective_date DESC, x.recorded_at DESC, x.id DESC LIMIT 1), "
            f"(SELECT r.code FROM {EVENT} x JOIN {REGION} r ON r.id = x.from_region_id "
            f"WHERE x.elder_id = e.id AND x.kind IN ('relocate', 'move_out') AND x.effective_date > %s "
            f"ORDER BY x.effective_date, x.recorded_at, x.id LIMIT 1), rr.code)")
        p += [d, d]
        region_join = f"JOIN {REGION} rr ON rr.id = e.residence_region_id"
        # Index-friendly pre-filter: people living here now, or anyone who has moved at some time.
        where_place = (f"(e.county_code LIKE %s OR e.id IN (SELECT x.elder_id FROM {EVENT} x "
                       f"WHERE x.kind IN ('relocate', 'move_in', 'move_out')))")
        place_params = [jurisdiction_code[:6] + "%"]
    else:
        region_expr = "rr.code"
        region_join = f"JOIN {REGION} rr ON rr.id = e.hukou_region_id"
        where_place = "rr.code LIKE %s"
        place_params = [jurisdiction_code + "%"]

    needs_level = bool(params.levels) or (params.amount_kind == "level_table"
                                          and any(r.level is not None for r in params.table))
    level_expr = "NULL"
    level_params: list = []
    if needs_level:
        level_expr = (f"(SELECT a.final_level FROM {ASSESSMENT} a WHERE a.elder_id = e.id "
                      f"AND a.status IN ('published', 'disputed') AND a.final_level IS NOT NULL "
                      f"AND a.published_at < %s ORDER BY a.published_at DESC, a.id DESC LIMIT 1)")
        level_params = [_ts(next_day)]
    table_categories = sorted({r.category for r in params.table if r.category}) if params.amount_kind == "level_table" else []
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
    if candidates is not None:
        conditions.append(f"e.id IN ({candidates.sql})")
        cond_params += candidates.params

    extra_cols = "".join(", " + c for c in cat_cols)
    base = (f"SELECT e.id AS elder_id, e.birth_date AS birth_date, e.county_code AS cur_county, "
            f"{region_expr} AS region_code, {level_expr} AS lvl, {_age_sql(d)} AS age{extra_cols} "
            f"FROM {ELDER} e {region_join} WHERE " + " AND ".join(conditions))
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
           f"SELECT b.elder_id AS elder_id, {amount} AS amount, b.age AS age, b.lvl AS level, "
           f"{category} AS category, {band} AS band, SUBSTR(b.region_code, 1, 6) AS county_code, "
           f"b.region_code AS region_code, %s AS rule_id "
           f"FROM ({base}) b WHERE b.region_code LIKE %s{level_filter}) t WHERE amount IS NOT NULL")
    params_all = out_params + [rule_id] + base_params + [jurisdiction_code + "%"]
    return Query(sql, params_all)
