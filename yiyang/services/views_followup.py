"""Pages of follow-up calls (服务回访) and standing orders (周期服务).

服务回访: region staff draw the month's sample of completed orders, call each elder and record the outcome; a
summary per provider tells how satisfied people were (2 or less flags the order and holds it from settlement).
Providers see their own results, without the elders' phone numbers.

周期服务: the standing orders in the user's scope with what was skipped and the next orders placed; those
allowed may stop one. Every write goes through services.py; nothing here decides a business rule."""

import datetime
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yiyang.core.errors import DomainError, messages_of
from yiyang.core.models import Role
from yiyang.core.permissions import REGION_STAFF, has_role, role_required
from yiyang.core.scope import get_scoped_or_404

from . import policy, selectors, services
from .forms import FAMILY_ROLES, FollowUpForm
from .models import FollowUpCall, FollowUpOutcome, Order, RecurringOrder
from .views import weekdays_label

FOLLOW_UP_ROLES = (*REGION_STAFF, Role.PROVIDER)
RECURRING_ROLES = (*REGION_STAFF, Role.PROVIDER, *FAMILY_ROLES)
STOP_ROLES = (*REGION_STAFF, *FAMILY_ROLES)  # providers read the standing orders they serve
CALLS_PER_PAGE = 50
RULES_PER_PAGE = 20
NEXT_ORDERS = 7          # upcoming orders shown per standing order
DEFAULT_RATE = "10"      # per cent, as the sampling form shows it


def _back(request, url: str) -> HttpResponse:
    """After a button of the 周期服务 page: htmx reloads that page (a redirect to the same address with only a
    new #fragment would not reload it), a plain form is redirected."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return redirect(url)


# ------------------------------------------------------------------------------------------ 服务回访


def _last_month() -> datetime.date:
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def _shift_month(month: datetime.date, by: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + by
    return datetime.date(index // 12, index % 12 + 1, 1)


def _parse_month(text: str) -> datetime.date | None:
    text = (text or "").strip()
    try:
        return datetime.date.fromisoformat(text if len(text) > 7 else f"{text}-01").replace(day=1)
    except ValueError:
        return None


def _follow_up_context(request, month: datetime.date, *, sample_errors=None, rate=DEFAULT_RATE,
                       failed=None) -> dict:
    """The month's calls (pending first) and the summary per provider. `failed` is a call whose form was
    refused: (pk, errors by field, the values typed) so that they are shown in place."""
    user = request.user
    staff = has_role(user, *REGION_STAFF)
    calls = FollowUpCall.objects.restrict(user).filter(month=month)
    low = Q(satisfaction__lte=services.LOW_SATISFACTION)
    summary = list(
        calls.values("order__provider_id", "order__provider__name")
        .annotate(sampled=Count("pk"), called=Count("pk", filter=~Q(outcome="")),
                  reached=Count("pk", filter=Q(outcome=FollowUpOutcome.REACHED)),
                  average=Avg("satisfaction"), low=Count("pk", filter=low))
        .order_by("order__provider__name", "order__provider_id"))
    for row in summary:
        if row["average"] is not None:
            row["average"] = Decimal(str(row["average"])).quantize(Decimal("0.1"))
    page = Paginator(selectors.follow_up_calls_for(user, month=month), CALLS_PER_PAGE).get_page(
        request.GET.get("page"))
    rows = list(page.object_list)
    for call in rows:
        call.may_record = policy.may_record_follow_up(user, call)
        call.low = call.satisfaction is not None and call.satisfaction <= services.LOW_SATISFACTION
        call.errors, call.values = {}, {}
        if failed and failed[0] == call.pk:
            call.errors, call.values = failed[1], failed[2]
    return {
        "month": month, "previous_month": _shift_month(month, -1), "next_month": _shift_month(month, 1),
        "this_month": timezone.localdate().replace(day=1), "summary": summary, "calls": rows, "page": page,
        "staff": staff,
        "may_sample": bool(user.scope_code) and policy.may_sample_follow_ups(user, user.scope_code),
        "sample_errors": sample_errors or {}, "rate": rate, "outcomes": FollowUpOutcome.choices,
        "scores": ["1", "2", "3", "4", "5"], "low_satisfaction": services.LOW_SATISFACTION,
    }


@role_required(*FOLLOW_UP_ROLES)
def follow_up_list(request):
    month = _parse_month(request.GET.get("month", "")) or _last_month()
    return render(request, "services/followup/list.html", _follow_up_context(request, month))


@role_required(*REGION_STAFF)
@require_POST
def follow_up_sample(request):
    """「抽取回访样本」 for the user's own region: the rate is typed in per cent."""
    user = request.user
    month = _parse_month(request.POST.get("month", ""))
    rate_text = (request.POST.get("rate") or "").strip()[:8] or DEFAULT_RATE
    errors: dict[str, list[str]] = {}
    if month is None:
        errors["month"] = [_("请选择月份（YYYY-MM）。")]
    try:
        rate = Decimal(rate_text) / 100
        if not rate.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        rate = None
        errors["rate"] = [_("抽样比例应为数字（百分比）。")]
    if not getattr(user, "scope_code", ""):
        errors["general"] = [_("您的账号没有辖区，不能抽取回访样本。")]
    if not errors:
        try:
            added = services.sample_follow_ups(actor=user, jurisdiction=user.scope_code, month=month, rate=rate)
        except ValidationError as exc:
            for key, texts in getattr(exc, "message_dict", {"general": exc.messages}).items():
                # The service speaks of a fraction; the form asks for per cent.
                errors.setdefault(key if key in ("rate", "month") else "general", []).extend(
                    [_("抽样比例须大于 0% 且不超过 100%。")] if key == "rate" else texts)
        except DomainError as exc:
            errors["general"] = messages_of(exc)
        else:
            if added:
                messages.success(request, _("已抽取 %(month)s 的回访样本 %(n)d 单。") % {
                    "month": month.strftime("%Y-%m"), "n": len(added)})
            else:
                messages.info(request, _("%(month)s 的回访样本已达到比例，本次未新增。") % {
                    "month": month.strftime("%Y-%m")})
            return redirect(f"{reverse('services:follow_ups')}?month={month:%Y-%m}")
    context = _follow_up_context(request, month or _last_month(), sample_errors=errors, rate=rate_text)
    messages.error(request, _("未抽取：请检查下面标出的内容。"))
    return render(request, "services/followup/list.html", context, status=422)


@role_required(*REGION_STAFF)
@require_POST
def follow_up_record(request, pk):
    """Record one call's outcome (again, to correct it). A refusal shows the errors under that call."""
    call = get_scoped_or_404(FollowUpCall.objects.all(), request.user, "change", pk=pk)
    form = FollowUpForm(request.POST)
    values = {name: request.POST.get(name, "") for name in ("outcome", "satisfaction", "issues", "note")}
    errors: dict[str, list[str]] = {}
    if not form.is_valid():
        errors = {name: list(texts) for name, texts in form.errors.items()}
    else:
        data = form.cleaned_data
        try:
            services.record_follow_up(actor=request.user, call=call, outcome=data["outcome"],
                                      satisfaction=data["satisfaction"] or None, issues=data["issues"],
                                      note=data["note"])
        except ValidationError as exc:
            errors = dict(exc.message_dict) if hasattr(exc, "error_dict") else {"general": exc.messages}
        except DomainError as exc:
            errors = {"general": messages_of(exc)}
    if errors:
        context = _follow_up_context(request, call.month, failed=(call.pk, errors, values))
        messages.error(request, _("未保存回访结果：请检查标出的内容。"))
        return render(request, "services/followup/list.html", context, status=422)
    messages.success(request, _("已保存回访结果。"))
    return redirect(f"{reverse('services:follow_ups')}?month={call.month:%Y-%m}#call-{call.pk}")


# ------------------------------------------------------------------------------------------ 周期服务


def _next_orders(user, rules: list) -> dict[int, list]:
    """The upcoming orders each standing order has placed (client_key "recurring:<id>:<date>"), one query."""
    if not rules:
        return {}
    keys = Q()
    for rule in rules:
        keys |= Q(client_key__startswith=f"recurring:{rule.pk}:")
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))
    out: dict[int, list] = {}
    for order in (Order.objects.restrict(user).filter(keys, scheduled_start__gte=start)
                  .only("pk", "client_key", "scheduled_start", "status").order_by("scheduled_start", "pk")):
        rows = out.setdefault(int(order.client_key.split(":")[1]), [])
        if len(rows) < NEXT_ORDERS:
            rows.append(order)
    return out


def _recurring_context(request, *, failed=None) -> dict:
    user = request.user
    page = Paginator(selectors.recurring_orders_for(user), RULES_PER_PAGE).get_page(request.GET.get("page"))
    rules = list(page.object_list)
    upcoming = _next_orders(user, rules)
    linked = policy.linked_elders(user)
    for rule in rules:
        rule.days_label = weekdays_label(rule.weekdays)
        rule.next_orders = upcoming.get(rule.pk, [])
        rule.may_stop = policy.may_stop_recurring_order(user, rule, linked=linked)
        rule.quantity_text = format(rule.quantity.normalize(), "f")
        rule.errors = failed[1] if failed and failed[0] == rule.pk else []
    return {"rules": rules, "page": page, "may_order": has_role(user, *REGION_STAFF, *FAMILY_ROLES),
            "provider_view": user.role == Role.PROVIDER and not user.is_superuser}


@role_required(*RECURRING_ROLES)
def recurring_list(request):
    return render(request, "services/recurring/list.html", _recurring_context(request))


@role_required(*STOP_ROLES)
@require_POST
def recurring_stop(request, pk):
    """停止: no more orders are generated; those already placed stay (to be cancelled one by one)."""
    rule = get_scoped_or_404(RecurringOrder.objects.select_related("elder", "item"), request.user, "change", pk=pk)
    try:
        services.stop_recurring(actor=request.user, recurring=rule)
    except DomainError as exc:
        if request.headers.get("HX-Request"):  # htmx does not swap a refusal: show it on the page it reloads
            messages.error(request, "；".join(messages_of(exc)))
            return _back(request, f"{reverse('services:recurring_list')}#recurring-{rule.pk}")
        context = _recurring_context(request, failed=(rule.pk, messages_of(exc)))
        return render(request, "services/recurring/list.html", context, status=exc.status)
    messages.success(request, _("已停止周期服务：%(elder)s %(item)s。已生成的订单仍然有效，如不需要请逐单取消。") % {
        "elder": rule.elder.name, "item": rule.item.name})
    return _back(request, f"{reverse('services:recurring_list')}#recurring-{rule.pk}")
