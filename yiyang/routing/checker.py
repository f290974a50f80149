"""Independent feasibility checker of a :class:`yiyang.routing.solver.Plan` (used by the tests and the bench):
recomputes every leg with the travel model, without the solver's code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from yiyang.routing.travel import TravelTimeProvider, travel_seconds

if TYPE_CHECKING:  # the planner's types, for the annotations only (problem.py imports nothing from here)
    from yiyang.routing.problem import Caregiver, Plan, Visit


def _hhmm(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


# -----------------------------------------------------------------------------------------------------
# Independent feasibility checker
# -----------------------------------------------------------------------------------------------------


def check_plan(
    plan: Plan,
    visits: Sequence[Visit],
    caregivers: Sequence[Caregiver],
    travel: TravelTimeProvider,
    *,
    now: int | None = None,
) -> list[str]:
    """Return every hard-constraint violation found in ``plan`` (an empty list = feasible).

    Recomputes every travel leg with ``travel`` and checks: each visit is either served exactly once
    or unassigned with a reason; time windows; skills; locks; started visits first with their
    caregiver; shift start/end; maximum working time; breaks inside their window and of full length;
    the reported times and travel totals.
    """
    problems: list[str] = []
    by_visit = {v.id: v for v in visits}
    by_cg = {c.id: c for c in caregivers}
    seen: dict[str, str] = {}

    for route in plan.routes:
        c = by_cg.get(route.caregiver_id)
        if c is None:
            problems.append(f"route for unknown caregiver {route.caregiver_id}")
            continue
        tag = f"caregiver {c.id}"
        if route.departure < c.shift_start:
            problems.append(
                f"{tag}: departs {_hhmm(route.departure)} before shift start {_hhmm(c.shift_start)}"
            )
        has_started = any(
            by_visit[s.visit_id].started for s in route.stops if s.kind == "visit" and s.visit_id in by_visit
        )
        if now is not None and not has_started and route.departure < now:
            problems.append(f"{tag}: departs {_hhmm(route.departure)} before now {_hhmm(now)}")
        pos, clock, travel_sum, breaks_seen = c.start, route.departure, 0, 0
        for pos_in_route, stop in enumerate(route.stops):
            if stop.kind == "break":
                b = c.rest_break
                if b is None:
                    problems.append(f"{tag}: has a break stop but no break")
                    continue
                point = b.location or c.start
                if not b.earliest <= stop.start <= b.latest:
                    problems.append(f"{tag}: break starts {_hhmm(stop.start)} outside its window")
                if stop.end - stop.start < b.duration:
                    problems.append(f"{tag}: break shorter than {b.duration} s")
                breaks_seen += 1
            else:
                v = by_visit.get(stop.visit_id or "")
                if v is None:
                    problems.append(f"{tag}: unknown visit {stop.visit_id}")
                    continue
                if v.id in seen:
                    problems.append(f"visit {v.id} served twice ({seen[v.id]} and {c.id})")
                seen[v.id] = c.id
                point = v.location
                if not v.earliest <= stop.start <= v.latest:
                    problems.append(
                        f"visit {v.id}: starts {_hhmm(stop.start)} outside "
                        f"{_hhmm(v.earliest)}-{_hhmm(v.latest)}"
                    )
                if now is not None and not v.started and stop.start < now:
                    problems.append(f"visit {v.id}: starts before now")
                if stop.end - stop.start < v.service:
                    problems.append(f"visit {v.id}: service shorter than {v.service} s")
                if v.skill is not None and v.skill not in c.skills and not v.started:  # started: a fact
                    problems.append(f"visit {v.id}: needs skill {v.skill!r} that {c.id} lacks")
                if v.locked_caregiver_id is not None and v.locked_caregiver_id != c.id:
                    problems.append(f"visit {v.id}: locked to {v.locked_caregiver_id} but served by {c.id}")
                if v.started and pos_in_route != 0:
                    problems.append(f"visit {v.id}: started but not first in {c.id}'s route")
            leg = travel_seconds(travel, pos, point, c.mode)
            if stop.travel != leg:
                problems.append(
                    f"{tag}: reported travel {stop.travel} s to stop {pos_in_route}, model says {leg}"
                )
            if stop.arrival < clock + leg:
                problems.append(
                    f"{tag}: arrives at stop {pos_in_route} at {_hhmm(stop.arrival)}, "
                    f"faster than travelling allows"
                )
            if stop.start < stop.arrival:
                problems.append(f"{tag}: stop {pos_in_route} starts before arrival")
            travel_sum += leg
            pos, clock = point, stop.end
        leg = travel_seconds(travel, pos, c.end_point, c.mode)
        travel_sum += leg
        if route.end_time < clock + leg:
            problems.append(f"{tag}: returns at {_hhmm(route.end_time)}, faster than travelling allows")
        if route.end_time > c.shift_end:
            problems.append(f"{tag}: returns {_hhmm(route.end_time)} after shift end {_hhmm(c.shift_end)}")
        if route.travel_time != travel_sum:
            problems.append(f"{tag}: reported travel time {route.travel_time} s, model says {travel_sum}")
        break_len = sum(s.end - s.start for s in route.stops if s.kind == "break")
        if (
            c.max_working_time is not None
            and route.end_time - route.departure - break_len > c.max_working_time
        ):
            problems.append(
                f"{tag}: works {route.end_time - route.departure - break_len} s, more than "
                f"{c.max_working_time} s"
            )
        if c.rest_break is not None and breaks_seen == 0 and c.id not in plan.missed_breaks:
            problems.append(f"{tag}: break missing")
        if breaks_seen > 1:
            problems.append(f"{tag}: more than one break")

    unassigned_ids = [u.visit_id for u in plan.unassigned]
    for u in plan.unassigned:
        if not u.reason or not u.code:
            problems.append(f"visit {u.visit_id}: unassigned without a reason")
        if u.visit_id in seen:
            problems.append(f"visit {u.visit_id}: both served and unassigned")
    if len(set(unassigned_ids)) != len(unassigned_ids):
        problems.append("a visit is listed as unassigned twice")
    for v in visits:
        if v.id not in seen and v.id not in unassigned_ids:
            problems.append(f"visit {v.id}: neither served nor unassigned")
        if v.started and v.id in seen and v.locked_caregiver_id != seen[v.id]:
            problems.append(f"visit {v.id}: started with {v.locked_caregiver_id} but moved to {seen[v.id]}")
    if plan.visits_served != len(seen):
        problems.append(f"visits_served is {plan.visits_served}, routes hold {len(seen)}")
    if plan.total_travel_time != sum(r.travel_time for r in plan.routes):
        problems.append("total_travel_time does not add up")
    return problems
