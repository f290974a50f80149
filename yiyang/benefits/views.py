"""Pages of the benefits app (补贴发放): programmes and their rules, the rule editor with budget simulation,
monthly rolls (generation with progress, checks, street sign-off, approval, bank file, bank results), totals
by region, and the home panel. Every write goes through services.py; errors come back as messages.

About 800 lines: the pages of one workflow; split by topic (as services/views_*.py) when it grows."""

import datetime
import hashlib
import logging
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from yiyang.core.errors import flash
from yiyang.core.http import GENERAL, attachment, is_htmx, run_service
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF, role_required
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import CategoryKind, Elder

from . import allowance, policy, rules, selectors, services
from .forms import (
    ConfirmKindForm,
    GenerateForm,
    ImportForm,
    LineFilterForm,
    RollFilterForm,
    SettingsForm,
    TotalsForm,
)
from .models import (
    OPEN_ROLL_STATUSES,
    BankResultImport,
    BenefitSettings,
    CheckKind,
    LineKind,
    LineStatus,
    Programme,
    Roll,
    RollCheck,
    RollLine,
    RollStatus,
    RuleStatus,
    RuleVersion,
    StreetReview,
)

log = logging.getLogger(__name__)

LINES_PER_PAGE = 50
CHECKS_PER_KIND = 30


# ------------------------------------------------------------------------------------------------ helpers

def _this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def _jurisdiction(user) -> Region | None:
    """The jurisdiction whose rules and rolls the user works with: a bureau's own, a street's or community's
    county. Superusers without a scope have none (they see everything, but cannot act for a jurisdiction)."""
    return selectors.home_jurisdiction(user)


def _own_jurisdiction(request) -> Region:
    """The bureau's own jurisdiction, for the pages that change something there."""
    region = _jurisdiction(request.user)
    if region is None or not policy.is_bureau_of(request.user, region.code):
        raise Http404
    return region


def _region_names(codes) -> dict[str, str]:
    codes = {c for c in codes if c}
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def _rule_in_force(versions: list[RuleVersion], jurisdiction: Region, month: datetime.date) -> RuleVersion | None:
    """engine.rule_for over versions already loaded: the jurisdiction's own rule, else the nearest above."""
    best = None
    for rv in versions:
        if rv.status != RuleStatus.ADOPTED or not rv.jurisdiction.contains(jurisdiction.code):
            continue
        if not rv.applies_to(month):
            continue
        if best is None or (len(rv.jurisdiction_id), rv.version) > (len(best.jurisdiction_id), best.version):
            best = rv
    return best


def _describe(rv: RuleVersion | None) -> list[str]:
    if rv is None:
        return []
    try:
        return rules.parse(rv.params).describe()
    except ValidationError:
        return [_("（规则数据有误，请联系管理员）")]


# ------------------------------------------------------------------------------------------- programmes

@role_required(*REGION_STAFF)
def programme_list(request):
    user = request.user
    jurisdiction = _jurisdiction(user)
    month = _this_month()
    next_month = rules.add_months(month, 1)
    versions = list(RuleVersion.objects.restrict(user).select_related("jurisdiction", "adopted_by", "created_by")
                    .order_by("programme__position", "jurisdiction_id", "-version"))
    by_programme: dict[int, list[RuleVersion]] = {}
    for rv in versions:
        by_programme.setdefault(rv.programme_id, []).append(rv)
    rows = []
    for p in Programme.objects.all():
        history = by_programme.get(p.pk, [])
        in_force = []
        if jurisdiction is not None:
            current = _rule_in_force(history, jurisdiction, month)
            upcoming = _rule_in_force(history, jurisdiction, next_month)
            in_force.append({"jurisdiction": jurisdiction, "rule": current, "sentences": _describe(current),
                             "upcoming": upcoming if upcoming is not None and upcoming != current else None,
                             "upcoming_sentences": _describe(upcoming) if upcoming != current else []})
        else:  # superusers: the rule in force in each jurisdiction that has one
            for rv in history:
                if rv.status == RuleStatus.ADOPTED and rv.applies_to(month):
                    in_force.append({"jurisdiction": rv.jurisdiction, "rule": rv, "sentences": _describe(rv),
                                     "upcoming": None})
        rows.append({"programme": p, "in_force": in_force, "history": history})
    return render(request, "benefits/programmes.html", {
        "rows": rows, "jurisdiction": jurisdiction, "month": month, "next_month": next_month,
        "settings": BenefitSettings.for_region(jurisdiction) if jurisdiction is not None else None,
        "may_edit": jurisdiction is not None and bool(policy.may_adopt_rule(user, jurisdiction)),
        "may_change_settings": jurisdiction is not None and bool(policy.may_change_settings(user, jurisdiction)),
    })


@role_required(Role.BUREAU)
def settings_edit(request):
    """发放设置: the jurisdiction's month semantics and workflow (a bureau of that jurisdiction only)."""
    jurisdiction = _jurisdiction(request.user)
    if jurisdiction is None:
        raise Http404
    current = BenefitSettings.for_region(jurisdiction)
    fields = ("pay_month_of_death", "lookback_months", "absence_days", "street_review", "background_threshold")
    form = SettingsForm(request.POST or None, initial={f: getattr(current, f) for f in fields})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            outcome = run_service(request, lambda: services.update_settings(
                actor=request.user, jurisdiction=jurisdiction, **form.cleaned_data),
                flash_errors=False, success=_("发放设置已保存，自下次生成名册起生效。"))
            if outcome:
                return redirect(reverse("benefits:programmes") + "#settings")
            for field, problems in outcome.errors.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        status = 422
    return render(request, "benefits/settings.html", {"form": form, "jurisdiction": jurisdiction,
                                                      "settings": current}, status=status)


# ---------------------------------------------------------------------------------------- rule editor

AMOUNT_KIND_CHOICES = [("fixed", gettext_lazy("固定金额")), ("age_bands", gettext_lazy("按年龄分档")),
                       ("level_table", gettext_lazy("按能力等级和类别"))]
BASIS_CHOICES = [("residence", gettext_lazy("居住地（费随人走）")), ("hukou", gettext_lazy("户籍地"))]
FIELD_KEYS = ("min_age", "max_age", "categories", "levels", "basis", "amount_kind", "fixed_amount", "bands",
              "table", "note", "source", "valid_from", "month")


def _text(value) -> str:
    return "" if value is None else str(value)


def _editor_from_params(params: dict) -> dict:
    return {
        "min_age": _text(params.get("min_age", 60)), "max_age": _text(params.get("max_age")),
        "categories": [str(c) for c in params.get("categories") or ()],
        "levels": [str(v) for v in params.get("levels") or ()],
        "basis": params.get("basis") or "residence", "exclude_institution": bool(params.get("exclude_institution")),
        "amount_kind": params.get("amount_kind") or "fixed", "fixed_amount": _text(params.get("fixed_amount", "")),
        "bands": [{"min_age": _text(b.get("min_age")), "max_age": _text(b.get("max_age")),
                   "amount": _text(b.get("amount"))} for b in params.get("bands") or ()],
        "table": [{"level": _text(r.get("level")), "category": r.get("category") or "",
                   "amount": _text(r.get("amount"))} for r in params.get("table") or ()],
        "note": "", "source": "",
    }


def _editor_from_post(post) -> dict:
    def rows(names):
        columns = [post.getlist(n) for n in names]
        out = []
        for values in zip(*columns, strict=False):
            values = [v.strip() for v in values]
            if any(values):
                out.append(dict(zip((n.split("_", 1)[1] for n in names), values, strict=True)))
        return out

    return {
        "min_age": post.get("min_age", "").strip(), "max_age": post.get("max_age", "").strip(),
        "categories": post.getlist("categories"), "levels": post.getlist("levels"),
        "basis": post.get("basis", "residence"), "exclude_institution": post.get("exclude_institution") in {
            "1", "on", "true"},
        "amount_kind": post.get("amount_kind", "fixed"), "fixed_amount": post.get("fixed_amount", "").strip(),
        "bands": rows(("band_min_age", "band_max_age", "band_amount")),
        "table": rows(("row_level", "row_category", "row_amount")),
        "note": post.get("note", "").strip(), "source": post.get("source", "").strip(),
    }


def _params_of(editor: dict) -> dict:
    """The params `rules.parse` reads; rows keep the order shown, so `bands.N` names the N-th row on screen."""
    return {
        "min_age": editor["min_age"] or None, "max_age": editor["max_age"] or None,
        "categories": editor["categories"], "levels": editor["levels"], "basis": editor["basis"],
        "exclude_institution": editor["exclude_institution"], "amount_kind": editor["amount_kind"],
        "fixed_amount": editor["fixed_amount"] or "0",
        "bands": [{"min_age": b["min_age"], "max_age": b["max_age"] or None, "amount": b["amount"]}
                  for b in editor["bands"]],
        "table": [{"level": r["level"] or None, "category": r["category"], "amount": r["amount"]}
                  for r in editor["table"]],
    }


def _editor_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A refusal's errors by field, kept on the editor's fields ('bands.2' → the band row 2), the rest general."""
    out: dict[str, list[str]] = {}
    for key, msgs in errors.items():
        field = key if key in FIELD_KEYS or key.split(".")[0] in ("bands", "table") else GENERAL
        out.setdefault(field, []).extend(msgs)
    return out


def _editor_context(request, programme: Programme, jurisdiction: Region, editor: dict, *, errors=None,
                    result=None) -> dict:
    errors = errors or {}
    month = rules.add_months(_this_month(), 1)
    current = selectors.current_rule(programme, jurisdiction, month)
    bands = [{**b, "errors": errors.get(f"bands.{i}", [])} for i, b in enumerate(editor["bands"])]
    table = [{**r, "errors": errors.get(f"table.{i}", [])} for i, r in enumerate(editor["table"])]
    # One empty row each to add a band or a table row.
    bands.append({"min_age": "", "max_age": "", "amount": "", "errors": [], "new": True})
    table.append({"level": "", "category": "", "amount": "", "errors": [], "new": True})
    return {
        "programme": programme, "jurisdiction": jurisdiction, "month": month, "current": current,
        "current_sentences": _describe(current), "editor": editor, "bands": bands, "table": table,
        "errors": errors, "result": result,
        "category_choices": CategoryKind.choices,
        "level_choices": [(str(v), rules.level_label(v)) for v in rules.LEVELS],
        "amount_kind_choices": AMOUNT_KIND_CHOICES, "basis_choices": BASIS_CHOICES,
    }


def _programme(code) -> Programme:
    return get_object_or_404(Programme, code=code)


@role_required(Role.BUREAU)
@require_http_methods(["GET", "POST"])
def rule_edit(request, code):
    """The rule form, prefilled from the rule in force next month; POST adopts it from next month."""
    programme = _programme(code)
    jurisdiction = _own_jurisdiction(request)
    month = rules.add_months(_this_month(), 1)
    if request.method == "GET":
        current = selectors.current_rule(programme, jurisdiction, month)
        params = rules.RuleParams().to_json()
        if current is not None:
            try:
                params = rules.parse(current.params).to_json()  # amounts as 100.00, bands in order
            except ValidationError:
                params = current.params
        editor = _editor_from_params(params)
        editor["source"] = current.source if current else ""
        return render(request, "benefits/rule_form.html", _editor_context(request, programme, jurisdiction, editor))
    editor = _editor_from_post(request.POST)
    outcome = run_service(
        request, lambda: services.adopt_rule(actor=request.user, programme=programme, jurisdiction=jurisdiction,
                                             params=_params_of(editor), valid_from=month, note=editor["note"],
                                             source=editor["source"]),
        flash_errors=False,
        success=lambda rv: _("已启用%(programme)s规则第 %(version)d 版，自 %(month)s 起执行。") % {
            "programme": programme.name, "version": rv.version, "month": rv.valid_from.strftime("%Y-%m")})
    if not outcome:
        messages.error(request, _("未启用：请检查下面标出的内容。"))
        return render(request, "benefits/rule_form.html", _editor_context(
            request, programme, jurisdiction, editor, errors=_editor_errors(outcome.errors)), status=422)
    return redirect(reverse("benefits:programmes") + f"#programme-{programme.code}")


@role_required(Role.BUREAU)
@require_POST
def simulate(request, code):
    """测算: the proposed rule against the rule in force next month. Writes nothing."""
    programme = _programme(code)
    jurisdiction = _own_jurisdiction(request)
    editor = _editor_from_post(request.POST)
    outcome = run_service(request, lambda: services.simulate(
        actor=request.user, programme=programme, jurisdiction=jurisdiction,
        month=rules.add_months(_this_month(), 1), params=_params_of(editor)), flash_errors=False)
    errors, result = _editor_errors(outcome.errors), outcome.value
    if result is not None:
        result["sentences"] = result["proposed"].describe()
    context = _editor_context(request, programme, jurisdiction, editor, errors=errors, result=result)
    context["simulated"] = True
    if is_htmx(request):  # htmx swaps only 2xx answers: the errors come back in the form itself
        return render(request, "benefits/_rule_editor.html", context)
    return render(request, "benefits/rule_form.html", context, status=422 if errors else 200)


# ------------------------------------------------------------------------------------------------ rolls

@role_required(*REGION_STAFF)
def roll_list(request):
    form = RollFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.RollFilters(programme=data.get("programme", ""), month=data.get("month", ""),
                                    status=data.get("status", ""))
    page = Paginator(selectors.rolls(request.user, filters), 25).get_page(request.GET.get("page"))
    figures = selectors.roll_figures(request.user, page.object_list)
    context = {"form": form, "page": page, "figures": figures,
               "whole": all(f["whole"] for f in figures.values())}
    if is_htmx(request):
        return render(request, "benefits/_roll_rows.html", context)
    jurisdiction = _jurisdiction(request.user)
    if jurisdiction is not None and policy.may_generate_roll(request.user, jurisdiction):
        context["generate_form"] = GenerateForm(initial={"month": _this_month().strftime("%Y-%m")})
    return render(request, "benefits/rolls.html", context)


@role_required(Role.BUREAU)
@require_POST
def generate(request):
    jurisdiction = _own_jurisdiction(request)
    form = GenerateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, e)
        return redirect("benefits:rolls")
    programme = form.cleaned_data["programme"]
    outcome = run_service(request, lambda: services.month_of(form.cleaned_data["month"]))
    if not outcome:
        return redirect("benefits:rolls")
    month = outcome.value
    try:
        outcome = run_service(request, lambda: services.request_roll(
            actor=request.user, programme=programme, jurisdiction=jurisdiction, month=month))
    except Exception:  # the engine failed mid-way: the roll keeps the error and can be generated again
        log.exception("roll generation failed")
        roll = Roll.objects.filter(programme=programme, jurisdiction=jurisdiction, month=month).first()
        if roll is None:
            raise
        messages.error(request, _("名册生成中断，请查看错误信息后重新生成。"))
        return redirect("benefits:roll", roll.pk)
    if not outcome:
        return redirect("benefits:rolls")
    roll, queued = outcome.value
    if queued:
        messages.success(request, _("名册规模较大，已转入后台生成；本页会显示进度。"))
    else:
        done = _("已生成%(programme)s %(month)s 名册：%(n)d 人次，%(total)s 元，疑点 %(checks)d 个。")
        messages.success(request, done % {
            "programme": programme.name, "month": roll.month.strftime("%Y-%m"), "n": roll.line_count,
            "total": roll.total_amount, "checks": roll.open_checks})
    return redirect("benefits:roll", roll.pk)


def _roll(request, pk) -> Roll:
    return get_scoped_or_404(Roll.objects.select_related("programme", "jurisdiction", "approved_by", "created_by"),
                             request.user, "view", pk=pk)


def _line_filters(request, roll: Roll) -> tuple[LineFilterForm, selectors.LineFilters, list[Region]]:
    user = request.user
    # The places below what the user sees of the roll (a community has none).
    parent = roll.jurisdiction_id if selectors.sees_whole_roll(user, roll) else user.region_id
    regions = list(Region.objects.filter(parent_id=parent).only("code", "name")) if parent else []
    form = LineFilterForm(request.GET or None, regions=regions)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.LineFilters(region=data.get("region", ""), kind=data.get("kind", ""),
                                    status=data.get("status", ""), q=(data.get("q") or "").strip(),
                                    with_checks=bool(data.get("with_checks")))
    return form, filters, regions


def _lines_context(request, roll: Roll) -> dict:
    form, filters, regions = _line_filters(request, roll)
    qs = selectors.lines(request.user, roll, filters).prefetch_related("checks")
    page = Paginator(qs, LINES_PER_PAGE).get_page(request.GET.get("page"))
    lines = list(page.object_list)
    names = {r.code: r.name for r in regions}
    missing = {ln.region_code for ln in lines} - set(names)
    names.update(_region_names(missing))
    for ln in lines:
        ln.roll = roll
    rows = [{"line": ln, "region": names.get(ln.region_code, ln.region_code), "explanation": ln.explain(),
             "checks": list(ln.checks.all()), "account": ln.elder.masked_bank_account,
             "may_recover": policy.may_mark_recovered_line(request.user, ln)}
            for ln in lines]
    return {"roll": roll, "line_form": form, "page": page, "rows": rows}


def _checks_context(request, roll: Roll) -> dict:
    user = request.user
    qs = selectors.checks(user, roll)
    counts = dict(qs.order_by().values_list("kind").annotate(n=Count("id")))
    groups = []
    for kind, label in CheckKind.choices:
        if not counts.get(kind):
            continue
        shown = list(qs.filter(kind=kind).select_related("line__elder")[:CHECKS_PER_KIND])
        groups.append({"kind": kind, "label": label, "count": counts[kind], "checks": shown,
                       "more": counts[kind] - len(shown)})
    names = _region_names({c.region_code for g in groups for c in g["checks"]})
    for g in groups:
        for c in g["checks"]:
            c.roll = roll
        g["rows"] = [{"check": c, "region": names.get(c.region_code, c.region_code),
                      "may_resolve": policy.may_resolve_check(user, c)} for c in g["checks"]]
        g["may_resolve"] = any(row["may_resolve"] for row in g["rows"])
    return {"check_groups": groups, "open_check_count": sum(counts.values()),
            "may_resolve": any(g["may_resolve"] for g in groups)}


def _roll_context(request, roll: Roll, **extra) -> dict:
    """The roll page: what the user may see of the roll, and the steps policy.py lets them take on it (the
    same decisions the services require, so no button is offered that would be refused)."""
    user = request.user
    settings = BenefitSettings.for_region(roll.jurisdiction)
    figures = selectors.roll_figures(user, [roll])[roll.pk]
    may = {"generate": policy.may_generate_roll(user, roll.jurisdiction, roll)}
    context = {"roll": roll, "settings": settings, "figures": figures, "may": may,
               "generating": roll.status == RollStatus.GENERATING,
               "full_accounts": policy.is_bureau_of(user, roll.jurisdiction_id)}
    if roll.status == RollStatus.GENERATING:
        return {**context, **extra}
    reviews = selectors.street_reviews(user, roll)
    open_by_street = dict(RollCheck.objects.filter(roll=roll, resolution="")
                          .annotate(street=Substr("region_code", 1, 9))
                          .order_by().values_list("street").annotate(n=Count("id")))
    for r in reviews:
        r.roll = roll
        r.may_sign = policy.may_sign_off_street(user, r, open_checks=open_by_street.get(r.street_id, 0))
        r.on_behalf = not policy.is_street_of(user, r.street_id)
    may.update({
        "submit": policy.may_submit_roll(user, roll),
        "approve": policy.may_approve_roll(user, roll, settings=settings),
        "export": policy.may_export_bank_file(user, roll),
        "import": policy.may_import_bank_results(user, roll),
        "sign_remaining": policy.may_sign_off_remaining_streets(user, roll),
        "export_lines": policy.may_export_roll_lines(user, roll),
    })
    if not roll.programme.pays_to_bank:
        context["credited"] = selectors.credited_to_allowance(user, roll)
    context.update({
        "reviews": reviews, "reviews_signed": sum(1 for r in reviews if r.reviewed_at),
        "imports": list(roll.result_imports.select_related("imported_by").order_by("-imported_at")),
        "import_form": ImportForm(),
    })
    context.update(_checks_context(request, roll))
    context.update(_lines_context(request, roll))
    return {**context, **extra}


@role_required(*REGION_STAFF)
def roll_detail(request, pk):
    roll = _roll(request, pk)
    return render(request, "benefits/roll.html", _roll_context(request, roll))


@role_required(*REGION_STAFF)
def roll_lines(request, pk):
    """The lines table alone (htmx filter and pages)."""
    roll = _roll(request, pk)
    return render(request, "benefits/_lines.html", _lines_context(request, roll))


@role_required(*REGION_STAFF)
def roll_progress(request, pk):
    """Polled every 2 s while a roll is generated in the background; reloads the page when it is done."""
    roll = _roll(request, pk)
    if roll.status != RollStatus.GENERATING and is_htmx(request):
        response = HttpResponse("")
        response["HX-Refresh"] = "true"
        return response
    return render(request, "benefits/_progress.html", {"roll": roll})


def _back(roll: Roll, anchor: str = ""):
    return redirect(reverse("benefits:roll", args=[roll.pk]) + (f"#{anchor}" if anchor else ""))


@role_required(*REGION_STAFF)
@require_POST
def regenerate(request, pk):
    roll = _roll(request, pk)

    def done(result) -> str:
        fresh, queued = result
        return _("名册已转入后台重新生成。") if queued else _(
            "已重新生成：%(n)d 人次，%(total)s 元，疑点 %(checks)d 个。") % {
            "n": fresh.line_count, "total": fresh.total_amount, "checks": fresh.open_checks}

    try:
        run_service(request, lambda: services.request_roll(actor=request.user, programme=roll.programme,
                                                           jurisdiction=roll.jurisdiction, month=roll.month),
                    success=done)
    except Exception:
        log.exception("roll generation failed")
        messages.error(request, _("名册生成中断，请查看错误信息后重新生成。"))
    return _back(roll)


@role_required(*REGION_STAFF)
@require_POST
def resolve(request, pk, check_pk):
    roll = _roll(request, pk)
    check = selectors.checks(request.user, roll, open_only=False).filter(pk=check_pk).first()
    if check is None:
        raise Http404
    resolution = request.POST.get("resolution", "")
    # The service validates the resolution and the note, for the page and the API alike.
    done = (_("已核实无误：%(name)s（%(kind)s）") if resolution == "confirmed"
            else _("已暂缓发放：%(name)s（%(kind)s）"))
    run_service(request, lambda: services.resolve_check(actor=request.user, check=check, resolution=resolution,
                                                        note=request.POST.get("note", "")),
                success=done % {"name": check.line.elder.name, "kind": check.get_kind_display()})
    return _back(roll, "checks")


@role_required(*REGION_STAFF)
@require_POST
def confirm_kind(request, pk):
    """Every open check of one kind (that the user may see) confirmed, one service call per check."""
    roll = _roll(request, pk)
    form = ConfirmKindForm(request.POST)
    if not form.is_valid():
        raise Http404
    kind = form.cleaned_data["kind"]
    done = 0

    def confirm_each():  # one transaction per check: those confirmed before a refusal stay confirmed
        nonlocal done
        for check in selectors.checks(request.user, roll).filter(kind=kind):
            services.resolve_check(actor=request.user, check=check, resolution="confirmed", note=_("批量核实"))
            done += 1

    run_service(request, confirm_each)
    if done:
        messages.success(request, _("已将 %(n)d 个“%(kind)s”疑点核实无误。") % {
            "n": done, "kind": CheckKind(kind).label})
    return _back(roll, "checks")


@role_required(*REGION_STAFF)
@require_POST
def submit(request, pk):
    roll = _roll(request, pk)
    run_service(request, lambda: services.submit_for_review(actor=request.user, roll=roll),
                success=lambda r: _("已提交街道审核，请各街道核对本街道名单。") if r.status == RollStatus.IN_REVIEW
                else _("本辖区无需街道审核，可直接审批。"))
    return _back(roll)


@role_required(*REGION_STAFF)
@require_POST
def sign(request, pk):
    roll = _roll(request, pk)
    note = request.POST.get("note", "").strip()
    if request.POST.get("street") == "*":
        outcome = run_service(request, lambda: services.sign_off_remaining_streets(actor=request.user, roll=roll,
                                                                                   note=note))
        if not outcome:
            return _back(roll, "reviews")
        signed, refused = outcome.value
        if signed:
            messages.success(request, _("已代 %(n)d 个街道审核通过。") % {"n": len(signed)})
        for street, why in refused.items():
            messages.error(request, f"{street}：{why}")
        return _back(roll, "reviews")
    review = (StreetReview.objects.select_related("street")
              .filter(roll=roll, street_id=request.POST.get("street", "")).first())
    if review is None:
        raise Http404
    run_service(request, lambda: services.sign_off_street(actor=request.user, roll=roll, street=review.street,
                                                          note=note),
                success=_("%(street)s 已审核通过。") % {"street": review.street.name})
    return _back(roll, "reviews")


@role_required(*REGION_STAFF)
@require_POST
def approve(request, pk):
    roll = _roll(request, pk)
    done = (_("名册已审批：%(n)d 人次，%(total)s 元。现在可以下载银行代发文件。") if roll.programme.pays_to_bank
            else _("名册已审批：%(n)d 人次，%(total)s 元，已计入老年人的服务补贴余额。"))
    run_service(request, lambda: services.approve_roll(actor=request.user, roll=roll),
                success=lambda r: done % {"n": r.line_count, "total": r.total_amount})
    return _back(roll)


@role_required(*REGION_STAFF)
@require_POST
def export(request, pk):
    roll = _roll(request, pk)
    return _download(request, roll, lambda: services.export_bank_file(actor=request.user, roll=roll,
                                                                      fmt=request.POST.get("format", "xlsx")))


def _download(request, roll: Roll, make_file):
    """The file a service made, as a download that no cache keeps; on a refusal, back to the roll."""
    outcome = run_service(request, make_file)
    if not outcome:
        return _back(roll)
    name, content, mime = outcome.value
    response = attachment(content, filename=name, content_type=mime)
    response["Cache-Control"] = "no-store"
    return response


@role_required(*REGION_STAFF)
@require_POST
def export_lines(request, pk):
    """核对名单: the lines the user may see, masked, as xlsx."""
    roll = _roll(request, pk)
    return _download(request, roll, lambda: services.export_review_list(actor=request.user, roll=roll))


@role_required(*REGION_STAFF)
@require_POST
def import_results(request, pk):
    roll = _roll(request, pk)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("请选择银行回盘文件。"))
        return _back(roll, "bank")
    upload = form.cleaned_data["file"]
    content = upload.read()
    digest = hashlib.sha256(content).hexdigest()
    seen = BankResultImport.objects.filter(roll=roll, sha256=digest).exists()
    outcome = run_service(request, lambda: services.import_bank_results(
        actor=request.user, roll=roll, file_name=upload.name, content=content), flash_errors=False)
    if isinstance(outcome.error, ValidationError):  # the file's problems, listed on the roll page
        roll.refresh_from_db()
        context = _roll_context(request, roll, import_errors=outcome.messages)
        messages.error(request, _("回盘文件未导入：请按下面列出的问题修改后重新上传，名册未作任何改动。"))
        return render(request, "benefits/roll.html", context, status=422)
    if not outcome:  # the roll's state refuses it
        flash(request, outcome.error)
        return _back(roll, "bank")
    record = outcome.value
    if seen:
        messages.info(request, _("该文件已导入过，未作改动。"))
    else:
        messages.success(request, _("已导入回盘：成功 %(paid)d 笔，失败 %(failed)d 笔，未变 %(same)d 笔。") % {
            "paid": record.paid, "failed": record.failed, "same": record.unchanged})
    if record.failed:
        messages.warning(request, _("发放失败的 %(n)d 笔将由下月名册自动重发。") % {"n": record.failed})
    return _back(roll, "bank")


@role_required(*REGION_STAFF)
@require_POST
def mark_recovered(request, pk, line_pk):
    roll = _roll(request, pk)
    line = get_object_or_404(RollLine.objects.restrict(request.user).select_related("roll", "elder"),
                             pk=line_pk, roll=roll)
    run_service(request, lambda: services.mark_recovered(actor=request.user, line=line,
                                                         note=request.POST.get("note", "")),
                success=_("已登记追回：%(name)s %(amount)s 元。") % {"name": line.elder.name, "amount": -line.amount})
    return _back(roll, "lines")


# ----------------------------------------------------------------------------------------------- totals

@role_required(*REGION_STAFF)
def totals(request):
    form = TotalsForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    month = _this_month()
    if data.get("month"):
        try:
            month = services.month_of(data["month"])
        except ValidationError as exc:
            flash(request, exc)
    level = int(data.get("level") or 9)
    rows = selectors.totals_by_region(request.user, month=month, level=level)
    by_programme: dict[str, dict] = {}
    for r in rows:
        p = by_programme.setdefault(r["programme"], {"programme": r["programme"], "lines": 0,
                                                     "amount": Decimal("0.00")})
        p["lines"] += r["lines"]
        p["amount"] += r["amount"]
    top = max((r["amount"] for r in rows), default=0) or 1
    for r in rows:
        r["percent"] = int(100 * r["amount"] / top) if r["amount"] > 0 else 0
    if not form.is_bound:
        form = TotalsForm(initial={"month": month.strftime("%Y-%m"), "level": "9"})
    regions = list(dict.fromkeys(r["region_name"] for r in rows))
    chart = {"unit": str(_("元")), "regions": regions, "series": [
        {"name": name, "values": [str(next((r["amount"] for r in rows if r["region_name"] == region
                                             and r["programme"] == name), 0)) for region in regions]}
        for name in by_programme]}
    return render(request, "benefits/totals.html", {
        "form": form, "month": month, "rows": rows, "programmes": list(by_programme.values()), "chart": chart,
        "grand": {"lines": sum(r["lines"] for r in rows), "amount": sum((r["amount"] for r in rows), Decimal("0"))},
    })


# ------------------------------------------------------------------------------------------- home panel

def benefits_home_panel(request):
    """Home page card for region staff: this month's rolls with the figures of the user's own scope (a street
    sees its street's people and money, not the county's), checks to clear, streets to sign."""
    user = request.user
    if user.is_superuser or user.role not in REGION_STAFF or not user.scope_code:
        return None
    month = _this_month()
    visible = Roll.objects.restrict(user).select_related("programme")
    rolls = list(visible.filter(month=month).order_by("programme__position"))
    open_rolls = list(visible.filter(status__in=OPEN_ROLL_STATUSES))
    figures = selectors.roll_figures(user, {r.pk: r for r in rolls + open_rolls}.values())
    to_sign = 0
    if policy.is_street_of(user, user.region_id):
        to_sign = StreetReview.objects.filter(roll__in=visible, street_id=user.region_id, reviewed_at__isnull=True,
                                              roll__status=RollStatus.IN_REVIEW).count()
    failed = RollLine.objects.restrict(user).filter(
        Q(status=LineStatus.FAILED) & Q(month__gte=rules.add_months(month, -2))).count()
    return {"template": "benefits/_home_panel.html", "month": month,
            "rolls": [{"roll": r, **figures[r.pk]} for r in rolls],
            "open_checks": sum(figures[r.pk]["open_checks"] for r in open_rolls),
            "to_sign": to_sign, "failed": failed, "street": policy.is_street_of(user, user.region_id),
            "whole": all(figures[r.pk]["whole"] for r in rolls)}


# ---------------------------------------------------------------------------------------- the family's page

HISTORY_MONTHS = 24
FAMILY_ROLES = (Role.FAMILY, Role.ELDER)


def plain_status(line: RollLine) -> str:
    """Where a line's money is, in words for the family (not the clerk's workflow states)."""
    if line.roll.is_open:
        return _("名册审核中，审批后发放")
    if line.status == LineStatus.PENDING:
        return _("待追回") if line.kind == LineKind.RECOVERY else _("已审批，待银行发放")
    if line.status == LineStatus.PAID:
        return _("已发放（%(day)s）") % {"day": line.paid_on.isoformat()} if line.paid_on else _("已发放")
    if line.status == LineStatus.CREDITED:
        return _("已计入服务补贴余额（%(day)s）") % {"day": line.paid_on.isoformat()} if line.paid_on else _(
            "已计入服务补贴余额")
    if line.status == LineStatus.FAILED:
        return _("发放失败：%(reason)s。请核对银行账户，下月将重新发放。") % {"reason": line.failure_reason or "—"}
    if line.status == LineStatus.WITHHELD:
        return _("暂缓发放：%(reason)s") % {"reason": line.withheld_reason or "—"}
    return str(line.get_status_display())


def _elders_benefits(user, elders, month: datetime.date) -> list[dict]:
    """_elder_benefits of each elder, their lines and allowances read once for all of them."""
    histories = selectors.elder_histories(user, elders, since=rules.add_months(month, 1 - HISTORY_MONTHS))
    balances = allowance.balances(elders, month)
    return [_elder_benefits(e, month, histories.get(e.pk, []), balances.get(e.pk)) for e in elders]


def _elder_benefits(elder, month: datetime.date, lines: list, balance: dict | None) -> dict:
    issued = (LineStatus.PAID, LineStatus.CREDITED, LineStatus.RECOVERED)
    latest = lines[0].month if lines else None
    current = [ln for ln in lines if ln.month == latest and ln.kind == LineKind.REGULAR]
    credited = sum((ln.amount for ln in lines if ln.status == LineStatus.CREDITED and ln.for_month == month),
                   Decimal("0.00"))
    return {
        "elder": elder, "latest": latest,
        "current": [{"line": ln, "status": plain_status(ln)} for ln in current],
        "rows": [{"line": ln, "status": plain_status(ln), "explanation": ln.explain()} for ln in lines],
        "paid": sum((ln.amount for ln in lines if ln.status in issued), Decimal("0.00")),
        "pending": sum((ln.amount for ln in lines if ln.status == LineStatus.PENDING and ln.amount > 0),
                       Decimal("0.00")),
        "allowance": balance, "credited_this_month": credited,
        "vouchers": any(not ln.programme.pays_to_bank for ln in lines),
    }


@role_required(*FAMILY_ROLES)
def my_benefits(request):
    """The family's (or the elder's own) page of the linked elders' benefits: programmes, what each month paid
    or will pay and why, and the service allowance."""
    month = _this_month()
    elders = list(Elder.objects.restrict(request.user).order_by("name", "pk"))
    return render(request, "benefits/mine.html", {
        "month": month, "months": HISTORY_MONTHS,
        "elders": _elders_benefits(request.user, elders, month)})


def family_home_panel(request):
    """Home page card for the family: this month's benefits of each linked elder, and the way to the page."""
    user = request.user
    if user.is_superuser or user.role not in FAMILY_ROLES:
        return None
    month = _this_month()
    elders = list(Elder.objects.restrict(user).order_by("name", "pk"))
    return {"template": "benefits/_family_panel.html", "month": month,
            "elders": _elders_benefits(user, elders, month)}
