"""The visitor's phone app (巡访员手机端) under /visits/my-day/: today's tasks, a page per task to record the
visit, and the endpoint the phone's offline queue posts to.

With JavaScript the record form goes through the shared offline queue (core/static/core/offline_queue.js, used
by static/visits/visitor.js): one client key per visit, stored on the phone before it is sent, so a replay
never counts twice (services.record_visit returns the first record). Without it the same form posts here and
is redirected back. Nothing here decides a business rule.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from yiyang.core.errors import DomainError
from yiyang.core.http import errors_by_field, run_service
from yiyang.core.models import Role
from yiyang.core.scope import get_scoped_or_404

from . import rules, selectors, services
from .models import FollowUpKind, Outcome, TaskStatus, VisitMethod, VisitTask

ID_SENTINEL = 999999999
SHELL_ASSETS = ("core/yiyang.css", "services/caregiver.css", "core/offline_queue.js", "visits/visitor.js")
NOTE_KINDS = (FollowUpKind.ASSESSMENT, FollowUpKind.HOME_ADAPTATION, FollowUpKind.ALARM_DEVICE,
              FollowUpKind.CATEGORY_CHANGE, FollowUpKind.OTHER)


def visitor_only(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.role != Role.VISITOR:
            return render(request, "visits/phone/not_visitor.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _private(response):
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _config() -> dict:
    return {
        "idSentinel": str(ID_SENTINEL),
        "record": reverse("visits:phone_record", kwargs={"pk": ID_SENTINEL}),
        "sw": reverse("visits:phone_sw"), "scope": reverse("visits:my_day"),
        "t": {
            "pending": _("待同步 (%(n)s)"), "queued": _("已记录，待网络恢复后自动同步。"), "sent": _("已同步。"),
            "recorded": _("巡访已登记。"), "recordedQueued": _("已登记（待同步）"),
            "rejected": _("%(what)s未成功：%(why)s"), "what": _("巡访登记"), "dismiss": _("知道了"),
            "signIn": _("登录已过期，请重新登录后自动同步。"), "locating": _("正在获取位置……"),
            "noLocation": _("未能取得位置（%(why)s），已不带位置记录。"), "geoDenied": _("定位权限被拒绝"),
            "geoUnavailable": _("无法定位"), "geoUnsupported": _("此设备不支持定位"),
            "logoutPending": _("还有 %(n)s 条记录未同步，退出后将丢失。仍要退出吗？"),
        },
    }


def _offers(elder) -> list[dict]:
    """Who offers what in the elder's street today (one query): the choices of a 预约服务 follow-up."""
    from yiyang.services.models import ProviderOffer

    day = timezone.localdate()
    rows = (ProviderOffer.objects.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=day), valid_from__lte=day,
                                         streets__code=elder.residence_region_id[:9], provider__is_active=True,
                                         item__is_active=True)
            .select_related("provider", "item").order_by("item__position", "price", "provider__name"))
    seen, out = set(), []
    for o in rows:
        if (o.provider_id, o.item_id) not in seen:
            seen.add((o.provider_id, o.item_id))
            out.append({"value": f"{o.provider_id}:{o.item_id}", "label": f"{o.item.name} · {o.provider.name}",
                        "price": o.price})
    return out


def _card(task: VisitTask) -> dict:
    return {"task": task, "elder": task.elder, "overdue": task.overdue}


@require_GET
@visitor_only
def my_day(request):
    """Today's tasks, ad-hoc and overdue first."""
    tasks = list(selectors.visitor_day(request.user))
    tasks.sort(key=lambda t: (t.kind != "ad_hoc", not t.overdue, t.due_at, t.pk))
    return _private(render(request, "visits/phone/my_day.html", {
        "cards": [_card(t) for t in tasks], "cfg": _config(), "rendered_at": timezone.localtime(),
        "has_profile": hasattr(request.user, "visitor")}))


@require_GET
@visitor_only
def task_page(request, pk: int):
    task = get_scoped_or_404(VisitTask.objects.select_related("elder", "visitor"), request.user, "view", pk=pk)
    checklist = [{"code": code, "label": _(label)} for code, label in rules.CHECKLIST]
    return _private(render(request, "visits/phone/visit.html", {
        "card": _card(task), "cfg": _config(), "rendered_at": timezone.localtime(), "checklist": checklist,
        "methods": VisitMethod.choices, "outcomes": Outcome.choices, "note_kinds": [
            (k.value, k.label) for k in NOTE_KINDS], "offers": _offers(task.elder),
        "form_key": f"web-{uuid.uuid4().hex}", "open": task.status == TaskStatus.OPEN}))


def _follow_ups(post) -> list[dict]:
    out = []
    if post.get("fu_service_order"):
        provider, _sep, item = (post.get("fu_offer") or "").partition(":")
        out.append({"kind": FollowUpKind.SERVICE_ORDER, "provider": provider, "item": item,
                    "scheduled_start": post.get("fu_time") or None, "note": post.get("fu_service_order_note", "")})
    for kind in NOTE_KINDS:
        if post.get(f"fu_{kind.value}"):
            out.append({"kind": kind.value, "note": post.get(f"fu_{kind.value}_note", "")})
    return out


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _refusal(exc) -> JsonResponse:
    errors = errors_by_field(exc)
    status = exc.status if isinstance(exc, DomainError) else 422
    listed = [{"field": k, "message": m} for k, msgs in errors.items() for m in msgs]
    message = str(exc.message) if isinstance(exc, DomainError) else (listed[0]["message"] if listed else "")
    return JsonResponse({"message": message, "errors": listed}, status=status,
                        json_dumps_params={"ensure_ascii": False})


@require_POST
def record(request, pk: int):
    """Record a visit for a task: JSON for the phone's queue (401 when signed out, so it keeps the item), a
    redirect for the plain form. `client_key` makes a replay return the first record."""
    as_json = _wants_json(request)
    if not request.user.is_authenticated:
        if as_json:
            return JsonResponse({"message": _("登录已过期。"), "errors": []}, status=401)
        return redirect(f"{reverse('core:login')}?next={reverse('visits:phone_task', kwargs={'pk': pk})}")
    qs = VisitTask.objects.select_related("elder", "rule_set")
    try:
        task = qs.restrict(request.user).get(pk=pk)
    except VisitTask.DoesNotExist:
        if as_json:
            return JsonResponse({"message": _("找不到该巡访任务。"), "errors": []}, status=404)
        raise
    post = request.POST
    checklist = {code: post[f"check_{code}"] for code in rules.CHECKLIST_CODES if post.get(f"check_{code}")}

    def call():
        return services.record_visit(
            actor=request.user, elder=task.elder, task=task, method=post.get("method", ""),
            outcome=post.get("outcome", ""), visited_at=post.get("at") or None, latitude=post.get("latitude") or None,
            longitude=post.get("longitude") or None, seen=post.get("seen", ""), checklist=checklist,
            notes=post.get("notes", ""), photo=request.FILES.get("photo"), follow_ups=_follow_ups(post),
            client_key=post.get("client_key") or None)

    if as_json:
        done = run_service(request, call, flash_errors=False)
        if not done:
            return _refusal(done.error)
        rec, created = done.value
        if rec.task_id:
            rec.task.refresh_from_db()
        return JsonResponse({"id": rec.pk, "created": created, "task": pk, "counts": rec.counts,
                             "task_status": rec.task.status if rec.task_id else "",
                             "task_status_label": rec.task.get_status_display() if rec.task_id else "",
                             "follow_ups": rec.follow_ups.count()}, status=201 if created else 200,
                            json_dumps_params={"ensure_ascii": False})
    outcome = run_service(request, call, success=_("巡访已登记。"))
    if not outcome:
        return redirect("visits:phone_task", pk=pk)
    if outcome.value[0].far_from_home:
        messages.warning(request, _("登记位置距老人住址较远，本次不计入巡访。"))
    return redirect("visits:my_day")


@require_GET
def service_worker(request):
    """The app's service worker (the caregiver app's worker, with this app's scope and shell)."""
    scope = reverse("visits:my_day")
    assets = [static(name) for name in SHELL_ASSETS]
    digest = hashlib.sha256("\n".join(assets).encode())
    for name in SHELL_ASSETS:
        path = finders.find(name)
        if path:
            with open(path, "rb") as fh:
                digest.update(fh.read())
    offline_page = render_to_string("visits/phone/offline.html", {"scope": scope}, request=None)
    body = render_to_string("services/caregiver/sw.js", {
        "prefix": "yiyang-visitor-", "version": digest.hexdigest()[:16], "scope": json.dumps(scope),
        "assets": json.dumps(assets), "offline_page": json.dumps(offline_page, ensure_ascii=False),
        "skip": json.dumps([reverse("visits:phone_sw")]),
    })
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = scope
    response["Cache-Control"] = "no-cache"
    return response
