"""REST endpoints of the register, scoped exactly like the pages (404 outside the scope)."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, SmallInt, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from . import selectors, services
from .models import (
    Contact,
    Elder,
    ElderCategory,
    ElderStatusEvent,
    Facility,
    Organisation,
    Practitioner,
)

router = Router(tags=["registry"])


class CategoryOut(Schema):
    kind: str
    label: str
    grade: str
    start_date: datetime.date
    end_date: datetime.date | None


class ContactOut(Schema):
    name: str
    relationship: str
    phone: str
    is_guardian: bool


class ElderOut(Schema):
    id: int
    name: str
    sex: str
    birth_date: datetime.date
    age: int
    id_number_masked: str
    phone: str
    hukou_region: str
    residence_region: str
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    living_situation: str
    status: str
    status_date: datetime.date | None
    categories: list[CategoryOut] = []


class ElderDetailOut(ElderOut):
    contacts: list[ContactOut] = []
    bank_name: str = ""
    bank_account_masked: str = ""


def _elder_out(e: Elder, today: datetime.date, categories=None, detail: bool = False) -> dict:
    out = {
        "id": e.pk, "name": e.name, "sex": e.sex, "birth_date": e.birth_date, "age": e.age_on(today),
        "id_number_masked": e.id_number_masked, "phone": e.phone, "hukou_region": e.hukou_region_id,
        "residence_region": e.residence_region_id, "address": e.address, "latitude": e.latitude,
        "longitude": e.longitude, "living_situation": e.living_situation, "status": e.status,
        "status_date": e.status_date,
        "categories": [{"kind": c.kind, "label": c.get_kind_display(), "grade": c.grade, "start_date": c.start_date,
                        "end_date": c.end_date} for c in (categories if categories is not None else [])],
    }
    if detail:
        out["contacts"] = [{"name": c.name, "relationship": c.relationship, "phone": c.phone,
                            "is_guardian": c.is_guardian} for c in e.contacts.all()]
        out["bank_name"] = e.bank_name
        out["bank_account_masked"] = e.masked_bank_account
    return out


class ElderFilterIn(Schema):
    q: str = Field("", max_length=40)
    region: str = Field("", max_length=column(Region, "code"))
    age_band: str = Field("", max_length=8)
    sex: str = Field("", max_length=column(Elder, "sex"))
    category: str = Field("", max_length=column(ElderCategory, "kind"))
    living_situation: str = Field("", max_length=column(Elder, "living_situation"))
    status: str = Field("active", max_length=column(Elder, "status"))
    sort: str = Field("region", max_length=16)
    level: str = Field("", max_length=8)


@router.get("elders", response={200: list[ElderOut], **ERRORS}, summary="List elders in my scope")
@paginated
def list_elders(request, filters: Query[ElderFilterIn]):
    """Filters as on the list page: region (any level, code prefix), age band (60-69 … 100+, 80+), sex (M/F),
    category, living situation, status (active/all/…); `q` searches name, pinyin initials, phone or exact ID."""
    require_roles(request.user, *REGION_STAFF)
    qs = selectors.elders_for(user=request.user, filters=selectors.split_filters(filters.dict()))
    # The categories are prefetched for the page's elders only (Django prefetches after the LIMIT).
    qs = qs.prefetch_related("categories").defer("id_number", "bank_account")
    today = timezone.localdate()
    return Rows(qs, lambda page: [_elder_out(e, today, [c for c in e.categories.all() if c.active_on(today)])
                                  for e in page])


@router.get("elders/{elder_id}", response={200: ElderDetailOut, **ERRORS}, summary="One elder")
def get_elder(request, elder_id: Id):
    elder = selectors.elder_detail(user=request.user, pk=elder_id)
    return _elder_out(elder, timezone.localdate(), list(elder.categories.all()), detail=True)


class CategoryIn(Schema):
    kind: str = Field(..., max_length=column(ElderCategory, "kind"))
    start_date: datetime.date
    end_date: datetime.date | None = None
    grade: str = Field("", max_length=column(ElderCategory, "grade"))


class ContactIn(Schema):
    name: str = Field(..., max_length=column(Contact, "name"))
    relationship: str = Field(..., max_length=column(Contact, "relationship"))
    phone: str = Field(..., max_length=column(Contact, "phone"))
    is_guardian: bool = False


# The ID number and the bank account are stored encrypted (no column length): as many characters as the
# registration form takes.
ID_NUMBER_MAX = 24
BANK_ACCOUNT_MAX = 40


class ElderIn(Schema):
    id_number: str = Field(..., max_length=ID_NUMBER_MAX)
    name: str = Field(..., max_length=column(Elder, "name"))
    phone: str = Field("", max_length=column(Elder, "phone"))
    residence_region: str = Field(..., max_length=column(Elder, "residence_region"))
    hukou_region: str = Field("", max_length=column(Elder, "hukou_region"))
    address: str = Field("", max_length=column(Elder, "address"))
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    living_situation: str = Field("", max_length=column(Elder, "living_situation"))
    bank_name: str = Field("", max_length=column(Elder, "bank_name"))
    bank_account: str = Field("", max_length=BANK_ACCOUNT_MAX)
    bank_account_holder: str = Field("", max_length=column(Elder, "bank_account_holder"))
    notes: str = Field("", max_length=column(Elder, "notes"))
    categories: list[CategoryIn] = Field([], max_length=20)
    contacts: list[ContactIn] = Field([], max_length=20)


class ElderPatch(Schema):
    name: str | None = Field(None, max_length=column(Elder, "name"))
    phone: str | None = Field(None, max_length=column(Elder, "phone"))
    residence_region: str | None = Field(None, max_length=column(Elder, "residence_region"))
    hukou_region: str | None = Field(None, max_length=column(Elder, "hukou_region"))
    address: str | None = Field(None, max_length=column(Elder, "address"))
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    living_situation: str | None = Field(None, max_length=column(Elder, "living_situation"))
    bank_name: str | None = Field(None, max_length=column(Elder, "bank_name"))
    bank_account: str | None = Field(None, max_length=BANK_ACCOUNT_MAX)
    bank_account_holder: str | None = Field(None, max_length=column(Elder, "bank_account_holder"))
    notes: str | None = Field(None, max_length=column(Elder, "notes"))


@router.post("elders", response={201: ElderDetailOut, **ERRORS}, summary="Register an elder")
def create_elder(request, payload: ElderIn):
    require_roles(request.user, *REGION_STAFF)
    data = payload.dict()
    categories = data.pop("categories")
    contacts = data.pop("contacts")
    data["hukou_region"] = data["hukou_region"] or data["residence_region"]
    elder = services.register_elder(actor=request.user, categories=categories, contacts=contacts, **data)
    return Status(201, _elder_out(elder, timezone.localdate(), list(elder.categories.all()), detail=True))


@router.patch("elders/{elder_id}", response={200: ElderDetailOut, **ERRORS}, summary="Change an elder")
def update_elder(request, elder_id: Id, payload: ElderPatch):
    require_roles(request.user, *REGION_STAFF, on_object=True)
    elder = get_scoped_or_404(Elder.objects, request.user, "change", pk=elder_id)
    changes = payload.dict(exclude_unset=True)
    services.update_elder(actor=request.user, elder=elder, **changes)
    return _elder_out(elder, timezone.localdate(), list(elder.categories.all()), detail=True)


class StatusEventIn(Schema):
    kind: str = Field(..., max_length=column(ElderStatusEvent, "kind"))
    effective_date: datetime.date
    to_region: str = Field("", max_length=column(ElderStatusEvent, "to_region"))
    note: str = Field("", max_length=column(ElderStatusEvent, "note"))


class StatusEventOut(Schema):
    id: int
    kind: str
    effective_date: datetime.date
    to_region: str | None
    elder_status: str


@router.post("elders/{elder_id}/status-events", response={201: StatusEventOut, **ERRORS},
             summary="Record a death, move, suspension or return")
def create_status_event(request, elder_id: Id, payload: StatusEventIn):
    require_roles(request.user, *REGION_STAFF, on_object=True)
    elder = get_scoped_or_404(Elder.objects, request.user, "change", pk=elder_id)
    event = services.record_status_event(actor=request.user, elder=elder, kind=payload.kind,
                                         effective_date=payload.effective_date, to_region=payload.to_region or None,
                                         note=payload.note)
    return Status(201, {"id": event.pk, "kind": event.kind, "effective_date": event.effective_date,
                        "to_region": event.to_region_id, "elder_status": event.elder.status})


class OrganisationOut(Schema):
    id: int
    name: str
    kind: str
    credit_code: str
    region: str = Field(..., alias="region_id")
    address: str
    phone: str
    is_active: bool


class OrganisationIn(Schema):
    name: str = Field(..., max_length=column(Organisation, "name"))
    kind: str = Field(..., max_length=column(Organisation, "kind"))
    credit_code: str = Field("", max_length=column(Organisation, "credit_code"))
    region: str = Field(..., max_length=column(Organisation, "region"))
    address: str = Field("", max_length=column(Organisation, "address"))
    phone: str = Field("", max_length=column(Organisation, "phone"))
    legal_representative: str = Field("", max_length=column(Organisation, "legal_representative"))
    contact_person: str = Field("", max_length=column(Organisation, "contact_person"))


@router.get("organisations", response={200: list[OrganisationOut], **ERRORS})
@paginated
def list_organisations(request, q: str = Query("", max_length=40),
                       kind: str = Query("", max_length=column(Organisation, "kind"))):
    return selectors.organisations_for(user=request.user, q=q, kind=kind)


@router.get("organisations/{org_id}", response={200: OrganisationOut, **ERRORS})
def get_organisation(request, org_id: Id):
    return get_scoped_or_404(Organisation.objects, request.user, "view", pk=org_id)


@router.post("organisations", response={201: OrganisationOut, **ERRORS})
def create_organisation(request, payload: OrganisationIn):
    require_roles(request.user, "bureau")
    return Status(201, services.save_organisation(actor=request.user, **payload.dict()))


@router.put("organisations/{org_id}", response={200: OrganisationOut, **ERRORS})
def update_organisation(request, org_id: Id, payload: OrganisationIn):
    require_roles(request.user, "bureau", on_object=True)
    org = get_scoped_or_404(Organisation.objects, request.user, "change", pk=org_id)
    return services.save_organisation(actor=request.user, organisation=org, **payload.dict())


class FacilityOut(Schema):
    id: int
    name: str
    kind: str
    operator: int | None = Field(None, alias="operator_id")
    region: str = Field(..., alias="region_id")
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    floor_area: Decimal | None
    beds_total: int
    beds_nursing: int
    opening_hours: str
    is_inclusive: bool
    is_active: bool


class FacilityIn(Schema):
    name: str = Field(..., max_length=column(Facility, "name"))
    kind: str = Field(..., max_length=column(Facility, "kind"))
    operator: Id | None = None
    region: str = Field(..., max_length=column(Facility, "region"))
    address: str = Field("", max_length=column(Facility, "address"))
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    floor_area: Decimal | None = None
    beds_total: SmallInt = 0
    beds_nursing: SmallInt = 0
    opening_hours: str = Field("", max_length=column(Facility, "opening_hours"))
    is_inclusive: bool = False


def _facility_fields(request, payload: FacilityIn) -> dict:
    data = payload.dict()
    if data["operator"] is not None:
        operator = Organisation.objects.restrict(request.user).filter(pk=data["operator"]).first()
        if operator is None:
            raise ValidationError({"operator": _("机构不存在或不在您的辖区内。")})
        data["operator"] = operator
    return data


@router.get("facilities", response={200: list[FacilityOut], **ERRORS})
@paginated
def list_facilities(request, q: str = Query("", max_length=40),
                    kind: str = Query("", max_length=column(Facility, "kind")),
                    region: str = Query("", max_length=column(Region, "code"))):
    return selectors.facilities_for(user=request.user, q=q, kind=kind, region=region)


@router.get("facilities/{facility_id}", response={200: FacilityOut, **ERRORS})
def get_facility(request, facility_id: Id):
    return get_scoped_or_404(Facility.objects, request.user, "view", pk=facility_id)


@router.post("facilities", response={201: FacilityOut, **ERRORS})
def create_facility(request, payload: FacilityIn):
    require_roles(request.user, "bureau")
    return Status(201, services.save_facility(actor=request.user, **_facility_fields(request, payload)))


@router.put("facilities/{facility_id}", response={200: FacilityOut, **ERRORS})
def update_facility(request, facility_id: Id, payload: FacilityIn):
    require_roles(request.user, "bureau", on_object=True)
    facility = get_scoped_or_404(Facility.objects, request.user, "change", pk=facility_id)
    return services.save_facility(actor=request.user, facility=facility, **_facility_fields(request, payload))


class PractitionerOut(Schema):
    id: int
    name: str
    organisation: int = Field(..., alias="organisation_id")
    id_number_masked: str
    sex: str
    birth_date: datetime.date
    phone: str
    role: str
    certificate_level: str
    skills: str
    start_date: datetime.date
    end_date: datetime.date | None


class PractitionerIn(Schema):
    name: str = Field(..., max_length=column(Practitioner, "name"))
    id_number: str = Field(..., max_length=ID_NUMBER_MAX)
    phone: str = Field(..., max_length=column(Practitioner, "phone"))
    organisation: Id
    role: str = Field(..., max_length=column(Practitioner, "role"))
    certificate_level: str = Field("", max_length=column(Practitioner, "certificate_level"))
    certificate_number: str = Field("", max_length=column(Practitioner, "certificate_number"))
    skills: str = Field("", max_length=column(Practitioner, "skills"))
    start_date: datetime.date


@router.get("staff", response={200: list[PractitionerOut], **ERRORS})
@paginated
def list_staff(request, q: str = Query("", max_length=40),
               role: str = Query("", max_length=column(Practitioner, "role")), organisation: Id | None = None):
    return selectors.practitioners_for(user=request.user, q=q, role=role, organisation=organisation)


@router.get("staff/{staff_id}", response={200: PractitionerOut, **ERRORS})
def get_staff(request, staff_id: Id):
    return get_scoped_or_404(Practitioner.objects, request.user, "view", pk=staff_id)


@router.post("staff", response={201: PractitionerOut, **ERRORS})
def create_staff(request, payload: PractitionerIn):
    require_roles(request.user, "bureau", "provider")
    data = payload.dict()
    org = Organisation.objects.restrict(request.user, "change").filter(pk=data["organisation"]).first()
    if org is None:
        raise ValidationError({"organisation": _("机构不存在或不在您的辖区内。")})
    data["organisation"] = org
    return Status(201, services.save_practitioner(actor=request.user, **data))
