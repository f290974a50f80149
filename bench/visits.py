"""Benchmark of the care visits (关爱巡访, issue 15): 1,000,000 elders on PostgreSQL under the model tiers.

Measured, on the services' real code path (`yiyang.visits`):

1. generation: `services.generate_month` for the month (every tier's windows, everyone the tiers place, with
   their responsible visitor), the set-based INSERT … SELECT of `generation.generate_tasks`;
2. re-run: the same again (idempotent: must make no task);
3. coverage: `selectors.coverage` for the whole region tree (county, streets, communities) after 60 % of the
   tasks are done, one GROUP BY over the coverage index and the roll-up;
4. baselines, on a sample of elders and extrapolated to all: the per-elder way of generating (for each elder its
   categories and level by the ORM, `rules.TierParams.tier_for` on their facts, the pairing, then
   `VisitTask.objects.create` for each window) and of counting coverage (each elder's tasks of the month by
   the ORM, summed per community in Python). Ratios = baseline extrapolated / set-based.

The register is generated set-based (INSERT … SELECT generate_series): ages 60+ with ~15 % aged 80+, living
alone ~7 %, empty nest ~7 %, left behind ~2.5 %, in an institution ~2.5 % (the rest with their children),
~1 % 特困, ~3 % 低保, ~1.5 % 重残, ~0.3 % 失独, a published ability level for ~10 %, over ~200 communities of 恩阳区;
about 30 % fall in a tier. Each community has four visitors; everyone in a tier is paired (responsible and
backup).

The database is a dedicated one (`yiyang_bench_visits`, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), dropped and created at the start and dropped at the end (unless --keep).
It never fails on speed. The last line is
``summary: elders=N tiered=T tasks=K generate=S rerun=S coverage=S loop_generate_extrapolated=S
ratio_generate=X loop_coverage_extrapolated=S ratio_coverage=Y``.

Usage: python bench/visits.py [--elders 1000000] [--baseline 2000] [--communities 200] [--seed 7] [--keep]
[--explain]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiyang.settings")

from urllib.parse import urlsplit  # noqa: E402

from benchlib.scratch import pg_server_url, reset_postgres, start_django, with_database  # noqa: E402
from benchlib.sqlgen import insert_select  # noqa: E402

BENCH_DB = "yiyang_bench_visits"
COUNTY = "511903"
VISITORS_PER_COMMUNITY = 4


class Clock:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


# ------------------------------------------------------------------------------------------- generation


def generate(n: int, seed: int, month: datetime.date, n_communities: int) -> list[str]:
    """The register, set-based: elders, categories, ability levels; then visitors and pairings."""
    from django.db import connection
    from django.utils import timezone

    from yiyang.assessment.models import Assessment
    from yiyang.core.models import Region, Role, User
    from yiyang.registry.models import Elder, ElderCategory

    every = list(Region.objects.filter(code__startswith=COUNTY, level="community").order_by("code")
                 .values_list("code", flat=True))
    # Spread over the whole county (every street), not its first few streets.
    k = min(n_communities, len(every))
    communities = [every[i * len(every) // k] for i in range(k)]
    long_ago = timezone.now() - datetime.timedelta(days=800)
    table = Elder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000.0])
        with Clock() as c:
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_draw AS SELECT g AS i, random() AS u_age, random() AS u_year, "
                "random() AS u_day, random() AS u_place, random() AS u_live, random() AS u_sex "
                "FROM generate_series(1, %s) g", [n])
            age = ("CASE WHEN d.u_age < 0.0005 THEN 100 + floor(d.u_year * 6) "
                   "WHEN d.u_age < 0.15 THEN 80 + floor(20 * power(d.u_year, 1.8)) "
                   "ELSE 60 + floor(20 * power(d.u_year, 1.3)) END")
            # The old live alone or in a home more often than the young-old.
            living = ("CASE WHEN d.u_live < 0.07 + 0.04 * (d.u_age < 0.15)::int THEN 'alone' "
                      "WHEN d.u_live < 0.14 + 0.04 * (d.u_age < 0.15)::int THEN 'empty_nest' "
                      "WHEN d.u_live < 0.165 + 0.04 * (d.u_age < 0.15)::int THEN 'left_behind' "
                      "WHEN d.u_live < 0.19 + 0.06 * (d.u_age < 0.15)::int THEN 'institution' "
                      "ELSE 'with_children' END")
            place = (f"(%s::text[])[1 + floor(d.u_place * {len(communities)})::int]", [communities])
            insert_select(cursor, Elder, {
                "id_number": ("'bench:' || d.i", []),
                "id_number_hash": ("md5('bench' || d.i)", []),
                "id_number_masked": ("'511903**********' || lpad(mod(d.i, 100)::text, 2, '0')", []),
                "birth_date": (f"(%s::date - (({age}) * 365.25 + floor(d.u_day * 365))::int)", [month]),
                "sex": ("CASE WHEN d.u_sex < 0.46 THEN 'M' ELSE 'F' END", []),
                "name": ("'老人' || d.i", []), "hukou_region_id": place, "residence_region_id": place,
                "county_code": ("%s", [COUNTY]), "status": ("'active'", []), "living_situation": (living, []),
                "created_at": ("%s", [long_ago]), "updated_at": ("%s", [long_ago]),
            }, "FROM bench_draw d ORDER BY d.i")
            cursor.execute("DROP TABLE bench_draw")
        print(f"elders: {n} over {len(communities)} communities in {c.seconds:.1f} s")

        with Clock() as c:
            kind = ("CASE WHEN x.r < 0.01 THEN 'destitute' WHEN x.r < 0.04 THEN 'subsistence' "
                    "WHEN x.r < 0.055 THEN 'severe_disability' ELSE 'bereaved_family' END")
            cats = insert_select(cursor, ElderCategory, {
                "elder_id": ("x.id", []), "kind": (kind, []),
                "start_date": ("('2012-01-01'::date + floor(x.r2 * 4700)::int)", []),
                "county_code": ("x.county_code", []), "updated_at": ("%s", [long_ago]),
            }, f"FROM (SELECT id, county_code, random() AS r, random() AS r2 FROM {table}) x WHERE x.r < 0.058")
        print(f"categories: {cats} (1 % 特困, 3 % 低保, 1.5 % 重残, 0.3 % 失独) in {c.seconds:.1f} s")

        with Clock() as c:
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
            }, f"FROM (SELECT e.id, e.county_code, e.residence_region_id, random() AS r, random() AS lv, "
               f"random() AS pd FROM {table} e) x WHERE x.r < 0.10")
        print(f"assessments: {assessed} published with a level in {c.seconds:.1f} s")
        cursor.execute("ANALYZE")
    return communities


def visitors_and_pairings(communities: list[str], month: datetime.date) -> tuple[int, int]:
    """Four visitors per community; everyone the tiers place this month paired with two of them."""
    from django.db import connection

    from yiyang.visits import generation, rules
    from yiyang.visits.defaults import MODEL_TIERS
    from yiyang.visits.models import Pairing, Visitor

    with connection.cursor() as cursor, Clock() as c:
        visitors = insert_select(cursor, Visitor, {
            "name": ("'巡访员' || c.code || '-' || s.k", []), "kind": ("'grid_worker'", []),
            "region_id": ("c.code", []), "region_code": ("c.code", []), "active": ("true", []),
        }, f"FROM unnest(%s::text[]) AS c(code) CROSS JOIN generate_series(0, {VISITORS_PER_COMMUNITY - 1}) s(k) "
           "ORDER BY c.code, s.k", [communities])
        cursor.execute(f"CREATE TEMPORARY TABLE bench_slot AS SELECT id, region_code, "
                       f"row_number() OVER (PARTITION BY region_code ORDER BY id) - 1 AS k "
                       f"FROM {Visitor._meta.db_table}")
        place = generation.placement(rules.parse(MODEL_TIERS), month=month, area_code=COUNTY)
        paired = insert_select(cursor, Pairing, {
            "elder_id": ("f.elder_id", []), "visitor_id": ("v.id", []), "backup_id": ("b.id", []),
            "since": ("%s", [month]), "region_code": ("f.region_code", []), "county_code": ("f.county_code", []),
        }, f"FROM ({place.sql}) f JOIN bench_slot v ON v.region_code = f.region_code "
           f"AND v.k = mod(f.elder_id, {VISITORS_PER_COMMUNITY}) JOIN bench_slot b ON b.region_code = f.region_code "
           f"AND b.k = mod(f.elder_id + 1, {VISITORS_PER_COMMUNITY}) WHERE f.tier IS NOT NULL",
            place.params)
        cursor.execute("DROP TABLE bench_slot")
        cursor.execute("ANALYZE")
    print(f"visitors: {visitors}; pairings: {paired} (everyone in a tier) in {c.seconds:.1f} s")
    return visitors, paired


# ------------------------------------------------------------------------------------------- baselines


class Rollback(Exception):
    pass


def loop_generate(sample: int, month: datetime.date, rule_set) -> tuple[float, dict]:
    """The per-elder way on the first `sample` elders (rolled back): facts by the ORM, the tier in Python, a
    task created per window. Returns (seconds, {elder_id: tier}) for the comparison."""
    from django.db import transaction

    from yiyang.assessment.models import Assessment
    from yiyang.registry.models import Elder, ElderCategory
    from yiyang.visits import generation, rules
    from yiyang.visits.models import Pairing, VisitTask

    params = rules.parse(rule_set.params)
    next_day = generation.day_start(month + datetime.timedelta(days=1))
    now = generation.day_start(month)
    placed: dict[int, str] = {}
    started = time.perf_counter()
    try:
        with transaction.atomic():
            for e in (Elder.objects.filter(status="active", county_code=COUNTY).order_by("pk")
                      .only("id", "birth_date", "living_situation", "residence_region_id", "county_code")[:sample]):
                kinds = frozenset(c.kind for c in ElderCategory.objects.filter(elder_id=e.pk)
                                  if c.start_date <= month and (c.end_date is None or c.end_date >= month))
                level = (Assessment.objects.filter(elder_id=e.pk, status__in=["published", "disputed"],
                                                   final_level__isnull=False, published_at__lt=next_day)
                         .order_by("-published_at", "-id").values_list("final_level", flat=True).first())
                facts = rules.Facts(age=rules.age_on(e.birth_date, month), living=e.living_situation,
                                    categories=kinds, level=level)
                tier = params.tier_for(facts)
                if tier is None:
                    continue
                placed[e.pk] = tier.code
                pairing = Pairing.objects.filter(elder_id=e.pk, until__isnull=True).first()
                for start, end in rules.windows(tier.period, month):
                    ws, due = generation.day_start(start), generation.day_start(end)
                    if due <= now or VisitTask.objects.filter(elder_id=e.pk, kind="scheduled",
                                                              window_start=ws).exists():
                        continue
                    VisitTask.objects.create(
                        elder_id=e.pk, kind="scheduled", tier=tier.code, rule_set=rule_set,
                        period_month=rules.month_start(end - datetime.timedelta(days=1)), window_start=ws,
                        due_at=due, remote_counts=tier.remote_counts,
                        visitor_id=pairing.visitor_id if pairing else None, region_code=e.residence_region_id,
                        county_code=e.county_code)
            raise Rollback
    except Rollback:
        pass
    return time.perf_counter() - started, placed


def loop_coverage(sample: int, month: datetime.date) -> tuple[float, dict]:
    """Coverage counted per elder on the first `sample` elders: each one's tasks of the month by the ORM."""
    from django.utils import timezone

    from yiyang.registry.models import Elder
    from yiyang.visits.models import VisitTask

    now = timezone.now()
    per: dict[str, list[int]] = {}
    started = time.perf_counter()
    for e in (Elder.objects.filter(county_code=COUNTY).order_by("pk")
              .only("id", "residence_region_id")[:sample]):
        for t in VisitTask.objects.filter(elder_id=e.pk, period_month=month).exclude(status="cancelled"):
            row = per.setdefault(t.region_code, [0, 0, 0])
            row[0] += 1
            row[1] += t.status == "done"
            row[2] += t.status == "open" and t.due_at < now
    return time.perf_counter() - started, per


def explain(month: datetime.date) -> None:
    from django.db import connection

    from yiyang.visits import generation, rules
    from yiyang.visits.defaults import MODEL_TIERS

    place = generation.placement(rules.parse(MODEL_TIERS), month=month, area_code=COUNTY)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) SELECT f.tier, COUNT(*) FROM (" + place.sql
                       + ") f GROUP BY f.tier", place.params)
        print("--- EXPLAIN ANALYZE placement")
        print("\n".join(row[0] for row in cursor.fetchall()))


# ------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elders", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the placement query")
    args = parser.parse_args()

    server = pg_server_url()
    if not reset_postgres(server, BENCH_DB, otherwise="; this benchmark needs PostgreSQL"):
        print("summary: skipped (no PostgreSQL)")
        return 0
    start_django(with_database(server, BENCH_DB))
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from yiyang.core.models import Region, Role, User
    from yiyang.core.services import load_regions
    from yiyang.visits import generation, rules, selectors, services
    from yiyang.visits.defaults import MODEL_TIERS
    from yiyang.visits.models import VisitTask

    try:
        print(f"database: PostgreSQL ({urlsplit(server).hostname}, database {BENCH_DB}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        with Clock() as c:
            call_command("migrate", verbosity=0)
            load_regions()
        print(f"setup: migrate and load regions in {c.seconds:.1f} s")
        bureau = User.objects.create(username="bench-bureau", role=Role.BUREAU, region_id=COUNTY,
                                     scope_code=COUNTY)
        # The month a quarter opens: every tier opens windows then (the heaviest month of generation).
        today = timezone.localdate()
        month = datetime.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        with Clock() as c:
            communities = generate(args.elders, args.seed, month, args.communities)
        print(f"register generated in {c.seconds:.1f} s")
        county = Region.objects.get(code=COUNTY)
        rule_set = services.draft_rule_set(actor=bureau, jurisdiction=county, params=MODEL_TIERS, valid_from=month)
        with Clock() as c:
            rule_set = services.adopt_rule_set(actor=bureau, rule_set=rule_set)  # simulates: nobody left out
        print(f"rules: model tiers adopted (the simulation over everyone) in {c.seconds:.1f} s")
        sim = generation.simulate(rules.parse(MODEL_TIERS), month=month, area_code=COUNTY)
        tiered = sim.people
        print("tiers: " + ", ".join(f"{t.code} {t.people} ({t.period})" for t in sim.tiers)
              + f"; {tiered} in a tier ({100 * tiered / args.elders:.1f} %)")
        visitors_and_pairings(communities, month)

        sample = min(args.baseline, args.elders)
        loop_gen_seconds, loop_placed = loop_generate(sample, month, rule_set)
        loop_gen = loop_gen_seconds * args.elders / sample
        print(f"baseline: per-elder generation over {sample} elders in {loop_gen_seconds:.1f} s "
              f"({len(loop_placed)} in a tier) -> {loop_gen:.0f} s extrapolated to {args.elders}")

        # Generation as the task worker runs it on the 1st (every window of the month still ahead).
        with Clock() as c:
            made = services.generate_month(month=month, now=generation.day_start(month))
        gen_seconds = c.seconds
        target = "met" if gen_seconds < 30 else "missed"
        print(f"generation: {made} tasks for {month:%Y-%m} in {gen_seconds:.1f} s (target under 30 s: {target})")
        with Clock() as c:
            again = services.generate_month(month=month, now=generation.day_start(month))
        print(f"re-run: {again} tasks made (idempotent) in {c.seconds:.1f} s")
        rerun_seconds = c.seconds
        ids = sorted(loop_placed)
        # Tasks opened this month (a quarter's counts in its last month's coverage, so not by period_month).
        opened = (generation.day_start(month), generation.day_start(rules.add_months(month, 1)))
        set_placed = dict(VisitTask.objects.filter(elder_id__in=ids, window_start__gte=opened[0],
                                                   window_start__lt=opened[1]).values_list("elder_id", "tier")
                          .distinct())
        print(f"check: set-based and per-elder placement {'agree' if set_placed == loop_placed else 'DISAGREE'} "
              f"on the sample ({len(set_placed)} vs {len(loop_placed)} people in a tier)")

        with connection.cursor() as cursor:
            # 60 % done, a few of them late; the rest open (overdue once their window is over).
            cursor.execute(f"UPDATE {VisitTask._meta.db_table} SET status = 'done', done_at = window_start + "
                           f"(due_at - window_start) * (0.1 + 0.95 * random()) WHERE random() < 0.6")
            cursor.execute("ANALYZE")
        with Clock() as c:
            cov = selectors.coverage(bureau, month=month)
        cov_seconds = c.seconds
        total = cov["total"]
        target = "met" if cov_seconds < 5 else "missed"
        print(f"coverage: {len(cov['communities'])} communities, {len(cov['streets'])} streets, "
              f"{len(cov['counties'])} county; {total.done}/{total.due} done ({total.rate:.1%}), {total.overdue} "
              f"overdue, in {cov_seconds:.2f} s (target under 5 s: {target})")
        loop_cov_seconds, per = loop_coverage(sample, month)
        loop_cov = loop_cov_seconds * args.elders / sample
        print(f"baseline: per-elder coverage over {sample} elders in {loop_cov_seconds:.1f} s "
              f"({sum(r[0] for r in per.values())} tasks) -> {loop_cov:.0f} s extrapolated to {args.elders}")
        if args.explain:
            explain(month)
        ratio_gen = loop_gen / gen_seconds
        ratio_cov = loop_cov / cov_seconds
        print(f"ratio: generation {ratio_gen:.1f}, coverage {ratio_cov:.1f} (target at least 20)")
        print(f"summary: elders={args.elders} tiered={tiered} tasks={made} generate={gen_seconds:.1f}s "
              f"rerun={rerun_seconds:.1f}s coverage={cov_seconds:.2f}s loop_generate_extrapolated={loop_gen:.0f}s "
              f"ratio_generate={ratio_gen:.1f} loop_coverage_extrapolated={loop_cov:.0f}s "
              f"ratio_coverage={ratio_cov:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            reset_postgres(server, BENCH_DB, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
