"""Alarms (紧急呼叫): the list with its filters, one alarm with its timeline and what it shows of the elder, an
alarm taken by phone, and the steps of the life cycle."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import policy, selectors, services
from ..models import Alarm, AlarmKind, AlarmOutcome, AlarmStatus, AlarmStep, Responder
from ._common import ALARM_VIEWERS, DESK, Ref, elder_in_body, label, person, ref, user_in_body

router = Router()


class DeviceRef(Schema):
    id: int
    serial: str
    kind: str
    kind_label: str


def device_ref(d) -> dict | None:
    return None if d is None else {"id": d.pk, "serial": d.serial, "kind": d.kind,
                                   "kind_label": str(d.get_kind_display())}


class AlarmOut(Schema):
    id: int
    kind: str = Field(..., description="`sos`, `fall`, `smoke`, `gas`, `water`, `intrusion`, `bed_exit`, `vitals`, "
                                       "`low_battery` or `tamper`.")
    kind_label: str
    emergency: bool
    status: str = Field(..., description="`raised`, `acknowledged`, `dispatched`, `on_site`, `resolved` or "
                                         "`closed`.")
    status_label: str
    region_code: str = Field(..., description="The elder's community.")
    elder: Ref
    device: DeviceRef | None = Field(..., description="None for an alarm taken by phone.")
    raised_at: datetime.datetime
    event_count: int = Field(..., description="Events folded into the alarm (the same device and kind).")
    last_event_at: datetime.datetime
    acknowledged_at: datetime.datetime | None
    acknowledged_by: str | None
    dispatched_at: datetime.datetime | None
    responder: str
    responder_label: str
    responder_name: str
    on_site_at: datetime.datetime | None
    resolved_at: datetime.datetime | None
    outcome: str = Field(..., description="`false_alarm`, `handled_at_home`, `to_hospital`, `deceased` or ''.")
    outcome_label: str
    closed_at: datetime.datetime | None
    escalation_level: int
    next_escalation_at: datetime.datetime | None


def alarm_out(a: Alarm) -> dict:
    return {"id": a.pk, "kind": a.kind, "kind_label": label(a, "kind"), "emergency": a.emergency,
            "status": a.status, "status_label": label(a, "status"), "region_code": a.region_code,
            "elder": ref(a.elder), "device": device_ref(a.device), "raised_at": a.raised_at,
            "event_count": a.event_count, "last_event_at": a.last_event_at, "acknowledged_at": a.acknowledged_at,
            "acknowledged_by": person(a.acknowledged_by), "dispatched_at": a.dispatched_at,
            "responder": a.responder, "responder_label": label(a, "responder"), "responder_name": a.responder_name,
            "on_site_at": a.on_site_at, "resolved_at": a.resolved_at, "outcome": a.outcome,
            "outcome_label": label(a, "outcome"), "closed_at": a.closed_at, "escalation_level": a.escalation_level,
            "next_escalation_at": a.next_escalation_at}


class AlarmFilters(Schema):
    status: AlarmStatus | Literal[""] = ""
    kind: AlarmKind | Literal[""] = ""
    open: bool = Field(False, description="Only alarms not yet resolved.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("alarms", response={200: list[AlarmOut], **ERRORS}, summary="Alarms in my scope")
@paginated
def list_alarms(request, filters: Query[AlarmFilters]):
    """Newest first. The duty desk and the area's staff see their area's alarms; a caregiver or visitor those
    dispatched to them; a maintainer those of its devices; a family their elder's."""
    require_roles(request.user, *ALARM_VIEWERS)
    return Rows(selectors.alarms_for(request.user, status=filters.status, kind=filters.kind,
                                     open_only=filters.open, region_code=filters.region.strip()),
                lambda page: [alarm_out(a) for a in page])


class StepOut(Schema):
    id: int
    kind: str
    kind_label: str
    at: datetime.datetime
    actor: str
    note: str


def step_out(s: AlarmStep) -> dict:
    return {"id": s.pk, "kind": s.kind, "kind_label": label(s, "kind"), "at": s.at, "actor": s.actor_name,
            "note": s.note}


class ContactOut(Schema):
    name: str
    relationship: str
    phone: str
    is_guardian: bool


class LevelOut(Schema):
    level: int
    name: str


class VisitOut(Schema):
    visited_at: datetime.datetime
    method: str
    outcome: str
    visitor: str | None


class HomeDeviceOut(DeviceRef):
    battery_pct: int | None
    last_heartbeat_at: datetime.datetime | None


class PreviousAlarmOut(Schema):
    id: int
    kind: str
    raised_at: datetime.datetime
    outcome: str


class SummaryOut(Schema):
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    age: int | None
    phone: str
    living_situation: str
    contacts: list[ContactOut]
    level: LevelOut | None = Field(..., description="The current ability level (能力等级), if assessed.")
    visits: list[VisitOut] = Field(..., description="The last three visits (关爱巡访).")
    visitor: str | None = Field(..., description="The responsible visitor (包联).")
    devices: list[HomeDeviceOut] = Field(..., description="The home's devices in use.")
    previous: list[PreviousAlarmOut] = Field(..., description="The elder's last five other alarms.")


def summary_out(s: dict) -> dict:
    level = s["level"]
    return {"address": s["address"], "latitude": s["latitude"], "longitude": s["longitude"], "age": s["age"],
            "phone": s["phone"] or "", "living_situation": str(s["living_situation"]),
            "contacts": [{"name": c.name, "relationship": str(c.get_relationship_display()), "phone": c.phone,
                          "is_guardian": c.is_guardian} for c in s["contacts"]],
            "level": {"level": level["level"], "name": level["name"]} if level else None,
            "visits": [{"visited_at": v.visited_at, "method": v.method, "outcome": v.outcome,
                        "visitor": v.visitor.name if v.visitor_id else None} for v in s["visits"]],
            "visitor": s["pairing"].visitor.name if s["pairing"] else None,
            "devices": [{**device_ref(d), "battery_pct": d.battery_pct, "last_heartbeat_at": d.last_heartbeat_at}
                        for d in s["devices"]],
            "previous": [{"id": a.pk, "kind": a.kind, "raised_at": a.raised_at, "outcome": a.outcome}
                         for a in s["previous"]]}


class AlarmDetailOut(AlarmOut):
    responder_phone: str
    latitude: Decimal | None
    longitude: Decimal | None
    steps: list[StepOut] = Field(..., description="The timeline, oldest first.")
    next_steps: list[str] = Field(..., description="What the caller may do now: `acknowledge`, `dispatch`, "
                                                   "`on_site`, `resolve`, `close`, `note`.")
    summary: SummaryOut | None = Field(..., description="What the alarm shows of the elder, for whoever handles "
                                                        "it or was sent to it; None for others.")


def _alarm(request, alarm_id: int, action: str = "view") -> Alarm:
    require_roles(request.user, *ALARM_VIEWERS, on_object=True)
    qs = Alarm.objects.select_related("elder", "device", "acknowledged_by")
    return get_scoped_or_404(qs, request.user, action, pk=alarm_id)


def detail_out(request, alarm: Alarm) -> dict:
    alarm = Alarm.objects.select_related("elder", "device", "acknowledged_by").get(pk=alarm.pk)
    user = request.user
    summary = selectors.alarm_summary(alarm) if policy.may_see_elder_summary(user, alarm) else None
    return {**alarm_out(alarm), "responder_phone": alarm.responder_phone, "latitude": alarm.latitude,
            "longitude": alarm.longitude, "steps": [step_out(s) for s in alarm.steps.all()],
            "next_steps": policy.next_steps(user, alarm), "summary": summary_out(summary) if summary else None}


@router.get("alarms/{int:alarm_id}", response={200: AlarmDetailOut, **ERRORS}, summary="One alarm")
def get_alarm(request, alarm_id: Id):
    return detail_out(request, _alarm(request, alarm_id))


class ManualAlarmIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    kind: AlarmKind
    note: str = Field("", max_length=1000, description="The call: who rang, what they said.")


@router.post("alarms", response={201: AlarmDetailOut, **ERRORS}, summary="Take an alarm by phone")
def raise_alarm(request, payload: ManualAlarmIn):
    """An elder or a neighbour rings the duty desk: the same life cycle as a device's alarm. By the duty desk
    and the area's staff, for an elder of their area (another elder is a 422 on `elder`). While the elder has
    an open alarm of that kind from no device, this is a second one."""
    require_roles(request.user, *DESK)
    elder = elder_in_body(payload.elder, lambda e: policy.may_raise_manual(request.user, e))
    alarm = services.raise_manual_alarm(actor=request.user, elder=elder, kind=payload.kind, note=payload.note)
    return Status(201, detail_out(request, alarm))


class NoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(AlarmStep, "note"))


@router.post("alarms/{int:alarm_id}/acknowledge", response={200: AlarmDetailOut, **ERRORS},
             summary="Acknowledge (接警)")
def acknowledge(request, alarm_id: Id, payload: NoteIn):
    """Stops the escalation. Someone already acknowledged it: 409."""
    alarm = _alarm(request, alarm_id, "change")
    return detail_out(request, services.acknowledge(actor=request.user, alarm=alarm, note=payload.note))


class DispatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    responder: Responder = Field(..., description="`family`, `neighbour`, `community`, `caregiver`, `ambulance` "
                                                  "(转 120) or `fire` (转 119).")
    responder_name: str = Field("", max_length=column(Alarm, "responder_name"))
    responder_phone: str = Field("", max_length=column(Alarm, "responder_phone"))
    responder_user: Id | None = Field(None, description="The responder's account (a caregiver, a visitor, a "
                                                        "street or community worker): told, and may report "
                                                        "arriving and resolve.")
    note: str = Field("", max_length=500)


@router.post("alarms/{int:alarm_id}/dispatch", response={200: AlarmDetailOut, **ERRORS},
             summary="Dispatch someone (派单), or re-dispatch (改派)")
def dispatch(request, alarm_id: Id, payload: DispatchIn):
    """After acknowledging; again before anyone is on site to re-dispatch (the first dispatch time stays)."""
    alarm = _alarm(request, alarm_id, "change")
    alarm = services.dispatch(actor=request.user, alarm=alarm, responder=payload.responder,
                              responder_name=payload.responder_name, responder_phone=payload.responder_phone,
                              responder_user=user_in_body(request, payload.responder_user, "responder_user"),
                              note=payload.note)
    return detail_out(request, alarm)


@router.post("alarms/{int:alarm_id}/on-site", response={200: AlarmDetailOut, **ERRORS}, summary="On site (到场)")
def on_site(request, alarm_id: Id, payload: NoteIn):
    """By the desk, or by the responder the alarm was dispatched to."""
    alarm = _alarm(request, alarm_id)
    return detail_out(request, services.mark_on_site(actor=request.user, alarm=alarm, note=payload.note))


class ResolveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: AlarmOutcome = Field(..., description="`false_alarm` (误报), `handled_at_home` (居家处置), "
                                                   "`to_hospital` (送医) or `deceased` (a note is required).")
    note: str = Field("", max_length=900)


@router.post("alarms/{int:alarm_id}/resolve", response={200: AlarmDetailOut, **ERRORS},
             summary="Record the outcome (处置)")
def resolve(request, alarm_id: Id, payload: ResolveIn):
    """Handled at home or taken to hospital, the elder gets a visit within 24 hours (visits' trigger)."""
    alarm = _alarm(request, alarm_id)
    return detail_out(request, services.resolve(actor=request.user, alarm=alarm, outcome=payload.outcome,
                                                note=payload.note))


@router.post("alarms/{int:alarm_id}/close", response={200: AlarmDetailOut, **ERRORS}, summary="Close (归档)")
def close(request, alarm_id: Id, payload: NoteIn):
    alarm = _alarm(request, alarm_id, "change")
    return detail_out(request, services.close(actor=request.user, alarm=alarm, note=payload.note))


class CallNoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(..., max_length=column(AlarmStep, "note"))


@router.post("alarms/{int:alarm_id}/notes", response={201: StepOut, **ERRORS}, summary="Add a call note")
def add_note(request, alarm_id: Id, payload: CallNoteIn):
    alarm = _alarm(request, alarm_id)
    return Status(201, step_out(services.add_note(actor=request.user, alarm=alarm, note=payload.note)))
