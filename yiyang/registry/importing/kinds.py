"""The import kinds: the base `Kind` and the elders' kind (the one with categories and contacts)."""


from __future__ import annotations

import datetime
import logging
import re
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiyang.core import pii, validators
from yiyang.core.models import AuditAction, Role

from ..models import (
    CategoryKind,
    Contact,
    Elder,
    ElderCategory,
    ImportKind,
    LivingSituation,
    Relationship,
)
from ..services import Errors, validate_elder_fields
from .cells import (
    CATEGORY_ALIASES,
    DERIVED_CATEGORIES,
    EXAMPLE_MARKERS,
    GRADES,
    LIVING_ALIASES,
    LIVING_WORDS,
    RELATIONSHIP_ALIASES,
    WHAT_ACCOUNT,
    WHAT_ID,
    WHAT_LIVING,
    WHAT_PHONE,
    WHAT_RELATIONSHIP,
    CellProblem,
    ImportConflict,
    _choice_map,
    choice_key,
    date_cell,
    digits_cell,
    narrow,
    printable,
    text_of,
    zh_label,
)
from .columns import ELDER_COLUMNS, Column, Context, Row
from .resolvers import RegionResolver, fast_name_pinyin
from .writes import (
    _category_text,
    _example_region,
    _extra_after,
    _row_list,
    audit_entry,
    insert_many,
    insert_rows,
    key_sets,
    record_rows,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- kinds

def _json(value):
    if type(value) is str:  # most values: no isinstance chain
        return value
    if isinstance(value, datetime.date | Decimal):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def _mask(column: Column | None, value) -> str:
    text = printable(text_of(value))
    if column is not None and column.sensitive == "id" and len(text) >= 8:
        return pii.mask_id_number(text)
    if column is not None and column.sensitive == "account" and text:
        return pii.mask_account(text)
    return text[:200]


class Kind:
    key: str
    max_lengths: dict[str, int] = {}  # column key → the model field's max_length (checked for every row)
    # column key → the core.validators rule its text follows (checked for every row, like the forms and the API)
    text_rules: dict = {}
    label = ""
    sheet_name = ""
    columns: list[Column] = []
    roles: set = set()
    model = None
    name_key = "name"

    def __init__(self):
        self.index = {c.key: i for i, c in enumerate(self.columns)}
        self.by_key = {c.key: c for c in self.columns}

    def required(self, ctx: Context) -> set[str]:
        return {c.key for c in self.columns if c.required}

    def prepare(self, ctx: Context) -> None:
        ctx.resolver = RegionResolver(jurisdiction_root(ctx.actor))

    def value(self, row: Row, key: str):
        return row.raw[self.index[key]]

    def text(self, row: Row, key: str) -> str:
        texts = row.texts
        if texts is None:
            texts = row.texts = ["" if v is None else text_of(v) for v in row.raw]
        return texts[self.index[key]]

    # Whether rows may be validated in a forked process once `warm` has run: validate then never queries.
    parallel = False

    def warm(self, rows: list[Row], ctx: Context) -> None:
        """Make, before rows are validated in a forked process, every lookup of `validate` that may query."""

    def validate(self, row: Row, ctx: Context) -> None:
        raise NotImplementedError

    def classify(self, rows: list[Row], ctx: Context, progress) -> None:
        raise NotImplementedError

    def write(self, plan: list[dict], ctx: Context) -> dict:
        raise NotImplementedError

    def conflicts(self, plan: list[dict]) -> list[int]:
        return []

    def example_row(self, ctx: Context) -> list:
        raise NotImplementedError


def jurisdiction_root(actor) -> str:
    """Regions preloaded for name lookups: the actor's county (or their whole scope when larger)."""
    code = getattr(actor, "scope_code", "") or ""
    if actor.is_superuser and not code:
        return settings.DEFAULT_JURISDICTION_CODE
    return code[:6] if len(code) > 6 else code


def _in_scope(actor, code: str) -> bool:
    return actor.is_superuser or bool(actor.scope_code) and code.startswith(actor.scope_code)


# -- shared per-cell helpers

def _required(kind: Kind, row: Row, key: str) -> str:
    text = kind.text(row, key)
    if not text:
        row.add(key, _("此项为必填项。"))
    return text


def _choice(kind: Kind, row: Row, key: str, mapping: dict, *, what: str) -> str | None:
    text = kind.text(row, key)
    if not text:
        return None
    value = mapping.get(text)
    if value is None:
        value = mapping.get(choice_key(text))
    if value is None:
        options = "、".join(sorted({zh_label(kind.by_key[key].choices, v) for v in mapping.values() if v}))
        row.add(key, _("%(what)s“%(value)s”不在可选范围内（%(options)s）。") % {
            "what": what, "value": text, "options": options})
    return value


def _cell(row: Row, key: str, func, *args):
    try:
        return func(*args)
    except CellProblem as exc:
        row.add(key, exc.message)
    except ValidationError as exc:
        for m in exc.messages:
            row.add(key, m)
    return None


def _identity(row: Row, key: str, value, today=None) -> pii.IdentityInfo | None:
    try:
        text = digits_cell(value, WHAT_ID)
        if not text:
            row.add(key, _("此项为必填项。"))
            return None
        return pii.parse_id_number(text, today=today)
    except CellProblem as exc:
        row.add(key, exc.message)
    except ValidationError as exc:
        for m in exc.messages:
            row.add(key, m)
    return None


def _phone(row: Row, key: str, value) -> str:
    text = _cell(row, key, digits_cell, value, WHAT_PHONE)
    if not text:
        return ""
    try:
        return pii.validate_phone(text)
    except ValidationError as exc:
        hint = ""
        if isinstance(value, int | float) and not text.startswith("1"):
            hint = _("（号码被存成了数字，开头的 0 可能已丢失；请把该列设为“文本”格式）")
        for m in exc.messages:
            row.add(key, m + hint)
    return ""


class ElderKind(Kind):
    key = ImportKind.ELDERS
    max_lengths = {"name": 64, "address": 200, "bank_name": 64, "bank_account_holder": 64, "contact_name": 64}
    # Name, address, bank and notes are checked by the register's own validate_elder_fields; the contact's name
    # is the import's own column.
    text_rules = {"contact_name": validators.clean_person_name}
    label = gettext_lazy("老年人")
    sheet_name = "老年人"
    columns = ELDER_COLUMNS
    roles = {Role.BUREAU, Role.STREET, Role.COMMUNITY}
    model = Elder
    FIELDS = ("name", "phone", "hukou_region_id", "residence_region_id", "address", "latitude", "longitude",
              "living_situation", "bank_name", "bank_account", "bank_account_holder", "notes")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.living = _choice_map(LivingSituation, LIVING_ALIASES)
        self.relationships = _choice_map(Relationship, RELATIONSHIP_ALIASES)
        self.categories = _choice_map(CategoryKind, CATEGORY_ALIASES)

    parallel = True

    def warm(self, rows, ctx):
        # Regions are the only lookups of validate that may query (codes and names outside the jurisdiction):
        # resolved here, once per distinct value, validate then finds them in the resolver's memo.
        for key in ("hukou_region", "residence_region"):
            index = self.index[key]
            for value in {row.raw[index] for row in rows}:
                text = text_of(value)
                if text:
                    ctx.resolver.resolve(text)

    def validate(self, row: Row, ctx: Context) -> None:
        data = {}
        own = set()  # fields whose errors this module reported itself
        name = _required(self, row, "name")
        if name and all("\u4e00" <= ch <= "\u9fff" or ch.isspace() for ch in name):
            name = re.sub(r"\s+", "", name)  # 张 三 → 张三 (spaces used to align two-character names)
        data["name"] = name
        if not name:
            own.add("name")
        info = _identity(row, "id_number", self.value(row, "id_number"), ctx.today)
        phone = _phone(row, "phone", self.value(row, "phone"))  # validated here with pii.validate_phone
        for key in ("hukou_region", "residence_region"):
            text = self.text(row, key)
            if not text:
                row.add(key, _("此项为必填项。"))
                own.add(key)
                continue
            region, message = ctx.resolver.resolve(text)
            if region is None:
                row.add(key, message)
                own.add(key)
            else:
                data[key] = region
        lat, lon = self.text(row, "latitude"), self.text(row, "longitude")
        if lat or lon:
            if not (lat and lon):
                row.add("latitude" if not lat else "longitude", _("经度和纬度须同时填写。"))
            else:
                data["latitude"], data["longitude"] = narrow(lat), narrow(lon)
        living = _choice(self, row, "living_situation", self.living, what=WHAT_LIVING)
        account = _cell(row, "bank_account", digits_cell, self.value(row, "bank_account"), WHAT_ACCOUNT)
        if account:
            data["bank_account"] = account
        for key in ("address", "bank_name", "bank_account_holder", "notes"):
            text = self.text(row, key)
            if text:
                data[key] = text
        errors = Errors()
        clean = validate_elder_fields(actor=ctx.actor, data=data, errors=errors)
        for service_field, messages in errors.items():
            key = service_field if service_field in self.index else "latitude"
            if key in own or service_field in own:
                continue
            for m in messages:
                row.add(key, m)
        cats = self._categories(row, info, ctx)
        contact = self._contact(row)
        # info.number is normalised already: its hash is id_number_hash's.
        if row.errors or info is None:
            row.key = ("id", pii.lookup_hash(info.number)) if info is not None else None
            return
        fields = {"name": clean["name"], "hukou_region_id": clean["hukou_region"].code,
                  "residence_region_id": clean["residence_region"].code}
        clean["phone"], clean["living_situation"] = phone, living
        for f in ("phone", "address", "latitude", "longitude", "living_situation", "bank_name", "bank_account",
                  "bank_account_holder", "notes"):
            if clean.get(f) not in (None, ""):
                fields[f] = clean[f]
        row.key = ("id", pii.lookup_hash(info.number))
        row.clean = {"info": info, "fields": fields, "categories": cats, "contact": contact}

    def _categories(self, row: Row, info, ctx) -> list:
        text = self.text(row, "categories")
        default_start = None
        if self.text(row, "category_start"):
            default_start = _cell(row, "category_start", date_cell, self.value(row, "category_start"))
        if not text:
            return []
        parsed = ctx.cache.get(("categories", text))
        if parsed is None:
            parsed = ctx.cache[("categories", text)] = self._parse_categories(text)
        items, messages = parsed
        for m in messages:
            row.add("categories", m)
        out = []
        for kind, grade, start, label in items:
            start = start or default_start
            if info is not None and start is not None and start < info.birth_date:
                row.add("categories", _("“%(item)s”的起始日期早于出生日期。") % {"item": label})
                continue
            out.append((kind, grade, start))
        return out

    def _parse_categories(self, text: str) -> tuple[list, list]:
        """The category cell's syntax, once per distinct text: [(kind, grade, own start date, label)], messages."""
        out, messages, seen = [], [], set()
        for item in re.split(r"[、,，;；\n]+", text):
            item = item.strip()
            if not item:
                continue
            m = re.fullmatch(r"(?P<name>[^()（）:：]+?)\s*(?:[(（]\s*(?P<grade>[^)）]*?)\s*[)）])?\s*"
                             r"(?:[:：]\s*(?P<date>.+))?", item)
            if m is None:
                messages.append(_("无法识别“%(item)s”，格式为 类别（等级）：起始日期，如 重残（二级）：2019-05-10。")
                                % {"item": item})
                continue
            label = re.sub(r"\s+", "", narrow(m.group("name")))
            grade = m.group("grade") or ""
            if label in DERIVED_CATEGORIES:
                continue
            if label in LIVING_WORDS:
                messages.append(_("“%(item)s”属于居住状况，请填在“居住状况”列。") % {"item": label})
                continue
            if not grade:  # 重残二级 written without brackets
                g = re.fullmatch(r"(.+?)([一二三四1-4])级?", label)
                if g and self.categories.get(choice_key(g.group(1))) == CategoryKind.SEVERE_DISABILITY:
                    label, grade = g.group(1), g.group(2)
            kind = self.categories.get(choice_key(label))
            if kind is None:
                options = "、".join(zh_label(CategoryKind, v) for v in CategoryKind.values)
                messages.append(_("人员类别“%(item)s”无效，可选：%(options)s。") % {"item": label, "options": options})
                continue
            if grade:
                grade = GRADES.get(narrow(grade).replace("级", "").strip())
                if grade is None:
                    messages.append(_("残疾等级“%(grade)s”无效，应为 一级 至 四级。") % {"grade": m.group("grade")})
                    continue
            if kind == CategoryKind.SEVERE_DISABILITY and not grade:
                messages.append(_("重残须注明残疾等级，如 重残（二级）。"))
                continue
            start = None
            if m.group("date"):
                try:
                    start = date_cell(m.group("date"))
                except CellProblem as exc:
                    messages.append(exc.message)
                    continue
            if kind in seen:
                messages.append(_("类别“%(item)s”重复填写。") % {"item": label})
                continue
            seen.add(kind)
            out.append((kind, grade, start, label))
        return out, messages

    def _contact(self, row: Row):
        name = self.text(row, "contact_name")
        relationship = self.text(row, "contact_relationship")
        raw_phone = self.value(row, "contact_phone")
        if not (name or relationship or text_of(raw_phone)):
            return None
        if not name:
            row.add("contact_name", _("填写了联系人关系或电话时，须填写联系人姓名。"))
        phone = _phone(row, "contact_phone", raw_phone)
        if not text_of(raw_phone):
            row.add("contact_phone", _("请填写联系人电话。"))
        rel = _choice(self, row, "contact_relationship", self.relationships, what=WHAT_RELATIONSHIP) or "other"
        return (name, rel, phone) if name and phone else None

    def classify(self, rows, ctx, progress):
        good = [r for r in rows if r.clean]
        hashes = [r.key[1] for r in good]
        existing = {}
        for chunk in key_sets(hashes):
            for e in Elder.objects.filter(id_number_hash__in=chunk).values("pk", "id_number_hash", "updated_at",
                                                                           "birth_date", *self.FIELDS):
                existing[e["id_number_hash"]] = e
        if progress:
            progress(len(hashes))
        pks = [e["pk"] for e in existing.values()]
        visible, categories, contacts = set(), defaultdict(list), defaultdict(list)
        for chunk in key_sets(pks, integer=True):
            visible.update(Elder.objects.restrict(ctx.actor, "change").filter(pk__in=chunk)
                           .values_list("pk", flat=True))
            for c in ElderCategory.objects.filter(elder_id__in=chunk).values("pk", "elder_id", "kind", "grade",
                                                                              "start_date", "end_date"):
                categories[c["elder_id"]].append(c)
            for c in Contact.objects.filter(elder_id__in=chunk).values("pk", "elder_id", "name", "relationship",
                                                                        "phone"):
                contacts[c["elder_id"]].append(c)
        for row in good:
            info, fields = row.clean["info"], row.clean["fields"]
            current = existing.get(row.key[1])
            if current is None:
                missing = [k for k, _g, s in row.clean["categories"] if s is None]
                if missing:
                    row.add("category_start", _("新登记的类别须有起始日期：请填写“类别起始日期”，"
                                                "或在类别后写“：日期”。"))
                    continue
                row.status = "new"
                row.plan = {"r": row.number, "op": "c",
                            "id": [info.number, row.key[1], pii.mask_id_number(info.number),
                                   info.birth_date.isoformat(), info.sex],
                            "f": {k: _json(v) for k, v in fields.items()},
                            "cats": [[k, g, s.isoformat()] for k, g, s in row.clean["categories"]],
                            "contact": list(row.clean["contact"]) if row.clean["contact"] else None}
                continue
            if current["pk"] not in visible:
                row.add("id_number", _("该身份证号已在其他辖区登记，不能通过导入修改；如需迁入请办理迁居。"))
                continue
            changed = {k: v for k, v in fields.items() if current[k] != v}
            plan = {"r": row.number, "op": "u", "pk": current["pk"], "stamp": current["updated_at"].isoformat(),
                    "f": {k: _json(v) for k, v in changed.items()},
                    "before": {k: _json(current[k]) for k in changed}}
            for k, v in changed.items():
                row.changes.append((k, current[k], v))
            self._merge_categories(row, plan, categories[current["pk"]], ctx.today)
            self._merge_contact(row, plan, contacts[current["pk"]])
            if row.errors:
                continue
            if row.changes:
                row.status = "changed"
                row.plan = plan
            else:
                row.status = "unchanged"

    def _merge_categories(self, row, plan, existing, today):
        add, update = [], []
        for kind, grade, start in row.clean["categories"]:
            same = [c for c in existing if c["kind"] == kind]
            active = [c for c in same if c["end_date"] is None or c["end_date"] >= today]
            label = zh_label(CategoryKind, kind)
            if active:
                c = max(active, key=lambda c: c["start_date"])
                new_grade = grade or c["grade"]
                new_start = start or c["start_date"]
                if new_grade != c["grade"] or new_start != c["start_date"]:
                    update.append([c["pk"], new_grade, new_start.isoformat()])
                    row.changes.append(("categories", _category_text(label, c["grade"], c["start_date"]),
                                        _category_text(label, new_grade, new_start)))
                continue
            if start is None:
                row.add("categories", _("新增类别“%(item)s”须有起始日期。") % {"item": label})
                continue
            last_end = max((c["end_date"] for c in same if c["end_date"]), default=None)
            if last_end is not None and start <= last_end:
                row.add("categories", _("类别“%(item)s”在 %(date)s 之前已登记过，新的起始日期须晚于该日期。")
                        % {"item": label, "date": last_end.isoformat()})
                continue
            add.append([kind, grade, start.isoformat()])
            row.changes.append(("categories", "", _category_text(label, grade, start)))
        plan["cats_add"], plan["cats_upd"] = add, update

    def _merge_contact(self, row, plan, existing):
        plan["contact_add"] = plan["contact_upd"] = None
        contact = row.clean["contact"]
        if not contact:
            return
        name, rel, phone = contact
        match = next((c for c in existing if c["name"] == name), None)
        if match is None:
            plan["contact_add"] = [name, rel, phone]
            row.changes.append(("contact_name", "", f"{name} {phone}"))
        elif match["relationship"] != rel or match["phone"] != phone:
            plan["contact_upd"] = [match["pk"], rel, phone]
            row.changes.append(("contact_name", f"{name} {match['phone']}", f"{name} {phone}"))

    # -- writing

    def write(self, plan, ctx):
        now = timezone.now()
        events = []
        updates = [p for p in plan if p["op"] == "u"]
        creates = [p for p in plan if p["op"] == "c"]
        cat_objs, contact_objs, cat_updates, contact_updates = [], [], [], []
        # 1. Changed elders: lock them and check nobody changed them since the preview.
        instances = {}
        pks = [p["pk"] for p in updates]
        for i in range(0, len(pks), 2000):
            instances.update(Elder.objects.select_for_update().in_bulk(pks[i:i + 2000]))
        stale = [p["r"] for p in updates
                 if p["pk"] not in instances or instances[p["pk"]].updated_at.isoformat() != p["stamp"]]
        if stale:
            raise ImportConflict(stale, _("预览之后，第 %(rows)s 行的老年人信息已被修改或删除。为避免覆盖他人的修改，"
                                          "本次导入没有写入任何数据，请重新上传文件。") % {"rows": _row_list(stale)})
        changed_fields = set()
        for p in updates:
            elder = instances[p["pk"]]
            for k, v in p["f"].items():
                setattr(elder, k, Elder._meta.get_field(k).to_python(v))
                changed_fields.add(k)
            if "name" in p["f"]:
                elder.name_pinyin, elder.name_initials = fast_name_pinyin(elder.name)
                changed_fields.update({"name_pinyin", "name_initials"})
            if "residence_region_id" in p["f"]:
                elder.county_code = elder.residence_region_id[:6]
                changed_fields.add("county_code")
            elder.updated_at = now
            for kind, grade, start in p["cats_add"]:
                cat_objs.append(ElderCategory(elder_id=elder.pk, kind=kind, grade=grade, start_date=start,
                                              county_code=elder.county_code))
            for pk, grade, start in p["cats_upd"]:
                cat_updates.append(ElderCategory(pk=pk, grade=grade, start_date=datetime.date.fromisoformat(start)))
            if p["contact_add"]:
                name, rel, phone = p["contact_add"]
                contact_objs.append(Contact(elder_id=elder.pk, name=name, relationship=rel, phone=phone))
            if p["contact_upd"]:
                pk, rel, phone = p["contact_upd"]
                contact_updates.append(Contact(pk=pk, relationship=rel, phone=phone))
            events.append(audit_entry(ctx, p["r"], instance=elder, object_repr=elder.name,
                                      region_code=elder.residence_region_id, before=p["before"], after=p["f"],
                                      extra=_extra_after(p)))
        if instances and (changed_fields or updates):
            Elder.objects.bulk_update(list(instances.values()), sorted(changed_fields | {"updated_at"}),
                                      batch_size=500)
        # 2. New elders, in file order (the unique ID-number constraint is the last word on duplicates). Plain
        # values, not model instances: at 100,000 rows the instances alone would cost more than the database.
        rows = []

        def elder_rows():  # made while the database stores the rows before (insert_rows with a count)
            for p in creates:
                number, digest, masked, birth, sex = p["id"]
                values = dict(p["f"])
                values.update(id_number=number, id_number_hash=digest, id_number_masked=masked,
                              birth_date=datetime.date.fromisoformat(birth), sex=sex, created_at=now,
                              updated_at=now, county_code=values["residence_region_id"][:6])
                for k in ("latitude", "longitude"):
                    if values.get(k) is not None:
                        values[k] = Decimal(values[k])
                values["name_pinyin"], values["name_initials"] = fast_name_pinyin(values["name"])
                rows.append(values)
                yield values

        ids = insert_rows(Elder, elder_rows(), count=len(creates))
        cat_rows, contact_rows, created = [], [], []
        for p, values, pk in zip(creates, rows, ids, strict=True):
            values["id"] = pk
            for kind, grade, start in p["cats"]:
                cat_rows.append({"elder_id": pk, "kind": kind, "grade": grade, "start_date": start,
                                 "county_code": values["county_code"]})
            if p["contact"]:
                name, rel, phone = p["contact"]
                contact_rows.append({"elder_id": pk, "name": name, "relationship": rel, "phone": phone})
            created.append(audit_entry(ctx, p["r"], values=values, object_repr=values["name"],
                                       region_code=values["residence_region_id"], extra=_extra_after(p)))
        insert_rows(ElderCategory, cat_rows)
        insert_rows(Contact, contact_rows)
        record_rows(ctx, AuditAction.CREATE, Elder, created, snapshot_after=True)
        insert_many(ElderCategory, cat_objs)
        insert_many(Contact, contact_objs)
        cat_count = len(cat_objs) + len(cat_rows)
        contact_count = len(contact_objs) + len(contact_rows)
        if cat_updates:
            ElderCategory.objects.bulk_update(cat_updates, ["grade", "start_date"], batch_size=500)
        if contact_updates:
            Contact.objects.bulk_update(contact_updates, ["relationship", "phone"], batch_size=500)
        record_rows(ctx, AuditAction.UPDATE, Elder, events)
        return {"created": len(creates), "updated": len(updates), "categories": cat_count + len(cat_updates),
                "contacts": contact_count + len(contact_updates)}

    def conflicts(self, plan):
        by_hash = {p["id"][1]: p["r"] for p in plan if p["op"] == "c"}
        found = set()
        for chunk in key_sets(list(by_hash)):
            found.update(Elder.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", flat=True))
        return sorted(by_hash[h] for h in found)

    def example_row(self, ctx):
        number = "51190319450312" + "002"
        number += pii.id_check_char(number)
        residence = _example_region(ctx.actor, levels=("community", "street"))
        return ["张秀英" + EXAMPLE_MARKERS[1], number, "13812345678", "511903", residence, "登科街道某某路 12 号",
                31.8123, 106.6345, "独居", "特困、重残（二级）：2019-05-10", "2020-01-01", "李明", "儿子",
                "13912345678", "中国农业银行", "6228480012345678901", "张秀英", ""]
