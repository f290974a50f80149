"""The operator console in chromium: an SOS pressed in 王秀英's home appears on the console without a reload,
the operator acknowledges it and dispatches it to the community worker, who reports arriving and the outcome
from their own account; the alarm is then resolved on the operator's history with its response times."""

import pytest

from yiyang.alarms import services
from yiyang.alarms.models import Alarm, AlarmOutcome, AlarmStatus, Channel
from yiyang.browser_testing import nav_to, new_context, sign_in
from yiyang.core.tests.factories import PASSWORD

from .factories import event

pytestmark = [pytest.mark.browser, pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def _page(browser, live_server, **options):
    context = new_context(browser, **options)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base_url = live_server.url
    return context, page


def test_an_sos_arrives_live_and_is_handled_to_the_end(browser, live_server, alarm_world):
    w = alarm_world
    context, page = _page(browser, live_server, viewport={"width": 1600, "height": 900})
    try:
        sign_in(page, "operator", PASSWORD)
        assert page.url.endswith("/alarms/")  # the operator's landing page is the console
        page.get_by_test_id("queue-empty").wait_for()
        # The button is pressed in the home now: the vendor's event arrives while the page is open.
        services.ingest(vendor=w["vendor"], events=[event("SOS-1")], channel=Channel.WEBHOOK)
        alarm = Alarm.objects.get(device=w["sos"])
        card = page.get_by_test_id(f"alarm-{alarm.pk}")
        card.wait_for(timeout=10000)  # htmx polls every 3 s: no reload
        assert "王秀英" in card.inner_text() and "一键呼叫" in card.inner_text()
        page.get_by_test_id(f"ack-{alarm.pk}").click()
        page.get_by_test_id("step-dispatch").wait_for()
        assert "已接警" in page.get_by_test_id("alarm-status").inner_text()
        assert "王秀英" in page.get_by_test_id("elder-summary").inner_text()
        dispatch = page.get_by_test_id("step-dispatch")
        dispatch.get_by_label("处置人类型").select_option("community")
        dispatch.get_by_label("平台账号（可选，对方手机上可登记到场）").select_option(str(w["community"].pk))
        dispatch.get_by_role("button", name="派单").click()
        page.get_by_test_id("alarm-responder").wait_for()
        assert "社区工作人员" in page.get_by_test_id("alarm-responder").inner_text()
    finally:
        context.close()

    # The community worker, on a phone, opens the alarm from the notification it was sent.
    context, page = _page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
                          has_touch=True)
    try:
        sign_in(page, "community", PASSWORD)
        page.goto(live_server.url + "/alarms/notifications/")
        page.get_by_role("button", name="查看报警").first.click()
        page.get_by_test_id("step-on_site").get_by_role("button").click()
        resolve = page.get_by_test_id("step-resolve")
        resolve.wait_for()
        resolve.get_by_label("结果").select_option("handled_at_home")
        resolve.get_by_label("处置说明").fill("老人起身时滑倒，已扶起，无外伤")
        resolve.get_by_role("button", name="登记结果").click()
        page.get_by_test_id("alarm-outcome").wait_for()
        assert "居家处置" in page.get_by_test_id("alarm-outcome").inner_text()
    finally:
        context.close()

    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED and alarm.outcome == AlarmOutcome.HANDLED_AT_HOME

    # The street's statistics of the month show the alarm and how fast it was answered.
    context, page = _page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, "street", PASSWORD)
        nav_to(page, "报警统计")
        assert page.get_by_test_id("stat-total").inner_text() == "1"
        times = page.get_by_test_id("stat-times").inner_text()
        ack = round((alarm.acknowledged_at - alarm.raised_at).total_seconds(), 1)
        assert f"接警\t1\t{ack}\t{ack}\t" in times  # one acknowledged: its seconds are the median and the P90
        assert page.get_by_test_id("stat-ack-share").inner_text() == ("100.0%" if ack <= 60 else "0.0%")
    finally:
        context.close()
    assert alarm.acknowledged_by == w["operator"] and alarm.responder_user == w["community"]
    assert alarm.raised_at <= alarm.acknowledged_at <= alarm.dispatched_at <= alarm.on_site_at <= alarm.resolved_at
