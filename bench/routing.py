"""Benchmark of the caregiver route planner's solving core.

1. Solomon VRPTW instances (VRPLIB format, best-known solutions beside them): the planner core
   (``yiyang.routing.solver.solve_matrix``, the function ``plan()`` also calls) against the
   best-known cost, DIMACS convention (distances and times x10, truncated; vehicle count free).
2. The same instances with OR-Tools' routing solver (parallel cheapest insertion, then guided local
   search; same time limit, same integer data) as the baseline.
3. Provider days through ``plan()`` (12 and 50 visits): the page's 10 s / 10 000 iterations with the full
   budget, then with the stall stop, time and cost side by side.
4. A realistic county day through ``plan()``: 400 visits, 40 caregivers, skills, continuity, locks,
   breaks, mixed travel modes, checked with ``check_plan``.

The last line is ``summary: instances=N avg_gap=..% ortools_avg_gap=..% ratio=.. failures=a/N
ortools_failures=b/N`` (ratio = OR-Tools' average gap / ours).

Usage: python bench/routing.py [--instances DIR] [--seconds S] [--only C101,R101] [--no-ortools]
                               [--no-day] [--day-only] [--day-seconds S] [--seed N]
                               [--provider-days] [--no-provider-days]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yiyang.routing.solver import (  # noqa: E402
    Break,
    Caregiver,
    PlanOptions,
    Visit,
    VrptwInstance,
    check_plan,
    dimacs_distance_matrix,
    plan,
    read_vrplib,
    read_vrplib_solution,
    route_cost,
    solve_matrix,
    vrptw_to_matrix_instance,
)

DEFAULT_INSTANCES = ROOT.parent / "shared" / "bench-data" / "solomon"


def _gap(cost: float, bks: float) -> float:
    return 100.0 * (cost - bks) / bks


def run_ours(inst: VrptwInstance, seconds: float, seed: int) -> tuple[float | None, float]:
    """Cost (in original units) of the planner core's solution, or None when infeasible."""
    data = vrptw_to_matrix_instance(inst)
    started = time.perf_counter()
    sol = solve_matrix(data, seed=seed, time_limit=seconds)
    elapsed = time.perf_counter() - started
    if not sol.feasible or sol.unassigned:
        return None, elapsed
    # Recompute the cost independently from the routes.
    routes = [[data.clients[c].location for c in r.clients] for r in sol.routes]
    cost = route_cost(data.profiles[0].cost, routes)
    return cost / 10, elapsed


def run_ortools(inst: VrptwInstance, seconds: float) -> tuple[float | None, float]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    dist = dimacs_distance_matrix(inst.coords)
    n = len(dist)
    service = [int(10 * s) for s in inst.service]
    early = [int(10 * tw[0]) for tw in inst.time_windows]
    late = [int(10 * tw[1]) for tw in inst.time_windows]
    horizon = late[0]

    manager = pywrapcp.RoutingIndexManager(n, inst.vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    dist_list = dist.tolist()
    arc = routing.RegisterTransitMatrix(dist_list)
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    times = [[dist_list[i][j] + service[i] for j in range(n)] for i in range(n)]
    time_cb = routing.RegisterTransitMatrix(times)
    routing.AddDimension(time_cb, horizon, horizon, False, "Time")
    time_dim = routing.GetDimensionOrDie("Time")
    for node in range(1, n):
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(early[node], late[node])
    for v in range(inst.vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(early[0], late[0])
        time_dim.CumulVar(routing.End(v)).SetRange(early[0], late[0])
    demand_cb = routing.RegisterUnaryTransitVector([int(d) for d in inst.demands])
    routing.AddDimensionWithVehicleCapacity(demand_cb, 0, [inst.capacity] * inst.vehicles, True, "Load")

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))

    started = time.perf_counter()
    solution = routing.SolveWithParameters(params)
    elapsed = time.perf_counter() - started
    if solution is None:
        return None, elapsed
    routes = []
    for v in range(inst.vehicles):
        index = routing.Start(v)
        route = []
        index = solution.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    if sorted(c for r in routes for c in r) != list(range(1, n)):
        return None, elapsed
    return route_cost(dist, routes) / 10, elapsed


def solomon(args: argparse.Namespace) -> tuple[list[float], int, list[float], int, int]:
    directory = Path(args.instances)
    files = sorted(directory.glob("*.vrp"))
    if args.only:
        wanted = {name.strip().upper() for name in args.only.split(",")}
        files = [f for f in files if f.stem.upper() in wanted]
    if not files:
        sys.exit(f"no instances found in {directory}")
    instances = []
    for f in files:
        _, bks = read_vrplib_solution(f.with_suffix(".sol"))
        if bks is None:
            sys.exit(f"{f.with_suffix('.sol')}: no Cost line")
        instances.append((f.stem, read_vrplib(f), bks))

    print(f"== Solomon VRPTW, planner core (PyVRP), {args.seconds:g} s per instance, seed {args.seed}")
    ours: list[float] = []
    failures = 0
    for name, inst, bks in instances:
        cost, secs = run_ours(inst, args.seconds, args.seed)
        if cost is None:
            failures += 1
            print(f"{name:<7} FAILED (no feasible solution)  {secs:5.1f} s", flush=True)
            continue
        ours.append(_gap(cost, bks))
        print(
            f"{name:<7} cost {cost:8.1f}  best-known {bks:8.1f}  gap {ours[-1]:6.2f}%  {secs:5.1f} s",
            flush=True,
        )
    if ours:
        print(f"average gap {sum(ours) / len(ours):.2f}% over {len(ours)} instances, failures {failures}")

    theirs: list[float] = []
    ort_failures = 0
    if not args.no_ortools:
        print(f"== Solomon VRPTW, OR-Tools routing (GUIDED_LOCAL_SEARCH), {args.seconds:g} s per instance")
        for name, inst, bks in instances:
            cost, secs = run_ortools(inst, args.seconds)
            if cost is None:
                ort_failures += 1
                print(f"{name:<7} FAILED (no feasible solution)  {secs:5.1f} s", flush=True)
                continue
            theirs.append(_gap(cost, bks))
            print(
                f"{name:<7} cost {cost:8.1f}  best-known {bks:8.1f}  gap {theirs[-1]:6.2f}%  {secs:5.1f} s",
                flush=True,
            )
        if theirs:
            print(
                f"OR-Tools average gap {sum(theirs) / len(theirs):.2f}% over {len(theirs)} instances, "
                f"failures {ort_failures}"
            )
    return ours, failures, theirs, ort_failures, len(instances)


# -----------------------------------------------------------------------------------------------------
# A realistic county day
# -----------------------------------------------------------------------------------------------------

SKILLS = ("nursing", "bathing", "rehab")
CENTRE = (28.55, 112.35)  # Yiyang, Hunan
KM_LAT = 1 / 111.2
KM_LON = 1 / (111.2 * math.cos(math.radians(CENTRE[0])))


def _offset(lat: float, lon: float, dx_km: float, dy_km: float) -> tuple[float, float]:
    return lat + dy_km * KM_LAT, lon + dx_km * KM_LON


def make_day(num_visits: int = 400, num_caregivers: int = 40, seed: int = 2024):
    """Townships in a 30 km x 30 km county; visits clustered around them; caregivers based there."""
    rng = random.Random(seed)
    towns = [_offset(*CENTRE, rng.uniform(-13, 13), rng.uniform(-13, 13)) for _ in range(8)]
    caregivers = []
    for i in range(num_caregivers):
        town = towns[i % len(towns)]
        station = _offset(*town, rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
        roll = rng.random()
        mode = "walk" if roll < 0.2 else "car" if roll > 0.85 else "ebike"
        skills = frozenset(s for s, p in zip(SKILLS, (0.45, 0.35, 0.25), strict=True) if rng.random() < p)
        part_time = i % 10 == 9
        caregivers.append(
            Caregiver(
                id=f"cg{i:02d}",
                start=station,
                shift_start=8 * 3600,
                shift_end=12 * 3600 if part_time else 17 * 3600 + 1800,
                skills=skills,
                max_working_time=4 * 3600 if part_time else 8 * 3600,
                mode=mode,
                rest_break=None if part_time else Break(11 * 3600 + 1800, 13 * 3600, 45 * 60),
            )
        )
    visits = []
    for j in range(num_visits):
        t = rng.randrange(len(towns))
        spread = 1.0 if rng.random() < 0.7 else 3.0
        loc = _offset(*towns[t], rng.gauss(0, spread), rng.gauss(0, spread))
        skill = rng.choice(SKILLS) if rng.random() < 0.3 else None
        kind = rng.random()
        if kind < 0.4:  # fixed appointment, one-hour window
            earliest = rng.randrange(8 * 3600, 16 * 3600, 900)
            latest = earliest + 3600
        elif kind < 0.8:  # half-day window
            earliest = rng.choice((8 * 3600, 13 * 3600 + 1800))
            latest = earliest + 3 * 3600
        else:  # any time of the day
            earliest, latest = 8 * 3600, 16 * 3600
        same_town = [
            c for k, c in enumerate(caregivers) if k % len(towns) == t and (skill in c.skills or not skill)
        ]
        previous = rng.choice(same_town).id if same_town and rng.random() < 0.6 else None
        locked = previous if previous and rng.random() < 0.03 else None
        visits.append(
            Visit(
                id=f"v{j:03d}",
                location=loc,
                earliest=earliest,
                latest=latest,
                service=rng.choice((15, 20, 30, 30, 45)) * 60,
                skill=skill,
                priority=rng.choice((1, 1, 1, 2, 3)),
                previous_caregiver_id=previous,
                locked_caregiver_id=locked,
            )
        )
    return visits, caregivers


def make_provider_day(num_visits: int, num_caregivers: int, seed: int = 7):
    """One provider's day in one township (4 km around its station): e-bikes, one-hour appointments and
    half-day windows, a few skills and previous caregivers: what the dispatcher plans on the page."""
    rng = random.Random(seed)
    centre = _offset(*CENTRE, 2.0, -3.0)
    caregivers = [
        Caregiver(
            id=f"cg{i:02d}",
            start=_offset(*centre, rng.uniform(-2, 2), rng.uniform(-2, 2)),  # their homes
            shift_start=8 * 3600,
            shift_end=18 * 3600,
            skills=frozenset(s for s in SKILLS if rng.random() < 0.5),
        )
        for i in range(num_caregivers)
    ]
    visits = []
    for j in range(num_visits):
        if rng.random() < 0.6:
            earliest = rng.randrange(8 * 3600, 17 * 3600, 1800)
            latest = earliest + 1800
        else:
            earliest = rng.choice((8 * 3600, 13 * 3600 + 1800))
            latest = earliest + 3 * 3600
        visits.append(
            Visit(
                id=f"v{j:02d}",
                location=_offset(*centre, rng.uniform(-4, 4), rng.uniform(-4, 4)),
                earliest=earliest,
                latest=latest,
                service=rng.choice((30, 45, 60, 60)) * 60,
                skill=rng.choice(SKILLS) if rng.random() < 0.2 else None,
                previous_caregiver_id=rng.choice(caregivers).id if rng.random() < 0.5 else None,
            )
        )
    return visits, caregivers


def provider_days(args: argparse.Namespace) -> None:
    """The page's settings (10 s limit, 10 000 iterations) without and with the stall stop."""
    print(f"== provider days through plan(): full budget vs stall stop ({PlanOptions().stall_iterations} "
          "iterations without improvement), 10 s limit, 10 000 iterations")
    for num_visits, num_caregivers in ((12, 3), (50, 8)):
        visits, caregivers = make_provider_day(num_visits, num_caregivers)
        figures = {}
        for label, stall in (("before", None), ("after", PlanOptions().stall_iterations)):
            options = PlanOptions(seed=args.seed, time_limit_seconds=10, max_iterations=10_000,
                                  stall_iterations=stall)
            started = time.perf_counter()
            result = plan(visits, caregivers, options)
            elapsed = time.perf_counter() - started
            problems = check_plan(result, visits, caregivers, options.travel_model())
            figures[label] = (elapsed, result.objective)
            print(
                f"{num_visits:>3} visits {label:<6}: {elapsed:6.2f} s ({result.iterations} iterations, "
                f"stopped by {result.stopped_by}), cost {result.objective}, served "
                f"{result.visits_served}/{num_visits}, travel {result.total_travel_time // 60} min, "
                f"waiting {result.total_waiting_time // 60} min, violations {len(problems)}"
            )
        (t0, c0), (t1, c1) = figures["before"], figures["after"]
        print(f"provider_day: visits={num_visits} time_before={t0:.2f}s time_after={t1:.2f}s "
              f"speedup={t0 / t1:.1f}x cost_before={c0} cost_after={c1} cost_ratio={c1 / c0:.4f}")


def day(args: argparse.Namespace) -> None:
    visits, caregivers = make_day()
    options = PlanOptions(
        seed=args.seed, time_limit_seconds=args.day_seconds, max_iterations=args.day_iterations
    )
    print(
        f"== county day through plan(): {len(visits)} visits, {len(caregivers)} caregivers, "
        f"time limit {args.day_seconds:g} s, max iterations {args.day_iterations}"
    )
    started = time.perf_counter()
    result = plan(visits, caregivers, options)
    elapsed = time.perf_counter() - started
    problems = check_plan(result, visits, caregivers, options.travel_model())
    with_previous = sum(1 for v in visits if v.previous_caregiver_id)
    codes: dict[str, int] = {}
    for u in result.unassigned:
        codes[u.code] = codes.get(u.code, 0) + 1
    print(
        f"day: time {elapsed:.1f} s ({result.iterations} iterations, stopped by {result.stopped_by}), "
        f"served {result.visits_served}/{len(visits)}, unassigned {len(result.unassigned)} {codes}, "
        f"routes {result.routes_used}, travel {result.total_travel_time / 3600:.1f} h "
        f"({result.total_travel_time / max(1, result.visits_served) / 60:.1f} min/visit), "
        f"continuity {result.continuity_kept}/{with_previous}, missed breaks {len(result.missed_breaks)}, "
        f"check_plan violations {len(problems)}"
    )
    for p in problems[:10]:
        print("  violation:", p)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", default=str(DEFAULT_INSTANCES), help="directory with .vrp/.sol files")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per instance and solver")
    parser.add_argument("--only", default="", help="comma-separated instance names, e.g. C101,R101")
    parser.add_argument("--no-ortools", action="store_true", help="skip the OR-Tools baseline")
    parser.add_argument("--no-day", action="store_true", help="skip the county day through plan()")
    parser.add_argument("--day-only", action="store_true", help="only run the county day")
    parser.add_argument("--provider-days", action="store_true",
                        help="only run the provider days (12 and 50 visits), full budget vs stall stop")
    parser.add_argument("--no-provider-days", action="store_true", help="skip the provider days")
    parser.add_argument("--day-seconds", type=float, default=120.0, help="time cap of the county day")
    parser.add_argument(
        "--day-iterations",
        type=int,
        default=None,
        help="iteration budget of the county day (default: PlanOptions' default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.seconds <= 0 or args.day_seconds <= 0:
        parser.error("time limits must be positive")
    if args.day_iterations is None:
        args.day_iterations = PlanOptions().max_iterations

    if args.provider_days:
        provider_days(args)
        return
    if args.day_only:
        day(args)
        return
    ours, failures, theirs, ort_failures, total = solomon(args)
    if not args.no_provider_days:
        provider_days(args)
    if not args.no_day:
        day(args)
    avg = sum(ours) / len(ours) if ours else float("nan")
    if args.no_ortools:
        ort_text, ratio_text = "n/a", "n/a"
    else:
        ort_avg = sum(theirs) / len(theirs) if theirs else float("nan")
        ort_text = f"{ort_avg:.2f}%"
        ratio_text = f"{ort_avg / avg:.1f}" if avg > 0 else "inf"
    print(
        f"summary: instances={total} avg_gap={avg:.2f}% ortools_avg_gap={ort_text} ratio={ratio_text} "
        f"failures={failures}/{total} ortools_failures={ort_failures}/{total}"
    )


if __name__ == "__main__":
    main()
