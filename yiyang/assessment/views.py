"""Pages of the assessment workflow: request, agency inbox, my assessments, the tablet form (htmx autosave),
review, result with the PDF, dispute and cancel, reassessments due, and the jurisdiction's policy."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from yiyang.core.errors import DomainError, messages_of
from yiyang.core.http import is_htmx, run_service
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF, role_required
from yiyang.core.scope import get_scoped_or_404

from . import annex, policy, scoring, selectors, services
from .forms import AgencyForm, AssignForm, FilterForm, PolicyForm, ReasonForm, RequestForm, ReviewForm, SubmitForm
from .models import EDITABLE_STATUSES, OPEN_STATUSES, Assessment, CurrentLevel, Status

VIEWERS = (*REGION_STAFF, Role.ASSESSOR)
DETAIL_VIEWERS = (*VIEWERS, Role.FAMILY, Role.ELDER)


def _get(request, pk, action="view") -> Assessment:
    qs = Assessment.objects.select_related(*selectors.LIST_RELATED, "reviewed_by", "requested_by", "supersedes",
                                           "elder__hukou_region")
    return get_scoped_or_404(qs, request.user, action, pk=pk)


def _back(a: Assessment, request=None):
    target = request.POST.get("next", "") if request is not None else ""
    if target in {"inbox", "mine"}:
        return redirect(f"assessment:{target}")
    return redirect("assessment:detail", a.pk)


# ------------------------------------------------------------------------------------------------ lists

@role_required(*VIEWERS)
def assessment_list(request):
    form = FilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.AssessmentFilters(status=data.get("status", ""), reason=data.get("reason", ""),
                                          q=data.get("q", ""))
    qs = selectors.assessments_for(user=request.user, filters=filters)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    template = "assessment/_rows.html" if is_htmx(request) else "assessment/list.html"
    return render(request, template, {"form": form, "page": page, "today": timezone.localdate()})


@role_required(Role.ASSESSOR)
def mine(request):
    today = timezone.localdate()
    return render(request, "assessment/mine.html", {"work": selectors.my_worklist(user=request.user, today=today),
                                                    "today": today})


@role_required(Role.ASSESSOR)
def inbox(request):
    today = timezone.localdate()
    box = selectors.agency_inbox(user=request.user, today=today)
    return render(request, "assessment/inbox.html", {
        "box": box, "today": today, "assessors": list(selectors.agency_assessors(request.user.organisation)),
        "me": request.user,
    })


@role_required(*REGION_STAFF)
def due(request):
    today = timezone.localdate()
    qs = selectors.due_reassessments(user=request.user, today=today)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    open_by_elder = selectors.open_assessments_by_elder(c.elder_id for c in rows)
    return render(request, "assessment/due.html", {
        "page": page, "today": today,
        "rows": [{"c": c, "open": open_by_elder.get(c.elder_id), "overdue": c.reassess_by < today,
                  "age": c.elder.age_on(today)} for c in rows],
    })


# ---------------------------------------------------------------------------------------------- request

@role_required(*REGION_STAFF, Role.FAMILY, Role.ELDER)
@require_http_methods(["GET", "POST"])
def request_assessment(request):
    from yiyang.registry.models import Elder

    try:
        elder_id = int(request.GET.get("elder") or request.POST.get("elder") or 0)
    except ValueError:
        raise Http404 from None
    elder = get_scoped_or_404(Elder.objects.select_related("residence_region"), request.user, "view", pk=elder_id)
    current = CurrentLevel.objects.filter(elder=elder).first()
    open_one = Assessment.objects.filter(elder=elder, status__in=OPEN_STATUSES).first()
    form = RequestForm(request.POST or None, elder=elder, has_result=current is not None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        outcome = run_service(request, lambda: services.request_assessment(
            actor=request.user, elder=elder, reason=d["reason"], agency=d["agency"], note=d["note"]),
            flash_errors=False, success=lambda a: _("已为 %(name)s 申请%(reason)s，评估机构将安排两名评估员上门。") % {
                "name": elder.name, "reason": a.get_reason_display()})
        if outcome:
            return redirect("assessment:detail", outcome.value.pk)
        for key, errors in outcome.errors.items():
            for e in errors:
                form.add_error(key if key in form.fields else None, e)
    return render(request, "assessment/request.html", {
        "form": form, "elder": elder, "age": elder.age_on(timezone.localdate()), "current": current,
        "open_one": open_one, "residence_path": elder.residence_region.path_name(),
    }, status=422 if form.errors else 200)


# ----------------------------------------------------------------------------------------------- detail

def _timeline(a: Assessment) -> list[dict]:
    rows = [{"at": a.requested_at, "label": _("申请%(reason)s") % {"reason": a.get_reason_display()},
             "who": a.requested_by or a.get_source_display(), "note": a.request_note}]
    if a.assigned_at:
        rows.append({"at": a.assigned_at, "label": _("派单"), "who": a.assigned_by,
                     "note": _("%(a)s、%(b)s，预约 %(day)s") % {"a": a.assessor_1, "b": a.assessor_2,
                                                            "day": a.scheduled_for}})
    if a.started_at:
        rows.append({"at": a.started_at, "label": _("开始评估"), "who": "", "note": ""})
    if a.submitted_at:
        rows.append({"at": a.submitted_at, "label": _("提交审核"), "who": a.submitted_by, "note": ""})
    if a.reviewed_at and a.status == Status.RETURNED:
        rows.append({"at": a.reviewed_at, "label": _("审核退回"), "who": a.reviewed_by, "note": a.review_note})
    if a.published_at:
        rows.append({"at": a.published_at, "label": _("审核通过并发布"), "who": a.reviewed_by, "note": a.review_note})
    if a.disputed_at:
        rows.append({"at": a.disputed_at, "label": _("提出异议"), "who": a.disputed_by, "note": a.dispute_reason})
    if a.cancelled_at:
        rows.append({"at": a.cancelled_at, "label": _("取消"), "who": a.cancelled_by or _("系统"),
                     "note": a.cancel_reason})
    rows.sort(key=lambda r: r["at"])
    return rows


def _detail_context(request, a: Assessment) -> dict:
    from yiyang.registry.models import Elder

    user = request.user
    show_result = a.final_level is not None or (a.status in (*EDITABLE_STATUSES, Status.SUBMITTED) and bool(a.items))
    # The same record as the API's and the PDF's; opening it with the health record is audited.
    record = services.open_record(actor=user, assessment=a, channel="查看评估详情") if show_result else None
    may = policy.steps(user, a)
    return {
        "a": a, "elder": a.elder, "age": a.elder.age_on(timezone.localdate()), "today": timezone.localdate(),
        # The register's elder page, for those who may see the elder there (not assessors: `visit` is theirs).
        "elder_visible": Elder.objects.restrict(user).filter(pk=a.elder_id).exists(),
        "result": selectors.result_view(a, record) if record is not None else None,
        "visit": selectors.visit_details(a) if policy.may_view_visit_assessment(user, a) else None,
        "timeline": _timeline(a),
        "may": may,
        "own_review": may["publish"].code == policy.OWN_ASSESSMENT,
        "any_step": any(may[k] for k in ("assign", "publish", "dispute", "correct", "cancel", "change_agency"))
        or may["publish"].code == policy.OWN_ASSESSMENT,
        "assign_form": AssignForm(agency=a.agency, initial={
            "assessor_1": a.assessor_1_id, "assessor_2": a.assessor_2_id,
            "scheduled_for": a.scheduled_for or timezone.localdate(), "location": a.location}),
        "review_form": ReviewForm(), "return_form": ReasonForm(prefix="return"),
        "dispute_form": ReasonForm(prefix="dispute"),
        "correct_form": ReasonForm(prefix="correct"),
        "cancel_form": ReasonForm(prefix="cancel"),
        "agency_form": AgencyForm(initial={"agency": a.agency_id}),
        "superseded_by": list(a.superseded_by.all()),
    }


@role_required(*DETAIL_VIEWERS)
def detail(request, pk):
    a = _get(request, pk)
    return render(request, "assessment/detail.html", _detail_context(request, a))


@role_required(*DETAIL_VIEWERS)
def report(request, pk):
    from .pdf import report_response

    a = _get(request, pk)
    if not policy.may_view_report_assessment(request.user, a):
        raise Http404
    return report_response(request, a)


# ---------------------------------------------------------------------------------------------- actions

@role_required(Role.ASSESSOR)
@require_POST
def assign(request, pk):
    a = _get(request, pk, "change")
    form = AssignForm(request.POST, agency=a.agency)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
        return _back(a, request)
    d = form.cleaned_data
    run_service(request, lambda: services.assign(
        actor=request.user, assessment=a, assessor_1=d["assessor_1"], assessor_2=d["assessor_2"],
        scheduled_for=d["scheduled_for"], location=d["location"]),
        success=_("已派单：%(a)s、%(b)s，%(day)s 上门评估 %(name)s。") % {
            "a": d["assessor_1"], "b": d["assessor_2"], "day": d["scheduled_for"], "name": a.elder.name})
    return _back(a, request)


@role_required(*REGION_STAFF)
@require_POST
def change_agency(request, pk):
    a = _get(request, pk, "change")
    form = AgencyForm(request.POST)
    if form.is_valid():
        run_service(request, lambda: services.assign_agency(actor=request.user, assessment=a,
                                                            agency=form.cleaned_data["agency"]),
                    success=_("已更换评估机构。"))
    return redirect("assessment:detail", a.pk)


@role_required(Role.ASSESSOR)
@require_POST
def publish(request, pk):
    a = _get(request, pk, "change")
    form = ReviewForm(request.POST)
    form.is_valid()
    # The message is built after the call: publishing sets the level and validity it quotes.
    run_service(request, lambda: services.publish(actor=request.user, assessment=a,
                                                  note=form.cleaned_data.get("note", "")),
                success=lambda _value: _("已审核通过并发布：%(name)s，%(level)s，有效期至 %(until)s。") % {
                    "name": a.elder.name, "level": a.level_name, "until": a.valid_until})
    return _back(a, request)


@role_required(Role.ASSESSOR)
@require_POST
def send_back(request, pk):
    a = _get(request, pk, "change")
    run_service(request, lambda: services.send_back(actor=request.user, assessment=a,
                                                    reason=request.POST.get("return-reason", "")),
                success=_("已退回评估员修改。"))
    return _back(a, request)


@role_required(*REGION_STAFF, Role.FAMILY, Role.ELDER)
@require_POST
def dispute(request, pk):
    a = _get(request, pk)
    outcome = run_service(request, lambda: services.dispute(actor=request.user, assessment=a,
                                                            reason=request.POST.get("dispute-reason", "")),
                          success=_("已提出异议并申请复评；复评结果发布前，原评估结果继续有效。"))
    return redirect("assessment:detail", outcome.value.pk if outcome else a.pk)


@role_required(Role.ASSESSOR)
@require_POST
def correct(request, pk):
    a = _get(request, pk, "change")
    outcome = run_service(request, lambda: services.correct(actor=request.user, assessment=a,
                                                            reason=request.POST.get("correct-reason", "")),
                          success=_("已发起更正：新的评估以原答案为起点，审核发布后取代原结果。"))
    return redirect("assessment:detail", outcome.value.pk if outcome else a.pk)


@role_required(*REGION_STAFF, Role.FAMILY, Role.ELDER)
@require_POST
def cancel(request, pk):
    a = _get(request, pk)
    run_service(request, lambda: services.cancel(actor=request.user, assessment=a,
                                                 reason=request.POST.get("cancel-reason", "")),
                success=_("已取消评估。"))
    return redirect("assessment:detail", a.pk)


# ------------------------------------------------------------------------------------------ tablet form

def _item_anchor(code: str) -> str:
    return "item-" + code.replace(".", "-")


def _form_sections(a: Assessment, missing_highlight: set[str]) -> list[dict]:
    t = a.template
    sections = []
    for ind in t.indicators:
        items = []
        for item in ind.items:
            items.append({"item": item, "value": a.items.get(item.code),
                          "options": sorted(item.options, key=lambda o: -o.score),
                          "missing": item.code in missing_highlight, "anchor": _item_anchor(item.code)})
        answered = sum(1 for i in ind.items if i.code in a.items)
        sections.append({"indicator": ind, "items": items, "answered": answered, "count": len(ind.items),
                         "anchor": "sec-" + ind.code.replace(".", "-"), "max": ind.max_subtotal,
                         "subtotal": sum(a.items.get(i.code, 0) for i in ind.items)})
    return sections


def _info_context(a: Assessment) -> dict:
    t = a.template
    info = {**annex.empty_info(t), **(a.info or {})}
    common = {c for c, _ in annex.COMMON_DIAGNOSES}
    return {
        "info": info,
        "common_diagnoses": [(c, label, c in info["diagnoses"]) for c, label in annex.COMMON_DIAGNOSES],
        "other_diagnoses": "，".join(c for c in info["diagnoses"] if c not in common),
        "relationships": annex.INFORMANT_RELATIONSHIPS,
        "risk_kinds": [(k, info["risk_events_30d"].get(k.code, 0)) for k in t.risk_event_kinds],
        "count_options": t.risk_event_count_options,
        "health_problems": [(c, label, c in info["health_problems"]) for c, label in annex.HEALTH_PROBLEMS],
    }


def _progress_context(a: Assessment, partial=None, errors=None) -> dict:
    t = a.template
    partial = partial or scoring.partial_subtotals(a.template_code, a.items)
    preview = None
    if partial.complete:
        jurisdiction = selectors.policy_for(a.elder.residence_region_id)
        try:
            preview = services.score_of(a, stack=jurisdiction.stack_adjustments)
        except scoring.ScoringError:
            preview = None
    names = {i.code: i.name_zh for i in t.items}
    return {
        "a": a, "partial": partial,
        "progress_sections": [{"code": ind.code, "name": ind.name_zh, "subtotal": partial.subtotals.get(ind.code, 0),
                      "max": ind.max_subtotal, "anchor": "sec-" + ind.code.replace(".", "-"),
                      "answered": sum(1 for i in ind.items if i.code in a.items), "count": len(ind.items)}
                     for ind in t.indicators],
        "missing": [{"code": c, "name": names[c], "anchor": _item_anchor(c)} for c in partial.missing],
        "item_count": len(t.items), "max_total": t.max_total, "preview": preview,
        "preview_level": t.level(preview.final_level).name_zh if preview else "",
        "errors": errors or [], "saved_at": timezone.localtime(),
    }


def _form_guard(request, a: Assessment):
    decision = policy.may_answer_assessment(request.user, a)
    if not decision:
        messages.error(request, decision.reason)
        return redirect("assessment:detail", a.pk)
    return None


def _render_form(request, a: Assessment, *, errors: dict | None = None, submit_form=None, status=200):
    missing_fields = {f.split(".", 1)[1] for f in (errors or {}) if f.startswith("items.")}
    context = {
        "a": a, "elder": a.elder, "age": a.elder.age_on(timezone.localdate()), "template": a.template,
        "sections": _form_sections(a, missing_fields), **_info_context(a), **_progress_context(a),
        "submit_form": submit_form or SubmitForm(initial={"assessed_on": timezone.localdate()}),
        "submit_errors": [m for msgs in (errors or {}).values() for m in msgs],
        "error_fields": set((errors or {}).keys()),
    }
    return render(request, "assessment/form.html", context, status=status)


@role_required(Role.ASSESSOR)
def form_page(request, pk):
    a = _get(request, pk, "change")
    blocked = _form_guard(request, a)
    if blocked:
        return blocked
    services.record_health_view(actor=request.user, assessment=a, detail="填写评估表")
    return _render_form(request, a)


def _parse_post(a: Assessment, post) -> tuple[dict | None, dict | None, dict]:
    """Item scores and Annex A fields from a form post (one answer from htmx, or the whole form)."""
    errors: dict[str, list[str]] = {}
    items = {}
    for code in a.template.item_codes:
        if code in post:
            raw = post.get(code, "").strip()
            if raw == "":
                items[code] = None
                continue
            try:
                items[code] = int(raw)
            except ValueError:
                errors.setdefault(f"items.{code}", []).append(_("得分应为整数。"))
    info = None
    if post.get("info_present"):
        t = a.template
        diagnoses = post.getlist("info_diagnoses")
        other = post.get("info_diagnoses_other", "")
        diagnoses += [c.strip() for c in other.replace("，", ",").replace("、", ",").split(",") if c.strip()]
        risk = {}
        for kind in t.risk_event_kinds:
            try:
                risk[kind.code] = int(post.get(f"info_risk_{kind.code}", "0") or 0)
            except ValueError:
                errors.setdefault(f"info.risk_events_30d.{kind.code}", []).append(_("次数应为整数。"))
        info = {
            "informant_name": post.get("info_informant_name", ""),
            "informant_relationship": post.get("info_informant_relationship", ""),
            "diagnoses": diagnoses, "diagnosis_note": post.get("info_diagnosis_note", ""),
            "medication": post.get("info_medication", ""), "risk_events_30d": risk,
            "health_problems": post.getlist("info_health_problems"), "health_note": post.get("info_health_note", ""),
            "coma": post.get("info_coma") in {"1", "on", "true"},
        }
    return (items or None), info, errors


@role_required(Role.ASSESSOR)
@require_POST
def answer(request, pk):
    """Autosave (htmx: one answer or the Annex A block; answers with the progress panel). A level field in the
    post is refused: the level is computed at submission."""
    a = _get(request, pk, "change")
    htmx = is_htmx(request)
    errors: list[str] = []
    partial = None
    try:
        services.refuse_computed_fields(request.POST)
        items, info, parse_errors = _parse_post(a, request.POST)
        if parse_errors:
            raise ValidationError(parse_errors)
        partial = services.save_answers(actor=request.user, assessment=a, items=items, info=info)
    except ValidationError as exc:
        errors = messages_of(exc)
    except DomainError as exc:
        errors = [str(exc.message)]
    a.refresh_from_db()
    if not htmx:
        for e in errors:
            messages.error(request, e)
        if not errors:
            messages.success(request, _("已保存。"))
        return redirect("assessment:form", a.pk)
    context = _progress_context(a, partial if not errors else None, errors)
    return render(request, "assessment/_progress.html", {**context, "oob": True})


@role_required(Role.ASSESSOR)
@require_POST
def submit(request, pk):
    a = _get(request, pk, "change")
    blocked = _form_guard(request, a)
    if blocked:
        return blocked
    form = SubmitForm(request.POST)
    if not form.is_valid():
        return _render_form(request, a, errors={k: list(v) for k, v in form.errors.items()}, submit_form=form,
                            status=422)
    try:
        services.refuse_computed_fields(request.POST)
        services.submit(actor=request.user, assessment=a, assessed_on=form.cleaned_data["assessed_on"])
    except ValidationError as exc:
        a.refresh_from_db()
        return _render_form(request, a, errors=exc.message_dict, submit_form=form, status=422)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("assessment:detail", a.pk)
    a.refresh_from_db()
    messages.success(request, _("已提交审核：总分 %(total)s，%(level)s。审核通过后发布。") % {
        "total": a.total, "level": a.level_name})
    return redirect("assessment:detail", a.pk)


# ----------------------------------------------------------------------------------------------- policy

@role_required(Role.BUREAU)
@require_http_methods(["GET", "POST"])
def policy_page(request):
    region = Region.objects.get(code=request.user.scope_code)
    current = selectors.policy_for(region.code)
    form = PolicyForm(request.POST or None, initial={"stack_adjustments": current.stack_adjustments,
                                                     "validity_months": current.validity_months})
    saved = request.method == "POST" and form.is_valid() and run_service(
        request, lambda: services.save_policy(actor=request.user, region=region, **form.cleaned_data),
        success=_("已保存本辖区的评估政策。"))
    if saved:
        return redirect("assessment:policy")
    inherited = current.region_code and current.region_code != region.code
    return render(request, "assessment/policy.html", {
        "form": form, "region": region, "current": current, "inherited": inherited,
        "source_region": Region.objects.filter(code=current.region_code).first() if current.region_code else None,
    })
