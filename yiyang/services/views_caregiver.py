"""The caregivers' phone app (护理员手机端): an installable web app under /services/m/ for the `caregiver` role.

Today's visits in time order, a page per visit with big 签到 / 签退 buttons, the web app manifest and the
service worker. With JavaScript the buttons go through an offline queue (static/services/caregiver.js) that
posts to the REST API with a client key per action, so a replay never records a step twice; without it the
same forms post here and the services do the same work. Nothing here decides a business rule.
"""

import datetime
import hashlib
import json
import uuid
from functools import wraps
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from yiyang.core import registry
from yiyang.core.http import run_service
from yiyang.core.models import Role
from yiyang.core.scope import get_scoped_or_404
from yiyang.registry.models import Practitioner

from . import selectors, services
from .models import Order, OrderStatus

THEME_COLOUR = "#a23b2a"  # the platform's brand colour (core/yiyang.css --brand)
BACKGROUND_COLOUR = "#f5f7fa"
# The app shell the service worker keeps for offline use (the pages themselves are cached as they load).
SHELL_ASSETS = ("core/yiyang.css", "services/caregiver.css", "core/offline_queue.js", "services/caregiver.js",
                "services/icon-192.png", "services/icon-512.png")
ID_SENTINEL = 999999999  # stands for the order id in the API URLs handed to the script
# Statuses before the visit, during it, and after the caregiver has left.
BEFORE = {OrderStatus.ASSIGNED}
DURING = {OrderStatus.CHECKED_IN}
AFTER = {OrderStatus.CHECKED_OUT, OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.SETTLED}


def caregiver_only(view):
    """Signed in (else the login page, back here after), and a caregiver: other roles get a page that says
    what this app is for and where to go instead (403)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.role != Role.CAREGIVER:
            return render(request, "services/caregiver/not_caregiver.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


def _private(response):
    # Personal data: never kept by shared caches; the service worker keeps its own copy for offline use.
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _map_links(elder) -> dict:
    """A geo: URI (the phone's map app) and a web map link; by coordinates when the elder has them, else a
    search for the address. Plain links: no map script is loaded."""
    if elder.latitude is not None and elder.longitude is not None:
        lat, lon = elder.latitude, elder.longitude
        return {"geo": f"geo:{lat},{lon}?q={lat},{lon}({quote(elder.name)})",
                "web": f"https://uri.amap.com/marker?position={lon},{lat}&name={quote(elder.address or elder.name)}"}
    if elder.address:
        return {"geo": f"geo:0,0?q={quote(elder.address)}",
                "web": f"https://uri.amap.com/search?keyword={quote(elder.address)}"}
    return {}


def _phones(elder) -> list[dict]:
    """Numbers the caregiver may need to call: the elder's own, then their contacts (guardian first)."""
    out = [{"label": _("本人"), "number": elder.phone}] if elder.phone else []
    for c in elder.contacts.all():  # prefetched
        if c.phone:
            out.append({"label": f"{c.name}（{c.get_relationship_display()}）", "number": c.phone})
    return out


def _stage(status: str) -> str:
    if status in BEFORE:
        return "before"
    if status in DURING:
        return "during"
    if status in AFTER:
        return "after"
    return "closed"  # cancelled, no-show, or not (any longer) this caregiver's step


def _visit(order: Order, levels: dict) -> dict:
    elder = order.elder
    end = order.scheduled_start + datetime.timedelta(minutes=order.window_minutes)
    minutes = None
    if order.check_in_at and order.check_out_at:
        minutes = round((order.check_out_at - order.check_in_at).total_seconds() / 60)
    return {"order": order, "elder": elder, "start": order.scheduled_start, "end": end,
            "phones": _phones(elder), "map": _map_links(elder), "level": levels.get(elder.pk, ""),
            "stage": _stage(order.status), "minutes": minutes}


def _config(request) -> dict:
    """What the script needs: where to post, and its sentences in the user's language."""
    def api(name):
        return reverse(f"api:{name}", kwargs={"order_id": ID_SENTINEL})

    return {
        "idSentinel": str(ID_SENTINEL), "checkIn": api("check_in"), "checkOut": api("check_out"),
        "photo": photo_url(), "sw": reverse("services:caregiver_sw"), "scope": reverse("services:caregiver_today"),
        # The jurisdiction's zone (settings.TIME_ZONE): the script shows times as the server does, not in the phone's.
        "timeZone": timezone.get_default_timezone_name(),
        "t": {
            "pending": _("待同步 (%(n)s)"), "offline": _("离线"), "locating": _("正在获取位置……"),
            "noLocation": _("未能取得位置（%(why)s），已不带位置记录。"),
            "geoDenied": _("定位权限被拒绝"), "geoUnavailable": _("无法定位"), "geoUnsupported": _("此设备不支持定位"),
            "queued": _("已记录，待网络恢复后自动同步。"), "sent": _("已同步。"),
            "checkedInQueued": _("已签到（待同步）"), "checkedOutQueued": _("已签退（待同步）"),
            "checkedIn": _("已签到"), "checkedOut": _("已签退"),
            "rejected": _("%(what)s未成功：%(why)s"), "checkInWord": _("签到"), "checkOutWord": _("签退"),
            "photoWord": _("照片"), "signIn": _("登录已过期，请重新登录后自动同步。"),
            "logoutPending": _("还有 %(n)s 条记录未同步，退出后将丢失。仍要退出吗？"),
            "dismiss": _("知道了"), "photoQueued": _("照片已保存，待同步。"), "photoSent": _("照片已上传。"),
            "minutes": _("%(m)s 分钟"), "goCheckIn": _("去签到"), "goCheckOut": _("去签退"), "view": _("查看"),
        },
    }


def photo_url() -> str:
    """The check-out photo endpoint's URL pattern, or "" while the API has none."""
    try:
        return reverse("api:upload_photo", kwargs={"order_id": ID_SENTINEL})
    except NoReverseMatch:
        return ""


def _page(request, template: str, context: dict):
    context.update({"rendered_at": timezone.localtime(), "cg_config": _config(request),
                    "photo_enabled": bool(photo_url())})
    return _private(render(request, template, context))


# --------------------------------------------------------------------------------------------------- pages


@require_GET
@caregiver_only
def today(request):
    """Today's visits in time order: when, who, where (map link), what they need, their ability level."""
    # Today, or tomorrow (a route for tomorrow is often published the evening before).
    tomorrow = request.GET.get("day") == "tomorrow"
    day = timezone.localdate() + datetime.timedelta(days=1 if tomorrow else 0)
    orders = list(selectors.caregiver_day(request.user, day))
    levels = selectors.ability_levels({o.elder_id for o in orders}, english=_english()) if orders else {}
    profile = Practitioner.objects.filter(account=request.user).first()
    # When the dispatcher has published today's routes, the visits come in the route's order (the routing app
    # fills the "visit_sequences" extension point); visits added since (not in the route) follow in time order.
    # The card shows when the service starts, never the planned arrival (which may be long before).
    route = _sequence(profile, day) if profile and orders else {}
    visits = [_visit(o, levels) for o in orders]
    for v in visits:
        v["route_position"] = route.get(v["order"].pk)
    visits.sort(key=lambda v: (v["route_position"] is None, v["route_position"] or 0, v["start"]))
    return _page(request, "services/caregiver/today.html", {
        "day": day, "visits": visits, "has_profile": bool(orders) or profile is not None, "routed": bool(route),
        "tomorrow": tomorrow})


def _sequence(profile, day) -> dict[int, int]:
    """order id → position (from 1) in the first planned sequence an app offers for the caregiver's day."""
    for sequence_of in registry.items("visit_sequences"):
        sequence = sequence_of(profile, day)
        if sequence is not None:
            return {order_id: n for n, order_id in enumerate(sequence, start=1)}
    return {}


def _order(request, pk: int, action: str = "view") -> Order:
    qs = Order.objects.select_related("elder", "item", "provider").prefetch_related("elder__contacts")
    return get_scoped_or_404(qs, request.user, action, pk=pk)


@require_GET
@caregiver_only
def visit(request, pk: int):
    """One visit: the facts, and the button of the step that comes next (签到, then 签退 with notes and photo)."""
    order = _order(request, pk)
    levels = selectors.ability_levels([order.elder_id], english=_english())
    return _page(request, "services/caregiver/visit.html", {
        "v": _visit(order, levels), "form_key": f"web-{uuid.uuid4().hex}",
        "photo_src": photo_url().replace(str(ID_SENTINEL), str(order.pk)) if order.check_out_photo else ""})


def _step(request, pk: int, step, done_message: str):
    order = _order(request, pk, "change")
    run_service(request, lambda: step(order), success=done_message)
    return redirect("services:caregiver_visit", pk=pk)


@require_POST
@caregiver_only
def visit_check_in(request, pk: int):
    """签到 without the script (no location): the same service, deduplicated on the form's key."""
    key = request.POST.get("client_key", "")[:64] or None
    return _step(request, pk, lambda order: services.check_in(actor=request.user, order=order, client_key=key),
                 _("已签到（未记录位置）。"))


@require_POST
@caregiver_only
def visit_check_out(request, pk: int):
    """签退 without the script: notes, then the photo if one was taken (a separate step: a refused photo leaves
    the check-out done, and says so)."""
    order = _order(request, pk, "change")
    key = request.POST.get("client_key", "")[:64] or None
    outcome = run_service(request, lambda: services.check_out(
        actor=request.user, order=order, notes=request.POST.get("notes", ""), client_key=key), success=_("已签退。"))
    if outcome and request.FILES.get("photo") is not None:
        _upload(request, outcome.value, f"{key}-photo" if key else None)
    return redirect("services:caregiver_visit", pk=pk)


def _upload(request, order: Order, key: str | None) -> None:
    run_service(request, lambda: services.attach_photo(actor=request.user, order=order, photo=request.FILES["photo"],
                                                       client_key=key), success=_("照片已上传。"))


@require_POST
@caregiver_only
def visit_photo(request, pk: int):
    """A photo after the check-out (the camera failed, or a better one), without the script."""
    order = _order(request, pk, "change")
    if request.FILES.get("photo") is None:
        messages.error(request, _("请选择照片。"))
    else:
        _upload(request, order, request.POST.get("client_key", "")[:64] or None)
    return redirect("services:caregiver_visit", pk=pk)


def caregiver_home_panel(request):
    """The caregiver's card on the platform's home page: how many visits today, and the way into the app
    (registered in AppConfig.ready as a core.registry home panel)."""
    user = request.user
    if user.is_superuser or user.role != Role.CAREGIVER:
        return None
    visits = list(selectors.caregiver_day(user, timezone.localdate()).prefetch_related(None))
    return {"template": "services/caregiver/_home_panel.html", "count": len(visits),
            "open": sum(1 for o in visits if _stage(o.status) in ("before", "during"))}


# ---------------------------------------------------------------------------------------- manifest, worker


@require_GET
def manifest(request):
    """The web app manifest (public: browsers fetch it without cookies)."""
    scope = reverse("services:caregiver_today")
    body = {
        "id": scope, "name": _("颐养护理员"), "short_name": _("护理员"),
        "description": _("护理员上门服务：今日任务、签到签退"),
        "lang": get_language() or "zh-hans", "start_url": scope, "scope": scope, "display": "standalone",
        "orientation": "portrait", "theme_color": THEME_COLOUR, "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": static("services/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("services/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": static("services/icon-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    response = JsonResponse(body, content_type="application/manifest+json",
                            json_dumps_params={"ensure_ascii": False})
    patch_cache_control(response, public=True, max_age=3600)
    return response


def _shell_version(urls: list[str]) -> str:
    """Changes whenever an asset's URL or content does, so a new worker replaces the old cache."""
    digest = hashlib.sha256("\n".join(urls).encode())
    for name in SHELL_ASSETS:
        path = finders.find(name)
        if path:
            with open(path, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request):
    """The service worker, served from /services/m/ so that its scope covers the app (public: the browser
    re-checks it for updates; it holds no personal data)."""
    scope = reverse("services:caregiver_today")
    assets = [static(name) for name in SHELL_ASSETS] + [reverse("services:caregiver_manifest")]
    offline_page = render_to_string("services/caregiver/offline.html", {"scope": scope}, request=None)
    body = render_to_string("services/caregiver/sw.js", {
        "version": _shell_version(assets), "scope": json.dumps(scope), "assets": json.dumps(assets),
        "offline_page": json.dumps(offline_page, ensure_ascii=False),
        "skip": json.dumps([reverse("services:caregiver_sw"), reverse("services:caregiver_manifest")]),
    })
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = scope
    response["Cache-Control"] = "no-cache"
    return response
