"""Pages of the provider workspace (服务工作台) and of the service catalogue (服务目录与价格公示).

Workspace tabs: 待接单 (accept / decline inline), 待派单 (assign, caregivers ranked by skill, shift, free time and
continuity of care), 今日看板 (one column per caregiver), 排班 (a week of shifts) and 异常 (flagged orders).
A provider works on its own organisation; platform operators and the county's bureau may look at a provider
by ?provider= (the bureau read-only). Every write goes through services.py; a refusal is shown where the
action was and changes nothing."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yiyang.core.http import run_service
from yiyang.core.models import Region, RegionLevel, Role
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.pii import is_ascii_digits
from yiyang.core.policy import has_role, require_roles
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import FamilyLink, Organisation, OrganisationKind, Practitioner

from . import policy, pricing, selectors, services
from .models import CaregiverShift, Order, OrderStatus, ProviderOffer, ServiceItem, ServicePrice, SubsidyRule

ORDERS_PER_PAGE = 30
DISPATCH_PER_PAGE = 20
TABS = ("incoming", "dispatch", "board", "shifts", "flags")
WORKSPACE_ROLES = (Role.PROVIDER, Role.BUREAU)


# ------------------------------------------------------------------------------------------------ helpers

def _htmx(request) -> bool:
    return bool(request.headers.get("HX-Request"))


def workspace_provider(request) -> tuple[Organisation | None, bool]:
    """(the provider whose workspace this is, whether the user may act in it: policy.may_view_workspace and
    may_run_workspace). A provider account works on its own organisation; a superuser on any (?provider=); a
    bureau looks at one of its region, read-only. None when a superuser or bureau has not chosen one yet."""
    user = request.user
    if not has_role(user, *WORKSPACE_ROLES):
        raise Http404
    if user.role == Role.PROVIDER and not user.is_superuser:
        if not user.organisation_id:
            raise Http404
        provider = Organisation.objects.get(pk=user.organisation_id)
    else:
        raw = (request.GET.get("provider") or request.POST.get("provider") or "").strip()
        if not raw:
            return None, False
        if not is_ascii_digits(raw):
            raise Http404
        provider = get_scoped_or_404(Organisation.objects.all(), user, pk=raw)
    if not policy.may_view_workspace(user, provider):
        raise Http404
    return provider, bool(policy.may_run_workspace(user, provider))


def _orders(request, provider: Organisation):
    """The provider's orders, as far as the user's scope reaches (a bureau: its region's people)."""
    return Order.objects.restrict(request.user).filter(provider_id=provider.pk)


def _provider_query(request, provider) -> str:
    """?provider=… carried by the links of a superuser's or bureau's view (empty for the provider itself)."""
    if provider is None or request.user.role == Role.PROVIDER and not request.user.is_superuser:
        return ""
    return urlencode({"provider": provider.pk})


def _tab_url(request, provider, tab: str, **extra) -> str:
    params = {"tab": tab, **extra}
    query = _provider_query(request, provider)
    return f"{reverse('services:workspace')}?{urlencode(params)}{'&' + query if query else ''}"


def _shift_windows(provider_id: int, days) -> dict:
    """(caregiver id, day) → [(start, end)] from the provider's shifts on those days (one query)."""
    days = list(days)
    if not days:
        return {}
    out: dict = {}
    rows = (CaregiverShift.objects.filter(caregiver__organisation_id=provider_id, day__gte=min(days),
                                          day__lte=max(days))
            .values_list("caregiver_id", "day", "start", "end"))
    for caregiver_id, day, start, end in rows:
        out.setdefault((caregiver_id, day), []).append((start, end))
    return out


def _rostered(provider_id: int):
    """The caregivers a shift can be set for (services.set_shift takes the caregiver role only)."""
    return selectors.field_staff(provider_id).filter(role="caregiver")


# -------------------------------------------------------------------------------------------- workspace

def _suggestion_label(s: selectors.Suggestion) -> str:
    bits = [_("具备技能") if s.has_skill else _("缺少技能")]
    if s.on_shift is True:
        bits.append(_("在班"))
    elif s.on_shift is False:
        bits.append(_("不在班"))
    bits.append(_("当天 %(n)d 单") % {"n": s.day_visits})
    if s.overlaps:
        bits.append(_("时间重叠 %(n)d 单") % {"n": s.overlaps})
    if s.served_before:
        bits.append(_("服务过该老人 %(n)d 次") % {"n": s.served_before})
    return f"{s.caregiver.name}（{'，'.join(bits)}）"


def _with_steps(user, orders):
    """Each order with the workspace's steps the user may take on it now (`order.may`, policy.py)."""
    for order in orders:
        order.may = {"accept": policy.may_accept_order(user, order), "decline": policy.may_decline_order(user, order),
                     "assign": policy.may_assign_order(user, order)}
    return orders


def _dispatch_rows(provider, orders) -> list[dict]:
    orders = list(orders)
    days = {timezone.localdate(o.scheduled_start) for o in orders}
    suggestions = selectors.caregiver_suggestions(provider.pk, orders, shifts=_shift_windows(provider.pk, days))
    return [{"order": o, "suggestions": [{"s": s, "label": _suggestion_label(s)}
                                         for s in suggestions.get(o.pk, [])]} for o in orders]


def _counts(orders) -> dict:
    return orders.aggregate(
        incoming=Count("pk", filter=Q(status=OrderStatus.REQUESTED), distinct=True),
        dispatch=Count("pk", filter=Q(status=OrderStatus.ACCEPTED), distinct=True),
        flagged=Count("pk", filter=Q(flags__isnull=False) & ~Q(status__in=(
            OrderStatus.SETTLED, OrderStatus.CANCELLED, OrderStatus.DECLINED)), distinct=True))


def _board_day(request) -> datetime.date:
    raw = (request.GET.get("day") or request.POST.get("day") or "").strip()
    try:
        return datetime.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def _week_start(request) -> datetime.date:
    day = _board_day(request)
    return day - datetime.timedelta(days=day.weekday())


def _provider_picker(request):
    qs = (Organisation.objects.restrict(request.user).filter(pk__in=ProviderOffer.objects.values("provider_id"))
          .order_by("name"))
    return render(request, "services/workspace/pick.html", {"providers": qs})


def workspace(request):
    provider, may_act = workspace_provider(request)
    if provider is None:
        return _provider_picker(request)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "incoming"
    return render(request, "services/workspace/workspace.html", _workspace_context(request, provider, may_act, tab))


def _workspace_context(request, provider, may_act: bool, tab: str, *, shift_form=None) -> dict:
    orders = _orders(request, provider)
    context = {"provider": provider, "may_act": may_act, "tab": tab, "counts": _counts(orders),
               "pq": _provider_query(request, provider), "today": timezone.localdate(),
               "tabs": [(t, label, _tab_url(request, provider, t)) for t, label in (
                   ("incoming", _("待接单")), ("dispatch", _("待派单")), ("board", _("今日看板")),
                   ("shifts", _("排班")), ("flags", _("异常")))]}
    if tab == "incoming":
        page = Paginator(orders.filter(status=OrderStatus.REQUESTED).select_related("elder", "item")
                         .order_by("scheduled_start", "pk"), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
        context.update(page=page, rows=_with_steps(request.user, list(page)))
    elif tab == "dispatch":
        page = Paginator(orders.filter(status=OrderStatus.ACCEPTED).select_related("elder", "item")
                         .order_by("scheduled_start", "pk"), DISPATCH_PER_PAGE).get_page(request.GET.get("page"))
        context.update(page=page, rows=_dispatch_rows(provider, _with_steps(request.user, list(page))))
    elif tab == "board":
        day = _board_day(request)
        board = selectors.provider_board(provider.pk, day)
        if not request.user.is_superuser and request.user.role != Role.PROVIDER:
            visible = set(orders.filter(pk__in=[v.pk for c in board["columns"] for v in c["visits"]]
                                        + [v.pk for v in board["unassigned"]]).values_list("pk", flat=True))
            for column in board["columns"]:
                column["visits"] = [v for v in column["visits"] if v.pk in visible]
            board["unassigned"] = [v for v in board["unassigned"] if v.pk in visible]
        shifts = _shift_windows(provider.pk, [day])
        for column in board["columns"]:
            person = column["caregiver"]
            column["shifts"] = shifts.get((person.pk, day), []) if person is not None else []
        context.update(board=board, day=day, previous_day=day - datetime.timedelta(days=1),
                       next_day=day + datetime.timedelta(days=1),
                       board_url=_tab_url(request, provider, "board"))
    elif tab == "shifts":
        context.update(_shifts_context(request, provider, shift_form))
    else:
        flagged = (orders.filter(flags__isnull=False).exclude(status__in=(
            OrderStatus.SETTLED, OrderStatus.CANCELLED, OrderStatus.DECLINED)).distinct()
                   .select_related("elder", "item", "caregiver").prefetch_related("flags")
                   .order_by("-scheduled_start", "-pk"))
        page = Paginator(flagged, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
        context.update(page=page, rows=list(page))
    return context


# --------------------------------------------------------------------------------------- order actions

def _action_order(request, pk) -> Order:
    # The workspace's buttons are the provider's: other roles have no such route (404, like an unknown order).
    require_roles(request.user, Role.PROVIDER, on_object=True)
    return get_scoped_or_404(Order.objects.select_related("elder", "item", "caregiver"), request.user, pk=pk)


def _answer(request, order: Order, *, template: str, ok: str = "", errors=(), context=None):
    """htmx: the row again (with the outcome in place); otherwise back to the tab with a message."""
    if _htmx(request):
        _with_steps(request.user, [order])
        return render(request, template, {"row": order, "ok": ok, "errors": list(errors),
                                          "provider": order.provider, **(context or {})})
    if ok:
        messages.success(request, ok)
    for error in errors:
        messages.error(request, error)
    tab = "dispatch" if "dispatch" in template else "incoming"
    return redirect(_tab_url(request, order.provider, tab))


def _incoming(request, pk, step, ok):
    """A step on an order of 待接单 (accept, decline), answered in its row; `ok` words the done step."""
    order = _action_order(request, pk)
    template = "services/workspace/_incoming_row.html"
    outcome = run_service(request, lambda: step(order), flash_errors=False)
    if not outcome:
        order.refresh_from_db()
        return _answer(request, order, template=template, errors=outcome.messages)
    return _answer(request, outcome.value, template=template, ok=ok(outcome.value))


@require_POST
def accept(request, pk):
    return _incoming(request, pk, lambda order: services.accept_order(actor=request.user, order=order,
                                                                      note=request.POST.get("note", "")),
                     lambda order: _("已接单，请在“待派单”中派给护理员。"))


@require_POST
def decline(request, pk):
    return _incoming(request, pk, lambda order: services.decline_order(actor=request.user, order=order,
                                                                       reason=request.POST.get("reason", "")),
                     lambda order: _("已拒单：%(reason)s") % {"reason": order.end_reason})


@require_POST
def assign(request, pk):
    order = _action_order(request, pk)
    template = "services/workspace/_dispatch_row.html"
    raw = (request.POST.get("caregiver") or "").strip()
    caregiver = (Practitioner.objects.filter(pk=raw, organisation_id=order.provider_id).first()
                 if is_ascii_digits(raw) else None)

    def refused(errors):
        order.refresh_from_db()
        row = _dispatch_rows(order.provider, [order])[0]
        return _answer(request, order, template=template, errors=errors, context={"item": row, "selected": raw})

    if caregiver is None:
        return refused([_("请选择本机构的护理员。")])
    outcome = run_service(request, lambda: services.assign_order(actor=request.user, order=order,
                                                                 caregiver=caregiver), flash_errors=False)
    if not outcome:
        return refused(outcome.messages)
    order = outcome.value
    return _answer(request, order, template=template, ok=_("已派给 %(name)s。") % {"name": caregiver.name},
                   context={"item": {"order": order, "suggestions": []}})


# ------------------------------------------------------------------------------------------------ shifts

def _date_input():
    # The browser's date and time pickers read ISO values whatever the page's language.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_input():
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class ShiftForm(forms.Form):
    caregiver = forms.ModelChoiceField(label=gettext_lazy("护理员"), queryset=Practitioner.objects.none())
    day = forms.DateField(label=gettext_lazy("日期"), widget=_date_input())
    start = forms.TimeField(label=gettext_lazy("上班"), widget=_time_input())
    end = forms.TimeField(label=gettext_lazy("下班"), widget=_time_input())

    def __init__(self, *args, provider=None, **kwargs):
        super().__init__(*args, **kwargs)
        if provider is not None:
            self.fields["caregiver"].queryset = _rostered(provider.pk)


def _shifts_context(request, provider, form=None) -> dict:
    week = _week_start(request)
    days = [week + datetime.timedelta(days=i) for i in range(7)]
    staff = [p for p in _rostered(provider.pk)
             if p.start_date <= days[-1] and (p.end_date is None or p.end_date >= days[0])]
    cells: dict = {}
    for shift in (CaregiverShift.objects.filter(caregiver__organisation_id=provider.pk, day__gte=days[0],
                                                day__lte=days[-1]).select_related("caregiver")
                  .order_by("day", "start")):
        shift.may_remove = policy.may_remove_shift(request.user, shift)
        cells.setdefault((shift.caregiver_id, shift.day), []).append(shift)
    grid = [{"caregiver": p, "cells": [{"day": d, "shifts": cells.get((p.pk, d), [])} for d in days]}
            for p in staff]
    return {"shifts_kept": True, "week": week, "days": days, "grid": grid,
            "may_set_shifts": any(policy.may_set_shift(request.user, p) for p in staff),
            "previous_week": week - datetime.timedelta(days=7), "next_week": week + datetime.timedelta(days=7),
            "shift_form": form or ShiftForm(provider=provider, initial={
                "day": max(timezone.localdate(), week), "start": datetime.time(8), "end": datetime.time(17)}),
            "shifts_url": _tab_url(request, provider, "shifts")}


def _shift_back(request, provider, week: str = ""):
    return redirect(_tab_url(request, provider, "shifts", **({"day": week} if week else {})))


@require_POST
def shift_add(request):
    require_roles(request.user, Role.PROVIDER, on_object=True)
    provider, may_act = workspace_provider(request)
    if provider is None or not may_act:
        raise Http404
    form = ShiftForm(request.POST, provider=provider)
    if form.is_valid():
        data = form.cleaned_data
        outcome = run_service(request, lambda: services.set_shift(
            actor=request.user, caregiver=data["caregiver"], day=data["day"], start=data["start"], end=data["end"]),
            success=_("已为 %(name)s 排班：%(day)s %(start)s–%(end)s") % {
                "name": data["caregiver"].name, "day": data["day"].isoformat(),
                "start": data["start"].strftime("%H:%M"), "end": data["end"].strftime("%H:%M")}, form=form)
        if outcome:
            return _shift_back(request, provider, data["day"].isoformat())
    # Shown again in place with the reasons; nothing was written.
    return render(request, "services/workspace/workspace.html",
                  _workspace_context(request, provider, may_act, "shifts", shift_form=form), status=422)


@require_POST
def shift_remove(request, pk):
    require_roles(request.user, Role.PROVIDER, on_object=True)
    provider, may_act = workspace_provider(request)
    if provider is None or not may_act:
        raise Http404
    shift = get_scoped_or_404(CaregiverShift.objects.select_related("caregiver"), request.user, pk=pk,
                              caregiver__organisation_id=provider.pk)
    run_service(request, lambda: services.remove_shift(actor=request.user, shift=shift),
                success=_("已取消 %(name)s %(day)s 的排班。") % {"name": shift.caregiver.name,
                                                              "day": shift.day.isoformat()})
    return _shift_back(request, provider, shift.day.isoformat())


# --------------------------------------------------------------------------------------------- catalogue

def _home_code(user) -> str:
    """Whose prices the page shows: the user's scope (a provider's: where it sits), else where their linked
    elder lives, else the platform's default jurisdiction."""
    if user.scope_code:
        return user.scope_code
    if user.role in (Role.FAMILY, Role.ELDER):
        link = FamilyLink.objects.filter(user_id=user.pk).select_related("elder").order_by("pk").first()
        if link is not None:
            return link.elder.residence_region_id
    return settings.DEFAULT_JURISDICTION_CODE


def describe_rule(rule: SubsidyRule | None) -> list[str]:
    """Who pays what under a rule, in sentences (the rule itself is applied by pricing.quote)."""
    if rule is None:
        return [_("本地尚未公布服务补贴规则：所有老人按市场价自付。")]
    try:
        params = pricing.parse(rule.params)
    except ValidationError:
        return [_("（规则数据有误，请联系管理员）")]
    return pricing.sentences(params)


class PriceForm(forms.Form):
    item = forms.ModelChoiceField(label=gettext_lazy("服务项目"), queryset=ServiceItem.objects.filter(is_active=True))
    valid_from = forms.DateField(label=gettext_lazy("起始日期"), widget=_date_input())
    market_price = forms.CharField(label=gettext_lazy("市场价（元）"), max_length=12)
    inclusive_price = forms.CharField(label=gettext_lazy("普惠价（元）"), max_length=12)
    note = forms.CharField(label=gettext_lazy("说明"), max_length=200, required=False)


class OfferForm(forms.Form):
    item = forms.ModelChoiceField(label=gettext_lazy("服务项目"), queryset=ServiceItem.objects.filter(is_active=True))
    streets = forms.ModelMultipleChoiceField(label=gettext_lazy("服务街道"), queryset=Region.objects.none(),
                                             widget=forms.CheckboxSelectMultiple)
    price = forms.CharField(label=gettext_lazy("价格（元）"), max_length=12)
    valid_from = forms.DateField(label=gettext_lazy("起始日期"), widget=_date_input())

    def __init__(self, *args, provider=None, **kwargs):
        super().__init__(*args, **kwargs)
        if provider is not None:
            county = provider.region_id[:services.COUNTY_LEN]
            self.fields["streets"].queryset = Region.objects.filter(level=RegionLevel.STREET,
                                                                    code__startswith=county).order_by("code")


def _bureau_jurisdiction(user) -> Region | None:
    """The jurisdiction whose prices the page publishes: the bureau's own, when it may (policy.py)."""
    if user.role == Role.BUREAU and user.scope_code and not user.is_superuser:
        region = Region.objects.filter(code=user.scope_code).first()
        if region is not None and policy.may_publish_price(user, region.code):
            return region
    return None


def _offer_provider(request) -> Organisation | None:
    """Whose offers the page declares: a provider's own; the bureau's choice (?provider=) among the providers
    of its area, on whose behalf it may declare (policy.may_declare_offer)."""
    user = request.user
    if user.role == Role.PROVIDER and not user.is_superuser:
        provider = Organisation.objects.filter(pk=user.organisation_id).first() if user.organisation_id else None
    else:
        raw = (request.GET.get("provider") or request.POST.get("provider") or "").strip()
        provider = (Organisation.objects.restrict(user).filter(pk=raw, kind=OrganisationKind.PROVIDER).first()
                    if is_ascii_digits(raw) and len(raw) < 12 else None)
    return provider if provider is not None and policy.may_declare_offer(user, provider) else None


def _catalogue_context(request, *, price_form=None, offer_form=None) -> dict:
    user = request.user
    where = Region.objects.filter(code=_home_code(user)).first() or Region.objects.filter(
        code=settings.DEFAULT_JURISDICTION_CODE).first()
    day = timezone.localdate()
    items = list(ServiceItem.objects.filter(is_active=True))
    code = where.code if where else ""
    found = selectors.prices_in_force(items, code, day)
    visible = set(ServicePrice.objects.restrict(user).filter(pk__in=[p.pk for p in found.values()])
                  .values_list("pk", flat=True))
    groups: dict[str, dict] = {}
    for item in items:
        price = found.get(item.pk)
        groups.setdefault(item.category, {"label": item.get_category_display(), "rows": []})["rows"].append(
            {"item": item, "price": price if price is not None and price.pk in visible else None})
    rule = selectors.subsidy_rule_in_force(code, day) if code else None
    if rule is not None and not SubsidyRule.objects.restrict(user).filter(pk=rule.pk).exists():
        rule = None
    context = {"where": where, "day": day, "groups": list(groups.values()), "rule": rule,
               "rule_sentences": describe_rule(rule),
               # The bureau's revision notes (and where its figures came from) are for staff, not families.
               "staff_notes": has_role(user, *REGION_STAFF)}
    jurisdiction = _bureau_jurisdiction(user)
    if jurisdiction is not None:
        context["jurisdiction"] = jurisdiction
        context["price_form"] = price_form or PriceForm(initial={
            "valid_from": day + datetime.timedelta(days=1)})
        context["price_history"] = list(ServicePrice.objects.filter(jurisdiction=jurisdiction)
                                        .select_related("item", "created_by")
                                        .order_by("item__position", "item__code", "-valid_from")[:200])
        context["rule_history"] = list(SubsidyRule.objects.filter(jurisdiction=jurisdiction)
                                       .order_by("-valid_from")[:20])
    if user.role == Role.BUREAU and not user.is_superuser:
        # The providers of its area, to declare an offer on one's behalf.
        context["offer_providers"] = [
            p for p in Organisation.objects.restrict(user).filter(kind=OrganisationKind.PROVIDER).order_by("name")[:200]
            if policy.may_declare_offer(user, p)]
    provider = _offer_provider(request)
    if provider is not None:
        context["provider"] = provider
        context["on_behalf"] = user.organisation_id != provider.pk
        context["offers"] = list(ProviderOffer.objects.restrict(user).filter(provider=provider)
                                 .exclude(valid_until__lt=day).select_related("item").prefetch_related("streets")
                                 .order_by("item__position", "item__code", "valid_from"))
        for offer in context["offers"]:
            price = found.get(offer.item_id)
            offer.ceiling = price.inclusive_price if price is not None else None
        initial = {"valid_from": day}
        # "调整": the form starts from one of the offers shown (same item, streets and price).
        chosen = next((o for o in context["offers"] if str(o.pk) == request.GET.get("offer", "")), None)
        if chosen is not None:
            initial.update(item=chosen.item_id, price=chosen.price,
                           streets=[r.code for r in chosen.streets.all()],
                           valid_from=max(day, chosen.valid_from + datetime.timedelta(days=1)))
        context["offer_form"] = offer_form or OfferForm(provider=provider, initial=initial)
    return context


def catalogue(request):
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    return render(request, "services/catalogue/catalogue.html", _catalogue_context(request))


@require_POST
def set_price(request):
    if not request.user.is_authenticated:
        raise Http404
    jurisdiction = _bureau_jurisdiction(request.user)
    if jurisdiction is None:
        raise Http404
    form = PriceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = _("已公布%(item)s自 %(date)s 起的价格：市场价 %(market)s 元，普惠价 %(inclusive)s 元。")
        outcome = run_service(request, lambda: services.set_price(
            actor=request.user, item=data["item"], jurisdiction=jurisdiction, valid_from=data["valid_from"],
            market_price=data["market_price"], inclusive_price=data["inclusive_price"], note=data["note"]),
            success=lambda price: done % {"item": price.item.name, "date": price.valid_from.isoformat(),
                                          "market": price.market_price, "inclusive": price.inclusive_price},
            form=form)
        if outcome:
            return redirect(reverse("services:catalogue") + "#prices")
    messages.error(request, _("价格未公布：请检查下面标出的内容。"))
    return render(request, "services/catalogue/catalogue.html", _catalogue_context(request, price_form=form),
                  status=422)


@require_POST
def declare_offer(request):
    if not request.user.is_authenticated:
        raise Http404
    provider = _offer_provider(request)
    if provider is None:
        raise Http404
    form = OfferForm(request.POST, provider=provider)
    if form.is_valid():
        data = form.cleaned_data
        outcome = run_service(request, lambda: services.declare_offer(
            actor=request.user, provider=provider, item=data["item"], streets=list(data["streets"]),
            price=data["price"], valid_from=data["valid_from"]),
            success=lambda offer: _("已申报%(item)s：%(price)s 元，自 %(date)s 起。") % {
                "item": offer.item.name, "price": offer.price, "date": offer.valid_from.isoformat()}, form=form)
        if outcome:
            back = "" if request.user.organisation_id == provider.pk else "?" + urlencode({"provider": provider.pk})
            return redirect(reverse("services:catalogue") + back + "#offers")
    messages.error(request, _("报价未申报：请检查下面标出的内容。"))
    return render(request, "services/catalogue/catalogue.html", _catalogue_context(request, offer_form=form),
                  status=422)

