"""Visit records as the phone sends them (safe to replay), one record with its follow-ups, the checklist the
phone shows, and the follow-ups on the community's desk."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
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
from yiyang.services.models import ServiceItem

from .. import rules, selectors, services
from ..models import FollowUp, FollowUpKind, FollowUpStatus, Outcome, VisitMethod, VisitRecord, VisitTask
from ._common import MONTH_TEXT, VisitRef, elder_of, elder_ref, moment, month_of, person

router = Router()
RECORD_VIEWERS = (*REGION_STAFF, Role.VISITOR, Role.FAMILY, Role.ELDER)
FOLLOW_UP_VIEWERS = (*REGION_STAFF, Role.VISITOR)
RECORD_RELATED = ("elder", "visitor", "recorded_by")
CheckItem = Literal[rules.CHECKLIST_CODES]  # type: ignore[valid-type]
CheckValue = Literal[rules.CHECK_VALUES]  # type: ignore[valid-type]
CHECK_VALUE_LABELS = {"ok": lambda: _("正常"), "concern": lambda: _("有问题"), "na": lambda: _("不适用")}
MAX_FOLLOW_UPS = 10


class VisitChecklistItemOut(Schema):
    code: str
    label: str


class VisitChecklistOut(Schema):
    items: list[VisitChecklistItemOut] = Field(..., description="What a visit looks at (MZ/T 237-2024), in order.")
    values: list[VisitChecklistItemOut] = Field(..., description="What each item may be: `ok`, `concern` or `na`.")


@router.get("checklist", response={200: VisitChecklistOut, **ERRORS}, summary="The visit checklist")
def checklist(request):
    """The items the phone shows and the values a record may give each (a record counts its concerns)."""
    require_roles(request.user, *REGION_STAFF, Role.VISITOR)
    return {"items": [{"code": code, "label": _(label)} for code, label in rules.CHECKLIST],
            "values": [{"code": code, "label": str(label())} for code, label in CHECK_VALUE_LABELS.items()]}


class VisitFollowUpOut(Schema):
    id: int
    record: int
    elder: VisitRef
    region_code: str
    kind: str = Field(..., description="`service_order`, `assessment`, `home_adaptation`, `alarm_device`, "
                                       "`category_change` or `other`.")
    kind_label: str
    note: str
    status: str = Field(..., description="`open` (on the community's desk), `done` (became an order or an "
                                         "assessment request) or `closed`.")
    status_label: str
    order: int | None = Field(..., description="The service order it became.")
    assessment: int | None = Field(..., description="The assessment request it became.")
    closed_at: datetime.datetime | None
    closed_by: str | None
    created_at: datetime.datetime


def follow_up_out(f: FollowUp) -> dict:
    return {"id": f.pk, "record": f.record_id, "elder": elder_ref(f.elder), "region_code": f.region_code,
            "kind": f.kind, "kind_label": str(f.get_kind_display()), "note": f.note, "status": f.status,
            "status_label": str(f.get_status_display()), "order": f.order_id, "assessment": f.assessment_id,
            "closed_at": f.closed_at, "closed_by": person(f.closed_by), "created_at": f.created_at}


class VisitRecordOut(Schema):
    id: int
    elder: VisitRef
    task: int | None = Field(..., description="The task the visit answered.")
    visitor: VisitRef | None
    recorded_by: str
    method: str = Field(..., description="`home`, `phone` or `video`.")
    method_label: str
    outcome: str = Field(..., description="`seen`, `not_home` or `refused`.")
    outcome_label: str
    visited_at: datetime.datetime
    latitude: str | None
    longitude: str | None
    distance_m: int | None = Field(..., description="Metres from the elder's home (a home visit with a position).")
    far_from_home: bool = Field(..., description="More than 500 m from home: the visit does not count.")
    seen: str
    checklist: dict[str, str]
    concerns: int
    notes: str
    has_photo: bool
    counts: bool = Field(..., description="It closed its task (seen, by a method the task counts).")
    created_at: datetime.datetime


class VisitRecordDetailOut(VisitRecordOut):
    follow_ups: list[VisitFollowUpOut]


def record_out(r: VisitRecord) -> dict:
    return {"id": r.pk, "elder": elder_ref(r.elder), "task": r.task_id,
            "visitor": {"id": r.visitor_id, "name": r.visitor.name} if r.visitor_id else None,
            "recorded_by": str(r.recorded_by), "method": r.method, "method_label": str(r.get_method_display()),
            "outcome": r.outcome, "outcome_label": str(r.get_outcome_display()), "visited_at": r.visited_at,
            "latitude": None if r.latitude is None else str(r.latitude),
            "longitude": None if r.longitude is None else str(r.longitude), "distance_m": r.distance_m,
            "far_from_home": r.far_from_home, "seen": r.seen, "checklist": r.checklist, "concerns": r.concerns,
            "notes": r.notes, "has_photo": bool(r.photo), "counts": r.counts, "created_at": r.created_at}


def _detail(record: VisitRecord) -> dict:
    out = record_out(record)
    follow_ups = FollowUp.objects.filter(record=record).select_related("elder", "closed_by").order_by("pk")
    out["follow_ups"] = [follow_up_out(f) for f in follow_ups]
    return out


class VisitRecordFilters(Schema):
    elder: Id | None = Field(None, description="One elder's visit history.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")
    month: str = Field("", max_length=MONTH_TEXT, description="Visited in this month (YYYY-MM).")


@router.get("records", response={200: list[VisitRecordOut], **ERRORS}, summary="Visit records in my scope")
@paginated
def list_records(request, filters: Query[VisitRecordFilters]):
    """Newest first. Region staff see their area's; a visitor the visits they recorded; the family their
    elder's."""
    require_roles(request.user, *RECORD_VIEWERS)
    elder = None
    if filters.elder is not None:
        elder = Elder.objects.filter(pk=filters.elder).first()
        if elder is None:
            return VisitRecord.objects.none()
    month = month_of(filters.month) if filters.month.strip() else None
    return Rows(selectors.records_for(request.user, elder=elder, region_code=filters.region.strip(), month=month),
                lambda page: [record_out(r) for r in page])


@router.get("records/{int:record_id}", response={200: VisitRecordDetailOut, **ERRORS},
            summary="One visit record with its follow-ups")
def get_record(request, record_id: Id):
    require_roles(request.user, *RECORD_VIEWERS, on_object=True)
    record = get_scoped_or_404(VisitRecord.objects.select_related(*RECORD_RELATED), request.user, "view",
                               pk=record_id)
    return _detail(record)


class VisitFollowUpIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: FollowUpKind
    note: str = Field("", max_length=column(FollowUp, "note"))
    item: str = Field("", max_length=column(ServiceItem, "code"),
                      description="For `service_order`: the service item code, e.g. `bath`.")
    provider: Id | None = Field(None, description="For `service_order`: the provider (organisation) id.")
    scheduled_start: str = Field("", max_length=40, description="For `service_order`: ISO 8601, in the future.")


class VisitRecordIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    task: Id | None = Field(None, description="The task it answers; default the person's open task whose window "
                                              "holds the visit (ad-hoc first).")
    method: VisitMethod
    outcome: Outcome
    visited_at: datetime.datetime | None = Field(None, description="When (an offline phone sends it late: up to "
                                                                   "a month back, never in the future); default "
                                                                   "now.")
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    seen: str = Field("", max_length=column(VisitRecord, "seen"), description="Who was seen (本人、配偶…).")
    checklist: dict[CheckItem, CheckValue] = Field(default_factory=dict)
    notes: str = Field("", max_length=column(VisitRecord, "notes"))
    follow_ups: list[VisitFollowUpIn] = Field(default_factory=list, max_length=MAX_FOLLOW_UPS,
                                         description="Needs found: an order and an assessment request are made at "
                                                     "once; the others wait on the community's desk.")
    client_key: str | None = Field(None, max_length=column(VisitRecord, "client_key"),
                                   description="The phone's key for this visit: sending it again answers 200 "
                                               "with the record it made (nothing counts twice).")


def _task_in_body(request, pk: int | None) -> VisitTask | None:
    if pk is None:
        return None
    task = VisitTask.objects.restrict(request.user).filter(pk=pk).first()
    if task is None:
        raise ValidationError({"task": [_("找不到该巡访任务。")]})
    return task


def _follow_up_specs(items: list[VisitFollowUpIn]) -> list[dict]:
    codes = {f.item.strip() for f in items if f.item.strip()}
    pks = dict(ServiceItem.objects.filter(code__in=codes).values_list("code", "pk")) if codes else {}
    out = []
    for f in items:
        spec = {"kind": str(f.kind), "note": f.note}
        if f.kind == FollowUpKind.SERVICE_ORDER:
            spec.update(item=pks.get(f.item.strip()), provider=f.provider,
                        scheduled_start=f.scheduled_start.strip() or None)
        out.append(spec)
    return out


@router.post("records", response={200: VisitRecordDetailOut, 201: VisitRecordDetailOut, **ERRORS},
             summary="Record a visit (the phone; safe to replay)")
def record_visit(request, payload: VisitRecordIn):
    """By the elder's responsible visitor or backup, or a street or community worker of the elder's area.
    It closes its task when the person was seen by a method the task counts and not far from home; "not at
    home" and "refused" count an attempt (the third raises a task for the community). A visit in the future,
    more than a month back, or for a person who had died or moved out by then is refused (422). The same
    `client_key` again answers 200 with the first record; with another elder, 409."""
    require_roles(request.user, *REGION_STAFF, Role.VISITOR)
    key = (payload.client_key or "").strip()
    if key:
        # A replay from the phone answers with what the first sync made, even if the pairing ended since.
        done = VisitRecord.objects.filter(client_key=key, recorded_by=request.user).select_related(
            *RECORD_RELATED).first()
        if done is not None and done.elder_id == payload.elder:
            return Status(200, _detail(done))
    elder = elder_of(request, payload.elder)
    record, created = services.record_visit(
        actor=request.user, elder=elder, method=str(payload.method), outcome=str(payload.outcome),
        visited_at=moment(payload.visited_at, "visited_at"), task=_task_in_body(request, payload.task),
        latitude=payload.latitude, longitude=payload.longitude, seen=payload.seen, checklist=dict(payload.checklist),
        notes=payload.notes,
        follow_ups=_follow_up_specs(payload.follow_ups), client_key=key or None)
    fresh = VisitRecord.objects.select_related(*RECORD_RELATED).get(pk=record.pk)
    return Status(201 if created else 200, _detail(fresh))


class VisitFollowUpFilters(Schema):
    status: FollowUpStatus | Literal[""] = ""
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("follow-ups", response={200: list[VisitFollowUpOut], **ERRORS}, summary="Follow-ups found on visits")
@paginated
def list_follow_ups(request, filters: Query[VisitFollowUpFilters]):
    """Open ones first. Region staff see their area's; a visitor those of the visits they recorded."""
    require_roles(request.user, *FOLLOW_UP_VIEWERS)
    return Rows(selectors.follow_ups_for(request.user, status=filters.status, region_code=filters.region.strip())
                .select_related("closed_by"), lambda page: [follow_up_out(f) for f in page])


@router.get("follow-ups/{int:follow_up_id}", response={200: VisitFollowUpOut, **ERRORS}, summary="One follow-up")
def get_follow_up(request, follow_up_id: Id):
    require_roles(request.user, *FOLLOW_UP_VIEWERS, on_object=True)
    return follow_up_out(get_scoped_or_404(FollowUp.objects.select_related("elder", "closed_by"), request.user,
                                           "view", pk=follow_up_id))


class FollowUpCloseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(FollowUp, "note"), description="What was done.")


@router.post("follow-ups/{int:follow_up_id}/close", response={200: VisitFollowUpOut, **ERRORS},
             summary="Close a follow-up")
def close_follow_up(request, follow_up_id: Id, payload: FollowUpCloseIn):
    """Street or community staff, once it is dealt with; one already closed is refused (409)."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    follow_up = get_scoped_or_404(FollowUp.objects, request.user, "change", pk=follow_up_id)
    services.close_follow_up(actor=request.user, follow_up=follow_up, note=payload.note)
    return follow_up_out(FollowUp.objects.select_related("elder", "closed_by").get(pk=follow_up.pk))
