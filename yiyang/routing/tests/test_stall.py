"""The stall stop: a small day stops searching once it stops improving (issue 13 §6)."""

import pytest

from yiyang.routing.solver import STALL_ITERATIONS, PlanOptions
from yiyang.routing.tests.test_solver import KM, carer, opts, solve_checked, visit


def test_a_day_solved_at_once_stops_after_the_stall_not_the_budget():
    # Three visits on a line: the first local search already finds the optimum (out 3 km and back, 6240 s),
    # so nothing improves afterwards and the search ends after exactly 50 idle iterations, not 10 000.
    visits = [visit("c", 3000), visit("a", 1000), visit("b", 2000)]
    result = solve_checked(visits, [carer("w")], opts(max_iterations=10_000, stall_iterations=50))
    assert (result.stopped_by, result.iterations) == ("stalled", 50)
    assert result.total_travel_time == result.objective == 6 * KM
    full = solve_checked(visits, [carer("w")], opts(max_iterations=400, stall_iterations=None))
    assert (full.stopped_by, full.iterations, full.objective) == ("iterations", 400, 6 * KM)


def test_the_planner_stops_on_a_stall_by_default():
    assert PlanOptions().stall_iterations == STALL_ITERATIONS == 300


@pytest.mark.parametrize("stall", [0, -1])
def test_stall_must_be_positive(stall):
    with pytest.raises(ValueError, match="stall_iterations"):
        solve_checked([visit("a", 1000)], [carer("w")], opts(stall_iterations=stall))
