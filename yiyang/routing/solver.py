"""Solving core of the caregiver route planner (a VRPTW solved with PyVRP).

Two layers live in this module; both are pure Python (numpy + PyVRP), without Django:

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
   :func:`check_plan` is an independent feasibility checker used by the tests.

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
criterion ended the search; only ``"iterations"`` results are reproducible.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyvrp
from pyvrp import (
    Activity,
    ActivityType,
    Client,
    Depot,
    Location,
    PenaltyManager,
    ProblemData,
    RandomNumberGenerator,
    Solution,
    SolveParams,
    VehicleType,
)
from pyvrp.search import (
    LocalSearch,
    NeighbourhoodParams,
    PerturbationManager,
    PerturbationParams,
    compute_neighbours,
)
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement, StoppingCriterion

from yiyang.routing.travel import (
    DEFAULT_DETOUR_FACTOR,
    DEFAULT_SPEEDS_KMH,
    EBIKE,
    Point,
    StraightLineTravel,
    TravelTimeProvider,
    travel_seconds,
)

__all__ = [
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

FORBIDDEN_DURATION = 10**8
"""Travel duration (s) put on arcs a vehicle must not use: ~3 years, so any route using one is late."""

FORBIDDEN_COST = 10**12
"""Cost put on arcs a vehicle must not use; far above any prize the planner hands out."""

BREAK_NEIGHBOURS = 60
"""Number of nearest allowed visits added to the neighbourhood of each break."""

STALL_ITERATIONS = 300
"""Default stall stop of the planner: with the planner's shorter acceptance history (``PLANNER_HISTORY``)
a provider's day of 12 or 50 visits reaches the cost of the full 10 000-iteration budget in under a second
(``bench/routing.py --provider-days``)."""

PLANNER_HISTORY = 50
"""Late-acceptance history of the planner's search (Solomon's tuned 300 accepts worse solutions for longer,
which a budget cut short by the stall stop cannot afford)."""

MAX_PRIZE = 10**8
"""Largest prize (``unassigned_penalty x priority``) accepted, keeping all sums far from overflow."""


# =====================================================================================================
# Matrix layer
# =====================================================================================================


@dataclass(frozen=True)
class MatrixClient:
    """A client of the abstract routing problem.  ``tw_late`` is the latest *start* of service."""

    location: int
    tw_early: int = 0
    tw_late: int | None = None
    service: int = 0
    demand: int = 0
    prize: int = 0
    required: bool = True


@dataclass(frozen=True)
class MatrixVehicle:
    """``count`` identical vehicles starting at location ``start`` and ending at location ``end``.

    ``tw_early``/``tw_late`` bound the departure and the return; ``max_duration`` bounds the route
    duration (return - departure, waiting included); ``capacity=None`` means no load limit.
    """

    start: int
    end: int
    count: int = 1
    capacity: int | None = None
    tw_early: int = 0
    tw_late: int | None = None
    max_duration: int | None = None
    profile: int = 0
    name: str = ""
    unit_duration_cost: int = 0
    """Cost per second of route duration (travel, service and waiting), on top of the arc costs."""


@dataclass(frozen=True)
class MatrixProfile:
    """Arc costs (the objective) and arc durations (used for time feasibility), both integer."""

    cost: np.ndarray
    duration: np.ndarray


@dataclass
class MatrixInstance:
    """An abstract VRPTW: locations are ``0..n-1`` (rows of the matrices); clients and vehicles point
    into them.  Locations used as a vehicle start or end must not also host a client."""

    profiles: list[MatrixProfile]
    clients: list[MatrixClient]
    vehicles: list[MatrixVehicle]
    coords: np.ndarray | None = None
    name: str = ""
    initial_routes: list[tuple[int, list[int]]] = field(default_factory=list)
    """Optional warm start: ``(vehicle index, client indices in order)`` per route.  Routes that are
    infeasible on their own are left out.  When given, the search starts from these routes (all other
    clients unplanned), which guarantees a feasible result if every client is optional."""
    extra_neighbours: dict[int, list[int]] = field(default_factory=dict)
    """Client index -> clients to add to its granular neighbourhood (both directions), so that moves
    between clients that are far apart but belong together (a break and its caregiver's visits) are
    evaluated."""

    @property
    def num_locations(self) -> int:
        return int(self.profiles[0].cost.shape[0])


@dataclass(frozen=True)
class SearchParams:
    """Tuning knobs of PyVRP's iterated local search (defaults tuned on the Solomon benchmark)."""

    num_neighbours: int = 20
    weight_wait_time: float = 0.2
    history_length: int = 300
    num_iters_no_improvement: int = 150_000
    min_perturbations: int = 1
    max_perturbations: int = 25

    def to_pyvrp(self) -> SolveParams:
        return SolveParams(
            ils=pyvrp.IteratedLocalSearchParams(
                num_iters_no_improvement=self.num_iters_no_improvement,
                history_length=self.history_length,
            ),
            neighbourhood=NeighbourhoodParams(
                weight_wait_time=self.weight_wait_time, num_neighbours=self.num_neighbours
            ),
            perturbation=PerturbationParams(
                min_perturbations=self.min_perturbations, max_perturbations=self.max_perturbations
            ),
        )


@dataclass(frozen=True)
class MatrixStop:
    client: int
    arrival: int
    start: int
    end: int


@dataclass(frozen=True)
class MatrixRoute:
    vehicle: int
    """Index into ``MatrixInstance.vehicles``."""
    stops: tuple[MatrixStop, ...]
    departure: int
    return_time: int
    cost: int
    travel: int
    time_warp: int
    excess_load: int

    @property
    def feasible(self) -> bool:
        return self.time_warp == 0 and self.excess_load == 0

    @property
    def clients(self) -> list[int]:
        return [s.client for s in self.stops]


@dataclass(frozen=True)
class MatrixSolution:
    routes: tuple[MatrixRoute, ...]
    unassigned: tuple[int, ...]
    objective: int
    """Arc costs of all routes plus the prizes of the clients left out."""
    feasible: bool
    iterations: int
    stopped_by: str
    """``"iterations"`` or ``"stalled"`` (deterministic), or ``"time_limit"``."""
    runtime: float = field(compare=False)

    @property
    def cost(self) -> int:
        """Sum of the arc costs of all routes (the distance for the Solomon benchmark)."""
        return sum(r.cost for r in self.routes)


def _build_problem_data(instance: MatrixInstance) -> ProblemData:
    n = instance.num_locations
    if not instance.profiles:
        raise ValueError("a MatrixInstance needs at least one profile")
    for prof in instance.profiles:
        if prof.cost.shape != (n, n) or prof.duration.shape != (n, n):
            raise ValueError("all cost and duration matrices must be square with the same size")

    depot_locs = sorted({v.start for v in instance.vehicles} | {v.end for v in instance.vehicles})
    client_locs = {c.location for c in instance.clients}
    if client_locs & set(depot_locs):
        raise ValueError("a location cannot be both a vehicle start/end and a client location")
    depot_index = {loc: i for i, loc in enumerate(depot_locs)}

    if instance.coords is not None:
        coords = np.asarray(instance.coords, dtype=float)
    else:
        coords = np.zeros((n, 2))
    locations = [Location(x=float(coords[i, 0]), y=float(coords[i, 1])) for i in range(n)]

    use_load = any(v.capacity is not None for v in instance.vehicles) or any(
        c.demand for c in instance.clients
    )
    clients = []
    for c in instance.clients:
        kwargs: dict = {}
        if c.tw_late is not None:
            kwargs["tw_late"] = int(c.tw_late)
        clients.append(
            Client(
                location=int(c.location),
                delivery=[int(c.demand)] if use_load else [],
                service_duration=int(c.service),
                tw_early=int(c.tw_early),
                prize=int(c.prize),
                required=bool(c.required),
                **kwargs,
            )
        )
    depots = [Depot(location=int(loc)) for loc in depot_locs]

    big = np.iinfo(np.int64).max
    vehicle_types = []
    for v in instance.vehicles:
        kwargs = {}
        if v.tw_late is not None:
            kwargs["tw_late"] = int(v.tw_late)
        if v.max_duration is not None:
            kwargs["shift_duration"] = int(v.max_duration)
        capacity = [int(v.capacity) if v.capacity is not None else big] if use_load else []
        vehicle_types.append(
            VehicleType(
                num_available=int(v.count),
                capacity=capacity,
                start_depot=depot_index[v.start],
                end_depot=depot_index[v.end],
                tw_early=int(v.tw_early),
                profile=int(v.profile),
                unit_distance_cost=1,
                unit_duration_cost=int(v.unit_duration_cost),
                name=v.name,
                **kwargs,
            )
        )

    return ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=[np.ascontiguousarray(p.cost, dtype=np.int64) for p in instance.profiles],
        duration_matrices=[np.ascontiguousarray(p.duration, dtype=np.int64) for p in instance.profiles],
    )


def _run_search(
    data: ProblemData, instance: MatrixInstance, stop: StoppingCriterion, seed: int, params: SolveParams
) -> pyvrp.Result:
    """PyVRP's iterated local search, as ``pyvrp.solve`` sets it up, plus warm start and extra
    neighbours.  Without ``initial_routes`` and ``extra_neighbours`` this is exactly ``pyvrp.solve``."""
    rng = RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    for u, extra in instance.extra_neighbours.items():
        for v in extra:
            if u == v:
                continue
            for a, b in ((u, v), (v, u)):
                key, item = Activity(ActivityType.CLIENT, a), Activity(ActivityType.CLIENT, b)
                row = neighbours.setdefault(key, [])
                if item not in row:
                    row.append(item)
    ls = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    pm = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)

    if instance.initial_routes:
        routes = []
        for vehicle, clients in instance.initial_routes:
            route = pyvrp.Route(data, [int(c) for c in clients], int(vehicle))
            if route.is_feasible():
                routes.append(route)
        warm = Solution(data, routes)
        init = ls(warm, pm.max_cost_evaluator(), exhaustive=True)
        if warm.is_feasible() and not init.is_feasible():
            init = warm  # keep a feasible starting point: the best solution then stays feasible
    else:
        init = ls(Solution.make_random(data, rng), pm.max_cost_evaluator(), exhaustive=True)

    algo = pyvrp.IteratedLocalSearch(data, pm, ls, init, params.ils)
    return algo.run(stop, collect_stats=False, display=False)


def solve_matrix(
    instance: MatrixInstance,
    *,
    seed: int = 0,
    max_iterations: int | None = None,
    time_limit: float | None = None,
    params: SearchParams | None = None,
    stall_iterations: int | None = None,
) -> MatrixSolution:
    """Solve an abstract VRPTW with PyVRP.

    Stops after ``max_iterations`` iterations, ``time_limit`` seconds, or ``stall_iterations``
    iterations in a row without a better solution, whichever comes first; ``max_iterations`` or
    ``time_limit`` must be given.  The same instance, seed and ``max_iterations`` give the same
    solution whenever an iteration count (the budget or the stall) is what stopped the search.
    """
    if max_iterations is None and time_limit is None:
        raise ValueError("give max_iterations and/or time_limit")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    if max_iterations is not None and max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    if stall_iterations is not None and stall_iterations < 1:
        raise ValueError(f"stall_iterations must be at least 1, got {stall_iterations}")

    data = _build_problem_data(instance)
    criteria = []
    if max_iterations is not None:
        criteria.append(MaxIterations(max_iterations))
    if time_limit is not None:
        criteria.append(MaxRuntime(time_limit))
    if stall_iterations is not None:
        criteria.append(NoImprovement(stall_iterations))
    stop = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)

    started = time.perf_counter()
    result = _run_search(data, instance, stop, seed, (params or SearchParams()).to_pyvrp())
    runtime = time.perf_counter() - started

    best = result.best
    routes = []
    served: set[int] = set()
    for route in best.routes():
        stops = []
        for act in route.schedule():
            if not act.is_client():
                continue
            served.add(act.idx)
            stops.append(
                MatrixStop(
                    client=int(act.idx),
                    arrival=int(act.start_time - act.wait_duration),
                    start=int(act.start_time),
                    end=int(act.end_time),
                )
            )
        excess = route.excess_load()
        routes.append(
            MatrixRoute(
                vehicle=int(route.vehicle_type()),
                stops=tuple(stops),
                departure=int(route.start_time()),
                return_time=int(route.end_time()),
                cost=int(route.distance()),
                travel=int(route.travel_duration()),
                time_warp=int(route.time_warp()),
                excess_load=int(sum(excess)) if excess else 0,
            )
        )
    # Sort for a stable, readable order (PyVRP's route order carries no meaning).
    routes.sort(key=lambda r: (r.vehicle, r.departure, r.clients))
    unassigned = tuple(i for i in range(len(instance.clients)) if i not in served)
    objective = int(
        best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost() + best.uncollected_prizes()
    )
    if max_iterations is not None and result.num_iterations >= max_iterations:
        stopped_by = "iterations"
    elif time_limit is not None and runtime >= time_limit:
        stopped_by = "time_limit"
    elif stall_iterations is not None:
        stopped_by = "stalled"
    else:
        stopped_by = "time_limit"  # pragma: no cover - one of the criteria ended the search
    return MatrixSolution(
        routes=tuple(routes),
        unassigned=unassigned,
        objective=objective,
        feasible=bool(best.is_feasible()),
        iterations=int(result.num_iterations),
        stopped_by=stopped_by,
        runtime=runtime,
    )


# -----------------------------------------------------------------------------------------------------
# VRPLIB / Solomon benchmark support (used by bench/routing.py and the tests)
# -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VrptwInstance:
    """A capacitated VRPTW instance as found in VRPLIB files (node 0 is the depot)."""

    name: str
    coords: np.ndarray
    demands: np.ndarray
    time_windows: np.ndarray
    service: np.ndarray
    capacity: int
    vehicles: int

    @property
    def num_clients(self) -> int:
        return len(self.coords) - 1


def read_vrplib(path: str | Path) -> VrptwInstance:
    """Read a VRPTW instance in VRPLIB format (EUC_2D, one depot numbered 1)."""
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = line
            sections[current] = []
            continue
        if current is None and ":" in line:
            key, _, value = line.partition(":")
            header[key.strip().upper()] = value.strip()
            continue
        if current is None:
            continue
        sections[current].append(line.split())

    dim = int(header["DIMENSION"])
    coords = np.zeros((dim, 2))
    for row in sections.get("NODE_COORD_SECTION", []):
        coords[int(row[0]) - 1] = float(row[1]), float(row[2])
    demands = np.zeros(dim, dtype=np.int64)
    for row in sections.get("DEMAND_SECTION", []):
        demands[int(row[0]) - 1] = int(row[1])
    windows = np.zeros((dim, 2))
    windows[:, 1] = np.inf
    for row in sections.get("TIME_WINDOW_SECTION", []):
        windows[int(row[0]) - 1] = float(row[1]), float(row[2])
    service = np.zeros(dim)
    if "SERVICE_TIME" in header:
        service[1:] = float(header["SERVICE_TIME"])
    for row in sections.get("SERVICE_TIME_SECTION", []):
        service[int(row[0]) - 1] = float(row[1])
    depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if int(r[0]) > 0]
    if depots != [1]:
        raise ValueError(f"{path}: only single-depot instances with depot 1 are supported")
    return VrptwInstance(
        name=header.get("NAME", Path(path).stem),
        coords=coords,
        demands=demands,
        time_windows=windows,
        service=service,
        capacity=int(header["CAPACITY"]),
        vehicles=int(header.get("VEHICLES", dim - 1)),
    )


def read_vrplib_solution(path: str | Path) -> tuple[list[list[int]], float | None]:
    """Read a VRPLIB solution file: routes as lists of client numbers (1..n), and the stated cost."""
    routes: list[list[int]] = []
    cost: float | None = None
    for line in Path(path).read_text().splitlines():
        if match := re.match(r"\s*Route\s*#\d+\s*:(.*)", line):
            routes.append([int(tok) for tok in match.group(1).split()])
        elif match := re.match(r"\s*Cost\s+([-\d.eE+]+)", line):
            cost = float(match.group(1))
    return routes, cost


def dimacs_distance_matrix(coords: np.ndarray) -> np.ndarray:
    """Euclidean distances scaled by 10 and truncated (the DIMACS VRPTW convention), as int64."""
    arr = np.asarray(coords, dtype=float)
    diff = arr[:, None, :] - arr[None, :, :]
    return np.floor(10 * np.sqrt((diff**2).sum(axis=2))).astype(np.int64)


def route_cost(matrix: np.ndarray, routes: Iterable[Sequence[int]], depot: int = 0) -> int:
    """Total cost of depot-to-depot routes given as location indices."""
    total = 0
    for route in routes:
        if not route:
            continue
        path = [depot, *route, depot]
        total += int(sum(matrix[a, b] for a, b in zip(path, path[1:], strict=False)))
    return total


def vrptw_to_matrix_instance(inst: VrptwInstance) -> MatrixInstance:
    """DIMACS rounding: distances and times x10 truncated; travel time equals distance.

    The depot's time window becomes the vehicles' shift; the number of vehicles is an upper bound
    (no fixed vehicle cost, so the fleet size actually used is free).
    """
    dist = dimacs_distance_matrix(inst.coords)
    windows = inst.time_windows
    late_depot = windows[0, 1]
    clients = [
        MatrixClient(
            location=i,
            tw_early=int(10 * windows[i, 0]),
            tw_late=int(10 * windows[i, 1]) if math.isfinite(windows[i, 1]) else None,
            service=int(10 * inst.service[i]),
            demand=int(inst.demands[i]),
        )
        for i in range(1, len(inst.coords))
    ]
    vehicle = MatrixVehicle(
        start=0,
        end=0,
        count=inst.vehicles,
        capacity=inst.capacity,
        tw_early=int(10 * windows[0, 0]),
        tw_late=int(10 * late_depot) if math.isfinite(late_depot) else None,
    )
    return MatrixInstance(
        profiles=[MatrixProfile(cost=dist, duration=dist)],
        clients=clients,
        vehicles=[vehicle],
        coords=inst.coords,
        name=inst.name,
    )


# =====================================================================================================
# Planner layer
# =====================================================================================================


@dataclass(frozen=True)
class Visit:
    """A care visit to plan.  ``earliest``/``latest`` bound the *start* of the visit."""

    id: str
    location: Point
    earliest: int
    latest: int
    service: int
    skill: str | None = None
    priority: int = 1
    previous_caregiver_id: str | None = None
    """Who served this client last time (continuity of care is preferred, not enforced)."""
    locked_caregiver_id: str | None = None
    """The dispatcher fixed this visit to this caregiver (hard)."""
    started: bool = False
    """Already checked in: stays with ``locked_caregiver_id`` and first in that route, whatever the
    skills and the service area say (it is already happening).  For a re-plan, set
    ``earliest``/``latest`` to the actual check-in time."""


@dataclass(frozen=True)
class Break:
    """A break of ``duration`` seconds starting between ``earliest`` and ``latest``, taken at
    ``location`` (default: the caregiver's start location)."""

    earliest: int
    latest: int
    duration: int
    location: Point | None = None


@dataclass(frozen=True)
class Caregiver:
    id: str
    start: Point
    shift_start: int
    shift_end: int
    """Latest return time at ``end``."""
    end: Point | None = None
    """Where the route ends (default: ``start``)."""
    skills: frozenset[str] = frozenset()
    max_working_time: int | None = None
    mode: str = EBIKE
    rest_break: Break | None = None

    @property
    def end_point(self) -> Point:
        return self.end if self.end is not None else self.start


@dataclass(frozen=True)
class PlanOptions:
    seed: int = 0
    time_limit_seconds: float = 60.0
    """Hard cap on the search time.  Must be positive (``plan`` raises ``ValueError`` otherwise)."""
    max_iterations: int | None = 10_000
    """Deterministic search budget; ``None`` = search until the time limit (not reproducible)."""
    stall_iterations: int | None = STALL_ITERATIONS
    """Stop after this many iterations in a row without a better plan (deterministic): a small day
    stops improving long before the budget.  ``None`` = always run the full budget or time limit."""
    count_waiting: bool = True
    """Waiting (idle time before a window opens) costs like travel, second for second.  PyVRP then
    charges route *duration* instead of the travel in the cost matrices, and the service time (the same
    whichever caregiver serves a visit) is added back to each visit's prize, so the charge left is
    travel + waiting.  ``False`` = travel only: the solver may send a caregiver to a 15:00 visit at 11:00."""
    continuity_weight: int = 600
    """Extra cost (in travel seconds) for serving a visit by someone other than its previous caregiver."""
    unassigned_penalty: int = 100_000
    """Prize per priority unit for serving a visit (cost of leaving it out), in travel seconds."""
    detour_factor: float = DEFAULT_DETOUR_FACTOR
    speeds_kmh: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))
    geodesic: bool = True
    """``True``: locations are ``(lat, lon)``; ``False``: projected ``(x, y)`` in metres."""
    travel: TravelTimeProvider | None = None
    """Road-network travel times; ``None`` = the straight-line model built from the fields above."""
    bounds: tuple[float, float, float, float] | None = None
    """Service area ``(min_lat, min_lon, max_lat, max_lon)`` (or ``(min_x, min_y, max_x, max_y)``)."""
    now: int | None = None
    """For a re-plan during the day: visits whose window closed before ``now`` are rejected, visits
    cannot start before ``now``, and caregivers without a started visit leave ``start`` at ``now`` at
    the earliest (so ``start`` should then be their current position)."""
    search: SearchParams = field(default_factory=lambda: SearchParams(history_length=PLANNER_HISTORY))

    def travel_model(self) -> TravelTimeProvider:
        if self.travel is not None:
            return self.travel
        return StraightLineTravel(
            detour_factor=self.detour_factor, speeds_kmh=dict(self.speeds_kmh), geodesic=self.geodesic
        )


class Reason:
    """Codes of :class:`UnassignedVisit` (the human-readable text is in ``UnassignedVisit.reason``)."""

    INVALID_WINDOW = "invalid_window"
    WINDOW_CLOSED = "window_closed"
    OUTSIDE_AREA = "outside_area"
    NO_CAREGIVERS = "no_caregivers"
    NO_SKILL = "no_skill"
    LOCKED_UNAVAILABLE = "locked_unavailable"
    LOCKED_LACKS_SKILL = "locked_lacks_skill"
    STARTED_WITHOUT_CAREGIVER = "started_without_caregiver"
    DUPLICATE_STARTED = "duplicate_started"
    UNREACHABLE = "unreachable"
    DROPPED = "dropped"
    SOLVER_INFEASIBLE = "solver_infeasible"


@dataclass(frozen=True)
class UnassignedVisit:
    visit_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class Stop:
    kind: str
    """``"visit"`` or ``"break"``."""
    visit_id: str | None
    arrival: int
    start: int
    end: int
    travel: int
    """Travel time from the previous place (start location or previous stop)."""
    waiting: int = 0
    """Idle time before this stop (spent at the previous place: the caregiver leaves it just in time, so
    ``arrival`` is ``start`` whenever the window allows)."""


@dataclass(frozen=True)
class Route:
    caregiver_id: str
    stops: tuple[Stop, ...]
    departure: int
    end_time: int
    """Arrival at the caregiver's end location."""
    travel_time: int
    break_time: int = 0
    waiting_time: int = 0
    """Idle time between departure and return (also working time)."""

    @property
    def visit_ids(self) -> list[str]:
        return [s.visit_id for s in self.stops if s.kind == "visit" and s.visit_id is not None]

    @property
    def working_time(self) -> int:
        return self.end_time - self.departure - self.break_time


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    """Routes of the caregivers who serve at least one visit, in the order the caregivers were given."""
    unassigned: tuple[UnassignedVisit, ...]
    total_travel_time: int
    visits_served: int
    routes_used: int
    objective: int
    """PyVRP objective: travel seconds + continuity penalties + prizes of visits the solver left out
    (visits rejected by the pre-checks are not part of it) + waiting seconds (``count_waiting``).  0 when
    the solver did not run."""
    continuity_kept: int
    """Served visits with a previous caregiver that are served by that caregiver."""
    idle_caregivers: tuple[str, ...]
    missed_breaks: tuple[str, ...]
    """Caregivers whose break could not be placed inside their shift (the break was ignored)."""
    stopped_by: str
    """``"iterations"`` or ``"stalled"`` (reproducible), ``"time_limit"``, or ``"not_run"`` (nothing to
    optimise)."""
    iterations: int
    runtime_seconds: float = field(compare=False)
    total_waiting_time: int = 0

    def route_for(self, caregiver_id: str) -> Route | None:
        for route in self.routes:
            if route.caregiver_id == caregiver_id:
                return route
        return None

    def unassigned_reason(self, visit_id: str) -> UnassignedVisit | None:
        for item in self.unassigned:
            if item.visit_id == visit_id:
                return item
        return None


def _hhmm(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


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
    clock = time.perf_counter()
    travel = options.travel_model()
    cg_index = {c.id: i for i, c in enumerate(caregivers)}
    unassigned: dict[int, UnassignedVisit] = {}

    def reject(vi: int, code: str, reason: str) -> None:
        unassigned[vi] = UnassignedVisit(visits[vi].id, code, reason)

    # ---- checks that need no travel times ------------------------------------------------------
    started_of: dict[int, int] = {}  # caregiver index -> started visit index
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

    candidates = [vi for vi in range(len(visits)) if vi not in unassigned]
    if not candidates or not caregivers:
        return _finish(visits, caregivers, [], unassigned, [], 0, 0, "not_run", clock)

    # ---- locations and travel times -----------------------------------------------------------
    model = _Model()
    for c in caregivers:
        model.start_loc.append(model.add(c.start))
        model.end_loc.append(model.start_loc[-1] if c.end is None else model.add(c.end))
    for vi in candidates:
        model.visit_loc[vi] = model.add(visits[vi].location)
    for ci, c in enumerate(caregivers):
        if c.rest_break is not None:
            model.break_loc[ci] = model.add(c.rest_break.location or c.start)

    modes = sorted({c.mode for c in caregivers})
    base: dict[str, np.ndarray] = {}
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

    # Effective earliest departure, and the "origin" each caregiver can serve visits from.
    dep_early = []
    origin = []  # (location, earliest free time, working time already used)
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

    def earliest_start(v: Visit) -> int:
        if options.now is not None and not v.started:
            return max(v.earliest, options.now)
        return v.earliest

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

    candidates = [vi for vi in candidates if vi not in unassigned]
    if not candidates:
        return _finish(visits, caregivers, [], unassigned, [], 0, 0, "not_run", clock)

    # Breaks that cannot fit in the shift are ignored (reported in missed_breaks).
    missed_breaks: list[int] = []
    breaks: dict[int, Break] = {}
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

    # ---- clients --------------------------------------------------------------------------------
    clients: list[MatrixClient] = []
    client_ref: list[tuple[str, int]] = []  # ("visit", visit index) or ("break", caregiver index)
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

    # ---- profiles (one per distinct set of restrictions) and vehicles -----------------------------
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
    solution = solve_matrix(
        instance,
        seed=options.seed,
        max_iterations=options.max_iterations,
        time_limit=options.time_limit_seconds,
        params=options.search,
        stall_iterations=options.stall_iterations,
    )

    # ---- back to domain objects ------------------------------------------------------------------
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

    return _finish(
        visits,
        caregivers,
        routes,
        unassigned,
        missed_breaks,
        # Without the service-time offset put in the prizes (a constant of the input).
        solution.objective - int(options.count_waiting) * sum(cl.service for cl in clients),
        solution.iterations,
        solution.stopped_by,
        clock,
    )


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
