"""The dispatcher's page (排线调度): plan a day, look at the routes on a map and per caregiver, lock visits to
caregivers, plan again, publish to the caregivers' phones. A provider works on its own organisation; a
superuser on any (?provider=); the county's bureau looks at one of its providers read-only. Every write goes
through services.py; a refusal is shown on the page and changes nothing."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yiyang.core.http import run_service
from yiyang.core.models import Role
from yiyang.core.pii import is_ascii_digits
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Organisation, OrganisationKind, Practitioner
from yiyang.services import selectors as service_selectors
from yiyang.services.models import Order

from . import policy, selectors, services
from .models import PlanStatus, RoutePlan

MODE_CHOICES = [("ebike", gettext_lazy("电动车")), ("walk", gettext_lazy("步行")), ("car", gettext_lazy("汽车"))]


class PlanForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("日期"),
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    time_limit_seconds = forms.IntegerField(label=gettext_lazy("排线时间（秒）"), min_value=1,
                                            max_value=services.MAX_TIME_LIMIT, initial=10)
    continuity_weight = forms.IntegerField(label=gettext_lazy("服务连续性权重（秒）"), min_value=0, max_value=86400,
                                           initial=600, help_text=gettext_lazy(
                                               "换一位老人没见过的护理员，相当于多走这么多秒的路。"))
    mode = forms.ChoiceField(label=gettext_lazy("出行方式"), choices=MODE_CHOICES, initial="ebike")


def _provider(request) -> tuple[Organisation | None, bool]:
    """(the provider whose day this is, whether the user may act): the same rule as the provider workspace."""
    from yiyang.services.views_workspace import workspace_provider

    return workspace_provider(request)


def _day(value) -> datetime.date:
    try:
        return datetime.date.fromisoformat((value or "").strip())
    except ValueError:
        return timezone.localdate()


def _url(request, provider, day: datetime.date) -> str:
    params = {"date": day.isoformat()}
    if provider is not None and (request.user.is_superuser or request.user.role != Role.PROVIDER):
        params["provider"] = provider.pk
    return f"{reverse('routing:plan')}?{urlencode(params)}"


def plan_page(request):
    provider, may_act = _provider(request)
    day = _day(request.POST.get("date") or request.GET.get("date"))
    form = PlanForm(initial={"date": day, "time_limit_seconds": 10, "continuity_weight": 600, "mode": "ebike"})
    if request.method == "POST":
        if provider is None or not may_act:
            raise Http404
        form = PlanForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            outcome = run_service(request, lambda: services.plan_day(
                actor=request.user, provider=provider, day=data["date"], time_limit_seconds=data["time_limit_seconds"],
                continuity_weight=data["continuity_weight"], mode=data["mode"]),
                success=lambda run: _("已生成第 %(v)s 版排线方案：%(served)s/%(total)s 单排入路线。") % {
                    "v": run.plan.version, "served": run.plan.summary["served"],
                    "total": run.plan.summary["visits"]})
            if outcome:
                return redirect(_url(request, provider, data["date"]))
            day = data["date"]
    providers = []
    if provider is None or not (request.user.role == Role.PROVIDER and not request.user.is_superuser):
        providers = list(Organisation.objects.restrict(request.user).filter(kind=OrganisationKind.PROVIDER)
                         .order_by("name")[:200])
    # Lock selects and the publish button are drawn from the rule the services enforce.
    may_act = may_act and provider is not None and bool(policy.may_dispatch_routes(request.user, provider))
    context = {"provider": provider, "may_act": may_act, "day": day, "form": form, "providers": providers,
               "view": None, "map": None, "caregivers": [], "published": None}
    if provider is not None:
        plan = selectors.latest_plan(provider, day)
        if plan is not None and request.method != "POST":
            # Plan again with the options of the last plan, not the defaults.
            last = plan.options or {}
            context["form"] = PlanForm(initial={"date": day, "mode": last.get("mode", "ebike"),
                                                "time_limit_seconds": max(1, round(last.get("time_limit_seconds", 10))),
                                                "continuity_weight": last.get("continuity_weight", 600)})
        if plan is not None:
            view = selectors.plan_view(plan)
            payload = {**selectors.map_payload(view), "labels": {
                "start": _("起点"), "arrival": _("预计到达"), "unassigned": _("未排入")}}
            context.update(view=view, map=payload,
                           is_draft=plan.status == PlanStatus.DRAFT)
        context["published"] = selectors.published_plan(provider, day)
        if may_act:
            context["caregivers"] = list(service_selectors.active_caregivers(provider, day))
    return render(request, "routing/plan.html", context)


@require_POST
def lock(request):
    provider, may_act = _provider(request)
    if provider is None or not may_act:
        raise Http404
    order = get_scoped_or_404(Order.objects.select_related("provider", "item"), request.user, "change",
                              pk=request.POST.get("order") or 0, provider_id=provider.pk)
    day = timezone.localdate(order.scheduled_start)
    raw = (request.POST.get("caregiver") or "").strip()
    caregiver = (Practitioner.objects.filter(organisation_id=provider.pk, pk=raw if is_ascii_digits(raw) else 0)
                 .first() if raw else None)
    if raw and caregiver is None:
        messages.error(request, _("未知的护理员。"))
    elif caregiver is not None:
        run_service(request, lambda: services.lock_visit(actor=request.user, order=order, caregiver=caregiver),
                    success=lambda _result: _("已将 %(elder)s 的订单锁定给 %(name)s，重新排线时保持不变。") % {
                        "elder": order.elder.name, "name": caregiver.name})
    else:
        run_service(request, lambda: services.unlock_visit(actor=request.user, order=order),
                    success=lambda _result: _("已解除 %(elder)s 的订单锁定。") % {"elder": order.elder.name})
    return redirect(_url(request, provider, day))


@require_POST
def publish(request, plan_id: int):
    provider, may_act = _provider(request)
    if provider is None or not may_act:
        raise Http404
    plan = get_object_or_404(RoutePlan.objects.restrict(request.user, "change"), pk=plan_id, provider_id=provider.pk)
    run_service(request, lambda: services.publish_plan(actor=request.user, plan=plan),
                success=lambda result: _published(plan, result))
    return redirect(_url(request, provider, plan.day))


def _published(plan: RoutePlan, result) -> str:
    text = _("已发布第 %(v)s 版：派单 %(assigned)s 单，%(unchanged)s 单护理员不变。") % {
        "v": plan.version, "assigned": len(result.assigned), "unchanged": len(result.unchanged)}
    if result.kept:
        text += " " + _("另有 %(n)s 单本方案未排入，保留原派单。") % {"n": len(result.kept)}
    return text
