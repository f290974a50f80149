"""Solving core of the caregiver route planner (a VRPTW solved with PyVRP).

Two layers, both pure Python (numpy + PyVRP), without Django; the matrix layer lives in
:mod:`yiyang.routing.matrix`, the planner's types in :mod:`yiyang.routing.problem`, the checker in
:mod:`yiyang.routing.checker`, and this module holds :func:`plan` as named steps (and re-exports the rest):

1. **The matrix layer** - :class:`MatrixInstance` / :func:`solve_matrix`.  An abstract vehicle routing
   problem with time windows: integer cost and duration matrices (one pair per *profile*), clients
   with time windows, service times, demands and prizes, and vehicles with start/end locations,
   shifts, a maximum route duration and a capacity.  :func:`solve_matrix` turns it into a
   ``pyvrp.ProblemData`` and runs PyVRP's iterated local search.  The Solomon benchmark
   (``bench/routing.py``) and the planner both go through this one function.

2. **The planner layer** - :class:`Visit`, :class:`Caregiver`, :class:`PlanOptions` and
   :func:`plan`.  It checks the input (every visit that cannot be served gets a reason *before*
   solving), computes travel times, encodes skills, locks, started visits, breaks and continuity of
   care into the matrix layer, solves, and turns the result into a :class:`Plan`.
   :func:`check_plan` is an independent feasibility checker used by the tests.  :func:`plan` runs
   ``_reject_unservable``, ``_build_travel_matrices``, ``_compute_origins``, ``_restrict_to_reachable``,
   ``_fit_breaks``, ``_make_clients``, ``_make_instance``, ``solve_matrix`` and ``_to_routes`` in turn
   on one ``_Planning`` state.

Conventions
-----------
* Times are integer **seconds since midnight** of the planning day; durations are integer seconds.
* Locations are ``(lat, lon)`` pairs in degrees by default, or projected ``(x, y)`` in metres with
  ``PlanOptions(geodesic=False)`` - see :mod:`yiyang.routing.travel`.
* Objective of the planner: total travel *time* (seconds) + a continuity penalty for every visit not
  served by the caregiver who served it before + a prize (``unassigned_penalty x priority``) for every
  visit left out.  Higher ``priority`` means more important.

How the constraints are modelled in PyVRP 0.14
----------------------------------------------
* **Skills, locks, started visits**: PyVRP restricts which vehicle may serve which client through
  *routing profiles*: every caregiver gets a profile (caregivers with identical restrictions share
  one) whose duration matrix makes the arcs into and out of the visits that caregiver must not serve
  prohibitively long (:data:`FORBIDDEN_DURATION`, far beyond any shift, so a route using such an arc
  always violates the shift end and is infeasible) and whose cost matrix makes them prohibitively
  expensive (:data:`FORBIDDEN_COST`).  This is the same mechanism ``pyvrp.read`` uses for VRPLIB's
  ``VEHICLES_ALLOWED_CLIENTS`` section.  A locked visit is allowed in its caregiver's profile only.
  A started visit is allowed in its caregiver's profile only, and there every arc leaving the
  caregiver's start location except the one to the started visit, and every arc into the started
  visit except the one from the start location, are forbidden, so the visit can only be first.
* **Optional visits**: every visit is a PyVRP client with ``required=False`` and a prize; PyVRP's
  prize-collecting search may leave it out, and it is then reported as dropped by the optimiser.
  Started visits carry a prize 100 times larger than any ordinary visit.
* **Continuity of care**: in the cost matrix of every caregiver *other than* the previous caregiver
  of a visit, all arcs into that visit cost ``continuity_weight`` more.  Every served visit is entered
  exactly once, so this adds the weight once per visit served by someone else (equivalent to a
  discount for keeping the previous caregiver, but keeps the matrix non-negative).
* **Breaks**: a break is a client only the caregiver's profile may visit, with the break window as
  time window, the break length as service duration and a prize 100 times larger than any visit's, so
  it is only left out when it cannot fit.  PyVRP places clients at fixed locations, so **a break is
  taken at a fixed place** - ``Break.location``, by default the caregiver's start location (service
  station / home) - and the caregiver travels there and back.  "Break wherever the caregiver happens
  to be" cannot be expressed with static matrices; give the station or canteen as the location.  The
  break length does not count as working time (the PyVRP route-duration limit is
  ``max_working_time + break length``).  A break that cannot fit in the shift at all, or that the
  optimiser leaves out, is listed in ``Plan.missed_breaks``; if leaving it out would break the
  working-time limit, the route is discarded and its visits get the ``solver_infeasible`` reason.
* **Warm start**: the search starts from the routes holding only the started visits and breaks,
  which are feasible, and PyVRP's iterated local search only ever replaces its best solution by a
  better *feasible* one, so the solver's answer is always feasible (``check_plan`` verifies it).
* **Working time** = return time - departure time - break length (waiting counts as working time;
  PyVRP delays the departure to avoid idle time at the start where possible).

Determinism
-----------
The search stops after ``max_iterations`` iterations or ``time_limit_seconds`` seconds, whichever
comes first.  With the same input, seed and ``max_iterations``, and the iteration budget reached
before the time cap, the result is identical on every run and machine with the same PyVRP version
(the search is single-threaded, uses integer arithmetic, and its random numbers come from the seed
only).  The default budget (10 000 iterations) takes roughly 35-65 s for 400 visits and 40 caregivers
on a 2-core machine, about 15 s for 100 visits and 10 caregivers.  ``Plan.stopped_by`` says which
criterion ended the search; ``"iterations"`` and ``"stalled"`` (``stall_iterations`` without a
better solution) results are reproducible, ``"time_limit"`` ones are not.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from yiyang.routing.checker import _hhmm, check_plan
from yiyang.routing.matrix import (
    FORBIDDEN_COST,
    FORBIDDEN_DURATION,
    MatrixClient,
    MatrixInstance,
    MatrixProfile,
    MatrixRoute,
    MatrixSolution,
    MatrixStop,
    MatrixVehicle,
    SearchParams,
    VrptwInstance,
    dimacs_distance_matrix,
    read_vrplib,
    read_vrplib_solution,
    route_cost,
    solve_matrix,
    vrptw_to_matrix_instance,
)
from yiyang.routing.problem import (
    PLANNER_HISTORY,
    STALL_ITERATIONS,
    Break,
    Caregiver,
    Plan,
    PlanOptions,
    Reason,
    Route,
    Stop,
    UnassignedVisit,
    Visit,
)
from yiyang.routing.travel import Point

__all__ = [
    "PLANNER_HISTORY",
    "STALL_ITERATIONS",
    "Break",
    "Caregiver",
    "FORBIDDEN_COST",
    "FORBIDDEN_DURATION",
    "MatrixClient",
    "MatrixInstance",
    "MatrixProfile",
    "MatrixRoute",
    "MatrixSolution",
    "MatrixStop",
    "MatrixVehicle",
    "Plan",
    "PlanOptions",
    "Reason",
    "Route",
    "SearchParams",
    "Stop",
    "UnassignedVisit",
    "Visit",
    "VrptwInstance",
    "check_plan",
    "dimacs_distance_matrix",
    "plan",
    "read_vrplib",
    "read_vrplib_solution",
    "route_cost",
    "solve_matrix",
    "vrptw_to_matrix_instance",
]

BREAK_NEIGHBOURS = 60
"""Number of nearest allowed visits added to the neighbourhood of each break."""

MAX_PRIZE = 10**8
"""Largest prize (``unassigned_penalty x priority``) accepted, keeping all sums far from overflow."""


# =====================================================================================================
# Planner layer
# =====================================================================================================


def _validate(visits: Sequence[Visit], caregivers: Sequence[Caregiver], options: PlanOptions) -> None:
    if not options.time_limit_seconds > 0:
        raise ValueError(
            f"time_limit_seconds must be positive, got {options.time_limit_seconds}: "
            "the planner needs some time to search"
        )
    if options.max_iterations is not None and options.max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1 or None, got {options.max_iterations}")
    if options.stall_iterations is not None and options.stall_iterations < 1:
        raise ValueError(f"stall_iterations must be at least 1 or None, got {options.stall_iterations}")
    if options.continuity_weight < 0:
        raise ValueError("continuity_weight must not be negative")
    if options.unassigned_penalty < 1:
        raise ValueError("unassigned_penalty must be at least 1")
    for kind, ids in (("visit", [v.id for v in visits]), ("caregiver", [c.id for c in caregivers])):
        seen: set[str] = set()
        for ident in ids:
            if ident in seen:
                raise ValueError(f"duplicate {kind} id {ident!r}")
            seen.add(ident)
    for v in visits:
        if v.service < 0:
            raise ValueError(f"visit {v.id!r}: service duration must not be negative")
        if options.unassigned_penalty * max(1, v.priority) > MAX_PRIZE:
            raise ValueError(f"visit {v.id!r}: unassigned_penalty x priority exceeds {MAX_PRIZE}")
    for c in caregivers:
        if c.shift_end < c.shift_start:
            raise ValueError(f"caregiver {c.id!r}: shift ends before it starts")
        if c.max_working_time is not None and c.max_working_time < 0:
            raise ValueError(f"caregiver {c.id!r}: max_working_time must not be negative")
        if c.rest_break is not None and (
            c.rest_break.duration < 0 or c.rest_break.latest < c.rest_break.earliest
        ):
            raise ValueError(f"caregiver {c.id!r}: invalid break")


def _inside(point: Point, bounds: tuple[float, float, float, float]) -> bool:
    lo_a, lo_b, hi_a, hi_b = bounds
    return lo_a <= point[0] <= hi_a and lo_b <= point[1] <= hi_b


@dataclass
class _Model:
    """Working state of one ``plan`` call (indices into the location list)."""

    points: list[Point] = field(default_factory=list)
    start_loc: list[int] = field(default_factory=list)
    end_loc: list[int] = field(default_factory=list)
    visit_loc: dict[int, int] = field(default_factory=dict)  # visit index -> location
    break_loc: dict[int, int] = field(default_factory=dict)  # caregiver index -> location

    def add(self, point: Point) -> int:
        self.points.append((float(point[0]), float(point[1])))
        return len(self.points) - 1


def plan(
    visits: Sequence[Visit], caregivers: Sequence[Caregiver], options: PlanOptions | None = None
) -> Plan:
    """Assign and sequence visits for the caregivers of one day.

    Raises ``ValueError`` for malformed input (non-positive time limit, duplicate ids, negative
    durations, shifts ending before they start); every *visit* that cannot be served is returned in
    ``Plan.unassigned`` with a reason instead.
    """
    options = options or PlanOptions()
    _validate(visits, caregivers, options)
    p = _Planning(visits, caregivers, options, clock=time.perf_counter())
    _reject_unservable(p)
    if not p.candidates() or not caregivers:
        return p.not_run()
    _build_travel_matrices(p)
    _compute_origins(p)
    _restrict_to_reachable(p)
    if not p.candidates():
        return p.not_run()
    _fit_breaks(p)
    _make_clients(p)
    solution = solve_matrix(
        _make_instance(p),
        seed=options.seed,
        max_iterations=options.max_iterations,
        time_limit=options.time_limit_seconds,
        params=options.search,
        stall_iterations=options.stall_iterations,
    )
    routes = _to_routes(p, solution)
    return _finish(
        visits,
        caregivers,
        routes,
        p.unassigned,
        p.missed_breaks,
        # Without the service-time offset put in the prizes (a constant of the input).
        solution.objective - int(options.count_waiting) * sum(cl.service for cl in p.clients),
        solution.iterations,
        solution.stopped_by,
        p.clock,
    )


@dataclass
class _Planning:
    """State of one ``plan`` call, filled in by its steps in order."""

    visits: Sequence[Visit]
    caregivers: Sequence[Caregiver]
    options: PlanOptions
    clock: float
    unassigned: dict[int, UnassignedVisit] = field(default_factory=dict)
    started_of: dict[int, int] = field(default_factory=dict)  # caregiver index -> started visit index
    model: _Model = field(default_factory=lambda: _Model())
    base: dict[str, np.ndarray] = field(default_factory=dict)  # travel mode -> travel seconds
    dep_early: list[int] = field(default_factory=list)
    origin: list[tuple[int, int, int]] = field(default_factory=list)
    allowed: dict[int, set[int]] = field(default_factory=dict)  # caregiver index -> visit indices
    breaks: dict[int, Break] = field(default_factory=dict)
    missed_breaks: list[int] = field(default_factory=list)
    clients: list[MatrixClient] = field(default_factory=list)
    client_ref: list[tuple[str, int]] = field(default_factory=list)
    client_of_visit: dict[int, int] = field(default_factory=dict)
    client_of_break: dict[int, int] = field(default_factory=dict)

    @property
    def cg_index(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.caregivers)}

    def reject(self, vi: int, code: str, reason: str) -> None:
        self.unassigned[vi] = UnassignedVisit(self.visits[vi].id, code, reason)

    def candidates(self) -> list[int]:
        """Visits not rejected so far."""
        return [vi for vi in range(len(self.visits)) if vi not in self.unassigned]

    def earliest_start(self, v: Visit) -> int:
        if self.options.now is not None and not v.started:
            return max(v.earliest, self.options.now)
        return v.earliest

    def not_run(self) -> Plan:
        return _finish(self.visits, self.caregivers, [], self.unassigned, [], 0, 0, "not_run", self.clock)


def _reject_unservable(p: _Planning) -> None:
    """Checks that need no travel times: windows, area, caregivers, locks, started visits, skills."""
    visits, caregivers, options = p.visits, p.caregivers, p.options
    cg_index, reject = p.cg_index, p.reject
    started_of = p.started_of
    skills_available = set().union(*(c.skills for c in caregivers)) if caregivers else set()
    for vi, v in enumerate(visits):
        if v.latest < v.earliest:
            reject(
                vi,
                Reason.INVALID_WINDOW,
                f"invalid time window: latest start {_hhmm(v.latest)} is "
                f"before earliest start {_hhmm(v.earliest)}",
            )
        elif options.now is not None and not v.started and v.latest < options.now:
            reject(
                vi,
                Reason.WINDOW_CLOSED,
                f"time window already closed (latest start {_hhmm(v.latest)}, now {_hhmm(options.now)})",
            )
        elif options.bounds is not None and not v.started and not _inside(v.location, options.bounds):
            reject(vi, Reason.OUTSIDE_AREA, "location outside the service area")
        elif not caregivers:
            reject(vi, Reason.NO_CAREGIVERS, "no caregivers available")
        elif v.started and v.locked_caregiver_id is None:
            reject(vi, Reason.STARTED_WITHOUT_CAREGIVER, "visit is marked started but has no caregiver")
        elif v.locked_caregiver_id is not None and v.locked_caregiver_id not in cg_index:
            reject(
                vi,
                Reason.LOCKED_UNAVAILABLE,
                f"locked caregiver {v.locked_caregiver_id} is not available today",
            )
        elif v.started:
            ci = cg_index[v.locked_caregiver_id]  # type: ignore[index]
            if ci in started_of:
                reject(
                    vi,
                    Reason.DUPLICATE_STARTED,
                    f"caregiver {v.locked_caregiver_id} already has "
                    f"another started visit ({visits[started_of[ci]].id})",
                )
            else:
                started_of[ci] = vi
        elif v.skill is not None and v.skill not in skills_available:
            reject(vi, Reason.NO_SKILL, f"no caregiver has skill {v.skill!r}")
        elif (
            v.locked_caregiver_id is not None
            and v.skill is not None
            and v.skill not in caregivers[cg_index[v.locked_caregiver_id]].skills
        ):
            reject(
                vi,
                Reason.LOCKED_LACKS_SKILL,
                f"locked caregiver {v.locked_caregiver_id} lacks skill {v.skill!r}",
            )


def _build_travel_matrices(p: _Planning) -> None:
    """Every place of the day (caregivers' starts and ends, visits, breaks) and the travel times per mode."""
    visits, caregivers, options = p.visits, p.caregivers, p.options
    candidates, travel = p.candidates(), options.travel_model()
    model = p.model
    for c in caregivers:
        model.start_loc.append(model.add(c.start))
        model.end_loc.append(model.start_loc[-1] if c.end is None else model.add(c.end))
    for vi in candidates:
        model.visit_loc[vi] = model.add(visits[vi].location)
    for ci, c in enumerate(caregivers):
        if c.rest_break is not None:
            model.break_loc[ci] = model.add(c.rest_break.location or c.start)

    modes = sorted({c.mode for c in caregivers})
    base = p.base
    for mode in modes:
        mat = np.asarray(travel.matrix(model.points, mode))
        n = len(model.points)
        if mat.shape != (n, n):
            raise ValueError(f"travel provider returned shape {mat.shape}, expected {(n, n)}")
        if (mat < 0).any():
            raise ValueError("travel provider returned negative durations")
        mat = np.ceil(mat).astype(np.int64)
        np.fill_diagonal(mat, 0)
        base[mode] = mat


def _compute_origins(p: _Planning) -> None:
    """Each caregiver's earliest departure, and where and when they are free to serve (after a started visit)."""
    visits, caregivers, options = p.visits, p.caregivers, p.options
    started_of, base, model = p.started_of, p.base, p.model
    # Effective earliest departure, and the "origin" each caregiver can serve visits from.
    dep_early = p.dep_early
    origin = p.origin  # (location, earliest free time, working time already used)
    for ci, c in enumerate(caregivers):
        early = c.shift_start
        if options.now is not None and ci not in started_of:
            early = max(early, options.now)
        dep_early.append(early)
        mat = base[c.mode]
        if ci in started_of:
            sv = visits[started_of[ci]]
            loc = model.visit_loc[started_of[ci]]
            t = mat[model.start_loc[ci], loc]
            begin = max(early + t, sv.earliest)
            origin.append((loc, begin + sv.service, t + sv.service))
        else:
            origin.append((model.start_loc[ci], early, 0))


def _restrict_to_reachable(p: _Planning) -> None:
    """Which caregivers may serve each visit (skills, locks, started) and can reach it in their shift."""
    visits, caregivers = p.visits, p.caregivers
    base, model, origin, cg_index, reject = p.base, p.model, p.origin, p.cg_index, p.reject
    earliest_start, candidates = p.earliest_start, p.candidates()

    def reachable(ci: int, vi: int) -> bool:
        c, v = caregivers[ci], visits[vi]
        mat = base[c.mode]
        loc, free, used = origin[ci]
        t_in = int(mat[loc, model.visit_loc[vi]])
        t_out = int(mat[model.visit_loc[vi], model.end_loc[ci]])
        begin = max(free + t_in, earliest_start(v))
        if begin > v.latest or begin + v.service + t_out > c.shift_end:
            return False
        return c.max_working_time is None or used + t_in + v.service + t_out <= c.max_working_time

    allowed: dict[int, set[int]] = {ci: set() for ci in range(len(caregivers))}
    for vi in candidates:
        v = visits[vi]
        if v.started:
            allowed[cg_index[v.locked_caregiver_id]].add(vi)  # type: ignore[index]
            continue
        if v.locked_caregiver_id is not None:
            pool = [cg_index[v.locked_caregiver_id]]
        else:
            pool = [ci for ci, c in enumerate(caregivers) if v.skill is None or v.skill in c.skills]
        ok = [ci for ci in pool if reachable(ci, vi)]
        if not ok:
            who = f"caregiver {v.locked_caregiver_id}'s shift" if v.locked_caregiver_id else "any shift"
            reject(
                vi,
                Reason.UNREACHABLE,
                f"time window {_hhmm(v.earliest)}-{_hhmm(v.latest)} cannot be reached within {who}",
            )
            continue
        for ci in ok:
            allowed[ci].add(vi)
    p.allowed = allowed

def _fit_breaks(p: _Planning) -> None:
    """Breaks that cannot fit in the shift are ignored (reported in missed_breaks)."""
    caregivers = p.caregivers
    model, base, dep_early, started_of, origin = p.model, p.base, p.dep_early, p.started_of, p.origin
    # Breaks that cannot fit in the shift are ignored (reported in missed_breaks).
    missed_breaks = p.missed_breaks
    breaks = p.breaks
    for ci, loc in model.break_loc.items():
        c = caregivers[ci]
        b = c.rest_break
        assert b is not None
        mat = base[c.mode]
        t_in, t_out = int(mat[model.start_loc[ci], loc]), int(mat[loc, model.end_loc[ci]])
        begin = max(dep_early[ci] + t_in, b.earliest)
        fits = begin <= b.latest and begin + b.duration + t_out <= c.shift_end
        if c.max_working_time is not None and t_in + t_out > c.max_working_time:
            fits = False
        if ci in started_of:  # the break must come after the started visit
            loc0, free, used = origin[ci]
            t0 = int(mat[loc0, loc])
            begin = max(free + t0, b.earliest)
            fits = fits and begin <= b.latest and begin + b.duration + t_out <= c.shift_end
        if fits:
            breaks[ci] = b
        else:
            missed_breaks.append(ci)


def _make_clients(p: _Planning) -> None:
    """The PyVRP clients: every candidate visit, then every break that fits."""
    visits, options = p.visits, p.options
    model, breaks, earliest_start, candidates = p.model, p.breaks, p.earliest_start, p.candidates()
    clients = p.clients
    client_ref = p.client_ref  # ("visit", visit index) or ("break", caregiver index)
    max_prize = max(options.unassigned_penalty * max(1, visits[vi].priority) for vi in candidates)
    for vi in candidates:
        v = visits[vi]
        prize = options.unassigned_penalty * max(1, v.priority)
        if v.started:
            prize = 100 * max_prize
        prize += int(options.count_waiting) * v.service  # offsets the duration cost of the service itself
        clients.append(
            MatrixClient(
                location=model.visit_loc[vi],
                tw_early=earliest_start(v),
                tw_late=v.latest,
                service=v.service,
                prize=prize,
                required=False,
            )
        )
        client_ref.append(("visit", vi))
    for ci, b in breaks.items():
        clients.append(
            MatrixClient(
                location=model.break_loc[ci],
                tw_early=b.earliest,
                tw_late=b.latest,
                service=b.duration,
                prize=100 * max_prize + int(options.count_waiting) * b.duration,
                required=False,
            )
        )
        client_ref.append(("break", ci))
    client_of_visit = {idx: k for k, (kind, idx) in enumerate(client_ref) if kind == "visit"}
    client_of_break = {idx: k for k, (kind, idx) in enumerate(client_ref) if kind == "break"}
    p.client_of_visit, p.client_of_break = client_of_visit, client_of_break

def _make_instance(p: _Planning) -> MatrixInstance:
    """Profiles (one per distinct set of restrictions), vehicles and the warm start."""
    visits, caregivers, options = p.visits, p.caregivers, p.options
    model, base, clients, allowed, breaks = p.model, p.base, p.clients, p.allowed, p.breaks
    started_of, candidates, dep_early = p.started_of, p.candidates(), p.dep_early
    client_of_visit, client_of_break = p.client_of_visit, p.client_of_break
    n = len(model.points)
    client_locs = np.array([cl.location for cl in clients], dtype=np.int64)
    prev_of = {vi: visits[vi].previous_caregiver_id for vi in candidates}
    profiles: list[MatrixProfile] = []
    profile_key: dict[tuple, int] = {}
    vehicles: list[MatrixVehicle] = []
    for ci, c in enumerate(caregivers):
        ok_visits = tuple(sorted(allowed[ci]))
        penalised = tuple(
            vi
            for vi in ok_visits
            if options.continuity_weight and prev_of[vi] is not None and prev_of[vi] != c.id
        )
        key = (c.mode, ok_visits, penalised, ci if (ci in started_of or ci in breaks) else None)
        if key not in profile_key:
            profile_key[key] = len(profiles)
            profiles.append(
                _profile(
                    base[c.mode],
                    model,
                    ci,
                    ok_visits,
                    penalised,
                    started_of.get(ci),
                    ci in breaks,
                    client_locs,
                    options.continuity_weight,
                    n,
                    options.count_waiting,
                )
            )
        max_duration = c.max_working_time
        if max_duration is not None and ci in breaks:
            max_duration += breaks[ci].duration
        vehicles.append(
            MatrixVehicle(
                start=model.start_loc[ci],
                end=model.end_loc[ci],
                tw_early=dep_early[ci],
                tw_late=c.shift_end,
                max_duration=max_duration,
                profile=profile_key[key],
                name=c.id,
                unit_duration_cost=int(options.count_waiting),
            )
        )

    # Warm start: every caregiver's started visit and break (a feasible solution, as all clients are
    # optional).  A break is far from most visits in the proximity-based neighbourhood, so it gets the
    # visits its caregiver may serve nearest to it (and the started visit) as extra neighbours.
    initial_routes: list[tuple[int, list[int]]] = []
    extra_neighbours: dict[int, list[int]] = {}
    for ci in range(len(caregivers)):
        first = [client_of_visit[started_of[ci]]] if ci in started_of else []
        if ci in breaks:
            initial_routes.append((ci, [*first, client_of_break[ci]]))
            mat = base[caregivers[ci].mode]
            near = sorted(
                allowed[ci], key=lambda vi: (int(mat[model.break_loc[ci], model.visit_loc[vi]]), vi)
            )
            extra_neighbours[client_of_break[ci]] = [client_of_visit[vi] for vi in near[:BREAK_NEIGHBOURS]]
            extra_neighbours[client_of_break[ci]].extend(first)
        elif first:
            initial_routes.append((ci, first))

    instance = MatrixInstance(
        profiles=profiles,
        clients=clients,
        vehicles=vehicles,
        name="plan",
        initial_routes=initial_routes,
        extra_neighbours=extra_neighbours,
    )
    return instance

def _to_routes(p: _Planning, solution: MatrixSolution) -> list[Route]:
    """The solver's routes as the caregivers' routes; visits it left out get their reason."""
    visits, caregivers = p.visits, p.caregivers
    clients, client_ref, breaks, base, model = p.clients, p.client_ref, p.breaks, p.base, p.model
    missed_breaks, unassigned, reject, candidates = p.missed_breaks, p.unassigned, p.reject, p.candidates()
    routes: list[Route] = []
    for mroute in solution.routes:
        ci = mroute.vehicle
        c = caregivers[ci]
        refs = [client_ref[s.client] for s in mroute.stops]
        if not mroute.feasible:
            for kind, idx in refs:
                if kind == "visit":
                    reject(
                        idx,
                        Reason.SOLVER_INFEASIBLE,
                        "the optimiser found no feasible schedule for "
                        f"caregiver {c.id} within the time limit",
                    )
            continue
        if not any(kind == "visit" for kind, _ in refs):
            continue  # a break-only route: the caregiver is idle
        if ci in breaks and ("break", ci) not in refs:
            # The optimiser left the break out; the route-duration limit assumed it was there.
            worked = mroute.return_time - mroute.departure
            if c.max_working_time is not None and worked > c.max_working_time:
                for idx in (idx for kind, idx in refs if kind == "visit"):
                    reject(
                        idx,
                        Reason.SOLVER_INFEASIBLE,
                        f"the optimiser could not fit caregiver {c.id}'s break with this route",
                    )
                continue
            missed_breaks.append(ci)
        mat = base[c.mode]
        prev = model.start_loc[ci]
        stops = []
        for s, (kind, idx) in zip(mroute.stops, refs, strict=True):
            loc = clients[s.client].location
            # PyVRP leaves the previous place at once and waits at the door; the caregiver is told to
            # leave just in time instead, so the arrival is the start and the wait is spent before.
            stops.append(
                Stop(
                    kind=kind,
                    visit_id=visits[idx].id if kind == "visit" else None,
                    arrival=s.start,
                    start=s.start,
                    end=s.end,
                    travel=int(mat[prev, loc]),
                    waiting=s.start - s.arrival,
                )
            )
            prev = loc
        travel_time = sum(st.travel for st in stops) + int(mat[prev, model.end_loc[ci]])
        routes.append(
            Route(
                caregiver_id=c.id,
                stops=tuple(stops),
                departure=mroute.departure,
                end_time=mroute.return_time,
                travel_time=travel_time,
                break_time=sum(st.end - st.start for st in stops if st.kind == "break"),
                waiting_time=sum(st.waiting for st in stops),
            )
        )
    served = {st.visit_id for r in routes for st in r.stops if st.kind == "visit"}
    for vi in candidates:
        if visits[vi].id not in served and vi not in unassigned:
            reject(vi, Reason.DROPPED, "not enough caregiver time or capacity: dropped by the optimiser")
    return routes

def _profile(
    base: np.ndarray,
    model: _Model,
    ci: int,
    ok_visits: Sequence[int],
    penalised: Sequence[int],
    started: int | None,
    has_break: bool,
    client_locs: np.ndarray,
    continuity_weight: int,
    n: int,
    count_waiting: bool = False,
) -> MatrixProfile:
    duration = base.copy()
    # Counting waiting, travel is charged as route duration (unit_duration_cost), not as arc cost.
    cost = np.zeros_like(base) if count_waiting else base.copy()
    if penalised:
        cols = [model.visit_loc[vi] for vi in penalised]
        cost[:, cols] += continuity_weight
    allowed_locs = {model.visit_loc[vi] for vi in ok_visits}
    if has_break:
        allowed_locs.add(model.break_loc[ci])
    forbidden = np.array(sorted(set(client_locs.tolist()) - allowed_locs), dtype=np.int64)
    for mat, value in ((duration, FORBIDDEN_DURATION), (cost, FORBIDDEN_COST)):
        if forbidden.size:
            mat[forbidden, :] = value
            mat[:, forbidden] = value
        if started is not None:
            sloc = model.visit_loc[started]
            start = model.start_loc[ci]
            others = np.array(sorted(allowed_locs - {sloc}), dtype=np.int64)
            if others.size:
                mat[start, others] = value
            incoming = np.ones(n, dtype=bool)
            incoming[start] = False
            incoming[sloc] = False
            mat[incoming, sloc] = value
        np.fill_diagonal(mat, 0)
    return MatrixProfile(cost=cost, duration=duration)


def _finish(
    visits: Sequence[Visit],
    caregivers: Sequence[Caregiver],
    routes: list[Route],
    unassigned: dict[int, UnassignedVisit],
    missed_breaks: list[int],
    objective: int,
    iterations: int,
    stopped_by: str,
    clock: float,
) -> Plan:
    order = {c.id: i for i, c in enumerate(caregivers)}
    routes = sorted(routes, key=lambda r: order[r.caregiver_id])
    by_id = {v.id: v for v in visits}
    kept = sum(
        1
        for r in routes
        for vid in r.visit_ids
        if by_id[vid].previous_caregiver_id is not None and by_id[vid].previous_caregiver_id == r.caregiver_id
    )
    used = {r.caregiver_id for r in routes}
    return Plan(
        routes=tuple(routes),
        unassigned=tuple(unassigned[vi] for vi in sorted(unassigned)),
        total_travel_time=sum(r.travel_time for r in routes),
        visits_served=sum(len(r.visit_ids) for r in routes),
        routes_used=len(routes),
        objective=objective,
        continuity_kept=kept,
        idle_caregivers=tuple(c.id for c in caregivers if c.id not in used),
        missed_breaks=tuple(caregivers[ci].id for ci in missed_breaks),
        stopped_by=stopped_by,
        iterations=iterations,
        runtime_seconds=time.perf_counter() - clock,
        total_waiting_time=sum(r.waiting_time for r in routes),
    )
