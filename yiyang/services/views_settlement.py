"""Pages of the monthly settlement (服务结算): the bureau's month view of providers (statements prepared and
orders waiting), preparing a statement, the statement with its items and held-back orders, approval and the
xlsx for payment. A provider reads its own statements. Street and community staff have no settlement scope
(Settlement.scope_filter), so the pages answer 404 for them. Totals shown are the statement's, and the page
shows the items' own sums beside them: both to the fen."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yiyang.core.errors import DomainError
from yiyang.core.http import Outcome, attachment, run_service
from yiyang.core.models import Region, Role
from yiyang.core.permissions import has_role, role_required
from yiyang.core.pii import is_ascii_digits
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Organisation

from . import policy, selectors, services, settlement_file
from .models import Order, OrderStatus, Settlement, SettlementItem, SettlementStatus

ITEMS_PER_PAGE = 50
HELD_SHOWN = 200
SETTLEMENT_ROLES = (Role.BUREAU, Role.PROVIDER)


def _last_month() -> datetime.date:
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def _shift_month(month: datetime.date, by: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + by
    return datetime.date(index // 12, index % 12 + 1, 1)


def _bureau_view(user) -> bool:
    """The bureau's month view of its providers (a provider reads its own statements instead)."""
    return has_role(user, Role.BUREAU)


@role_required(*SETTLEMENT_ROLES)
def settlement_list(request):
    user = request.user
    month = _last_month()
    raw = (request.GET.get("month") or "").strip()
    if raw:
        try:
            month = datetime.date.fromisoformat(raw if len(raw) > 7 else f"{raw}-01").replace(day=1)
        except ValueError:
            messages.error(request, _("月份格式应为 YYYY-MM，如 2026-11。"))
    statements = Settlement.objects.restrict(user).select_related("provider", "jurisdiction")
    if not _bureau_view(user):  # a provider: its statements, newest first
        page = Paginator(statements.order_by("-month", "jurisdiction_id"), 24).get_page(request.GET.get("page"))
        return render(request, "services/settlement/list.html", {"provider_view": True, "page": page,
                                                                 "statements": list(page)})
    start, end = services.month_bounds(month)
    pending = selectors.pending_settlement_totals(Order.objects.restrict(user), start, end)
    by_key = {(s.provider_id, s.jurisdiction_id): s for s in statements.filter(month=month)}
    keys = set(by_key) | {(p["provider_id"], p["county_code"]) for p in pending}
    providers = Organisation.objects.in_bulk({k[0] for k in keys})
    counties = dict(Region.objects.filter(code__in={k[1] for k in keys}).values_list("code", "name"))
    waiting = {(p["provider_id"], p["county_code"]): p for p in pending}
    rows = []
    for key in keys:
        provider = providers.get(key[0])
        if provider is None:
            continue
        statement = by_key.get(key)
        rows.append({"provider": provider, "county_code": key[1], "county": counties.get(key[1], key[1]),
                     "statement": statement, "waiting": waiting.get(key),
                     # An approved statement is final; a draft may be prepared again as the orders are now.
                     "may_prepare": policy.may_prepare_settlement(user, key[1], statement=statement)})
    rows.sort(key=lambda r: (r["county_code"], r["provider"].name, r["provider"].pk))
    return render(request, "services/settlement/list.html", {
        "provider_view": False, "month": month, "rows": rows, "previous_month": _shift_month(month, -1),
        "next_month": _shift_month(month, 1), "this_month": timezone.localdate().replace(day=1)})


@role_required(Role.BUREAU)
@require_POST
def prepare(request):
    raw = (request.POST.get("provider") or "").strip()
    # A provider outside the bureau's area is not found, like any object outside its scope.
    provider = Organisation.objects.restrict(request.user).filter(pk=raw).first() if is_ascii_digits(raw) else None
    month_text = request.POST.get("month", "")
    back = reverse("services:settlements") + (f"?month={month_text}" if month_text else "")
    if provider is None:
        raise Http404
    outcome = _run(request, lambda: services.prepare_settlement(
        actor=request.user, provider=provider, month=month_text, jurisdiction=request.POST.get("jurisdiction") or None))
    if not outcome:
        return redirect(back)
    statement = outcome.value
    messages.success(request, _("已生成%(provider)s %(month)s 的结算单：%(n)d 单，%(total)s 元；暂缓 %(held)d 单。") % {
        "provider": provider.name, "month": statement.month.strftime("%Y-%m"), "n": statement.order_count,
        "total": statement.total, "held": statement.held_count})
    return redirect("services:settlement", pk=statement.pk)


def _statement(request, pk) -> Settlement:
    return get_scoped_or_404(Settlement.objects.select_related("provider", "jurisdiction", "approved_by",
                                                               "exported_by"), request.user, pk=pk)


def _run(request, call) -> Outcome:
    """run_service, but a step the user may not take at all answers 403 (404 outside the scope); a state
    refusal is flashed."""
    outcome = run_service(request, call, flash_errors=False)
    exc = outcome.error
    if isinstance(exc, DomainError) and exc.status == 404:
        raise Http404
    if isinstance(exc, DomainError) and exc.status == 403:
        raise PermissionDenied(str(exc.message))
    if not outcome:
        outcome.flash(request)
    return outcome


@role_required(*SETTLEMENT_ROLES)
def settlement_detail(request, pk):
    statement = _statement(request, pk)
    items = SettlementItem.objects.filter(settlement=statement)
    included = items.filter(held=False)
    page = Paginator(included.select_related("order__elder", "order__item", "order__caregiver")
                     .order_by("order__check_out_at", "order_id"), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    held = list(items.filter(held=True).select_related("order__elder", "order__item")
                .order_by("order__check_out_at", "order_id")[:HELD_SHOWN])
    sums = selectors.money_sums(included)
    parts = ("total", "subsidy", "allowance", "copay")
    reconciled = sums["count"] == statement.order_count and all(sums[p] == getattr(statement, p) for p in parts)
    # A large approved statement's orders are marked 已结算 by the task queue after approval: say how far.
    settling = None
    if statement.status != SettlementStatus.DRAFT:
        done = included.filter(order__status=OrderStatus.SETTLED).count()
        settling = None if done >= statement.order_count else done
    return render(request, "services/settlement/detail.html", {
        "statement": statement, "page": page, "rows": list(page), "held": held, "sums": sums,
        "reconciled": reconciled, "settling": settling,
        "may_approve": policy.may_approve_settlement(request.user, statement),
        "may_prepare": policy.may_prepare_settlement(request.user, statement.jurisdiction_id, statement=statement),
        # The xlsx is for payment, by the county's bureau (services.export_settlement): providers read the page.
        "may_export": policy.may_export_settlement(request.user, statement)})


def _back(request, statement):
    url = reverse("services:settlement", args=[statement.pk])
    if request.headers.get("HX-Request"):
        response = HttpResponse("")
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@role_required(*SETTLEMENT_ROLES)
@require_POST
def approve(request, pk):
    statement = _statement(request, pk)
    outcome = _run(request, lambda: services.approve_settlement(actor=request.user, settlement=statement))
    if outcome:
        statement = outcome.value
        messages.success(request, _("结算单已审核通过：%(n)d 单，合计 %(total)s 元。现在可以导出付款文件。") % {
            "n": statement.order_count, "total": statement.total})
    return _back(request, statement)


@role_required(*SETTLEMENT_ROLES)
@require_POST
def export(request, pk):
    statement = _statement(request, pk)
    outcome = _run(request, lambda: services.export_settlement(actor=request.user, settlement=statement))
    if not outcome:
        return _back(request, statement)
    return attachment(outcome.value, filename=settlement_file.file_name(statement),
                      content_type=settlement_file.CONTENT_TYPE)
