"""The alarm's life cycle: acknowledge, dispatch, on site, resolve, close, call notes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.models import AuditAction, Role, User
from yiyang.registry.models import Elder, ElderStatus

from .. import policy
from ..models import (
    Alarm,
    AlarmOutcome,
    AlarmStatus,
    AlarmStep,
    Responder,
    StepKind,
)
from ._common import _step, _text
from .outbox import _notify

# ------------------------------------------------------------------------------------------- life cycle


def _locked(alarm: Alarm) -> Alarm:
    return Alarm.objects.select_for_update(of=("self",)).select_related("elder", "device").get(pk=alarm.pk)


def _changed(actor, alarm: Alarm, detail: str) -> None:
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=alarm, region_code=alarm.region_code,
                 detail=detail)


@transaction.atomic
def acknowledge(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_acknowledge(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.acknowledged_at, alarm.acknowledged_by = AlarmStatus.ACKNOWLEDGED, now, actor
    alarm.next_escalation_at = None
    alarm.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "next_escalation_at"])
    _step(alarm, StepKind.ACKNOWLEDGED, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("接警"))
    return alarm


@transaction.atomic
def dispatch(*, actor, alarm: Alarm, responder: str, responder_name: str = "", responder_phone: str = "",
             responder_user: User | None = None, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_dispatch(actor, alarm).require()
    if responder not in Responder.values:
        raise ValidationError({"responder": [_("请选择处置人类型。")]})
    name, phone = _text(responder_name, 64), _text(responder_phone, 20)
    if responder_user is not None:
        if not responder_user.is_active or responder_user.role not in {Role.CAREGIVER, Role.VISITOR, Role.COMMUNITY,
                                                                       Role.STREET}:
            raise ValidationError({"responder_user": [_("该账号不能接收派单。")]})
        name = name or str(responder_user)
        phone = phone or responder_user.phone
    if responder not in {Responder.AMBULANCE, Responder.FIRE} and not name:
        raise ValidationError({"responder_name": [_("请填写处置人姓名。")]})
    now = timezone.now()
    first = alarm.dispatched_at is None
    alarm.status, alarm.responder, alarm.responder_name = AlarmStatus.DISPATCHED, responder, name
    alarm.responder_phone, alarm.responder_user = phone, responder_user
    alarm.dispatched_at = alarm.dispatched_at or now
    alarm.save(update_fields=["status", "responder", "responder_name", "responder_phone", "responder_user",
                              "dispatched_at"])
    label = Responder(responder).label
    _step(alarm, StepKind.DISPATCHED, actor=actor, at=now,
          note=" · ".join(x for x in [str(label), name, phone, _text(note, 500)] if x)
          + ("" if first else " " + _("（改派）")))
    if responder_user is not None:
        _notify([responder_user], alarm, _("派单：%(alarm)s") % {"alarm": alarm},
                _("请尽快前往 %(address)s。") % {"address": alarm.device.address if alarm.device else
                                                 alarm.elder.address})
    _changed(actor, alarm, _("派单给 %(who)s") % {"who": name or label})
    return alarm


@transaction.atomic
def mark_on_site(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_mark_on_site(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.on_site_at = AlarmStatus.ON_SITE, now
    alarm.save(update_fields=["status", "on_site_at"])
    _step(alarm, StepKind.ON_SITE, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("到场"))
    return alarm


@transaction.atomic
def resolve(*, actor, alarm: Alarm, outcome: str, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_resolve(actor, alarm).require()
    if outcome not in AlarmOutcome.values:
        raise ValidationError({"outcome": [_("请选择处置结果。")]})
    if outcome == AlarmOutcome.DECEASED and not _text(note, 1000):
        raise ValidationError({"note": [_("老人死亡须填写处置说明。")]})
    now = timezone.now()
    alarm.status, alarm.resolved_at, alarm.outcome = AlarmStatus.RESOLVED, now, outcome
    alarm.next_escalation_at = None
    alarm.save(update_fields=["status", "resolved_at", "outcome", "next_escalation_at"])
    _step(alarm, StepKind.RESOLVED, actor=actor, at=now,
          note=" · ".join(x for x in [str(AlarmOutcome(outcome).label), _text(note, 900)] if x))
    _changed(actor, alarm, _("处置结果：%(outcome)s") % {"outcome": AlarmOutcome(outcome).label})
    if outcome in {AlarmOutcome.HANDLED_AT_HOME, AlarmOutcome.TO_HOSPITAL}:
        # Someone needed help: the visits app sees them within 24 hours (issue 15's trigger).
        from yiyang.visits.models import Trigger
        from yiyang.visits.services import raise_task

        transaction.on_commit(lambda: _raise_visit(alarm.elder_id, Trigger.ALARM, f"alarm:{alarm.pk}",
                                                   _("紧急呼叫后回访：%(alarm)s") % {"alarm": alarm}, raise_task))
    return alarm


def _raise_visit(elder_id, trigger, ref, note, raise_task) -> None:
    elder = Elder.objects.get(pk=elder_id)
    if elder.status != ElderStatus.ACTIVE:
        return
    raise_task(actor=None, elder=elder, trigger=trigger, note=note, trigger_ref=ref, authorised=True)


@transaction.atomic
def close(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_close(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.closed_at = AlarmStatus.CLOSED, now
    alarm.save(update_fields=["status", "closed_at"])
    _step(alarm, StepKind.CLOSED, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("归档"))
    return alarm


@transaction.atomic
def add_note(*, actor, alarm: Alarm, note: str) -> AlarmStep:
    alarm = _locked(alarm)
    policy.may_add_note(actor, alarm).require()
    note = _text(note, 1000)
    if not note:
        raise ValidationError({"note": [_("请填写通话记录。")]})
    return _step(alarm, StepKind.NOTE, actor=actor, note=note)
