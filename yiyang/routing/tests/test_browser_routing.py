"""In chromium: 颐康's dispatcher plans tomorrow, sees both routes drawn on the map and listed, locks the far
visit to the other caregiver, plans again (the lock holds) and publishes; the caregiver's phone shows the
route."""

import pytest

from yiyang.browser_testing import nav_to, new_context, sign_in
from yiyang.core.tests.factories import PASSWORD
from yiyang.services.models import Order, OrderStatus

from .factories import carer, day, visit

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def test_plan_lock_replan_publish(browser, live_server, page, world):
    west = carer(world, "西护理", lon=106.59, account="caregiver")
    carer(world, "东护理", lon=106.70)
    visit(world, "甲", 106.60, window=60)
    far = visit(world, "乙", 106.69)

    sign_in(page, "provider", PASSWORD)
    nav_to(page, "排线调度")
    page.get_by_label("日期", exact=True).fill(day().isoformat())
    page.get_by_label("排线时间（秒）").fill("2")
    page.get_by_test_id("plan-button").click()
    page.get_by_test_id("plan-summary").wait_for()
    assert "2/2" in page.get_by_test_id("plan-summary").inner_text()
    # The map: two coloured routes (SVG paths) drawn by ECharts, no tiles.
    page.locator("#route-map svg path").first.wait_for(state="attached")  # all on one latitude: flat lines
    assert page.locator("#route-map svg path").count() >= 2
    assert page.get_by_test_id("route").count() == 2

    stop = page.locator(f'[data-testid="stop"][data-order="{far.pk}"]')
    stop.locator("select").select_option(str(west.pk))
    stop.get_by_role("button", name="保存").click()
    assert "已将 乙 的订单锁定给 西护理" in page.locator(".messages").inner_text()
    page.get_by_label("排线时间（秒）").fill("2")
    page.get_by_test_id("plan-button").click()
    page.get_by_test_id("plan-summary").get_by_text("第 2 版").wait_for()
    routes = page.get_by_test_id("route")
    assert routes.count() == 1 and "西护理" in routes.first.inner_text()
    assert "已锁定" in page.locator(f'[data-testid="stop"][data-order="{far.pk}"]').inner_text()

    page.get_by_test_id("publish-button").click()
    assert "已发布第 2 版" in page.locator(".messages").inner_text()
    assert set(Order.objects.filter(status=OrderStatus.ASSIGNED).values_list("caregiver__name", flat=True)) == {
        "西护理"}

    # 西护理's phone: tomorrow's visits in the published route's order, with the planned arrivals. Its own
    # context, closed before the test ends: the app's service worker keeps fetching while a context lives.
    phone = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        mobile = phone.new_page()
        mobile.set_default_timeout(15000)
        mobile.base_url = live_server.url
        sign_in(mobile, "caregiver", PASSWORD)
        mobile.get_by_test_id("show-tomorrow").click()
        mobile.get_by_test_id("routed").wait_for()
        cards = mobile.locator("[data-testid^=visit-]")
        assert [cards.nth(i).locator("h2").inner_text() for i in range(cards.count())] == ["甲", "乙"]
        assert mobile.get_by_test_id(f"route-{far.pk}").inner_text().startswith("路线第 2 站")
        assert mobile.evaluate("navigator.serviceWorker.ready.then(() => true)")
    finally:
        phone.close()
