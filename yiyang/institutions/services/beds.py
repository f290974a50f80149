"""Homes and their bed tree; the manual bed states (reserved, out of service). Occupancy changes only through
stays (stays.py), through the same `change_bed_status`."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from yiyang.core import audit, validators
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region
from yiyang.registry.models import Organisation, OrganisationKind

from .. import policy, rules
from ..models import (
    Bed,
    BedStatus,
    BedStatusChange,
    Building,
    Floor,
    Institution,
    InstitutionKind,
    Ownership,
    Room,
)
from ._common import Errors, parse_day, record, today

# The organisation kinds a home may be run by: a care-home operator, a public institution, a social organisation,
# a provider company (chains run homes and home care both); not an assessment agency or a kitchen.
OPERATOR_KINDS = {OrganisationKind.CARE_HOME, OrganisationKind.PUBLIC, OrganisationKind.SOCIAL,
                  OrganisationKind.PROVIDER}
MANUAL_STATUSES = {BedStatus.FREE, BedStatus.RESERVED, BedStatus.OUT_OF_SERVICE}


@transaction.atomic
def register_institution(*, actor, name: str, kind: str, ownership: str, organisation: Organisation,
                         region: Region | str, facility=None, address: str = "", opened_on=None) -> Institution:
    errors = Errors()
    region = region if isinstance(region, Region) else Region.objects.filter(code=str(region)).first()
    if region is None:
        errors.add("region", _("区划代码不存在。"))
        errors.raise_if_any()
    policy.may_register_institution(actor, region.code).require()
    name = errors.text("name", name, validators.clean_organisation_name, required=_("请填写机构名称。"))
    address = errors.text("address", address)
    if kind not in InstitutionKind.values:
        errors.add("kind", _("机构类型无效。"))
    if ownership not in Ownership.values:
        errors.add("ownership", _("机构性质无效。"))
    if organisation.kind not in OPERATOR_KINDS:
        errors.add("organisation", _("运营机构须为养老机构、公办机构或社会组织。"))
    if facility is not None and facility.operator_id not in (None, organisation.pk):
        errors.add("facility", _("该设施登记的运营机构不是所选机构。"))
    day = parse_day(opened_on, "opened_on", errors, not_after_today=False) if opened_on else None
    if name and Institution.objects.filter(name=name, region=region).exists():
        errors.add("name", _("该区域已有同名机构。"))
    errors.raise_if_any()
    institution = Institution.objects.create(name=name, kind=kind, ownership=ownership, organisation=organisation,
                                             region=region, facility=facility, address=address, opened_on=day)
    record(actor=actor, action=AuditAction.CREATE, instance=institution, region_code=institution.region_code)
    return institution


@transaction.atomic
def add_beds(*, actor, institution: Institution, building: str, floor: int, room: str, labels: list[str],
             nursing: bool = False, open_to_others: bool = False, effective_date=None) -> list[Bed]:
    """Beds in a room (the building, floor and room made when they are new), each free from `effective_date`."""
    policy.may_manage_beds(actor, institution).require()
    errors = Errors()
    building = errors.text("building", building, required=_("请填写楼栋。"))
    room = errors.text("room", room, required=_("请填写房间号。"))
    try:
        floor = int(floor)
    except (TypeError, ValueError):
        errors.add("floor", _("楼层应为整数。"))
    labels = [errors.text("labels", str(label)) for label in labels]
    if not labels or any(not label or len(label) > 16 for label in labels) or len(set(labels)) != len(labels):
        errors.add("labels", _("请填写床号（每个不超过 16 个字，不重复）。"))
    day = parse_day(effective_date or today(), "effective_date", errors, not_after_today=False)
    errors.raise_if_any()
    b, _created = Building.objects.get_or_create(institution=institution, name=building)
    f, _created = Floor.objects.get_or_create(building=b, number=floor)
    r, _created = Room.objects.get_or_create(floor=f, number=room)
    taken = set(r.beds.filter(label__in=labels).values_list("label", flat=True))
    if taken:
        errors.add("labels", _("床号已存在：%(labels)s") % {"labels": "、".join(sorted(taken))})
        errors.raise_if_any()
    beds = []
    for label in labels:
        bed = Bed.objects.create(room=r, institution=institution, label=label, nursing=bool(nursing),
                                 open_to_others=bool(open_to_others), status=BedStatus.FREE, status_since=day)
        BedStatusChange.objects.create(bed=bed, institution=institution, from_status="", to_status=BedStatus.FREE,
                                       effective_date=day, actor=_user(actor), note="new")
        beds.append(bed)
    record(actor=actor, action=AuditAction.CREATE, instance=r, region_code=institution.region_code,
           detail=_("新增床位 %(n)d 张") % {"n": len(beds)})
    return beds


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def lock_bed(bed: Bed) -> Bed:
    return Bed.objects.select_for_update().select_related("institution").get(pk=bed.pk)


def change_bed_status(bed: Bed, target: str, *, day, actor, stay=None, note: str = "") -> BedStatusChange:
    """Move a (locked) bed along its state machine from `day`; refuses a forbidden move or a day before the
    bed's current state began (the history stays in order, so any past day is answerable)."""
    if not rules.bed_transition_allowed(bed.status, target):
        raise DomainError(ErrorCode.INVALID_STATE, _("床位 %(bed)s 当前为“%(now)s”，不能改为“%(to)s”。") % {
            "bed": bed, "now": bed.get_status_display(), "to": BedStatus(target).label}, status=409)
    if day < bed.status_since:
        raise DomainError(ErrorCode.VALIDATION, _("日期早于床位 %(bed)s 上一次状态变更（%(date)s）。") % {
            "bed": bed, "date": bed.status_since}, status=422, fields={"effective_date": [_("日期过早。")]})
    change = BedStatusChange.objects.create(bed=bed, institution_id=bed.institution_id, from_status=bed.status,
                                            to_status=target, effective_date=day, stay=stay, actor=_user(actor),
                                            note=note[:200])
    bed.status, bed.status_since = target, day
    bed.save(update_fields=["status", "status_since"])
    return change


@transaction.atomic
def set_bed_status(*, actor, bed: Bed, status: str, effective_date=None, note: str = "") -> Bed:
    """Reserve a free bed or release it, take it out of service or back (occupancy goes through stays)."""
    bed = lock_bed(bed)
    policy.may_manage_beds(actor, bed.institution).require()
    errors = Errors()
    if status not in MANUAL_STATUSES:
        errors.add("status", _("入住和出院须通过入住管理办理。"))
    day = parse_day(effective_date or today(), "effective_date", errors)
    note = errors.text("note", note)
    errors.raise_if_any()
    before = audit.snapshot(bed)
    change_bed_status(bed, status, day=day, actor=actor, note=note)
    record(actor=actor, action=AuditAction.UPDATE, instance=bed, before=before,
           region_code=bed.institution.region_code)
    return bed


@transaction.atomic
def set_bed_open_to_others(*, actor, bed: Bed, open_to_others: bool) -> Bed:
    """Open a 敬老院's spare bed to residents who are not 特困, or close it again."""
    bed = lock_bed(bed)
    policy.may_manage_beds(actor, bed.institution).require()
    before = audit.snapshot(bed)
    bed.open_to_others = bool(open_to_others)
    bed.save(update_fields=["open_to_others"])
    record(actor=actor, action=AuditAction.UPDATE, instance=bed, before=before,
           region_code=bed.institution.region_code)
    return bed
