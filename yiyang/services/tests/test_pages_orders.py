"""The order pages: placing an order with its quote (hand-computed splits), idempotent submission, errors
shown with nothing written, the list (filters, scope, bounded queries), the detail with each role's
actions, and the family's home panel. Real services and the services factories, no mocks."""

import datetime
import uuid
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.core.models import Role
from yiyang.core.navigation import flatten
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import Order, OrderStatus

from .factories import OTHER_STREET, days_ago, make_caregiver, soon, split, tomorrow_at

pytestmark = pytest.mark.django_db

NEW = reverse("services:order_new")
QUOTE = reverse("services:order_quote")
LIST = reverse("services:order_list")


@pytest.fixture
def elder_fields(zhang_fields):
    # 70 years old, 低保 for the last year (the `subsistence` fixture).
    return {**zhang_fields, "latitude": D("31.800000"), "longitude": D("106.600000"),
            "address": "登科寺社区 3 栋 2 单元"}


@pytest.fixture
def world(world, subsistence):
    return world


def client_for(client, user):
    client.force_login(user)
    return client


def form_data(w, **over):
    day = timezone.localdate() + datetime.timedelta(days=1)
    data = {"elder": w["elder"].pk, "item": "bath", "provider": w["org"].pk, "date": day.isoformat(),
            "time": "09:00", "quantity": "1", "note": "需要助浴椅", "client_key": uuid.uuid4().hex}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def text_of(resp) -> str:
    return resp.content.decode()


def messages_of(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]] if resp.context else []


def place(w, actor="community", elder=None, item="bath", start=None, **kw):
    kw.setdefault("channel", "phone")
    return services.place_order(actor=w[actor], elder=elder or w["elder"], provider=w["org"], item=w[item],
                                scheduled_start=start or tomorrow_at(9), **kw)[0]


# ------------------------------------------------------------------------------------------ placing


def test_family_page_preselects_their_only_elder_and_groups_the_catalogue(client, world):
    resp = client_for(client, world["family"]).get(NEW)
    assert resp.status_code == 200
    page = text_of(resp)
    assert f'name="elder" value="{world["elder"].pk}" checked' in page
    assert '<optgroup label="助浴">' in page and '<optgroup label="助洁">' in page
    assert "上门助浴（普惠价 40.00 元/次）" in page
    assert resp.context["p"].client_key  # a fresh key for this form
    assert 'name="channel" value="portal"' in page


def test_choosing_the_item_lists_the_provider_and_shows_the_quote(client, world):
    data = form_data(world)
    del data["provider"]
    resp = client_for(client, world["family"]).get(NEW, data, HTTP_HX_REQUEST="true")
    page = text_of(resp)
    # 颐康 is the only provider in the elder's street: preselected, and the quote is shown at once.
    assert f'name="provider" value="{world["org"].pk}" checked' in page
    assert "颐康 <strong>33.33 元/次</strong>" in page
    assert resp.context["quote"].copay == D("3.33")
    assert 'data-testid="confirm-order"' in page


def test_quote_partial_shows_the_hand_computed_split_for_a_subsistence_elder(client, world):
    resp = client_for(client, world["family"]).get(QUOTE, form_data(world), HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    page = text_of(resp)
    # 33.33 (颐康, under the 40.00 ceiling) × 1; 90 % = 29.997 → 30.00; 3.33 left to pay.
    assert 'data-testid="quote-market">80.00<' in page
    assert 'data-testid="quote-inclusive">40.00<' in page
    assert 'data-testid="quote-total">33.33<' in page
    assert 'data-testid="quote-subsidy">30.00<' in page
    assert 'data-testid="quote-allowance">0.00<' in page
    assert 'data-testid="quote-copay">3.33<' in page
    assert "政府补贴（90%）" in page
    assert ("张秀英属于低保，按普惠价计价：服务机构报价 33.33 元/次，普惠价上限 40.00 元/次，"
            "取较低者 33.33 元/次。") in page
    # The rule in the family's words (the row that applied), not the bureau's revision note.
    assert (f"依据：恩阳区自 {days_ago(30).isoformat()} 起执行的服务补贴规则——低保：按普惠价，政府补贴 90%，"
            "其余先从每月服务补贴余额抵扣，不足部分本人自付。") in page
    assert "特困全额、低保九成" not in page
    assert not Order.objects.exists()


def test_quote_of_hours_rounds_the_subsidy_half_up(client, world):
    resp = client_for(client, world["family"]).get(QUOTE, form_data(world, item="cleaning", quantity="1.5"))
    quote = resp.context["quote"]
    # 28.88 × 1.5 = 43.32; 90 % = 38.988 → 38.99; 4.33 left.
    assert (quote.total, quote.subsidy, quote.copay) == (D("43.32"), D("38.99"), D("4.33"))
    assert "服务金额（28.88 元 × 1.5）" in text_of(resp)


def test_quote_tells_what_is_missing(client, world):
    resp = client_for(client, world["family"]).get(QUOTE, form_data(world, item=""))
    assert "请选择：服务项目、服务机构。" in text_of(resp)
    assert 'data-testid="confirm-order"' not in text_of(resp)


def test_family_places_an_order(client, world):
    data = form_data(world)
    resp = client_for(client, world["family"]).post(NEW, data)
    order = Order.objects.get()
    assert resp.status_code == 302 and resp.url == reverse("services:order_detail", args=[order.pk])
    assert split(order) == (D("33.33"), D("33.33"), D("90"), D("30.00"), D("0.00"), D("3.33"))
    assert (order.channel, order.placed_by, order.client_key, order.note) == (
        "portal", world["family"], data["client_key"], "需要助浴椅")
    assert order.scheduled_start == tomorrow_at(9)
    detail = client.get(resp.url)
    assert "已为张秀英预约上门助浴" in " ".join(messages_of(detail))


def test_double_submit_with_the_same_key_makes_one_order(client, world):
    c = client_for(client, world["family"])
    data = form_data(world)
    first = c.post(NEW, data)
    second = c.post(NEW, data)
    assert Order.objects.count() == 1
    assert first.url == second.url
    assert "该订单已提交过，未重复下单。" in messages_of(c.get(second.url))


def test_the_same_key_for_another_order_is_refused_and_a_new_key_given(client, world):
    c = client_for(client, world["family"])
    data = form_data(world)
    c.post(NEW, data)
    resp = c.post(NEW, {**data, "quantity": "2"})
    assert resp.status_code == 422
    assert "该提交编号已用于另一笔订单，请刷新后重新下单。" in text_of(resp)
    assert resp.context["p"].client_key != data["client_key"]
    assert Order.objects.count() == 1


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"time": "", "date": ""}, "when", "请选择上门时间。"),
    ({"quantity": "0"}, "quantity", "数量须为大于 0 的数字（最多两位小数）。"),
    ({"item": "nope"}, "item", "请选择服务项目。"),
    ({"provider": ""}, "provider", "请选择服务机构。"),
])
def test_form_errors_are_shown_next_to_the_field_and_nothing_is_created(client, world, over, field, message):
    resp = client_for(client, world["family"]).post(NEW, form_data(world, **over))
    assert resp.status_code == 422
    assert message in resp.context["errors"][field]
    assert f'data-testid="error-{field}">{message}' in text_of(resp)
    assert not Order.objects.exists()


def test_a_time_in_the_past_is_refused_by_the_service(client, world):
    today = timezone.localdate().isoformat()
    resp = client_for(client, world["family"]).post(NEW, form_data(world, date=today, time="00:00"))
    assert resp.status_code == 422
    assert resp.context["errors"]["when"] == ["预约时间须晚于当前时间。"]
    assert not Order.objects.exists()


def test_a_provider_outside_the_elders_street_is_refused(client, world):
    other = make_org("安康护理", region=OTHER_STREET)
    resp = client_for(client, world["family"]).post(NEW, form_data(world, provider=other.pk))
    assert resp.status_code == 422
    day = timezone.localdate() + datetime.timedelta(days=1)
    assert resp.context["errors"]["provider"] == [f"安康护理 在 {day} 不在老人所在街道提供上门助浴。"]
    assert not Order.objects.exists()


def test_no_order_for_a_deceased_elder(client, world):
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="death",
                                 effective_date=days_ago(0))
    resp = client_for(client, world["family"]).post(NEW, form_data(world))
    assert resp.status_code == 422
    assert resp.context["errors"]["elder"] == ["张秀英 的状态为“已故”，不能下单。"]
    assert "未下单：请检查下面标出的内容。" in messages_of(resp)
    assert not Order.objects.exists()


def test_a_family_cannot_order_for_someone_elses_elder(client, world):
    stranger = make_elder(world["bureau"], name="李四", seq=5, male=True)
    c = client_for(client, world["family"])
    assert c.get(NEW, {"elder": stranger.pk}).status_code == 404
    assert c.post(NEW, form_data(world, elder=stranger.pk)).status_code == 404
    assert not Order.objects.exists()


def test_staff_find_the_elder_by_name_or_id_tail_and_order_by_phone(client, world):
    c = client_for(client, world["community"])
    found = c.get(reverse("services:order_elders"), {"q": "张秀"}, HTTP_HX_REQUEST="true")
    assert f'data-testid="pick-elder-{world["elder"].pk}"' in text_of(found)
    tail = world["elder"].id_number_masked[-4:]
    assert world["elder"] in c.get(reverse("services:order_elders"), {"q": tail}).context["found"]
    page = c.get(NEW, {"elder": world["elder"].pk})
    assert 'value="phone" checked' in text_of(page) and 'value="staff"' in text_of(page)
    resp = c.post(NEW, form_data(world, channel="staff"))
    order = Order.objects.get()
    assert resp.status_code == 302
    assert (order.channel, order.placed_by, order.copay) == ("staff", world["community"], D("3.33"))


def test_staff_search_stays_within_their_area(client, world):
    c = client_for(client, world["other_street"])
    assert c.get(reverse("services:order_elders"), {"q": "张秀"}).context["found"] == []
    assert c.get(NEW, {"elder": world["elder"].pk}).status_code == 404


def test_providers_and_caregivers_do_not_place_orders_on_this_page(client, world):
    for who in ("provider", "caregiver"):
        assert client_for(client, world[who]).get(NEW).status_code == 404


# --------------------------------------------------------------------------------------------- list


def test_list_scopes_and_filters(client, world):
    mine = place(world)
    other_elder = make_elder(world["bureau"], name="赵大爷", seq=6, male=True, residence="511903002001")
    theirs = place(world, elder=other_elder, actor="bureau", item="cleaning", quantity="2")
    services.cancel_order(actor=world["community"], order=mine, reason="家属改期")
    family = client_for(client, world["family"]).get(LIST)
    assert [o.pk for o in family.context["orders"]] == [mine.pk]
    assert "provider" not in family.context["form"].fields and "flagged" not in family.context["form"].fields
    client.logout()
    bureau = client_for(client, world["bureau"])
    assert {o.pk for o in bureau.get(LIST).context["orders"]} == {mine.pk, theirs.pk}
    assert [o.pk for o in bureau.get(LIST, {"status": "cancelled"}).context["orders"]] == [mine.pk]
    assert [o.pk for o in bureau.get(LIST, {"item": "cleaning"}).context["orders"]] == [theirs.pk]
    assert {o.pk for o in bureau.get(LIST, {"provider": world["org"].pk}).context["orders"]} == {mine.pk, theirs.pk}
    day = tomorrow_at(9).date()
    assert len(bureau.get(LIST, {"date_from": day, "date_to": day}).context["orders"]) == 2
    assert bureau.get(LIST, {"date_from": day + datetime.timedelta(days=1)}).context["orders"] == []
    wrong = bureau.get(LIST, {"date_from": day, "date_to": day - datetime.timedelta(days=1)})
    assert "结束日期不能早于开始日期。" in text_of(wrong)
    client.logout()
    community = client_for(client, world["community"]).get(LIST)
    assert [o.pk for o in community.context["orders"]] == [mine.pk]  # 文治街道 is not theirs


def test_list_flagged_only(client, world):
    order = place(world)
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="suspend",
                                 effective_date=days_ago(0))  # flags the open order
    place(world, start=tomorrow_at(11), elder=make_elder(world["bureau"], name="钱七", seq=7))
    c = client_for(client, world["provider"])
    resp = c.get(LIST, {"flagged": "on"})
    assert [o.pk for o in resp.context["orders"]] == [order.pk]
    assert "老人已故或已迁出" in text_of(resp)


def test_caregivers_are_sent_to_their_phone_app(client, world):
    resp = client_for(client, world["caregiver"]).get(LIST)
    assert resp.status_code == 302 and resp.url == "/services/m/"


def test_list_queries_are_bounded(client, world, django_assert_max_num_queries):
    c = client_for(client, world["bureau"])
    for hour in range(8, 10):
        place(world, start=tomorrow_at(hour))
    c.get(LIST)  # warm up (session, content types)
    with django_assert_max_num_queries(9):
        small = c.get(LIST)
    for hour in range(10, 18):
        place(world, start=tomorrow_at(hour), item="cleaning")
    with django_assert_max_num_queries(9):
        big = c.get(LIST)
    assert len(small.context["orders"]) == 2 and len(big.context["orders"]) == 10


def test_list_is_paginated(client, world):
    for i in range(26):
        place(world, start=tomorrow_at(6) + datetime.timedelta(minutes=30 * i))
    c = client_for(client, world["community"])
    assert len(c.get(LIST).context["orders"]) == 25
    assert len(c.get(LIST, {"page": 2}).context["orders"]) == 1


# ------------------------------------------------------------------------------------------- detail


def detail(client, user, order):
    return client_for(client, user).get(reverse("services:order_detail", args=[order.pk]))


def act(client, user, order, action, **data):
    client.force_login(user)
    return client.post(reverse("services:order_action", args=[order.pk, action]), data)


@pytest.mark.parametrize("who", ["other_family", "other_street", "other_provider", "other_bureau"])
def test_detail_outside_scope_is_404(client, world, who):
    order = place(world)
    world["other_family"] = make_user("family2", Role.FAMILY)
    world["other_provider"] = make_user("provider2", Role.PROVIDER, organisation=make_org("安康护理"))
    assert detail(client, world[who], order).status_code == 404
    assert act(client, world[who], order, "cancel", reason="不要了").status_code == 404
    assert Order.objects.get().status == OrderStatus.REQUESTED


def test_detail_shows_the_money_timeline_and_masked_id(client, world):
    order = place(world, note="需要助浴椅")
    resp = detail(client, world["family"], order)
    page = text_of(resp)
    assert resp.status_code == 200
    assert world["elder"].id_number_masked in page
    assert 'data-testid="money-total">33.33<' in page and 'data-testid="money-subsidy">30.00<' in page
    assert 'data-testid="money-copay">3.33<' in page
    assert "社区代下单（电话）" in page and "community" in page
    assert resp.context["flags"] is None  # flags are for staff and the provider


@pytest.mark.parametrize(("who", "visible"), [
    # The provider may cancel a new order too (services.cancel_order), so its page offers it.
    ("provider", {"accept", "decline", "cancel"}), ("family", {"cancel"}), ("community", {"cancel"}),
    ("street", {"cancel"}),
    ("bureau", set()),
])
def test_buttons_for_a_new_order(client, world, who, visible):
    order = place(world)
    resp = detail(client, world[who], order)
    assert resp.context["actions"] == visible
    for action in ("accept", "decline", "assign", "cancel", "confirm", "rate", "no_show"):
        assert (f'data-testid="action-{action}"' in text_of(resp)) == (action in visible)


def test_provider_accepts_and_assigns_a_skilled_caregiver(client, world):
    order = place(world)
    unskilled = make_caregiver(world, account=None, skills="助洁", seq=8, name="王保洁")
    resp = act(client, world["provider"], order, "accept")
    assert resp.status_code == 302
    page = detail(client, world["provider"], order)
    options = [s.caregiver for s in page.context["suggestions"]]
    assert options == [world["carer"], unskilled]  # the one who can bathe first
    assert "有“助浴”技能" in text_of(page) and "无“助浴”技能" in text_of(page)
    refused = act(client, world["provider"], order, "assign", caregiver=unskilled.pk)
    assert refused.status_code == 422
    assert "王保洁 不具备“助浴”技能，不能承接上门助浴。" in text_of(refused)
    assert Order.objects.get().status == OrderStatus.ACCEPTED
    assert act(client, world["provider"], order, "assign", caregiver=world["carer"].pk).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.caregiver) == (OrderStatus.ASSIGNED, world["carer"])
    assert "已派单。" in messages_of(client.get(reverse("services:order_detail", args=[order.pk])))


def test_the_caregiver_select_says_who_is_on_shift(client, world):
    order = place(world)
    services.accept_order(actor=world["provider"], order=order)
    other = make_caregiver(world, account=None, skills="助浴", seq=8, name="王护理")
    day = tomorrow_at(9).date()
    services.set_shift(actor=world["provider"], caregiver=other, day=day, start="08:00", end="12:00")
    page = detail(client, world["provider"], order)
    rows = {s.caregiver.name: s.on_shift for s in page.context["suggestions"]}
    assert rows == {"王护理": True, "李护理": False}
    assert [s.caregiver.name for s in page.context["suggestions"]] == ["王护理", "李护理"]
    assert "王护理 · 有“助浴”技能 · 在班" in text_of(page) and "李护理 · 有“助浴”技能 · 不在班" in text_of(page)


def test_decline_needs_a_reason(client, world):
    order = place(world)
    resp = act(client, world["provider"], order, "decline", reason="")
    assert resp.status_code == 422 and "请填写原因。" in text_of(resp)
    assert Order.objects.get().status == OrderStatus.REQUESTED
    act(client, world["provider"], order, "decline", reason="当天人手不足")
    order.refresh_from_db()
    assert (order.status, order.end_reason) == (OrderStatus.DECLINED, "当天人手不足")


def test_family_cannot_accept_and_sees_why(client, world):
    order = place(world)
    resp = act(client, world["family"], order, "accept")
    assert resp.status_code == 403
    assert "您无权对该订单执行此操作。" in text_of(resp)
    assert Order.objects.get().status == OrderStatus.REQUESTED


@pytest.mark.parametrize(("who", "action", "data", "stage"), [
    ("community", "accept", {}, "requested"),
    ("family", "decline", {"reason": "不要"}, "requested"),
    ("family", "assign", {}, "accepted"),
    ("bureau", "cancel", {"reason": "不要"}, "requested"),   # only who placed it, the family, provider, community
    ("provider", "confirm", {}, "checked_out"),
    ("provider", "rate", {"rating": "5"}, "confirmed"),
    ("family", "no_show", {"reason": "无人"}, "assigned"),
])
def test_wrong_role_is_refused_and_nothing_changes(client, world, who, action, data, stage):
    if stage in ("checked_out", "confirmed"):
        order = served(world)
        if stage == "confirmed":
            services.confirm_order(actor=world["family"], order=order)
    else:
        order = place(world)
        if stage in ("accepted", "assigned"):
            services.accept_order(actor=world["provider"], order=order)
        if stage == "assigned":
            services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    if action == "assign":
        data = {"caregiver": world["carer"].pk}
    assert action not in detail(client, world[who], order).context["actions"]
    resp = act(client, world[who], order, action, **data)
    assert resp.status_code == 403
    assert resp.context["action_errors"] in (["您无权对该订单执行此操作。"], ["只有老人本人或家属可以评价。"])
    assert Order.objects.get().status == stage


def test_unknown_action_is_404(client, world):
    order = place(world)
    assert act(client, world["provider"], order, "explode").status_code == 404


def test_family_cancels_with_a_reason(client, world):
    order = place(world)
    assert act(client, world["family"], order, "cancel", reason="").status_code == 422
    assert act(client, world["family"], order, "cancel", reason="老人住院").status_code == 302
    order.refresh_from_db()
    assert (order.status, order.end_reason) == (OrderStatus.CANCELLED, "老人住院")
    assert "下单人：老人住院" in text_of(detail(client, world["family"], order))


def test_provider_records_a_no_show(client, world):
    order = place(world)
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    assert "no_show" in detail(client, world["provider"], order).context["actions"]
    assert act(client, world["provider"], order, "no_show", reason="敲门无人应答").status_code == 302
    assert Order.objects.get().status == OrderStatus.NO_SHOW


def served(world):
    """An order checked in and out by the caregiver (started a few minutes from now)."""
    order = place(world, start=soon())
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    now = timezone.now()
    services.check_in(actor=world["caregiver"], order=order, at=now - datetime.timedelta(minutes=61),
                      latitude="31.801000", longitude="106.600000")
    services.check_out(actor=world["caregiver"], order=order, at=now - datetime.timedelta(minutes=1),
                       notes="洗澡顺利")
    return Order.objects.get(pk=order.pk)


def test_family_confirms_then_rates(client, world):
    order = served(world)
    page = detail(client, world["family"], order)
    assert page.context["actions"] == {"confirm"}
    assert page.context["family_step"] == "confirm"
    assert page.context["distance"] == 111  # 0.001° of latitude
    assert "洗澡顺利" in text_of(page) and "服务 60 分钟" in text_of(page)
    assert act(client, world["family"], order, "confirm").status_code == 302
    page = detail(client, world["family"], order)
    assert page.context["actions"] == {"rate"} and page.context["family_step"] == "rate"
    bad = act(client, world["family"], order, "rate", rating="9")
    assert bad.status_code == 422 and "评分须为 1 至 5 的整数。" in text_of(bad)
    assert act(client, world["family"], order, "rate", rating="4", comment="很细心").status_code == 302
    order.refresh_from_db()
    assert (order.status, order.rating, order.rating_comment) == (OrderStatus.RATED, 4, "很细心")
    assert "★★★★☆" in text_of(detail(client, world["family"], order))


def test_community_may_confirm_but_not_rate(client, world):
    order = served(world)
    assert detail(client, world["community"], order).context["actions"] == {"confirm"}
    act(client, world["community"], order, "confirm")
    assert detail(client, world["community"], order).context["actions"] == set()
    resp = act(client, world["community"], order, "rate", rating="5")
    assert resp.status_code == 403 and "只有老人本人或家属可以评价。" in text_of(resp)
    assert Order.objects.get().status == OrderStatus.CONFIRMED


# ----------------------------------------------------------------------------------- home, navigation


def test_family_home_panel_shows_what_needs_them(client, world):
    done = served(world)
    upcoming = place(world, actor="family", channel="portal", start=tomorrow_at(10))
    resp = client_for(client, world["family"]).get("/")
    page = text_of(resp)
    assert 'data-testid="book-service"' in page and "为家人预约服务" in page
    panel = next(p for p in resp.context["panels"] if p["template"] == "services/orders/_home_panel.html")
    assert [o.pk for o in panel["waiting"]] == [done.pk] and panel["waiting"][0].family_step == "confirm"
    assert [o.pk for o in panel["upcoming"]] == [upcoming.pk]
    assert "待确认" in page
    nav = [i["label"] for i in flatten(resp.context["nav_items"])]
    assert "服务订单" in nav and "预约服务" in nav


def test_staff_have_no_family_panel_but_the_orders_entry(client, world):
    resp = client_for(client, world["community"]).get("/")
    assert all(p["template"] != "services/orders/_home_panel.html" for p in resp.context["panels"])
    nav = [i["label"] for i in flatten(resp.context["nav_items"])]
    assert "服务订单" in nav and "预约服务" not in nav


def test_the_quote_draws_on_the_monthly_allowance_first(client, world):
    from yiyang.services.models import AllowanceEntry, AllowanceKind

    elder = world["elder"]
    AllowanceEntry.objects.create(elder=elder, month=tomorrow_at(9).date().replace(day=1), amount=D("2.00"),
                                  kind=AllowanceKind.CREDIT, county_code=elder.county_code,
                                  region_code=elder.residence_region_id)
    c = client_for(client, world["family"])
    page = text_of(c.get(QUOTE, form_data(world)))
    # 33.33: 30.00 subsidy, 3.33 left → 2.00 from the allowance, 1.33 paid.
    assert 'data-testid="quote-allowance">2.00<' in page and 'data-testid="quote-copay">1.33<' in page
    assert "其余部分先从本月服务补贴余额中抵扣 2.00 元。" in page
    c.post(NEW, form_data(world))
    assert split(Order.objects.get())[-2:] == (D("2.00"), D("1.33"))


def test_detail_links_the_check_out_photo(client, world):
    order = served(world)
    assert 'data-testid="photo"' not in text_of(detail(client, world["family"], order))
    Order.objects.filter(pk=order.pk).update(check_out_photo="services/photos/2026/11/bath.jpg")
    page = text_of(detail(client, world["family"], order))
    assert f'href="/api/v1/services/orders/{order.pk}/photo"' in page
