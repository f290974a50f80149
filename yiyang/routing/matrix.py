"""The matrix layer of the route planner: an abstract VRPTW (integer cost and duration matrices per profile,
clients with time windows, vehicles with shifts) solved with PyVRP's iterated local search, and the VRPLIB /
Solomon readers of the benchmark.  See :mod:`yiyang.routing.solver` for how the planner encodes its rules here.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
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

FORBIDDEN_DURATION = 10**8
"""Travel duration (s) put on arcs a vehicle must not use: ~3 years, so any route using one is late."""

FORBIDDEN_COST = 10**12
"""Cost put on arcs a vehicle must not use; far above any prize the planner hands out."""


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
