"""Reads of the routing domain: a provider's plans, a plan laid out per caregiver, the map, and the order a
caregiver's published route puts their visits in (for the caregiver's phone pages)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

from .models import PlanStatus, RouteLock, RoutePlan, RouteStop
from .texts import note_text, reason_text

# One colour per caregiver route (ECharts' default palette, readable on white).
COLOURS = ("#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452", "#9a60b4", "#ea7ccc",
           "#2f4554", "#c23531", "#61a0a8")


def latest_plan(provider, day: datetime.date) -> RoutePlan | None:
    return (RoutePlan.objects.filter(provider_id=getattr(provider, "pk", provider), day=day)
            .order_by("-version").first())


def published_plan(provider, day: datetime.date) -> RoutePlan | None:
    return (RoutePlan.objects.filter(provider_id=getattr(provider, "pk", provider), day=day,
                                     status=PlanStatus.PUBLISHED).order_by("-version").first())


def published_sequence(caregiver, day: datetime.date) -> dict[int, tuple[int, datetime.datetime]]:
    """order id → (position, planned arrival) in the caregiver's published route of the day (one query);
    empty when nothing is published for them."""
    rows = (RouteStop.objects.filter(plan__provider_id=caregiver.organisation_id, plan__day=day,
                                     plan__status=PlanStatus.PUBLISHED, caregiver_id=caregiver.pk)
            .values_list("order_id", "position", "arrival"))
    return {order_id: (position, arrival) for order_id, position, arrival in rows}


def visit_sequence(caregiver, day: datetime.date) -> list[int] | None:
    """The caregiver's order ids of the day in the published route's order, or None when nothing is published
    for them: the "visit_sequences" extension point the caregiver app reads (registered in apps.py)."""
    if caregiver is None:
        return None
    sequence = published_sequence(caregiver, day)
    return sorted(sequence, key=lambda order_id: sequence[order_id][0]) or None


@dataclass
class RouteView:
    caregiver: object
    colour: str
    stops: list = field(default_factory=list)
    departure: str = ""
    end: str = ""
    travel_minutes: int = 0
    waiting_minutes: int = 0


@dataclass
class PlanView:
    plan: RoutePlan
    routes: list[RouteView]
    unassigned: list[RouteStop]
    notes: list[str]
    locks: dict[int, int]          # order id → locked caregiver id (now, not at planning time)
    summary: dict


def _hhmm(seconds) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def minutes(seconds) -> int:
    return int(round(int(seconds or 0) / 60))


def plan_view(plan: RoutePlan) -> PlanView:
    """The plan per caregiver (in route order), its unassigned orders with their reasons in the reader's
    language, and the summary. Two queries whatever the size."""
    stops = list(plan.stops.select_related("order__elder", "order__item", "caregiver")
                 .order_by("caregiver__name", "caregiver_id", "position", "order__scheduled_start", "order_id"))
    summary = plan.summary or {}
    reasons = summary.get("reasons", {})
    routes: dict[int, RouteView] = {}
    unassigned = []
    for stop in stops:
        if stop.caregiver_id is None:
            stop.reason_text = reason_text(stop.unassigned_code, reasons.get(str(stop.order_id)))
            unassigned.append(stop)
            continue
        view = routes.get(stop.caregiver_id)
        if view is None:
            meta = summary.get("routes", {}).get(str(stop.caregiver_id), {})
            view = routes[stop.caregiver_id] = RouteView(
                caregiver=stop.caregiver, colour=COLOURS[len(routes) % len(COLOURS)],
                departure=_hhmm(meta["departure"]) if "departure" in meta else "",
                end=_hhmm(meta["end"]) if "end" in meta else "", travel_minutes=minutes(meta.get("travel")),
                waiting_minutes=minutes(meta.get("waiting")))
        view.stops.append(stop)
    unassigned.sort(key=lambda s: (s.order.scheduled_start, s.order_id))
    locks = dict(RouteLock.objects.filter(order_id__in=[s.order_id for s in stops])
                 .values_list("order_id", "caregiver_id"))
    figures = {
        "visits": summary.get("visits", 0), "served": summary.get("served", 0),
        "unassigned": summary.get("unassigned", 0), "travel_minutes": minutes(summary.get("travel_seconds")),
        "waiting_minutes": minutes(summary.get("waiting_seconds")),
        "continuity_kept": summary.get("continuity_kept", 0),
        "continuity_candidates": summary.get("continuity_candidates", 0),
        "runtime_seconds": summary.get("runtime_seconds", 0), "caregivers": summary.get("caregivers", 0),
    }
    notes = [text for text in (note_text(n) for n in summary.get("notes", [])) if text]
    return PlanView(plan=plan, routes=list(routes.values()), unassigned=unassigned, notes=notes, locks=locks,
                    summary=figures)


def local_hhmm(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M") if moment else ""


def map_payload(view: PlanView) -> dict:
    """Points and lines for the map (lon/lat on value axes, no tiles): a series per caregiver route from their
    start point through the stops and back, the unassigned visits apart."""
    starts = (view.plan.summary or {}).get("starts", {})
    routes = []
    for route in view.routes:
        start = starts.get(str(route.caregiver.pk))
        points = []
        for stop in route.stops:
            elder = stop.order.elder
            if elder.latitude is None:
                continue
            points.append({"lon": float(elder.longitude), "lat": float(elder.latitude), "position": stop.position,
                           "elder": elder.name, "item": stop.order.item.name, "arrival": local_hhmm(stop.arrival)})
        line = [[p["lon"], p["lat"]] for p in points]
        if start:
            line = [[start[1], start[0]], *line, [start[1], start[0]]]
        routes.append({"caregiver": route.caregiver.name, "colour": route.colour, "points": points, "line": line,
                       "start": [start[1], start[0]] if start else None})
    unassigned = [{"lon": float(s.order.elder.longitude), "lat": float(s.order.elder.latitude),
                   "elder": s.order.elder.name, "item": s.order.item.name, "reason": s.reason_text}
                  for s in view.unassigned if s.order.elder.latitude is not None]
    return {"routes": routes, "unassigned": unassigned}
