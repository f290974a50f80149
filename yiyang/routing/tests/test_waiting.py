"""Waiting time: the caregiver leaves just in time, and idle time is a cost the solver sees (issue 13 §6).

Projected metres, walking: 1000 m of straight line take 1040 s (see test_solver.py).
"""

from yiyang.routing.tests.test_solver import KM, H, carer, opts, solve_checked, visit


def test_arrival_is_the_service_start_and_the_wait_is_reported():
    # A at 1 km may start 09:00-09:30, B at 2 km opens 15:00. Waiting costs, so A starts as late as it may
    # (09:30, leaving at 09:30 - 1040 s); after A (to 09:40) and 1 km the caregiver could be at B by 09:57;
    # they are told to arrive at 15:00 and the 15:00 - (09:30 + 600 + 1040) = 18 160 s are waiting.
    visits = [visit("a", 1000, earliest=9 * H, latest=9 * H + 1800),
              visit("b", 2000, earliest=15 * H, latest=15 * H + 2700)]
    result = solve_checked(visits, [carer("w")])
    (route,) = result.routes
    assert route.visit_ids == ["a", "b"]
    assert route.departure == 9 * H + 1800 - KM
    a, b = route.stops
    assert (a.arrival, a.start, a.waiting) == (9 * H + 1800, 9 * H + 1800, 0)
    assert (b.arrival, b.start) == (15 * H, 15 * H)
    assert b.waiting == 15 * H - (9 * H + 1800 + 600 + KM) == 18_160
    assert route.waiting_time == result.total_waiting_time == 18_160
    # travel 2 km there and back (4160 s) + waiting 18 160 s
    assert result.objective == 4 * KM + 18_160 == 22_320


def test_waiting_is_traded_against_travel():
    # P (station at 0, all day) could serve A (1 km, 09:00-09:30) and B (1.5 km, 15:00) alone: 3120 s of
    # travel but, even starting A at 09:30, 15:00 - (09:30 + 600 + 520) = 18 680 s idle. Q (station at
    # 5 km, from 14:00) can take B for 2 x 3.5 km = 7280 s of travel. Counting waiting, P+Q costs
    # 2080 + 7280 = 9360 against
    # 3120 + 18 680 = 21 800 for P alone; without it, P alone wins (3120 against 9360).
    visits = [visit("a", 1000, earliest=9 * H, latest=9 * H + 1800),
              visit("b", 1500, earliest=15 * H, latest=15 * H + 2700)]
    carers = [carer("P", 0), carer("Q", 5000, shift_start=14 * H)]
    counted = solve_checked(visits, carers)
    assert counted.route_for("P").visit_ids == ["a"] and counted.route_for("Q").visit_ids == ["b"]
    assert counted.total_waiting_time == 0
    assert counted.total_travel_time == 2 * KM + 7 * KM
    assert counted.objective == 2 * KM + 7 * KM == 9360
    ignored = solve_checked(visits, carers, opts(count_waiting=False))
    assert ignored.route_for("P").visit_ids == ["a", "b"] and ignored.route_for("Q") is None
    assert ignored.total_waiting_time == 18_680
    assert ignored.objective == 3 * KM
