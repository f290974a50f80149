"""Order pages of the services app (居家社区服务订单): placing an order step by step with the price split
shown before confirming, the order list, one order with its timeline and the actions of the user's role,
and the family's home panel. Every write goes through services.py; a refusal is shown next to the field or
the button it concerns, and nothing is written."""

import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.http import GENERAL, Outcome, run_service
from yiyang.core.models import Role
from yiyang.core.permissions import REGION_STAFF, has_role, role_required
from yiyang.core.pii import is_ascii_digits
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder, Organisation, Practitioner

from . import policy, pricing, selectors, services
from .forms import FAMILY_ROLES, OrderFilterForm, OrderForm
from .models import (
    Order,
    OrderStatus,
    RecurringOrder,
    ServiceCategory,
    ServiceItem,
    ServiceUnit,
)

ORDERING_ROLES = (*REGION_STAFF, *FAMILY_ROLES)
LIST_ROLES = (*REGION_STAFF, Role.PROVIDER, Role.CAREGIVER, *FAMILY_ROLES)
FLAG_ROLES = (*REGION_STAFF, Role.PROVIDER)
CAREGIVER_APP = "services:caregiver_today"  # the caregivers' phone app (views_caregiver.py)
ORDERS_PER_PAGE = 25
DEFAULT_TIME = datetime.time(9, 0)
OPEN_STATUSES = (OrderStatus.REQUESTED, OrderStatus.ACCEPTED, OrderStatus.ASSIGNED, OrderStatus.CHECKED_IN)
# What the family still has to do once the visit is done.
FAMILY_STEPS = {OrderStatus.CHECKED_OUT: "confirm", OrderStatus.CONFIRMED: "rate"}


def _htmx(request) -> bool:
    return bool(request.headers.get("HX-Request"))


def _tomorrow() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=1)


def _number(value: Decimal) -> str:
    """1.50 → 1.5, 90.00 → 90 (quantities and percentages, not money)."""
    return format(value.normalize(), "f") if value is not None else ""


# ------------------------------------------------------------------------------------------ place an order


@dataclass
class Placement:
    """What the order page knows so far. Each step's choices depend on the steps before it: the elder's
    jurisdiction decides the catalogue and prices, the elder's street and the day decide the providers."""

    day: datetime.date
    time: datetime.time | None
    quantity_text: str
    client_key: str
    elders: list = field(default_factory=list)      # a family's linked elders
    elder: Elder | None = None
    groups: list = field(default_factory=list)      # [(category label, [(item, price)])]
    item: ServiceItem | None = None
    price: object = None                            # ServicePrice in force for the item
    offers: list = field(default_factory=list)
    offer: object = None                            # the chosen provider's ProviderOffer
    search: str = ""
    found: list = field(default_factory=list)       # staff: elders matching the search
    repeat: bool = False                            # 每周重复: a standing order instead of one order
    weekdays: list = field(default_factory=list)    # as ticked, ISO 1–7 as text; the service checks them
    ends_on: datetime.date | None = None
    first: datetime.datetime | None = None          # the standing order's first visit, when it can be told

    @property
    def start(self) -> datetime.datetime | None:
        if self.time is None:
            return None
        if self.repeat and self.first is not None:
            return self.first
        return timezone.make_aware(datetime.datetime.combine(self.day, self.time))

    @property
    def weekday_text(self) -> str | None:
        """"2,4" when the ticked days read as ISO weekdays, else None (the service words the error)."""
        try:
            days = sorted({int(d) for d in self.weekdays})
        except ValueError:
            return None
        return ",".join(map(str, days)) if days and all(1 <= d <= 7 for d in days) else None

    @property
    def quantity(self):
        """The quantity as a number when it reads as one, else as typed: the service says what is wrong."""
        try:
            value = Decimal(self.quantity_text)
        except (InvalidOperation, ValueError):
            return self.quantity_text or None
        return value if value.is_finite() else self.quantity_text

    @property
    def hourly(self) -> bool:
        return self.item is not None and self.item.unit == ServiceUnit.HOUR


def _key(value: str) -> str:
    """The form's submission key: kept while the person works on the form, new when there is none."""
    value = (value or "").strip()
    return value if value and len(value) <= 64 and value.replace("-", "").isalnum() else uuid.uuid4().hex


def _placement(request, form: OrderForm) -> Placement:
    user = request.user
    form.is_valid()  # cleaned_data keeps every field that parsed, the others are None below
    data, raw = form.cleaned_data, form.data
    p = Placement(
        day=data.get("date") or _tomorrow(),  # a bad date is reported on submit; the options use tomorrow
        time=data.get("time") if raw.get("time") else (None if "time" in raw else DEFAULT_TIME),
        quantity_text=(raw.get("quantity", "1") or "").strip()[:12],
        client_key=_key(raw.get("client_key", "")),
        repeat=bool(data.get("repeat")),
        ends_on=data.get("ends_on"),
    )
    if p.repeat:
        p.weekdays = [d.strip()[:2] for d in raw.getlist("weekdays")][:7]
        if not p.weekdays and request.method == "GET":
            p.weekdays = [str(p.day.isoweekday())]  # just switched on: the chosen date's weekday
        p.first = _first_occurrence(p)
    elder_pk = data.get("elder")
    if user.role in FAMILY_ROLES and not user.is_superuser:
        p.elders = list(Elder.objects.restrict(user).select_related("residence_region").order_by("name", "pk"))
        p.elder = next((e for e in p.elders if e.pk == elder_pk), None)
        if elder_pk is not None and p.elder is None:
            raise Http404
        if p.elder is None and len(p.elders) == 1:
            p.elder = p.elders[0]
    else:
        if elder_pk is not None:
            p.elder = get_scoped_or_404(Elder.objects.select_related("residence_region"), user, pk=elder_pk)
        p.search = (request.GET.get("q") or "").strip()[:40]
        if p.search and p.elder is None:
            p.found = list(selectors.elders_to_order_for(user, p.search))
    if p.elder is None:
        return p
    groups: dict[str, list] = {}
    for item, price in selectors.catalogue_in_force(p.elder.residence_region_id, p.day):
        groups.setdefault(item.category, []).append((item, price))
    p.groups = [(label, groups[value]) for value, label in ServiceCategory.choices if value in groups]
    code = data.get("item") or ""
    for _label, rows in p.groups:
        for item, price in rows:
            if item.code == code:
                p.item, p.price = item, price
    if p.item is None:
        return p
    p.offers = selectors.offers_in_street(p.item, p.elder.residence_region_id, p.day)
    provider_pk = data.get("provider")
    p.offer = next((o for o in p.offers if o.provider_id == provider_pk), None)
    if p.offer is None and len(p.offers) == 1 and provider_pk is None:
        p.offer = p.offers[0]
    return p


def _first_occurrence(p: Placement) -> datetime.datetime | None:
    """The first visit of the standing order being set up (unsaved; the service's own occurrences())."""
    if p.time is None or p.weekday_text is None:
        return None
    draft = RecurringOrder(weekdays=p.weekday_text, time=p.time, starts_on=p.day, ends_on=p.ends_on)
    now = timezone.now()
    found = [t for t in services.occurrences(draft, p.day, p.day + datetime.timedelta(days=6)) if t > now]
    return found[0] if found else None


WEEKDAY_NAMES = (gettext_lazy("一"), gettext_lazy("二"), gettext_lazy("三"), gettext_lazy("四"),
                 gettext_lazy("五"), gettext_lazy("六"), gettext_lazy("日"))


def weekdays_label(weekdays: str) -> str:
    """"2,4" → 每周二、四."""
    names = [str(WEEKDAY_NAMES[int(d) - 1]) for d in weekdays.split(",")
             if is_ascii_digits(d.strip()) and 1 <= int(d) <= 7]
    # Translators: the separator between weekday names in 每周二、四.
    return _("每周%(days)s") % {"days": _("、").join(names)}


def _explain(p: Placement, quote, rule) -> list[str]:
    """The split in sentences a family understands: why this price, who pays what, under which rule."""
    unit = p.item.get_unit_display()
    who = p.elder.name
    lines = []
    if quote.reasons:
        lines.append(_("%(who)s属于%(reasons)s，按普惠价计价：服务机构报价 %(offer)s 元/%(unit)s，普惠价上限 "
                       "%(ceiling)s 元/%(unit)s，取较低者 %(price)s 元/%(unit)s。") % {
            "who": who, "reasons": "、".join(str(r) for r in quote.reasons), "offer": p.offer.price,
            "ceiling": p.price.inclusive_price, "price": quote.unit_price, "unit": unit})
    elif quote.basis == "inclusive":
        lines.append(_("%(who)s不属于服务补贴对象，按普惠价 %(price)s 元/%(unit)s 计价。") % {
            "who": who, "price": quote.unit_price, "unit": unit})
    else:
        lines.append(_("%(who)s不属于服务补贴对象，按市场价 %(price)s 元/%(unit)s 计价。") % {
            "who": who, "price": quote.unit_price, "unit": unit})
    if quote.share > 0:
        lines.append(_("政府补贴 %(share)s%%，即 %(subsidy)s 元（按分四舍五入），由政府直接与服务机构结算。") % {
            "share": _number(quote.share), "subsidy": quote.subsidy})
    elif quote.reasons:
        lines.append(_("普惠价已低于市场价，不另外补贴差额。"))
    if quote.allowance > 0:
        lines.append(_("其余部分先从本月服务补贴余额中抵扣 %(allowance)s 元。") % {"allowance": quote.allowance})
    lines.append(_("本人自付 %(copay)s 元，服务完成后支付给服务机构。") % {"copay": quote.copay})
    if rule is not None:
        lines.append(rule_basis(rule, quote))
    return lines


def rule_basis(rule, quote=None) -> str:
    """The rule that priced it, as a family reads it: where and since when, the row that applied in plain
    words (with a quote), and the jurisdiction's own document; never the bureau's revision notes, which may
    say where its figures came from (for staff)."""
    text = _("依据：%(where)s自 %(date)s 起执行的服务补贴规则") % {
        "where": rule.jurisdiction.name, "date": rule.valid_from.isoformat()}
    if quote is not None:
        try:
            params = pricing.parse(rule.params)
        except ValidationError:
            params = pricing.SubsidyParams()
        text += _("——%(rule)s") % {
            "rule": pricing.row_sentence(quote.row) if quote.row is not None else pricing.others_sentence(params)}
    if rule.source:
        text += _("（政策依据：%(source)s）") % {"source": rule.source}
    return text


def _quote_context(request, p: Placement) -> dict:
    missing = [label for label, value in ((_("老年人"), p.elder), (_("服务项目"), p.item), (_("服务机构"), p.offer),
                                          (_("上门时间"), p.time), (_("数量"), p.quantity)) if value is None]
    if missing:
        return {"quote_missing": missing}
    outcome = run_service(request, lambda: services.preview_quote(
        actor=request.user, elder=p.elder, provider=p.offer.provider, item=p.item, scheduled_start=p.start,
        quantity=p.quantity, allowance_available=None), flash_errors=False)
    if not outcome:
        return {"quote_errors": outcome.messages}
    quote = outcome.value
    rule = selectors.subsidy_rule_in_force(p.elder.residence_region_id, p.day)
    if rule is not None:
        rule.jurisdiction  # noqa: B018  (loaded here, not in the template)
    lines = _explain(p, quote, rule)
    if p.repeat:
        lines.append(_("每次按当次日期计价；服务补贴余额不足时由本人自付。"))
    return {"quote": quote, "quote_lines": lines, "share": _number(quote.share),
            "quantity": _number(quote.quantity)}


def _new_context(request, form, p: Placement, errors=None) -> dict:
    user = request.user
    family = user.role in FAMILY_ROLES and not user.is_superuser
    values = {name: form.data.get(name, "") for name in ("note", "channel")}
    return {
        "p": p, "form": form, "errors": errors or {}, "family": family, "values": values,
        "channels": form.fields["channel"].choices,
        "channel": form.cleaned_data.get("channel") or form.fields["channel"].choices[0][0],
        "weekday_choices": [(str(i), name) for i, name in enumerate(WEEKDAY_NAMES, start=1)],
        "ends_on_text": form.data.get("ends_on", "")[:10],
        "min_day": timezone.localdate().isoformat(),
        "max_day": (timezone.localdate() + datetime.timedelta(days=services.BOOKING_HORIZON_DAYS)).isoformat(),
        **_quote_context(request, p),
    }


# Service error keys → the field they are shown next to.
ERROR_FIELDS = {"elder": "elder", "item": "item", "provider": "provider", "scheduled_start": "when",
                "date": "when", "time": "when", "quantity": "quantity", "channel": "channel", "note": "note",
                # a standing order (create_recurring)
                "starts_on": "when", "weekdays": "weekdays", "repeat": "weekdays", "ends_on": "ends_on"}


def _on_page(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors by the service's (or the form's) field → by the place on the page they are shown."""
    out: dict[str, list[str]] = {}
    for key, texts in errors.items():
        out.setdefault(ERROR_FIELDS.get(key, GENERAL), []).extend(texts)
    return out


def _field_errors(outcome: Outcome) -> dict[str, list[str]]:
    if isinstance(outcome.error, DomainError) and outcome.error.code == "elder_inactive":
        return {"elder": outcome.messages}
    return _on_page(outcome.errors)


@role_required(*ORDERING_ROLES)
@require_http_methods(["GET", "POST"])
def order_new(request):
    """预约服务: elder → item → provider → day, time and quantity → the quote → 确认下单. GET renders the
    form as far as it is filled in (htmx re-renders it when a step changes); POST places the order."""
    data = request.POST if request.method == "POST" else request.GET
    form = OrderForm(data, user=request.user)
    p = _placement(request, form)
    if request.method == "GET":
        return render(request, "services/orders/new.html", _new_context(request, form, p))
    errors = _on_page({name: texts for name, texts in form.errors.items() if name != "ends_on" or p.repeat})
    item = ServiceItem.objects.filter(code=form.cleaned_data.get("item") or "").first()
    provider = Organisation.objects.filter(pk=form.cleaned_data.get("provider") or 0).first()
    if p.elder is None:
        errors.setdefault("elder", [_("请选择老年人。")])
    if item is None:
        errors.setdefault("item", [_("请选择服务项目。")])
    if provider is None:
        errors.setdefault("provider", [_("请选择服务机构。")])
    if not errors and p.repeat:
        response, errors = _place_recurring(request, form, p, item, provider)
        if response is not None:
            return response
    elif not errors:
        outcome = run_service(request, lambda: services.place_order(
            actor=request.user, elder=p.elder, provider=provider, item=item, scheduled_start=p.start,
            quantity=p.quantity, channel=form.cleaned_data["channel"], note=form.cleaned_data.get("note", ""),
            client_key=form.cleaned_data.get("client_key") or None, allowance_available=None), flash_errors=False)
        if not outcome:
            errors = _field_errors(outcome)
            if getattr(outcome.error, "code", "") == ErrorCode.CLIENT_KEY_CONFLICT:
                p.client_key = uuid.uuid4().hex
        else:
            order, created = outcome.value
            if not created:
                messages.info(request, _("该订单已提交过，未重复下单。"))
            else:
                messages.success(request, _("已为%(elder)s预约%(item)s（%(when)s），等待服务机构接单。本人自付 "
                                            "%(copay)s 元。") % {
                    "elder": order.elder.name, "item": order.item.name, "copay": order.copay,
                    "when": timezone.localtime(order.scheduled_start).strftime("%Y-%m-%d %H:%M")})
            return redirect("services:order_detail", pk=order.pk)
    messages.error(request, _("未下单：请检查下面标出的内容。"))
    return render(request, "services/orders/new.html", _new_context(request, form, p, errors), status=422)


def _place_recurring(request, form, p: Placement, item, provider):
    """确认 with 每周重复: set up the standing order (its first week is placed by the service). Returns
    (redirect, {}) or (None, errors by field)."""
    target = reverse("services:recurring_list")
    key = form.cleaned_data.get("client_key") or None
    if key and (replay := RecurringOrder.objects.filter(client_key=key).first()) is not None:
        messages.info(request, _("该周期服务已设置过，未重复设置。"))
        return redirect(f"{target}#recurring-{replay.pk}"), {}
    outcome = run_service(request, lambda: services.create_recurring(
        actor=request.user, elder=p.elder, provider=provider, item=item, weekdays=p.weekdays,
        time=p.time, quantity=p.quantity, starts_on=p.day, ends_on=p.ends_on,
        channel=form.cleaned_data["channel"], note=form.cleaned_data.get("note", ""), client_key=key),
        flash_errors=False)
    if not outcome:
        return None, _field_errors(outcome)
    rule = outcome.value
    placed = Order.objects.filter(client_key__startswith=f"recurring:{rule.pk}:").count()
    skipped = rule.skips.count()
    text = _("已设置周期服务：%(elder)s %(item)s，%(days)s %(time)s，自 %(start)s 起%(end)s。已生成首周订单 "
             "%(n)d 单，等待服务机构接单。") % {
        "elder": p.elder.name, "item": item.name, "days": weekdays_label(rule.weekdays),
        "time": rule.time.strftime("%H:%M"), "start": rule.starts_on.isoformat(), "n": placed,
        "end": _("至 %(end)s") % {"end": rule.ends_on.isoformat()} if rule.ends_on else ""}
    if skipped:
        text += " " + _("另有 %(n)d 次未能生成，原因见周期服务页。") % {"n": skipped}
    messages.success(request, text)
    return redirect(f"{target}#recurring-{rule.pk}"), {}


@role_required(*ORDERING_ROLES)
def order_quote(request):
    """The quote alone (htmx, when the provider, time or quantity changes). Writes nothing."""
    form = OrderForm(request.GET, user=request.user)
    p = _placement(request, form)
    return render(request, "services/orders/_quote.html", {"p": p, **_quote_context(request, p)})


@role_required(*REGION_STAFF)
def order_elders(request):
    """Staff look up the elder they order for (htmx, as they type): name, pinyin, phone, ID number or the
    last four characters of the ID number."""
    text = (request.GET.get("q") or "").strip()[:40]
    found = list(selectors.elders_to_order_for(request.user, text)) if text else []
    return render(request, "services/orders/_elder_results.html", {"found": found, "search": text})


# -------------------------------------------------------------------------------------------- order list


@role_required(*LIST_ROLES)
def order_list(request):
    user = request.user
    if user.role == Role.CAREGIVER and not user.is_superuser:
        return redirect(CAREGIVER_APP)
    region_staff = has_role(user, *REGION_STAFF)
    flags = has_role(user, *FLAG_ROLES)
    providers = None
    if region_staff:
        providers = list(Organisation.objects.restrict(user).filter(
            Exists(Order.objects.filter(provider_id=OuterRef("pk")))).order_by("name"))
    form = OrderFilterForm(request.GET or None, items=ServiceItem.objects.order_by("position", "code"),
                           providers=providers, flags=flags)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.orders_for(user, selectors.OrderFilters(
        status=data.get("status") or "", date_from=data.get("date_from"), date_to=data.get("date_to"),
        item=data.get("item") or "", provider=int(data["provider"]) if data.get("provider") else None,
        flagged=bool(data.get("flagged"))))
    if flags:
        qs = qs.prefetch_related("flags")
    page = Paginator(qs, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "orders": list(page.object_list), "show_flags": flags,
               "region_staff": region_staff, "family": user.role in FAMILY_ROLES,
               "may_order": has_role(user, *ORDERING_ROLES)}
    template = "services/orders/_table.html" if _htmx(request) else "services/orders/list.html"
    return render(request, template, context)


# ------------------------------------------------------------------------------------------ order detail


def _order(request, pk) -> Order:
    qs = Order.objects.select_related("elder", "item", "provider", "caregiver", "placed_by", "price__jurisdiction",
                                      "subsidy_rule__jurisdiction")
    return get_scoped_or_404(qs, request.user, pk=pk)


# The buttons of the detail page (check-in and check-out are the caregiver app's).
PAGE_STEPS = ("accept", "decline", "assign", "no_show", "cancel", "confirm", "rate")


def _actions(user, order: Order) -> set[str]:
    """The buttons to show: exactly the steps the services would take from this user now (policy.py)."""
    may = policy.order_steps(user, order)
    return {name for name in PAGE_STEPS if may[name]}


def _distance(order: Order) -> int | None:
    elder = order.elder
    if None in (order.check_in_latitude, order.check_in_longitude, elder.latitude, elder.longitude):
        return None
    return round(services.haversine_metres(order.check_in_latitude, order.check_in_longitude, elder.latitude,
                                           elder.longitude))


def _timeline(order: Order) -> list[dict]:
    labels = dict(OrderStatus.choices)
    return [{"at": e.at, "by": e.by, "note": e.note,
             "label": labels.get(e.to_status, e.to_status) if e.from_status else _("下单")}
            for e in order.events.select_related("by")]


def _detail_context(request, order: Order, *, failed: str = "", action_errors=None) -> dict:
    user = request.user
    actions = _actions(user, order)
    suggestions = []
    if "assign" in actions:
        day = timezone.localdate(order.scheduled_start)
        windows: dict = {}
        for shift in selectors.shifts_for(order.provider_id, day):
            windows.setdefault((shift.caregiver_id, day), []).append((shift.start, shift.end))
        # No shifts kept that day: "on shift" is unknown rather than false for everyone.
        suggestions = selectors.caregiver_suggestions(order.provider_id, [order],
                                                      shifts=windows or None).get(order.pk, [])
    photo = getattr(order, "check_out_photo", None)
    minutes = None
    if order.check_in_at and order.check_out_at:
        minutes = round((order.check_out_at - order.check_in_at).total_seconds() / 60)
    return {
        "order": order, "elder": order.elder, "actions": actions, "suggestions": suggestions,
        "timeline": _timeline(order),
        "flags": list(order.flags.order_by("created_at", "pk")) if has_role(user, *FLAG_ROLES) else None,
        "distance": _distance(order), "minutes": minutes,
        "standard_minutes": services.expected_minutes(order).quantize(Decimal("1")),
        "photo_url": f"/api/v1/services/orders/{order.pk}/photo" if photo else "",
        "quantity": _number(order.quantity), "share": _number(order.share),
        "rule_basis": rule_basis(order.subsidy_rule) if order.subsidy_rule else "",
        "rule_note": order.subsidy_rule.note if order.subsidy_rule and has_role(user, *REGION_STAFF) else "",
        "family_step": next((step for step in ("confirm", "rate") if step in actions), None)
        if user.role in FAMILY_ROLES else None,
        "failed": failed, "action_errors": action_errors or [],
        "caregiver_app": reverse(CAREGIVER_APP) if user.role == Role.CAREGIVER else "",
    }


@role_required(*LIST_ROLES)
def order_detail(request, pk):
    order = _order(request, pk)
    return render(request, "services/orders/detail.html", _detail_context(request, order))


def _caregiver(request, order: Order) -> Practitioner:
    # Only the provider sees its staff; anyone else is told why they may not assign, as the service would.
    policy.may_assign_order(request.user, order).require()
    try:
        pk = int(request.POST.get("caregiver", ""))
    except ValueError:
        pk = None
    found = Practitioner.objects.restrict(request.user).filter(pk=pk, organisation_id=order.provider_id).first()
    if found is None:
        raise ValidationError({"caregiver": [_("请选择本机构的护理员。")]})
    return found


ACTIONS = {
    "accept": (lambda r, o: services.accept_order(actor=r.user, order=o, note=r.POST.get("note", "")),
               gettext_lazy("已接单。")),
    "decline": (lambda r, o: services.decline_order(actor=r.user, order=o, reason=r.POST.get("reason", "")),
                gettext_lazy("已拒单。")),
    "assign": (lambda r, o: services.assign_order(actor=r.user, order=o, caregiver=_caregiver(r, o)),
               gettext_lazy("已派单。")),
    "no_show": (lambda r, o: services.mark_no_show(actor=r.user, order=o, reason=r.POST.get("reason", "")),
                gettext_lazy("已登记未上门/未在家。")),
    "cancel": (lambda r, o: services.cancel_order(actor=r.user, order=o, reason=r.POST.get("reason", "")),
               gettext_lazy("订单已取消。")),
    "confirm": (lambda r, o: services.confirm_order(actor=r.user, order=o, note=r.POST.get("note", "")),
                gettext_lazy("已确认服务完成。")),
    "rate": (lambda r, o: services.rate_order(actor=r.user, order=o, rating=r.POST.get("rating", ""),
                                              comment=r.POST.get("comment", "")),
             gettext_lazy("感谢您的评价。")),
}


@role_required(*LIST_ROLES)
@require_POST
def order_action(request, pk, action):
    """One step of the life cycle from a button of the detail page. A refusal re-renders the page with the
    service's message next to the button (403 not yours, 409 not now, 422 bad input); nothing changes."""
    if action not in ACTIONS:
        raise Http404
    order = _order(request, pk)
    step, done = ACTIONS[action]
    outcome = run_service(request, lambda: step(request, order), success=str(done), flash_errors=False)
    if not outcome:
        status = outcome.error.status if isinstance(outcome.error, DomainError) else 422
        order = _order(request, pk)
        return render(request, "services/orders/detail.html",
                      _detail_context(request, order, failed=action, action_errors=outcome.messages), status=status)
    return redirect(reverse("services:order_detail", args=[order.pk]))


# ------------------------------------------------------------------------------------------- home panel


def orders_home_panel(request):
    """The family's card: book a service for a linked elder, what is coming, what needs them (确认, 评价)."""
    user = request.user
    if user.is_superuser or user.role not in FAMILY_ROLES:
        return None
    elders = list(Elder.objects.restrict(user).order_by("name", "pk"))
    orders = Order.objects.restrict(user).select_related("elder", "item", "provider")
    waiting = list(orders.filter(status__in=list(FAMILY_STEPS)).order_by("-scheduled_start", "-pk")[:10])
    for order in waiting:
        order.family_step = FAMILY_STEPS[order.status]
    upcoming = list(orders.filter(status__in=OPEN_STATUSES).order_by("scheduled_start", "pk")[:5])
    recent = list(orders.exclude(status__in=[*OPEN_STATUSES, *FAMILY_STEPS]).order_by("-scheduled_start", "-pk")[:5])
    return {"template": "services/orders/_home_panel.html", "elders": elders, "waiting": waiting,
            "upcoming": upcoming, "recent": recent}
