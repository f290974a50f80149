"""Visit tiers as data: validating a rule set, and which tier a person falls in (pure, no database).

A rule set's `params` (stored on TierRuleSet) look like this::

    {"covered": [{"categories": ["destitute"]}, {"living": ["alone"]}, {"min_age": 80}],
     "tiers": [
       {"code": "high", "name": "高风险", "rank": 1, "period": "week",
        "methods": ["home", "phone"], "remote_counts": false,
        "when": [{"living": ["alone"], "min_level": 2},
                 {"categories": ["destitute"], "exclude_living": ["institution"]}]},
       {"code": "key", "name": "重点", "rank": 2, "period": "month", "methods": ["home", "phone"],
        "remote_counts": true, "when": [...]},
       ...],
     "remind_before_hours": 24, "escalate_after_hours": 72}

A tier's `when` is a list of clauses, any of which puts a person in the tier; a clause is a conjunction of
conditions on the facts of the 1st of the month: `categories` (any of them, active that day), `living` (any of
these living situations), `exclude_living`, `min_level` (published ability level at least this), `min_age` (age
that day at least this). A person in several tiers is in the one of the highest rank (1 is highest). `covered`
says whom the policy means to be visited (特殊困难老年人); the simulation counts those in no tier, and a rule set
leaving anyone covered out of every tier cannot be adopted.

Periods are month-aligned so that every visit belongs to one month's coverage: `week` is four windows a month
(1–7, 8–14, 15–21, 22–end), `month` the calendar month, `quarter` the calendar quarter (counted in its last
month).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiyang.core import pii
from yiyang.registry.models import CategoryKind, LivingSituation

PERIODS = ("week", "month", "quarter")
METHODS = ("home", "phone", "video")
LEVELS = (0, 1, 2, 3, 4)
MAX_AGE = 130
MAX_TIERS = 12
DEFAULT_REMIND_BEFORE_HOURS = 24
DEFAULT_ESCALATE_AFTER_HOURS = 72
# The visit checklist (MZ/T 237-2024's content of a visit: health, mood, food, hygiene, home safety, medication,
# needs). Codes are stored on the record; labels are translated when shown (gettext_noop marks them).
CHECKLIST = (
    ("health", gettext_noop("身体状况")),
    ("mood", gettext_noop("精神心理")),
    ("food", gettext_noop("饮食")),
    ("hygiene", gettext_noop("个人及居家卫生")),
    ("gas", gettext_noop("燃气安全")),
    ("electricity", gettext_noop("用电安全")),
    ("fire", gettext_noop("消防安全")),
    ("falls", gettext_noop("防跌倒")),
    ("medication", gettext_noop("用药")),
    ("needs", gettext_noop("服务需求")),
)
CHECKLIST_CODES = tuple(code for code, _label in CHECKLIST)
CHECK_VALUES = ("ok", "concern", "na")


@dataclass(frozen=True)
class Clause:
    categories: tuple[str, ...] = ()
    living: tuple[str, ...] = ()
    exclude_living: tuple[str, ...] = ()
    min_level: int | None = None
    min_age: int | None = None

    def matches(self, facts: Facts) -> bool:
        if self.categories and not set(self.categories) & facts.categories:
            return False
        if self.living and facts.living not in self.living:
            return False
        if self.exclude_living and facts.living in self.exclude_living:
            return False
        if self.min_level is not None and (facts.level is None or facts.level < self.min_level):
            return False
        return not (self.min_age is not None and facts.age < self.min_age)

    def implies(self, other: Clause) -> bool:
        """Whoever matches this clause also matches `other` (other's conditions are all weaker)."""
        if other.categories and not (self.categories and set(self.categories) <= set(other.categories)):
            return False
        if other.living:
            mine = set(self.living) if self.living else set(LivingSituation.values) | {""}
            if not (mine - set(self.exclude_living)) <= set(other.living):
                return False
        if other.exclude_living:
            mine = set(self.living) if self.living else set(LivingSituation.values) | {""}
            if (mine - set(self.exclude_living)) & set(other.exclude_living):
                return False
        if other.min_level is not None and (self.min_level is None or self.min_level < other.min_level):
            return False
        return not (other.min_age is not None and (self.min_age is None or self.min_age < other.min_age))

    def to_json(self) -> dict:
        out: dict = {}
        if self.categories:
            out["categories"] = list(self.categories)
        if self.living:
            out["living"] = list(self.living)
        if self.exclude_living:
            out["exclude_living"] = list(self.exclude_living)
        if self.min_level is not None:
            out["min_level"] = self.min_level
        if self.min_age is not None:
            out["min_age"] = self.min_age
        return out

    def describe(self) -> str:
        parts = []
        if self.categories:
            parts.append("/".join(str(CategoryKind(c).label) for c in self.categories))
        if self.living:
            parts.append("/".join(str(LivingSituation(v).label) for v in self.living))
        if self.exclude_living:
            parts.append(_("非%(what)s") % {"what": "/".join(str(LivingSituation(v).label)
                                                              for v in self.exclude_living)})
        if self.min_level is not None:
            parts.append(_("能力等级≥%(n)s") % {"n": self.min_level})
        if self.min_age is not None:
            parts.append(_("%(n)s周岁以上") % {"n": self.min_age})
        return " + ".join(parts) or _("所有人")


@dataclass(frozen=True)
class Tier:
    code: str
    name: str
    rank: int
    period: str
    methods: tuple[str, ...]
    remote_counts: bool
    when: tuple[Clause, ...]

    def matches(self, facts: Facts) -> bool:
        return any(c.matches(facts) for c in self.when)

    def visits_per_month(self) -> float:
        return {"week": 4.0, "month": 1.0, "quarter": 1 / 3}[self.period]

    def to_json(self) -> dict:
        return {"code": self.code, "name": self.name, "rank": self.rank, "period": self.period,
                "methods": list(self.methods), "remote_counts": self.remote_counts,
                "when": [c.to_json() for c in self.when]}


@dataclass(frozen=True)
class TierParams:
    tiers: tuple[Tier, ...]
    covered: tuple[Clause, ...] = ()
    remind_before_hours: int = DEFAULT_REMIND_BEFORE_HOURS
    escalate_after_hours: int = DEFAULT_ESCALATE_AFTER_HOURS
    ranked: tuple[Tier, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "ranked", tuple(sorted(self.tiers, key=lambda t: t.rank)))

    def tier_for(self, facts: Facts) -> Tier | None:
        for tier in self.ranked:
            if tier.matches(facts):
                return tier
        return None

    def is_covered(self, facts: Facts) -> bool:
        return any(c.matches(facts) for c in self.covered)

    def tier(self, code: str) -> Tier | None:
        return next((t for t in self.tiers if t.code == code), None)

    def to_json(self) -> dict:
        return {"tiers": [t.to_json() for t in self.ranked], "covered": [c.to_json() for c in self.covered],
                "remind_before_hours": self.remind_before_hours, "escalate_after_hours": self.escalate_after_hours}


@dataclass(frozen=True)
class Facts:
    """What the tiers look at, on the 1st of the month."""

    age: int
    living: str = ""
    categories: frozenset[str] = frozenset()
    level: int | None = None


def age_on(birth: datetime.date, day: datetime.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# ------------------------------------------------------------------------------------------------- periods


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    y, m = divmod(month.year * 12 + month.month - 1 + n, 12)
    return datetime.date(y, m + 1, 1)


def windows(period: str, month: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """The windows (first day, day after the last) that a tier of `period` opens in `month` (a 1st)."""
    last = calendar.monthrange(month.year, month.month)[1]
    end = month + datetime.timedelta(days=last)
    if period == "week":
        starts = [month.replace(day=d) for d in (1, 8, 15, 22)]
        return list(zip(starts, starts[1:] + [end], strict=False))
    if period == "month":
        return [(month, end)]
    if period == "quarter":
        if (month.month - 1) % 3:
            return []
        return [(month, add_months(month, 3))]
    raise ValueError(period)


# ------------------------------------------------------------------------------------------------- parsing


def _codes(raw, allowed, errors: dict, key: str, label: str) -> tuple[str, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        errors.setdefault(key, []).append(_("%(what)s 须为列表。") % {"what": label})
        return ()
    bad = [v for v in raw if v not in allowed]
    if bad:
        errors.setdefault(key, []).append(_("%(what)s 中有无效取值：%(bad)s") % {"what": label, "bad": "、".join(bad)})
    return tuple(dict.fromkeys(v for v in raw if v in allowed))


def _int(raw, errors: dict, key: str, label: str, lo: int, hi: int, *, optional: bool = True) -> int | None:
    if raw in (None, "") and optional:
        return None
    digits = isinstance(raw, str) and pii.is_ascii_digits(raw.strip()) and len(raw.strip()) <= 6
    if isinstance(raw, bool) or not isinstance(raw, int) and not digits:
        errors.setdefault(key, []).append(_("%(what)s 须为整数。") % {"what": label})
        return None
    value = int(raw)
    if not lo <= value <= hi:
        errors.setdefault(key, []).append(
            _("%(what)s 须在 %(lo)s 到 %(hi)s 之间。") % {"what": label, "lo": lo, "hi": hi})
        return None
    return value


def _clause(raw, errors: dict, key: str) -> Clause | None:
    if not isinstance(raw, dict):
        errors.setdefault(key, []).append(_("条件须为一个对象。"))
        return None
    unknown = set(raw) - {"categories", "living", "exclude_living", "min_level", "min_age"}
    if unknown:
        errors.setdefault(key, []).append(_("未知的条件：%(names)s") % {"names": "、".join(sorted(unknown))})
    clause = Clause(
        categories=_codes(raw.get("categories"), CategoryKind.values, errors, key, _("人员类别")),
        living=_codes(raw.get("living"), LivingSituation.values, errors, key, _("居住状况")),
        exclude_living=_codes(raw.get("exclude_living"), LivingSituation.values, errors, key, _("排除的居住状况")),
        min_level=_int(raw.get("min_level"), errors, key, _("最低能力等级"), 0, 4),
        min_age=_int(raw.get("min_age"), errors, key, _("最低年龄"), 60, MAX_AGE),
    )
    if set(clause.living) & set(clause.exclude_living):
        errors.setdefault(key, []).append(_("同一条件中居住状况既要求又排除。"))
    return clause


def parse(raw) -> TierParams:
    """Validate a rule set's params; raises ValidationError with every problem, keyed by where it is."""
    if not isinstance(raw, dict):
        raise ValidationError({"params": [_("规则须为一个对象。")]})
    errors: dict[str, list[str]] = {}
    raw_tiers = raw.get("tiers")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise ValidationError({"tiers": [_("至少需要一个巡访等级。")]})
    if len(raw_tiers) > MAX_TIERS:
        raise ValidationError({"tiers": [_("巡访等级不能超过 %(n)s 个。") % {"n": MAX_TIERS}]})
    tiers = []
    for i, rt in enumerate(raw_tiers, start=1):
        key = f"tiers.{i}"
        if not isinstance(rt, dict):
            errors.setdefault(key, []).append(_("第 %(i)s 个等级须为一个对象。") % {"i": i})
            continue
        code = str(rt.get("code") or "").strip()
        name = str(rt.get("name") or "").strip()
        if not code or len(code) > 32 or not code.replace("_", "").isalnum() or not code.isascii():
            errors.setdefault(key, []).append(_("第 %(i)s 个等级的代码须为 1–32 位字母、数字或下划线。") % {"i": i})
        if not name or len(name) > 32:
            errors.setdefault(key, []).append(_("第 %(i)s 个等级须有名称（不超过 32 字）。") % {"i": i})
        rank = _int(rt.get("rank"), errors, key, _("第 %(i)s 个等级的优先级") % {"i": i}, 1, 99, optional=False)
        period = rt.get("period")
        if period not in PERIODS:
            errors.setdefault(key, []).append(_("第 %(i)s 个等级的周期须为 每周、每月 或 每季度。") % {"i": i})
        methods = _codes(rt.get("methods") or ["home"], METHODS, errors, key, _("巡访方式"))
        if not methods:
            errors.setdefault(key, []).append(_("第 %(i)s 个等级至少允许一种巡访方式。") % {"i": i})
        remote_counts = rt.get("remote_counts", False)
        if not isinstance(remote_counts, bool):
            errors.setdefault(key, []).append(_("“电话/视频是否计入”须为是或否。"))
            remote_counts = False
        if remote_counts and not set(methods) & {"phone", "video"}:
            errors.setdefault(key, []).append(
                _("第 %(i)s 个等级规定电话/视频计入巡访，却不允许电话或视频方式。") % {"i": i})
        raw_when = rt.get("when")
        if not isinstance(raw_when, list) or not raw_when:
            errors.setdefault(key, []).append(_("第 %(i)s 个等级至少需要一个条件。") % {"i": i})
            raw_when = []
        when = tuple(c for c in (_clause(c, errors, key) for c in raw_when) if c is not None)
        if any(not c.to_json() for c in when):
            errors.setdefault(key, []).append(_("第 %(i)s 个等级有一个空条件（会包括所有老人）。") % {"i": i})
        tiers.append(Tier(code=code, name=name, rank=rank or 0, period=period if period in PERIODS else "month",
                          methods=methods, remote_counts=bool(remote_counts), when=when))
    codes = [t.code for t in tiers]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        errors.setdefault("tiers", []).append(_("等级代码 %(code)s 重复。") % {"code": code})
    ranks = [t.rank for t in tiers if t.rank]
    for rank in sorted({r for r in ranks if ranks.count(r) > 1}):
        errors.setdefault("tiers", []).append(
            _("两个等级的优先级都是 %(rank)s：同一人会同时落入两个等级。") % {"rank": rank})
    covered_raw = raw.get("covered") or []
    if not isinstance(covered_raw, list):
        errors.setdefault("covered", []).append(_("应访对象范围须为条件列表。"))
        covered_raw = []
    covered = tuple(c for c in (_clause(c, errors, "covered") for c in covered_raw) if c is not None)
    remind = _int(raw.get("remind_before_hours", DEFAULT_REMIND_BEFORE_HOURS), errors, "remind_before_hours",
                  _("到期前提醒小时数"), 0, 24 * 14, optional=False)
    escalate = _int(raw.get("escalate_after_hours", DEFAULT_ESCALATE_AFTER_HOURS), errors, "escalate_after_hours",
                    _("逾期后上报小时数"), 1, 24 * 31, optional=False)
    if errors:
        raise ValidationError(errors)
    params = TierParams(tiers=tuple(tiers), covered=covered, remind_before_hours=remind,
                        escalate_after_hours=escalate)
    _check_reachable(params)
    return params


def _check_reachable(params: TierParams) -> None:
    """Overlapping tiers: a clause of a lower tier that a higher tier's clause already takes everyone of can
    never place anybody; the author meant something else, so say which."""
    errors = []
    for i, tier in enumerate(params.ranked):
        for clause in tier.when:
            for higher in params.ranked[:i]:
                if any(clause.implies(h) for h in higher.when):
                    errors.append(_("等级“%(low)s”的条件“%(cond)s”被更高等级“%(high)s”完全覆盖，不会有人落入该条件。")
                                  % {"low": tier.name, "cond": clause.describe(), "high": higher.name})
                    break
    if errors:
        raise ValidationError({"tiers": errors})


def period_label(period: str) -> str:
    return {"week": _("每周"), "month": _("每月"), "quarter": _("每季度")}[period]


def method_label(method: str) -> str:
    return {"home": _("上门"), "phone": _("电话"), "video": _("视频")}[method]
