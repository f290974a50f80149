"""Caregivers' shifts (排班)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.models import AuditAction
from yiyang.registry.models import Practitioner

from .. import policy
from ..models import (
    CaregiverShift,
)
from ._common import _date, _text, _user


def _clock(value, field: str) -> datetime.time:
    if isinstance(value, datetime.time):
        return value.replace(second=0, microsecond=0)
    try:
        return datetime.time.fromisoformat(str(value or "").strip()).replace(second=0, microsecond=0)
    except ValueError:
        raise ValidationError({field: [_("时间格式应为 HH:MM。")]}) from None


@transaction.atomic
def set_shift(*, actor, caregiver: Practitioner, day, start, end, note: str = "") -> CaregiverShift:
    """Put a caregiver on duty on a day from `start` to `end` (a shift with the same start is changed). A
    caregiver's shifts on a day do not overlap; the caregiver must be employed on the day."""
    policy.may_set_shift(actor, caregiver).require()
    day = _date(day, "day")
    start, end = _clock(start, "start"), _clock(end, "end")
    if end <= start:
        raise ValidationError({"end": [_("下班时间须晚于上班时间。")]})
    if caregiver.role != "caregiver":
        raise ValidationError({"caregiver": [_("%(name)s 不是护理员。") % {"name": caregiver.name}]})
    if caregiver.start_date > day or (caregiver.end_date is not None and caregiver.end_date < day):
        raise ValidationError({"day": [_("%(name)s 在 %(date)s 不在职。") % {
            "name": caregiver.name, "date": day.isoformat()}]})
    # One caregiver's shifts are written one at a time, so two overlapping ones cannot both pass the check.
    Practitioner.objects.select_for_update().filter(pk=caregiver.pk).first()
    shifts = list(CaregiverShift.objects.filter(caregiver=caregiver, day=day))
    shift = next((s for s in shifts if s.start == start), None)
    for other in shifts:
        if other is not shift and other.start < end and start < other.end:
            raise ValidationError({"start": [_("与 %(name)s 当天 %(start)s–%(end)s 的班次重叠。") % {
                "name": caregiver.name, "start": other.start.strftime("%H:%M"), "end": other.end.strftime("%H:%M")}]})
    note = _text(note, 200)
    region = caregiver.organisation.region_id
    if shift is None:
        shift = CaregiverShift.objects.create(caregiver=caregiver, day=day, start=start, end=end, note=note,
                                              created_by=_user(actor))
        audit.record(actor=actor, action=AuditAction.CREATE, instance=shift, after=audit.snapshot(shift),
                     region_code=region, detail=f"{caregiver.name} {day} {start:%H:%M}-{end:%H:%M}")
    else:
        before = audit.snapshot(shift)
        shift.end, shift.note = end, note
        shift.save(update_fields=["end", "note"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=shift, before=before,
                     after=audit.snapshot(shift), region_code=region,
                     detail=f"{caregiver.name} {day} {start:%H:%M}-{end:%H:%M}")
    return shift


@transaction.atomic
def remove_shift(*, actor, shift: CaregiverShift) -> None:
    shift = CaregiverShift.objects.select_for_update().select_related("caregiver__organisation").get(pk=shift.pk)
    policy.may_remove_shift(actor, shift).require()
    before = audit.snapshot(shift)
    audit.record(actor=actor, action=AuditAction.DELETE, instance=shift, before=before,
                 region_code=shift.caregiver.organisation.region_id,
                 detail=f"{shift.caregiver.name} {shift.day} {shift.start:%H:%M}-{shift.end:%H:%M}")
    shift.delete()
