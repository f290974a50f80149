"""Issue 7's journey in chromium, each person on their own pages: the family books a bath for a 低保 mother and sees
who pays what first; the provider accepts and assigns it in the workspace; the caregiver checks in and out on a
phone; the family confirms and rates; at the month's end the bureau prepares and approves the provider's statement,
whose figures are the order's."""

import datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from yiyang.browser_testing import follow, nav_to, new_context, sign_in, wait_for_object_page, write_beside_server
from yiyang.core.tests.factories import PASSWORD
from yiyang.services.models import Order, OrderStatus, Settlement, SettlementStatus

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]
HOME = (D("31.800000"), D("106.600000"))


@pytest.fixture
def elder_fields(zhang_fields):
    return {**zhang_fields, "latitude": HOME[0], "longitude": HOME[1], "address": "登科街道兴隆路 12 号"}


@pytest.fixture
def world(world, subsistence):
    return {**world, "mother": world["elder"]}


def as_user(page, username):
    page.context.clear_cookies()
    sign_in(page, username, PASSWORD)


def test_family_orders_provider_assigns_caregiver_serves_family_rates_bureau_settles(browser, live_server, page,
                                                                                      world):
    # 1. The family books a bath for a quarter of an hour from now, and sees the split before confirming.
    start = timezone.localtime() + datetime.timedelta(minutes=15)
    sign_in(page, "family", PASSWORD)
    page.get_by_test_id("book-service").click()
    # The form's selects are htmx-driven: wait for the page's scripts (deferred) before changing one, or on a busy
    # machine the change can fire before htmx listens and no quote ever comes.
    page.wait_for_url("**/services/orders/new/**")
    page.wait_for_load_state()
    page.select_option("#id_item", label="上门助浴（普惠价 40.00 元/次）")
    page.get_by_test_id("quote-copay").wait_for()
    # The time first: the form opens on tomorrow at 09:00, and today at 09:00 may already have passed.
    page.fill("#id_time", start.strftime("%H:%M"))
    page.locator("#id_time").dispatch_event("change")
    page.get_by_test_id("quote-copay").wait_for()
    if page.input_value("#id_date") != start.strftime("%Y-%m-%d"):
        with page.expect_response(lambda r: "/services/orders/new/" in r.url):  # the form follows the date
            page.fill("#id_date", start.strftime("%Y-%m-%d"))
        page.get_by_test_id("quote-copay").wait_for()
    assert page.input_value("#id_time") == start.strftime("%H:%M")
    # 颐康's price 33.33; 低保 90 %: subsidy 30.00 (half up), co-payment 3.33.
    assert [page.get_by_test_id(f"quote-{k}").inner_text() for k in ("total", "subsidy", "copay")] == [
        "33.33", "30.00", "3.33"]
    assert not Order.objects.exists()
    page.get_by_test_id("confirm-order").click()
    wait_for_object_page(page, "/services/orders/")
    order = Order.objects.get()
    assert order.status == OrderStatus.REQUESTED and order.channel == "portal"

    # 2. The provider accepts it and sends 李护理, who has the 助浴 skill.
    as_user(page, "provider")
    nav_to(page, "服务工作台")
    page.get_by_test_id(f"accept-{order.pk}").click()
    page.get_by_test_id("row-ok").wait_for()
    follow(page.get_by_test_id("tab-dispatch"))
    assert "李护理（具备技能" in page.get_by_test_id(f"caregiver-{order.pk}").inner_text()
    page.get_by_test_id(f"assign-{order.pk}").click()
    page.get_by_test_id("row-ok").wait_for()
    order.refresh_from_db()
    assert order.status == OrderStatus.ASSIGNED and order.caregiver_id == world["carer"].pk

    # 3. The caregiver, on a phone at the door, checks in and out from today's list.
    phone = new_context(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, geolocation={"latitude": 31.8002, "longitude": 106.6003},
                                permissions=["geolocation"])
    try:
        mobile = phone.new_page()
        mobile.set_default_timeout(15000)
        mobile.base_url = live_server.url
        sign_in(mobile, "caregiver", PASSWORD)
        mobile.wait_for_url("**/services/m/")  # a caregiver lands on today's visits
        assert "张秀英" in mobile.get_by_test_id(f"visit-{order.pk}").inner_text()
        mobile.get_by_test_id(f"open-{order.pk}").click()
        mobile.get_by_test_id("check-in").click()
        mobile.get_by_test_id("check-out-step").wait_for()
        mobile.wait_for_function("() => document.body.dataset.pending === '0'")
        # The bath takes its hour (the clock is moved rather than waited for; a visit of a few seconds is flagged).
        write_beside_server(lambda: Order.objects.filter(pk=order.pk).update(
            check_in_at=timezone.now() - datetime.timedelta(minutes=55)))
        mobile.get_by_test_id("notes").fill("助浴完成，皮肤无破损")
        mobile.get_by_test_id("check-out").click()
        mobile.get_by_test_id("say").filter(has_text="已签退").wait_for()
        mobile.wait_for_function("() => document.body.dataset.pending === '0'")
        # The app's service worker caches pages in the background: let it finish before the phone goes away.
        assert mobile.evaluate("navigator.serviceWorker.ready.then(() => true)")
    finally:
        phone.close()
    order.refresh_from_db()
    assert order.status == OrderStatus.CHECKED_OUT and order.service_notes == "助浴完成，皮肤无破损"
    assert order.check_in_latitude == D("31.800200") and not order.flags.exists()  # ~30 m from home, 55 min

    # 4. The family confirms the visit and rates it.
    as_user(page, "family")
    page.get_by_test_id("orders-waiting").get_by_role("link").first.click()
    assert page.get_by_test_id("order-status").inner_text() == "待确认"
    page.get_by_test_id("action-confirm").click()
    page.get_by_test_id("action-rate").wait_for()
    page.get_by_label("4★").check()
    page.get_by_label("评价").fill("护理员很耐心")
    page.get_by_test_id("action-rate").click()
    page.get_by_test_id("order-status").filter(has_text="已评价").wait_for()
    assert "★★★★☆ 护理员很耐心" in page.get_by_test_id("rating").inner_text()

    # 5. The month ends (the visit is moved into last month, as if this were the 1st), and the bureau settles it.
    last = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    shift = timezone.make_aware(datetime.datetime.combine(last, datetime.time(10))) - order.check_in_at
    Order.objects.filter(pk=order.pk).update(scheduled_start=order.scheduled_start + shift,
                                             check_in_at=order.check_in_at + shift,
                                             check_out_at=order.check_out_at + shift)
    as_user(page, "bureau")
    nav_to(page, "服务结算")
    page.get_by_test_id(f"prepare-{world['org'].pk}").click()
    wait_for_object_page(page, "/services/settlements/")
    figures = {k: page.get_by_test_id(k).inner_text() for k in ("order-count", "total", "subsidy", "copay")}
    assert figures == {"order-count": "1", "total": "33.33", "subsidy": "30.00", "copay": "3.33"}
    assert page.get_by_test_id("reconciled").is_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("approve").click()
    page.get_by_test_id("export").wait_for()
    assert Settlement.objects.get().status == SettlementStatus.APPROVED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SETTLED
