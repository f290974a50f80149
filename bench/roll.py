"""Benchmark of the monthly benefit roll (issue #6): 1,000,000 elders on PostgreSQL, three programmes.

Measured, on the services' real code path (`yiyang.benefits.services`):

1. roll: `create_roll` + `generate_roll` for this month for 高龄津贴, 护理补贴 and 特困照护补贴 (the set-based
   INSERT … SELECT of the engine, then the checks before payment, bank accounts decrypted included);
2. re-run: the same three again (must write no line: counts and the highest line id unchanged);
3. simulation: `services.simulate` of 高龄津贴 with the 90–99 band at 150 yuan, over the million;
4. baseline: the per-elder ORM way on a 20,000-elder sample (for each elder: its categories, level and status
   events by the ORM, the amount of each programme in Python, `RollLine.objects.create` one by one),
   extrapolated to the million. Ratio = baseline extrapolated / set-based roll.

The register is generated set-based (INSERT … SELECT generate_series, bypassing the ORM): ages 60+ with ~15 %
aged 80+ and a few centenarians, residences over 恩阳区's real communities, ~3 % 低保, ~1 % 特困, ~2 % 经济困难
(a few 低保边缘), published assessments with a level for ~10 % (more among the poor and the old), a few thousand
deaths, moves and departures in the last year. ID numbers are dummy tokens (the roll never reads them). Bank
accounts are Fernet tokens, because the checks decrypt them: every elder who can appear on a roll (aged 79+
or in a category) gets a distinct valid UnionPay number (encrypted in Python, the time is printed); the others
share one token, which is harmless because the shared-account check only looks at people on the roll.

The database is a dedicated one (`yiyang_bench_roll`, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), dropped and created at the start and dropped at the end (unless --keep).
It never fails on speed. The last line is
``summary: elders=N roll_3_programmes=S rerun=S simulation=S orm_loop_extrapolated=S ratio=X``.

Usage: python bench/roll.py [--elders 1000000] [--baseline 20000] [--seed 7] [--keep] [--explain] [--no-jit]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
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

BENCH_DB = "yiyang_bench_roll"
COUNTY = "511903"
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
                "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
                "苟蒲岳母冉鲜")
GIVEN_NAMES = ("秀英 桂英 桂兰 玉兰 淑珍 秀兰 玉珍 凤英 翠兰 素珍 德明 德贵 明清 正清 洪发 福全 永福 长生 树林 "
               "德成 建国 国华 志华 建军 国庆 秀琼 素琼 德琼 桂琼 玉琼 光明 文才 富贵 天福 开明 玉梅 红梅 丽华 "
               "华英 春梅 英 兰 珍 秀 贵 福 林 清 明 华")
GIVEN = GIVEN_NAMES.split()
BANKS = ["四川农信", "中国邮政储蓄银行", "中国农业银行", "巴中农商银行", "中国工商银行"]


class Clock:
    def __init__(self, label: str):
        self.label = label

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


# ------------------------------------------------------------------------------------------- generation


def luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def generate(n: int, seed: int, month: datetime.date) -> None:
    """The register, set-based: elders, categories, assessments, status events, bank accounts."""
    from django.db import connection
    from django.utils import timezone

    from yiyang.assessment.models import Assessment
    from yiyang.benefits import rules
    from yiyang.core import pii
    from yiyang.core.models import Region, Role, User
    from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

    communities = list(Region.objects.filter(code__startswith=COUNTY, level="community").order_by("code")
                       .values_list("code", flat=True))
    long_ago = timezone.now() - datetime.timedelta(days=800)  # registered before any month the roll looks at
    year_ago = month - datetime.timedelta(days=365)
    table = Elder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        with Clock("elders") as c:
            # One set of random draws per elder, so that the columns agree with each other (name and holder).
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_draw AS SELECT g AS i, random() AS u_age, random() AS u_year, "
                "random() AS u_day, random() AS u_place, random() AS u_name, random() AS u_given, random() AS u_sex, "
                "random() AS u_bank FROM generate_series(1, %s) g", [n])
            # 85 % aged 60–79 (fewer at each older year), 15 % aged 80–99 (rarer with age), 0.05 % aged 100–105.
            age = ("CASE WHEN d.u_age < 0.0005 THEN 100 + floor(d.u_year * 6) "
                   "WHEN d.u_age < 0.15 THEN 80 + floor(20 * power(d.u_year, 1.8)) "
                   "ELSE 60 + floor(20 * power(d.u_year, 1.3)) END")
            name = (f"(%s::text[])[1 + floor(d.u_name * {len(SURNAMES)})::int] || "
                    f"(%s::text[])[1 + floor(d.u_given * {len(GIVEN)})::int]")
            place = (f"(%s::text[])[1 + floor(d.u_place * {len(communities)})::int]", [communities])
            shared = pii.encrypt("6214570000000000018")
            insert_select(cursor, Elder, {
                "id_number": ("'bench:' || d.i", []),  # not a real token: the roll never reads it
                "id_number_hash": ("md5('bench' || d.i)", []),
                "id_number_masked": ("'511903**********' || lpad(mod(d.i, 100)::text, 2, '0')", []),
                "birth_date": (f"(%s::date - (({age}) * 365.25 + floor(d.u_day * 365))::int)", [month]),
                "sex": ("CASE WHEN d.u_sex < 0.46 THEN 'M' ELSE 'F' END", []),
                "name": (name, [SURNAMES, GIVEN]), "bank_account_holder": (name, [SURNAMES, GIVEN]),
                "hukou_region_id": place, "residence_region_id": place, "county_code": ("%s", [COUNTY]),
                "status": ("'active'", []), "living_situation": ("'alone'", []),
                "bank_name": (f"(%s::text[])[1 + floor(d.u_bank * {len(BANKS)})::int]", [BANKS]),
                "bank_account": ("%s", [shared]), "created_at": ("%s", [long_ago]), "updated_at": ("%s", [long_ago]),
            }, "FROM bench_draw d ORDER BY d.i")
            cursor.execute("DROP TABLE bench_draw")
        print(f"elders: {n} in {c.seconds:.1f} s")

        with Clock("categories") as c:
            kind = ("CASE WHEN x.r < 0.01 THEN 'destitute' WHEN x.r < 0.04 THEN 'subsistence' "
                    "WHEN x.r < 0.06 THEN 'low_income' ELSE 'near_subsistence' END")
            start = "('2012-01-01'::date + floor(x.r2 * 4700)::int)"
            cats = insert_select(cursor, ElderCategory, {
                "elder_id": ("x.id", []), "kind": (kind, []), "start_date": (start, []),
                "end_date": (f"CASE WHEN x.r BETWEEN 0.01 AND 0.04 AND x.r3 < 0.05 THEN {start} + 400 END", []),
                "county_code": ("x.county_code", []), "updated_at": ("%s", [long_ago]),
            }, f"FROM (SELECT id, county_code, random() AS r, random() AS r2, random() AS r3 FROM {table}) x "
               "WHERE x.r < 0.065")
        print(f"categories: {cats} (1 % 特困, 3 % 低保, 2 % 经济困难, 0.5 % 低保边缘) in {c.seconds:.1f} s")

        with Clock("assessments") as c:
            staff = [User.objects.create(username=f"bench-assessor{k}", role=Role.ASSESSOR).pk for k in range(3)]
            level = ("CASE WHEN x.lv < 0.30 THEN 0 WHEN x.lv < 0.58 THEN 1 WHEN x.lv < 0.78 THEN 2 "
                     "WHEN x.lv < 0.91 THEN 3 ELSE 4 END")
            published = "(%s::timestamptz - ((30 + floor(x.pd * 330)) * interval '1 day'))"
            assessed = insert_select(cursor, Assessment, {
                "elder_id": ("x.id", []), "county_code": ("x.county_code", []),
                "region_code": ("x.residence_region_id", []), "reason": ("'first'", []),
                "status": ("'published'", []), "total": ("0", []), "preliminary_level": (level, []),
                "final_level": (level, []), "published_at": (published, [timezone.now()]),
                "requested_at": (published, [timezone.now()]), "valid_until": ("%s::date + 180", [month]),
                "assessor_1_id": ("%s", [staff[0]]), "assessor_2_id": ("%s", [staff[1]]),
                "reviewed_by_id": ("%s", [staff[2]]), "reviewed_at": (published, [timezone.now()]),
            }, f"FROM (SELECT e.id, e.county_code, e.residence_region_id, e.birth_date, random() AS r, "
               f"random() AS lv, random() AS pd, EXISTS (SELECT 1 FROM {ElderCategory._meta.db_table} c "
               f"WHERE c.elder_id = e.id) AS poor FROM {table} e) x "
               "WHERE x.r < CASE WHEN x.poor THEN 0.6 WHEN x.birth_date <= %s THEN 0.25 ELSE 0.04 END",
                [rules.born_by(month, 80)])
        print(f"assessments: {assessed} published with a level ({100 * assessed / n:.1f} %) in {c.seconds:.1f} s")

        with Clock("events") as c:
            # 0.3 % died, 0.1 % moved inside the county, 0.05 % moved away, in the last year, registered 3 days on.
            cursor.execute(
                f"CREATE TEMPORARY TABLE bench_event AS SELECT id, residence_region_id, county_code, "
                f"CASE WHEN r < 0.003 THEN 'death' WHEN r < 0.004 THEN 'relocate' ELSE 'move_out' END AS kind, "
                f"%s::date + floor(r2 * 360)::int AS day, "
                f"(%s::text[])[1 + floor(r3 * {len(communities)})::int] AS target "
                f"FROM (SELECT id, residence_region_id, county_code, random() AS r, random() AS r2, random() AS r3 "
                f"FROM {table}) x WHERE r < 0.0045", [year_ago, communities])
            recorded = "(ev.day + interval '3 days' + interval '10 hours')::timestamptz"
            events = insert_select(cursor, ElderStatusEvent, {
                "elder_id": ("ev.id", []), "kind": ("ev.kind", []), "effective_date": ("ev.day", []),
                "recorded_at": (recorded, []), "from_region_id": ("ev.residence_region_id", []),
                "to_region_id": ("CASE WHEN ev.kind = 'relocate' THEN ev.target END", []),
                "county_code": ("ev.county_code", []), "note": ("'bench'", []),
            }, "FROM bench_event ev")
            cursor.execute(
                f"UPDATE {table} e SET status = CASE ev.kind WHEN 'death' THEN 'deceased' WHEN 'move_out' "
                f"THEN 'moved_out' ELSE 'active' END, status_date = ev.day, residence_region_id = CASE WHEN "
                f"ev.kind = 'relocate' THEN ev.target ELSE e.residence_region_id END FROM bench_event ev "
                f"WHERE ev.id = e.id")
            cursor.execute("DROP TABLE bench_event")
        print(f"status events: {events} (deaths, moves, departures) in {c.seconds:.1f} s")

        with Clock("accounts") as c:
            # Everyone who can be on a roll gets a distinct valid account (the checks decrypt and compare them).
            cursor.execute(f"SELECT id FROM {table} WHERE birth_date <= %s OR id IN (SELECT elder_id FROM "
                           f"{ElderCategory._meta.db_table}) ORDER BY id", [rules.born_by(month, 79)])
            ids = [row[0] for row in cursor.fetchall()]
            with Clock("encrypt") as enc:
                rows = [(pk, pii.encrypt(luhn(f"621799{pk:012d}"))) for pk in ids]
            cursor.execute("CREATE TEMPORARY TABLE bench_account (id bigint PRIMARY KEY, token text)")
            with cursor.copy("COPY bench_account (id, token) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"UPDATE {table} e SET bank_account = a.token FROM bench_account a WHERE a.id = e.id")
            cursor.execute("DROP TABLE bench_account")
        print(f"bank accounts: {len(ids)} distinct (aged 79+ or in a category) in {c.seconds:.1f} s, of which "
              f"{enc.seconds:.1f} s encrypting; the other elders share one token")
        with Clock("analyze") as c:
            cursor.execute("ANALYZE")
        print(f"analyze: {c.seconds:.1f} s")


# ------------------------------------------------------------------------------------------- the rules


def setup_rules(actor, month: datetime.date) -> dict:
    from yiyang.benefits import services
    from yiyang.benefits.examples import PROGRAMMES, RULES
    from yiyang.benefits.models import Programme
    from yiyang.core.models import Region

    county = Region.objects.get(code=COUNTY)
    out = {}
    for position, (code, kind, name, bank, description) in enumerate(PROGRAMMES, start=1):
        programme, _ = Programme.objects.update_or_create(code=code, defaults={
            "kind": kind, "name": name, "pays_to_bank": bank, "description": description, "position": position})
        if code in RULES:
            params, note, source = RULES[code]
            rule = services.adopt_rule(actor=actor, programme=programme, jurisdiction=county, params=params,
                                       valid_from=month, note=note, source=source)
            out[code] = (programme, rule)
    return out


# ------------------------------------------------------------------------------------------- measurements


def orm_loop(sample: int, programmes: dict, month: datetime.date) -> tuple[float, dict]:
    """The per-elder way on the first `sample` elders, in a transaction rolled back at the end.
    Returns (seconds, {(elder_id, code): amount}) for the comparison with the engine."""
    from django.db import transaction

    from yiyang.assessment.models import Assessment
    from yiyang.benefits import rules
    from yiyang.benefits.models import Roll, RollLine
    from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

    class Rollback(Exception):
        pass

    parsed = {code: (programme, rule, rules.parse(rule.params)) for code, (programme, rule) in programmes.items()}
    next_day = datetime.datetime.combine(month + datetime.timedelta(days=1), datetime.time.min)
    from django.utils import timezone

    next_day = timezone.make_aware(next_day)
    result: dict = {}
    started = time.perf_counter()
    try:
        with transaction.atomic():
            rolls = {code: Roll.objects.create(programme=p, jurisdiction_id=COUNTY, month=month, status="draft")
                     for code, (p, _r, _pp) in parsed.items()}
            elders = (Elder.objects.filter(county_code=COUNTY).order_by("pk")
                      .only("id", "birth_date", "residence_region_id", "county_code", "status", "status_date",
                            "living_situation")[:sample])
            for e in elders:
                categories = [c for c in ElderCategory.objects.filter(elder_id=e.pk)
                              if c.start_date <= month and (c.end_date is None or c.end_date >= month)]
                kinds = {c.kind for c in categories}
                level = (Assessment.objects.filter(elder_id=e.pk, status__in=["published", "disputed"],
                                                   final_level__isnull=False, published_at__lt=next_day)
                         .order_by("-published_at", "-id").values_list("final_level", flat=True).first())
                events = list(ElderStatusEvent.objects.filter(elder_id=e.pk).order_by("effective_date", "recorded_at",
                                                                                     "id"))
                if any(x.kind == "death" and x.effective_date < month for x in events):
                    continue
                status_events = [x for x in events if x.kind in ("move_out", "move_in", "suspend", "resume")]
                before = [x for x in status_events if x.effective_date <= month]
                after = [x for x in status_events if x.effective_date > month]
                if before:
                    present = before[-1].kind in ("move_in", "resume")
                elif after:
                    present = after[0].kind != "move_in"
                else:
                    present = e.status == "active" or (e.status_date is not None and e.status_date > month) or (
                        e.status == "deceased" and e.status_date == month)
                if not present:
                    continue
                moves = [x for x in events if x.kind in ("relocate", "move_in", "move_out")]
                region = next((x.to_region_id for x in reversed(moves) if x.effective_date <= month
                               and x.kind != "move_out"), None) or next(
                    (x.from_region_id for x in moves if x.effective_date > month and x.kind != "move_in"),
                    None) or e.residence_region_id
                if not region.startswith(COUNTY):
                    continue
                age = rules.age_on(e.birth_date, month)
                for code, (programme, rule, p) in parsed.items():
                    if age < p.min_age or (p.max_age is not None and age > p.max_age):
                        continue
                    if p.categories and not kinds & set(p.categories):
                        continue
                    if p.levels and level not in p.levels:
                        continue
                    amount, band, category = None, "", ""
                    if p.amount_kind == "age_bands":
                        for b in p.bands:
                            if age >= b.min_age and (b.max_age is None or age <= b.max_age):
                                amount, band = b.amount, b.label
                    elif p.amount_kind == "level_table":
                        matches = [r for r in p.table if (r.level is None or r.level == level)
                                   and (not r.category or r.category in kinds)]
                        if matches:
                            best = max(matches, key=lambda r: r.amount)
                            amount, category = best.amount, best.category
                    else:
                        amount = p.fixed_amount
                    if amount is None:
                        continue
                    RollLine.objects.create(roll=rolls[code], elder_id=e.pk, programme=programme, month=month,
                                            for_month=month, amount=amount, rule=rule, age=age, level=level,
                                            category=category, band=band, county_code=region[:6],
                                            region_code=region)
                    result[(e.pk, code)] = amount
            raise Rollback
    except Rollback:
        pass
    return time.perf_counter() - started, result


def timed_engine():
    """Wrap the engine's steps with timers (the roll's own breakdown)."""
    from yiyang.benefits import engine

    spent: dict[str, float] = {}
    for name in ("regular_lines", "adjustment_lines", "run_checks", "refresh_totals"):
        original = getattr(engine, name)

        def wrapper(*args, _original=original, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t

        setattr(engine, name, wrapper)
    return spent


def roll_all(actor, programmes: dict, month: datetime.date, label: str) -> tuple[float, dict]:
    from yiyang.benefits import services
    from yiyang.benefits.models import RollCheck, RollLine
    from yiyang.core.models import Region

    county = Region.objects.get(code=COUNTY)
    total = 0.0
    out = {}
    for code, (programme, _rule) in programmes.items():
        with Clock(code) as c:
            roll = services.create_roll(actor=actor, programme=programme, jurisdiction=county, month=month)
            roll = services.generate_roll(actor=actor, roll=roll)
        total += c.seconds
        max_line = RollLine.objects.filter(roll=roll).order_by("-pk").values_list("pk", flat=True).first()
        checks = RollCheck.objects.filter(roll=roll)
        out[code] = (roll.line_count, roll.total_amount, max_line, checks.count(),
                     checks.order_by("-pk").values_list("pk", flat=True).first())
        print(f"{label}: {programme.name} {roll.line_count} lines, {roll.total_amount} yuan, {roll.open_checks} "
              f"checks, in {c.seconds:.1f} s")
    return total, out


def explain(programmes: dict, month: datetime.date) -> None:
    from django.db import connection

    from yiyang.benefits import engine, rules
    from yiyang.benefits.models import BenefitSettings
    from yiyang.core.models import Region

    settings = BenefitSettings.for_region(Region.objects.get(code=COUNTY))
    for code, (_programme, rule) in programmes.items():
        q = engine.entitlement(params=rules.parse(rule.params), rule_id=rule.pk, month=month,
                               jurisdiction_code=COUNTY, settings=settings)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q.sql, q.params)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"--- EXPLAIN ANALYZE entitlement {code}")
        print("\n".join(plan))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the entitlement queries")
    parser.add_argument("--no-jit", action="store_true",
                        help="ALTER DATABASE … SET jit = off (LLVM compiles the large entitlement queries for seconds)")
    args = parser.parse_args()

    server = pg_server_url()
    if not reset_postgres(server, BENCH_DB, otherwise="; this benchmark needs PostgreSQL"):
        print("summary: skipped (no PostgreSQL)")
        return 0
    if args.no_jit:
        import psycopg

        with psycopg.connect(server.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {BENCH_DB} SET jit = off")
    start_django(with_database(server, BENCH_DB))
    from django.core.management import call_command
    from django.utils import timezone

    from yiyang.benefits import services
    from yiyang.benefits.examples import LONGEVITY
    from yiyang.benefits.models import RollLine
    from yiyang.core.models import Region, Role, User
    from yiyang.core.services import load_regions

    try:
        print(f"database: PostgreSQL ({urlsplit(server).hostname}, database {BENCH_DB}, jit "
              f"{'off' if args.no_jit else 'as the server sets it'}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        with Clock("setup") as c:
            call_command("migrate", verbosity=0)
            load_regions()
        print(f"setup: migrate and load regions in {c.seconds:.1f} s")
        actor = User.objects.create(username="bench-bureau", role=Role.BUREAU, region_id=COUNTY)
        month = timezone.localdate().replace(day=1)
        with Clock("generate") as c:
            generate(args.elders, args.seed, month)
        print(f"register generated in {c.seconds:.1f} s")
        programmes = setup_rules(actor, month)

        sample = min(args.baseline, args.elders)
        loop_seconds, loop_lines = orm_loop(sample, programmes, month)
        loop_extrapolated = loop_seconds * args.elders / sample
        print(f"baseline: per-elder ORM loop over {sample} elders in {loop_seconds:.1f} s ({len(loop_lines)} lines) "
              f"-> {loop_extrapolated:.0f} s extrapolated to {args.elders}")

        spent = timed_engine()
        roll_seconds, first = roll_all(actor, programmes, month, "roll")
        print("roll breakdown: " + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())
              + f", workflow and bookkeeping {roll_seconds - sum(spent.values()):.1f} s")
        target = "met" if roll_seconds < 60 else "missed"
        print(f"roll: 3 programmes, {sum(v[0] for v in first.values())} lines in {roll_seconds:.1f} s "
              f"(target under 60 s: {target})")
        # The engine and the loop agree on the sample.
        sample_ids = sorted({pk for pk, _code in loop_lines} | set(
            RollLine.objects.filter(month=month, elder_id__lte=max((pk for pk, _ in loop_lines), default=0))
            .values_list("elder_id", flat=True)))
        engine_lines = {(pk, code): amount for pk, code, amount in RollLine.objects.filter(
            month=month, elder_id__in=sample_ids[:sample]).values_list("elder_id", "programme__code", "amount")}
        loop_sample = {k: v for k, v in loop_lines.items() if k[0] in set(sample_ids[:sample])}
        agree = engine_lines == loop_sample
        print(f"check: engine and ORM loop {'agree' if agree else 'DISAGREE'} on the sample "
              f"({len(engine_lines)} vs {len(loop_sample)} lines, {sum(engine_lines.values(), Decimal(0))} vs "
              f"{sum(loop_sample.values(), Decimal(0))} yuan)")

        spent.clear()
        rerun_seconds, second = roll_all(actor, programmes, month, "re-run")
        same = all(first[k][:3] == second[k][:3] for k in first)
        checks_kept = all(first[k][3:] == second[k][3:] for k in first)
        checks_note = "kept as they were (nothing changed: not recomputed)" if checks_kept else "recomputed"
        print("re-run breakdown: " + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()))
        print(f"re-run: {'no line written (counts, totals and highest line id unchanged)' if same else 'LINES CHANGED'}"
              f" in {rerun_seconds:.1f} s; checks {checks_note} ({sum(v[3] for v in second.values())} in all)")

        county = Region.objects.get(code=COUNTY)
        proposed = json.loads(json.dumps(LONGEVITY))
        proposed["bands"][1]["amount"] = "150"
        with Clock("simulation") as c:
            result = services.simulate(actor=actor, programme=programmes["longevity"][0], jurisdiction=county,
                                       month=month, params=proposed)
        t = result["total"]
        print(f"simulation: 90–99 band at 150 yuan: {t['current_cost']} -> {t['proposed_cost']} yuan a month "
              f"(+{t['change']}, {t['gaining']} people gain, {len(result['regions'])} streets) in {c.seconds:.1f} s")
        if args.explain:
            explain(programmes, month)
        ratio = loop_extrapolated / roll_seconds
        print(f"ratio: ORM loop extrapolated / set-based roll = {ratio:.1f} (target at least 20)")
        print(f"summary: elders={args.elders} roll_3_programmes={roll_seconds:.1f}s rerun={rerun_seconds:.1f}s "
              f"simulation={c.seconds:.1f}s orm_loop_extrapolated={loop_extrapolated:.0f}s ratio={ratio:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            reset_postgres(server, BENCH_DB, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
