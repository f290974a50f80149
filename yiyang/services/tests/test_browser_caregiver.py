"""The caregiver's phone in chromium (390×844, location allowed near the elder's home): today's list, the service
worker installed, 签到 tapped with no signal (queued, survives a reload, the day's list still there from the
cache), back online the queue syncs once — a forced second replay of the same item changes nothing — then 签退
with notes and a photo."""

import datetime
import io
from decimal import Decimal as D

import pytest
from PIL import Image

from yiyang.browser_testing import new_context, sign_in
from yiyang.core.tests.factories import PASSWORD
from yiyang.services import services
from yiyang.services.models import Order, OrderEvent, OrderStatus

from .factories import soon

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]
HOME = (D("31.800000"), D("106.600000"))
PHONE = {"latitude": 31.8003, "longitude": 106.6004}  # about 50 m from the door
# The page's count of queued items, after a sync (a function, not an expression: the CSP refuses eval).
SYNCED = "() => document.body.dataset.pending === '0'"


@pytest.fixture
def elder_fields():
    return {"latitude": HOME[0], "longitude": HOME[1], "address": "登科街道兴隆路 12 号", "phone": "13912345678"}


@pytest.fixture
def world(world):
    order = services.place_order(actor=world["community"], elder=world["elder"], provider=world["org"],
                                 item=world["bath"], scheduled_start=soon(5), channel="phone", note="需要助浴椅")[0]
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    return {**world, "order": order}


@pytest.fixture
def phone(browser, live_server):
    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, geolocation=PHONE, permissions=["geolocation"])
    page = context.new_page()
    page.set_default_timeout(10000)
    page.base_url = live_server.url
    yield page
    context.close()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 220, 240)).save(out, "PNG")
    return out.getvalue()


def check_ins(order) -> int:
    return OrderEvent.objects.filter(order=order, to_status=OrderStatus.CHECKED_IN).count()


def test_check_in_offline_then_sync_once_and_check_out(phone, world):
    page, order = phone, world["order"]
    app = page.base_url + "/services/m/"
    sign_in(page, "caregiver", PASSWORD)

    # Today's list, and the service worker installed and in control of the app.
    page.goto(app)
    assert page.get_by_test_id(f"visit-{order.pk}").is_visible()
    assert "需要助浴椅" in page.get_by_test_id(f"visit-{order.pk}").inner_text()
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)") == app
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    # A step the server refuses (签退 before 签到, e.g. from a stale page) is dropped with the reason, not retried.
    page.evaluate("""order => caregiverQueue.add({kind: "check-out", order: String(order), key: "stale-1",
        at: new Date().toISOString(), created: Date.now(), notes: ""}).then(() => caregiverQueue.sync())""", order.pk)
    page.get_by_test_id("notice").filter(has_text="签退未成功：尚未签到，不能签退。").wait_for()
    assert page.evaluate("caregiverQueue.all()") == []
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ASSIGNED
    page.get_by_test_id("notice").get_by_role("button", name="知道了").click()
    assert page.get_by_test_id("notice").count() == 0
    page.get_by_test_id(f"open-{order.pk}").click()
    page.wait_for_url(f"**/services/m/visits/{order.pk}/")

    # No signal: 签到 is recorded on the phone and waits.
    page.context.set_offline(True)
    page.get_by_test_id("check-in").click()
    pending = page.get_by_test_id("pending")
    pending.filter(has_text="待同步 (1)").wait_for()
    page.get_by_test_id("say").filter(has_text="已记录，待网络恢复后自动同步。").wait_for()
    assert page.get_by_test_id(f"status-{order.pk}").inner_text() == "已签到（待同步）"
    assert page.get_by_test_id("check-out-step").is_visible()
    assert check_ins(order) == 0
    queued = page.evaluate("caregiverQueue.all()")
    assert len(queued) == 1 and queued[0]["kind"] == "check-in"
    assert queued[0]["latitude"] == PHONE["latitude"] and queued[0]["longitude"] == PHONE["longitude"]

    # Reloaded with no signal: the kept copy, saying so, with the queued step still shown.
    page.reload()
    assert page.get_by_test_id("offline-banner").is_visible()
    assert "离线：显示的是" in page.get_by_test_id("offline-banner").inner_text()
    pending.filter(has_text="待同步 (1)").wait_for()
    page.get_by_test_id("check-out-step").wait_for()
    page.goto(app)
    assert page.get_by_test_id("offline-banner").is_visible()
    assert page.get_by_test_id(f"visit-{order.pk}").is_visible()
    page.get_by_test_id(f"status-{order.pk}").filter(has_text="已签到（待同步）").wait_for()
    assert page.get_by_test_id(f"visit-{order.pk}").get_by_role("link", name="去签退").is_visible()

    # Back online: the queue is sent, once.
    page.context.set_offline(False)
    page.wait_for_function(SYNCED)
    pending.wait_for(state="hidden")
    order.refresh_from_db()
    assert order.status == OrderStatus.CHECKED_IN and check_ins(order) == 1
    assert order.check_in_latitude == D("31.800300") and order.check_in_longitude == D("106.600400")
    tapped = datetime.datetime.fromisoformat(queued[0]["at"])
    assert order.check_in_at == tapped  # the time of the tap, not of the sync

    # The same queued item replayed again (a phone that lost the answer): applied once, nothing added.
    replay = {k: v for k, v in queued[0].items() if k != "id"}
    page.evaluate("item => caregiverQueue.add(item).then(() => caregiverQueue.sync())", replay)
    page.wait_for_function(SYNCED)
    assert check_ins(order) == 1
    assert Order.objects.get(pk=order.pk).check_in_at == tapped

    # 签退 online, with notes and a photo.
    page.goto(app + f"visits/{order.pk}/")
    assert page.get_by_test_id("offline-banner").is_hidden()
    page.get_by_test_id("notes").fill("助浴完成，老人精神好")
    page.get_by_test_id("photo").set_input_files({"name": "bath.png", "mimeType": "image/png", "buffer": png()})
    page.get_by_test_id("check-out").click()
    page.get_by_test_id("say").filter(has_text="已签退").wait_for()
    page.wait_for_function(SYNCED)
    order.refresh_from_db()
    assert order.status == OrderStatus.CHECKED_OUT and order.service_notes == "助浴完成，老人精神好"
    assert order.check_out_latitude == D("31.800300")
    assert order.check_out_photo and order.check_out_photo.read()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.get_by_test_id(f"status-{order.pk}").inner_text() == "待确认"
    assert page.get_by_test_id("result").is_visible()
    assert page.locator('[data-field="minutes"]').inner_text().endswith("分钟")

    # Installable: chromium finds nothing missing in the manifest, icons and worker (Playwright's contexts are
    # incognito windows, which never install: that one is expected). Done last: while a CDP session of our own
    # was open, chromium 156 did not tell the page that the network was back.
    page.goto(app)
    cdp = page.context.new_cdp_session(page)
    errors = {e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]}
    assert errors <= {"in-incognito"}
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["url"].endswith("/services/m/manifest.webmanifest")


def test_check_in_without_location_permission_says_so(browser, live_server, world):
    order = world["order"]
    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)  # location not allowed
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.base_url = live_server.url
        sign_in(page, "caregiver", PASSWORD)
        page.goto(page.base_url + f"/services/m/visits/{order.pk}/")
        page.get_by_test_id("check-in").click()
        say = page.get_by_test_id("say").filter(has_text="已签到")
        say.wait_for()
        assert "未能取得位置（定位权限被拒绝），已不带位置记录。" in say.inner_text()
        order.refresh_from_db()
        assert order.status == OrderStatus.CHECKED_IN and order.check_in_latitude is None
        assert check_ins(order) == 1
    finally:
        context.close()


def test_times_are_the_jurisdictions_on_a_phone_in_another_zone(browser, live_server, world):
    # A phone set to New York (12 or 13 hours behind Beijing): the visit's time and the check-in time the script
    # writes after the server's answer are both Beijing times (settings.TIME_ZONE), as the server renders them.
    order = world["order"]
    beijing = datetime.timezone(datetime.timedelta(hours=8))
    context = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                          timezone_id="America/New_York", geolocation=PHONE, permissions=["geolocation"])
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.base_url = live_server.url
        sign_in(page, "caregiver", PASSWORD)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
        page.goto(page.base_url + "/services/m/")
        start = order.scheduled_start.astimezone(beijing).strftime("%H:%M")
        assert page.get_by_test_id(f"visit-{order.pk}").locator(".cg-when time").first.inner_text() == start
        page.goto(page.base_url + f"/services/m/visits/{order.pk}/")
        page.get_by_test_id("check-in").click()
        page.get_by_test_id("say").filter(has_text="已签到").wait_for()
        page.wait_for_function(SYNCED)
        order.refresh_from_db()
        shown = page.locator('[data-field="check_in_at"]').inner_text()
        assert shown == order.check_in_at.astimezone(beijing).strftime("%H:%M")
        new_york = page.evaluate("iso => new Date(iso).getHours()", order.check_in_at.isoformat())
        assert int(shown[:2]) == (new_york + 12) % 24 or int(shown[:2]) == (new_york + 13) % 24
    finally:
        context.close()
