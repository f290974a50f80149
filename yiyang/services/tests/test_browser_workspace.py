"""In chromium: the provider accepts an order and assigns it inline (htmx, no page load), sees it on today's
board; the bureau prepares last month's statement and approves it after the confirm dialog."""

import datetime

import pytest
from django.utils import timezone

from yiyang.browser_testing import follow, nav_to, sign_in, wait_for_object_page
from yiyang.core.tests.factories import PASSWORD
from yiyang.services import services
from yiyang.services.models import Order, OrderStatus, Settlement, SettlementStatus

from .factories import soon

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def elder_fields():
    return {"address": "登科街道 1 号"}


def switch_user(page, username):
    page.context.clear_cookies()
    sign_in(page, username, PASSWORD)


def test_provider_accepts_and_assigns_inline_then_bureau_approves(page, world):
    w = world
    order = services.place_order(actor=w["community"], elder=w["elder"], provider=w["org"], item=w["bath"],
                                 scheduled_start=soon(30), channel="phone", allowance_available="0")[0]
    sign_in(page, "provider", PASSWORD)
    nav_to(page, "服务工作台")
    row = page.get_by_test_id(f"incoming-{order.pk}")
    assert "王秀英" in row.inner_text()
    url = page.url
    page.get_by_test_id(f"accept-{order.pk}").click()
    page.get_by_test_id("row-ok").wait_for()
    assert page.url == url  # swapped in place
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED

    follow(page.get_by_test_id("tab-dispatch"))
    select = page.get_by_test_id(f"caregiver-{order.pk}")
    assert "李护理（具备技能" in select.inner_text()
    assert page.get_by_test_id("route-optimise").get_attribute("href") == "/routing/"
    page.get_by_test_id(f"assign-{order.pk}").click()
    page.get_by_test_id("row-ok").wait_for()
    assert "已派给 李护理。" in page.get_by_test_id("row-ok").inner_text()
    assert Order.objects.get(pk=order.pk).caregiver_id == w["carer"].pk

    follow(page.get_by_test_id("tab-board"))
    column = page.get_by_test_id(f"board-column-{w['carer'].pk}")
    assert "上门助浴" in column.inner_text() and "已派单" in column.inner_text()
    follow(page.get_by_test_id("tab-shifts"))
    assert page.get_by_test_id(f"shift-row-{w['carer'].pk}").is_visible()

    # The visit happened last month and was confirmed: the bureau settles the month.
    now = timezone.now()
    services.check_in(actor=w["caregiver"], order=order, at=now - datetime.timedelta(minutes=65))
    services.check_out(actor=w["caregiver"], order=order, at=now - datetime.timedelta(minutes=2), notes="完成")
    services.confirm_order(actor=w["community"], order=order)
    last = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    out = timezone.make_aware(datetime.datetime.combine(last, datetime.time(10)))
    Order.objects.filter(pk=order.pk).update(scheduled_start=out - datetime.timedelta(minutes=60),
                                             check_in_at=out - datetime.timedelta(minutes=60), check_out_at=out)
    switch_user(page, "bureau")
    nav_to(page, "服务结算")
    page.get_by_test_id(f"prepare-{w['org'].pk}").click()
    wait_for_object_page(page, "/services/settlements/")
    assert page.get_by_test_id("total").inner_text() == "33.33"  # 80+: 颐康's price under the 普惠 ceiling
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("approve").click()
    page.get_by_test_id("export").wait_for()
    assert Settlement.objects.get().status == SettlementStatus.APPROVED
    assert page.get_by_test_id("statement-status").inner_text() == "已审核"
    page.goto(page.base_url + "/services/catalogue/")
    assert page.get_by_test_id("inclusive-bath").inner_text() == "40.00"
