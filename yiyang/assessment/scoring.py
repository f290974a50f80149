"""Scoring core for ability assessments of older adults (老年人能力评估).

Over 800 lines on purpose: both editions' scoring, level tables and their validation read side by side
against the standards; it has no other concern to split off.

Pure Python on purpose: no Django imports, so the rules can be tested in isolation, reused by the
API, the tablet form, imports and reports, and read by someone checking them against the standard.

Templates are data (``templates_data/*.json``), one file per standard edition:

* ``GB/T 42195-2022`` 《老年人能力评估规范》: 4 first-level indicators, 26 items, higher score = more
  able, total 0–90, five levels 0 能力完好 … 4 完全失能 chosen by the total.
* ``MZ/T 039-2013`` 《老年人能力评估》 (legacy, kept to read and re-score old records): 4 indicators
  each graded 0–3 from their own scores, four levels 0–3 chosen by combining the grades.

After the preliminary level, the adjustment rules apply (both editions):

* coma → the template's highest level directly, overriding everything else;
* a diagnosis in ICD-10 F00–F03 (dementia) or F04–F99 (other mental and behavioural disorders) →
  one level up;
* two or more care-risk events in the last 30 days (summed over the kinds that count) → one level up;
* the two "one level up" rules add up only when ``stack_adjustments`` is true (a per-jurisdiction
  setting), otherwise one level up at most; the level never goes above the highest one, and a
  ``cap`` adjustment is recorded when that cut a step.

Decisions where the text leaves room are recorded in the JSON notes, in particular:

* GB/T 42195-2022 scores 昏睡 and 昏迷 together as 0 on B.3.9 意识水平, so a 0 there does not mean
  coma. Coma is the separate Annex A health item; pass ``coma=True``. A coma record with B.3.9 other
  than 0 is rejected as contradictory. In MZ/T 039-2013 昏迷 has its own score (B.3.1 = 3), which
  implies coma by itself.
* GB/T 42195-2022 lists the risk events as examples ("如跌倒、噎食、自杀、自伤、走失等") and Annex A
  records "其他" under the same heading, so "other" counts there; MZ/T 039-2013 names exactly four
  kinds, so "other" does not count for legacy records.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

GBT_42195_2022 = "GB/T 42195-2022"
MZT_039_2013 = "MZ/T 039-2013"

RULE_COMA = "coma"
RULE_DIAGNOSIS = "dementia_or_mental_disorder"
RULE_RISK_EVENTS = "risk_events"
RULE_CAP = "cap"


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field.

    ``field`` is a dotted path ("items.B.1.1", "diagnoses.0", "risk_events_30d.fall", "coma"),
    ``code`` a stable machine code, and the two messages are for people.
    """

    field: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


class ScoringError(ValueError):
    """The input cannot be scored. ``errors`` lists every problem found, not just the first."""

    def __init__(self, errors: Iterable[FieldError]):
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message_en}" for e in self.errors))

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors}

    def as_dicts(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]


class TemplateDataError(RuntimeError):
    """A template JSON file is inconsistent. A bug in the shipped data, never a user error."""


# --------------------------------------------------------------------------------------------------
# Template data classes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    score: int
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class Item:
    code: str
    name_zh: str
    name_en: str
    indicator_code: str
    options: tuple[Option, ...]
    description_zh: str = ""
    description_en: str = ""
    note_zh: str = ""
    note_en: str = ""

    @property
    def scores(self) -> tuple[int, ...]:
        """The allowed scores, ascending."""
        return tuple(sorted(o.score for o in self.options))

    @property
    def min_score(self) -> int:
        return min(o.score for o in self.options)

    @property
    def max_score(self) -> int:
        return max(o.score for o in self.options)

    def option(self, score: int) -> Option:
        for o in self.options:
            if o.score == score:
                return o
        raise KeyError(score)


@dataclass(frozen=True)
class GradeBand:
    """Subtotal range ``min``–``max`` (inclusive) that gives an indicator ``grade`` (legacy template)."""

    grade: int
    min: int
    max: int


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    items: tuple[Item, ...]
    higher_is_better: bool = True
    grading_method: str = ""
    grade_bands: tuple[GradeBand, ...] = ()

    @property
    def max_subtotal(self) -> int:
        return sum(i.max_score for i in self.items)

    @property
    def min_subtotal(self) -> int:
        return sum(i.min_score for i in self.items)


@dataclass(frozen=True)
class Level:
    level: int
    name_zh: str
    name_en: str
    full_name_zh: str
    min_total: int | None = None
    max_total: int | None = None


@dataclass(frozen=True)
class GradeName:
    grade: int
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class RiskEventKind:
    code: str
    name_zh: str
    name_en: str
    counts_toward_rule: bool


@dataclass(frozen=True)
class CountOption:
    """One answer on Annex A's scale for how often a risk event happened (3 = three times or more)."""

    count: int
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class DiagnosisRange:
    """An inclusive range of ICD-10 three-character categories, e.g. F00–F03."""

    code: str
    name_zh: str
    name_en: str
    first: str
    last: str

    def contains(self, icd10_code: str) -> bool:
        category = icd10_code[:3].upper()
        if category[0] != self.first[0]:
            return False
        return int(self.first[1:3]) <= int(category[1:3]) <= int(self.last[1:3])


@dataclass(frozen=True)
class RuleText:
    rule: str
    text_zh: str
    text_en: str
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class Template:
    code: str
    version: str
    name_zh: str
    name_en: str
    legacy: bool
    level_method: str
    indicators: tuple[Indicator, ...]
    levels: tuple[Level, ...]
    grade_names: tuple[GradeName, ...]
    coma_level: int
    coma_item: str
    coma_compatible_scores: tuple[int, ...]
    coma_implied_by_scores: tuple[int, ...]
    risk_event_threshold: int
    risk_event_window_days: int
    risk_event_kinds: tuple[RiskEventKind, ...]
    risk_event_count_options: tuple[CountOption, ...]
    diagnosis_ranges: tuple[DiagnosisRange, ...]
    rule_texts: tuple[RuleText, ...]
    notes_zh: tuple[str, ...] = ()
    notes_en: tuple[str, ...] = ()

    @cached_property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for ind in self.indicators for item in ind.items)

    @cached_property
    def item_index(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    @property
    def max_total(self) -> int:
        return sum(ind.max_subtotal for ind in self.indicators)

    @property
    def max_level(self) -> int:
        return max(lv.level for lv in self.levels)

    def item(self, code: str) -> Item:
        return self.item_index[code]

    def indicator(self, code: str) -> Indicator:
        for ind in self.indicators:
            if ind.code == code:
                return ind
        raise KeyError(code)

    def level(self, level: int) -> Level:
        for lv in self.levels:
            if lv.level == level:
                return lv
        raise KeyError(level)

    def level_for_total(self, total: int) -> int:
        """The preliminary level for a total (templates whose levels are total bands only)."""
        for lv in self.levels:
            if lv.min_total is None or lv.max_total is None:
                continue
            if lv.min_total <= total <= lv.max_total:
                return lv.level
        raise ValueError(f"{self.code}: no level for total {total}")

    def grade_name(self, grade: int) -> GradeName:
        for g in self.grade_names:
            if g.grade == grade:
                return g
        raise KeyError(grade)

    def risk_event_kind(self, code: str) -> RiskEventKind | None:
        for kind in self.risk_event_kinds:
            if kind.code == code:
                return kind
        return None

    def rule_text(self, rule: str) -> RuleText:
        for text in self.rule_texts:
            if text.rule == rule:
                return text
        raise KeyError(rule)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """One step from the preliminary to the final level, in the order applied.

    A rule whose condition held but did not move the level (already at the top, or a second
    "one level up" rule when they do not stack) is still recorded, with ``from_level == to_level``
    and a description saying why. ``cap`` entries explain a step cut by the highest level.
    """

    rule: str
    description_zh: str
    description_en: str
    from_level: int
    to_level: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "description_zh": self.description_zh,
            "description_en": self.description_en,
            "from_level": self.from_level,
            "to_level": self.to_level,
        }


@dataclass(frozen=True)
class ScoreResult:
    template_code: str
    template_version: str
    items: dict[str, int]
    subtotals: dict[str, int]
    total: int | None
    """Sum of all item scores; None for templates without an overall total (MZ/T 039-2013)."""
    indicator_grades: dict[str, int]
    """Per-indicator grades 0–3 for templates that grade indicators (MZ/T 039-2013); else empty."""
    preliminary_level: int
    final_level: int
    adjustments: tuple[Adjustment, ...]
    diagnoses: tuple[str, ...]
    """The diagnoses as normalised ICD-10 codes."""
    risk_events_30d: dict[str, int]
    risk_event_count: int
    """Events in the window that count toward the risk-event rule."""
    coma: bool
    """Coma as applied: passed in, or implied by the template's consciousness item."""
    stack_adjustments: bool

    @property
    def template(self) -> Template:
        return get_template(self.template_code)

    @property
    def preliminary_level_name_zh(self) -> str:
        return self.template.level(self.preliminary_level).name_zh

    @property
    def preliminary_level_name_en(self) -> str:
        return self.template.level(self.preliminary_level).name_en

    @property
    def final_level_name_zh(self) -> str:
        return self.template.level(self.final_level).name_zh

    @property
    def final_level_name_en(self) -> str:
        return self.template.level(self.final_level).name_en

    @property
    def changed_by(self) -> tuple[str, ...]:
        """The rules that actually moved the level."""
        return tuple(a.rule for a in self.adjustments if a.to_level != a.from_level)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for storing with the assessment."""
        return {
            "template_code": self.template_code,
            "template_version": self.template_version,
            "items": dict(self.items),
            "subtotals": dict(self.subtotals),
            "total": self.total,
            "indicator_grades": dict(self.indicator_grades),
            "preliminary_level": self.preliminary_level,
            "final_level": self.final_level,
            "adjustments": [a.as_dict() for a in self.adjustments],
            "diagnoses": list(self.diagnoses),
            "risk_events_30d": dict(self.risk_events_30d),
            "risk_event_count": self.risk_event_count,
            "coma": self.coma,
            "stack_adjustments": self.stack_adjustments,
        }


@dataclass(frozen=True)
class PartialScore:
    """Running sums for a form being filled in."""

    template_code: str
    subtotals: dict[str, int]
    total: int | None
    """Sum of what is filled; None for templates without an overall total."""
    answered: int
    missing: tuple[str, ...]
    """Item codes not yet scored, in template order."""

    @property
    def complete(self) -> bool:
        return not self.missing


# --------------------------------------------------------------------------------------------------
# Loading templates
# --------------------------------------------------------------------------------------------------


def _req(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise TemplateDataError(f"{where}: missing key {key!r}")
    return data[key]


def _parse_item(data: Mapping[str, Any], indicator_code: str, where: str) -> Item:
    code = _req(data, "code", where)
    where = f"{where} {code}"
    if not code.startswith(indicator_code + "."):
        raise TemplateDataError(f"{where}: item code does not belong to indicator {indicator_code}")
    options = tuple(
        Option(score=_req(o, "score", where), text_zh=_req(o, "text_zh", where), text_en=o.get("text_en", ""))
        for o in _req(data, "options", where)
    )
    scores = [o.score for o in options]
    if not options or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in scores):
        raise TemplateDataError(f"{where}: options need non-negative integer scores")
    if len(set(scores)) != len(scores):
        raise TemplateDataError(f"{where}: duplicate option scores")
    return Item(
        code=code,
        name_zh=_req(data, "name_zh", where),
        name_en=_req(data, "name_en", where),
        indicator_code=indicator_code,
        options=options,
        description_zh=data.get("description_zh", ""),
        description_en=data.get("description_en", ""),
        note_zh=data.get("note_zh", ""),
        note_en=data.get("note_en", ""),
    )


def _reachable_sums(items: Iterable[Item]) -> set[int]:
    """Every subtotal the items' scores can add up to."""
    sums = {0}
    for item in items:
        sums = {s + score for s in sums for score in item.scores}
    return sums


def _check_cover(spans: list[tuple[int, int]], reachable: set[int], where: str) -> None:
    """The inclusive spans must not overlap, and every reachable sum must fall in one of them."""
    ordered = sorted(spans)
    if any(a > b for a, b in ordered):
        raise TemplateDataError(f"{where}: empty range")
    for (_, b), (c, _) in zip(ordered, ordered[1:], strict=False):
        if b >= c:
            raise TemplateDataError(f"{where}: ranges overlap")
    missed = sorted(v for v in reachable if not any(a <= v <= b for a, b in spans))
    if missed:
        raise TemplateDataError(f"{where}: no range for {missed}")


def _parse_indicator(data: Mapping[str, Any], where: str) -> Indicator:
    code = _req(data, "code", where)
    where = f"{where} {code}"
    items = tuple(_parse_item(i, code, where) for i in _req(data, "items", where))
    grading = data.get("grading") or {}
    method = grading.get("method", "")
    bands = tuple(GradeBand(grade=b["grade"], min=b["min"], max=b["max"]) for b in grading.get("bands", ()))
    indicator = Indicator(
        code=code,
        name_zh=_req(data, "name_zh", where),
        name_en=_req(data, "name_en", where),
        items=items,
        higher_is_better=bool(data.get("higher_is_better", True)),
        grading_method=method,
        grade_bands=bands,
    )
    if method == "sum_bands":
        _check_cover([(b.min, b.max) for b in bands], _reachable_sums(items), where)
    elif method and method not in _INDICATOR_GRADERS:
        raise TemplateDataError(f"{where}: unknown grading method {method!r}")
    return indicator


def _parse_template(data: Mapping[str, Any], source: str) -> Template:
    code = _req(data, "code", source)
    where = f"{source} ({code})"
    indicators = tuple(_parse_indicator(i, where) for i in _req(data, "indicators", where))
    levels = tuple(
        Level(
            level=lv["level"],
            name_zh=lv["name_zh"],
            name_en=lv["name_en"],
            full_name_zh=lv.get("full_name_zh", lv["name_zh"]),
            min_total=lv.get("min_total"),
            max_total=lv.get("max_total"),
        )
        for lv in _req(data, "levels", where)
    )
    rules = _req(data, "adjustment_rules", where)
    coma = _req(rules, "coma", where)
    risk = _req(rules, "risk_events", where)
    rule_texts = tuple(
        RuleText(
            rule=name,
            text_zh=_req(rules[name], "text_zh", where),
            text_en=_req(rules[name], "text_en", where),
            note_zh=rules[name].get("note_zh", ""),
            note_en=rules[name].get("note_en", ""),
        )
        for name in (RULE_COMA, RULE_DIAGNOSIS, RULE_RISK_EVENTS, RULE_CAP)
    )
    template = Template(
        code=code,
        version=str(_req(data, "version", where)),
        name_zh=_req(data, "name_zh", where),
        name_en=_req(data, "name_en", where),
        legacy=bool(data.get("legacy", False)),
        level_method=_req(_req(data, "level_rule", where), "method", where),
        indicators=indicators,
        levels=levels,
        grade_names=tuple(GradeName(**g) for g in data.get("grade_names", ())),
        coma_level=_req(coma, "to_level", where),
        coma_item=_req(coma, "item", where),
        coma_compatible_scores=tuple(_req(coma, "compatible_scores", where)),
        coma_implied_by_scores=tuple(coma.get("implied_by_scores", ())),
        risk_event_threshold=_req(risk, "threshold", where),
        risk_event_window_days=_req(risk, "window_days", where),
        risk_event_kinds=tuple(
            RiskEventKind(
                code=k["code"],
                name_zh=k["name_zh"],
                name_en=k["name_en"],
                counts_toward_rule=bool(k["counts_toward_rule"]),
            )
            for k in _req(data, "risk_event_kinds", where)
        ),
        risk_event_count_options=tuple(CountOption(**c) for c in data.get("risk_event_count_options", ())),
        diagnosis_ranges=tuple(DiagnosisRange(**r) for r in _req(data, "diagnosis_ranges", where)),
        rule_texts=rule_texts,
        notes_zh=tuple(data.get("notes_zh", ())),
        notes_en=tuple(data.get("notes_en", ())),
    )
    _check_template(template, where)
    return template


def _check_template(t: Template, where: str) -> None:
    codes = [item.code for item in t.items]
    if len(set(codes)) != len(codes):
        raise TemplateDataError(f"{where}: duplicate item codes")
    if len({ind.code for ind in t.indicators}) != len(t.indicators):
        raise TemplateDataError(f"{where}: duplicate indicator codes")
    if sorted(lv.level for lv in t.levels) != list(range(len(t.levels))):
        raise TemplateDataError(f"{where}: levels must be numbered 0..n")
    if t.level_method not in _LEVEL_METHODS:
        raise TemplateDataError(f"{where}: unknown level method {t.level_method!r}")
    if t.level_method == "total_bands":
        spans = []
        for lv in t.levels:
            if lv.min_total is None or lv.max_total is None:
                raise TemplateDataError(f"{where}: level {lv.level} has no total range")
            spans.append((lv.min_total, lv.max_total))
        _check_cover(spans, _reachable_sums(t.items), f"{where} levels")
    else:
        for ind in t.indicators:
            if not ind.grading_method:
                raise TemplateDataError(f"{where}: indicator {ind.code} has no grading")
        if sorted(g.grade for g in t.grade_names) != list(range(len(t.grade_names))):
            raise TemplateDataError(f"{where}: grade names must be numbered 0..n")
    if t.coma_level != t.max_level:
        raise TemplateDataError(f"{where}: coma must lead to the highest level")
    if t.coma_item not in t.item_index:
        raise TemplateDataError(f"{where}: coma item {t.coma_item} is not an item")
    allowed = set(t.item(t.coma_item).scores)
    if not set(t.coma_compatible_scores) <= allowed or not set(t.coma_implied_by_scores) <= allowed:
        raise TemplateDataError(f"{where}: coma scores are not scores of {t.coma_item}")
    if not set(t.coma_implied_by_scores) <= set(t.coma_compatible_scores):
        raise TemplateDataError(f"{where}: a score implying coma must be compatible with coma")
    if len({k.code for k in t.risk_event_kinds}) != len(t.risk_event_kinds):
        raise TemplateDataError(f"{where}: duplicate risk event kinds")
    if t.risk_event_threshold < 1:
        raise TemplateDataError(f"{where}: risk event threshold must be at least 1")
    for r in t.diagnosis_ranges:
        well_formed = _ICD10_CATEGORY_RE.match(r.first) and _ICD10_CATEGORY_RE.match(r.last)
        if not well_formed or r.first[0] != r.last[0]:
            raise TemplateDataError(f"{where}: bad diagnosis range {r.first}-{r.last}")


_TEMPLATE_DIR = "templates_data"


@cache
def _registry() -> dict[str, Template]:
    found: dict[str, Template] = {}
    folder = resources.files(__package__).joinpath(_TEMPLATE_DIR)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        template = _parse_template(data, entry.name)
        if template.code in found:
            raise TemplateDataError(f"{entry.name}: template code {template.code} defined twice")
        found[template.code] = template
    return found


def available_templates() -> tuple[str, ...]:
    """Codes of the known templates, current standards before legacy ones."""
    templates = _registry().values()
    return tuple(t.code for t in sorted(templates, key=lambda t: (t.legacy, t.code)))


def get_template(code: str) -> Template:
    """The template with this code (e.g. ``"GB/T 42195-2022"``); ScoringError if unknown."""
    template = _registry().get(code.strip()) if isinstance(code, str) else None
    if template is None:
        known = "、".join(available_templates())
        raise ScoringError(
            [
                FieldError(
                    "template_code",
                    "unknown_template",
                    f"未知的评估模板“{code}”，可用模板：{known}",
                    f"Unknown assessment template {code!r}; available: {', '.join(available_templates())}",
                )
            ]
        )
    return template


# --------------------------------------------------------------------------------------------------
# ICD-10
# --------------------------------------------------------------------------------------------------

_ICD10_CATEGORY_RE = re.compile(r"^[A-Z]\d{2}$")
# Category (letter + two digits), then optionally a subcategory of up to three characters
# (digits, or "x" as a placeholder in China's national clinical edition, e.g. F03.x00) with an
# optional national extension ("x001"), then optionally a dagger/asterisk mark (F00.9*, G30.9†).
_ICD10_RE = re.compile(r"^[A-Z]\d{2}(?:\.[0-9X]{1,3}(?:X\d{3})?)?[*†+]?$")


def normalize_icd10(raw: object) -> str | None:
    """A canonical ICD-10 code, or None if ``raw`` is not one.

    Accepts lower case, surrounding spaces and full-width characters typed with Chinese input
    methods: ``" f01.1 "`` → ``"F01.1"``, ``"Ｆ０３"`` → ``"F03"``, ``"F03.X00X001"`` → ``"F03.x00x001"``.
    """
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    if not _ICD10_RE.match(text):
        return None
    return text[0] + text[1:].lower()


# --------------------------------------------------------------------------------------------------
# Grading and levels
# --------------------------------------------------------------------------------------------------


def _grade_sum_bands(indicator: Indicator, scores: tuple[int, ...]) -> int:
    subtotal = sum(scores)
    for band in indicator.grade_bands:
        if band.min <= subtotal <= band.max:
            return band.grade
    raise ValueError(f"{indicator.code}: no grade for subtotal {subtotal}")


def _grade_mzt_sensory(indicator: Indicator, scores: tuple[int, ...]) -> int:
    """MZ/T 039-2013 感知觉与沟通, from its four items in order (higher score = worse):
    consciousness 0 alert/1 drowsy/2 stupor/3 coma, vision 0–4, hearing 0–4, communication 0–3.
    Most severe clause first, so each combination gets exactly one grade."""
    consciousness, vision, hearing, communication = scores
    if consciousness >= 2 or vision == 4 or hearing == 4 or communication == 3:
        return 3
    if consciousness == 1 or vision == 3 or hearing == 3 or communication == 2:
        return 2
    if vision == 2 or hearing == 2 or communication == 1:
        return 1
    return 0


_INDICATOR_GRADERS: dict[str, Callable[[Indicator, tuple[int, ...]], int]] = {
    "sum_bands": _grade_sum_bands,
    "mz_t_039_2013_sensory": _grade_mzt_sensory,
}


def _mzt_combined_level(adl: int, mental: int, sensory: int, social: int) -> int:
    """MZ/T 039-2013 level from the four indicator grades (see the template's level_rule note).

    The standard's clauses, completed for the combinations they leave open and read most severe
    first: with ADL at 1 or 2, any other indicator at 3 or all three at 2 is one level worse than
    otherwise.
    """
    others = (mental, sensory, social)
    if adl == 3:
        return 3
    worse = 3 in others or all(g == 2 for g in others)
    if adl == 2:
        return 3 if worse else 2
    if adl == 1:
        return 2 if worse else 1
    return 0 if mental == 0 and sensory == 0 and social <= 1 else 1


def _level_total_bands(template: Template, scores: Mapping[str, int]) -> tuple[int, dict[str, int], int]:
    total = sum(scores.values())
    return total, {}, template.level_for_total(total)


def _level_mzt(template: Template, scores: Mapping[str, int]) -> tuple[None, dict[str, int], int]:
    grades = {}
    for ind in template.indicators:
        grader = _INDICATOR_GRADERS[ind.grading_method]
        grades[ind.code] = grader(ind, tuple(scores[item.code] for item in ind.items))
    level = _mzt_combined_level(grades["B.1"], grades["B.2"], grades["B.3"], grades["B.4"])
    return None, grades, level


_LEVEL_METHODS: dict[str, Callable[[Template, Mapping[str, int]], tuple[int | None, dict[str, int], int]]] = {
    "total_bands": _level_total_bands,
    "mz_t_039_2013": _level_mzt,
}


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


_Checked = tuple[dict[str, int], list[FieldError]]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_items(template: Template, items: object, *, require_all: bool) -> _Checked:
    """Valid scores by item code (template order), and the errors. A None value means "not filled"."""
    if not isinstance(items, Mapping):
        return {}, [
            FieldError(
                "items",
                "invalid_type",
                "评估项目得分应为“项目编码: 得分”形式的映射",
                "items must map item codes to scores",
            )
        ]
    clean: dict[str, int] = {}
    errors: list[FieldError] = []
    for item in template.items:
        path = f"items.{item.code}"
        value = items.get(item.code)
        if value is None:
            if require_all:
                errors.append(
                    FieldError(
                        path,
                        "missing_item",
                        f"缺少“{item.name_zh}”（{item.code}）的得分",
                        f"Score missing for {item.name_en} ({item.code})",
                    )
                )
        elif not _is_int(value):
            errors.append(
                FieldError(
                    path,
                    "not_integer",
                    f"“{item.name_zh}”（{item.code}）的得分应为整数，收到 {value!r}",
                    f"Score for {item.name_en} ({item.code}) must be a whole number, got {value!r}",
                )
            )
        elif not item.min_score <= value <= item.max_score:
            low, high = item.min_score, item.max_score
            errors.append(
                FieldError(
                    path,
                    "out_of_range",
                    f"“{item.name_zh}”（{item.code}）的得分应在 {low}～{high} 分之间，收到 {value}",
                    f"Score for {item.name_en} ({item.code}) must be {low} to {high}, got {value}",
                )
            )
        elif value not in item.scores:
            allowed = "/".join(str(s) for s in item.scores)
            errors.append(
                FieldError(
                    path,
                    "invalid_option",
                    f"“{item.name_zh}”（{item.code}）的得分只能是 {allowed} 之一，收到 {value}",
                    f"Score for {item.name_en} ({item.code}) must be one of {allowed}, got {value}",
                )
            )
        else:
            clean[item.code] = value
    for key in items:
        if key not in template.item_index:
            errors.append(
                FieldError(
                    f"items.{key}",
                    "unknown_item",
                    f"模板 {template.code} 中没有评估项目“{key}”",
                    f"Template {template.code} has no item {key!r}",
                )
            )
    return clean, errors


def _check_diagnoses(diagnoses: object) -> tuple[tuple[str, ...], list[FieldError]]:
    if diagnoses is None:
        return (), []
    if isinstance(diagnoses, (str, bytes)) or not isinstance(diagnoses, Iterable):
        return (), [
            FieldError(
                "diagnoses",
                "invalid_type",
                "疾病诊断应为ICD-10编码的列表",
                "diagnoses must be a list of ICD-10 codes",
            )
        ]
    codes: list[str] = []
    errors: list[FieldError] = []
    for index, raw in enumerate(diagnoses):
        code = normalize_icd10(raw)
        if code is None:
            errors.append(
                FieldError(
                    f"diagnoses.{index}",
                    "invalid_icd10",
                    f"{raw!r} 不是有效的ICD-10编码（例如 F03、F01.1）",
                    f"{raw!r} is not a valid ICD-10 code (e.g. F03, F01.1)",
                )
            )
        elif code not in codes:
            codes.append(code)
    return tuple(codes), errors


def _check_risk_events(template: Template, events: object) -> _Checked:
    if events is None:
        return {}, []
    if not isinstance(events, Mapping):
        return {}, [
            FieldError(
                "risk_events_30d",
                "invalid_type",
                "照护风险事件应为“事件类型: 次数”形式的映射",
                "risk_events_30d must map event kinds to counts",
            )
        ]
    kinds = "、".join(k.code for k in template.risk_event_kinds)
    clean: dict[str, int] = {}
    errors: list[FieldError] = []
    for key, count in events.items():
        path = f"risk_events_30d.{key}"
        kind = template.risk_event_kind(key) if isinstance(key, str) else None
        if kind is None:
            errors.append(
                FieldError(
                    path,
                    "unknown_risk_event",
                    f"未知的照护风险事件类型“{key}”，可选：{kinds}",
                    f"Unknown care-risk event kind {key!r}; one of {kinds.replace('、', ', ')}",
                )
            )
        elif not _is_int(count):
            errors.append(
                FieldError(
                    path,
                    "not_integer",
                    f"“{kind.name_zh}”的次数应为整数，收到 {count!r}",
                    f"Count of {kind.name_en.lower()} events must be a whole number, got {count!r}",
                )
            )
        elif count < 0:
            errors.append(
                FieldError(
                    path,
                    "negative_count",
                    f"“{kind.name_zh}”的次数不能为负数，收到 {count}",
                    f"Count of {kind.name_en.lower()} events cannot be negative, got {count}",
                )
            )
        else:
            clean[key] = count
    return clean, errors


def _check_flag(name: str, value: object) -> list[FieldError]:
    if isinstance(value, bool):
        return []
    return [FieldError(name, "invalid_type", f"{name} 应为布尔值", f"{name} must be true or false")]


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------


def score(
    template_code: str,
    items: Mapping[str, int],
    *,
    diagnoses: Iterable[str] | None = (),
    risk_events_30d: Mapping[str, int] | None = None,
    coma: bool = False,
    stack_adjustments: bool = False,
) -> ScoreResult:
    """Score a complete assessment.

    ``items`` maps every item code of the template to its score. ``diagnoses`` are the confirmed
    ICD-10 codes (any may have a subcode); ``risk_events_30d`` maps care-risk event kinds ("fall",
    "wandering", "choking", "self_harm", "other") to how often they happened in the last 30 days;
    ``coma`` is the Annex A coma item; ``stack_adjustments`` is the jurisdiction's setting for
    whether the two "one level up" rules add up.

    Raises ScoringError listing every invalid field.
    """
    template = get_template(template_code)
    scores, errors = _check_items(template, items, require_all=True)
    dx, dx_errors = _check_diagnoses(diagnoses)
    events, event_errors = _check_risk_events(template, risk_events_30d)
    errors += dx_errors + event_errors
    errors += _check_flag("coma", coma) + _check_flag("stack_adjustments", stack_adjustments)
    coma_score = scores.get(template.coma_item)
    if coma is True and coma_score is not None and coma_score not in template.coma_compatible_scores:
        item = template.item(template.coma_item)
        allowed = "/".join(str(s) for s in template.coma_compatible_scores)
        errors.append(
            FieldError(
                "coma",
                "coma_conflict",
                f"记录为昏迷时，“{item.name_zh}”（{item.code}）应为 {allowed} 分，收到 {coma_score} 分",
                f"With coma recorded, {item.name_en} ({item.code}) must be {allowed}, got {coma_score}",
            )
        )
    if errors:
        raise ScoringError(errors)

    subtotals = {ind.code: sum(scores[item.code] for item in ind.items) for ind in template.indicators}
    total, grades, preliminary = _LEVEL_METHODS[template.level_method](template, scores)
    in_coma = coma is True or coma_score in template.coma_implied_by_scores
    counted = {}
    for key, n in events.items():
        kind = template.risk_event_kind(key)
        if n > 0 and kind is not None and kind.counts_toward_rule:
            counted[key] = n
    adjustments = _adjust(
        template,
        preliminary,
        in_coma=in_coma,
        diagnoses=dx,
        counted_events=counted,
        stack=stack_adjustments,
    )
    final = adjustments[-1].to_level if adjustments else preliminary
    return ScoreResult(
        template_code=template.code,
        template_version=template.version,
        items=scores,
        subtotals=subtotals,
        total=total,
        indicator_grades=grades,
        preliminary_level=preliminary,
        final_level=final,
        adjustments=tuple(adjustments),
        diagnoses=dx,
        risk_events_30d=events,
        risk_event_count=sum(counted.values()),
        coma=in_coma,
        stack_adjustments=stack_adjustments,
    )


def _adjust(
    template: Template,
    preliminary: int,
    *,
    in_coma: bool,
    diagnoses: tuple[str, ...],
    counted_events: Mapping[str, int],
    stack: bool,
) -> list[Adjustment]:
    top = template.level(template.max_level)
    if in_coma:
        return [
            Adjustment(
                RULE_COMA,
                f"处于昏迷状态，直接评定为{top.name_zh}",
                f"In a coma: rated {top.name_en.lower()} directly",
                preliminary,
                top.level,
            )
        ]

    # (rule, Chinese description, English description, short Chinese name, short English name)
    raises: list[tuple[str, str, str, str, str]] = []
    matched = [c for c in diagnoses if any(r.contains(c) for r in template.diagnosis_ranges)]
    if matched:
        codes_zh, codes_en = "、".join(matched), ", ".join(matched)
        raises.append(
            (
                RULE_DIAGNOSIS,
                f"确诊痴呆或其他精神和行为障碍（{codes_zh}），在原有等级上提高一个等级",
                f"Diagnosed dementia or other mental and behavioural disorder ({codes_en}): one level up",
                "痴呆或精神和行为障碍",
                "dementia or mental disorder",
            )
        )
    count = sum(counted_events.values())
    if count >= template.risk_event_threshold:
        window = template.risk_event_window_days
        kinds = [(template.risk_event_kind(k), n) for k, n in counted_events.items()]
        detail_zh = "、".join(f"{kind.name_zh}{n}次" for kind, n in kinds if kind)
        detail_en = ", ".join(f"{kind.name_en.lower()} ×{n}" for kind, n in kinds if kind)
        raises.append(
            (
                RULE_RISK_EVENTS,
                f"近{window}天内发生照护风险事件{count}次（{detail_zh}），达到{template.risk_event_threshold}次及以上，"
                "在原有等级上提高一个等级",
                f"{count} care-risk events in the last {window} days ({detail_en}), "
                f"{template.risk_event_threshold} or more: one level up",
                "照护风险事件",
                "care-risk events",
            )
        )

    adjustments: list[Adjustment] = []
    level = preliminary
    raised = False
    cut: list[tuple[str, str]] = []
    for rule, text_zh, text_en, short_zh, short_en in raises:
        if raised and not stack:
            adjustments.append(
                Adjustment(
                    rule,
                    text_zh + "；两条“提高一个等级”的规则不叠加，本条不再提高",
                    text_en + "; not applied, the one-level-up rules do not stack",
                    level,
                    level,
                )
            )
            continue
        raised = True
        if level >= top.level:
            adjustments.append(Adjustment(rule, text_zh, text_en, level, level))
            cut.append((short_zh, short_en))
        else:
            adjustments.append(Adjustment(rule, text_zh, text_en, level, level + 1))
            level += 1
    if cut:
        adjustments.append(
            Adjustment(
                RULE_CAP,
                f"已达最高等级“{top.name_zh}”，{'、'.join(z for z, _ in cut)}的提高一个等级不再计入",
                f"Already at the highest level ({top.name_en.lower()}); the step up for "
                f"{' and '.join(e for _, e in cut)} is cut",
                level,
                level,
            )
        )
    return adjustments


def partial_subtotals(template_code: str, items: Mapping[str, int | None]) -> PartialScore:
    """Sums of the items filled in so far, for a form that saves as it goes.

    Missing items (absent or None) are listed, not errors; a filled-in score must still be valid,
    otherwise ScoringError.
    """
    template = get_template(template_code)
    scores, errors = _check_items(template, items, require_all=False)
    if errors:
        raise ScoringError(errors)
    subtotals = {ind.code: sum(scores.get(item.code, 0) for item in ind.items) for ind in template.indicators}
    return PartialScore(
        template_code=template.code,
        subtotals=subtotals,
        total=sum(subtotals.values()) if template.level_method == "total_bands" else None,
        answered=len(scores),
        missing=tuple(code for code in template.item_codes if code not in scores),
    )
