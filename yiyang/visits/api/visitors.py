"""Visitors (巡访员) and pairings (包联): who visits whom, re-pairing when a visitor leaves, the unpaired."""

import datetime
from typing import Literal

from django.contrib.auth import get_user_model
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

from .. import selectors, services
from ..models import Pairing, Visitor, VisitorKind
from ._common import MONTH_TEXT, VisitAreaRef, VisitRef, elder_of, elder_ref, month_of, region_of, visitor_in_body

router = Router()
VISITOR_VIEWERS = (*REGION_STAFF, Role.VISITOR)


class VisitorOut(Schema):
    id: int
    name: str
    kind: str = Field(..., description="`grid_worker`, `cadre`, `care_helper`, `social_worker` or `volunteer`.")
    kind_label: str
    phone: str
    region: VisitAreaRef
    account: str | None = Field(..., description="The visitor's login, if they have one (the phone app).")
    active: bool
    left_on: datetime.date | None
    created_at: datetime.datetime


def visitor_out(v: Visitor) -> dict:
    return {"id": v.pk, "name": v.name, "kind": v.kind, "kind_label": str(v.get_kind_display()), "phone": v.phone,
            "region": {"code": v.region.code, "name": v.region.name},
            "account": v.user.username if v.user_id else None, "active": v.active, "left_on": v.left_on,
            "created_at": v.created_at}


class VisitorFilters(Schema):
    status: Literal["active", "left", "all"] = Field("active", description="In post (default), left, or all.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("visitors", response={200: list[VisitorOut], **ERRORS}, summary="Visitors in my area")
@paginated
def list_visitors(request, filters: Query[VisitorFilters]):
    """Street and community staff (and the bureau) see the visitors of their area; a visitor sees themselves."""
    require_roles(request.user, *VISITOR_VIEWERS)
    active = {"active": True, "left": False, "all": None}[filters.status]
    return Rows(selectors.visitors_for(request.user, active=active, region_code=filters.region.strip()),
                lambda page: [visitor_out(v) for v in page])


def _visitor(request, visitor_id: int, action: str = "view") -> Visitor:
    require_roles(request.user, *VISITOR_VIEWERS, on_object=True)
    return get_scoped_or_404(Visitor.objects.select_related("region", "user"), request.user, action, pk=visitor_id)


@router.get("visitors/{int:visitor_id}", response={200: VisitorOut, **ERRORS}, summary="One visitor")
def get_visitor(request, visitor_id: Id):
    return visitor_out(_visitor(request, visitor_id))


class VisitorIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., max_length=column(Visitor, "name"))
    kind: VisitorKind
    region: str = Field(..., max_length=column(Region, "code"), description="Community (or street) code.")
    phone: str = Field("", max_length=column(Visitor, "phone"))
    account: Id | None = Field(None, description="Id of the visitor's own account (role `visitor`, or a street "
                                                 "or community worker), in the caller's area.")


def _account(request, pk: int | None):
    if pk is None:
        return None
    user = get_user_model().objects.filter(pk=pk, is_active=True,
                                           scope_code__startswith=request.user.scope_code or "-").first()
    if user is None:
        raise ValidationError({"account": [_("找不到该账号。")]})
    return user


@router.post("visitors", response={201: VisitorOut, **ERRORS}, summary="Add a visitor")
def create_visitor(request, payload: VisitorIn):
    """By street or community staff (or the bureau) for their area."""
    require_roles(request.user, *REGION_STAFF)
    visitor = services.add_visitor(actor=request.user, name=payload.name, kind=payload.kind,
                                   region=region_of(payload.region), phone=payload.phone,
                                   user=_account(request, payload.account))
    return Status(201, visitor_out(Visitor.objects.select_related("region", "user").get(pk=visitor.pk)))


class VisitorLeaveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    successor: Id | None = Field(None, description="Visitor who takes over everyone; without one, each person's "
                                                   "backup does (or they go on the unpaired list).")
    on: datetime.date | None = Field(None, description="Last day; default today.")


class VisitorLeaveOut(Schema):
    moved: int = Field(..., description="People handed to the successor.")
    promoted: int = Field(..., description="People whose backup became responsible.")
    unpaired: int = Field(..., description="People left without a visitor (the unpaired list).")
    backups_cleared: int = Field(..., description="Pairings where the visitor was the backup.")


@router.post("visitors/{int:visitor_id}/leave", response={200: VisitorLeaveOut, **ERRORS},
             summary="A visitor leaves: re-pair everyone in one step")
def leave(request, visitor_id: Id, payload: VisitorLeaveIn):
    visitor = _visitor(request, visitor_id, "change")
    successor = visitor_in_body(request, payload.successor, "successor")
    return services.visitor_leaves(actor=request.user, visitor=visitor, successor=successor, on=payload.on)


class PairingOut(Schema):
    id: int
    elder: VisitRef
    region_code: str = Field(..., description="The elder's community.")
    visitor: VisitRef
    backup: VisitRef | None
    since: datetime.date
    until: datetime.date | None


def pairing_out(p: Pairing) -> dict:
    return {"id": p.pk, "elder": elder_ref(p.elder), "region_code": p.region_code,
            "visitor": {"id": p.visitor_id, "name": p.visitor.name},
            "backup": {"id": p.backup_id, "name": p.backup.name} if p.backup_id else None,
            "since": p.since, "until": p.until}


class PairingFilters(Schema):
    visitor: Id | None = Field(None, description="Responsible visitor or backup.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("pairings", response={200: list[PairingOut], **ERRORS}, summary="Open pairings (包联) in my area")
@paginated
def list_pairings(request, filters: Query[PairingFilters]):
    """A visitor sees the pairings they are responsible for or back up."""
    require_roles(request.user, *VISITOR_VIEWERS)
    visitor = None
    if filters.visitor is not None:
        visitor = Visitor.objects.filter(pk=filters.visitor).first()
        if visitor is None:
            return Pairing.objects.none()
    return Rows(selectors.pairings_for(request.user, visitor=visitor, region_code=filters.region.strip()),
                lambda page: [pairing_out(p) for p in page])


@router.get("pairings/{int:pairing_id}", response={200: PairingOut, **ERRORS}, summary="One pairing")
def get_pairing(request, pairing_id: Id):
    require_roles(request.user, *VISITOR_VIEWERS, on_object=True)
    qs = Pairing.objects.select_related("elder", "visitor", "backup")
    return pairing_out(get_scoped_or_404(qs, request.user, "view", pk=pairing_id))


class PairingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    visitor: Id = Field(..., description="The responsible visitor.")
    backup: Id | None = Field(None, description="Who visits when they cannot.")
    since: datetime.date | None = Field(None, description="Default today.")


@router.post("pairings", response={200: PairingOut, 201: PairingOut, **ERRORS},
             summary="Pair an elder with a visitor (replaces the open pairing)")
def create_pairing(request, payload: PairingIn):
    """The previous pairing ends the day the new one starts, and the person's open tasks follow the new
    visitor. The same visitor and backup again answer 200 with the open pairing (nothing changes)."""
    require_roles(request.user, *REGION_STAFF)
    elder = elder_of(request, payload.elder)
    visitor = visitor_in_body(request, payload.visitor, "visitor")
    backup = visitor_in_body(request, payload.backup, "backup")
    before = Pairing.objects.filter(elder=elder, until__isnull=True).values_list("pk", flat=True).first()
    pairing = services.pair(actor=request.user, elder=elder, visitor=visitor, backup=backup, since=payload.since)
    fresh = Pairing.objects.select_related("elder", "visitor", "backup").get(pk=pairing.pk)
    return Status(200 if pairing.pk == before else 201, pairing_out(fresh))


class UnpairedOut(Schema):
    id: int
    name: str
    community: VisitAreaRef
    address: str


class UnpairedFilters(Schema):
    month: str = Field("", max_length=MONTH_TEXT, description="YYYY-MM; default this month.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("unpaired", response={200: list[UnpairedOut], **ERRORS},
            summary="People due a visit with nobody responsible, per community")
@paginated
def list_unpaired(request, filters: Query[UnpairedFilters]):
    """Everyone with a task in the month and no open pairing, by community then name: the list each
    community must empty."""
    require_roles(request.user, *REGION_STAFF)
    month = month_of(filters.month) if filters.month.strip() else None
    qs = selectors.unpaired_for(request.user, month=month, region_code=filters.region.strip())
    return Rows(qs, lambda page: [{"id": e.pk, "name": e.name, "address": e.address,
                                   "community": {"code": e.residence_region.code, "name": e.residence_region.name}}
                                  for e in page])
