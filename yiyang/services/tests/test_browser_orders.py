"""In chromium: the family orders a bath for their mother (低保) and sees who pays what before confirming."""

from decimal import Decimal

import pytest

from yiyang.browser_testing import sign_in, wait_for_object_page
from yiyang.core.tests.factories import PASSWORD
from yiyang.services.models import Order, OrderStatus

from .factories import tomorrow_at

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def elder_fields(zhang_fields):
    return zhang_fields


@pytest.fixture
def world(home, subsistence):
    return {**home, "mother": home["elder"]}


def test_family_orders_a_bath_and_sees_the_quote_first(page, world):
    sign_in(page, "family", PASSWORD)
    panel = page.get_by_test_id("orders-panel")
    assert "暂无预约" in panel.inner_text()
    page.get_by_test_id("book-service").click()
    page.wait_for_url("**/services/orders/new/")
    assert page.get_by_label("张秀英").is_checked()  # her only linked elder
    assert "请选择：服务项目、服务机构" in page.get_by_test_id("quote").inner_text()

    page.select_option("#id_item", label="上门助浴（普惠价 40.00 元/次）")
    quote = page.get_by_test_id("quote")
    page.get_by_test_id("quote-copay").wait_for()
    assert page.locator("input[name=provider]").first.is_checked()  # 颐康, the only provider there
    assert page.get_by_test_id("quote-total").inner_text() == "33.33"
    assert page.get_by_test_id("quote-subsidy").inner_text() == "30.00"
    assert page.get_by_test_id("quote-copay").inner_text() == "3.33"
    assert "张秀英属于低保，按普惠价计价" in quote.inner_text()
    assert not Order.objects.exists()  # nothing is ordered before confirming

    # Two hours later, same day: the quote follows (htmx partial), still nothing written.
    page.fill("#id_time", "11:00")
    page.locator("#id_time").dispatch_event("change")
    page.get_by_test_id("quote-copay").wait_for()
    page.fill("#id_note", "需要助浴椅")
    page.get_by_test_id("confirm-order").click()
    wait_for_object_page(page, "/services/orders/")
    assert "已为张秀英预约上门助浴" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("order-status").inner_text() == "待接单"
    assert page.get_by_test_id("money-copay").inner_text() == "3.33"
    order = Order.objects.get()
    assert (order.status, order.channel, order.copay, order.note) == (
        OrderStatus.REQUESTED, "portal", Decimal("3.33"), "需要助浴椅")
    assert order.scheduled_start == tomorrow_at(11)
