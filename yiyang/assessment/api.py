"""Ability assessments over REST, mounted at /api/v1/assessments: the stateless calculator, the templates, and
the workflow (request → assign → answers → submit → publish/return → dispute/cancel), scoped like the pages."""

import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict
from pydantic.json_schema import SkipJsonSchema

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region, Role
from yiyang.core.navigation import STAFF
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from . import policy, scoring, selectors, services
from .models import Assessment, Reason

router = Router(tags=["assessments"])



def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


# ------------------------------------------------------------------------------------------- calculator

RISK_EXAMPLE = {"fall": 0, "choking": 0, "wandering": 0, "self_harm": 0, "other": 0}
ITEMS_EXAMPLE = {
    "B.1.1": 4, "B.1.2": 4, "B.1.3": 3, "B.1.4": 4, "B.1.5": 3, "B.1.6": 4, "B.1.7": 3, "B.1.8": 4,
    "B.2.1": 4, "B.2.2": 3, "B.2.3": 3, "B.2.4": 2,
    "B.3.1": 3, "B.3.2": 4, "B.3.3": 4, "B.3.4": 3, "B.3.5": 4, "B.3.6": 4, "B.3.7": 1, "B.3.8": 0, "B.3.9": 2,
    "B.4.1": 1, "B.4.2": 1, "B.4.3": 3, "B.4.4": 2, "B.4.5": 3,
}


class ScoreIn(Schema):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(scoring.GBT_42195_2022, max_length=column(Assessment, "template_code"),
                          description="Template code: `GB/T 42195-2022` (current) or `MZ/T 039-2013` (legacy).")
    items: dict[str, Any] = Field(..., description="Every item code of the template → its score (integers; "
                                                   "GB/T 42195-2022 has 26 items B.1.1 … B.4.5).",
                                  examples=[ITEMS_EXAMPLE])
    diagnoses: list[Any] = Field([], description="Confirmed ICD-10 codes, e.g. `F03`, `F01.1`, `I10`. "
                                                 "F00–F03 (dementia) and F04–F99 raise the level by one.",
                                 examples=[["F01", "I10"]])
    risk_events_30d: dict[str, Any] = Field({}, description="Care-risk events in the last 30 days by kind "
                                                            "(`fall`, `choking`, `wandering`, `self_harm`, `other`) "
                                                            "→ count; 2 or more in all raise the level by one.",
                                            examples=[RISK_EXAMPLE])
    coma: bool = Field(False, description="Annex A coma: rated 完全失能 (level 4) directly, overriding the rest.")
    stack_adjustments: bool | None = Field(
        None, description="Whether the two one-level-up rules add up. Default: the jurisdiction's setting "
                          "(`region`, else the caller's scope; without a policy they do not).")
    region: str | None = Field(None, max_length=column(Region, "code"),
                               description="Region code whose assessment policy applies (default: the caller's).")


class AdjustmentOut(Schema):
    rule: str = Field(..., description="`coma`, `dementia_or_mental_disorder`, `risk_events` or `cap`.")
    description: str = Field(..., description="In the caller's language.")
    description_zh: str
    description_en: str
    from_level: int
    to_level: int


class ScoreOut(Schema):
    template: str
    template_version: str
    subtotals: dict[str, int] = Field(..., description="First-level indicator code → subtotal.")
    total: int | None = Field(..., description="0–90; null for MZ/T 039-2013, which has no total.")
    indicator_grades: dict[str, int] = Field({}, description="MZ/T 039-2013 only: indicator → grade 0–3.")
    preliminary_level: int = Field(..., description="0 能力完好, 1 轻度失能, 2 中度失能, 3 重度失能, 4 完全失能.")
    preliminary_level_name: str
    final_level: int = Field(..., description="After the adjustments; never above the template's highest level.")
    final_level_name: str
    adjustments: list[AdjustmentOut]
    stack_adjustments: bool
    policy_region: str = Field("", description="Where the applied policy was set; empty for the defaults.")
    coma: bool
    risk_event_count: int
    diagnoses: list[str]


def result_out(result: scoring.ScoreResult, policy_region: str = "") -> dict:
    en = _english()
    t = result.template
    return {
        "template": result.template_code, "template_version": result.template_version,
        "subtotals": dict(result.subtotals), "total": result.total, "indicator_grades": dict(result.indicator_grades),
        "preliminary_level": result.preliminary_level,
        "preliminary_level_name": t.level(result.preliminary_level).name_en if en else
        t.level(result.preliminary_level).name_zh,
        "final_level": result.final_level,
        "final_level_name": result.final_level_name_en if en else result.final_level_name_zh,
        "adjustments": [{**a.as_dict(), "description": a.description_en if en else a.description_zh}
                        for a in result.adjustments],
        "stack_adjustments": result.stack_adjustments, "policy_region": policy_region, "coma": result.coma,
        "risk_event_count": result.risk_event_count, "diagnoses": list(result.diagnoses),
    }


@router.post("score", response={200: ScoreOut, **ERRORS}, summary="Score an assessment (stateless calculator)")
def score(request, payload: ScoreIn):
    """Computes subtotals, total, preliminary and final level with the adjustments, exactly as a submitted
    assessment is scored, without storing anything. For tablets and integrations; any staff role.

    Invalid input answers 422 with one entry per problem, e.g. `items.B.2.4` (`out_of_range`, stairs are 0–3),
    `items.B.9.9` (`unknown_item`), `items.B.1.3` (`missing_item`), `diagnoses.0` (`invalid_icd10`),
    `risk_events_30d.fall` (`negative_count`), `coma` (`coma_conflict`: coma needs B.3.9 = 0)."""
    require_roles(request.user, *STAFF)
    region = payload.region or request.user.scope_code or settings.DEFAULT_JURISDICTION_CODE
    jurisdiction = selectors.policy_for(region)
    stack = jurisdiction.stack_adjustments if payload.stack_adjustments is None else payload.stack_adjustments
    try:
        result = scoring.score(payload.template, payload.items, diagnoses=payload.diagnoses,
                               risk_events_30d=payload.risk_events_30d, coma=payload.coma, stack_adjustments=stack)
    except scoring.ScoringError as exc:
        raise services.scoring_validation_error(exc, renames={"template_code": "template"}) from None
    return result_out(result, jurisdiction.region_code if payload.stack_adjustments is None else "")


class OptionOut(Schema):
    score: int
    text: str
    text_zh: str
    text_en: str


class ItemOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str
    description: str
    min_score: int
    max_score: int
    options: list[OptionOut]


class IndicatorOut(Schema):
    code: str
    name: str
    name_zh: str
    max_subtotal: int
    items: list[ItemOut]


class LevelOut(Schema):
    level: int
    name: str
    name_zh: str
    min_total: int | None
    max_total: int | None


class NamedOut(Schema):
    code: str
    name: str


class TemplateOut(Schema):
    code: str
    version: str
    name: str
    legacy: bool
    max_total: int | None
    indicators: list[IndicatorOut]
    levels: list[LevelOut]
    risk_event_kinds: list[NamedOut]
    risk_event_threshold: int


def _template_out(t: scoring.Template) -> dict:
    en = _english()

    def pick(zh, eng):
        return eng if en and eng else zh

    return {
        "code": t.code, "version": t.version, "name": pick(t.name_zh, t.name_en), "legacy": t.legacy,
        "max_total": t.max_total if t.level_method == "total_bands" else None,
        "indicators": [{
            "code": ind.code, "name": pick(ind.name_zh, ind.name_en), "name_zh": ind.name_zh,
            "max_subtotal": ind.max_subtotal,
            "items": [{
                "code": i.code, "name": pick(i.name_zh, i.name_en), "name_zh": i.name_zh, "name_en": i.name_en,
                "description": pick(i.description_zh, i.description_en), "min_score": i.min_score,
                "max_score": i.max_score,
                "options": [{"score": o.score, "text": pick(o.text_zh, o.text_en), "text_zh": o.text_zh,
                             "text_en": o.text_en} for o in i.options],
            } for i in ind.items],
        } for ind in t.indicators],
        "levels": [{"level": lv.level, "name": pick(lv.name_zh, lv.name_en), "name_zh": lv.name_zh,
                    "min_total": lv.min_total, "max_total": lv.max_total} for lv in t.levels],
        "risk_event_kinds": [{"code": k.code, "name": pick(k.name_zh, k.name_en)} for k in t.risk_event_kinds],
        "risk_event_threshold": t.risk_event_threshold,
    }


@router.get("templates", response={200: list[TemplateOut], **ERRORS}, summary="Assessment templates (forms as data)")
def templates(request):
    """Every template with its indicators, items, options and level bands, current standard first: what a
    tablet needs to draw the form offline."""
    require_roles(request.user, *STAFF)
    return [_template_out(scoring.get_template(code)) for code in scoring.available_templates()]


# ---------------------------------------------------------------------------------------------- workflow

class PersonOut(Schema):
    id: int
    name: str


class ElderRef(Schema):
    id: int
    name: str
    sex: str
    age: int
    region: str


class AssessmentSummaryOut(Schema):
    id: int
    number: str
    elder: ElderRef
    reason: str
    source: str
    status: str
    status_label: str
    requested_at: datetime.datetime
    due_on: datetime.date | None
    agency: PersonOut | None
    assessor_1: PersonOut | None
    assessor_2: PersonOut | None
    scheduled_for: datetime.date | None
    template: str
    template_version: str
    final_level: int | None
    level_name: str
    assessed_on: datetime.date | None
    published_at: datetime.datetime | None
    valid_until: datetime.date | None


class ContactOut(Schema):
    name: str
    relationship: str
    phone: str
    is_guardian: bool


class VisitOut(Schema):
    """What the assessors need to arrange the visit; nothing else of the register (no bank, no full ID)."""

    address: str
    location: str
    phone: str
    region: str
    id_number_masked: str
    contact: ContactOut | None


class DisclosureOut(Schema):
    items: bool = Field(..., description="The item scores are included (`items`, `missing`).")
    health: bool = Field(..., description="The health record is included (`info`, adjustments in words).")
    visit: bool = Field(..., description="The visit details are included (`visit`).")


class AssessmentOut(AssessmentSummaryOut):
    request_note: str
    disclosure: DisclosureOut
    items: dict[str, int] | None = Field(None, description="Item code → score: for the agency's assessors and "
                                                           "reviewers, the bureau and the person/family.")
    missing: list[str] | None
    subtotals: dict[str, int]
    total: int | None
    indicator_grades: dict[str, int]
    preliminary_level: int | None
    adjustments: list[AdjustmentOut] = Field(..., description="Without the health record, a level change says "
                                                              "which levels (`rule`: `health_information`), "
                                                              "not the diagnosis or events behind it.")
    stack_adjustments: bool | None
    submitted_at: datetime.datetime | None
    reviewed_at: datetime.datetime | None
    reviewed_by: PersonOut | None
    review_note: str
    supersedes: int | None
    dispute_reason: str
    cancel_reason: str
    info: dict | None = Field(None, description="Annex A (health data): for the agency's assessors and "
                                                "reviewers, the bureau and the person/family only; every read is "
                                                "logged (`view_health`).")
    visit: VisitOut | None = Field(None, description="Address, phone and a contact, while the visit is to be "
                                                     "made (and for region staff and the family).")


def _person(u) -> dict | None:
    return {"id": u.pk, "name": str(u)} if u is not None else None


def _summary(a: Assessment, today: datetime.date) -> dict:
    e = a.elder
    return {
        "id": a.pk, "number": a.number,
        "elder": {"id": e.pk, "name": e.name, "sex": e.sex, "age": e.age_on(today), "region": e.residence_region_id},
        "reason": a.reason, "source": a.source, "status": a.status, "status_label": a.get_status_display(),
        "requested_at": a.requested_at, "due_on": a.due_on,
        "agency": {"id": a.agency.pk, "name": a.agency.name} if a.agency_id else None,
        "assessor_1": _person(a.assessor_1), "assessor_2": _person(a.assessor_2), "scheduled_for": a.scheduled_for,
        "template": a.template_code, "template_version": a.template_version, "final_level": a.final_level,
        "level_name": a.level_name, "assessed_on": a.assessed_on, "published_at": a.published_at,
        "valid_until": a.valid_until,
    }


def _detail(request, a: Assessment) -> dict:
    # The same record as the page's and the PDF's; opening it with the health record is audited.
    record = services.open_record(actor=request.user, assessment=a, channel="API")
    out = _summary(a, timezone.localdate())
    out.update({
        "request_note": a.request_note,
        "disclosure": {"items": record.items_shown, "health": record.health, "visit": record.visit is not None},
        "items": record.items, "missing": record.missing,
        "subtotals": record.subtotals, "total": record.total, "indicator_grades": record.indicator_grades,
        "preliminary_level": record.preliminary_level, "adjustments": record.adjustments,
        "stack_adjustments": a.stack_adjustments, "submitted_at": a.submitted_at, "reviewed_at": a.reviewed_at,
        "reviewed_by": _person(a.reviewed_by), "review_note": a.review_note, "supersedes": a.supersedes_id,
        "dispute_reason": a.dispute_reason, "cancel_reason": a.cancel_reason, "info": record.info,
        "visit": record.visit,
    })
    return out


def _get(request, pk: int, action: str = "view") -> Assessment:
    qs = Assessment.objects.select_related(*selectors.LIST_RELATED, "reviewed_by")
    return get_scoped_or_404(qs, request.user, action, pk=pk)


class ListFilters(Schema):
    status: str = Field("", max_length=column(Assessment, "status"),
                        description="A status, or `open` for everything under way.")
    reason: str = Field("", max_length=column(Assessment, "reason"))
    region: str = Field("", max_length=column(Region, "code"),
                        description="Region code (prefix) of where the elder lives.")
    elder: Id | None = None
    mine: bool = Field(False, description="Assessors: only those where I am one of the two assessors.")


@router.get("", response={200: list[AssessmentSummaryOut], **ERRORS}, summary="Assessments in my scope")
@paginated
def list_assessments(request, filters: Query[ListFilters]):
    require_roles(request.user, *REGION_STAFF, Role.ASSESSOR, Role.FAMILY, Role.ELDER)
    qs = selectors.assessments_for(user=request.user, filters=selectors.AssessmentFilters(
        status=filters.status, reason=filters.reason, region=filters.region, mine=filters.mine))
    if filters.elder:
        qs = qs.filter(elder_id=filters.elder)
    today = timezone.localdate()
    return Rows(qs, lambda page: [_summary(a, today) for a in page])


class RequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    elder: Id
    reason: Reason = Field(..., description="`first` 首次评估, `routine` 常规评估, `immediate` 即时评估 "
                                            "(`review` 复评 comes from `POST {id}/dispute`).")
    agency: Id | None = Field(None, description="Assessment agency; default the one serving the county.")
    note: str = Field("", max_length=column(Assessment, "request_note"))


@router.post("", response={201: AssessmentOut, **ERRORS}, summary="Request an assessment")
def request_assessment(request, payload: RequestIn):
    """Street/community workers and the bureau for elders of their jurisdiction; the elder or family for
    themselves. One assessment under way per person."""
    from yiyang.registry.models import Elder

    require_roles(request.user, *REGION_STAFF, Role.FAMILY, Role.ELDER)
    elder = get_scoped_or_404(Elder.objects.select_related("residence_region"), request.user, "view",
                              pk=payload.elder)
    agency = None
    if payload.agency:
        agency = selectors.assessment_agencies().filter(pk=payload.agency).first()
        if agency is None:
            from django.core.exceptions import ValidationError

            raise ValidationError({"agency": _("所选机构不是在营的评估机构。")})
    a = services.request_assessment(actor=request.user, elder=elder, reason=payload.reason, agency=agency,
                                    note=payload.note)
    return Status(201, _detail(request, _get(request, a.pk)))


@router.get("{int:assessment_id}", response={200: AssessmentOut, **ERRORS}, summary="One assessment")
def get_assessment(request, assessment_id: Id):
    return _detail(request, _get(request, assessment_id))


class AssignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    assessor_1: Id = Field(..., description="Account id of the lead assessor (an assessor of the agency).")
    assessor_2: Id = Field(..., description="Account id of the second assessor: another person.")
    scheduled_for: datetime.date | None = None
    location: str = Field("", max_length=column(Assessment, "location"))


@router.post("{int:assessment_id}/assign", response={200: AssessmentOut, **ERRORS},
             summary="Assign two assessors (the agency)")
def assign(request, assessment_id: Id, payload: AssignIn):
    from yiyang.core.models import User

    a = _get(request, assessment_id, "change")
    people = {u.pk: u for u in User.objects.filter(pk__in=[payload.assessor_1, payload.assessor_2])}
    services.assign(actor=request.user, assessment=a, assessor_1=people.get(payload.assessor_1),
                    assessor_2=people.get(payload.assessor_2), scheduled_for=payload.scheduled_for,
                    location=payload.location)
    return _detail(request, _get(request, assessment_id))


class ComputedFieldsRefused(Schema):
    """Hidden fields caught to answer with a clear message: the level is computed, never sent."""

    final_level: SkipJsonSchema[Any] = None
    preliminary_level: SkipJsonSchema[Any] = None
    level: SkipJsonSchema[Any] = None
    total: SkipJsonSchema[Any] = None
    subtotals: SkipJsonSchema[Any] = None
    adjustments: SkipJsonSchema[Any] = None


class AnswersIn(ComputedFieldsRefused):
    model_config = ConfigDict(extra="forbid")

    items: dict[str, Any] | None = Field(None, description="Item code → score; `null` clears an answer. Only "
                                                           "the items sent change.", examples=[{"B.1.1": 4}])
    info: dict[str, Any] | None = Field(
        None, description="Annex A fields to change: `informant_name`, `informant_relationship` (self, spouse, "
                          "child, relative, caregiver, official, other), `diagnoses` (ICD-10 codes), "
                          "`diagnosis_note`, `medication`, `risk_events_30d` (kind → 0–3), `health_problems`, "
                          "`health_note`, `coma`.")


class ProgressOut(Schema):
    subtotals: dict[str, int]
    total: int | None
    answered: int
    missing: list[str]
    complete: bool


def _refuse_computed(payload: ComputedFieldsRefused) -> None:
    services.refuse_computed_fields({f: getattr(payload, f) for f in services.COMPUTED_FIELDS})


@router.patch("{int:assessment_id}/answers", response={200: ProgressOut, **ERRORS},
              summary="Save answers as they are given (the two assessors)")
def save_answers(request, assessment_id: Id, payload: AnswersIn):
    """Autosave from the tablet. Sending `final_level` (or any result field) is refused: the level is computed
    at submission."""
    _refuse_computed(payload)
    a = _get(request, assessment_id, "change")
    partial = services.save_answers(actor=request.user, assessment=a, items=payload.items, info=payload.info)
    return {"subtotals": partial.subtotals, "total": partial.total, "answered": partial.answered,
            "missing": list(partial.missing), "complete": partial.complete}


class SubmitIn(ComputedFieldsRefused):
    model_config = ConfigDict(extra="forbid")

    assessed_on: datetime.date | None = Field(None, description="Default today.")


@router.post("{int:assessment_id}/submit", response={200: AssessmentOut, **ERRORS},
             summary="Submit for review (computes the result)")
def submit(request, assessment_id: Id, payload: SubmitIn):
    """Refused with every missing item listed (`items.B.x.y`: `missing_item`) while anything is incomplete."""
    _refuse_computed(payload)
    a = _get(request, assessment_id, "change")
    services.submit(actor=request.user, assessment=a, assessed_on=payload.assessed_on)
    return _detail(request, _get(request, assessment_id))


class NoteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(Assessment, "review_note"))


class ReasonIn(Schema):
    """Sending back (kept as the review note) or disputing (the dispute reason)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=min(column(Assessment, "review_note"), column(Assessment, "dispute_reason")))


class CorrectIn(Schema):
    """The reason opens the correcting assessment as its request note."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=column(Assessment, "request_note"))


class CancelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=column(Assessment, "cancel_reason"))


@router.post("{int:assessment_id}/publish", response={200: AssessmentOut, **ERRORS},
             summary="Approve and publish (a reviewer of the agency)")
def publish(request, assessment_id: Id, payload: NoteIn):
    """Any assessor account of the agency other than the two who assessed. The result becomes the elder's
    current level and can no longer change."""
    a = _get(request, assessment_id, "change")
    services.publish(actor=request.user, assessment=a, note=payload.note)
    return _detail(request, _get(request, assessment_id))


@router.post("{int:assessment_id}/return", response={200: AssessmentOut, **ERRORS},
             summary="Send back to the assessors with a reason")
def send_back(request, assessment_id: Id, payload: ReasonIn):
    a = _get(request, assessment_id, "change")
    services.send_back(actor=request.user, assessment=a, reason=payload.reason)
    return _detail(request, _get(request, assessment_id))


@router.post("{int:assessment_id}/dispute", response={201: AssessmentOut, **ERRORS},
             summary="Dispute a published result (opens a 复评)")
def dispute(request, assessment_id: Id, payload: ReasonIn):
    a = _get(request, assessment_id)
    new = services.dispute(actor=request.user, assessment=a, reason=payload.reason)
    return Status(201, _detail(request, _get(request, new.pk)))


@router.post("{int:assessment_id}/correct", response={201: AssessmentOut, **ERRORS},
             summary="Correct a published result (the agency; opens a new assessment)")
def correct(request, assessment_id: Id, payload: CorrectIn):
    """Published results never change. A correction is a new assessment that supersedes the old one, starting
    from a copy of its answers and assigned to the same two assessors; it replaces the old result once it is
    reviewed and published."""
    a = _get(request, assessment_id, "change")
    new = services.correct(actor=request.user, assessment=a, reason=payload.reason)
    return Status(201, _detail(request, _get(request, new.pk)))


@router.post("{int:assessment_id}/cancel", response={200: AssessmentOut, **ERRORS},
             summary="Cancel an assessment under way")
def cancel(request, assessment_id: Id, payload: CancelIn):
    a = _get(request, assessment_id)
    services.cancel(actor=request.user, assessment=a, reason=payload.reason)
    return _detail(request, _get(request, assessment_id))


# The 200 is a file, not a schema: it is documented only in openapi_extra (a `200` in `response` as well
# gave the OpenAPI document two "200" keys, int and str, which the docs page refused to parse).
@router.get("{int:assessment_id}/report.pdf", response=ERRORS, summary="Printable report (PDF)",
            openapi_extra={"responses": {"200": {
                "description": "The report, A4, in Chinese.",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}})
def report(request, assessment_id: Id):
    from .pdf import report_response

    a = _get(request, assessment_id)
    policy.may_view_report_assessment(request.user, a).require()
    return report_response(request, a)


class LevelHistoryOut(Schema):
    assessment: int
    template: str
    legacy: bool
    level: int
    level_name: str
    total: int | None
    assessed_on: datetime.date | None
    published_at: datetime.datetime
    valid_until: datetime.date | None
    current: bool


class ElderLevelsOut(Schema):
    elder: int
    current_level: int | None
    current_level_name: str
    reassess_by: datetime.date | None
    overdue: bool
    open_assessment: int | None
    history: list[LevelHistoryOut]


@router.get("elders/{int:elder_id}/levels", response={200: ElderLevelsOut, **ERRORS},
            summary="An elder's ability levels over time")
def elder_levels(request, elder_id: Id):
    from yiyang.registry.models import Elder

    elder = get_scoped_or_404(Elder.objects, request.user, "view", pk=elder_id)
    data = selectors.level_history(elder)
    current = data["current"]
    return {
        "elder": elder.pk, "current_level": current.level if current else None,
        "current_level_name": current.level_name if current else "",
        "reassess_by": current.reassess_by if current else None, "overdue": data["overdue"],
        "open_assessment": data["open"].pk if data["open"] else None,
        "history": [{"assessment": h["assessment"].pk, "template": h["template_code"], "legacy": h["legacy"],
                     "level": h["level"], "level_name": h["name"], "total": h["total"],
                     "assessed_on": h["date"], "published_at": h["published_at"], "valid_until": h["valid_until"],
                     "current": h["is_current"]} for h in data["history"]],
    }

