"""Benefit rules as data: validating a rule's parameters and describing what they say.

A rule's `params` (stored on RuleVersion) look like this::

    {"min_age": 80, "max_age": null,          # age on the 1st of the month, inclusive
     "categories": ["destitute"],             # any of these, active on the 1st (empty: no condition)
     "levels": [2, 3, 4],                      # ability level on the 1st, any of these (empty: no condition)
     "basis": "residence",                     # which jurisdiction pays: residence (费随人走) or hukou
     "exclude_institution": false,             # people living in a care home are not eligible
     "amount_kind": "age_bands",               # fixed | age_bands | level_table
     "fixed_amount": "100.00",
     "bands": [{"min_age": 80, "max_age": 89, "amount": "50.00"}, ...],
     "table": [{"level": 3, "category": "subsistence", "amount": "200.00"}, ...]}

`level` null in a table row means "any level, assessed or not"; `category` "" means "any eligible person".
When several table rows match a person, the highest amount applies.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from yiyang.registry.models import CategoryKind

LEVELS = (0, 1, 2, 3, 4)  # GB/T 42195-2022: 能力完好 … 完全失能
MAX_AGE = 130
MAX_AMOUNT = Decimal("100000.00")
AMOUNT_KINDS = ("fixed", "age_bands", "level_table")
BASES = ("residence", "hukou")


@dataclass(frozen=True)
class Band:
    min_age: int
    max_age: int | None
    amount: Decimal

    @property
    def label(self) -> str:
        return f"{self.min_age}+" if self.max_age is None else f"{self.min_age}-{self.max_age}"


@dataclass(frozen=True)
class TableRow:
    level: int | None
    category: str
    amount: Decimal


@dataclass(frozen=True)
class RuleParams:
    min_age: int = 60
    max_age: int | None = None
    categories: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    basis: str = "residence"
    exclude_institution: bool = False
    amount_kind: str = "fixed"
    fixed_amount: Decimal = Decimal("0.00")
    bands: tuple[Band, ...] = ()
    table: tuple[TableRow, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "min_age": self.min_age, "max_age": self.max_age, "categories": list(self.categories),
            "levels": list(self.levels), "basis": self.basis, "exclude_institution": self.exclude_institution,
            "amount_kind": self.amount_kind, "fixed_amount": str(self.fixed_amount),
            "bands": [{"min_age": b.min_age, "max_age": b.max_age, "amount": str(b.amount)} for b in self.bands],
            "table": [{"level": r.level, "category": r.category, "amount": str(r.amount)} for r in self.table],
        }

    def possible_amounts(self) -> set[Decimal]:
        if self.amount_kind == "fixed":
            return {self.fixed_amount}
        if self.amount_kind == "age_bands":
            return {b.amount for b in self.bands}
        return {r.amount for r in self.table}

    def describe(self) -> list[str]:
        """The rule in a few plain sentences for the rule page and the simulation."""
        out = []
        who = _("%(min)d 周岁及以上") % {"min": self.min_age}
        if self.max_age is not None:
            who = _("%(min)d–%(max)d 周岁") % {"min": self.min_age, "max": self.max_age}
        out.append(_("对象：每月 1 日 %(who)s") % {"who": who})
        if self.categories:
            out.append(_("且属于：%(cats)s") % {"cats": "、".join(category_label(c) for c in self.categories)})
        if self.levels:
            out.append(_("且能力等级为：%(levels)s") % {"levels": "、".join(level_label(v) for v in self.levels)})
        out.append(_("按居住地发放（费随人走）") if self.basis == "residence" else _("按户籍地发放"))
        if self.exclude_institution:
            out.append(_("入住养老机构者不享受"))
        if self.amount_kind == "fixed":
            out.append(_("标准：每人每月 %(amount)s 元") % {"amount": self.fixed_amount})
        elif self.amount_kind == "age_bands":
            for b in self.bands:
                out.append(_("%(band)s 岁档：%(amount)s 元/月") % {"band": band_label(b.label), "amount": b.amount})
        else:
            for r in self.table:
                out.append(_("%(level)s · %(category)s：%(amount)s 元/月") % {
                    "level": level_label(r.level) if r.level is not None else _("任意等级"),
                    "category": category_label(r.category) if r.category else _("任意类别"),
                    "amount": r.amount})
        return out


def category_label(code: str) -> str:
    return str(dict(CategoryKind.choices).get(code, code))


def level_label(level: int | None) -> str:
    if level is None:
        return _("未评估")
    from django.utils.translation import get_language

    from yiyang.assessment import scoring

    try:
        found = scoring.get_template(scoring.GBT_42195_2022).level(level)
    except (KeyError, ValueError, IndexError, LookupError):  # an unknown level is shown as its number
        return str(level)
    return found.name_en if (get_language() or "").startswith("en") else found.name_zh


def band_label(label: str) -> str:
    return label.replace("-", "–")


def _money(value, errors: dict, key: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(key, []).append(_("金额须为数字，如 100 或 100.50。"))
        return Decimal("0.00")
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        errors.setdefault(key, []).append(_("金额须在 0 至 100000 元之间。"))
        return Decimal("0.00")
    if amount != amount.quantize(Decimal("0.01")):
        errors.setdefault(key, []).append(_("金额最多精确到分（两位小数）。"))
    return amount.quantize(Decimal("0.01"))


def _age(value, errors: dict, key: str, *, optional: bool = False) -> int | None:
    if value in (None, "") and optional:
        return None
    try:
        age = int(value)
    except (TypeError, ValueError):
        errors.setdefault(key, []).append(_("年龄须为整数。"))
        return None
    if not 0 <= age <= MAX_AGE:
        errors.setdefault(key, []).append(_("年龄须在 0 至 130 之间。"))
        return None
    return age


def parse(raw: dict) -> RuleParams:
    """Validate rule parameters; raises ValidationError with every problem keyed by field."""
    if not isinstance(raw, dict):
        raise ValidationError({"params": [_("规则须为一个对象。")]})
    errors: dict[str, list] = {}
    min_age = _age(raw.get("min_age", 60), errors, "min_age")
    max_age = _age(raw.get("max_age"), errors, "max_age", optional=True)
    if min_age is not None and max_age is not None and max_age < min_age:
        errors.setdefault("max_age", []).append(_("最高年龄不能小于最低年龄。"))
    valid_categories = set(CategoryKind.values)
    categories = tuple(raw.get("categories") or ())
    bad = [c for c in categories if c not in valid_categories]
    if bad:
        errors.setdefault("categories", []).append(_("未知的人员类别：%(codes)s") % {"codes": "、".join(map(str, bad))})
    try:
        levels = tuple(sorted({int(v) for v in raw.get("levels") or ()}))
    except (TypeError, ValueError):
        levels = ()
        errors.setdefault("levels", []).append(_("能力等级须为 0 至 4 的整数。"))
    if any(v not in LEVELS for v in levels):
        errors.setdefault("levels", []).append(_("能力等级须为 0 至 4 的整数。"))
    basis = raw.get("basis", "residence")
    if basis not in BASES:
        errors.setdefault("basis", []).append(_("发放地须为居住地或户籍地。"))
    kind = raw.get("amount_kind", "fixed")
    if kind not in AMOUNT_KINDS:
        errors.setdefault("amount_kind", []).append(_("标准类型须为固定金额、年龄分档或等级类别表。"))
    fixed = _money(raw.get("fixed_amount", "0"), errors, "fixed_amount") if kind == "fixed" else Decimal("0.00")
    bands: list[Band] = []
    if kind == "age_bands":
        for i, row in enumerate(raw.get("bands") or ()):
            key = f"bands.{i}"
            lo = _age(row.get("min_age"), errors, key)
            hi = _age(row.get("max_age"), errors, key, optional=True)
            amount = _money(row.get("amount"), errors, key)
            if lo is None:
                continue
            if hi is not None and hi < lo:
                errors.setdefault(key, []).append(_("档次的最高年龄不能小于最低年龄。"))
                continue
            bands.append(Band(lo, hi, amount))
        bands.sort(key=lambda b: b.min_age)
        if not bands:
            errors.setdefault("bands", []).append(_("至少需要一个年龄档。"))
        for a, b in zip(bands, bands[1:], strict=False):
            if a.max_age is None or a.max_age >= b.min_age:
                errors.setdefault("bands", []).append(
                    _("年龄档 %(a)s 与 %(b)s 重叠。") % {"a": band_label(a.label), "b": band_label(b.label)})
            elif a.max_age + 1 < b.min_age:
                # Someone aged in the gap would be eligible with no amount: almost certainly a typing slip.
                lo, hi = a.max_age + 1, b.min_age - 1
                ages = str(lo) if lo == hi else f"{lo}–{hi}"
                errors.setdefault("bands", []).append(
                    _("年龄档 %(a)s 与 %(b)s 之间有空档：%(ages)s 岁没有标准。") % {
                        "a": band_label(a.label), "b": band_label(b.label), "ages": ages})
        if bands and min_age is not None and bands[0].min_age < min_age:
            errors.setdefault("bands", []).append(_("最低年龄档不能低于享受年龄。"))
        elif bands and min_age is not None and bands[0].min_age > min_age:
            errors.setdefault("bands", []).append(
                _("享受年龄为 %(min)d 岁，最低年龄档却从 %(band)d 岁开始：请把最低年龄档改为从 %(min)d 岁开始。") % {
                    "min": min_age, "band": bands[0].min_age})
    table: list[TableRow] = []
    if kind == "level_table":
        seen = set()
        for i, row in enumerate(raw.get("table") or ()):
            key = f"table.{i}"
            level = row.get("level")
            if level in ("", None):
                level = None
            else:
                try:
                    level = int(level)
                except (TypeError, ValueError):
                    level = -1
                if level not in LEVELS:
                    errors.setdefault(key, []).append(_("能力等级须为 0 至 4 的整数。"))
                    continue
            category = row.get("category") or ""
            if category and category not in valid_categories:
                errors.setdefault(key, []).append(_("未知的人员类别：%(codes)s") % {"codes": category})
                continue
            if (level, category) in seen:
                errors.setdefault(key, []).append(_("同一等级和类别只能有一个标准。"))
                continue
            seen.add((level, category))
            table.append(TableRow(level, category, _money(row.get("amount"), errors, key)))
        if not table:
            errors.setdefault("table", []).append(_("至少需要一行标准。"))
    if errors:
        raise ValidationError(errors)
    return RuleParams(min_age=min_age, max_age=max_age, categories=categories, levels=levels, basis=basis,
                      exclude_institution=bool(raw.get("exclude_institution", False)), amount_kind=kind,
                      fixed_amount=fixed, bands=tuple(bands), table=tuple(table))


def with_changes(params: dict, changes: dict) -> dict:
    """A copy of `params` with simulation changes applied (same keys as params; bands/table replace whole)."""
    out = copy.deepcopy(params)
    out.update(copy.deepcopy(changes))
    return out


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    y, m = divmod(month.year * 12 + month.month - 1 + n, 12)
    return datetime.date(y, m + 1, 1)


def born_by(month: datetime.date, age: int) -> datetime.date:
    """Latest birth date of someone at least `age` years old on `month` (a 1st, so no 29 February issue)."""
    return datetime.date(month.year - age, month.month, 1)


def age_on(birth: datetime.date, day: datetime.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
