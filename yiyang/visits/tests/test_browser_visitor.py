"""The visitor's phone in chromium (390×844, location allowed at the elder's door): the visitor lands on today's
tasks, records a visit with no signal (checklist, notes, photo, a 预约服务 follow-up), it waits on the phone;
back online it syncs once, the provider finds the order, and the community's coverage moves from 0 % to 50 %."""

import datetime
import io

import pytest
from django.utils import timezone
from PIL import Image

from yiyang.browser_testing import new_context, sign_in
from yiyang.core.tests.factories import PASSWORD
from yiyang.registry.tests.factories import make_elder
from yiyang.services.models import Order, OrderChannel
from yiyang.services.tests.factories import catalogue
from yiyang.visits import services
from yiyang.visits.models import FollowUp, TaskStatus, VisitRecord, VisitTask

from .factories import this_month

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]
PHONE = {"latitude": 31.9401, "longitude": 106.64}  # about 11 m from 王秀英's door
SYNCED = "() => document.body.dataset.pending === '0'"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (220, 200, 180)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def scene(world):
    cat = catalogue(world)
    # 李桂兰 (空巢) is due too, so the community's month is 0/2 before the visit and 1/2 after.
    make_elder(world["bureau"], name="李桂兰", seq=2, living_situation="empty_nest", birth=datetime.date(1950, 6, 1))
    services.generate_month(month=this_month())
    return {**world, **cat, "task": VisitTask.objects.get(elder=world["elder"])}


def context_page(browser, live_server, **options):
    context = new_context(browser, **options)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    return context, page


def coverage_rate(browser, live_server) -> str:
    context, page = context_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, "community", PASSWORD)
        page.goto(page.base_url + "/visits/")
        return page.get_by_test_id("total-rate").inner_text()
    finally:
        context.close()


def test_visit_recorded_offline_syncs_and_moves_coverage(browser, live_server, scene):
    task, elder = scene["task"], scene["elder"]
    assert coverage_rate(browser, live_server) == "0.0%"
    context, page = context_page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
                                 has_touch=True, geolocation=PHONE, permissions=["geolocation"])
    try:
        sign_in(page, "visitor", PASSWORD)
        assert page.url.endswith("/visits/my-day/")  # the visitor's landing page
        page.get_by_test_id(f"task-{task.pk}").wait_for()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.get_by_test_id(f"open-{task.pk}").click()
        page.wait_for_url(f"**/visits/my-day/tasks/{task.pk}/")

        # No signal: the visit is filled in and recorded on the phone.
        page.context.set_offline(True)
        page.get_by_test_id("outcome-seen").check()
        page.get_by_test_id("seen").fill("本人")
        page.get_by_test_id("check-health-ok").check()
        page.get_by_test_id("check-falls-concern").check()
        page.get_by_test_id("notes").fill("卫生间地滑，需要助浴")
        page.get_by_test_id("photo").set_input_files({"name": "visit.png", "mimeType": "image/png",
                                                      "buffer": png()})
        page.get_by_test_id("fu-service-order").check()
        page.get_by_test_id("fu-offer").select_option(f"{scene['org'].pk}:{scene['bath'].pk}")
        start = (timezone.localtime() + datetime.timedelta(days=2)).replace(hour=9, minute=0, second=0,
                                                                            microsecond=0)
        page.get_by_test_id("fu-time").fill(start.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_test_id("record").click()
        page.get_by_test_id("pending").filter(has_text="待同步 (1)").wait_for()
        page.get_by_test_id("say").filter(has_text="已记录，待网络恢复后自动同步。").wait_for()
        assert page.get_by_test_id(f"status-{task.pk}").inner_text() == "已登记（待同步）"
        queued = page.evaluate("visitorQueue.all().then(items => items.map(i => ({key: i.key, at: i.at, "
                               "lat: i.latitude, photo: !!i.photo})))")
        assert len(queued) == 1 and queued[0]["lat"] == PHONE["latitude"] and queued[0]["photo"]
        assert not VisitRecord.objects.exists()

        # Back online: sent once, the task closed, the order placed for the provider.
        page.context.set_offline(False)
        page.wait_for_function(SYNCED)
        page.get_by_test_id("pending").wait_for(state="hidden")
        record = VisitRecord.objects.get()
        assert record.client_key == queued[0]["key"] and record.counts and record.distance_m == 11
        assert record.visited_at == datetime.datetime.fromisoformat(queued[0]["at"])  # the tap, not the sync
        assert record.checklist == {"health": "ok", "falls": "concern"} and record.concerns == 1
        assert record.photo and record.photo.read()[:8] == b"\x89PNG\r\n\x1a\n"
        assert VisitTask.objects.get(pk=task.pk).status == TaskStatus.DONE
        assert page.get_by_test_id(f"status-{task.pk}").inner_text() == "已完成"
        order = Order.objects.get(elder=elder)
        assert order.channel == OrderChannel.VISIT and order.scheduled_start == start
        assert FollowUp.objects.get(record=record).order == order
    finally:
        context.close()

    # The provider sees the new order on its workspace.
    context, page = context_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, "provider", PASSWORD)
        page.goto(page.base_url + f"/services/orders/{order.pk}/")
        assert elder.name in page.locator("main").inner_text()
    finally:
        context.close()
    assert coverage_rate(browser, live_server) == "50.0%"
