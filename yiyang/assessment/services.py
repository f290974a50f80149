"""Writes of the assessment workflow. Keyword-only, one transaction each, an audit event each.

Who may take each step is `policy.py` (one function per step); each write calls it at the top of its
transaction, after locking the row. Pages and API fetch the object through `restrict` first (404 outside the
scope). The platform itself requests (`Source.AUTO`, when a result runs out or the person's status changes)
and cancels (`system=True`, on death or moving away). The level is computed here, at submission, by
`scoring.score` (there is no input for it). A published result is immutable; a correction or a dispute opens
a new assessment. Reads that show the health record go through `open_record`, which audits them.
"""

import datetime
import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Role
from yiyang.core.policy import has_role

from . import annex, policy, scoring, selectors
from .models import (
    CURRENT_TEMPLATE,
    OPEN_STATUSES,
    Assessment,
    AssessmentPolicy,
    CurrentLevel,
    Reason,
    Source,
    Status,
)

# Days from the request to when the assessment should be done, by reason (即时评估 and 复评 are urgent).
DUE_DAYS = {Reason.FIRST: 30, Reason.ROUTINE: 30, Reason.IMMEDIATE: 7, Reason.REVIEW: 15}
# Fields a client may never send: the result is computed (DESIGN.md §3.1), never typed in.
COMPUTED_FIELDS = ("final_level", "preliminary_level", "level", "total", "subtotals", "adjustments")


# ---------------------------------------------------------------------------------------------- helpers

def scoring_validation_error(exc: scoring.ScoringError, *, renames: dict[str, str] | None = None) -> ValidationError:
    """A ScoringError as the project's ValidationError (field path → messages in the active language)."""
    english = (translation.get_language() or "").startswith("en")
    out: dict[str, list[ValidationError]] = {}
    for e in exc.errors:
        field = e.field
        for old, new in (renames or {}).items():
            if field == old or field.startswith(old + "."):
                field = new + field[len(old):]
                break
        out.setdefault(field, []).append(ValidationError(e.message_en if english else e.message_zh, code=e.code))
    return ValidationError(out)


def refuse_computed_fields(data: dict) -> None:
    given = [f for f in COMPUTED_FIELDS if f in data and data[f] not in (None, "")]
    if given:
        raise ValidationError({f: [ValidationError(
            _("能力等级和得分由系统根据各项评分计算，不能手工填写或修改。"), code="computed_field")] for f in given})


def _snapshot(a: Assessment) -> dict:
    """The audit copy: Annex A (health data) only as a fingerprint, so the log shows that it changed, not what."""
    snap = audit.snapshot(a)
    snap["info"] = hashlib.sha256(json.dumps(a.info, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return snap


def _record(actor, action, a: Assessment, before=None, detail: str = "") -> None:
    audit.record(actor=actor, action=action, instance=a, object_repr=f"{a.number} {a.elder.name}",
                 before=before, after=_snapshot(a), region_code=a.region_code, detail=detail)


def _actor_user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _lock(a: Assessment) -> Assessment:
    return Assessment.objects.select_for_update(of=("self",)).select_related("elder", "agency").get(pk=a.pk)


def _default_agency(elder, previous: Assessment | None = None):
    if previous is not None and previous.agency_id and previous.agency.is_active:
        return previous.agency
    return selectors.assessment_agencies(elder.county_code).first()


def template_for_new() -> scoring.Template:
    return scoring.get_template(CURRENT_TEMPLATE)


# ---------------------------------------------------------------------------------------------- policy

@transaction.atomic
def save_policy(*, actor, region, stack_adjustments: bool, validity_months: int) -> AssessmentPolicy:
    policy.may_set_policy(actor, region).require()
    if region.level not in {"province", "city", "county"}:
        raise ValidationError({"region": _("评估政策按市或区县设定。")})
    if not isinstance(validity_months, int) or not 1 <= validity_months <= 36:
        raise ValidationError({"validity_months": _("有效期应为 1～36 个月。")})
    setting = AssessmentPolicy.objects.filter(region=region).first()
    before = audit.snapshot(setting) if setting else None
    setting = setting or AssessmentPolicy(region=region)
    setting.stack_adjustments = bool(stack_adjustments)
    setting.validity_months = validity_months
    setting.updated_by = _actor_user(actor)
    setting.save()
    audit.record(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, instance=setting,
                 before=before, after=audit.snapshot(setting), region_code=region.code)
    return setting


# --------------------------------------------------------------------------------------------- requests

@transaction.atomic
def request_assessment(*, actor, elder, reason: str, agency=None, note: str = "", source: str | None = None,
                       due_on: datetime.date | None = None, supersedes: Assessment | None = None,
                       authorised: bool = False) -> Assessment:
    """Open an assessment for an elder. At most one is under way per person (a clear error otherwise).
    `authorised`: the caller (another service) has already checked who may do this."""
    from yiyang.registry.models import ElderStatus

    if source is None:
        source = Source.FAMILY if has_role(actor, Role.FAMILY, Role.ELDER) else Source.STAFF
    if source != Source.AUTO and not authorised:
        policy.may_request_assessment(actor, elder).require()
    errors: dict[str, list[str]] = {}
    if reason not in Reason.values:
        errors.setdefault("reason", []).append(_("评估原因取值无效。"))
    if elder.status != ElderStatus.ACTIVE:
        errors.setdefault("elder", []).append(
            _("%(name)s 的状态为“%(status)s”，不能申请评估。") % {"name": elder.name,
                                                                "status": elder.get_status_display()})
    current = CurrentLevel.objects.filter(elder=elder).select_related("assessment").first()
    if reason == Reason.FIRST and current is not None and supersedes is None:
        errors.setdefault("reason", []).append(_("该老年人已有评估结果，请选择常规评估或即时评估。"))
    if reason in {Reason.ROUTINE, Reason.IMMEDIATE} and current is None:
        errors.setdefault("reason", []).append(_("该老年人尚无评估结果，请选择首次评估。"))
    if reason == Reason.REVIEW and supersedes is None:
        errors.setdefault("reason", []).append(_("复评须对已发布的评估结果提出异议后发起。"))
    open_one = Assessment.objects.filter(elder=elder, status__in=OPEN_STATUSES).first()
    if open_one is not None:
        errors.setdefault("elder", []).append(
            _("%(name)s 已有进行中的评估（%(number)s，%(status)s），不能重复申请。") % {
                "name": elder.name, "number": open_one.number, "status": open_one.get_status_display()})
    if agency is not None and (agency.kind != "assessment" or not agency.is_active):
        errors.setdefault("agency", []).append(_("所选机构不是在营的评估机构。"))
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    a = Assessment(
        elder=elder, county_code=elder.county_code, region_code=elder.residence_region_id, reason=reason,
        source=source, requested_by=_actor_user(actor), request_note=(note or "").strip()[:300],
        due_on=due_on or today + datetime.timedelta(days=DUE_DAYS[reason]),
        agency=agency or _default_agency(elder, supersedes or (current.assessment if current else None)),
        template_code=CURRENT_TEMPLATE, template_version=template_for_new().version, supersedes=supersedes,
    )
    try:
        with transaction.atomic():
            a.save()
    except IntegrityError:
        message = _("%(name)s 已有进行中的评估，不能重复申请。") % {"name": elder.name}
        raise ValidationError({"elder": message}) from None
    _record(actor, AuditAction.CREATE, a, detail=f"申请{a.get_reason_display()}")
    return a


@transaction.atomic
def assign_agency(*, actor, assessment: Assessment, agency) -> Assessment:
    a = _lock(assessment)
    policy.may_change_agency_assessment(actor, a).require()
    if agency is None or agency.kind != "assessment" or not agency.is_active:
        raise ValidationError({"agency": _("所选机构不是在营的评估机构。")})
    before = _snapshot(a)
    a.agency = agency
    a.save()
    _record(actor, AuditAction.UPDATE, a, before, detail=f"指定评估机构 {agency.name}")
    return a


@transaction.atomic
def assign(*, actor, assessment: Assessment, assessor_1, assessor_2, scheduled_for: datetime.date | None,
           location: str = "") -> Assessment:
    """The agency names two assessors and the day. Reassigning is allowed until the form is submitted."""
    a = _lock(assessment)
    policy.may_assign_assessment(actor, a).require()
    errors: dict[str, list[str]] = {}
    eligible = set(selectors.agency_assessors(a.agency).values_list("pk", flat=True))
    for field, person in (("assessor_1", assessor_1), ("assessor_2", assessor_2)):
        if person is None:
            errors.setdefault(field, []).append(_("请选择两名评估员。"))
        elif person.pk not in eligible:
            errors.setdefault(field, []).append(
                _("%(name)s 不是本评估机构在岗的评估员。") % {"name": person})
    if assessor_1 is not None and assessor_2 is not None and assessor_1.pk == assessor_2.pk:
        errors.setdefault("assessor_2", []).append(_("两名评估员不能是同一人。"))
    today = timezone.localdate()
    if scheduled_for is not None and scheduled_for < today and a.status == Status.REQUESTED:
        errors.setdefault("scheduled_for", []).append(_("预约日期不能早于今天。"))
    if errors:
        raise ValidationError(errors)
    before = _snapshot(a)
    a.assessor_1, a.assessor_2 = assessor_1, assessor_2
    a.scheduled_for = scheduled_for or today
    a.location = (location or "").strip()[:200] or a.location or a.elder.address[:200]
    a.assigned_at, a.assigned_by = timezone.now(), _actor_user(actor)
    if a.status == Status.REQUESTED:
        a.status = Status.ASSIGNED
    a.save()
    _record(actor, AuditAction.UPDATE, a, before, detail=f"派单：{assessor_1}、{assessor_2}，{a.scheduled_for}")
    return a


# ------------------------------------------------------------------------------------------------ form

@transaction.atomic
def save_answers(*, actor, assessment: Assessment, items: dict | None = None,
                 info: dict | None = None) -> scoring.PartialScore:
    """Autosave: merge item scores (None clears one) and Annex A fields. Invalid values: nothing saved."""
    a = _lock(assessment)
    policy.may_answer_assessment(actor, a).require()
    template = a.template
    merged = dict(a.items)
    errors: dict[str, list] = {}
    partial = None
    if items is not None:
        if not isinstance(items, dict):
            raise ValidationError({"items": _("评估项目得分应为“项目编码: 得分”形式的对象。")})
        for code, value in items.items():
            if value is None:
                merged.pop(code, None)
            else:
                merged[code] = value
        try:
            partial = scoring.partial_subtotals(a.template_code, merged)
        except scoring.ScoringError as exc:
            for field, messages in scoring_validation_error(exc).error_dict.items():
                errors[field] = messages
    new_info = {**annex.empty_info(template), **(a.info or {})}
    if info is not None:
        clean, info_errors = annex.clean_info(template, info)
        errors.update(info_errors)
        new_info.update(clean)
    if errors:
        raise ValidationError(errors)
    before = _snapshot(a)
    a.items = {code: merged[code] for code in template.item_codes if code in merged}
    a.info = new_info
    if a.status != Status.IN_PROGRESS:
        a.status = Status.IN_PROGRESS
    if a.started_at is None:
        a.started_at = timezone.now()
    a.save()
    changed = sorted((items or {}).keys()) + [f"info.{k}" for k in sorted((info or {}).keys())]
    _record(actor, AuditAction.UPDATE, a, before, detail="保存：" + "、".join(changed)[:400])
    return partial or scoring.partial_subtotals(a.template_code, a.items)


def score_of(a: Assessment, *, stack: bool) -> scoring.ScoreResult:
    info = a.info or {}
    return scoring.score(a.template_code, a.items, diagnoses=info.get("diagnoses") or [],
                         risk_events_30d=info.get("risk_events_30d") or {}, coma=bool(info.get("coma", False)),
                         stack_adjustments=stack)


INFO_RENAMES = {"diagnoses": "info.diagnoses", "risk_events_30d": "info.risk_events_30d", "coma": "info.coma"}


@transaction.atomic
def submit(*, actor, assessment: Assessment, assessed_on: datetime.date | None = None) -> Assessment:
    """Compute the result with the jurisdiction's policy and hand it to review. Refused, with every missing
    or invalid item listed, while anything is incomplete."""
    a = _lock(assessment)
    policy.may_submit_assessment(actor, a).require()
    if not a.assessor_1_id or not a.assessor_2_id or a.assessor_1_id == a.assessor_2_id:
        raise ValidationError({"assessor_2": _("评估须由两名不同的评估员完成。")})
    info = a.info or {}
    errors: dict[str, list] = {}
    if not (info.get("informant_name") or "").strip():
        errors["info.informant_name"] = [ValidationError(_("请填写信息提供者。"), code="required")]
    jurisdiction = selectors.policy_for(a.elder.residence_region_id)
    try:
        result = score_of(a, stack=jurisdiction.stack_adjustments)
    except scoring.ScoringError as exc:
        errors.update(scoring_validation_error(exc, renames=INFO_RENAMES).error_dict)
        result = None
    today = timezone.localdate()
    assessed_on = assessed_on or today
    if assessed_on > today:
        errors["assessed_on"] = [ValidationError(_("评估日期不能晚于今天。"), code="future")]
    if errors:
        raise ValidationError(errors)
    before = _snapshot(a)
    apply_result(a, result)
    a.assessed_on = assessed_on
    a.submitted_at, a.submitted_by = timezone.now(), _actor_user(actor)
    a.status = Status.SUBMITTED
    a.save()
    _record(actor, AuditAction.UPDATE, a, before,
            detail=f"提交审核：总分 {a.total}，{a.level_name}（{a.template_code}）")
    return a


def apply_result(a: Assessment, result: scoring.ScoreResult) -> None:
    a.template_version = result.template_version
    a.subtotals = dict(result.subtotals)
    a.total = result.total
    a.indicator_grades = dict(result.indicator_grades)
    a.preliminary_level = result.preliminary_level
    a.final_level = result.final_level
    a.adjustments = [adj.as_dict() for adj in result.adjustments]
    a.stack_adjustments = result.stack_adjustments


# ---------------------------------------------------------------------------------------------- review

@transaction.atomic
def publish(*, actor, assessment: Assessment, note: str = "") -> Assessment:
    """Approve and publish: the result becomes the elder's current level, valid for the policy's months."""
    a = _lock(assessment)
    policy.may_publish_assessment(actor, a).require()
    # The stored result must be what the rules give for the stored answers (nothing edited on the way).
    result = score_of(a, stack=bool(a.stack_adjustments))
    if result.final_level != a.final_level or dict(result.subtotals) != a.subtotals:
        raise DomainError("result_mismatch", _("评估结果与各项得分不一致，请退回重新提交。"), status=409)
    jurisdiction = selectors.policy_for(a.elder.residence_region_id)
    now = timezone.now()
    before = _snapshot(a)
    a.reviewed_at, a.reviewed_by, a.review_note = now, actor, (note or "").strip()[:500]
    a.published_at = now
    a.valid_until = selectors.add_months(timezone.localdate(now), jurisdiction.validity_months)
    a.status = Status.PUBLISHED
    a.save()
    CurrentLevel.objects.update_or_create(elder=a.elder, defaults={
        "assessment": a, "template_code": a.template_code, "level": a.final_level, "published_at": now,
        "valid_until": a.valid_until, "reassess_by": a.valid_until, "county_code": a.elder.county_code,
    })
    _record(actor, AuditAction.UPDATE, a, before,
            detail=f"审核通过并发布：{a.level_name}，有效期至 {a.valid_until}")
    return a


@transaction.atomic
def send_back(*, actor, assessment: Assessment, reason: str) -> Assessment:
    a = _lock(assessment)
    policy.may_return_assessment(actor, a).require()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("退回须说明理由。")})
    before = _snapshot(a)
    a.status = Status.RETURNED
    a.review_note = reason[:500]
    a.reviewed_at, a.reviewed_by = timezone.now(), actor
    # The computed result goes with the submission; it is computed again when the form is resubmitted.
    a.subtotals, a.total, a.indicator_grades, a.adjustments = {}, None, {}, []
    a.preliminary_level = a.final_level = a.stack_adjustments = None
    a.submitted_at = None
    a.save()
    _record(actor, AuditAction.UPDATE, a, before, detail=f"审核退回：{reason[:200]}")
    return a


# -------------------------------------------------------------------------------------- dispute, cancel

@transaction.atomic
def dispute(*, actor, assessment: Assessment, reason: str) -> Assessment:
    """The elder, family or region staff disagree with a published result: it is marked disputed (it stays the
    current level meanwhile) and a 复评 is requested, with the same agency unless it is no longer active."""
    a = _lock(assessment)
    policy.may_dispute_assessment(actor, a).require()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请说明异议理由。")})
    before = _snapshot(a)
    a.status = Status.DISPUTED
    a.disputed_at, a.disputed_by, a.dispute_reason = timezone.now(), _actor_user(actor), reason[:500]
    a.save()
    _record(actor, AuditAction.UPDATE, a, before, detail=f"提出异议：{reason[:200]}")
    return request_assessment(actor=actor, elder=a.elder, reason=Reason.REVIEW, agency=a.agency, note=reason,
                              supersedes=a)


@transaction.atomic
def correct(*, actor, assessment: Assessment, reason: str) -> Assessment:
    """The agency found an error in a published result: a new assessment that supersedes it, starting from a
    copy of its answers, assigned to the same two assessors (when still active). The old result is untouched and
    stays current until the correction is reviewed and published."""
    a = _lock(assessment)
    policy.may_correct_assessment(actor, a).require()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请说明更正原因。")})
    new = request_assessment(actor=actor, elder=a.elder, reason=a.reason if a.reason != Reason.REVIEW else
                             Reason.IMMEDIATE, agency=a.agency, note=_("更正：%(reason)s") % {"reason": reason},
                             source=Source.STAFF, supersedes=a, due_on=timezone.localdate(), authorised=True)
    before = _snapshot(new)
    new.items, new.info = dict(a.items), dict(a.info)
    new.template_code = a.template_code if not a.template.legacy else CURRENT_TEMPLATE
    if new.template_code != a.template_code:
        new.items = {}
    eligible = set(selectors.agency_assessors(a.agency).values_list("pk", flat=True))
    if {a.assessor_1_id, a.assessor_2_id} <= eligible:
        new.assessor_1_id, new.assessor_2_id = a.assessor_1_id, a.assessor_2_id
        new.assigned_at, new.assigned_by = timezone.now(), _actor_user(actor)
        new.scheduled_for, new.location = timezone.localdate(), a.location
        new.status = Status.ASSIGNED
    new.save()
    _record(actor, AuditAction.UPDATE, new, before, detail=f"更正 {a.number}：{reason[:200]}")
    return new


@transaction.atomic
def cancel(*, actor, assessment: Assessment, reason: str, system: bool = False) -> Assessment:
    a = _lock(assessment)
    if not system:
        policy.may_cancel_assessment(actor, a).require()
    elif a.status not in OPEN_STATUSES:
        raise DomainError(ErrorCode.INVALID_STATE, _("只有进行中的评估可以取消。"), status=409)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写取消原因。")})
    before = _snapshot(a)
    a.status = Status.CANCELLED
    a.cancelled_at, a.cancelled_by, a.cancel_reason = timezone.now(), _actor_user(actor), reason[:300]
    a.save()
    _record(actor, AuditAction.UPDATE, a, before, detail=f"取消：{reason[:200]}")
    # Withdrawing a 复评 withdraws the dispute: the original result is plainly published again.
    if a.reason == Reason.REVIEW and a.supersedes_id:
        old = Assessment.objects.select_for_update().get(pk=a.supersedes_id)
        if old.status == Status.DISPUTED:
            old_before = _snapshot(old)
            old.status = Status.PUBLISHED
            old.save()
            _record(actor, AuditAction.UPDATE, old, old_before, detail="复评取消，撤回异议")
    return a


# ------------------------------------------------------------------------------- reads that are audited

def record_health_view(*, actor, assessment: Assessment, detail: str = "") -> None:
    """Annex A (diagnoses, medication, health problems) is a health record: each read is logged."""
    audit.record(actor=actor, action=AuditAction.VIEW_HEALTH, instance=assessment,
                 object_repr=f"{assessment.number} {assessment.elder.name}", region_code=assessment.region_code,
                 detail=detail)


def open_record(*, actor, assessment: Assessment, channel: str) -> selectors.Record:
    """What `actor` is shown of one assessment (policy.disclosure), for the page, the API and the PDF alike.

    The only way to the health record of a stored assessment: when the record carries it, the read is
    audited (`view_health`, with the channel: "查看评估详情", "API", "PDF报告").
    """
    record = selectors.assessment_record(assessment, policy.disclosure(actor, assessment))
    if record.health_shown:
        record_health_view(actor=actor, assessment=assessment, detail=channel)
    return record


# --------------------------------------------------------------------------- status changes and schedule

REASSESS_EVENTS = {"relocate", "move_in", "resume"}
STOP_EVENTS = {"death", "move_out"}


def on_elder_status_changed(*, elder, event, actor) -> None:
    """Receiver of registry's `elder_status_changed`, inside its transaction.

    Death or moving away cancels what is under way. A move or a return makes the reassessment due at once:
    `reassess_by` moves to the event's day and an 即时评估 is requested automatically (for people with a result).
    """
    kind = str(event.kind)
    open_ones = list(Assessment.objects.filter(elder=elder, status__in=OPEN_STATUSES))
    if kind in STOP_EVENTS:
        label = event.get_kind_display()
        for a in open_ones:
            cancel(actor=actor, assessment=a, reason=_("老年人状态变更：%(event)s") % {"event": label}, system=True)
        return
    if kind not in REASSESS_EVENTS:
        return
    for a in open_ones:
        if a.region_code != elder.residence_region_id:
            before = _snapshot(a)
            a.region_code, a.county_code = elder.residence_region_id, elder.county_code
            a.save(update_fields=["region_code", "county_code", "updated_at"])
            _record(actor, AuditAction.UPDATE, a, before, detail="老年人迁居，评估随人转移")
    current = CurrentLevel.objects.filter(elder=elder).select_related("assessment").first()
    if current is None:
        return
    day = min(event.effective_date, timezone.localdate())
    if current.reassess_by > day:
        current.reassess_by = day
        current.county_code = elder.county_code
        current.save(update_fields=["reassess_by", "county_code"])
    if not open_ones:
        request_assessment(actor=actor, elder=elder, reason=Reason.IMMEDIATE, source=Source.AUTO,
                           note=_("状态变化：%(event)s") % {"event": event.get_kind_display()},
                           due_on=timezone.localdate())


@transaction.atomic
def request_due_reassessments(*, today: datetime.date | None = None, lead_days: int = 30,
                              county_code: str = "") -> int:
    """Open a 常规评估 for every active elder whose result runs out within `lead_days` and who has nothing under
    way. Set-based and idempotent (the one-open-per-elder constraint): run it daily from the task worker."""
    from yiyang.registry.models import ElderStatus

    today = today or timezone.localdate()
    due = (CurrentLevel.objects.filter(reassess_by__lte=today + datetime.timedelta(days=lead_days),
                                       elder__status=ElderStatus.ACTIVE)
           .exclude(elder__assessments__status__in=OPEN_STATUSES)
           .select_related("elder", "assessment__agency"))
    if county_code:
        due = due.filter(county_code=county_code)
    version = template_for_new().version
    fallback: dict[str, object] = {}
    rows = []
    now = timezone.now()
    for c in due.iterator(chunk_size=2000):
        agency = c.assessment.agency if c.assessment.agency_id and c.assessment.agency.is_active else None
        if agency is None:
            if c.elder.county_code not in fallback:
                fallback[c.elder.county_code] = selectors.assessment_agencies(c.elder.county_code).first()
            agency = fallback[c.elder.county_code]
        rows.append(Assessment(
            elder_id=c.elder_id, county_code=c.elder.county_code, region_code=c.elder.residence_region_id,
            reason=Reason.ROUTINE, source=Source.AUTO, status=Status.REQUESTED, requested_at=now,
            request_note=_("评估结果将于 %(date)s 到期") % {"date": c.reassess_by.isoformat()},
            due_on=max(c.reassess_by, today), agency=agency, template_code=CURRENT_TEMPLATE,
            template_version=version, supersedes_id=c.assessment_id,
        ))
    Assessment.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    if rows:
        audit.record(actor=None, action=AuditAction.CREATE, object_type="assessment.assessment",
                     object_repr=_("到期复评"), region_code=county_code,
                     detail=f"自动生成 {len(rows)} 个常规评估申请（{today}，提前 {lead_days} 天）")
    return len(rows)
