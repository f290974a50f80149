"""Residents' stays: admission, bed moves, leave, discharge ordered and final, and the register following.

The bed is held from admission to the final discharge: through leave (hospital, home visit) and after a
discharge is ordered. Only `finalise_discharge` frees it. The register's elder follows through its public
services: on admission the living situation becomes 入住机构 (the previous one is kept on the stay and put
back on a discharge home); a death recorded here is recorded in the register (`record_status_event`), and one
recorded in the register orders the discharge here (`on_elder_status_changed`).

Two clerks admitting to one bed, or one elder to two beds, race on the bed's and the elder's row locks
(select_for_update); the partial unique constraints of `Stay` are the database's guard behind them.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from yiyang.assessment.selectors import current_levels
from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction
from yiyang.registry import services as registry
from yiyang.registry.models import CategoryKind, Elder, ElderCategory, ElderStatus, LivingSituation, StatusEventKind

from .. import policy
from ..models import (
    OPEN_STAY_STATUSES,
    Bed,
    BedStatus,
    DischargeReason,
    InstitutionKind,
    LeaveKind,
    Stay,
    StayEvent,
    StayEventKind,
    StayStatus,
)
from ._common import Errors, parse_amount, parse_day, record
from .beds import _user, change_bed_status, lock_bed


def _lock_stay(stay: Stay) -> Stay:
    return Stay.objects.select_for_update().select_related("institution", "elder").get(pk=stay.pk)


def _event(stay: Stay, kind: str, day, actor, **fields) -> StayEvent:
    return StayEvent.objects.create(stay=stay, kind=kind, effective_date=day, actor=_user(actor), **fields)


def _last_event_day(stay: Stay):
    return stay.events.order_by("-effective_date").values_list("effective_date", flat=True).first()


def _not_before_last(stay: Stay, day, field: str, errors: Errors) -> None:
    last = _last_event_day(stay)
    if day and last and day < last:
        errors.add(field, _("日期早于该老人上一次入住事件（%(date)s）。") % {"date": last})


def is_destitute_on(elder: Elder, day) -> bool:
    """The elder is 特困 on `day` by the register's categories (集中供养 when they live in a home)."""
    return ElderCategory.objects.filter(elder=elder, kind=CategoryKind.DESTITUTE, start_date__lte=day).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=day)).exists()


@transaction.atomic
def admit(*, actor, elder: Elder, bed: Bed, admitted_on, monthly_fee, note: str = "") -> Stay:
    """Admit an elder to a free or reserved bed. The care grade is the elder's current assessment level."""
    bed = lock_bed(bed)
    institution = bed.institution
    policy.may_admit(actor, institution).require()
    elder = Elder.objects.select_for_update().get(pk=elder.pk)
    errors = Errors()
    day = parse_day(admitted_on, "admitted_on", errors)
    fee = parse_amount(monthly_fee, "monthly_fee", errors)
    note = errors.text("note", note)
    if elder.status != ElderStatus.ACTIVE:
        errors.add("elder", _("该老人当前为“%(status)s”，不能办理入住。") % {"status": elder.get_status_display()})
    open_stay = Stay.objects.filter(elder=elder, status__in=OPEN_STAY_STATUSES).select_related("institution").first()
    if open_stay is not None:
        errors.add("elder", _("该老人已入住 %(home)s，须先办理出院。") % {"home": open_stay.institution})
    if bed.status not in (BedStatus.FREE, BedStatus.RESERVED):
        errors.add("bed", _("床位 %(bed)s 当前为“%(status)s”，不能入住。") % {
            "bed": bed, "status": bed.get_status_display()})
    elif day and day < bed.status_since:
        errors.add("admitted_on", _("入住日期早于床位上一次状态变更（%(date)s）。") % {"date": bed.status_since})
    if day and day < elder.birth_date:
        errors.add("admitted_on", _("入住日期早于出生日期。"))
    level = current_levels([elder.pk]).get(elder.pk)
    if level is None:
        errors.add("elder", _("该老人没有已发布的能力评估结果，须先评估再入住（照护等级由评估等级确定）。"))
    destitute = bool(day) and is_destitute_on(elder, day)
    if (institution.kind == InstitutionKind.DESTITUTE_HOME and not destitute and not bed.open_to_others
            and not errors.get("bed")):
        errors.add("bed", _("敬老院的床位供特困人员集中供养；非特困老人只能入住向社会开放的床位。"))
    errors.raise_if_any()
    stay = Stay.objects.create(
        elder=elder, institution=institution, bed=bed, status=StayStatus.RESIDENT, admitted_on=day,
        care_level=level["level"], care_level_name=str(level["name"])[:32], assessment_id=level["assessment_id"],
        destitute=destitute, monthly_fee=fee, previous_living_situation=elder.living_situation or "",
    )
    _event(stay, StayEventKind.ADMIT, day, actor, to_bed=bed, note=note)
    change_bed_status(bed, BedStatus.OCCUPIED, day=day, actor=actor, stay=stay, note="admit")
    if elder.living_situation != LivingSituation.INSTITUTION:
        registry.update_elder(actor=actor, elder=elder, living_situation=LivingSituation.INSTITUTION)
    record(actor=actor, action=AuditAction.CREATE, instance=stay, region_code=stay.region_code,
           detail=_("入住 %(bed)s") % {"bed": bed})
    return stay


@transaction.atomic
def move_bed(*, actor, stay: Stay, to_bed: Bed, effective_date, note: str = "") -> Stay:
    """Move a resident to another free or reserved bed of the same home; the old bed is free from that day."""
    stay = _lock_stay(stay)
    policy.may_move_bed(actor, stay).require()
    # Lock both beds in id order, so two moves crossing each other cannot deadlock.
    beds = {b.pk: b for b in Bed.objects.select_for_update().filter(pk__in=sorted({stay.bed_id, to_bed.pk}))
            .order_by("pk")}
    old, new = beds[stay.bed_id], beds[to_bed.pk]
    errors = Errors()
    day = parse_day(effective_date, "effective_date", errors)
    note = errors.text("note", note)
    if new.pk == old.pk:
        errors.add("to_bed", _("新床位与原床位相同。"))
    elif new.institution_id != stay.institution_id:
        errors.add("to_bed", _("只能调到本机构的床位；转到其他机构须办理出院和入住。"))
    elif new.status not in (BedStatus.FREE, BedStatus.RESERVED):
        errors.add("to_bed", _("床位 %(bed)s 当前为“%(status)s”，不能调入。") % {
            "bed": new, "status": new.get_status_display()})
    elif (stay.institution.kind == InstitutionKind.DESTITUTE_HOME and not stay.destitute
          and not new.open_to_others):
        errors.add("to_bed", _("非特困老人只能入住向社会开放的床位。"))
    _not_before_last(stay, day, "effective_date", errors)
    for bed in (old, new):
        if day and day < bed.status_since:
            errors.add("effective_date", _("日期早于床位 %(bed)s 上一次状态变更（%(date)s）。") % {
                "bed": bed, "date": bed.status_since})
    errors.raise_if_any()
    before = audit.snapshot(stay)
    change_bed_status(old, BedStatus.FREE, day=day, actor=actor, stay=stay, note="move out")
    change_bed_status(new, BedStatus.OCCUPIED, day=day, actor=actor, stay=stay, note="move in")
    stay.bed = new
    stay.save(update_fields=["bed"])
    _event(stay, StayEventKind.MOVE, day, actor, from_bed=old, to_bed=new, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("调床 %(old)s → %(new)s") % {"old": old, "new": new})
    return stay


@transaction.atomic
def start_leave(*, actor, stay: Stay, kind: str, start_date, note: str = "") -> Stay:
    """A hospital stay or a home visit: the bed stays held (occupied) for the resident."""
    stay = _lock_stay(stay)
    policy.may_start_leave(actor, stay).require()
    errors = Errors()
    if kind not in LeaveKind.values:
        errors.add("kind", _("请假类型无效。"))
    day = parse_day(start_date, "start_date", errors)
    note = errors.text("note", note)
    _not_before_last(stay, day, "start_date", errors)
    errors.raise_if_any()
    before = audit.snapshot(stay)
    stay.status = StayStatus.ON_LEAVE
    stay.save(update_fields=["status"])
    _event(stay, StayEventKind.LEAVE, day, actor, leave_kind=kind, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("请假（%(kind)s）") % {"kind": LeaveKind(kind).label})
    return stay


@transaction.atomic
def end_leave(*, actor, stay: Stay, return_date, note: str = "") -> Stay:
    stay = _lock_stay(stay)
    policy.may_end_leave(actor, stay).require()
    errors = Errors()
    day = parse_day(return_date, "return_date", errors)
    note = errors.text("note", note)
    _not_before_last(stay, day, "return_date", errors)
    errors.raise_if_any()
    before = audit.snapshot(stay)
    stay.status = StayStatus.RESIDENT
    stay.save(update_fields=["status"])
    _event(stay, StayEventKind.RETURN, day, actor, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("销假"))
    return stay


def _order(stay: Stay, *, actor, reason: str, day, note: str, errors: Errors) -> None:
    if reason not in DischargeReason.values:
        errors.add("reason", _("出院原因无效。"))
    if day and day < stay.admitted_on:
        errors.add("ordered_on", _("出院日期早于入住日期（%(date)s）。") % {"date": stay.admitted_on})
    errors.raise_if_any()
    before = audit.snapshot(stay)
    stay.status = StayStatus.DISCHARGE_ORDERED
    stay.discharge_reason, stay.discharge_ordered_on = reason, day
    stay.save(update_fields=["status", "discharge_reason", "discharge_ordered_on"])
    _event(stay, StayEventKind.DISCHARGE_ORDERED, day, actor, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("出院通知（%(reason)s）") % {"reason": DischargeReason(reason).label})


@transaction.atomic
def order_discharge(*, actor, stay: Stay, reason: str, ordered_on, note: str = "") -> Stay:
    """The discharge is ordered (home, transfer, death): the bed stays held until it is final."""
    stay = _lock_stay(stay)
    policy.may_order_discharge(actor, stay).require()
    errors = Errors()
    day = parse_day(ordered_on, "ordered_on", errors)
    note = errors.text("note", note)
    _not_before_last(stay, day, "ordered_on", errors)
    _order(stay, actor=actor, reason=reason, day=day, note=note, errors=errors)
    return stay


@transaction.atomic
def cancel_discharge(*, actor, stay: Stay, note: str = "") -> Stay:
    """The resident stays after all (an ordered discharge not carried out)."""
    stay = _lock_stay(stay)
    policy.may_cancel_discharge(actor, stay).require()
    errors = Errors()
    note = errors.text("note", note)
    errors.raise_if_any()
    if stay.discharge_reason == DischargeReason.DEATH and stay.elder.status == ElderStatus.DECEASED:
        raise DomainError(ErrorCode.INVALID_STATE, _("登记为已故的老人不能撤销出院。"), status=409)
    before = audit.snapshot(stay)
    day = stay.discharge_ordered_on
    stay.status = StayStatus.RESIDENT
    stay.discharge_reason, stay.discharge_ordered_on = "", None
    stay.save(update_fields=["status", "discharge_reason", "discharge_ordered_on"])
    _event(stay, StayEventKind.DISCHARGE_CANCELLED, day, actor, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("撤销出院"))
    return stay


@transaction.atomic
def finalise_discharge(*, actor, stay: Stay, discharged_on, reason: str = "", note: str = "") -> Stay:
    """The resident has left (or died): the stay ends, the bed is free from that day, the register follows.

    The reason is the ordered one unless given (a discharge may be final without an order first)."""
    stay = _lock_stay(stay)
    policy.may_finalise_discharge(actor, stay).require()
    bed = lock_bed(stay.bed)
    errors = Errors()
    reason = reason or stay.discharge_reason
    if reason not in DischargeReason.values:
        errors.add("reason", _("请选择出院原因。"))
    day = parse_day(discharged_on, "discharged_on", errors)
    note = errors.text("note", note)
    if day and day < stay.admitted_on:
        errors.add("discharged_on", _("出院日期早于入住日期（%(date)s）。") % {"date": stay.admitted_on})
    _not_before_last(stay, day, "discharged_on", errors)
    if day and day < bed.status_since:
        errors.add("discharged_on", _("日期早于床位上一次状态变更（%(date)s）。") % {"date": bed.status_since})
    errors.raise_if_any()
    before = audit.snapshot(stay)
    stay.status, stay.discharge_reason, stay.discharged_on = StayStatus.DISCHARGED, reason, day
    stay.save(update_fields=["status", "discharge_reason", "discharged_on"])
    _event(stay, StayEventKind.DISCHARGED, day, actor, from_bed=bed, note=note)
    change_bed_status(bed, BedStatus.FREE, day=day, actor=actor, stay=stay, note="discharge")
    record(actor=actor, action=AuditAction.UPDATE, instance=stay, before=before, region_code=stay.region_code,
           detail=_("出院（%(reason)s）") % {"reason": DischargeReason(reason).label})
    elder = Elder.objects.get(pk=stay.elder_id)
    if reason == DischargeReason.DEATH and elder.status != ElderStatus.DECEASED:
        # The register's death event (its own checks, audit and signal; our receiver sees the stay final).
        registry.record_status_event(actor=actor, elder=elder, kind=StatusEventKind.DEATH, effective_date=day,
                                     note=_("于 %(home)s 去世") % {"home": stay.institution})
    elif (reason == DischargeReason.HOME and elder.living_situation == LivingSituation.INSTITUTION
          and stay.previous_living_situation and stay.previous_living_situation != LivingSituation.INSTITUTION):
        registry.update_elder(actor=actor, elder=elder, living_situation=stay.previous_living_situation)
    return stay


def on_elder_status_changed(*, elder: Elder, event, actor) -> None:
    """The register recorded a death or a move off the platform: order the open stay's discharge (the home
    makes it final; the bed stays held until then). Inside the register's transaction; no policy (it is the
    consequence of a recorded fact), audited."""
    reason = {StatusEventKind.DEATH: DischargeReason.DEATH,
              StatusEventKind.MOVE_OUT: DischargeReason.TRANSFER}.get(event.kind)
    if reason is None:
        return
    # An open stay; one already ordered home takes the new reason (a resident who dies before leaving).
    stay = (Stay.objects.select_for_update().select_related("institution")
            .filter(elder=elder, status__in=OPEN_STAY_STATUSES).first())
    if stay is None or stay.discharge_reason == reason:
        return
    day = max(event.effective_date, stay.admitted_on, _last_event_day(stay) or stay.admitted_on)
    _order(stay, actor=actor, reason=reason, day=day, note=_("登记系统记录：%(kind)s") % {
        "kind": event.get_kind_display()}, errors=Errors())
