"""Benchmark of home-service orders (issue 7): 1,000,000 orders over 100,000 elders on PostgreSQL.

Measured, on the services' real code path (`yiyang.services`):

1. settlement: last month's statement of every provider, `services.prepare_settlement` then
   `services.approve_settlement` (the included orders become settled, one order event each), timed apart and
   together; the statements are checked against SUM over the orders in SQL, to the fen;
2. board: today's board of the busiest provider (`selectors.provider_board`, or an equivalent query when
   that selector does not exist: today's visits of one provider with elder, item and caregiver, grouped by
   caregiver), median of 5 runs;
3. baseline: the per-order ORM way of settling on a sample of one provider's orders (each order loaded,
   its flags looked up, a SettlementItem created, the order saved as settled with its event, totals added
   in Python; rolled back), extrapolated to all settleable orders. Ratio = baseline extrapolated / settlement.

The data is generated set-based (INSERT … SELECT generate_series, no ORM loops): elders aged 60+ over the
county's real communities with their coordinates and ~6.5 % in a category; several providers each covering
a few streets (every street has two) with their offers and caregivers; orders of last month (most checked
out and confirmed or rated, some checked out and waiting, cancelled, declined, no-show; ~0.5 % flagged and
held back) plus today's (assigned, in progress, done). Prices and the subsidy split follow the demo's
catalogue and rule (特困 100 %, 低保 90 %, 低保边缘 70 %, 80+ the 普惠 price with some allowance, others the
market price); the columns add up (total = subsidy + allowance + copay) as the table's CHECK requires.

The database is a dedicated one (`yiyang_bench_orders`, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), dropped and created at the start and dropped at the end (unless --keep).
It never fails on speed. The last line is ``summary: orders=N elders=M settlement_all=S prepare=S approve=S
mark_settled=S board=MS orm_loop_extrapolated=S ratio=X``.

Usage: python bench/orders.py [--orders 1000000] [--elders 100000] [--providers 16] [--baseline 3000]
                              [--seed 7] [--keep] [--explain]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiyang.settings")

from urllib.parse import urlsplit  # noqa: E402

from benchlib.scratch import pg_server_url, reset_postgres, start_django, with_database  # noqa: E402
from benchlib.sqlgen import insert_select  # noqa: E402

BENCH_DB = "yiyang_bench_orders"
COUNTY = "511903"
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
                "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
                "苟蒲岳母冉鲜")
GIVEN = ["秀英", "桂英", "桂兰", "玉兰", "淑珍", "秀兰", "玉珍", "凤英", "翠兰", "素珍", "德明", "德贵", "明清", "正清",
         "洪发", "福全", "永福", "长生", "树林", "建国", "国华", "丽华"]
CAREGIVER_GIVEN = ["红梅", "小琼", "丽", "静", "燕", "敏", "婷", "霞", "芳", "娟", "秀", "军", "勇", "伟", "平"]
SKILLS = ["助浴,生活照料,健康监测", "助洁,生活照料", "助浴,助洁,急救,健康监测", "生活照料,健康监测,急救", "助洁"]
# Share of last month's orders in each state (the rest of the 100 % is checked out, waiting for 确认).
STATUS_MIX = [("rated", 0.55), ("confirmed", 0.30), ("cancelled", 0.05), ("declined", 0.025), ("no_show", 0.025)]
TODAY_SHARE = 1 / 31
FLAGGED = 0.005


class Clock:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


# ------------------------------------------------------------------------------------------- generation


def catalogue(actor, start: datetime.date) -> None:
    """The demo's catalogue, the county's prices and subsidy rule, through the services."""
    from yiyang.services import services
    from yiyang.services.examples import CATALOGUE, SUBSIDY_RULE
    from yiyang.services.models import ServiceItem

    for position, (code, name, category, unit, minutes, skill, market, inclusive) in enumerate(CATALOGUE):
        item = ServiceItem.objects.create(code=code, name=name, category=category, unit=unit,
                                          standard_minutes=minutes, required_skill=skill, position=position)
        services.set_price(actor=actor, item=item, jurisdiction=COUNTY, valid_from=start,
                           market_price=Decimal(market), inclusive_price=Decimal(inclusive))
    services.adopt_subsidy_rule(actor=actor, jurisdiction=COUNTY, params=SUBSIDY_RULE, valid_from=start,
                                note="基准测试：示例规则")


def providers(actor, n: int, start: datetime.date) -> list:
    """n providers, each covering the streets that map to it (street s → providers s mod n and (s + 5) mod n),
    every item offered at 90 % of the 普惠 price through services.declare_offer."""
    from yiyang.core.models import Region
    from yiyang.registry.models import Organisation
    from yiyang.services import services
    from yiyang.services.models import ServiceItem, ServicePrice

    streets = list(Region.objects.filter(code__startswith=COUNTY, level="street").order_by("code"))
    orgs = []
    for k in range(n):
        home = streets[k % len(streets)]
        orgs.append(Organisation.objects.create(name=f"基准居家养老服务中心{k + 1:02d}", kind="provider",
                                                region_id=home.code, credit_code=f"91511903BENCH{k:05d}"))
    covers: dict[int, list] = {o.pk: [] for o in orgs}
    for s, street in enumerate(streets):
        for k in {s % n, (s + 5) % n}:
            covers[orgs[k].pk].append(street)
    ceilings = {p.item_id: p.inclusive_price for p in ServicePrice.objects.all()}
    for org in orgs:
        for item in ServiceItem.objects.order_by("position"):
            services.declare_offer(actor=actor, provider=org, item=item, streets=covers[org.pk] or streets[:1],
                                   price=(ceilings[item.pk] * Decimal("0.9")).quantize(Decimal("0.01")),
                                   valid_from=start)
    return orgs


def generate(n_orders: int, n_elders: int, orgs: list, caregivers_per: int, month: datetime.date, seed: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from yiyang.core import pii
    from yiyang.core.models import Region
    from yiyang.registry.models import Elder, ElderCategory, Practitioner
    from yiyang.services.models import (
        Order,
        OrderFlag,
        ProviderOffer,
        ServiceItem,
        ServicePrice,
        SubsidyRule,
    )

    communities = list(Region.objects.filter(code__startswith=COUNTY, level="community").order_by("code")
                       .values_list("code", flat=True))
    long_ago = timezone.now() - datetime.timedelta(days=800)
    today = timezone.localdate()
    days = ((month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - month).days
    elder_t, order_t = Elder._meta.db_table, Order._meta.db_table
    # One real token for every ID number (pages decrypt it when they load a person; nothing here reads it).
    token = pii.encrypt("511903195001010012")
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        with Clock() as c:
            cursor.execute("CREATE TEMPORARY TABLE bench_draw AS SELECT g AS i, random() AS u_age, random() AS u_year, "
                           "random() AS u_day, random() AS u_place, random() AS u_name, random() AS u_given, "
                           "random() AS u_sex, random() AS u_lat, random() AS u_lon FROM generate_series(1, %s) g",
                           [n_elders])
            age = ("CASE WHEN d.u_age < 0.18 THEN 80 + floor(20 * power(d.u_year, 1.8)) "
                   "ELSE 60 + floor(20 * power(d.u_year, 1.3)) END")
            name = (f"(%s::text[])[1 + floor(d.u_name * {len(SURNAMES)})::int] || "
                    f"(%s::text[])[1 + floor(d.u_given * {len(GIVEN)})::int]")
            place = (f"(%s::text[])[1 + floor(d.u_place * {len(communities)})::int]", [communities])
            insert_select(cursor, Elder, {
                "id_number": ("%s", [token]), "id_number_hash": ("md5('bench' || d.i)", []),
                "id_number_masked": ("'511903**********' || lpad(mod(d.i, 100)::text, 2, '0')", []),
                "birth_date": (f"(%s::date - (({age}) * 365.25 + floor(d.u_day * 365))::int)", [month]),
                "sex": ("CASE WHEN d.u_sex < 0.46 THEN 'M' ELSE 'F' END", []), "name": (name, [SURNAMES, GIVEN]),
                "hukou_region_id": place, "residence_region_id": place, "county_code": ("%s", [COUNTY]),
                "status": ("'active'", []), "living_situation": ("'alone'", []),
                "latitude": ("round((31.60 + 0.33 * d.u_lat)::numeric, 6)", []),
                "longitude": ("round((106.45 + 0.30 * d.u_lon)::numeric, 6)", []),
                "address": ("'恩阳区' || d.i || '号'", []),
                "created_at": ("%s", [long_ago]), "updated_at": ("%s", [long_ago]),
            }, "FROM bench_draw d ORDER BY d.i")
            cursor.execute("DROP TABLE bench_draw")
            kind = ("CASE WHEN x.r < 0.01 THEN 'destitute' WHEN x.r < 0.04 THEN 'subsistence' "
                    "WHEN x.r < 0.06 THEN 'low_income' ELSE 'near_subsistence' END")
            insert_select(cursor, ElderCategory, {
                "elder_id": ("x.id", []), "kind": (kind, []), "start_date": ("'2015-01-01'::date", []),
                "county_code": ("x.county_code", []), "updated_at": ("%s", [long_ago]),
            }, f"FROM (SELECT id, county_code, random() AS r FROM {elder_t}) x WHERE x.r < 0.065")
        print(f"elders: {n_elders} with categories in {c.seconds:.1f} s")

        with Clock() as c:
            for k, org in enumerate(orgs):
                insert_select(cursor, Practitioner, {
                    "organisation_id": ("%s", [org.pk]),
                    "name": (f"(%s::text[])[1 + floor(random() * {len(SURNAMES)})::int] || "
                             f"(%s::text[])[1 + floor(random() * {len(CAREGIVER_GIVEN)})::int]",
                             [SURNAMES, CAREGIVER_GIVEN]),
                    "phone": ("'139' || lpad(g::text, 8, '0')", []), "role": ("'caregiver'", []),
                    "skills": (f"(%s::text[])[1 + mod(g, {len(SKILLS)})]", [SKILLS]),
                    "start_date": ("'2020-01-01'::date", []), "id_number": ("%s", [token]),
                    "id_number_hash": ("md5('bench-cg' || %s || ':' || g)", [k]),
                }, "FROM generate_series(1, %s) g", [caregivers_per])
        print(f"caregivers: {caregivers_per} for each of {len(orgs)} providers in {c.seconds:.1f} s")

        with Clock() as c:
            # Lookup tables: each street's two providers, each provider's caregivers, items and offers.
            streets = sorted({code[:9] for code in communities})
            cursor.execute("CREATE TEMPORARY TABLE bench_sp (street text, slot int, provider_id bigint)")
            rows = []
            for s, street in enumerate(streets):
                rows += [(street, 0, orgs[s % len(orgs)].pk), (street, 1, orgs[(s + 5) % len(orgs)].pk)]
            cursor.executemany("INSERT INTO bench_sp VALUES (%s, %s, %s)", rows)
            cursor.execute(f"CREATE TEMPORARY TABLE bench_cg AS SELECT organisation_id AS provider_id, array_agg(id "
                           f"ORDER BY id) AS ids FROM {Practitioner._meta.db_table} GROUP BY organisation_id")
            items = list(ServiceItem.objects.order_by("position").values_list("pk", "code", "unit",
                                                                             "standard_minutes"))
            visit_items = [row for row in items if row[1] != "meal-canteen"]
            prices = {p.item_id: p for p in ServicePrice.objects.all()}
            cursor.execute("CREATE TEMPORARY TABLE bench_item (k int, item_id bigint, hourly boolean, minutes int, "
                           "market numeric, inclusive numeric, price_id bigint)")
            cursor.executemany("INSERT INTO bench_item VALUES (%s, %s, %s, %s, %s, %s, %s)", [
                (k, pk, unit == "hour", minutes, prices[pk].market_price, prices[pk].inclusive_price, prices[pk].pk)
                for k, (pk, _code, unit, minutes) in enumerate(visit_items)])
            cursor.execute("CREATE TEMPORARY TABLE bench_offer AS SELECT provider_id, item_id, id AS offer_id, price "
                           f"FROM {ProviderOffer._meta.db_table}")
            cursor.execute("CREATE TEMPORARY TABLE bench_elder AS SELECT row_number() OVER (ORDER BY e.id) AS k, e.id, "
                           "e.residence_region_id AS region, substr(e.residence_region_id, 1, 9) AS street, "
                           "CASE WHEN bool_or(c.kind = 'destitute') THEN 100 WHEN bool_or(c.kind = 'subsistence') "
                           "THEN 90 WHEN bool_or(c.kind = 'near_subsistence') THEN 70 ELSE 0 END AS share, "
                           "(bool_or(c.kind IN ('destitute', 'subsistence', 'near_subsistence')) IS TRUE "
                           "OR e.birth_date <= %s) AS inclusive, e.birth_date <= %s AS old "
                           f"FROM {elder_t} e LEFT JOIN {ElderCategory._meta.db_table} c ON c.elder_id = e.id "
                           "GROUP BY e.id", [month.replace(year=month.year - 80), month.replace(year=month.year - 80)])
            cursor.execute("CREATE INDEX ON bench_elder (k)")
            cursor.execute("ANALYZE bench_elder")
        print(f"lookup tables in {c.seconds:.1f} s ({len(orgs)} providers, {len(visit_items)} visit items)")

        with Clock() as c:
            n_today = round(n_orders * TODAY_SHARE)
            status_case = "CASE"
            edge = 0.0
            for status, share in STATUS_MIX:
                edge += share
                status_case += f" WHEN d.u_status < {edge} THEN '{status}'"
            status_case += " ELSE 'checked_out' END"
            today_case = ("CASE WHEN d.u_status < 0.6 THEN 'assigned' WHEN d.u_status < 0.7 THEN 'accepted' "
                          "WHEN d.u_status < 0.8 THEN 'checked_in' ELSE 'checked_out' END")
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_o AS SELECT g AS i, (g <= %s) AS today, "
                f"1 + floor(random() * {n_elders})::int AS ek, floor(random() * {len(visit_items)})::int AS ik, "
                "floor(random() * 2)::int AS slot, random() AS u_day, floor(random() * 20)::int AS half_hour, "
                "random() AS u_status, random() AS u_qty, random() AS u_cg, random() AS u_late, random() AS u_dur, "
                "random() AS u_flag, random() AS u_allow, random() AS u_rating FROM generate_series(1, %s) g",
                [n_today, n_orders])
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_src AS SELECT d.*, e.id AS elder_id, e.region, e.share, e.inclusive, "
                "e.old, sp.provider_id, it.item_id, it.minutes, it.market, it.price_id, o.offer_id, "
                "CASE WHEN e.inclusive THEN least(o.price, it.inclusive) ELSE it.market END AS unit_price, "
                "CASE WHEN NOT it.hourly THEN 1 WHEN d.u_qty < 0.6 THEN 1 WHEN d.u_qty < 0.85 THEN 1.5 ELSE 2 END "
                "AS qty, cg.ids[1 + floor(d.u_cg * array_length(cg.ids, 1))::int] AS caregiver_id, "
                f"CASE WHEN d.today THEN {today_case} ELSE {status_case} END AS status, "
                "(CASE WHEN d.today THEN %s::date ELSE %s::date + floor(d.u_day * %s)::int END + time '08:00' "
                "+ d.half_hour * interval '30 minutes') AT TIME ZONE %s AS start "
                "FROM bench_o d JOIN bench_elder e ON e.k = d.ek "
                "JOIN bench_sp sp ON sp.street = e.street AND sp.slot = d.slot "
                "JOIN bench_item it ON it.k = d.ik "
                "JOIN bench_offer o ON o.provider_id = sp.provider_id AND o.item_id = it.item_id "
                "JOIN bench_cg cg ON cg.provider_id = sp.provider_id",
                [today, month, days, str(timezone.get_current_timezone())])
            cursor.execute("DROP TABLE bench_o")
            # The split as pricing.quote makes it (the amounts rounded half up to the fen).
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_money AS SELECT s.*, round(s.unit_price * s.qty, 2) AS total, "
                "round(round(s.unit_price * s.qty, 2) * s.share / 100, 2) AS subsidy FROM bench_src s")
            cursor.execute("DROP TABLE bench_src")
            cursor.execute("CREATE TEMPORARY TABLE bench_split AS SELECT m.*, CASE WHEN m.inclusive AND m.old AND "
                           "m.u_allow < 0.3 THEN least(m.total - m.subsidy, 20.00) ELSE 0 END AS allowance "
                           "FROM bench_money m")
            cursor.execute("DROP TABLE bench_money")
            rule = SubsidyRule.objects.get().pk
            done = "s.status IN ('rated', 'confirmed', 'checked_out', 'checked_in')"
            check_in = f"CASE WHEN {done} THEN s.start + (s.u_late - 0.5) * interval '20 minutes' END"
            check_out = ("CASE WHEN s.status IN ('rated', 'confirmed', 'checked_out') THEN s.start + (s.u_late - 0.5)"
                         " * interval '20 minutes' + s.minutes * s.qty * (0.9 + 0.25 * s.u_dur) * interval '1 minute'"
                         " END")
            orders = insert_select(cursor, Order, {
                "elder_id": ("s.elder_id", []), "provider_id": ("s.provider_id", []), "item_id": ("s.item_id", []),
                "offer_id": ("s.offer_id", []), "status": ("s.status", []),
                "channel": ("CASE WHEN s.u_allow < 0.4 THEN 'portal' ELSE 'phone' END", []),
                "scheduled_start": ("s.start", []), "quantity": ("s.qty", []),
                "unit_price": ("s.unit_price", []), "total": ("s.total", []), "share": ("s.share", []),
                "subsidy": ("s.subsidy", []), "allowance": ("s.allowance", []),
                "copay": ("s.total - s.subsidy - s.allowance", []),
                "price_basis": ("CASE WHEN s.inclusive THEN 'inclusive' ELSE 'market' END", []),
                "price_explanation": ("'基准测试'", []), "price_id": ("s.price_id", []),
                "subsidy_rule_id": ("%s", [rule]), "county_code": ("%s", [COUNTY]), "region_code": ("s.region", []),
                "caregiver_id": ("CASE WHEN s.status IN ('requested', 'accepted', 'declined') THEN NULL "
                                 "ELSE s.caregiver_id END", []),
                "check_in_at": (check_in, []), "check_out_at": (check_out, []),
                "rating": ("CASE WHEN s.status = 'rated' THEN CASE WHEN s.u_rating < 0.6 THEN 5 WHEN s.u_rating "
                           "< 0.9 THEN 4 ELSE 3 END END", []),
                "end_reason": ("CASE WHEN s.status IN ('cancelled', 'declined', 'no_show') THEN '基准测试' "
                               "ELSE '' END", []),
                "created_at": ("s.start - interval '1 day'", []), "updated_at": ("s.start", []),
            }, "FROM bench_split s ORDER BY s.start, s.i")
            flags = insert_select(cursor, OrderFlag, {
                "order_id": ("o.id", []),
                "kind": ("CASE WHEN mod(o.id, 2) = 0 THEN 'duration' ELSE 'far_check_in' END", []),
                "detail": ("'基准测试'", []),
            }, f"FROM {order_t} o WHERE o.status IN ('rated', 'confirmed') AND random() < %s", [FLAGGED])
            cursor.execute("DROP TABLE bench_split")
        print(f"orders: {orders} ({n_today} today) and {flags} flags in {c.seconds:.1f} s")
        with Clock() as c:
            cursor.execute("ANALYZE")
        print(f"analyze: {c.seconds:.1f} s")


# ------------------------------------------------------------------------------------------- measurements


def expected_sums(month: datetime.date) -> dict:
    """Per provider: SUM over the orders a statement must hold (confirmed or rated, checked out in the month),
    included (no holding flag) and held back, straight in SQL."""
    from django.db import connection

    from yiyang.services.models import HOLD_FLAG_KINDS, Order, OrderFlag
    from yiyang.services.services import month_bounds

    start, end = month_bounds(month)
    kinds = [str(k) for k in HOLD_FLAG_KINDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.provider_id, f.held, count(*), sum(o.total), sum(o.subsidy), sum(o.allowance), sum(o.copay) "
            f"FROM {Order._meta.db_table} o CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM "
            f"{OrderFlag._meta.db_table} x WHERE x.order_id = o.id AND x.kind = ANY(%s)) AS held) f "
            "WHERE o.county_code = %s AND o.status IN ('confirmed', 'rated') AND o.check_out_at >= %s "
            "AND o.check_out_at < %s GROUP BY 1, 2", [kinds, COUNTY, start, end])
        out: dict = {}
        for provider_id, held, n, total, subsidy, allowance, copay in cursor.fetchall():
            out[(provider_id, held)] = (n, total, subsidy, allowance, copay)
    return out


def orm_loop(provider, month: datetime.date, sample: int, actor) -> tuple[float, int]:
    """The per-order way of settling on `sample` of the provider's settleable orders, rolled back."""
    from django.db import transaction

    from yiyang.core.models import Region
    from yiyang.services.models import (
        HOLD_FLAG_KINDS,
        Order,
        OrderEvent,
        OrderFlag,
        Settlement,
        SettlementItem,
    )
    from yiyang.services.services import settlement_orders

    class Rollback(Exception):
        pass

    county = Region.objects.get(code=COUNTY)
    ids = list(settlement_orders(provider=provider, jurisdiction=county, month=month).order_by("pk")
               .values_list("pk", flat=True)[:sample])
    started = time.perf_counter()
    try:
        with transaction.atomic():
            s = Settlement.objects.create(provider=provider, jurisdiction=county, month=month, created_by=actor)
            totals = {"total": Decimal(0), "subsidy": Decimal(0), "allowance": Decimal(0), "copay": Decimal(0)}
            count = held = 0
            for pk in ids:
                order = Order.objects.select_for_update().get(pk=pk)
                flags = list(OrderFlag.objects.filter(order=order, kind__in=HOLD_FLAG_KINDS))
                SettlementItem.objects.create(settlement=s, order=order, total=order.total, subsidy=order.subsidy,
                                              allowance=order.allowance, copay=order.copay, held=bool(flags),
                                              hold_reason="；".join(f.get_kind_display() for f in flags))
                if flags:
                    held += 1
                    continue
                for part in totals:
                    totals[part] += getattr(order, part)
                count += 1
                before = order.status
                order.status = "settled"
                order.save(update_fields=["status", "updated_at"])
                OrderEvent.objects.create(order=order, from_status=before, to_status="settled", by=actor,
                                          note="月度结算")
            for part, value in totals.items():
                setattr(s, part, value)
            s.order_count, s.held_count, s.status = count, held, "approved"
            s.save()
            raise Rollback
    except Rollback:
        pass
    return time.perf_counter() - started, len(ids)


def prepare_all(actor, orgs: list, month: datetime.date, profile: SlowStatements | None = None) -> tuple[float, list]:
    from contextlib import nullcontext

    from django.db import connection, transaction

    from yiyang.services import services

    prepared, statements = 0.0, []
    for org in orgs:
        # The service's transaction made the outer one, to time its COMMIT apart.
        with connection.execute_wrapper(profile) if profile else nullcontext(), Clock() as c, transaction.atomic():
            s = services.prepare_settlement(actor=actor, provider=org, month=month)
            before_commit = time.perf_counter()
        if profile is not None:
            profile.spent.setdefault("COMMIT (deferred foreign-key checks)", []).append(
                time.perf_counter() - before_commit)
        prepared += c.seconds
        statements.append(s)
    return prepared, statements


class SlowStatements:
    """Collects each SQL statement's time while it is active (connection.execute_wrapper); prints the slowest."""

    def __init__(self):
        self.spent: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:160]
            self.spent.setdefault(key, []).append(time.perf_counter() - started)

    def report(self, label: str, top: int = 6) -> None:
        rows = sorted(self.spent.items(), key=lambda kv: -sum(kv[1]))[:top]
        print(f"--- slowest statements of {label} (total s, calls, SQL start)")
        for sql, times in rows:
            print(f"{sum(times):7.2f} s {len(times):4d}x  {sql}")


def approve_all(actor, statements: list, profile: SlowStatements | None = None) -> float:
    from contextlib import nullcontext

    from django.db import connection, transaction

    from yiyang.services import services

    with connection.execute_wrapper(profile) if profile else nullcontext(), Clock() as c:
        for s in statements:
            with transaction.atomic():
                services.approve_settlement(actor=actor, settlement=s)
                before_commit = time.perf_counter()
            if profile is not None:
                profile.spent.setdefault("COMMIT (deferred foreign-key checks)", []).append(
                    time.perf_counter() - before_commit)
    return c.seconds


def board(provider_id: int, day: datetime.date) -> tuple[list[float], int, int, str]:
    """Time today's board of one provider (ms per run) and return (times, visits, columns, which code)."""
    from django.db import reset_queries

    from yiyang.services import selectors

    times, visits, columns = [], 0, 0
    which = "selectors.provider_board"
    fn = getattr(selectors, "provider_board", None)
    for _ in range(5):
        reset_queries()
        with Clock() as c:
            if fn is not None:
                result = fn(provider_id, day)
                visits = sum(len(col["visits"]) for col in result["columns"]) + len(result["unassigned"])
                columns = len(result["columns"])
            else:
                which = "equivalent query"
                visits, columns = _board_equivalent(provider_id, day)
        times.append(c.seconds * 1000)
    return times, visits, columns, which


def _board_equivalent(provider_id: int, day: datetime.date) -> tuple[int, int]:
    from django.utils import timezone

    from yiyang.services.models import Order

    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    rows = (Order.objects.filter(provider_id=provider_id, scheduled_start__gte=start,
                                 scheduled_start__lt=start + datetime.timedelta(days=1))
            .exclude(status__in=("declined", "cancelled")).select_related("elder", "item", "caregiver")
            .order_by("scheduled_start", "pk"))
    by_caregiver: dict = {}
    for o in rows:
        by_caregiver.setdefault(o.caregiver_id, []).append((o.scheduled_start, o.elder.name, o.item.name))
    return sum(len(v) for v in by_caregiver.values()), len(by_caregiver)


def explain(provider, month: datetime.date, day: datetime.date) -> None:
    from django.db import connection
    from django.db.models import Exists, OuterRef

    from yiyang.core.models import Region
    from yiyang.services.models import HOLD_FLAG_KINDS, OrderFlag
    from yiyang.services.services import settlement_orders

    county = Region.objects.get(code=COUNTY)
    held = Exists(OrderFlag.objects.filter(order=OuterRef("pk"), kind__in=HOLD_FLAG_KINDS))
    q = settlement_orders(provider=provider, jurisdiction=county, month=month).filter(~held).order_by().values_list(
        "pk", "total", "subsidy", "allowance", "copay")
    sql, params = q.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        print("--- EXPLAIN ANALYZE the candidates of one statement")
        print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--elders", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=16)
    parser.add_argument("--caregivers", type=int, default=0,
                        help="caregivers per provider (default: enough for ~7 visits a day each)")
    parser.add_argument("--baseline", type=int, default=3000, help="orders in the per-order loop's sample")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of a statement's candidates and the slowest SQL of prepare/approve")
    args = parser.parse_args()

    server = pg_server_url()
    if not reset_postgres(server, BENCH_DB, otherwise="; this benchmark needs PostgreSQL"):
        print("summary: skipped (no PostgreSQL)")
        return 0
    start_django(with_database(server, BENCH_DB))
    from django.core.management import call_command
    from django.db.models import Count
    from django.utils import timezone

    from yiyang.core.models import Role, User
    from yiyang.core.services import load_regions
    from yiyang.services import services
    from yiyang.services.models import Order, OrderStatus, Settlement

    try:
        print(f"database: PostgreSQL ({urlsplit(server).hostname}, database {BENCH_DB}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        with Clock() as c:
            call_command("migrate", verbosity=0)
            load_regions()
        print(f"setup: migrate and load regions in {c.seconds:.1f} s")
        actor = User.objects.create(username="bench-bureau", role=Role.BUREAU, region_id=COUNTY,
                                    scope_code=COUNTY)
        today = timezone.localdate()
        month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
        start = month - datetime.timedelta(days=365)
        per_day = args.orders / 31
        caregivers = args.caregivers or max(5, round(per_day / args.providers / 7))
        with Clock() as c:
            catalogue(actor, start)
            orgs = providers(actor, args.providers, start)
        print(f"catalogue, prices, rule and {len(orgs)} providers' offers through the services in {c.seconds:.1f} s")
        with Clock() as c:
            generate(args.orders, args.elders, orgs, caregivers, month, args.seed)
        print(f"data generated in {c.seconds:.1f} s")

        counts = dict(Order.objects.order_by().values_list("status").annotate(n=Count("pk")))
        print("orders by status: " + ", ".join(f"{OrderStatus(k).label} {v}" for k, v in sorted(counts.items())))

        # (c) the per-order loop on a sample of the biggest provider's orders.
        expected = expected_sums(month)
        settleable = sum(v[0] for v in expected.values())
        big = max(orgs, key=lambda o: sum(v[0] for (pk, _h), v in expected.items() if pk == o.pk))
        loop_seconds, sampled = orm_loop(big, month, args.baseline, actor)
        loop_extrapolated = loop_seconds * settleable / max(sampled, 1)
        print(f"baseline: per-order ORM loop over {sampled} orders in {loop_seconds:.1f} s -> "
              f"{loop_extrapolated:.0f} s extrapolated to the {settleable} settleable orders")

        if args.explain:
            explain(big, month, today)

        # (a) the monthly settlement of every provider, through the services.
        profiles = (SlowStatements(), SlowStatements()) if args.explain else (None, None)
        prepared, statements = prepare_all(actor, orgs, month, profiles[0])
        statements = list(Settlement.objects.filter(pk__in=[s.pk for s in statements]))
        ok = True
        n_in = n_held = 0
        total = held_total = Decimal(0)
        for s in statements:
            inc = expected.get((s.provider_id, False), (0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)))
            hld = expected.get((s.provider_id, True), (0, Decimal(0)))
            same = (s.order_count, s.total, s.subsidy, s.allowance, s.copay) == (
                inc[0], inc[1] or Decimal("0.00"), inc[2] or Decimal("0.00"), inc[3] or Decimal("0.00"),
                inc[4] or Decimal("0.00"))
            same = same and (s.held_count, s.held_total) == (hld[0], hld[1] or Decimal("0.00"))
            same = same and s.total == s.subsidy + s.allowance + s.copay
            ok = ok and same
            n_in, n_held = n_in + s.order_count, n_held + s.held_count
            total, held_total = total + s.total, held_total + s.held_total
        print(f"prepare: {len(statements)} statements, {n_in} orders {total} yuan included, {n_held} held back "
              f"({held_total} yuan), in {prepared:.1f} s")
        print(f"check: statements {'EQUAL' if ok else 'DIFFER FROM'} SUM over the orders to the fen "
              f"(count, total, subsidy, allowance, copay, held; per provider)")
        approved = approve_all(actor, statements, profiles[1])
        if args.explain:
            profiles[0].report("prepare_settlement")
            profiles[1].report("approve_settlement")
        print(f"approve: {len(statements)} statements approved in {approved:.1f} s (orders over "
              f"{services.SETTLE_INLINE_MAX} per statement are marked settled by the task queue)")
        # What the db_worker does next: the included orders become 已结算, in batches (timed apart: it is
        # bookkeeping after the statements are approved and payable).
        with Clock() as c:
            for s in statements:
                services.mark_orders_settled(settlement_id=s.pk, actor_id=actor.pk)
        marked = c.seconds
        settled = Order.objects.filter(status=OrderStatus.SETTLED).count()
        print(f"queue: {settled} orders marked settled in {marked:.1f} s "
              f"({'all included orders' if settled == n_in else 'MISMATCH'})")
        settlement_all = prepared + approved
        target = "met" if settlement_all < 30 else "missed"
        print(f"settlement: prepare + approve for all {len(orgs)} providers in {settlement_all:.1f} s "
              f"(target under 30 s: {target})")

        # (b) today's board of the provider with the most visits today.
        busiest = (Order.objects.filter(scheduled_start__date=today).order_by().values("provider_id")
                   .annotate(n=Count("pk")).order_by("-n").first())
        times, visits, columns, which = board(busiest["provider_id"], today)
        board_ms = statistics.median(times)
        print(f"board: {which} for one provider today: {visits} visits in {columns} columns, median "
              f"{board_ms:.0f} ms of 5 runs ({', '.join(f'{t:.0f}' for t in times)} ms)")

        ratio = loop_extrapolated / settlement_all if settlement_all else 0.0
        print(f"ratio: ORM loop extrapolated / set-based settlement = {ratio:.1f}")
        print(f"summary: orders={args.orders} elders={args.elders} settlement_all={settlement_all:.1f}s "
              f"prepare={prepared:.1f}s approve={approved:.1f}s mark_settled={marked:.1f}s board={board_ms:.0f}ms "
              f"orm_loop_extrapolated={loop_extrapolated:.0f}s ratio={ratio:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            reset_postgres(server, BENCH_DB, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
