"""Tests of the route planner's solving core (pure pytest, no database).

Coordinates are projected metres (``geodesic=False``).  Walking at the default 4.5 km/h with the
default detour factor 1.3, 1000 m of straight line take exactly 1040 s.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest

from yiyang.routing.solver import (
    Break,
    Caregiver,
    Plan,
    PlanOptions,
    Reason,
    Visit,
    check_plan,
    dimacs_distance_matrix,
    plan,
    read_vrplib,
    read_vrplib_solution,
    route_cost,
    solve_matrix,
    vrptw_to_matrix_instance,
)
from yiyang.routing.travel import StraightLineTravel, TravelTimeProvider

H = 3600
KM = 1040  # walking seconds per straight-line kilometre
SOLOMON = Path(__file__).resolve().parents[3].parent / "shared" / "bench-data" / "solomon"


def opts(**kwargs) -> PlanOptions:
    base = {"geodesic": False, "time_limit_seconds": 20, "max_iterations": 300}
    base.update(kwargs)
    return PlanOptions(**base)


def visit(
    ident: str,
    x: float,
    y: float = 0.0,
    earliest: int = 8 * H,
    latest: int = 16 * H,
    service: int = 600,
    **kwargs,
) -> Visit:
    return Visit(id=ident, location=(x, y), earliest=earliest, latest=latest, service=service, **kwargs)


def carer(ident: str, x: float = 0.0, y: float = 0.0, **kwargs) -> Caregiver:
    kwargs.setdefault("shift_start", 8 * H)
    kwargs.setdefault("shift_end", 17 * H)
    kwargs.setdefault("mode", "walk")
    return Caregiver(id=ident, start=(x, y), **kwargs)


def solve_checked(
    visits: list[Visit], caregivers: list[Caregiver], options: PlanOptions | None = None
) -> Plan:
    options = options or opts()
    result = plan(visits, caregivers, options)
    assert check_plan(result, visits, caregivers, options.travel_model(), now=options.now) == []
    return result


def codes(result: Plan) -> dict[str, str]:
    return {u.visit_id: u.code for u in result.unassigned}


# --------------------------------------------------------------------------------------------------
# Known optimal routes
# --------------------------------------------------------------------------------------------------


def test_travel_model_walking_kilometre():
    travel = StraightLineTravel(geodesic=False)
    mat = travel.matrix([(0.0, 0.0), (1000.0, 0.0), (0.0, 3000.0)], "walk")
    assert mat.dtype == np.int64
    assert mat.tolist() == [[0, KM, 3 * KM], [KM, 0, 3289], [3 * KM, 3289, 0]]  # ceil(sqrt(10) km x 1040)
    geo = StraightLineTravel()  # lat/lon: one degree of latitude is ~111.2 km
    car = geo.matrix([(28.0, 112.0), (29.0, 112.0)], "car")[0, 1]
    assert abs(car - 111_195 * 1.3 / (25 / 3.6)) < 2


def test_line_visits_in_order_with_known_cost():
    visits = [visit("c", 3000), visit("a", 1000), visit("b", 2000)]
    result = solve_checked(visits, [carer("w")])
    (route,) = result.routes
    assert route.visit_ids in (["a", "b", "c"], ["c", "b", "a"])
    assert result.total_travel_time == 6 * KM
    assert result.objective == 6 * KM
    assert result.visits_served == 3 and result.routes_used == 1 and not result.unassigned
    assert [s.travel for s in route.stops] == (
        [KM, KM, KM] if route.visit_ids[0] == "a" else [3 * KM, KM, KM]
    )


def test_time_windows_force_the_far_visit_first():
    visits = [
        visit("near", 1000, earliest=10 * H, latest=10 * H + 600),
        visit("far", 2000, earliest=8 * H + 1800, latest=9 * H),
    ]
    result = solve_checked(visits, [carer("w")])
    (route,) = result.routes
    assert route.visit_ids == ["far", "near"]
    assert route.stops[1].start == 10 * H
    assert result.total_travel_time == 4 * KM


def test_square_two_caregivers_each_serve_their_corner():
    # Two stations 10 km apart, two visits next to each: crossing over would cost far more.
    visits = [visit("a1", 0, 500), visit("a2", 500, 0), visit("b1", 10_000, 500), visit("b2", 9500, 0)]
    result = solve_checked(visits, [carer("A", 0, 0), carer("B", 10_000, 0)], opts(max_iterations=500))
    assert sorted(result.route_for("A").visit_ids) == ["a1", "a2"]
    assert sorted(result.route_for("B").visit_ids) == ["b1", "b2"]
    leg = 500 * KM // 1000  # 520 s
    diagonal = int(np.ceil(np.hypot(500, 500) * 1.3 / 1.25))
    assert result.total_travel_time == 2 * (2 * leg + diagonal)


def test_max_working_time_drops_what_does_not_fit():
    visits = [visit(f"v{i}", 1000 * i, service=1800) for i in (1, 2, 3)]
    # Serving everything needs 6 km there and back (6240 s) + 5400 s of care; give 2 hours.
    # v3 alone needs 8040 s (rejected up front); v1 + v2 need 7760 s, so only the cheaper v1 is served.
    result = solve_checked(visits, [carer("w", max_working_time=2 * H)])
    assert result.routes[0].visit_ids == ["v1"]
    assert codes(result) == {"v2": Reason.DROPPED, "v3": Reason.UNREACHABLE}
    assert result.routes[0].working_time <= 2 * H


def test_priority_decides_what_gets_dropped():
    visits = [
        visit("low", 1000, earliest=9 * H, latest=9 * H, service=1800, priority=1),
        visit("high", 1000, 10, earliest=9 * H, latest=9 * H, service=1800, priority=3),
    ]
    result = solve_checked(visits, [carer("w")])
    assert result.routes[0].visit_ids == ["high"]
    assert codes(result) == {"low": Reason.DROPPED}


# --------------------------------------------------------------------------------------------------
# Continuity, skills, locks, started visits, breaks
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("previous", ["A", "B"])
def test_continuity_breaks_a_travel_tie(previous):
    visits = [visit("v", 1000, previous_caregiver_id=previous)]
    result = solve_checked(visits, [carer("A"), carer("B")])
    assert result.route_for(previous).visit_ids == ["v"]
    assert result.continuity_kept == 1
    assert result.objective == 2 * KM


def test_continuity_weight_is_traded_against_travel():
    # The previous caregiver B is 1 km further away (2 x 1040 s more travel).
    visits = [visit("v", 1000, previous_caregiver_id="B")]
    caregivers = [carer("A"), carer("B", -1000)]
    assert solve_checked(visits, caregivers, opts(continuity_weight=600)).route_for("A") is not None
    assert solve_checked(visits, caregivers, opts(continuity_weight=3 * KM)).route_for("B") is not None


def test_skills_are_respected_and_missing_skills_reported():
    visits = [visit("bath", 1000, skill="bathing"), visit("rehab", 1000, 100, skill="rehab")]
    caregivers = [carer("A"), carer("B", 3000, skills=frozenset({"bathing"}))]
    result = solve_checked(visits, caregivers)
    assert result.route_for("B").visit_ids == ["bath"]
    assert result.route_for("A") is None
    (item,) = result.unassigned
    assert item.visit_id == "rehab" and item.code == Reason.NO_SKILL and "rehab" in item.reason


def test_locked_visit_stays_with_its_caregiver():
    visits = [visit("mine", 1000, locked_caregiver_id="B"), visit("free", 800)]
    result = solve_checked(visits, [carer("A", 900), carer("B", 5000)])
    assert "mine" in result.route_for("B").visit_ids
    assert "free" in result.route_for("A").visit_ids


def test_locked_to_unavailable_or_unskilled_caregiver():
    visits = [
        visit("gone", 1000, locked_caregiver_id="Z"),
        visit("skill", 1000, locked_caregiver_id="A", skill="x"),
    ]
    result = solve_checked(visits, [carer("A"), carer("B", skills=frozenset({"x"}))])
    assert codes(result) == {"gone": Reason.LOCKED_UNAVAILABLE, "skill": Reason.LOCKED_LACKS_SKILL}


def test_started_visit_stays_first_with_its_caregiver():
    # Without the started flag the cheapest order would be a, b, s (s is the furthest).
    visits = [
        visit("a", 1000),
        visit("b", 2000),
        visit(
            "s", 3000, earliest=8 * H + 3 * KM, latest=8 * H + 3 * KM, started=True, locked_caregiver_id="B"
        ),
    ]
    result = solve_checked(visits, [carer("A", 900), carer("B")])
    route_b = result.route_for("B")
    assert route_b.visit_ids[0] == "s"
    assert not result.unassigned


def test_started_visit_without_caregiver_and_duplicate_started():
    visits = [
        visit("s1", 1000, started=True),
        visit("s2", 1000, started=True, locked_caregiver_id="A"),
        visit("s3", 2000, started=True, locked_caregiver_id="A"),
    ]
    result = solve_checked(visits, [carer("A")])
    assert codes(result) == {"s1": Reason.STARTED_WITHOUT_CAREGIVER, "s3": Reason.DUPLICATE_STARTED}
    assert result.route_for("A").visit_ids == ["s2"]


def test_break_is_taken_at_the_station_within_its_window():
    visits = [
        visit("am", 1000, earliest=9 * H, latest=10 * H),
        visit("pm", 1000, earliest=13 * H, latest=14 * H),
    ]
    caregiver = carer("A", rest_break=Break(11 * H + 1800, 12 * H + 1800, 2700), max_working_time=5 * H)
    result = solve_checked(visits, [caregiver])
    (route,) = result.routes
    kinds = [s.kind for s in route.stops]
    assert kinds == ["visit", "break", "visit"]
    assert route.break_time == 2700
    assert route.working_time == route.end_time - route.departure - 2700
    assert result.total_travel_time == 4 * KM


def test_break_that_cannot_fit_is_reported():
    caregiver = carer("A", rest_break=Break(18 * H, 19 * H, 1800))
    result = solve_checked([visit("v", 1000)], [caregiver])
    assert result.missed_breaks == ("A",)
    assert [s.kind for s in result.routes[0].stops] == ["visit"]


# --------------------------------------------------------------------------------------------------
# Reasons given before solving
# --------------------------------------------------------------------------------------------------


def test_impossible_windows_have_reasons():
    visits = [
        visit("backwards", 1000, earliest=12 * H, latest=11 * H),
        visit("dawn", 1000, earliest=5 * H, latest=6 * H),
        visit("late", 1000, earliest=18 * H, latest=19 * H),
        visit("too_far", 30_000, earliest=8 * H, latest=8 * H + 1800),  # 8.7 h walk
        visit("ok", 1000),
    ]
    result = solve_checked(visits, [carer("A")])
    assert codes(result) == {
        "backwards": Reason.INVALID_WINDOW,
        "dawn": Reason.UNREACHABLE,
        "late": Reason.UNREACHABLE,
        "too_far": Reason.UNREACHABLE,
    }
    assert "cannot be reached" in result.unassigned_reason("dawn").reason
    assert result.route_for("A").visit_ids == ["ok"]


def test_window_closed_when_replanning_during_the_day():
    visits = [
        visit("past", 1000, earliest=8 * H, latest=9 * H),
        visit("later", 1000, earliest=8 * H, latest=16 * H),
    ]
    options = opts(now=10 * H)
    result = solve_checked(visits, [carer("A")], options)
    assert codes(result) == {"past": Reason.WINDOW_CLOSED}
    assert result.routes[0].departure >= 10 * H
    assert "already closed" in result.unassigned[0].reason


def test_zero_caregivers_leaves_everything_unassigned_without_crashing():
    visits = [visit("a", 1000), visit("b", 2000)]
    result = solve_checked(visits, [])
    assert codes(result) == {"a": Reason.NO_CAREGIVERS, "b": Reason.NO_CAREGIVERS}
    assert result.routes == () and result.stopped_by == "not_run" and result.visits_served == 0


def test_no_visits_is_fine():
    result = solve_checked([], [carer("A")])
    assert result.routes == () and result.idle_caregivers == ("A",)


def test_locations_outside_the_service_area():
    visits = [visit("in", 1000), visit("out", 50_000)]
    result = solve_checked(visits, [carer("A")], opts(bounds=(-20_000, -20_000, 20_000, 20_000)))
    assert codes(result) == {"out": Reason.OUTSIDE_AREA}
    assert result.unassigned[0].reason == "location outside the service area"


@pytest.mark.parametrize("limit", [0, -1])
def test_non_positive_time_limit_is_an_error(limit):
    with pytest.raises(ValueError, match="time_limit_seconds must be positive"):
        plan([visit("a", 1000)], [carer("A")], opts(time_limit_seconds=limit))


def test_duplicate_ids_are_an_error():
    with pytest.raises(ValueError, match="duplicate visit id"):
        plan([visit("a", 1000), visit("a", 2000)], [carer("A")], opts())


# --------------------------------------------------------------------------------------------------
# Travel providers, determinism, random instances through check_plan
# --------------------------------------------------------------------------------------------------


class ManhattanWalk:
    """A stand-in for a road network: Manhattan distance at 1 m/s."""

    def matrix(self, points, mode):
        arr = np.asarray(points, dtype=float)
        return np.abs(arr[:, None, :] - arr[None, :, :]).sum(axis=2).astype(np.int64)


def test_custom_travel_provider_is_used():
    provider = ManhattanWalk()
    assert isinstance(provider, TravelTimeProvider)
    visits = [visit("a", 1000, 1000)]
    result = solve_checked(visits, [carer("A")], opts(travel=provider))
    assert result.total_travel_time == 4000


def random_instance(seed: int, n_visits: int = 40, n_caregivers: int = 4):
    rng = random.Random(seed)
    caregivers = []
    for i in range(n_caregivers):
        caregivers.append(
            carer(
                f"c{i}",
                rng.uniform(0, 6000),
                rng.uniform(0, 6000),
                mode=rng.choice(["walk", "ebike", "car"]),
                skills=frozenset(s for s in ("nursing", "bathing") if rng.random() < 0.5),
                max_working_time=rng.choice([None, 6 * H]),
                rest_break=Break(11 * H + 1800, 13 * H, 1800) if i % 2 else None,
            )
        )
    visits = []
    for j in range(n_visits):
        earliest = rng.randrange(8 * H, 15 * H, 900)
        skill = rng.choice([None, None, "nursing", "bathing", "rehab"])
        visits.append(
            visit(
                f"v{j}",
                rng.uniform(0, 6000),
                rng.uniform(0, 6000),
                earliest=earliest,
                latest=earliest + rng.choice([1800, 3600, 4 * H]),
                service=rng.choice([900, 1800, 2700]),
                skill=None if j == 0 else skill,
                priority=rng.choice([1, 2]),
                previous_caregiver_id=rng.choice([None, *[c.id for c in caregivers]]),
                locked_caregiver_id="c0" if j == 0 else None,
            )
        )
    # The caregiver c1 has checked in at v1 (next to c1's start) at 9:00.
    visits[1] = dataclasses.replace(
        visits[1],
        location=caregivers[1].start,
        started=True,
        locked_caregiver_id="c1",
        earliest=9 * H,
        latest=9 * H,
    )
    return visits, caregivers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_instances_respect_every_hard_constraint(seed):
    visits, caregivers = random_instance(seed)
    result = solve_checked(visits, caregivers, opts(max_iterations=400))
    assert result.visits_served + len(result.unassigned) == len(visits)
    assert result.route_for("c1").visit_ids[0] == "v1"
    assert {u.code for u in result.unassigned} <= {Reason.NO_SKILL, Reason.UNREACHABLE, Reason.DROPPED}


def test_many_caregivers_with_breaks_stay_feasible():
    # Every other caregiver has a break that only they may take: the warm start keeps each break in
    # its own route, so the answer is feasible and no break is missed.
    visits, caregivers = random_instance(11, n_visits=60, n_caregivers=10)
    result = solve_checked(visits, caregivers, opts(max_iterations=300))
    assert result.missed_breaks == ()
    assert result.visits_served > 30


def test_check_plan_catches_violations():
    visits, caregivers = random_instance(4, n_visits=20)
    options = opts()
    result = plan(visits, caregivers, options)
    travel = options.travel_model()
    assert check_plan(result, visits, caregivers, travel) == []
    route = result.routes[0]
    visit_stop = next(i for i, s in enumerate(route.stops) if s.kind == "visit")
    stops = list(route.stops)
    stops[visit_stop] = dataclasses.replace(stops[visit_stop], start=23 * H, end=23 * H + 60)
    bad = dataclasses.replace(
        result, routes=(dataclasses.replace(route, stops=tuple(stops)), *result.routes[1:])
    )
    problems = check_plan(bad, visits, caregivers, travel)
    assert any("outside" in p for p in problems)
    dropped = dataclasses.replace(result, unassigned=result.unassigned[1:])
    if result.unassigned:
        assert any(
            "neither served nor unassigned" in p for p in check_plan(dropped, visits, caregivers, travel)
        )


def test_same_seed_same_plan():
    visits, caregivers = random_instance(7)
    first = plan(visits, caregivers, opts(seed=5, max_iterations=300))
    second = plan(visits, caregivers, opts(seed=5, max_iterations=300))
    assert first.stopped_by == "iterations"
    assert first == second


# --------------------------------------------------------------------------------------------------
# Solomon benchmark support
# --------------------------------------------------------------------------------------------------

needs_solomon = pytest.mark.skipif(
    not (SOLOMON / "C101.vrp").exists(), reason="Solomon instances not present"
)


@needs_solomon
def test_solomon_reader_reproduces_best_known_cost():
    inst = read_vrplib(SOLOMON / "C101.vrp")
    assert inst.num_clients == 100 and inst.capacity == 200 and inst.vehicles == 25
    assert inst.service[0] == 0 and inst.service[1] == 90
    routes, cost = read_vrplib_solution(SOLOMON / "C101.sol")
    assert cost == 827.3
    assert sorted(c for r in routes for c in r) == list(range(1, 101))
    assert route_cost(dimacs_distance_matrix(inst.coords), routes) == 8273


@needs_solomon
def test_planner_core_solves_c101():
    data = vrptw_to_matrix_instance(read_vrplib(SOLOMON / "C101.vrp"))
    sol = solve_matrix(data, seed=0, max_iterations=1500, time_limit=20)
    assert sol.feasible and not sol.unassigned
    assert sol.cost <= 8273 * 1.01
