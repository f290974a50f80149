"""Pages of the visits app (关爱巡访) for the bureau, streets and communities: coverage, tasks, 包联 pairings,
visitors, tier rule sets, the follow-up desk, and the panels it adds to the elder and home pages.

Views are thin: they parse the request, read through selectors.py, write through services.py (core/http.py's
`run_service`), and draw every button from the policy function the service itself checks. The visitor's phone
app is in views_phone.py.
"""

from __future__ import annotations

import datetime
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yiyang.core import pii
from yiyang.core.http import GENERAL, is_htmx, run_service
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF, role_required
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder

from . import generation, policy, rules, selectors, services
from .models import (
    FollowUp,
    FollowUpStatus,
    Pairing,
    RuleStatus,
    TaskKind,
    TaskStatus,
    TierRuleSet,
    Trigger,
    Visitor,
    VisitorKind,
    VisitTask,
)

PER_PAGE = 50
TREND_MONTHS = 6
STAFF = tuple(REGION_STAFF)


# ------------------------------------------------------------------------------------------------- helpers


def parse_month(text: str | None) -> datetime.date | None:
    text = (text or "").strip()
    try:
        return datetime.date.fromisoformat(text if len(text) > 7 else f"{text}-01").replace(day=1)
    except ValueError:
        return None


def this_month() -> datetime.date:
    return rules.month_start(timezone.localdate())


def _page(request, qs, per_page: int = PER_PAGE):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _region_names(codes) -> dict[str, str]:
    codes = {c for c in codes if c}
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def _communities(user) -> list[Region]:
    """The communities (and villages) of the user's area, for pickers."""
    code = user.scope_code or ""
    if not code:
        return []
    return list(Region.objects.filter(code__startswith=code, level="community").order_by("code"))


def _back(request, fallback: str):
    target = request.POST.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


def _elder_in_scope(request, raw) -> Elder:
    if not pii.is_ascii_digits(str(raw or "").strip()):
        raise Http404
    return get_scoped_or_404(Elder.objects.select_related("residence_region"), request.user, "view", pk=int(raw))


def _visitor_in_scope(request, raw) -> Visitor | None:
    if not pii.is_ascii_digits(str(raw or "").strip()):
        return None
    return get_scoped_or_404(Visitor.objects.all(), request.user, "view", pk=int(raw))


def _tier_names(user) -> dict[str, str]:
    """Tier code → name, from the rule sets the user can read (adopted first)."""
    out: dict[str, str] = {}
    for rule_set in selectors.rule_sets_for(user).order_by("status", "-version"):
        try:
            for tier in rules.parse(rule_set.params).tiers:
                out.setdefault(tier.code, tier.name)
        except Exception:  # noqa: BLE001 - a stored draft that no longer parses names nothing
            continue
    return out


def _percent(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# ------------------------------------------------------------------------------------------------- coverage


def _cov_rows(rows, names, tier_names) -> list[dict]:
    return [{"code": r.code, "name": names.get(r.code, r.code), "tier": tier_names.get(r.tier, r.tier),
             "due": r.due, "done": r.done, "on_time": r.on_time, "overdue": r.overdue, "open": r.open,
             "rate": _percent(r.rate)} for r in rows]


@role_required(*STAFF)
def coverage(request):
    """巡访覆盖率: the month's tasks due, done, on time and overdue per community, street and county, by tier,
    and the rate over the last six months."""
    user = request.user
    month = parse_month(request.GET.get("month")) or this_month()
    area = request.GET.get("area", "").strip()
    report = selectors.coverage(user, month=month, area_code=area)
    by_tier = selectors.coverage(user, month=month, area_code=area, by_tier=True)
    code = report.get("area_code", "")
    tiers: dict[str, generation.CoverageRow] = {}
    for row in by_tier["communities"]:
        tiers.setdefault(row.tier, generation.CoverageRow(code=code, tier=row.tier)).add(row)
    names = _region_names([r.code for r in report["communities"] + report["streets"] + report["counties"]] + [code])
    tier_names = _tier_names(user)
    trend = []
    for n in range(TREND_MONTHS - 1, -1, -1):
        m = rules.add_months(month, -n)
        total = report["total"] if m == month else selectors.coverage(user, month=m, area_code=code)["total"]
        trend.append({"month": f"{m:%Y-%m}", "due": total.due, "done": total.done,
                      "rate": None if total.rate is None else round(total.rate * 100, 1)})
    total = report["total"]
    return render(request, "visits/coverage.html", {
        "month": month, "month_value": f"{month:%Y-%m}", "area_code": code, "area_name": names.get(code, code),
        "total": total, "total_rate": _percent(total.rate),
        "communities": _cov_rows(report["communities"], names, {}),
        "streets": _cov_rows(report["streets"], names, {}) if len(report["streets"]) > 1 else [],
        "counties": _cov_rows(report["counties"], names, {}) if len(report["counties"]) > 1 else [],
        "tiers": _cov_rows(sorted(tiers.values(), key=lambda r: r.tier), {}, tier_names),
        "trend": trend,
        "chart": {"months": [t["month"] for t in trend], "rates": [t["rate"] for t in trend],
                  "due": [t["due"] for t in trend], "done": [t["done"] for t in trend],
                  "rateName": _("覆盖率（%）"), "dueName": _("应访"), "doneName": _("已访")},
    })


# ------------------------------------------------------------------------------------------------- tasks


@role_required(*STAFF)
def task_list(request):
    """巡访任务: filtered (overdue, 已上报, kind, month, community), with 安排临时探访 and 取消."""
    user = request.user
    g = request.GET
    month = parse_month(g.get("month"))
    filters = {"overdue": g.get("overdue") == "1", "escalated": g.get("escalated") == "1",
               "kind": g.get("kind", "") if g.get("kind") in TaskKind.values else "",
               "status": g.get("status", "") if g.get("status") in TaskStatus.values else "",
               "region_code": g.get("community", "").strip()}
    qs = selectors.tasks_for(user, month=month, **filters)
    page = _page(request, qs)
    rows = [{"task": t, "may_cancel": bool(policy.may_cancel_task(user, t))} for t in page]
    names = _region_names({r["task"].region_code for r in rows})
    for r in rows:
        r["community"] = names.get(r["task"].region_code, r["task"].region_code)
    context = {"page": page, "rows": rows, "filters": filters, "month_value": f"{month:%Y-%m}" if month else "",
               "kinds": TaskKind.choices, "statuses": TaskStatus.choices, "triggers": Trigger.choices,
               "communities": _communities(user)}
    if is_htmx(request):
        return render(request, "visits/_task_rows.html", context)
    return render(request, "visits/tasks.html", context)


@require_POST
@role_required(*STAFF, Role.FAMILY, Role.ELDER)
def task_raise(request):
    elder = _elder_in_scope(request, request.POST.get("elder"))
    run_service(request, lambda: services.raise_task(
        actor=request.user, elder=elder, trigger=request.POST.get("trigger", ""), note=request.POST.get("note", "")),
        success=lambda r: _("已安排临时探访，24 小时内完成。") if r[1] else _("该触发已安排过临时探访。"))
    return _back(request, reverse("visits:tasks"))


@require_POST
@role_required(*STAFF)
def task_cancel(request, pk: int):
    task = get_scoped_or_404(VisitTask.objects.all(), request.user, "view", pk=pk)
    run_service(request, lambda: services.cancel_task(actor=request.user, task=task,
                                                      reason=request.POST.get("reason", "")),
                success=_("已取消该巡访任务。"))
    return _back(request, reverse("visits:tasks"))


# ------------------------------------------------------------------------------------------------- pairings


@role_required(*STAFF)
def pairing_list(request):
    """包联: the open pairings of a community, those with a task this month and nobody responsible, and the
    forms to pair or re-pair."""
    user = request.user
    community = request.GET.get("community", "").strip()
    page = _page(request, selectors.pairings_for(user, region_code=community))
    unpaired = list(selectors.unpaired_for(user, region_code=community)[:PER_PAGE])
    unpaired_count = selectors.unpaired_for(user, region_code=community).count()
    visitors = list(selectors.visitors_for(user, region_code=community[:9]))
    may_manage = bool(policy.may_manage_visitors(user, community or user.scope_code or "-"))
    names = _region_names({p.region_code for p in page} | {e.residence_region_id for e in unpaired})
    return render(request, "visits/pairings.html", {
        "page": page, "pairings": [{"p": p, "community": names.get(p.region_code, p.region_code)} for p in page],
        "unpaired": [{"elder": e, "community": names.get(e.residence_region_id, "")} for e in unpaired],
        "unpaired_count": unpaired_count, "visitors": visitors, "may_manage": may_manage,
        "community": community, "communities": _communities(user)})


@require_POST
@role_required(*STAFF)
def pair(request):
    elder = _elder_in_scope(request, request.POST.get("elder"))
    visitor = _visitor_in_scope(request, request.POST.get("visitor"))
    backup = _visitor_in_scope(request, request.POST.get("backup"))
    if visitor is None:
        messages.error(request, _("请选择包联责任人。"))
    else:
        run_service(request, lambda: services.pair(actor=request.user, elder=elder, visitor=visitor, backup=backup),
                    success=_("已安排包联：%(elder)s → %(visitor)s") % {"elder": elder.name, "visitor": visitor.name})
    return _back(request, reverse("visits:pairings"))


@role_required(*STAFF)
def visitor_list(request):
    """巡访员: who visits in the area, how many people each is responsible for, adding one, and 离岗交接."""
    user = request.user
    community = request.GET.get("community", "").strip()
    show = request.GET.get("show", "active")
    active = {"active": True, "left": False}.get(show)
    qs = selectors.visitors_for(user, active=active, region_code=community).annotate(
        responsible=Count("pairings", filter=Q(pairings__until__isnull=True), distinct=True),
        backing=Count("backup_pairings", filter=Q(backup_pairings__until__isnull=True), distinct=True)
    ).order_by("region_code", "name", "pk")
    page = _page(request, qs)
    colleagues = list(selectors.visitors_for(user, region_code=community[:9]))
    rows = [{"v": v, "may_manage": bool(policy.may_manage_visitors(user, v.region_code)),
             "successors": [c for c in colleagues if c.pk != v.pk and c.region_code[:9] == v.region_code[:9]]}
            for v in page]
    return render(request, "visits/visitors.html", {
        "page": page, "rows": rows, "kinds": VisitorKind.choices, "communities": _communities(user),
        "community": community, "show": show,
        "may_add": bool(policy.may_manage_visitors(user, user.scope_code or "-")),
        "handover": request.session.pop("visits_handover", None)})


@require_POST
@role_required(*STAFF)
def visitor_add(request):
    code = request.POST.get("region", "").strip()
    region = Region.objects.filter(code=code).first()
    if region is None:
        messages.error(request, _("请选择所在社区/村。"))
    else:
        run_service(request, lambda: services.add_visitor(
            actor=request.user, name=request.POST.get("name", ""), kind=request.POST.get("kind", ""), region=region,
            phone=request.POST.get("phone", "")), success=lambda v: _("已添加巡访员 %(name)s。") % {"name": v.name})
    return _back(request, reverse("visits:visitors"))


@require_POST
@role_required(*STAFF)
def visitor_leave(request, pk: int):
    """离岗交接: the leaving visitor's people go to the successor (or their backup); the page then shows the
    counts, including those left for the unpaired list."""
    visitor = get_scoped_or_404(Visitor.objects.all(), request.user, "view", pk=pk)
    successor = _visitor_in_scope(request, request.POST.get("successor"))
    outcome = run_service(request, lambda: services.visitor_leaves(actor=request.user, visitor=visitor,
                                                                   successor=successor))
    if outcome:
        request.session["visits_handover"] = {"name": visitor.name, "successor": successor.name if successor else "",
                                              **outcome.value}
    return _back(request, reverse("visits:visitors"))


# ------------------------------------------------------------------------------------------------- rule sets


def _describe(params: dict) -> dict:
    """A rule set's tiers in words (for the detail page)."""
    try:
        parsed = rules.parse(params)
    except Exception:  # noqa: BLE001 - a draft saved before a rule change: show it raw
        return {"tiers": [], "covered": [], "raw": json.dumps(params, ensure_ascii=False, indent=2)}
    return {
        "tiers": [{"code": t.code, "name": t.name, "rank": t.rank, "period": rules.period_label(t.period),
                   "methods": "、".join(rules.method_label(m) for m in t.methods), "remote_counts": t.remote_counts,
                   "when": [c.describe() for c in t.when]} for t in parsed.ranked],
        "covered": [c.describe() for c in parsed.covered],
        "remind": parsed.remind_before_hours, "escalate": parsed.escalate_after_hours, "raw": "",
    }


@role_required(*STAFF)
def rule_list(request):
    user = request.user
    page = _page(request, selectors.rule_sets_for(user))
    jurisdiction = Region.objects.filter(code=user.scope_code).first() if user.scope_code else None
    return render(request, "visits/rules.html", {
        "page": page, "may_draft": bool(jurisdiction and policy.may_draft_rule_set(user, jurisdiction))})


def _simulation_rows(sim) -> list[dict]:
    proposed, current = sim["proposed"], sim["current"]
    now = {t.code: t for t in current.tiers} if current else {}
    rows = []
    for t in proposed.tiers:
        c = now.get(t.code)
        rows.append({"name": t.name, "period": rules.period_label(t.period), "people": t.people,
                     "visits": round(t.visits_per_month, 1), "current_people": c.people if c else None,
                     "current_visits": round(c.visits_per_month, 1) if c else None})
    return rows


@role_required(*STAFF)
def rule_detail(request, pk: int):
    user = request.user
    rule_set = get_scoped_or_404(TierRuleSet.objects.select_related("jurisdiction", "created_by", "adopted_by"),
                                 user, "view", pk=pk)
    context = {"rule_set": rule_set, "described": _describe(rule_set.params),
               "may_adopt": bool(policy.may_adopt_rule_set(user, rule_set)), "simulation": None}
    if rule_set.status == RuleStatus.DRAFT:
        outcome = run_service(request, lambda: services.simulate_rule_set(rule_set=rule_set), flash_errors=False)
        if outcome:
            sim = outcome.value
            context["simulation"] = {
                "month": sim["month"], "rows": _simulation_rows(sim), "current": sim["current_rule_set"],
                "people": sim["proposed"].people, "visits": round(sim["proposed"].visits_per_month, 1),
                "current_people": sim["current"].people if sim["current"] else None,
                "current_visits": round(sim["current"].visits_per_month, 1) if sim["current"] else None,
                "untiered": sim["proposed"].covered_untiered, "untiered_sample": sim["proposed"].untiered_sample}
        else:
            context["simulation_errors"] = outcome.messages
    return render(request, "visits/rule_detail.html", context)


@role_required(Role.BUREAU)
def rule_new(request):
    """Draft a new version: the parameters as JSON (prefilled with the rule set in force), validated by the
    service; its messages are shown beside the text."""
    user = request.user
    jurisdiction = Region.objects.filter(code=user.scope_code).first()
    if jurisdiction is None or not policy.may_draft_rule_set(user, jurisdiction):
        raise Http404
    errors: dict = {}
    month = rules.add_months(this_month(), 1)
    if request.method == "POST":
        raw = request.POST.get("params", "")
        valid_from = parse_month(request.POST.get("valid_from"))
        try:
            params = json.loads(raw)
        except ValueError as exc:
            errors = {"params": [_("规则不是有效的 JSON：%(why)s") % {"why": exc}]}
        else:
            if valid_from is None:
                errors = {"valid_from": [_("请选择起始月份。")]}
            else:
                outcome = run_service(request, lambda: services.draft_rule_set(
                    actor=user, jurisdiction=jurisdiction, params=params, valid_from=valid_from,
                    note=request.POST.get("note", ""), source=request.POST.get("source", "")),
                    flash_errors=False, success=_("已保存草稿，请查看测算结果后启用。"))
                if outcome:
                    return redirect("visits:rule", pk=outcome.value.pk)
                errors = outcome.errors
        text, note, source = raw, request.POST.get("note", ""), request.POST.get("source", "")
        month_value = request.POST.get("valid_from", "")
    else:
        current = (TierRuleSet.objects.filter(jurisdiction=jurisdiction, status=RuleStatus.ADOPTED)
                   .order_by("-valid_from").first())
        if current is None:
            from .defaults import MODEL_TIERS

            params = MODEL_TIERS
        else:
            params = current.params
        text = json.dumps(params, ensure_ascii=False, indent=2)
        note, source = "", current.source if current else ""
        month_value = f"{month:%Y-%m}"
    general = errors.pop(GENERAL, [])
    return render(request, "visits/rule_new.html", {
        "jurisdiction": jurisdiction, "text": text, "note": note, "source": source, "month_value": month_value,
        "general": general, "field_errors": sorted(errors.items())}, status=422 if errors or general else 200)


@require_POST
@role_required(*STAFF)
def rule_adopt(request, pk: int):
    rule_set = get_scoped_or_404(TierRuleSet.objects.select_related("jurisdiction"), request.user, "view", pk=pk)
    run_service(request, lambda: services.adopt_rule_set(actor=request.user, rule_set=rule_set),
                success=_("已启用，自 %(m)s 起生效。") % {"m": f"{rule_set.valid_from:%Y-%m}"})
    return redirect("visits:rule", pk=pk)


# ------------------------------------------------------------------------------------------------- follow-ups


@role_required(*STAFF)
def follow_up_list(request):
    """后续事项: needs found on visits that wait for the community (orders and assessments were made at once)."""
    user = request.user
    status = request.GET.get("status", FollowUpStatus.OPEN)
    status = status if status in FollowUpStatus.values or status == "all" else FollowUpStatus.OPEN
    page = _page(request, selectors.follow_ups_for(user, status="" if status == "all" else status))
    rows = [{"f": f, "may_close": bool(policy.may_close_follow_up(user, f))} for f in page]
    return render(request, "visits/follow_ups.html", {"page": page, "rows": rows, "status": status,
                                                      "statuses": FollowUpStatus.choices})


@require_POST
@role_required(*STAFF)
def follow_up_close(request, pk: int):
    follow_up = get_scoped_or_404(FollowUp.objects.all(), request.user, "view", pk=pk)
    run_service(request, lambda: services.close_follow_up(actor=request.user, follow_up=follow_up,
                                                          note=request.POST.get("note", "")),
                success=_("已关闭该事项。"))
    return _back(request, reverse("visits:follow_ups"))


# ------------------------------------------------------------------------------------------------- panels


def elder_visits_panel(request, elder) -> dict | None:
    """The elder page's section: pairing, open tasks, the last visits; buttons from the policy."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if not (user.role in REGION_STAFF or user.role in (Role.VISITOR, Role.FAMILY, Role.ELDER)):
        return None
    pairing = (Pairing.objects.restrict(user).filter(elder=elder, until__isnull=True)
               .select_related("visitor", "backup").first())
    records = list(selectors.records_for(user, elder=elder)[:10])
    tasks = list(selectors.tasks_for(user, elder=elder, status=TaskStatus.OPEN)[:10]) \
        if user.role in REGION_STAFF or user.role == Role.VISITOR else []
    may_manage = bool(policy.may_manage_visitors(user, elder.residence_region_id))
    return {"template": "visits/_elder_panel.html", "elder": elder, "pairing": pairing, "records": records,
            "tasks": tasks, "may_raise": bool(policy.may_raise_task(user, elder)), "triggers": Trigger.choices,
            "may_manage": may_manage,
            "visitors": list(selectors.visitors_for(user, region_code=elder.residence_region_id[:9]))
            if may_manage else []}


def staff_home_panel(request) -> dict | None:
    """Street and community home: overdue visits and this month's coverage."""
    user = request.user
    if user.is_superuser or user.role not in (Role.STREET, Role.COMMUNITY):
        return None
    month = this_month()
    total = selectors.coverage(user, month=month)["total"]
    return {"template": "visits/_home_panel.html", "month": month, "month_value": f"{month:%Y-%m}",
            "overdue": selectors.tasks_for(user, overdue=True).count(), "due": total.due, "done": total.done,
            "rate": _percent(total.rate)}


def visitor_home_panel(request) -> dict | None:
    user = request.user
    if user.is_superuser or user.role != Role.VISITOR:
        return None
    tasks = list(selectors.visitor_day(user))
    return {"template": "visits/_visitor_home_panel.html", "count": len(tasks),
            "overdue": sum(1 for t in tasks if t.overdue)}
