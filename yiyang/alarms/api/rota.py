"""The duty rota (值班表) of the county's call centre and the streets' desks, who is on duty now, and the service
levels (响应时限与升级规则)."""

import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region, Role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import policy, selectors, services
from ..models import DutyRole, DutyShift, ServiceLevel
from ._common import DESK, AreaRef, Ref, area, label, moment, person, region_of, user_in_body

router = Router()
ROTA_VIEWERS = (Role.BUREAU, Role.STREET, Role.OPERATOR)


class ShiftOut(Schema):
    id: int
    region: AreaRef = Field(..., description="The county's call centre or a street's desk.")
    user: Ref
    duty_role: str = Field(..., description="`operator` (接警员), `backup` or `duty_officer` (值班领导).")
    duty_role_label: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime


def shift_out(s: DutyShift) -> dict:
    return {"id": s.pk, "region": area(s.region), "user": {"id": s.user_id, "name": str(s.user)},
            "duty_role": s.duty_role, "duty_role_label": label(s, "duty_role"), "starts_at": s.starts_at,
            "ends_at": s.ends_at}


class ShiftFilters(Schema):
    day: datetime.date | None = Field(None, description="Shifts that overlap this day.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("rota", response={200: list[ShiftOut], **ERRORS}, summary="The duty rota")
@paginated
def list_shifts(request, filters: Query[ShiftFilters]):
    """By start. The bureau and the streets see their area's rota; an operator that of their desk and their own
    shifts."""
    require_roles(request.user, *ROTA_VIEWERS)
    if filters.day is not None and not 1900 <= filters.day.year <= 2200:
        raise ValidationError({"day": [_("日期超出合理范围。")]})
    return Rows(selectors.shifts_for(request.user, day=filters.day, region_code=filters.region.strip()),
                lambda page: [shift_out(s) for s in page])


class OnDutyOut(Schema):
    region: str
    operator: list[Ref] = Field(..., description="The street's operators and the county's call centre.")
    backup: list[Ref]
    duty_officer: list[Ref]


class OnDutyFilters(Schema):
    region: str = Field("", max_length=column(Region, "code"), description="A street or community code of the "
                                                                            "caller's county; default the caller's.")


@router.get("rota/now", response={200: OnDutyOut, **ERRORS}, summary="Who is on duty now")
def on_duty(request, filters: Query[OnDutyFilters]):
    """For an area of the caller's county (another county answers 404)."""
    require_roles(request.user, *DESK)
    scope = request.user.scope_code or ""
    code = filters.region.strip() or scope
    region_of(code)
    if not scope or not code.startswith(scope[:6]):
        raise Http404
    now = selectors.on_duty_now(code)
    people = {role: [{"id": u.pk, "name": str(u)} for u in users] for role, users in now.items()}
    return {"region": code, **{role: people.get(role, []) for role in DutyRole.values}}


class ShiftIn(Schema):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(..., max_length=column(Region, "code"), description="County (call centre) or street code.")
    user: Id
    duty_role: DutyRole
    starts_at: datetime.datetime
    ends_at: datetime.datetime = Field(..., description="At most 24 hours after the start.")


@router.post("rota", response={201: ShiftOut, **ERRORS}, summary="Add a shift")
def add_shift(request, payload: ShiftIn):
    """By the bureau or the street; one person never has two shifts at once (422)."""
    require_roles(request.user, Role.BUREAU, Role.STREET)
    shift = services.add_shift(actor=request.user, region=region_of(payload.region),
                               user=user_in_body(request, payload.user, "user"), duty_role=payload.duty_role,
                               starts_at=moment(payload.starts_at, "starts_at"),
                               ends_at=moment(payload.ends_at, "ends_at"))
    return Status(201, shift_out(DutyShift.objects.select_related("region", "user").get(pk=shift.pk)))


@router.delete("rota/{int:shift_id}", response={204: None, **ERRORS}, summary="Remove a shift")
def remove_shift(request, shift_id: Id):
    """A shift that has ended stays (409): the rota is the record of who was on duty."""
    require_roles(request.user, *ROTA_VIEWERS, on_object=True)
    shift = get_scoped_or_404(DutyShift.objects.select_related("region", "user"), request.user, "delete",
                              pk=shift_id)
    services.remove_shift(actor=request.user, shift=shift)
    return Status(204, None)


# ---------------------------------------------------------------------------------------- service levels


class ChainStep(Schema):
    model_config = ConfigDict(extra="forbid")

    to: Literal["backup", "duty_officer", "bureau"]
    wait_seconds: int = Field(..., ge=0, le=86400, description="Before the next step.")


class ServiceLevelOut(Schema):
    id: int
    jurisdiction: AreaRef
    ack_seconds: int = Field(..., description="Acknowledged within this many seconds of the first event.")
    arrive_minutes: int = Field(..., description="Someone on site within this many minutes of the dispatch.")
    chain: list[ChainStep]
    silence_hours: int
    updated_at: datetime.datetime
    updated_by: str | None


def level_out(s: ServiceLevel) -> dict:
    return {"id": s.pk, "jurisdiction": area(s.jurisdiction), "ack_seconds": s.ack_seconds,
            "arrive_minutes": s.arrive_minutes, "chain": list(s.chain or []), "silence_hours": s.silence_hours,
            "updated_at": s.updated_at, "updated_by": person(s.updated_by)}


@router.get("service-levels", response={200: list[ServiceLevelOut], **ERRORS}, summary="Service levels")
@paginated
def list_service_levels(request):
    """A county's row applies to its streets unless a street has its own; where there is none the defaults do
    (60 s, 45 minutes, backup → duty officer → bureau)."""
    require_roles(request.user, *DESK)
    return Rows(selectors.service_levels_for(request.user), lambda page: [level_out(s) for s in page])


class ServiceLevelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ack_seconds: int = Field(..., ge=0, le=86400, description="10–3600.")
    arrive_minutes: int = Field(..., ge=0, le=10000, description="5–480.")
    chain: list[ChainStep] = Field(..., max_length=6)
    silence_hours: int = Field(24, ge=0, le=1000, description="6–168.")


@router.put("service-levels/{region}", response={200: ServiceLevelOut, 201: ServiceLevelOut, **ERRORS},
            summary="Set a county's or a street's service level")
def set_service_level(request, payload: ServiceLevelIn,
                      region: str = Path(..., max_length=column(Region, "code"))):
    """By the bureau of the jurisdiction (another jurisdiction answers 404). 201 when the row is new."""
    require_roles(request.user, Role.BUREAU, on_object=True)
    jurisdiction = Region.objects.filter(code=region.strip()).first()
    if jurisdiction is None:
        raise Http404
    existing = ServiceLevel.objects.filter(jurisdiction=jurisdiction).first()
    if existing is not None:
        get_scoped_or_404(ServiceLevel.objects, request.user, "change", pk=existing.pk)
    elif not policy.may_set_service_level(request.user, jurisdiction.code):
        raise Http404
    row = services.set_service_level(actor=request.user, jurisdiction=jurisdiction,
                                     ack_seconds=payload.ack_seconds, arrive_minutes=payload.arrive_minutes,
                                     chain=[step.dict() for step in payload.chain],
                                     silence_hours=payload.silence_hours)
    fresh = ServiceLevel.objects.select_related("jurisdiction", "updated_by").get(pk=row.pk)
    return Status(200 if existing else 201, level_out(fresh))
