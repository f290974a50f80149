"""The simple kinds (organisations, facilities, practitioners) and who may import which kind."""


from __future__ import annotations

import datetime
import logging
import re
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiyang.core import pii, validators
from yiyang.core.models import AuditAction, Role

from ..models import (
    CertificateLevel,
    Facility,
    FacilityKind,
    ImportJob,
    ImportKind,
    Organisation,
    OrganisationKind,
    Practitioner,
    PractitionerRole,
)
from ..services import Errors, parse_coordinates
from .cells import (
    EXAMPLE_MARKERS,
    FACILITY_ALIASES,
    LEVEL_ALIASES,
    ORG_KIND_ALIASES,
    ROLE_ALIASES,
    ImportConflict,
    _choice_map,
    bool_cell,
    choice_key,
    date_cell,
    decimal_cell,
    int_cell,
    narrow,
)
from .columns import FACILITY_COLUMNS, ORGANISATION_COLUMNS, STAFF_COLUMNS, Context, Row
from .kinds import ElderKind, Kind, _cell, _choice, _identity, _in_scope, _json, _phone, _required
from .resolvers import OrganisationResolver
from .writes import _example_region, _row_list, audit_entry, insert_many, record_rows

log = logging.getLogger(__name__)


class _SimpleKind(Kind):
    """Organisations, facilities, practitioners: one model row per file row, fields compared one by one."""

    object_type = ""

    def find_existing(self, rows: list[Row], ctx) -> dict:
        raise NotImplementedError

    def region_of(self, obj_fields: dict, ctx) -> str:
        return obj_fields.get("region_id", "")

    def classify(self, rows, ctx, progress):
        good = [r for r in rows if r.clean]
        existing = self.find_existing(good, ctx)
        pks = [e["pk"] for e in existing.values()]
        visible = set(self.model.objects.restrict(ctx.actor, "change").filter(pk__in=pks)
                      .values_list("pk", flat=True)) if pks else set()
        for row in good:
            fields = row.clean["fields"]
            current = existing.get(row.key)
            if current is None:
                row.status = "new"
                row.plan = {"r": row.number, "op": "c", "f": {k: _json(v) for k, v in fields.items()}}
                if "identity" in row.clean:
                    info = row.clean["identity"]
                    row.plan["id"] = [info.number, pii.id_number_hash(info.number), pii.mask_id_number(info.number),
                                      info.birth_date.isoformat(), info.sex]
                continue
            if current["pk"] not in visible:
                row.add(self.identity_column, _("该记录已登记，但不在您的管理范围内，不能通过导入修改。"))
                continue
            changed = {k: v for k, v in fields.items() if current.get(k) != v}
            self.check_merged(row, current, changed)
            if row.errors:
                continue
            for k, v in changed.items():
                row.changes.append((k, current.get(k), v))
            if changed:
                row.status = "changed"
                row.plan = {"r": row.number, "op": "u", "pk": current["pk"],
                            "stamp": current["updated_at"].isoformat(),
                            "f": {k: _json(v) for k, v in changed.items()},
                            "before": {k: _json(current.get(k)) for k in changed}}
            else:
                row.status = "unchanged"

    identity_column = "name"

    def check_merged(self, row, current, changed) -> None:
        """Checks that need the register's values for the cells left empty."""

    def write(self, plan, ctx):
        model = self.model
        now = timezone.now()
        updates = [p for p in plan if p["op"] == "u"]
        creates = [p for p in plan if p["op"] == "c"]
        instances = {}
        pks = [p["pk"] for p in updates]
        for i in range(0, len(pks), 2000):
            instances.update(model.objects.select_for_update().in_bulk(pks[i:i + 2000]))
        stale = [p["r"] for p in updates
                 if p["pk"] not in instances or instances[p["pk"]].updated_at.isoformat() != p["stamp"]]
        if stale:
            raise ImportConflict(stale, _("预览之后，第 %(rows)s 行对应的记录已被修改或删除。本次导入没有写入任何数据，"
                                          "请重新上传文件。") % {"rows": _row_list(stale)})
        events, fields_changed = [], set()
        for p in updates:
            obj = instances[p["pk"]]
            for k, v in p["f"].items():
                setattr(obj, k, model._meta.get_field(k).to_python(v))
                fields_changed.add(k)
            obj.updated_at = now
            events.append(audit_entry(ctx, p["r"], instance=obj, region_code=self.region_of_obj(obj, ctx),
                                      before=p["before"], after=p["f"]))
        if instances:
            model.objects.bulk_update(list(instances.values()), sorted(fields_changed | {"updated_at"}),
                                      batch_size=500)
        new = []
        for p in creates:
            obj = model(**{k: model._meta.get_field(k).to_python(v) for k, v in p["f"].items()})
            if "id" in p:
                number, digest, masked, birth, sex = p["id"]
                obj.id_number, obj.id_number_hash, obj.id_number_masked = number, digest, masked
                obj.birth_date, obj.sex = datetime.date.fromisoformat(birth), sex
            new.append(obj)
        insert_many(model, new)
        record_rows(ctx, AuditAction.UPDATE, model, events)
        record_rows(ctx, AuditAction.CREATE, model, [
            audit_entry(ctx, p["r"], instance=obj, region_code=self.region_of_obj(obj, ctx))
            for p, obj in zip(creates, new, strict=True)], snapshot_after=True)
        return {"created": len(creates), "updated": len(updates)}

    def region_of_obj(self, obj, ctx) -> str:
        return getattr(obj, "region_id", "") or ""


class OrganisationKindImport(_SimpleKind):
    key = ImportKind.ORGANISATIONS
    max_lengths = {"name": 128, "address": 200, "legal_representative": 64, "contact_person": 64}
    text_rules = {"name": validators.clean_organisation_name, "address": validators.clean_text,
                  "legal_representative": validators.clean_person_name, "contact_person": validators.clean_person_name}
    label = gettext_lazy("机构")
    sheet_name = "机构"
    columns = ORGANISATION_COLUMNS
    roles = {Role.BUREAU}
    model = Organisation
    object_type = "registry.organisation"
    FIELDS = ("name", "kind", "credit_code", "region_id", "address", "phone", "legal_representative",
              "contact_person")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.kinds = _choice_map(OrganisationKind, ORG_KIND_ALIASES)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        if len(name) > 128:
            row.add("name", _("名称过长（最多128字）。"))
        kind = _choice(self, row, "kind", self.kinds, what=_("机构类型"))
        if kind is None and not self.text(row, "kind"):
            row.add("kind", _("此项为必填项。"))
        code = ""
        if self.text(row, "credit_code"):
            code = _cell(row, "credit_code", pii.validate_credit_code, self.text(row, "credit_code")) or ""
        region = _region_in_scope(self, row, "region", ctx)
        phone = _phone(row, "phone", self.value(row, "phone"))
        if row.errors:
            return
        fields = {"name": name, "kind": kind, "region_id": region.code}
        for key, value in (("credit_code", code), ("phone", phone), ("address", self.text(row, "address")),
                           ("legal_representative", self.text(row, "legal_representative")),
                           ("contact_person", self.text(row, "contact_person"))):
            if value:
                fields[key] = value
        row.key = ("cc", code) if code else ("nr", name, region.code)
        row.clean = {"fields": fields}

    identity_column = "credit_code"

    def find_existing(self, rows, ctx):
        codes = [r.key[1] for r in rows if r.key[0] == "cc"]
        names = {r.clean["fields"]["name"] for r in rows}
        out = {}
        qs = Organisation.objects.filter(credit_code__in=codes) if codes else Organisation.objects.none()
        for o in qs.values("pk", "updated_at", *self.FIELDS):
            out[("cc", o["credit_code"])] = o
        if names:
            for o in Organisation.objects.filter(name__in=names).values("pk", "updated_at", *self.FIELDS):
                out.setdefault(("nr", o["name"], o["region_id"]), o)
        # A credit code newly given to an organisation registered without one: the same organisation.
        for r in rows:
            if r.key[0] == "cc" and r.key not in out:
                o = out.get(("nr", r.clean["fields"]["name"], r.clean["fields"]["region_id"]))
                if o is not None and not o["credit_code"]:
                    out[r.key] = o
        return out

    def conflicts(self, plan):
        codes = {p["f"].get("credit_code"): p["r"] for p in plan if p["op"] == "c" and p["f"].get("credit_code")}
        found = Organisation.objects.filter(credit_code__in=list(codes)).values_list("credit_code", flat=True)
        return sorted(codes[c] for c in found)

    def example_row(self, ctx):
        code = "91511903MA6" + "2XY3K4"
        code += pii.credit_code_check_char(code)
        return ["颐康居家养老服务有限公司" + EXAMPLE_MARKERS[1], "居家养老服务企业", code,
                _example_region(ctx.actor, ("street",)), "登科街道某某路 8 号", "0827-5551234", "王建国", "李娟"]


def _region_in_scope(kind: Kind, row: Row, key: str, ctx, levels=("county", "street", "community")):
    text = kind.text(row, key)
    if not text:
        row.add(key, _("此项为必填项。"))
        return None
    region, message = ctx.resolver.resolve(text)
    if region is None:
        row.add(key, message)
        return None
    if region.level not in levels:
        row.add(key, _("%(name)s 的层级不符，请选择到街道或社区。") % {"name": region.name})
        return None
    if not _in_scope(ctx.actor, region.code):
        row.add(key, _("所选区域不在您的辖区内。"))
        return None
    return region


class FacilityKindImport(_SimpleKind):
    key = ImportKind.FACILITIES
    max_lengths = {"name": 128, "address": 200, "opening_hours": 100}
    text_rules = {"name": validators.clean_organisation_name, "address": validators.clean_text,
                  "opening_hours": validators.clean_text}
    label = gettext_lazy("设施")
    sheet_name = "设施"
    columns = FACILITY_COLUMNS
    roles = {Role.BUREAU}
    model = Facility
    object_type = "registry.facility"
    FIELDS = ("name", "kind", "region_id", "operator_id", "address", "latitude", "longitude", "floor_area",
              "beds_total", "beds_nursing", "opening_hours", "is_inclusive")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.kinds = _choice_map(FacilityKind, FACILITY_ALIASES)
        ctx.organisations = OrganisationResolver(ctx.actor)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        kind = _choice(self, row, "kind", self.kinds, what=_("设施类型"))
        if kind is None and not self.text(row, "kind"):
            row.add("kind", _("此项为必填项。"))
        region = _region_in_scope(self, row, "region", ctx)
        fields = {}
        if self.text(row, "operator"):
            pk, message = ctx.organisations.resolve(self.text(row, "operator"))
            if pk is None:
                row.add("operator", message)
            fields["operator_id"] = pk
        lat, lon = self.text(row, "latitude"), self.text(row, "longitude")
        if lat or lon:
            errors = Errors()
            fields["latitude"], fields["longitude"] = parse_coordinates(narrow(lat), narrow(lon), errors)
            for m in errors.get("latitude", []):
                row.add("latitude", m)
        if self.text(row, "floor_area"):
            area = _cell(row, "floor_area", decimal_cell, self.value(row, "floor_area"), _("建筑面积"))
            if area is not None:
                if area <= 0 or area >= 10**8:
                    row.add("floor_area", _("建筑面积应为正数。") if area <= 0 else _("建筑面积过大。"))
                else:
                    fields["floor_area"] = area.quantize(Decimal("0.01"))
        for key in ("beds_total", "beds_nursing"):
            if self.text(row, key):
                value = _cell(row, key, int_cell, self.value(row, key), _("床位数"))
                if value is not None and value > 100_000:
                    row.add(key, _("床位数过大。"))
                elif value is not None:
                    fields[key] = value
        if self.text(row, "is_inclusive"):
            value = _cell(row, "is_inclusive", bool_cell, self.value(row, "is_inclusive"))
            if value is not None:
                fields["is_inclusive"] = value
        for key in ("address", "opening_hours"):
            if self.text(row, key):
                fields[key] = self.text(row, key)
        if fields.get("beds_nursing", 0) > fields.get("beds_total", fields.get("beds_nursing", 0)):
            row.add("beds_nursing", _("护理型床位数不能超过总床位数。"))
        if row.errors:
            return
        fields.update({"name": name, "kind": kind, "region_id": region.code})
        row.key = ("nr", name, region.code)
        row.clean = {"fields": fields}

    def check_merged(self, row, current, changed):
        total = changed.get("beds_total", current["beds_total"])
        nursing = changed.get("beds_nursing", current["beds_nursing"])
        if nursing > total:
            row.add("beds_nursing", _("护理型床位数（%(n)s）不能超过总床位数（%(t)s）。") % {"n": nursing, "t": total})

    def find_existing(self, rows, ctx):
        names = {r.key[1] for r in rows}
        out = {}
        for f in Facility.objects.filter(name__in=names).values("pk", "updated_at", *self.FIELDS):
            out[("nr", f["name"], f["region_id"])] = f
        return out

    def conflicts(self, plan):
        keys = {(p["f"]["name"], p["f"]["region_id"]): p["r"] for p in plan if p["op"] == "c"}
        found = Facility.objects.filter(name__in=[k[0] for k in keys]).values_list("name", "region_id")
        return sorted(keys[k] for k in found if k in keys)

    def example_row(self, ctx):
        return ["登科街道养老服务中心" + EXAMPLE_MARKERS[1], "街道养老服务中心",
                _example_region(ctx.actor, ("street",)), "", "登科街道某某路 20 号", 31.8101, 106.6402, 1600, 60, 40,
                "8:00-18:00", "是"]


class StaffKindImport(_SimpleKind):
    key = ImportKind.STAFF
    max_lengths = {"name": 64, "certificate_number": 64, "skills": 200}
    text_rules = {"name": validators.clean_person_name, "certificate_number": validators.clean_text,
                  "skills": validators.clean_text}
    label = gettext_lazy("从业人员")
    sheet_name = "从业人员"
    columns = STAFF_COLUMNS
    roles = {Role.BUREAU, Role.PROVIDER}
    model = Practitioner
    object_type = "registry.practitioner"
    identity_column = "id_number"
    FIELDS = ("organisation_id", "name", "phone", "role", "certificate_level", "certificate_number", "skills",
              "start_date", "end_date")

    def required(self, ctx):
        keys = super().required(ctx)
        if ctx.organisation is None:
            keys.add("organisation")
        return keys

    def prepare(self, ctx):
        super().prepare(ctx)
        self.roles_map = _choice_map(PractitionerRole, ROLE_ALIASES)
        self.levels = _choice_map(CertificateLevel, LEVEL_ALIASES)
        ctx.organisations = None if ctx.organisation is not None else OrganisationResolver(ctx.actor)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        info = _identity(row, "id_number", self.value(row, "id_number"), ctx.today)
        phone = _phone(row, "phone", self.value(row, "phone"))
        if not self.text(row, "phone"):
            row.add("phone", _("此项为必填项。"))
        if ctx.organisation is not None:
            org_id = ctx.organisation.pk
            given = self.text(row, "organisation")
            if given and choice_key(given) != choice_key(ctx.organisation.name) and \
                    narrow(given).upper() != ctx.organisation.credit_code:
                row.add("organisation", _("只能导入本机构（%(name)s）的人员。") % {"name": ctx.organisation.name})
        else:
            org_id = None
            if not self.text(row, "organisation"):
                row.add("organisation", _("此项为必填项。"))
            else:
                org_id, message = ctx.organisations.resolve(self.text(row, "organisation"))
                if org_id is None:
                    row.add("organisation", message)
        role = _choice(self, row, "role", self.roles_map, what=_("岗位"))
        if role is None and not self.text(row, "role"):
            row.add("role", _("此项为必填项。"))
        level = _choice(self, row, "certificate_level", self.levels, what=_("职业技能等级"))
        start = None
        if not self.text(row, "start_date"):
            row.add("start_date", _("此项为必填项。"))
        else:
            start = _cell(row, "start_date", date_cell, self.value(row, "start_date"))
        end = _cell(row, "end_date", date_cell, self.value(row, "end_date")) if self.text(row, "end_date") else None
        if start and end and end < start:
            row.add("end_date", _("离职日期不能早于入职日期。"))
        if info is not None and start and start < info.birth_date:
            row.add("start_date", _("入职日期早于出生日期。"))
        if info is not None and org_id:
            row.key = (org_id, pii.id_number_hash(info.number))
        if row.errors:
            return
        fields = {"organisation_id": org_id, "name": name, "phone": phone, "role": role, "start_date": start}
        if level:
            fields["certificate_level"] = level
        if end:
            fields["end_date"] = end
        if self.text(row, "certificate_number"):
            fields["certificate_number"] = narrow(self.text(row, "certificate_number"))
        if self.text(row, "skills"):
            skills = [s.strip() for s in re.split(r"[,，、;；\s]+", self.text(row, "skills")) if s.strip()]
            fields["skills"] = ",".join(skills)
        row.clean = {"fields": fields, "identity": info}

    def find_existing(self, rows, ctx):
        out = {}
        hashes = [r.key[1] for r in rows]
        for i in range(0, len(hashes), 2000):
            for p in Practitioner.objects.filter(id_number_hash__in=hashes[i:i + 2000]).values(
                    "pk", "updated_at", "id_number_hash", *self.FIELDS):
                out[(p["organisation_id"], p["id_number_hash"])] = p
        return out

    def region_of_obj(self, obj, ctx):
        if obj.organisation_id not in ctx.org_regions:
            ctx.org_regions[obj.organisation_id] = Organisation.objects.filter(pk=obj.organisation_id).values_list(
                "region_id", flat=True).first() or ""
        return ctx.org_regions[obj.organisation_id]

    def conflicts(self, plan):
        keys = {(p["f"]["organisation_id"], p["id"][1]): p["r"] for p in plan if p["op"] == "c"}
        found = Practitioner.objects.filter(id_number_hash__in=[k[1] for k in keys]).values_list(
            "organisation_id", "id_number_hash")
        return sorted(keys[k] for k in found if k in keys)

    def example_row(self, ctx):
        number = "51190319800615" + "004"
        number += pii.id_check_char(number)
        org = ctx.organisation or Organisation.objects.restrict(ctx.actor, "change").order_by("name").first()
        org = org.name if org is not None else "颐康居家养老服务有限公司"
        return ["王丽" + EXAMPLE_MARKERS[1], number, "13700001234", org, "养老护理员", "四级/中级工", "S000123",
                "助浴、康复", "2022-03-01", ""]


KINDS: dict[str, Kind] = {k.key: k for k in (ElderKind(), OrganisationKindImport(), FacilityKindImport(),
                                             StaffKindImport())}


def kinds_for(user) -> list[Kind]:
    """The kinds this person may import: bureau all; street and community elders; a provider its own staff."""
    if not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return list(KINDS.values())
    out = [k for k in KINDS.values() if user.role in k.roles]
    if user.role == Role.PROVIDER and not user.organisation_id:
        out = []
    return out


def kind_for(user, key: str) -> Kind:
    for kind in kinds_for(user):
        if kind.key == key:
            return kind
    raise PermissionDenied


def context_for(user, kind: Kind, job: ImportJob | None = None) -> Context:
    organisation = user.organisation if kind.key == ImportKind.STAFF and user.role == Role.PROVIDER else None
    detail = _("Excel 导入（任务 #%(job)s，第 %(row)s 行）").replace("%(job)s", str(job.pk if job else "-"))
    return Context(actor=user, kind=kind, today=timezone.localdate(), organisation=organisation, job=job,
                   detail=detail.replace("%", "%%").replace("%%(row)s", "%(row)s"))
