"""Writes of the register. Keyword-only, one transaction each, audited; ValidationError carries per-field errors."""

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pypinyin import Style, lazy_pinyin

from yiyang.core import audit, pii, validators
from yiyang.core.models import AuditAction, Region

from .models import (
    STATUS_AFTER_EVENT,
    CategoryKind,
    Contact,
    Elder,
    ElderCategory,
    ElderStatus,
    ElderStatusEvent,
    Facility,
    LivingSituation,
    Organisation,
    OrganisationLicence,
    Practitioner,
    Relationship,
    StatusEventKind,
)
from .signals import elder_status_changed

# Rough bounding box of mainland China, to catch swapped or mistyped coordinates.
LAT_RANGE = (Decimal("17"), Decimal("54"))
LON_RANGE = (Decimal("73"), Decimal("136"))


def name_pinyin(name: str) -> tuple[str, str]:
    full = "".join(lazy_pinyin(name, errors="ignore")).lower()
    initials = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()
    return full[:128], initials[:32]


class Errors(dict):
    """Collects per-field messages so that a form or an import row reports everything at once.

    The messages are plain text (field → [message]); the stable codes of the validators (id_characters,
    phone...) are kept beside them, for the API's error format."""

    def __init__(self):
        super().__init__()
        self.codes: dict[str, list] = {}

    def add(self, field: str, message, code: str | None = None) -> None:
        self.setdefault(field, []).append(str(message))
        self.codes.setdefault(field, []).append(code)

    def check(self, field: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            found = exc.error_list if hasattr(exc, "error_list") else [e for es in exc.error_dict.values() for e in es]
            for error in found:
                for message in error:  # a single error iterates as its one formatted message
                    self.add(field, message, error.code)
            return None

    def text(self, field: str, value, rule=validators.clean_text, *, required: str = "") -> str:
        """`value` cleaned by one of core.validators' rules (a person's name, an organisation's name, free text),
        or "" with the rule's reason recorded; `required` is the message for an empty value."""
        text = self.check(field, rule, value)
        if text == "" and required:
            self.add(field, required, "required")
        return text or ""

    def raise_if_any(self) -> None:
        if self:
            out = {}
            for field, messages in self.items():
                codes = self.codes.get(field, [])
                out[field] = [ValidationError(m, code=codes[i] if i < len(codes) else None)
                              for i, m in enumerate(messages)]
            raise ValidationError(out)


def parse_coordinates(latitude, longitude, errors: Errors, field: str = "latitude"
                      ) -> tuple[Decimal | None, Decimal | None]:
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except (InvalidOperation, ValueError):
        errors.add(field, _("经纬度应为数字。"))
        return None, None
    if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]):
        errors.add(field, _("经纬度不在中国境内，请检查是否填反。"))
        return None, None
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))


def _region(code_or_region, field: str, errors: Errors, *, levels: set[str] | None = None) -> Region | None:
    if code_or_region in (None, ""):
        errors.add(field, _("此项为必填项。"))
        return None
    region = code_or_region if isinstance(code_or_region, Region) else Region.objects.filter(
        code=str(code_or_region)).first()
    if region is None:
        errors.add(field, _("区划代码 %(code)s 不存在。") % {"code": code_or_region})
        return None
    if levels and region.level not in levels:
        errors.add(field, _("%(name)s 的层级不符，请选择到街道或社区。") % {"name": region.name})
        return None
    return region


def _in_actor_scope(actor, region: Region, field: str, errors: Errors) -> None:
    if actor is None or actor.is_superuser:
        return
    if not actor.scope_code or not region.code.startswith(actor.scope_code):
        errors.add(field, _("所选区域不在您的辖区内。"))


ELDER_TEXT_RULES = {
    "address": validators.clean_text,
    "bank_name": validators.clean_organisation_name,
    "bank_account_holder": validators.clean_person_name,
    "notes": validators.clean_multiline_text,
}
ELDER_FIELDS = ("name", "phone", "hukou_region", "residence_region", "address", "latitude", "longitude",
                "living_situation", "bank_name", "bank_account", "bank_account_holder", "notes")


# Translated when it is used (an import validates 100,000 names: one gettext per row cost ~1 s).
NAME_REQUIRED = gettext_lazy("请填写姓名。")


def validate_elder_fields(*, actor, data: dict, errors: Errors, instance: Elder | None = None) -> dict:
    """Check and normalise elder fields (shared by the form, the API and the Excel import)."""
    clean = {}
    if "name" in data or instance is None:
        name = errors.text("name", data.get("name"), validators.clean_person_name, required=NAME_REQUIRED)
        if len(name) > 64:
            errors.add("name", _("姓名过长。"))
        clean["name"] = name
    if data.get("phone"):
        clean["phone"] = errors.check("phone", pii.validate_phone, data["phone"]) or ""
    elif "phone" in data:
        clean["phone"] = ""
    for field in ("hukou_region", "residence_region"):
        if field in data or instance is None:
            region = _region(data.get(field), field, errors,
                             levels={"street", "community"} if field == "residence_region" else None)
            if region is not None and field == "residence_region":
                _in_actor_scope(actor, region, field, errors)
            clean[field] = region
    if "latitude" in data or "longitude" in data:
        clean["latitude"], clean["longitude"] = parse_coordinates(data.get("latitude"), data.get("longitude"),
                                                                  errors)
    if data.get("living_situation"):
        if data["living_situation"] not in LivingSituation.values:
            errors.add("living_situation", _("居住状况取值无效。"))
        clean["living_situation"] = data["living_situation"]
    if data.get("bank_account"):
        clean["bank_account"] = errors.check("bank_account", pii.validate_bank_account, data["bank_account"]) or ""
    for field, rule in ELDER_TEXT_RULES.items():
        if field in data:
            clean[field] = errors.text(field, data.get(field), rule)
    return clean


def _apply(elder: Elder, clean: dict) -> None:
    for field, value in clean.items():
        setattr(elder, field, value)
    if "name" in clean:
        elder.name_pinyin, elder.name_initials = name_pinyin(elder.name)
    if elder.residence_region_id:
        elder.county_code = elder.residence_region_id[:6]


@transaction.atomic
def register_elder(*, actor, id_number: str, categories: list[dict] = (), contacts: list[dict] = (),
                   **fields) -> Elder:
    """Register a new elder. The same ID number can never be registered twice."""
    errors = Errors()
    elder = Elder()
    info = errors.check("id_number", elder.set_identity, id_number)
    if info is not None and Elder.objects.filter(id_number_hash=elder.id_number_hash).exists():
        errors.add("id_number", _("身份证号 %(masked)s 已登记，不能重复登记。") % {"masked": elder.id_number_masked})
    clean = validate_elder_fields(actor=actor, data=fields, errors=errors)
    errors.raise_if_any()
    _apply(elder, clean)
    elder.status = ElderStatus.ACTIVE
    elder.save()
    for c in categories:
        add_category(actor=actor, elder=elder, _audit=False, **c)
    for c in contacts:
        add_contact(actor=actor, elder=elder, _audit=False, **c)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=elder, after=audit.snapshot(elder),
                 region_code=elder.residence_region_id)
    return elder


@transaction.atomic
def update_elder(*, actor, elder: Elder, **fields) -> Elder:
    errors = Errors()
    unknown = set(fields) - set(ELDER_FIELDS)
    if unknown:
        raise ValueError(f"update_elder: unknown fields {sorted(unknown)}")
    clean = validate_elder_fields(actor=actor, data=fields, errors=errors, instance=elder)
    errors.raise_if_any()
    before = audit.snapshot(elder)
    _apply(elder, clean)
    elder.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=elder, before=before,
                 after=audit.snapshot(elder), region_code=elder.residence_region_id)
    return elder


def _parse_date(value, field: str, errors: Errors, *, required: bool = True) -> datetime.date | None:
    if value in (None, ""):
        if required:
            errors.add(field, _("此项为必填项。"))
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.add(field, _("日期格式应为 YYYY-MM-DD。"))
        return None


@transaction.atomic
def add_category(*, actor, elder: Elder, kind: str, start_date, end_date=None, grade: str = "", note: str = "",
                 _audit: bool = True) -> ElderCategory:
    errors = Errors()
    if kind not in CategoryKind.values:
        errors.add("kind", _("人员类别取值无效。"))
    grade = errors.text("grade", grade)
    note = errors.text("note", note)
    start = _parse_date(start_date, "start_date", errors)
    end = _parse_date(end_date, "end_date", errors, required=False)
    if start and end and end < start:
        errors.add("end_date", _("终止日期不能早于起始日期。"))
    if start and start < elder.birth_date:
        errors.add("start_date", _("起始日期早于出生日期。"))
    if kind == CategoryKind.SEVERE_DISABILITY and not grade:
        errors.add("grade", _("重残须填写残疾等级。"))
    if start and kind in CategoryKind.values:
        overlapping = elder.categories.filter(kind=kind, start_date__lte=end or datetime.date.max).exclude(
            end_date__lt=start)
        if overlapping.exists():
            errors.add("start_date", _("该类别在此期间已登记。"))
    errors.raise_if_any()
    category = ElderCategory.objects.create(elder=elder, kind=kind, start_date=start, end_date=end, grade=grade,
                                            note=note, county_code=elder.county_code)
    if _audit:
        audit.record(actor=actor, action=AuditAction.CREATE, instance=category,
                     object_repr=f"{elder.name}：{category.get_kind_display()}", after=audit.snapshot(category),
                     region_code=elder.residence_region_id)
    return category


@transaction.atomic
def end_category(*, actor, category: ElderCategory, end_date) -> ElderCategory:
    errors = Errors()
    end = _parse_date(end_date, "end_date", errors)
    if end and end < category.start_date:
        errors.add("end_date", _("终止日期不能早于起始日期。"))
    errors.raise_if_any()
    before = audit.snapshot(category)
    category.end_date = end
    category.save(update_fields=["end_date", "updated_at"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=category, before=before,
                 after=audit.snapshot(category), region_code=category.elder.residence_region_id)
    return category


@transaction.atomic
def add_contact(*, actor, elder: Elder, name: str, relationship: str, phone: str, is_guardian: bool = False,
                address: str = "", _audit: bool = True) -> Contact:
    errors = Errors()
    name = errors.text("name", name, validators.clean_person_name, required=_("请填写联系人姓名。"))
    if relationship not in Relationship.values:
        errors.add("relationship", _("关系取值无效。"))
    phone = errors.check("phone", pii.validate_phone, phone)
    address = errors.text("address", address)
    errors.raise_if_any()
    contact = Contact.objects.create(elder=elder, name=name, relationship=relationship, phone=phone,
                                     is_guardian=is_guardian, address=address)
    if _audit:
        audit.record(actor=actor, action=AuditAction.CREATE, instance=contact, after=audit.snapshot(contact),
                     region_code=elder.residence_region_id)
    return contact


@transaction.atomic
def remove_contact(*, actor, contact: Contact) -> None:
    before = audit.snapshot(contact)
    region = contact.elder.residence_region_id
    audit.record(actor=actor, action=AuditAction.DELETE, instance=contact, before=before, region_code=region)
    contact.delete()


# Which events are allowed from which status.
ALLOWED_EVENTS = {
    ElderStatus.ACTIVE: {StatusEventKind.DEATH, StatusEventKind.RELOCATE, StatusEventKind.MOVE_OUT,
                         StatusEventKind.SUSPEND},
    ElderStatus.SUSPENDED: {StatusEventKind.DEATH, StatusEventKind.RESUME, StatusEventKind.MOVE_OUT,
                            StatusEventKind.RELOCATE},
    ElderStatus.MOVED_OUT: {StatusEventKind.MOVE_IN, StatusEventKind.DEATH},
    ElderStatus.DECEASED: set(),
}


@transaction.atomic
def record_status_event(*, actor, elder: Elder, kind: str, effective_date, to_region=None,
                        note: str = "") -> ElderStatusEvent:
    """Record a death, move, suspension or return as one action: the event, the new status, and a signal
    (inside the same transaction) for the domains that must stop or move what depends on the person."""
    elder = Elder.objects.select_for_update().get(pk=elder.pk)
    errors = Errors()
    if kind not in StatusEventKind.values:
        errors.add("kind", _("事件类型无效。"))
        errors.raise_if_any()
    if kind not in ALLOWED_EVENTS[elder.status]:
        errors.add("kind", _("当前状态为“%(status)s”，不能登记“%(event)s”。") % {
            "status": elder.get_status_display(), "event": StatusEventKind(kind).label})
    day = _parse_date(effective_date, "effective_date", errors)
    note = errors.text("note", note)
    today = timezone.localdate()
    if day and day > today:
        errors.add("effective_date", _("生效日期不能晚于今天。"))
    if day and day < elder.birth_date:
        errors.add("effective_date", _("生效日期早于出生日期。"))
    last = elder.status_events.order_by("-effective_date").first()
    if day and last and day < last.effective_date:
        errors.add("effective_date", _("生效日期早于上一次状态变更（%(date)s）。") % {"date": last.effective_date})
    target = None
    if kind in {StatusEventKind.RELOCATE, StatusEventKind.MOVE_IN}:
        target = _region(to_region, "to_region", errors, levels={"street", "community"})
        if target is not None and target.code == elder.residence_region_id:
            errors.add("to_region", _("新居住地与原居住地相同。"))
    errors.raise_if_any()
    before = audit.snapshot(elder)
    event = ElderStatusEvent.objects.create(
        elder=elder, kind=kind, effective_date=day, recorded_by=actor if getattr(actor, "pk", None) else None,
        from_region_id=elder.residence_region_id, to_region=target, county_code=elder.county_code, note=note,
    )
    elder.status = STATUS_AFTER_EVENT[kind]
    elder.status_date = day
    if target is not None:
        elder.residence_region = target
        elder.county_code = target.code[:6]
    elder.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=elder, before=before,
                 after=audit.snapshot(elder), detail=f"{event.get_kind_display()} {day}",
                 region_code=event.from_region_id)
    elder_status_changed.send(sender=Elder, elder=elder, event=event, actor=actor)
    return event


def reveal_elder_id_number(*, actor, elder: Elder) -> str:
    audit.record(actor=actor, action=AuditAction.VIEW_ID, instance=elder, region_code=elder.residence_region_id)
    return elder.id_number


# ---------------------------------------------------------------- organisations, facilities, practitioners

def _validate_organisation(*, actor, data: dict, errors: Errors, instance=None) -> dict:
    clean = {}
    if "name" in data or instance is None:
        clean["name"] = errors.text("name", data.get("name"), validators.clean_organisation_name,
                                    required=_("请填写名称。"))
    if "kind" in data or instance is None:
        from .models import OrganisationKind

        if data.get("kind") not in OrganisationKind.values:
            errors.add("kind", _("机构类型取值无效。"))
        clean["kind"] = data.get("kind")
    if data.get("credit_code"):
        code = errors.check("credit_code", pii.validate_credit_code, data["credit_code"])
        if code:
            clash = Organisation.objects.filter(credit_code=code)
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                errors.add("credit_code", _("该统一社会信用代码已登记。"))
            clean["credit_code"] = code
    if "region" in data or instance is None:
        region = _region(data.get("region"), "region", errors)
        if region is not None:
            _in_actor_scope(actor, region, "region", errors)
        clean["region"] = region
    if data.get("phone"):
        clean["phone"] = errors.check("phone", pii.validate_phone, data["phone"]) or ""
    for field, rule in (("address", validators.clean_text), ("legal_representative", validators.clean_person_name),
                        ("contact_person", validators.clean_person_name)):
        if field in data:
            clean[field] = errors.text(field, data.get(field), rule)
    if "is_active" in data:
        clean["is_active"] = bool(data["is_active"])
    return clean


@transaction.atomic
def save_organisation(*, actor, organisation: Organisation | None = None, licences: list[dict] = (),
                      **fields) -> Organisation:
    errors = Errors()
    clean = _validate_organisation(actor=actor, data=fields, errors=errors, instance=organisation)
    errors.raise_if_any()
    created = organisation is None
    organisation = organisation or Organisation()
    before = None if created else audit.snapshot(organisation)
    for k, v in clean.items():
        setattr(organisation, k, v)
    organisation.save()
    for lic in licences:
        add_licence(actor=actor, organisation=organisation, **lic)
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, instance=organisation,
                 before=before, after=audit.snapshot(organisation), region_code=organisation.region_id)
    return organisation


@transaction.atomic
def add_licence(*, actor, organisation: Organisation, kind: str, number: str, issued_on=None,
                expires_on=None) -> OrganisationLicence:
    from .models import LicenceKind

    errors = Errors()
    if kind not in LicenceKind.values:
        errors.add("kind", _("证照类型取值无效。"))
    number = errors.text("number", number, required=_("请填写证照编号。"))
    issued = _parse_date(issued_on, "issued_on", errors, required=False)
    expires = _parse_date(expires_on, "expires_on", errors, required=False)
    if issued and expires and expires < issued:
        errors.add("expires_on", _("有效期不能早于发证日期。"))
    errors.raise_if_any()
    licence = OrganisationLicence.objects.create(organisation=organisation, kind=kind, number=number,
                                                 issued_on=issued, expires_on=expires)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=licence, after=audit.snapshot(licence),
                 region_code=organisation.region_id)
    return licence


FACILITY_FIELDS = ("name", "kind", "operator", "region", "address", "latitude", "longitude", "floor_area",
                   "beds_total", "beds_nursing", "opening_hours", "is_inclusive", "is_active")


@transaction.atomic
def save_facility(*, actor, facility: Facility | None = None, **fields) -> Facility:
    from .models import FacilityKind

    errors = Errors()
    clean = {}
    created = facility is None
    if "name" in fields or created:
        clean["name"] = errors.text("name", fields.get("name"), validators.clean_organisation_name,
                                    required=_("请填写名称。"))
    if "kind" in fields or created:
        if fields.get("kind") not in FacilityKind.values:
            errors.add("kind", _("设施类型取值无效。"))
        clean["kind"] = fields.get("kind")
    if "region" in fields or created:
        region = _region(fields.get("region"), "region", errors)
        if region is not None:
            _in_actor_scope(actor, region, "region", errors)
        clean["region"] = region
    if "operator" in fields:
        clean["operator"] = fields["operator"] or None
    if "latitude" in fields or "longitude" in fields:
        clean["latitude"], clean["longitude"] = parse_coordinates(fields.get("latitude"), fields.get("longitude"),
                                                                  errors)
    if fields.get("floor_area") not in (None, ""):
        try:
            area = Decimal(str(fields["floor_area"]))
            if area <= 0:
                raise InvalidOperation
            clean["floor_area"] = area.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors.add("floor_area", _("建筑面积应为正数。"))
    for field in ("beds_total", "beds_nursing"):
        if field in fields:
            try:
                value = int(fields[field] or 0)
                if value < 0:
                    raise ValueError
                clean[field] = value
            except (TypeError, ValueError):
                errors.add(field, _("床位数应为非负整数。"))
    total = clean.get("beds_total", facility.beds_total if facility else 0)
    nursing = clean.get("beds_nursing", facility.beds_nursing if facility else 0)
    if nursing > total:
        errors.add("beds_nursing", _("护理型床位数不能超过总床位数。"))
    for field in ("address", "opening_hours"):
        if field in fields:
            clean[field] = errors.text(field, fields.get(field))
    for field in ("is_inclusive", "is_active"):
        if field in fields:
            clean[field] = bool(fields[field])
    # One name per region, checked whenever either changes (on update too: the database's unique constraint
    # would otherwise answer with an IntegrityError).
    name = clean.get("name", facility.name if facility else "")
    where = clean.get("region", facility.region_id if facility else None)
    if name and where is not None:
        clash = Facility.objects.filter(name=name, region=where)
        if facility is not None:
            clash = clash.exclude(pk=facility.pk)
        if clash.exists():
            errors.add("name", _("该区域已有同名设施。"))
    errors.raise_if_any()
    facility = facility or Facility()
    before = None if created else audit.snapshot(facility)
    for k, v in clean.items():
        setattr(facility, k, v)
    facility.save()
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, instance=facility,
                 before=before, after=audit.snapshot(facility), region_code=facility.region_id)
    return facility


@transaction.atomic
def save_practitioner(*, actor, practitioner: Practitioner | None = None, id_number: str = "", **fields
                      ) -> Practitioner:
    from .models import CertificateLevel, PractitionerRole

    errors = Errors()
    created = practitioner is None
    practitioner = practitioner or Practitioner()
    if created or id_number:
        errors.check("id_number", practitioner.set_identity, id_number)
    if "organisation" in fields or created:
        org = fields.get("organisation")
        if org is None:
            errors.add("organisation", _("请选择所属机构。"))
        practitioner.organisation = org
    if created and practitioner.id_number_hash and practitioner.organisation_id and Practitioner.objects.filter(
            organisation_id=practitioner.organisation_id, id_number_hash=practitioner.id_number_hash).exists():
        errors.add("id_number", _("该人员已在本机构登记。"))
    if "name" in fields or created:
        practitioner.name = errors.text("name", fields.get("name"), validators.clean_person_name,
                                        required=_("请填写姓名。"))
    if "phone" in fields or created:
        practitioner.phone = errors.check("phone", pii.validate_phone, fields.get("phone") or "") or ""
    if "role" in fields or created:
        if fields.get("role") not in PractitionerRole.values:
            errors.add("role", _("岗位取值无效。"))
        practitioner.role = fields.get("role") or ""
    if "certificate_level" in fields:
        if fields["certificate_level"] not in CertificateLevel.values:
            errors.add("certificate_level", _("职业技能等级取值无效。"))
        practitioner.certificate_level = fields["certificate_level"] or ""
    for field in ("certificate_number", "skills"):
        if field in fields:
            setattr(practitioner, field, errors.text(field, fields.get(field)))
    if "start_date" in fields or created:
        practitioner.start_date = _parse_date(fields.get("start_date"), "start_date", errors)
    if "end_date" in fields:
        practitioner.end_date = _parse_date(fields.get("end_date"), "end_date", errors, required=False)
        if practitioner.end_date and practitioner.start_date and practitioner.end_date < practitioner.start_date:
            errors.add("end_date", _("离职日期不能早于入职日期。"))
    if "account" in fields:
        practitioner.account = fields["account"]
    if "home_latitude" in fields or "home_longitude" in fields:
        # Where a caregiver's day starts and ends when routes are planned.
        practitioner.home_latitude, practitioner.home_longitude = parse_coordinates(
            fields.get("home_latitude"), fields.get("home_longitude"), errors, "home_latitude")
    errors.raise_if_any()
    before = None
    if not created:
        before = audit.snapshot(Practitioner.objects.get(pk=practitioner.pk))
    practitioner.save()
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, instance=practitioner,
                 before=before, after=audit.snapshot(practitioner), region_code=practitioner.organisation.region_id)
    return practitioner
