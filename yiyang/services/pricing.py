"""Who pays what for a service order: price, government subsidy, allowance and co-payment, to the fen.

A jurisdiction's SubsidyRule `params`::

    {"rows": [{"category": "destitute", "share": "100"},      # 特困: fully paid
              {"category": "subsistence", "share": "90"},     # 低保: 90 % subsidised
              {"min_age": 80, "share": "0"}],                 # 80+: the 普惠 price, no share
     "others": "market"}                                      # anyone else: the market price (or "inclusive")

A row matches when the category is active on the day of the service, or the person is at least `min_age`
that day. Anyone matched by a row pays on the provider's subsidised price (never above the 普惠 ceiling) and
gets the highest share among the matching rows; the rest of the price is paid first from the person's
monthly service allowance (服务补贴, credited by the benefits engine; never below zero) and then by the person.
Rounding: the subsidy is rounded half up to the fen; the co-payment is exactly what remains, so the parts
always add up to the price.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from yiyang.registry.models import CategoryKind

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
OTHERS = ("market", "inclusive")


@dataclass(frozen=True)
class Row:
    share: Decimal
    category: str = ""
    min_age: int | None = None

    def matches(self, categories: set[str], age: int) -> bool:
        if self.category:
            return self.category in categories
        return self.min_age is not None and age >= self.min_age

    def label(self) -> str:
        if self.category:
            return str(dict(CategoryKind.choices).get(self.category, self.category))
        return _("%(age)d 周岁及以上") % {"age": self.min_age}


@dataclass(frozen=True)
class SubsidyParams:
    rows: tuple[Row, ...] = ()
    others: str = "market"


def parse(raw: dict) -> SubsidyParams:
    """Validate a rule's parameters; ValidationError names every bad row."""
    if not isinstance(raw, dict):
        raise ValidationError({"params": [_("规则须为一个对象。")]})
    errors: dict[str, list] = {}
    rows = []
    valid_categories = set(CategoryKind.values)
    for i, r in enumerate(raw.get("rows") or ()):
        key = f"rows.{i}"
        category = (r.get("category") or "").strip()
        min_age = r.get("min_age")
        if bool(category) == (min_age not in (None, "")):
            errors.setdefault(key, []).append(_("每行须指定人员类别或年龄之一。"))
            continue
        if category and category not in valid_categories:
            errors.setdefault(key, []).append(_("未知的人员类别：%(codes)s") % {"codes": category})
            continue
        if not category:
            try:
                min_age = int(min_age)
            except (TypeError, ValueError):
                errors.setdefault(key, []).append(_("年龄须为整数。"))
                continue
            if not 0 <= min_age <= 130:
                errors.setdefault(key, []).append(_("年龄须在 0 至 130 之间。"))
                continue
        try:
            share = Decimal(str(r.get("share")).strip())
        except (InvalidOperation, ValueError):
            errors.setdefault(key, []).append(_("补贴比例须为 0 至 100 的数字。"))
            continue
        if not share.is_finite() or not 0 <= share <= HUNDRED:
            errors.setdefault(key, []).append(_("补贴比例须为 0 至 100 的数字。"))
            continue
        rows.append(Row(share=share, category=category, min_age=None if category else min_age))
    others = raw.get("others", "market")
    if others not in OTHERS:
        errors.setdefault("others", []).append(_("其他人员须按市场价或普惠价。"))
    if errors:
        raise ValidationError(errors)
    return SubsidyParams(rows=tuple(rows), others=others)


@dataclass(frozen=True)
class Quote:
    unit_price: Decimal
    quantity: Decimal
    total: Decimal
    share: Decimal              # percent of the total the government pays
    subsidy: Decimal
    allowance: Decimal          # paid from the monthly service allowance
    copay: Decimal              # paid by the person
    basis: str                  # "inclusive" (subsidised price) or "market"
    reasons: tuple[str, ...] = field(default_factory=tuple)
    row: Row | None = None      # the rule's row that applied (the highest share among those matching)

    def explain(self) -> str:
        who = "、".join(self.reasons) if self.reasons else _("不属于补贴对象")
        price = _("普惠价") if self.basis == "inclusive" else _("市场价")
        return _("%(who)s → %(price)s %(unit)s 元 × %(qty)s = %(total)s 元；政府补贴 %(share)s%% 即 %(subsidy)s 元，"
                 "服务补贴余额抵扣 %(allowance)s 元，本人自付 %(copay)s 元") % {
            "who": who, "price": price, "unit": self.unit_price, "qty": _qty(self.quantity), "total": self.total,
            "share": _qty(self.share), "subsidy": self.subsidy, "allowance": self.allowance, "copay": self.copay}


def _qty(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def quote(*, params: SubsidyParams, categories: set[str], age: int, subsidised_price: Decimal,
          market_price: Decimal, quantity: Decimal, allowance_available: Decimal = Decimal("0.00")) -> Quote:
    """Split one order's price. Pure: the caller supplies the facts on the day of the service."""
    if quantity <= 0:
        raise ValidationError({"quantity": [_("数量须大于 0。")]})
    if subsidised_price > market_price:
        raise ValidationError({"price": [_("普惠服务价格不能高于市场价。")]})
    matching = [r for r in params.rows if r.matches(categories, age)]
    row = max(matching, key=lambda r: r.share) if matching else None
    if matching:
        basis, unit = "inclusive", subsidised_price
        share = row.share
        reasons = tuple(dict.fromkeys(r.label() for r in matching))
    else:
        basis = params.others
        unit = subsidised_price if basis == "inclusive" else market_price
        share, reasons = Decimal("0"), ()
    total = (unit * quantity).quantize(CENT, ROUND_HALF_UP)
    subsidy = (total * share / HUNDRED).quantize(CENT, ROUND_HALF_UP)
    remainder = total - subsidy
    allowance = (min(remainder, max(allowance_available, Decimal("0.00"))) if matching
                 else Decimal("0.00")).quantize(CENT, ROUND_HALF_UP)
    return Quote(unit_price=unit, quantity=quantity, total=total, share=share, subsidy=subsidy,
                 allowance=allowance, copay=remainder - allowance, basis=basis, reasons=reasons, row=row)


# ---------------------------------------------------------------------------------------------------------
# The rule in words, as a family reads it (the catalogue page and the quote)


def row_sentence(row: Row) -> str:
    """One row of a rule in plain words: who, which price, what the government pays, what is left."""
    share = format(row.share.normalize(), "f")
    if row.share >= HUNDRED:
        return _("%(who)s：按普惠价，政府全额补贴，本人无需付费。") % {"who": row.label()}
    if row.share > 0:
        return _("%(who)s：按普惠价，政府补贴 %(share)s%%，其余先从每月服务补贴余额抵扣，不足部分本人自付。") % {
            "who": row.label(), "share": share}
    return _("%(who)s：按普惠价，先从每月服务补贴余额抵扣，不足部分本人自付。") % {"who": row.label()}


def others_sentence(params: SubsidyParams) -> str:
    return _("其他老人：按市场价自付。") if params.others == "market" else _("其他老人：按普惠价自付。")


def sentences(params: SubsidyParams) -> list[str]:
    """The whole rule in plain words, one sentence per row and one for everyone else."""
    out = [row_sentence(row) for row in params.rows]
    if params.rows:
        out.append(_("同时符合多项的，按补贴比例最高的一项计算；补贴四舍五入到分。"))
    out.append(others_sentence(params))
    return out


def age_on(birth: datetime.date, day: datetime.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
