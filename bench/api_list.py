"""Benchmark of the API's elder list (issue #13): 130,000 elders in 恩阳区 on PostgreSQL, the bureau against a street.

`GET /api/v1/elders` for the bureau (the whole county, with those registered there who live elsewhere) and for
a street worker (登科街道, about a twentieth of it), over HTTP against gunicorn serving the real WSGI app with a
bearer token, for three requests each:

1. first: the first page (25 elders, region order);
2. middle: a page from the middle of the scope (`offset` = half the count);
3. search: a filtered search (`q=wang&age_band=80-89`: pinyin prefix and a birth-date range).

Each is timed by one client in turn (latency) and by `--clients` concurrent clients (under load), and the script
prints p50/p95/p99, the throughput under load, and the ratio bureau / street of each p95 (target: page time
independent of the size of the scope; p95 under 100 ms). The baseline is what the endpoint did before: build
every elder of the bureau's scope in Python, then slice (timed once, in-process).

The register is generated set-based (INSERT … SELECT over generate_series, no ORM): residences over 恩阳区's real
communities, 15 % aged 80+, 3 % 低保 and 1 % 特困 categories, ~1 % registered (户籍) in the county but living in the
neighbouring 巴州区, 0.5 % deceased. ID numbers are dummy tokens (the list never decrypts them).

The database is a dedicated one (`yiyang_bench_api`, on the server of YIYANG_BENCH_PG_URL or DATABASE_URL, else
postgres://postgres@127.0.0.1:5432), dropped and created at the start and dropped at the end (unless --keep).
It never fails on speed. The last line is
``summary: elders=N bureau_p95=…ms street_p95=…ms ratio=… concurrent_p95=…ms baseline=…s``.

Usage: python bench/api_list.py [--elders 130000] [--requests 200] [--clients 8] [--workers 2] [--keep]
       [--no-baseline] [--explain]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiyang.settings")

from urllib.parse import urlencode, urlsplit  # noqa: E402

from benchlib.scratch import pg_server_url, reset_postgres, start_django, with_database  # noqa: E402
from benchlib.server import start_gunicorn, stop  # noqa: E402
from benchlib.sqlgen import insert_select  # noqa: E402

BENCH_DB = "yiyang_bench_api"
COUNTY = "511903"
STREET = "511903001"  # 登科街道
ELSEWHERE = "511902"  # 巴州区: where a few of the county's registered elders live
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
                "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN_NAMES = ("秀英 桂英 桂兰 玉兰 淑珍 秀兰 玉珍 凤英 翠兰 素珍 德明 德贵 明清 正清 洪发 福全 永福 长生 树林 德成 "
               "建国 国华 志华 建军 国庆 秀琼 素琼 德琼 桂琼 玉琼 光明 文才 富贵 天福 开明 玉梅 红梅 丽华 华英 春梅")
GIVEN = GIVEN_NAMES.split()
LIMIT = 25


# ------------------------------------------------------------------------------------------- generation


def generate(n: int, seed: int) -> dict:
    """The register, set-based. Names carry their pinyin (the list sorts and searches by it)."""
    from django.db import connection
    from pypinyin import lazy_pinyin

    from yiyang.core.models import Region
    from yiyang.registry.models import Elder, ElderCategory

    communities = list(Region.objects.filter(code__startswith=COUNTY, level="community").order_by("code")
                       .values_list("code", flat=True))
    elsewhere = list(Region.objects.filter(code__startswith=ELSEWHERE, level="community").order_by("code")
                     .values_list("code", flat=True))[:20]
    surname_py = ["".join(lazy_pinyin(s)) for s in SURNAMES]
    given_py = ["".join(lazy_pinyin(g)) for g in GIVEN]
    given_initials = ["".join(p[0] for p in lazy_pinyin(g)) for g in GIVEN]
    today = datetime.date.today()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_draw AS SELECT g AS i, random() AS u_age, random() AS u_year, "
            "random() AS u_day, random() AS u_place, 1 + floor(random() * %s)::int AS s, "
            "1 + floor(random() * %s)::int AS gi, random() AS u_sex, random() AS u_away, random() AS u_dead "
            "FROM generate_series(1, %s) g", [len(SURNAMES), len(GIVEN), n])
        age = ("CASE WHEN d.u_age < 0.15 THEN 80 + floor(20 * power(d.u_year, 1.8)) "
               "ELSE 60 + floor(20 * power(d.u_year, 1.3)) END")
        home = f"(%s::text[])[1 + floor(d.u_place * {len(communities)})::int]"
        away = f"(%s::text[])[1 + floor(d.u_place * {len(elsewhere)})::int]"
        insert_select(cursor, Elder, {
            "id_number": ("'bench:' || d.i", []),
            "id_number_hash": ("md5('bench' || d.i)", []),
            "id_number_masked": ("'511903**********' || lpad(mod(d.i, 100)::text, 2, '0')", []),
            "birth_date": (f"(%s::date - (({age}) * 365.25 + floor(d.u_day * 365))::int)", [today]),
            "sex": ("CASE WHEN d.u_sex < 0.46 THEN 'M' ELSE 'F' END", []),
            "name": ("(%s::text[])[d.s] || (%s::text[])[d.gi]", [SURNAMES, GIVEN]),
            "name_pinyin": ("(%s::text[])[d.s] || (%s::text[])[d.gi]", [surname_py, given_py]),
            "name_initials": ("left((%s::text[])[d.s], 1) || (%s::text[])[d.gi]", [surname_py, given_initials]),
            "hukou_region_id": (home, [communities]),
            "residence_region_id": (f"CASE WHEN d.u_away < 0.01 THEN {away} ELSE {home} END",
                                    [elsewhere, communities]),
            "county_code": (f"CASE WHEN d.u_away < 0.01 THEN '{ELSEWHERE}' ELSE '{COUNTY}' END", []),
            "status": ("CASE WHEN d.u_dead < 0.005 THEN 'deceased' ELSE 'active' END", []),
            "living_situation": ("'alone'", []),
            "phone": ("'138' || lpad(d.i::text, 8, '0')", []),
        }, "FROM bench_draw d ORDER BY d.i")
        cursor.execute("DROP TABLE bench_draw")
        cats = insert_select(cursor, ElderCategory, {
            "elder_id": ("x.id", []), "kind": ("CASE WHEN x.r < 0.01 THEN 'destitute' ELSE 'subsistence' END", []),
            "start_date": ("'2018-01-01'::date + floor(x.r2 * 2000)::int", []),
            "county_code": ("x.county_code", []),
        }, f"FROM (SELECT id, county_code, random() AS r, random() AS r2 FROM {Elder._meta.db_table}) x "
           "WHERE x.r < 0.04")
    # A register that has lived a while: statistics gathered and the visibility map set (as autovacuum leaves it),
    # which index-only scans rely on.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"seconds": time.perf_counter() - started, "categories": cats}


# ------------------------------------------------------------------------------------------- the server


class Client:
    """One keep-alive HTTP connection with a bearer token."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get(self, path: str, params: dict) -> tuple[float, dict]:
        started = time.perf_counter()
        self.conn.request("GET", f"{path}?{urlencode(params)}", headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {path} {params}: {response.status} {body[:300]!r}")
        return seconds, json.loads(body)


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def run(port: int, token: str, params: dict, requests: int, clients: int) -> tuple[dict, float]:
    """`requests` GETs spread over `clients` threads; returns the percentiles and the throughput."""
    samples: list[float] = []
    lock = threading.Lock()
    per_client = max(1, requests // clients)

    def work():
        client = Client(port, token)
        mine = [client.get("/api/v1/elders", params)[0] for _ in range(per_client)]
        with lock:
            samples.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return percentiles(samples), len(samples) / wall


# ------------------------------------------------------------------------------------------- measurements


def baseline_seconds(user) -> float:
    """What the endpoint did before issue #13: every elder of the scope built in Python, then a page sliced."""
    from django.utils import timezone

    from yiyang.registry import selectors
    from yiyang.registry.api import _elder_out

    started = time.perf_counter()
    qs = selectors.elders_for(user=user, filters=selectors.ElderFilters())
    qs = qs.prefetch_related("categories").defer("id_number", "bank_account")
    today = timezone.localdate()
    rows = [_elder_out(e, today, [c for c in e.categories.all() if c.active_on(today)]) for e in qs]
    rows[:LIMIT]
    return time.perf_counter() - started


def explain(user, params: dict) -> None:
    from django.db import connection

    from yiyang.registry import selectors

    filters = {k: v for k, v in params.items() if k not in ("limit", "offset")}
    qs = selectors.elders_for(user=user, filters=selectors.ElderFilters(**filters)).defer("id_number", "bank_account")
    offset = int(params.get("offset", 0))
    # What yiyang.api.pagination runs: the page's ids (the ordering is total already), then those rows; the count.
    ids = qs.values_list("pk", flat=True)[offset:offset + LIMIT]
    rows = qs.filter(pk__in=list(ids))
    for label, sql_qs in (("page ids", ids), ("page rows", rows), ("count", None)):
        if sql_qs is None:
            sql, sql_params = qs.order_by().values("id").query.sql_with_params()
            sql = f"SELECT COUNT(*) FROM ({sql}) c"
        else:
            sql, sql_params = sql_qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, sql_params)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"--- EXPLAIN ANALYZE {user.username} {label} {params}")
        print("\n".join(plan))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=130_000)
    parser.add_argument("--requests", type=int, default=200, help="per request kind, user and mode")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the load run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the page and count queries")
    args = parser.parse_args()

    server = pg_server_url()
    if not reset_postgres(server, BENCH_DB, otherwise="; this benchmark needs PostgreSQL"):
        print("summary: skipped (no PostgreSQL)")
        return 0
    database_url = with_database(server, BENCH_DB)
    start_django(database_url)
    from django.core.management import call_command

    from yiyang.core.models import Role, User
    from yiyang.core.services import issue_api_token, load_regions
    from yiyang.registry import selectors

    proc = None
    try:
        print(f"database: PostgreSQL ({urlsplit(server).hostname}, database {BENCH_DB}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        call_command("migrate", verbosity=0)
        load_regions()
        made = generate(args.elders, args.seed)
        print(f"register: {args.elders} elders, {made['categories']} categories in {made['seconds']:.1f} s")
        users = {"bureau": User.objects.create(username="bench-bureau", role=Role.BUREAU, region_id=COUNTY),
                 "street": User.objects.create(username="bench-street", role=Role.STREET, region_id=STREET)}
        tokens = {name: issue_api_token(user=u)[0] for name, u in users.items()}
        scope = {name: selectors.elders_for(user=u).count() for name, u in users.items()}
        print("scope: " + ", ".join(f"{name} {n} active elders" for name, n in scope.items()))

        proc, port = start_gunicorn(database_url, args.workers)
        print(f"server: gunicorn, {args.workers} workers, on 127.0.0.1:{port}")
        kinds = {
            "first": lambda n: {"limit": LIMIT},
            "middle": lambda n: {"limit": LIMIT, "offset": n // 2},
            "search": lambda n: {"limit": LIMIT, "q": "wang", "age_band": "80-89"},
        }
        results: dict = {}
        for name, token in tokens.items():
            for kind, params_of in kinds.items():
                params = params_of(scope[name])
                warm = Client(port, token)
                for _ in range(5):
                    _seconds, body = warm.get("/api/v1/elders", params)
                one, _rate = run(port, token, params, args.requests, 1)
                load, rate = run(port, token, params, args.requests, args.clients)
                results[(name, kind)] = (one, load, rate)
                print(f"{name:6} {kind:6} count={body['count']:6} items={len(body['items']):2}  one client: "
                      f"p50 {one['p50']:6.1f} p95 {one['p95']:6.1f} p99 {one['p99']:6.1f} ms   "
                      f"{args.clients} clients: p50 {load['p50']:6.1f} p95 {load['p95']:6.1f} "
                      f"p99 {load['p99']:6.1f} ms, {rate:5.1f} req/s")
        for kind in kinds:
            b, s = results[("bureau", kind)][0]["p95"], results[("street", kind)][0]["p95"]
            print(f"ratio bureau/street p95 {kind}: {b / s:.2f}")
        if args.explain:
            for name, user in users.items():
                for params_of in kinds.values():
                    explain(user, params_of(scope[name]))
        stop(proc)
        proc = None
        base = None
        if not args.no_baseline:
            base = baseline_seconds(users["bureau"])
            print(f"baseline: the bureau's first page built from the whole scope in Python: {base:.1f} s")
        bureau, street = results[("bureau", "first")][0]["p95"], results[("street", "first")][0]["p95"]
        worst = max(v[0]["p95"] for v in results.values())
        target = "met" if worst < 100 else "missed"
        print(f"target p95 under 100 ms for every request with one client: {target} (worst {worst:.1f} ms)")
        baseline = f"{base:.1f}s" if base is not None else "skipped"
        print(f"summary: elders={args.elders} bureau_p95={bureau:.1f}ms street_p95={street:.1f}ms "
              f"ratio={bureau / street:.2f} concurrent_p95={results[('bureau', 'first')][1]['p95']:.1f}ms "
              f"baseline={baseline}")
    finally:
        if proc is not None:
            stop(proc)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            reset_postgres(server, BENCH_DB, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
