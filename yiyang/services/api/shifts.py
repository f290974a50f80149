"""Caregivers' shifts (排班) and who is free when."""

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Practitioner

from .. import selectors, services
from ..models import (
    CaregiverShift,
)
from ._common import IdRef

router = Router()


SHIFT_ROLES = (Role.PROVIDER, Role.CAREGIVER, Role.BUREAU)


class ShiftOut(Schema):
    id: int
    caregiver: IdRef
    day: datetime.date
    start: str = Field(..., description="HH:MM, local time.")
    end: str = Field(..., description="HH:MM, local time.")
    note: str


def _shift_out(shift: CaregiverShift) -> dict:
    return {"id": shift.pk, "caregiver": {"id": shift.caregiver_id, "name": shift.caregiver.name},
            "day": shift.day, "start": shift.start.strftime("%H:%M"), "end": shift.end.strftime("%H:%M"),
            "note": shift.note}


class ShiftFilters(Schema):
    day: datetime.date | None = Field(None, description="Only this day.")
    date_from: datetime.date | None = Field(None, description="On or after this day.")
    date_to: datetime.date | None = Field(None, description="On or before this day.")
    caregiver: Id | None = Field(None, description="Practitioner id.")


@router.get("shifts", response={200: list[ShiftOut], **ERRORS}, summary="Caregivers' shifts in my scope")
@paginated
def list_shifts(request, filters: Query[ShiftFilters]):
    """A provider sees its caregivers' shifts, a caregiver their own, the bureau those of its district.
    Without a day or range: from today, 14 days."""
    require_roles(request.user, *SHIFT_ROLES)
    qs = CaregiverShift.objects.restrict(request.user).select_related("caregiver")
    if filters.day:
        qs = qs.filter(day=filters.day)
    else:
        start = filters.date_from or timezone.localdate()
        end = filters.date_to or start + datetime.timedelta(days=13)
        if end < start:
            raise ValidationError({"date_to": [_("结束日期不能早于开始日期。")]})
        if (end - start).days > 92:
            raise ValidationError({"date_to": [_("一次最多查询 93 天。")]})
        qs = qs.filter(day__gte=start, day__lte=end)
    if filters.caregiver:
        qs = qs.filter(caregiver_id=filters.caregiver)
    return Rows(qs.order_by("day", "start", "caregiver__name", "pk"), lambda page: [_shift_out(s) for s in page])


class ShiftIn(Schema):
    model_config = ConfigDict(extra="forbid")

    caregiver: Id = Field(..., description="Practitioner id of one of the provider's caregivers.")
    day: datetime.date
    start: str = Field(..., max_length=5, examples=["08:00"])
    end: str = Field(..., max_length=5, examples=["12:00"])
    note: str = Field("", max_length=column(CaregiverShift, "note"))


@router.post("shifts", response={201: ShiftOut, **ERRORS}, summary="Set a shift (provider)")
def create_shift(request, payload: ShiftIn):
    """A shift with the same caregiver, day and start is changed; an overlapping one is refused (422)."""
    require_roles(request.user, Role.PROVIDER)
    caregiver = Practitioner.objects.restrict(request.user, "change").filter(pk=payload.caregiver).first()
    if caregiver is None:
        raise ValidationError({"caregiver": [_("找不到该护理员，或其不是本机构的人员。")]})
    shift = services.set_shift(actor=request.user, caregiver=caregiver, day=payload.day, start=payload.start,
                               end=payload.end, note=payload.note)
    shift = CaregiverShift.objects.select_related("caregiver").get(pk=shift.pk)
    return Status(201, _shift_out(shift))


@router.delete("shifts/{int:shift_id}", response={204: None, **ERRORS}, summary="Remove a shift (provider)")
def delete_shift(request, shift_id: Id):
    # Those who see the shift and may not remove it (a caregiver, the bureau) are told so by the service (403).
    require_roles(request.user, *SHIFT_ROLES, on_object=True)
    shift = get_scoped_or_404(CaregiverShift.objects, request.user, "view", pk=shift_id)
    services.remove_shift(actor=request.user, shift=shift)
    return Status(204, None)


class AvailabilityFilters(Schema):
    start: datetime.datetime = Field(..., description="Start of the visit (ISO 8601).")
    end: datetime.datetime | None = Field(None, description="End; default one hour after the start.")


class AvailabilityOut(Schema):
    caregiver: IdRef
    on_shift: bool | None = Field(..., description="A shift covers the window; null when no shift that day.")
    shifts: list[str] = Field(..., description="The day's shifts, HH:MM-HH:MM.")
    overlapping: int = Field(..., description="Assigned or started visits overlapping the window.")
    skills: list[str]


@router.get("availability", response={200: list[AvailabilityOut], **ERRORS},
            summary="Which of my caregivers are free for a window (provider)")
def availability(request, filters: Query[AvailabilityFilters]):
    require_roles(request.user, Role.PROVIDER)
    start = filters.start if timezone.is_aware(filters.start) else timezone.make_aware(filters.start)
    end = filters.end or start + datetime.timedelta(hours=1)
    end = end if timezone.is_aware(end) else timezone.make_aware(end)
    if end <= start:
        raise ValidationError({"end": [_("结束时间须晚于开始时间。")]})
    rows = selectors.caregiver_availability(provider=request.user.organisation_id, start=start, end=end)
    return [{"caregiver": {"id": r["caregiver"].pk, "name": r["caregiver"].name}, "on_shift": r["on_shift"],
             "shifts": [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in r["shifts"]], "overlapping": r["overlapping"],
             "skills": r["skills"]} for r in rows]
