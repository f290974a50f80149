"""The route planner's input and output: visits, caregivers and their breaks, the options, and the plan
(routes of stops, unassigned visits with reasons).  Pure data; :func:`yiyang.routing.solver.plan` makes a
:class:`Plan` and :func:`yiyang.routing.checker.check_plan` checks one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from yiyang.routing.matrix import SearchParams
from yiyang.routing.travel import (
    DEFAULT_DETOUR_FACTOR,
    DEFAULT_SPEEDS_KMH,
    EBIKE,
    Point,
    StraightLineTravel,
    TravelTimeProvider,
)

STALL_ITERATIONS = 300
"""Default stall stop of the planner: with the planner's shorter acceptance history (``PLANNER_HISTORY``)
a provider's day of 12 or 50 visits reaches the cost of the full 10 000-iteration budget in under a second
(``bench/routing.py --provider-days``)."""

PLANNER_HISTORY = 50
"""Late-acceptance history of the planner's search (Solomon's tuned 300 accepts worse solutions for longer,
which a budget cut short by the stall stop cannot afford)."""


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
