"""Budget simulation (预算测算): a proposed rule against the rule in force, for one month, read-only.

Both entitlements run as subqueries of one SELECT (no temporary tables, nothing written), joined on the
elder: cost per street and in total, and who gains, loses, joins or leaves.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection, transaction

from yiyang.core.models import Region

from . import engine, rules
from .models import BenefitSettings, Programme, RuleVersion

CENT = Decimal("0.01")


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def compare(*, programme: Programme, jurisdiction: Region, month: datetime.date, current: RuleVersion | None,
            proposed: rules.RuleParams) -> dict:
    settings = BenefitSettings.for_region(jurisdiction)
    if current is not None:
        cur = engine.entitlement(params=rules.parse(current.params), rule_id=current.pk, month=month,
                                 jurisdiction_code=jurisdiction.code, settings=settings)
    else:
        cur = engine.Query(f"SELECT elder_id, amount, region_code FROM {engine.LINE} WHERE 1 = 0", [])
    new = engine.entitlement(params=proposed, rule_id=None, month=month, jurisdiction_code=jurisdiction.code,
                             settings=settings)
    sql = (
        f"WITH cur AS ({cur.sql}), new AS ({new.sql}), "
        "u AS (SELECT elder_id FROM cur UNION SELECT elder_id FROM new) "
        "SELECT SUBSTR(COALESCE(n.region_code, c.region_code), 1, 9) AS street, "
        "COUNT(c.elder_id), COALESCE(SUM(c.amount), 0), COUNT(n.elder_id), COALESCE(SUM(n.amount), 0), "
        "SUM(CASE WHEN c.elder_id IS NOT NULL AND n.elder_id IS NOT NULL AND n.amount > c.amount THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN c.elder_id IS NOT NULL AND n.elder_id IS NOT NULL AND n.amount < c.amount THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN c.elder_id IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN n.elder_id IS NULL THEN 1 ELSE 0 END) "
        "FROM u LEFT JOIN cur c ON c.elder_id = u.elder_id LEFT JOIN new n ON n.elder_id = u.elder_id "
        "GROUP BY SUBSTR(COALESCE(n.region_code, c.region_code), 1, 9) ORDER BY 1")
    with transaction.atomic(), connection.cursor() as cursor:
        engine.quiet_planner(cursor)
        cursor.execute(sql, cur.params + new.params)
        rows = cursor.fetchall()
    names = dict(Region.objects.filter(code__in=[r[0] for r in rows]).values_list("code", "name"))
    regions = []
    keys = ("current_count", "current_cost", "proposed_count", "proposed_cost", "gaining", "losing", "joining",
            "leaving")
    total = dict.fromkeys(keys, 0)
    for street, *values in rows:
        row = dict(zip(keys, values, strict=True))
        for k in ("current_cost", "proposed_cost"):
            row[k] = _money(row[k])
        row = {k: (v if k.endswith("cost") else int(v or 0)) for k, v in row.items()}
        row["change"] = row["proposed_cost"] - row["current_cost"]
        regions.append({"code": street, "name": names.get(street, street), **row})
        for k in keys:
            total[k] += row[k]
    total["current_cost"] = _money(total["current_cost"])
    total["proposed_cost"] = _money(total["proposed_cost"])
    total["change"] = total["proposed_cost"] - total["current_cost"]
    return {"month": month, "programme": programme, "jurisdiction": jurisdiction, "current_rule": current,
            "proposed": proposed, "regions": regions, "total": total,
            "annual_change": total["change"] * 12}
