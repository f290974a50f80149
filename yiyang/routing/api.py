"""Caregiver route planning (排线调度) over REST, mounted at /api/v1/routing.

`POST plan` plans a provider's day (its accepted, assigned and started orders; its caregivers on shift) and
saves the answer as a new draft version; `POST plans/{id}/publish` assigns the routed orders to their
caregivers. Locks fix an order to a caregiver for every later plan. A provider works on its own organisation;
the county's bureau may plan and look, not publish or lock. A provider or plan outside the caller's scope
answers 404; bad options 422; a plan that is stale or not the latest draft 409.
"""

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.types import Id, SmallInt
from yiyang.core.api import ERRORS
from yiyang.core.models import Role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Organisation, Practitioner
from yiyang.services.models import Order

from . import selectors, services
from .models import RoutePlan

router = Router(tags=["routing"])

PLAN_ROLES = (Role.PROVIDER, Role.BUREAU)


# ------------------------------------------------------------------------------------------------- schemas


class IdRef(Schema):
    id: int
    name: str


class StopOut(Schema):
    position: int
    order_id: int
    elder: str
    item: str
    arrival: str = Field(..., description="Planned arrival, local HH:MM.")
    start: str
    end: str
    travel_minutes: int = Field(..., description="Travel from the previous place (home or last visit).")
    locked: bool
    started: bool


class RouteOut(Schema):
    caregiver: IdRef
    departure: str
    end: str
    travel_minutes: int
    stops: list[StopOut]


class UnassignedOut(Schema):
    order_id: int
    elder: str
    item: str
    code: str = Field(..., description="Stable reason code, e.g. `no_skill`, `window_closed`, `no_location`.")
    reason: str = Field(..., description="Why, in the caller's language.")


class SummaryOut(Schema):
    visits: int
    served: int
    unassigned: int
    caregivers: int
    travel_minutes: int
    continuity_kept: int = Field(..., description="Visits served by the caregiver who served the elder last.")
    continuity_candidates: int = Field(..., description="Visits whose elder had a previous caregiver.")
    runtime_seconds: float
    notes: list[str]


class PlanOut(Schema):
    id: int
    version: int
    status: str
    status_label: str
    date: datetime.date
    provider: IdRef
    routes: list[RouteOut]
    unassigned: list[UnassignedOut]
    summary: SummaryOut


class PlanIn(Schema):
    model_config = ConfigDict(extra="forbid")

    provider_id: Id
    date: datetime.date
    seed: SmallInt = Field(0, description="Random seed (same input, seed and budget: same plan).")
    time_limit_seconds: float = Field(10, description="Search time cap, more than 0 and at most 120 s.")
    continuity_weight: SmallInt = Field(600, description="Extra cost, in travel seconds, of a caregiver the elder "
                                                    "has not had before.")
    mode: str = Field("ebike", max_length=8, description="`walk`, `ebike` or `car`.")


class LockIn(Schema):
    model_config = ConfigDict(extra="forbid")

    order_id: Id
    caregiver_id: Id


class LockOut(Schema):
    order_id: int
    caregiver: IdRef


class PublishOut(PlanOut):
    assigned: list[int] = Field(..., description="Orders assigned (or re-assigned) by this publication.")
    unchanged: list[int] = Field(..., description="Routed orders already with their planned caregiver.")
    kept: list[int] = Field(..., description="Assigned orders this plan did not route: they keep their caregiver.")


def _hhmm(moment) -> str:
    return selectors.local_hhmm(moment)


def _plan_out(plan: RoutePlan) -> dict:
    view = selectors.plan_view(plan)
    return {
        "id": plan.pk, "version": plan.version, "status": plan.status, "status_label": plan.get_status_display(),
        "date": plan.day, "provider": {"id": plan.provider_id, "name": plan.provider.name},
        "routes": [{"caregiver": {"id": r.caregiver.pk, "name": r.caregiver.name}, "departure": r.departure,
                    "end": r.end, "travel_minutes": r.travel_minutes,
                    "stops": [{"position": s.position, "order_id": s.order_id, "elder": s.order.elder.name,
                               "item": s.order.item.name, "arrival": _hhmm(s.arrival), "start": _hhmm(s.start),
                               "end": _hhmm(s.end), "travel_minutes": selectors.minutes(s.travel_seconds),
                               "locked": s.locked, "started": s.started} for s in r.stops]}
                   for r in view.routes],
        "unassigned": [{"order_id": s.order_id, "elder": s.order.elder.name, "item": s.order.item.name,
                        "code": s.unassigned_code, "reason": s.reason_text} for s in view.unassigned],
        "summary": {**view.summary, "notes": view.notes},
    }


def _plan(request, plan_id: int, action: str = "view") -> RoutePlan:
    return get_scoped_or_404(RoutePlan.objects.select_related("provider"), request.user, action, pk=plan_id)


# ------------------------------------------------------------------------------------------------ endpoints


@router.post("plan", response={201: PlanOut, **ERRORS}, summary="Plan a provider's day")
def plan(request, payload: PlanIn):
    """Routes per caregiver with arrival times, the orders that could not be routed with the reason, and the
    summary (visits, served, travel, continuity kept, runtime, notes). Saved as the next draft version;
    older drafts of the day are superseded. Synchronous: it takes up to `time_limit_seconds`."""
    require_roles(request.user, *PLAN_ROLES)
    provider = get_scoped_or_404(Organisation.objects, request.user, "view", pk=payload.provider_id)
    run = services.plan_day(actor=request.user, provider=provider, day=payload.date, seed=payload.seed,
                            time_limit_seconds=payload.time_limit_seconds,
                            continuity_weight=payload.continuity_weight, mode=payload.mode)
    return Status(201, _plan_out(_plan(request, run.plan.pk)))


@router.get("plans/{int:plan_id}", response={200: PlanOut, **ERRORS}, summary="One plan")
def get_plan(request, plan_id: Id):
    require_roles(request.user, *PLAN_ROLES, on_object=True)
    return _plan_out(_plan(request, plan_id))


@router.post("plans/{int:plan_id}/publish", response={200: PublishOut, **ERRORS},
             summary="Publish a plan to the caregivers (provider)")
def publish(request, plan_id: Id):
    """Only the latest draft. Every routed order must still be accepted or assigned (or under way with its
    caregiver), else 409 naming the changed orders and nothing is assigned: plan again."""
    # The bureau sees the plan and may not publish it (403, from the service); outside the scope: 404.
    require_roles(request.user, *PLAN_ROLES, on_object=True)
    result = services.publish_plan(actor=request.user, plan=_plan(request, plan_id))
    return {**_plan_out(result.plan), "assigned": result.assigned, "unchanged": result.unchanged,
            "kept": result.kept}


@router.post("locks", response={201: LockOut, **ERRORS}, summary="Lock an order to a caregiver (provider)")
def lock(request, payload: LockIn):
    require_roles(request.user, Role.PROVIDER)
    order = get_scoped_or_404(Order.objects.select_related("item", "provider"), request.user, "change",
                              pk=payload.order_id)
    caregiver = Practitioner.objects.restrict(request.user, "change").filter(pk=payload.caregiver_id).first()
    if caregiver is None:
        raise ValidationError({"caregiver_id": [_("未知的护理员。")]})
    result = services.lock_visit(actor=request.user, order=order, caregiver=caregiver)
    return Status(201, {"order_id": result.order_id, "caregiver": {"id": caregiver.pk, "name": caregiver.name}})


@router.delete("locks/{int:order_id}", response={204: None, **ERRORS}, summary="Release a lock (provider)")
def unlock(request, order_id: Id):
    require_roles(request.user, Role.PROVIDER, on_object=True)
    order = get_scoped_or_404(Order.objects.select_related("provider"), request.user, "change", pk=order_id)
    services.unlock_visit(actor=request.user, order=order)
    return Status(204, None)
