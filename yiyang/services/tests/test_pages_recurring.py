"""Standing orders (周期服务) from the order page and the 周期服务 page: the first week placed (counted from the
dates in the test), wrong weekdays refused with nothing written, a double submit makes one rule, the page in
each role's scope with bounded queries, and 停止 for those allowed only."""

import datetime
import uuid
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.core.models import Role
from yiyang.core.tests.factories import demo_roles, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import Order, OrderChannel, RecurringOrder, RecurringSkip

from .factories import catalogue, days_ago, link_family

pytestmark = pytest.mark.django_db

NEW = reverse("services:order_new")
QUOTE = reverse("services:order_quote")
PAGE = reverse("services:recurring_list")


@pytest.fixture
def elder_fields(zhang_fields):
    return zhang_fields  # 70 years old, 低保 (the `subsistence` fixture): 颐康's 33.33 → 30.00 subsidy, 3.33 to pay.


@pytest.fixture
def world(home, subsistence):
    other = make_elder(home["bureau"], name="李大爷", seq=3, male=True)
    family2 = make_user("family2", Role.FAMILY)
    link_family(family2, other)
    return {**home, "other": other, "family2": family2}


def next_weekday(iso: int) -> datetime.date:
    """The first day strictly after today with that ISO weekday."""
    today = timezone.localdate()
    return today + datetime.timedelta(days=(iso - today.isoweekday() - 1) % 7 + 1)


def form_data(w, **over):
    data = {"elder": w["elder"].pk, "item": "bath", "provider": w["org"].pk,
            "date": next_weekday(2).isoformat(), "time": "09:00", "quantity": "1", "note": "需要助浴椅",
            "client_key": uuid.uuid4().hex, "repeat": "on", "weekdays": ["2", "4"]}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def page_messages(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]]


def rule_for(w, *, elder=None, actor="family", weekdays=(2, 4), starts_on=None):
    return services.create_recurring(actor=w[actor], elder=elder or w["elder"], provider=w["org"], item=w["bath"],
                                     weekdays=list(weekdays), time="09:00", starts_on=starts_on or next_weekday(2),
                                     channel="portal" if actor.startswith("family") else "phone")


# ------------------------------------------------------------------------------------------ the order page


def test_every_tuesday_and_thursday_places_the_first_week(client, world):
    client.force_login(world["family"])
    start = next_weekday(2)
    resp = client.post(NEW, form_data(world))
    rule = RecurringOrder.objects.get()
    assert resp.status_code == 302 and resp.url == f"{PAGE}#recurring-{rule.pk}"
    assert (rule.weekdays, rule.time, rule.starts_on, rule.ends_on, rule.channel, rule.placed_by) == (
        "2,4", datetime.time(9), start, None, OrderChannel.PORTAL, world["family"])
    assert rule.note == "需要助浴椅" and rule.quantity == D("1")
    # The first week: today up to 7 days ahead, from next Tuesday on, Tuesdays and Thursdays.
    today = timezone.localdate()
    days = [today + datetime.timedelta(days=n) for n in range(8)]
    expected = [d for d in days if d >= start and d.isoweekday() in (2, 4)]
    orders = list(Order.objects.order_by("scheduled_start"))
    assert [timezone.localtime(o.scheduled_start) for o in orders] == [
        timezone.make_aware(datetime.datetime.combine(d, datetime.time(9))) for d in expected]
    assert {(o.channel, o.copay, o.elder_id) for o in orders} == {(OrderChannel.RECURRING, D("3.33"),
                                                                   world["elder"].pk)}
    page = client.get(resp.url)
    shown = " ".join(page_messages(page))
    assert f"已生成首周订单 {len(expected)} 单" in shown
    assert f"张秀英 上门助浴，每周二、四 09:00，自 {start.isoformat()} 起" in shown


def test_the_quote_of_a_standing_order_is_its_first_visit(client, world):
    client.force_login(world["family"])
    today = timezone.localdate()
    # Starting today with Thursdays only: the first visit is the next Thursday from today (today counts if it
    # is a Thursday and 09:00 is still ahead, otherwise a later one).
    resp = client.get(QUOTE, form_data(world, date=today.isoformat(), weekdays=["4"]))
    first = resp.context["p"].first
    assert timezone.localtime(first).isoweekday() == 4 and timezone.localtime(first).time() == datetime.time(9)
    assert first > timezone.now() and (timezone.localdate(first) - today).days < 7
    page = resp.content.decode()
    assert f"以下为首次服务（{timezone.localtime(first):%Y-%m-%d} 09:00）的费用。" in page
    assert "每次按当次日期计价；服务补贴余额不足时由本人自付。" in page
    assert 'data-testid="quote-copay">3.33<' in page
    assert "确认设置周期服务" in page
    assert not RecurringOrder.objects.exists() and not Order.objects.exists()


def test_switching_repeat_on_ticks_the_chosen_dates_weekday(client, world):
    client.force_login(world["family"])
    day = next_weekday(5)  # a Friday
    data = form_data(world, date=day.isoformat())
    del data["weekdays"]
    page = client.get(NEW, data, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="weekdays" value="5" checked' in page
    assert 'name="weekdays" value="4" checked' not in page
    plain = client.get(NEW, form_data(world, repeat=None)).content.decode()
    assert 'name="weekdays"' not in plain and "每次按当次日期计价" not in plain


@pytest.mark.parametrize("weekdays", [["9"], ["x"], []])
def test_wrong_weekdays_are_refused_and_nothing_is_written(client, world, weekdays):
    client.force_login(world["family"])
    resp = client.post(NEW, form_data(world, weekdays=weekdays))
    assert resp.status_code == 422
    assert "请选择每周几（1 为周一，7 为周日）。" in resp.content.decode()
    assert 'data-testid="error-weekdays"' in resp.content.decode()
    assert not RecurringOrder.objects.exists() and not Order.objects.exists()


def test_end_before_start_is_refused_next_to_the_end_date(client, world):
    client.force_login(world["family"])
    start = next_weekday(2)
    resp = client.post(NEW, form_data(world, ends_on=(start - datetime.timedelta(days=1)).isoformat()))
    assert resp.status_code == 422
    page = resp.content.decode()
    assert 'data-testid="error-ends-on">结束日期不能早于开始日期。<' in page
    assert not RecurringOrder.objects.exists() and not Order.objects.exists()


def test_double_submit_makes_one_rule(client, world):
    client.force_login(world["family"])
    data = form_data(world)
    first = client.post(NEW, data)
    placed = Order.objects.count()
    second = client.post(NEW, data)
    rule = RecurringOrder.objects.get()
    assert first.url == second.url == f"{PAGE}#recurring-{rule.pk}"
    assert Order.objects.count() == placed
    assert "该周期服务已设置过，未重复设置。" in page_messages(client.get(second.url))


def test_the_service_gives_back_the_rule_of_a_replayed_key_and_refuses_it_for_another(world):
    from yiyang.core.errors import DomainError

    rule = services.create_recurring(actor=world["family"], elder=world["elder"], provider=world["org"],
                                     item=world["bath"], weekdays=[2], time="09:00", starts_on=next_weekday(2),
                                     channel="portal", client_key="k-1")
    placed = Order.objects.count()
    again = services.create_recurring(actor=world["family"], elder=world["elder"], provider=world["org"],
                                      item=world["bath"], weekdays=[2], time="09:00", starts_on=next_weekday(2),
                                      channel="portal", client_key="k-1")
    assert again.pk == rule.pk and RecurringOrder.objects.count() == 1 and Order.objects.count() == placed
    with pytest.raises(DomainError) as exc:  # the same key from someone else
        services.create_recurring(actor=world["community"], elder=world["elder"], provider=world["org"],
                                  item=world["bath"], weekdays=[3], time="10:00", starts_on=next_weekday(3),
                                  channel="phone", client_key="k-1")
    assert exc.value.status == 409 and RecurringOrder.objects.count() == 1


def test_staff_set_up_a_standing_order_by_phone(client, world):
    client.force_login(world["community"])
    resp = client.post(NEW, form_data(world, channel="phone", weekdays=["3"], date=next_weekday(3).isoformat()))
    rule = RecurringOrder.objects.get()
    assert resp.status_code == 302
    assert (rule.channel, rule.weekdays, rule.placed_by) == ("phone", "3", world["community"])
    # Next Wednesday is within the first week: exactly one order.
    assert Order.objects.filter(client_key__startswith=f"recurring:{rule.pk}:").count() == 1


# ------------------------------------------------------------------------------------------ 周期服务 page


def test_page_shows_the_rule_its_orders_and_skips(client, world):
    rule = rule_for(world)
    orders = list(Order.objects.order_by("scheduled_start"))
    RecurringSkip.objects.create(recurring=rule, day=rule.starts_on + datetime.timedelta(days=14),
                                 reason="服务机构当日停业")
    client.force_login(world["family"])
    page = client.get(PAGE).content.decode()
    assert f'data-testid="recurring-{rule.pk}"' in page
    assert "张秀英 · 上门助浴 · <span data-testid=\"rule\">每周二、四 09:00</span>" in page
    assert "颐康 · 每次 1 次" in page
    for order in orders:
        assert reverse("services:order_detail", args=[order.pk]) in page
    assert f"{rule.starts_on + datetime.timedelta(days=14):%Y-%m-%d}：服务机构当日停业" in page
    assert f'data-testid="stop-{rule.pk}"' in page


def test_list_links(client, world):
    client.force_login(world["family"])
    assert PAGE in client.get(reverse("services:order_list")).content.decode()
    home = client.get(reverse("core:home")).content.decode()
    assert f'href="{PAGE}" data-testid="recurring-link"' in home


def test_scope_of_the_page(client, world):
    mine = rule_for(world)
    theirs = rule_for(world, elder=world["other"], actor="family2")
    client.force_login(world["family"])
    assert [r.pk for r in client.get(PAGE).context["rules"]] == [mine.pk]
    # The provider sees both (its rules), without a stop button.
    client.force_login(world["provider"])
    resp = client.get(PAGE)
    assert {r.pk for r in resp.context["rules"]} == {mine.pk, theirs.pk}
    assert 'data-testid="stop-' not in resp.content.decode()
    # 文治街道 staff: the elders live in 登科街道.
    client.force_login(world["other_street"])
    assert list(client.get(PAGE).context["rules"]) == []
    client.force_login(world["street"])
    assert len(client.get(PAGE).context["rules"]) == 2


def test_page_queries_are_bounded(client, world, django_assert_max_num_queries):
    for weekdays in ((1,), (2, 4), (3, 5), (6,)):
        rule_for(world, weekdays=weekdays)
    client.force_login(world["family"])
    with django_assert_max_num_queries(8):  # session, user, count, rules, skips, orders
        resp = client.get(PAGE)
    assert len(resp.context["rules"]) == 4


def test_family_stops_their_rule(client, world):
    rule = rule_for(world)
    placed = Order.objects.count()
    client.force_login(world["family"])
    resp = client.post(reverse("services:recurring_stop", args=[rule.pk]))
    assert resp.status_code == 302
    rule.refresh_from_db()
    assert rule.active is False and rule.stopped_at is not None
    assert Order.objects.count() == placed  # the orders already placed stay
    page = client.get(resp.url)
    assert any("已停止周期服务：张秀英 上门助浴" in m for m in page_messages(page))
    assert 'data-testid="stopped"' in page.content.decode()
    assert f'data-testid="stop-{rule.pk}"' not in page.content.decode()


def test_stop_by_htmx_reloads_the_page(client, world):
    rule = rule_for(world)
    client.force_login(world["family"])
    resp = client.post(reverse("services:recurring_stop", args=[rule.pk]), HTTP_HX_REQUEST="true")
    assert resp.status_code == 204 and resp["HX-Refresh"] == "true"
    rule.refresh_from_db()
    assert rule.active is False


@pytest.mark.parametrize("who", ["family2", "provider", "other_street", "caregiver"])
def test_others_may_not_stop_it(client, world, who):
    rule = rule_for(world)
    client.force_login(world[who])
    resp = client.post(reverse("services:recurring_stop", args=[rule.pk]))
    assert resp.status_code == 404
    rule.refresh_from_db()
    assert rule.active is True and rule.stopped_at is None


# ------------------------------------------------------------------------------------------ in chromium


@pytest.fixture
def browser_world():
    from yiyang.core.services import load_regions

    load_regions(prefix="5119")
    roles = demo_roles()
    cat = catalogue(roles)
    elder = make_elder(roles["bureau"], name="张秀英", birth=datetime.date(1956, 6, 1), seq=2)
    registry.add_category(actor=roles["bureau"], elder=elder, kind="subsistence", start_date=days_ago(365))
    link_family(roles["family"], elder)
    return {**roles, **cat, "elder": elder}


@pytest.mark.browser
@pytest.mark.flushes
@pytest.mark.django_db(transaction=True)
def test_family_sets_up_and_stops_a_standing_order_in_the_browser(page, browser_world):
    from yiyang.browser_testing import sign_in
    from yiyang.core.tests.factories import PASSWORD

    start = next_weekday(2)
    sign_in(page, "family", PASSWORD)
    page.get_by_test_id("book-service").click()
    page.wait_for_url("**/services/orders/new/")
    page.select_option("#id_item", label="上门助浴（普惠价 40.00 元/次）")
    page.get_by_test_id("quote-copay").wait_for()
    # The form is drawn again for the new date: wait for it before ticking 每周重复, or the tick is lost.
    with page.expect_response(lambda r: "/services/orders/new/" in r.url):
        page.fill("#id_date", start.isoformat())
        page.locator("#id_date").dispatch_event("change")
    page.wait_for_function(f"() => document.querySelector('#id_date').value === '{start.isoformat()}'")
    with page.expect_response(lambda r: "/services/orders/new/" in r.url):
        page.locator("#id_repeat").check()
    page.get_by_test_id("weekdays").wait_for()
    assert page.locator("input[name=weekdays][value='2']").is_checked()  # the chosen date's weekday
    page.locator("input[name=weekdays][value='4']").check()
    page.get_by_test_id("quote-first").wait_for()
    assert f"以下为首次服务（{start:%Y-%m-%d} 09:00）的费用。" in page.get_by_test_id("quote").inner_text()
    assert page.get_by_test_id("quote-copay").inner_text() == "3.33"
    page.get_by_test_id("confirm-order").click()
    page.wait_for_url("**/services/recurring/**")
    rule = RecurringOrder.objects.get()
    assert rule.weekdays == "2,4"
    assert "已生成首周订单" in page.locator(".messages").inner_text()
    assert "每周二、四 09:00" in page.get_by_test_id(f"recurring-{rule.pk}").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"stop-{rule.pk}").click()
    page.get_by_test_id("stopped").wait_for()
    assert "已停止周期服务：张秀英 上门助浴" in page.locator(".messages").inner_text()
    rule.refresh_from_db()
    assert rule.active is False
