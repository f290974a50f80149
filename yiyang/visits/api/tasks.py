"""Visit tasks: the list with its filters, one task, an ad-hoc visit after a trigger, cancelling, and the
visitor's day on the phone."""

import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder

from .. import selectors, services
from ..models import TaskKind, TaskStatus, Trigger, Visitor, VisitTask
from ._common import MONTH_TEXT, VisitRef, elder_of, elder_ref, moment, month_of, ym

router = Router()
TASK_VIEWERS = (*REGION_STAFF, Role.VISITOR)
# Triggers a person may raise by hand; the others are raised by the system (a failed order, a benefit check,
# three failed attempts).
MANUAL_TRIGGERS = Literal["discharge", "bereavement", "alarm", "family_request", "other"]


class TaskOut(Schema):
    id: int
    elder: VisitRef
    region_code: str = Field(..., description="The elder's community.")
    kind: str = Field(..., description="`scheduled` (a tier's visit) or `ad_hoc` (after a trigger).")
    kind_label: str
    tier: str
    trigger: str
    trigger_label: str
    trigger_note: str
    period_month: str = Field(..., description="The month whose coverage it counts in (YYYY-MM).")
    window_start: datetime.datetime
    due_at: datetime.datetime
    remote_counts: bool = Field(..., description="A phone or video call closes it.")
    visitor: VisitRef | None
    status: str = Field(..., description="`open`, `done` or `cancelled`.")
    status_label: str
    overdue: bool
    done_at: datetime.datetime | None
    failed_attempts: int
    reminded_at: datetime.datetime | None
    escalated_at: datetime.datetime | None
    cancel_reason: str
    created_at: datetime.datetime


def task_out(t: VisitTask) -> dict:
    return {"id": t.pk, "elder": elder_ref(t.elder), "region_code": t.region_code, "kind": t.kind,
            "kind_label": str(t.get_kind_display()), "tier": t.tier, "trigger": t.trigger,
            "trigger_label": str(t.get_trigger_display()) if t.trigger else "", "trigger_note": t.trigger_note,
            "period_month": ym(t.period_month), "window_start": t.window_start, "due_at": t.due_at,
            "remote_counts": t.remote_counts,
            "visitor": {"id": t.visitor_id, "name": t.visitor.name} if t.visitor_id else None,
            "status": t.status, "status_label": str(t.get_status_display()), "overdue": t.overdue,
            "done_at": t.done_at, "failed_attempts": t.failed_attempts, "reminded_at": t.reminded_at,
            "escalated_at": t.escalated_at, "cancel_reason": t.cancel_reason, "created_at": t.created_at}


def _rows(qs):
    return Rows(qs, lambda page: [task_out(t) for t in page])


class TaskFilters(Schema):
    status: TaskStatus | Literal[""] = ""
    overdue: bool = Field(False, description="Open and past due.")
    escalated: bool = Field(False, description="Open and escalated to the street.")
    month: str = Field("", max_length=MONTH_TEXT, description="Coverage month (YYYY-MM).")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")
    kind: TaskKind | Literal[""] = ""
    visitor: Id | None = Field(None, description="Responsible visitor.")
    elder: Id | None = None


@router.get("tasks", response={200: list[TaskOut], **ERRORS}, summary="Visit tasks in my scope")
@paginated
def list_tasks(request, filters: Query[TaskFilters]):
    """By due time. Region staff see their area's tasks; a visitor their own and those of the people they back
    up."""
    require_roles(request.user, *TASK_VIEWERS)
    month = month_of(filters.month) if filters.month.strip() else None
    visitor = elder = None
    if filters.visitor is not None:
        visitor = Visitor.objects.filter(pk=filters.visitor).first()
    if filters.elder is not None:
        elder = Elder.objects.filter(pk=filters.elder).first()
    if (filters.visitor is not None and visitor is None) or (filters.elder is not None and elder is None):
        return VisitTask.objects.none()
    return _rows(selectors.tasks_for(request.user, status=filters.status, overdue=filters.overdue,
                                     escalated=filters.escalated, month=month, region_code=filters.region.strip(),
                                     visitor=visitor, elder=elder, kind=filters.kind))


@router.get("my-day", response={200: list[TaskOut], **ERRORS}, summary="The visitor's day (the phone)")
@paginated
def my_day(request):
    """The caller's open tasks whose window has begun: ad-hoc first, then by due time. For a visitor also those
    of the people they back up."""
    require_roles(request.user, Role.VISITOR, Role.COMMUNITY, Role.STREET)
    return _rows(selectors.visitor_day(request.user))


def _task(request, task_id: int) -> VisitTask:
    require_roles(request.user, *TASK_VIEWERS, on_object=True)
    return get_scoped_or_404(VisitTask.objects.select_related("elder", "visitor"), request.user, "view",
                             pk=task_id)


@router.get("tasks/{int:task_id}", response={200: TaskOut, **ERRORS}, summary="One task")
def get_task(request, task_id: Id):
    return task_out(_task(request, task_id))


class TaskRaiseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    trigger: MANUAL_TRIGGERS = Field(..., description="`discharge` (出院), `bereavement` (配偶或照护人去世), "
                                                      "`alarm` (紧急呼叫), `family_request` or `other`.")
    at: datetime.datetime | None = Field(None, description="When it happened (not in the future); default now. "
                                                           "The visit is due 24 hours later.")
    note: str = Field("", max_length=column(VisitTask, "trigger_note"))
    trigger_ref: str = Field("", max_length=column(VisitTask, "trigger_ref"),
                             description="The caller's reference for the event: the same one raises one task.")


@router.post("tasks", response={200: TaskOut, 201: TaskOut, **ERRORS}, summary="Raise an ad-hoc visit")
def raise_task(request, payload: TaskRaiseIn):
    """Due within 24 hours of the trigger, for the person's responsible visitor. By region staff, or the elder's
    family. The same `trigger_ref` again answers 200 with the task it raised."""
    require_roles(request.user, *REGION_STAFF, Role.FAMILY, Role.ELDER)
    elder = elder_of(request, payload.elder)
    task, created = services.raise_task(actor=request.user, elder=elder, trigger=Trigger(payload.trigger),
                                        at=moment(payload.at, "at"), note=payload.note,
                                        trigger_ref=payload.trigger_ref)
    fresh = VisitTask.objects.select_related("elder", "visitor").get(pk=task.pk)
    return Status(201 if created else 200, task_out(fresh))


class TaskCancelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=column(VisitTask, "cancel_reason"))


@router.post("tasks/{int:task_id}/cancel", response={200: TaskOut, **ERRORS}, summary="Cancel a task")
def cancel_task(request, task_id: Id, payload: TaskCancelIn):
    """Street or community staff, with a reason; a task already done or cancelled is refused (409)."""
    task = _task(request, task_id)
    services.cancel_task(actor=request.user, task=task, reason=payload.reason)
    return task_out(VisitTask.objects.select_related("elder", "visitor").get(pk=task.pk))
