"""Pages of the alarms app (紧急呼叫): the operator console and its live queue, an alarm's page with one button
per step the person may take, the history, devices, quarantined events, maintenance tasks, the duty rota, the
service level and vendors, and the notifications inbox; plus the panels it adds to the home and elder pages.

Views are thin: they parse the request, read through selectors.py, write through services (core/http.py's
`run_service`), and draw every button from the policy function the service itself checks (`policy.next_steps`).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yiyang.core import pii
from yiyang.core.http import is_htmx, run_service
from yiyang.core.models import Region, RegionLevel, Role, User
from yiyang.core.permissions import role_required
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Elder

from . import policy, selectors, services, statistics
from .models import (
    Alarm,
    AlarmKind,
    AlarmOutcome,
    AlarmStatus,
    Device,
    DeviceKind,
    DutyRole,
    DutyShift,
    MaintenanceTask,
    Notification,
    Responder,
    Vendor,
    VendorFormat,
)

PER_PAGE = 50
HANDLERS = tuple(policy.HANDLERS)
DEVICE_ROLES = (*HANDLERS, Role.PROVIDER)
SETTINGS_ROLES = (Role.BUREAU, Role.STREET, Role.OPERATOR)
STEP_NAMES = {"acknowledge", "dispatch", "on_site", "resolve", "close", "note"}


def _page(request, qs, per_page: int = PER_PAGE):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _back(request, fallback: str):
    target = request.POST.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


def _int(raw) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if pii.is_ascii_digits(raw) and len(raw) < 12 else None


def _region_names(codes) -> dict[str, str]:
    codes = {c for c in codes if c}
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def _seconds(start, end) -> int | None:
    return int((end - start).total_seconds()) if start and end else None


def _queue_rows(user, now) -> list[dict]:
    rows = []
    alarms = list(selectors.console_queue(user))
    names = _region_names({a.region_code for a in alarms})
    for alarm in alarms:
        waited = int((now - alarm.raised_at).total_seconds())
        rows.append({"alarm": alarm, "waited": waited, "minutes": waited // 60, "steps": policy.next_steps(user, alarm),
                     "overdue": alarm.status == AlarmStatus.RAISED and alarm.next_escalation_at is not None
                     and alarm.escalation_level > 0,
                     "community": names.get(alarm.region_code, alarm.region_code)})
    return rows


# ------------------------------------------------------------------------------------------------- console


@role_required(*HANDLERS)
def console(request):
    """The duty desk (接警台): the live queue, who is on duty, and the day's figures. The queue refreshes itself
    (htmx polling the partial); a new unacknowledged alarm sounds when the operator has turned the sound on."""
    user = request.user
    now = timezone.now()
    region = user.scope_code or ""
    return render(request, "alarms/console.html", {
        "rows": _queue_rows(user, now), "now": now, "on_duty": _on_duty(region, now),
        "today": _today_counts(user, now), "kinds": AlarmKind.choices,
        "may_raise": user.role in HANDLERS})


@role_required(*HANDLERS)
def queue(request):
    """The console's queue alone (what the page polls every few seconds)."""
    now = timezone.now()
    return render(request, "alarms/_queue.html", {"rows": _queue_rows(request.user, now), "now": now})


def _on_duty(region_code: str, now) -> list[dict]:
    if not region_code:
        return []
    found = selectors.on_duty_now(region_code[:9] if len(region_code) > 9 else region_code, at=now)
    return [{"role": DutyRole(role).label, "users": users} for role, users in found.items()]


def _today_counts(user, now) -> dict:
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = selectors.alarms_for(user, since=start)
    return {"raised": today.count(), "open": selectors.alarms_for(user, open_only=True).count(),
            "false": today.filter(outcome=AlarmOutcome.FALSE_ALARM).count()}


# ------------------------------------------------------------------------------------------------- an alarm


def _alarm_in_scope(request, pk: int) -> Alarm:
    return get_scoped_or_404(Alarm.objects.select_related("elder", "device", "device__vendor", "acknowledged_by",
                                                          "responder_user"), request.user, "view", pk=pk)


@role_required(*HANDLERS, Role.CAREGIVER, Role.VISITOR, Role.PROVIDER, Role.FAMILY, Role.ELDER)
def alarm_detail(request, pk: int):
    user = request.user
    alarm = _alarm_in_scope(request, pk)
    steps = policy.next_steps(user, alarm)
    # The elder's summary is for those handling the alarm; the family sees the alarm and its steps only.
    summary = selectors.alarm_summary(alarm) if (steps or user.role in HANDLERS) else None
    timings = {"ack": _seconds(alarm.raised_at, alarm.acknowledged_at),
               "dispatch": _seconds(alarm.raised_at, alarm.dispatched_at),
               "arrive": _seconds(alarm.raised_at, alarm.on_site_at),
               "resolve": _seconds(alarm.raised_at, alarm.resolved_at)}
    responders = []
    if "dispatch" in steps:
        responders = list(User.objects.filter(
            is_active=True, role__in=[Role.COMMUNITY, Role.STREET, Role.VISITOR, Role.CAREGIVER],
            scope_code__startswith=alarm.region_code[:9]).order_by("role", "username")[:100])
    return render(request, "alarms/alarm_detail.html", {
        "alarm": alarm, "steps": steps, "summary": summary, "timings": timings,
        "history": alarm.steps.select_related("actor").order_by("at", "pk"),
        "responder_kinds": Responder.choices, "outcomes": AlarmOutcome.choices, "responders": responders,
        "map": _map_points(alarm, summary)})


def _map_points(alarm, summary) -> dict | None:
    """Where the alarm came from (a watch's position) beside the home, for the little map on the page."""
    if not summary:
        return None
    points = []
    elder = summary["elder"]
    if elder.latitude is not None and elder.longitude is not None:
        points.append({"name": _("住址"), "value": [float(elder.longitude), float(elder.latitude)]})
    if alarm.latitude is not None and alarm.longitude is not None:
        points.append({"name": _("报警位置"), "value": [float(alarm.longitude), float(alarm.latitude)]})
    return {"points": points} if points else None


@require_POST
@role_required(*HANDLERS, Role.CAREGIVER, Role.VISITOR)
def alarm_step(request, pk: int, step: str):
    if step not in STEP_NAMES:
        raise Http404
    user = request.user
    alarm = _alarm_in_scope(request, pk)
    post = request.POST
    note = post.get("note", "")
    calls = {
        "acknowledge": (lambda: services.acknowledge(actor=user, alarm=alarm, note=note), _("已接警。")),
        "on_site": (lambda: services.mark_on_site(actor=user, alarm=alarm, note=note), _("已登记到场。")),
        "resolve": (lambda: services.resolve(actor=user, alarm=alarm, outcome=post.get("outcome", ""), note=note),
                    _("已登记处置结果。")),
        "close": (lambda: services.close(actor=user, alarm=alarm, note=note), _("已归档。")),
        "note": (lambda: services.add_note(actor=user, alarm=alarm, note=note), _("已记录。")),
        "dispatch": (lambda: _dispatch(user, alarm, post), _("已派单。")),
    }
    call, success = calls[step]
    run_service(request, call, success=success)
    return _back(request, reverse("alarms:detail", args=[alarm.pk]))


def _dispatch(user, alarm, post):
    responder_user = None
    picked = _int(post.get("responder_user"))
    if picked is not None:
        responder_user = User.objects.filter(pk=picked, scope_code__startswith=alarm.region_code[:9]).first()
    return services.dispatch(actor=user, alarm=alarm, responder=post.get("responder", ""),
                             responder_name=post.get("responder_name", ""),
                             responder_phone=post.get("responder_phone", ""), responder_user=responder_user,
                             note=post.get("note", ""))


@require_POST
@role_required(*HANDLERS)
def raise_manual(request):
    """An alarm taken by phone (老人或邻居来电), from the elder's page or the console."""
    elder_id = _int(request.POST.get("elder"))
    if elder_id is None:
        messages.error(request, _("请填写老人编号。"))
        return _back(request, reverse("alarms:console"))
    elder = Elder.objects.filter(pk=elder_id).first()
    if elder is None or not policy.may_raise_manual(request.user, elder):
        messages.error(request, _("您的值守范围内没有这位老人。"))
        return _back(request, reverse("alarms:console"))
    outcome = run_service(request, lambda: services.raise_manual_alarm(
        actor=request.user, elder=elder, kind=request.POST.get("kind", ""), note=request.POST.get("note", "")),
        success=_("已登记报警。"))
    if outcome:
        return redirect("alarms:detail", outcome.value.pk)
    return _back(request, reverse("alarms:console"))


# ------------------------------------------------------------------------------------------------- lists


def _parse_month(text: str | None) -> datetime.date | None:
    text = (text or "").strip()
    try:
        return datetime.date.fromisoformat(f"{text}-01" if len(text) == 7 else text).replace(day=1)
    except ValueError:
        return None


@role_required(*HANDLERS, Role.PROVIDER)
def alarm_list(request):
    """Every alarm of the user's area, newest first, filtered by month, kind, status and community."""
    g = request.GET
    filters = {"status": g.get("status", "") if g.get("status", "") in AlarmStatus.values else "",
               "kind": g.get("kind", "") if g.get("kind", "") in AlarmKind.values else "",
               "region_code": g.get("community", "").strip() if pii.is_ascii_digits(g.get("community", "").strip())
               else ""}
    month = _parse_month(g.get("month"))
    since = until = None
    if month:
        since, until = statistics.month_bounds(month)
    page = _page(request, selectors.alarms_for(request.user, since=since, until=until, **filters))
    names = _region_names({a.region_code for a in page})
    template = "alarms/_alarm_rows.html" if is_htmx(request) else "alarms/alarms.html"
    return render(request, template, {
        "page": page, "rows": [{"alarm": a, "community": names.get(a.region_code, a.region_code),
                                "ack": _seconds(a.raised_at, a.acknowledged_at),
                                "arrive": _seconds(a.raised_at, a.on_site_at)} for a in page],
        "filters": filters, "month_value": month.strftime("%Y-%m") if month else "",
        "statuses": AlarmStatus.choices, "kinds": AlarmKind.choices})


@role_required(*DEVICE_ROLES)
def device_list(request):
    g = request.GET
    kind = g.get("kind", "") if g.get("kind", "") in DeviceKind.values else ""
    page = _page(request, selectors.devices_for(request.user, kind=kind, offline_only=g.get("offline") == "1",
                                                q=g.get("q", "").strip()[:40]))
    vendors = list(Vendor.objects.restrict(request.user, "view").filter(active=True)) \
        if request.user.role in (Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER) else []
    now = timezone.now()
    return render(request, "alarms/devices.html", {
        "page": page, "rows": [{"device": d, "silent_hours": int((now - d.last_heartbeat_at).total_seconds() // 3600)
                                if d.last_heartbeat_at else None,
                                "may_retire": bool(policy.may_manage_devices(request.user, d.region_code,
                                                                             d.maintainer_id))
                                and d.status == "active"} for d in page],
        "kinds": DeviceKind.choices, "filters": {"kind": kind, "offline": g.get("offline") == "1",
                                                 "q": g.get("q", "")[:40]},
        "vendors": vendors, "today": timezone.localdate()})


@require_POST
@role_required(Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
def device_register(request):
    post = request.POST
    vendor_id, elder_id = _int(post.get("vendor")), _int(post.get("elder"))
    vendor = Vendor.objects.restrict(request.user, "view").filter(pk=vendor_id).first() if vendor_id else None
    elder = Elder.objects.filter(pk=elder_id).first() if elder_id else None
    if vendor is None or elder is None:
        messages.error(request, _("请选择厂商并填写有效的老人编号。"))
        return redirect("alarms:devices")
    try:
        installed_on = datetime.date.fromisoformat(post.get("installed_on", ""))
    except ValueError:
        messages.error(request, _("安装日期无效。"))
        return redirect("alarms:devices")
    run_service(request, lambda: services.register_device(
        actor=request.user, vendor=vendor, serial=post.get("serial", ""), kind=post.get("kind", ""), elder=elder,
        address=post.get("address", ""), installed_on=installed_on), success=_("已登记设备。"))
    return redirect("alarms:devices")


@require_POST
@role_required(Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
def device_retire(request, pk: int):
    device = get_scoped_or_404(Device.objects.all(), request.user, "view", pk=pk)
    run_service(request, lambda: services.retire_device(actor=request.user, device=device),
                success=_("已登记拆除。"))
    return _back(request, reverse("alarms:devices"))


@role_required(Role.BUREAU, Role.OPERATOR)
def quarantine(request):
    """Events from devices nobody registered: the vendor fixes its list or the area registers the device; once
    registered, the held events are processed."""
    page = _page(request, selectors.quarantine_for(request.user))
    return render(request, "alarms/quarantine.html", {"page": page})


@role_required(Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
def maintenance(request):
    open_only = request.GET.get("all") != "1"
    page = _page(request, selectors.maintenance_for(request.user, open_only=open_only))
    return render(request, "alarms/maintenance.html", {
        "page": page, "open_only": open_only,
        "rows": [{"task": t, "may_finish": bool(policy.may_finish_maintenance(request.user, t))} for t in page]})


@require_POST
@role_required(Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
def maintenance_finish(request, pk: int):
    task = get_scoped_or_404(MaintenanceTask.objects.select_related("device"), request.user, "view", pk=pk)
    run_service(request, lambda: services.finish_maintenance(actor=request.user, task=task,
                                                             note=request.POST.get("note", "")),
                success=_("已处理该运维任务。"))
    return _back(request, reverse("alarms:maintenance"))


# ------------------------------------------------------------------------------------------------- statistics


def _percent(share) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _minutes(seconds) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


@role_required(*HANDLERS)
def stats(request):
    """统计: the month's alarms of the area (a county, a street, a community) by kind and outcome, the times to
    acknowledge, dispatch and arrive against the service level, the false-alarm rate, the devices offline; for a
    county, street by street. The same figures as the API's /stats (statistics.py)."""
    user = request.user
    scope = user.scope_code or ""
    if not scope:
        raise Http404
    month = _parse_month(request.GET.get("month")) or timezone.localdate().replace(day=1)
    if not 2000 <= month.year <= 2200:
        month = timezone.localdate().replace(day=1)
    areas = [r for r in Region.objects.filter(code__startswith=scope, level__in=[
        RegionLevel.COUNTY, RegionLevel.STREET]).order_by("code")] if len(scope) <= 9 else []
    area = request.GET.get("region", "").strip()
    if not area.startswith(scope) or not Region.objects.filter(code=area).exists():
        area = scope
    figures = statistics.alarm_statistics(region_code=area, month=month)
    names = _region_names({area} | {a.code for a in areas})
    breakdown = statistics.street_breakdown(region_code=area, month=month) if len(area) == 6 else []
    street_names = _region_names({r["street"] for r in breakdown})
    return render(request, "alarms/stats.html", {
        "f": figures, "area": area, "area_name": names.get(area, area), "areas": areas,
        "month_value": month.strftime("%Y-%m"),
        "kinds": [(AlarmKind(k).label, n) for k, n in figures["by_kind"].items()],
        "outcomes": [(AlarmOutcome(k).label if k in AlarmOutcome.values else _("未处置"), n)
                     for k, n in figures["by_outcome"].items()],
        "ack_share": _percent(figures["acknowledge"].share), "arrive_share": _percent(figures["on_site"].share),
        "false_rate": _percent(figures["false_alarm_rate"]),
        "times": [(_("接警"), figures["acknowledge"]), (_("派单"), figures["dispatch"]),
                  (_("到场"), figures["on_site"])],
        "streets": [{"name": street_names.get(r["street"], r["street"]), "code": r["street"], "total": r["total"],
                     "ack_share": _percent(r["acknowledge"].share), "ack_p50": r["acknowledge"].p50,
                     "arrive_share": _percent(r["on_site"].share), "arrive_p50": _minutes(r["on_site"].p50),
                     "false_rate": _percent(r["false_alarm_rate"]), "offline": r["devices_offline"]}
                    for r in breakdown]})


# ------------------------------------------------------------------------------------------------- rota


def _rota_regions(user) -> list[Region]:
    code = user.scope_code or ""
    if not code:
        return []
    return list(Region.objects.filter(code__startswith=code[:9] if len(code) > 6 else code,
                                      level__in=[RegionLevel.COUNTY, RegionLevel.STREET]).order_by("code"))


@role_required(*SETTINGS_ROLES)
def rota(request):
    """值班表: the shifts of a day, who is on duty now, and (for the bureau and streets) the form to add one."""
    try:
        day = datetime.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    user = request.user
    shifts = list(selectors.shifts_for(user, day=day)[:300])
    regions = _rota_regions(user)
    may_manage = any(policy.may_manage_rota(user, r.code) for r in regions)
    staff = list(User.objects.filter(is_active=True, role__in=[Role.OPERATOR, Role.STREET, Role.BUREAU],
                                     scope_code__startswith=(user.scope_code or "-")[:6])
                 .order_by("role", "username")[:200]) if may_manage else []
    now = timezone.now()
    return render(request, "alarms/rota.html", {
        "day": day, "shifts": [{"shift": s, "now": s.starts_at <= now < s.ends_at,
                                "may_remove": bool(policy.may_manage_rota(user, s.region_code))} for s in shifts],
        "regions": regions, "may_manage": may_manage, "staff": staff, "duty_roles": DutyRole.choices,
        "on_duty": _on_duty(user.scope_code or "", now)})


def _parse_local(text: str) -> datetime.datetime | None:
    try:
        value = datetime.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@require_POST
@role_required(Role.BUREAU, Role.STREET)
def rota_add(request):
    post = request.POST
    region = Region.objects.filter(code=post.get("region", "")).first()
    person = User.objects.filter(pk=_int(post.get("user")) or 0).first()
    starts, ends = _parse_local(post.get("starts_at", "")), _parse_local(post.get("ends_at", ""))
    if region is None or person is None or starts is None or ends is None:
        messages.error(request, _("请选择区域、值班人员，并填写有效的开始和结束时间。"))
        return redirect("alarms:rota")
    run_service(request, lambda: services.add_shift(actor=request.user, region=region, user=person,
                                                    duty_role=post.get("duty_role", ""), starts_at=starts,
                                                    ends_at=ends), success=_("已排班。"))
    return redirect(f"{reverse('alarms:rota')}?day={timezone.localtime(starts).date().isoformat()}")


@require_POST
@role_required(Role.BUREAU, Role.STREET)
def rota_remove(request, pk: int):
    shift = get_scoped_or_404(DutyShift.objects.all(), request.user, "view", pk=pk)
    run_service(request, lambda: services.remove_shift(actor=request.user, shift=shift), success=_("已删除该班次。"))
    return _back(request, reverse("alarms:rota"))


# ------------------------------------------------------------------------------------------------- settings


@role_required(*SETTINGS_ROLES)
def settings_page(request):
    """响应时限与厂商接入: the service level of each jurisdiction and the vendors with their secrets."""
    user = request.user
    code = user.scope_code or ""
    jurisdictions = _rota_regions(user)
    levels = {r.code: services.service_level_for(r.code) for r in jurisdictions}
    vendors = list(Vendor.objects.restrict(user, "view").select_related("maintainer"))
    return render(request, "alarms/settings.html", {
        "levels": [{"region": r, "level": levels[r.code],
                    "may_set": bool(policy.may_set_service_level(user, r.code))} for r in jurisdictions],
        "vendors": [{"vendor": v, "may_manage": bool(policy.may_manage_vendors(user, v.jurisdiction_code))}
                    for v in vendors],
        "may_add_vendor": bool(policy.may_manage_vendors(user, code[:6] or "-")), "formats": VendorFormat.choices,
        "chain_labels": services.CHAIN_LABELS(),
        "new_secret": request.session.pop("alarms_new_secret", None)})


@require_POST
@role_required(Role.BUREAU)
def service_level_set(request):
    post = request.POST
    region = Region.objects.filter(code=post.get("region", "")).first()
    if region is None:
        raise Http404
    current = services.service_level_for(region.code)
    ack, arrive, silence = _int(post.get("ack_seconds")), _int(post.get("arrive_minutes")), \
        _int(post.get("silence_hours"))
    run_service(request, lambda: services.set_service_level(
        actor=request.user, jurisdiction=region, ack_seconds=ack if ack is not None else -1,
        arrive_minutes=arrive if arrive is not None else -1, chain=current.chain,
        silence_hours=silence if silence is not None else -1), success=_("已保存响应时限。"))
    return redirect("alarms:settings")


@require_POST
@role_required(Role.BUREAU)
def vendor_add(request):
    post = request.POST
    jurisdiction = Region.objects.filter(code=(request.user.scope_code or "")[:6]).first()
    if jurisdiction is None:
        raise Http404
    outcome = run_service(request, lambda: services.create_vendor(
        actor=request.user, code=post.get("code", "").strip(), name=post.get("name", ""),
        format=post.get("format", ""), jurisdiction=jurisdiction), success=_("已添加厂商。"))
    if outcome:
        vendor, secret = outcome.value
        # Shown once, on the next page, to the person who created it; never stored in the clear.
        request.session["alarms_new_secret"] = {"vendor": vendor.name, "secret": secret}
    return redirect("alarms:settings")


@require_POST
@role_required(Role.BUREAU)
def vendor_rotate(request, pk: int):
    vendor = get_scoped_or_404(Vendor.objects.all(), request.user, "view", pk=pk)
    outcome = run_service(request, lambda: services.rotate_secret(actor=request.user, vendor=vendor),
                          success=_("已轮换密钥；旧密钥 24 小时内仍然有效。"))
    if outcome:
        request.session["alarms_new_secret"] = {"vendor": vendor.name, "secret": outcome.value}
    return redirect("alarms:settings")


# ------------------------------------------------------------------------------------------------- notifications


INBOX_ROLES = (*HANDLERS, Role.CAREGIVER, Role.VISITOR)  # whoever an alarm's notification goes to


@role_required(*INBOX_ROLES)
def notification_list(request):
    page = _page(request, selectors.notifications_for(request.user))
    return render(request, "alarms/notifications.html", {"page": page})


@require_POST
@role_required(*INBOX_ROLES)
def notification_read(request, pk: int):
    notification = Notification.objects.filter(pk=pk, recipient=request.user).first()
    if notification is None:
        raise Http404
    run_service(request, lambda: services.mark_notification_read(actor=request.user, notification=notification))
    if notification.alarm_id and request.POST.get("open") == "1":
        return redirect("alarms:detail", notification.alarm_id)
    return _back(request, reverse("alarms:notifications"))


# ------------------------------------------------------------------------------------------------- panels


def home_panel(request) -> dict | None:
    """The home page's section for those who handle alarms: open alarms, those nobody has acknowledged, unread
    notifications."""
    user = request.user
    if user.is_superuser or user.role not in HANDLERS:
        return None
    open_alarms = selectors.alarms_for(user, open_only=True)
    return {"template": "alarms/_home_panel.html", "open": open_alarms.count(),
            "raised": open_alarms.filter(status=AlarmStatus.RAISED).count(),
            "unread": selectors.notifications_for(user, unread_only=True).count()}


def elder_panel(request, elder) -> dict | None:
    """The elder page's section: the home's devices, the last alarms, and a button to take an alarm by phone."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.role not in (*HANDLERS, Role.PROVIDER, Role.FAMILY):
        return None
    alarms = list(selectors.alarms_for(user, elder_id=elder.pk)[:5])
    devices = list(Device.objects.restrict(user, "view").filter(elder=elder).select_related("vendor")
                   .order_by("status", "kind"))
    return {"template": "alarms/_elder_panel.html", "elder": elder, "alarms": alarms, "devices": devices,
            "may_raise": bool(policy.may_raise_manual(user, elder)), "kinds": AlarmKind.choices}
