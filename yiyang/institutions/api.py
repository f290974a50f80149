"""Care institutions over REST, mounted at /api/v1/institutions: homes with their occupancy (today or on any
past day), their beds, and the supervised deposit accounts with their balance. Read-only in this step; the
steps (admit, discharge, deposits, withdrawals, the breaker's review) are the services', not yet exposed.

Scoped exactly like the querysets (`Model.objects.restrict(user)`, one selector per list): an object outside
the caller's scope answers 404.
"""

import datetime

from django.utils import timezone
from ninja import Field, Query, Router, Schema

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, Money
from yiyang.core import pii
from yiyang.core.api import ERRORS
from yiyang.core.models import Role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from . import selectors
from .models import BedStatus, Institution, InstitutionKind, Ownership

router = Router(tags=["institutions"])
HOME_VIEWERS = (Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER, Role.CAREGIVER)
ESCROW_VIEWERS = (Role.BUREAU, Role.PROVIDER)


class Ref(Schema):
    id: int
    name: str


class AreaRef(Schema):
    code: str
    name: str


class HomeOut(Schema):
    id: int
    name: str
    kind: str = Field(..., description="`care_home`, `destitute_home` (敬老院) or `regional_centre`.")
    kind_label: str
    ownership: str = Field(..., description="`public`, `public_private` (公建民营) or `private`.")
    ownership_label: str
    region: AreaRef
    operator: Ref
    is_active: bool


def home_out(h: Institution) -> dict:
    return {"id": h.pk, "name": h.name, "kind": h.kind, "kind_label": str(h.get_kind_display()),
            "ownership": h.ownership, "ownership_label": str(h.get_ownership_display()),
            "region": {"code": h.region.code, "name": h.region.name},
            "operator": {"id": h.organisation_id, "name": h.organisation.name}, "is_active": h.is_active}


class HomeFilters(Schema):
    kind: InstitutionKind | None = None
    ownership: Ownership | None = None


@router.get("homes", response={200: list[HomeOut], **ERRORS}, summary="Care homes in my scope")
@paginated
def list_homes(request, filters: Query[HomeFilters]):
    require_roles(request.user, *HOME_VIEWERS)
    return Rows(selectors.institutions_for(request.user, kind=filters.kind or "", ownership=filters.ownership or ""),
                lambda page: [home_out(h) for h in page])


def _home(request, home_id: int) -> Institution:
    require_roles(request.user, *HOME_VIEWERS, on_object=True)
    return get_scoped_or_404(Institution.objects.select_related("region", "organisation"), request.user,
                             pk=home_id)


@router.get("homes/{int:home_id}", response={200: HomeOut, **ERRORS}, summary="One care home")
def get_home(request, home_id: Id):
    return home_out(_home(request, home_id))


class OccupancyOut(Schema):
    day: datetime.date
    beds: int = Field(..., description="Beds that existed at the end of the day.")
    free: int
    reserved: int
    occupied: int
    out_of_service: int
    nursing: int = Field(..., description="Nursing-type beds (护理型床位) among them.")
    occupancy: str | None = Field(..., description="Occupied beds in percent, two decimals; null without beds.")
    nursing_share: str | None = Field(..., description="Nursing-type beds in percent, two decimals.")


class DayFilter(Schema):
    day: datetime.date | None = Field(None, description="The day (default today); any past day is answered "
                                                        "from the beds' history.")


@router.get("homes/{int:home_id}/occupancy", response={200: OccupancyOut, **ERRORS},
            summary="A home's beds by status on a day")
def get_occupancy(request, home_id: Id, filters: Query[DayFilter]):
    home = _home(request, home_id)
    day = filters.day or timezone.localdate()
    counts = selectors.occupancy_on(request.user, day, institution=home).get(home.pk) or {
        "beds": 0, "nursing": 0, **{s: 0 for s in BedStatus.values}, "occupancy": None, "nursing_share": None}
    return {"day": day, **{k: (str(v) if k in ("occupancy", "nursing_share") and v is not None else v)
                           for k, v in counts.items()}}


class BedOut(Schema):
    id: int
    label: str
    building: str
    floor: int
    room: str
    nursing: bool
    open_to_others: bool = Field(..., description="A 敬老院's spare bed opened to residents who are not 特困.")
    status: str = Field(..., description="`free`, `reserved`, `occupied` or `out_of_service`.")
    status_label: str
    status_since: datetime.date


def bed_out(b) -> dict:
    room = b.room
    return {"id": b.pk, "label": b.label, "building": room.floor.building.name, "floor": room.floor.number,
            "room": room.number, "nursing": b.nursing, "open_to_others": b.open_to_others, "status": b.status,
            "status_label": str(b.get_status_display()), "status_since": b.status_since}


class BedFilters(Schema):
    status: BedStatus | None = None
    nursing: bool | None = None
    open_to_others: bool | None = None


@router.get("homes/{int:home_id}/beds", response={200: list[BedOut], **ERRORS}, summary="A home's beds")
@paginated
def list_beds(request, home_id: Id, filters: Query[BedFilters]):
    home = _home(request, home_id)
    return Rows(selectors.beds_for(request.user, institution=home, status=filters.status or "",
                                   nursing=filters.nursing, open_to_others=filters.open_to_others),
                lambda page: [bed_out(b) for b in page])


class AccountOut(Schema):
    id: int
    home: Ref
    bank_name: str
    account_number: str = Field(..., description="Masked: only the last four digits.")
    status: str = Field(..., description="`active`, `frozen` (the breaker tripped; the bureau reviews) or `closed`.")
    status_label: str
    frozen_at: datetime.datetime | None
    balance: Money = Field(..., description="The ledger's running total after its last posting.")


def account_out(a) -> dict:
    return {"id": a.pk, "home": {"id": a.institution_id, "name": a.institution.name}, "bank_name": a.bank_name,
            "account_number": pii.mask_account(a.account_number), "status": a.status,
            "status_label": str(a.get_status_display()), "frozen_at": a.frozen_at, "balance": a.balance}


class AccountFilters(Schema):
    frozen: bool = Field(False, description="Only the frozen accounts (waiting for the bureau's review).")


@router.get("escrow-accounts", response={200: list[AccountOut], **ERRORS},
            summary="Supervised deposit accounts (押金专户) with their balance")
@paginated
def list_accounts(request, filters: Query[AccountFilters]):
    require_roles(request.user, *ESCROW_VIEWERS)
    return Rows(selectors.accounts_for(request.user, frozen_only=filters.frozen, with_balance=True),
                lambda page: [account_out(a) for a in page])
