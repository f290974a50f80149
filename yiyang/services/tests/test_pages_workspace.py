"""The provider workspace and the catalogue pages, through the real services: accept / decline / assign inline
(htmx), the caregivers' suggestion order (skill, then free, then continuity) hand-checked, the board's query
count, shifts, scope (404 for another provider's orders), prices and offers with their errors."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from yiyang.core.models import Role, User
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry.tests.factories import make_elder
from yiyang.services import selectors, services
from yiyang.services.models import CaregiverShift, Order, OrderStatus, ProviderOffer, ServicePrice

from .factories import OTHER_STREET, STREET, days_ago, make_caregiver, tomorrow_at

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
WORKSPACE = reverse("services:workspace")


@pytest.fixture
def elder_fields():
    return {"address": "登科街道 1 号"}  # 王秀英, born 1940: 80+


@pytest.fixture
def world(home):
    return home  # no caregiver: the tests make their own


def place(w, *, at=None, item="bath", elder=None):
    return services.place_order(actor=w["community"], elder=elder or w["elder"], provider=w["org"], item=w[item],
                                scheduled_start=at or tomorrow_at(9), channel="phone", allowance_available="0")[0]


def carer(w, name, seq, skills="助浴", account=None):
    return make_caregiver(w, account=account, skills=skills, seq=seq, name=name)


def body(resp) -> str:
    return resp.content.decode()


# --------------------------------------------------------------------------------------- accept / decline

def test_accept_and_decline_inline(client, world):
    w = world
    first, second = place(w, at=tomorrow_at(9)), place(w, at=tomorrow_at(14))
    client.force_login(w["provider"])
    page = body(client.get(WORKSPACE))
    assert f'data-testid="incoming-{first.pk}"' in page and f'data-testid="incoming-{second.pk}"' in page
    assert "上门助浴" in page and "王秀英" in page

    resp = client.post(reverse("services:workspace_accept", args=[first.pk]), **HX)
    assert resp.status_code == 200
    assert 'data-testid="row-ok"' in body(resp) and "已接单" in body(resp)
    assert Order.objects.get(pk=first.pk).status == OrderStatus.ACCEPTED

    # A decline without a reason is refused in place; nothing changes.
    resp = client.post(reverse("services:workspace_decline", args=[second.pk]), {"reason": "  "}, **HX)
    assert resp.status_code == 200 and "请填写原因。" in body(resp) and 'data-testid="row-error"' in body(resp)
    assert Order.objects.get(pk=second.pk).status == OrderStatus.REQUESTED
    resp = client.post(reverse("services:workspace_decline", args=[second.pk]), {"reason": "当天人手不足"}, **HX)
    declined = Order.objects.get(pk=second.pk)
    assert (declined.status, declined.end_reason) == (OrderStatus.DECLINED, "当天人手不足")
    assert "已拒单：当天人手不足" in body(resp)

    # Accepting it twice: the service's message, in the row, and the order stays as it is.
    resp = client.post(reverse("services:workspace_accept", args=[first.pk]), **HX)
    assert "订单当前为“已接单”，不能接单。" in body(resp)
    # Without htmx the answer is a redirect back to the tab with the message.
    resp = client.post(reverse("services:workspace_accept", args=[first.pk]))
    assert resp.status_code == 302 and "tab=incoming" in resp.url
    assert "订单当前为“已接单”，不能接单。" in body(client.get(resp.url))
    assert "没有待接的订单。" in body(client.get(WORKSPACE))


def test_assign_through_the_workspace(client, world):
    w = world
    bather = carer(w, "李护理", 7, account="caregiver")
    cleaner = carer(w, "周保洁", 8, skills="助洁")
    order = place(w)
    services.accept_order(actor=w["provider"], order=order)
    client.force_login(w["provider"])
    page = body(client.get(WORKSPACE, {"tab": "dispatch"}))
    assert f'data-testid="dispatch-{order.pk}"' in page and 'data-testid="route-optimise"' in page
    assert 'href="/routing/"' in page.split('data-testid="route-optimise"')[0].rsplit("<a", 1)[1]

    # Someone without the 助浴 skill: refused in place, still accepted.
    resp = client.post(reverse("services:workspace_assign", args=[order.pk]), {"caregiver": cleaner.pk}, **HX)
    assert "周保洁 不具备“助浴”技能，不能承接上门助浴。" in body(resp)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED
    # Someone of another organisation is not offered and not accepted.
    outsider = make_caregiver(w, account=None, seq=9, name="外机构", organisation=make_org("福寿", region=STREET))
    resp = client.post(reverse("services:workspace_assign", args=[order.pk]), {"caregiver": outsider.pk}, **HX)
    assert "请选择本机构的护理员。" in body(resp)

    resp = client.post(reverse("services:workspace_assign", args=[order.pk]), {"caregiver": bather.pk}, **HX)
    assert "已派给 李护理。" in body(resp)
    assigned = Order.objects.get(pk=order.pk)
    assert (assigned.status, assigned.caregiver_id) == (OrderStatus.ASSIGNED, bather.pk)


# -------------------------------------------------------------------------------------------- suggestions

def _names(suggestions) -> list[str]:
    return [s.caregiver.name for s in suggestions]


def test_suggestions_skill_first_then_free_then_continuity(client, world):
    """Bath tomorrow 9:00–10:00 for 王秀英. Hand-checked ranking:

        name  skill  overlapping visits  served her before  → place
        丁    助浴    0                   1                  1 (skilled, free, continuity)
        丙    助浴    0                   0                  2 (skilled, free)
        乙    助浴    1 (9:30 bath)       2                  3 (skilled but busy: free beats continuity)
        甲    助洁    0                   3                  4 (no skill: last whatever else)
    """
    w = world
    jia = carer(w, "甲", 11, skills="助洁")
    yi = carer(w, "乙", 12)
    bing = carer(w, "丙", 13)
    ding = carer(w, "丁", 14)
    order = place(w, at=tomorrow_at(9))
    services.accept_order(actor=w["provider"], order=order)
    # Past visits to her (continuity), put in place directly: 甲 three, 乙 two, 丁 one.
    for person, n in ((jia, 3), (yi, 2), (ding, 1)):
        for _ in range(n):
            past = place(w, at=tomorrow_at(20))
            Order.objects.filter(pk=past.pk).update(status=OrderStatus.CONFIRMED, caregiver=person,
                                                    scheduled_start=timezone.now() - datetime.timedelta(days=3))
    # 乙 has another bath tomorrow at 9:30, overlapping 9:00–10:00 (someone else's home).
    other = make_elder(w["bureau"], name="赵大爷", seq=5, male=True)
    busy = place(w, at=tomorrow_at(9) + datetime.timedelta(minutes=30), elder=other)
    services.accept_order(actor=w["provider"], order=busy)
    services.assign_order(actor=w["provider"], order=busy, caregiver=yi)

    loaded = Order.objects.select_related("item").get(pk=order.pk)
    with CaptureQueriesContext(connection) as ctx:
        ranked = selectors.caregiver_suggestions(w["org"].pk, [loaded])
    assert len(ctx.captured_queries) == 3, [q["sql"][:90] for q in ctx.captured_queries]
    rows = ranked[order.pk]
    assert _names(rows) == ["丁", "丙", "乙", "甲"]
    facts = {s.caregiver.name: (s.has_skill, s.overlaps, s.served_before, s.on_shift) for s in rows}
    assert facts == {"丁": (True, 0, 1, None), "丙": (True, 0, 0, None), "乙": (True, 1, 2, None),
                     "甲": (False, 0, 3, None)}

    # The page lists them in that order, with the reasons.
    client.force_login(w["provider"])
    page = body(client.get(WORKSPACE, {"tab": "dispatch"}))
    row = page.split(f'data-testid="dispatch-{order.pk}"')[1].split("</tr>")[0]
    positions = [row.index(f">{name}（") for name in ("丁", "丙", "乙", "甲")]
    assert positions == sorted(positions)
    assert "服务过该老人 1 次" in row and "时间重叠 1 单" in row and "缺少技能" in row

    # Shifts: once the provider keeps shifts that day, 丙 (on duty 8:00–12:00) comes before 丁 (no shift).
    day = tomorrow_at(9).date()
    services.set_shift(actor=w["provider"], caregiver=bing, day=day, start="08:00", end="12:00")
    page = body(client.get(WORKSPACE, {"tab": "dispatch"}))
    row = page.split(f'data-testid="dispatch-{order.pk}"')[1].split("</tr>")[0]
    assert row.index(">丙（") < row.index(">丁（") < row.index(">乙（") < row.index(">甲（")
    assert "丙（具备技能，在班" in row and "丁（具备技能，不在班" in row


def test_dispatch_tab_queries_do_not_grow_with_orders(client, world):
    w = world
    for i in range(3):
        carer(w, f"护理员{i}", 20 + i)

    def dispatch_queries(n):
        for h in range(n):
            services.accept_order(actor=w["provider"], order=place(w, at=tomorrow_at(8 + h)))
        client.force_login(w["provider"])
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(WORKSPACE, {"tab": "dispatch"}).status_code == 200
        return len(ctx.captured_queries)

    assert dispatch_queries(2) == dispatch_queries(4)


# ------------------------------------------------------------------------------------------------- board

def _today_at(hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(hour, minute)))


def _visit_today(w, person, *, hour, status, minute=0):
    order = place(w)
    at = _today_at(hour, minute)
    Order.objects.filter(pk=order.pk).update(scheduled_start=at, status=status, caregiver=person,
                                             check_in_at=at if status == "checked_in" else None)
    return order


def test_board_columns_states_and_bounded_queries(client, world):
    w = world
    li, zhou = carer(w, "李护理", 7), carer(w, "周护理", 8)
    late = _visit_today(w, li, hour=0, status=OrderStatus.ASSIGNED)          # 0:00 passed, not checked in
    inside = _visit_today(w, zhou, hour=0, status=OrderStatus.CHECKED_IN)
    client.force_login(w["provider"])

    def board_queries():
        with CaptureQueriesContext(connection) as ctx:
            resp = client.get(WORKSPACE, {"tab": "board"})
        assert resp.status_code == 200
        return len(ctx.captured_queries), body(resp)

    two, page = board_queries()
    assert f'data-testid="visit-{late.pk}" data-state="late"' in page
    assert f'data-testid="visit-{inside.pk}" data-state="checked_in"' in page
    column = page.split(f'data-testid="board-column-{li.pk}"')[1].split('class="sv-column')[0]
    assert f"visit-{late.pk}" in column and f"visit-{inside.pk}" not in column
    for minute in (57, 58, 59):  # the last minutes of today: assigned, not late yet
        _visit_today(w, li, hour=23, minute=minute, status=OrderStatus.ASSIGNED)
    unassigned = place(w)
    Order.objects.filter(pk=unassigned.pk).update(scheduled_start=_today_at(23, 59), status=OrderStatus.ACCEPTED)
    six, page = board_queries()
    assert two == six
    unassigned_column = page.split('data-testid="board-unassigned"')[1].split('class="sv-column')[0]
    assert f"visit-{unassigned.pk}" in unassigned_column
    # In time order within the column: the 0:00 visit before the 23:00 ones.
    column = page.split(f'data-testid="board-column-{li.pk}"')[1].split('class="sv-column')[0]
    assert column.index(f"visit-{late.pk}") < column.index('data-state="assigned"')


# ------------------------------------------------------------------------------------------------ shifts

def test_shifts_week_grid_add_and_remove(client, world):
    w = world
    li = carer(w, "李护理", 7)
    client.force_login(w["provider"])
    day = timezone.localdate() + datetime.timedelta(days=1)
    resp = client.post(reverse("services:workspace_shift_add"), {"caregiver": li.pk, "day": day.isoformat(),
                                                                 "start": "08:00", "end": "12:00"})
    assert resp.status_code == 302
    shift = CaregiverShift.objects.get(caregiver=li, day=day)
    page = body(client.get(resp.url))
    assert f'data-testid="shift-{shift.pk}"' in page and "08:00–12:00" in page
    # Overlapping: the service's message in place, nothing written.
    resp = client.post(reverse("services:workspace_shift_add"), {"caregiver": li.pk, "day": day.isoformat(),
                                                                 "start": "11:00", "end": "13:00"})
    assert resp.status_code == 422 and "与 李护理 当天 08:00–12:00 的班次重叠。" in body(resp)
    resp = client.post(reverse("services:workspace_shift_add"), {"caregiver": li.pk, "day": day.isoformat(),
                                                                 "start": "14:00", "end": "13:00"})
    assert resp.status_code == 422 and "下班时间须晚于上班时间。" in body(resp)
    assert CaregiverShift.objects.filter(caregiver=li).count() == 1
    # Another provider cannot remove it (404); the provider can.
    other = make_user("other_provider", Role.PROVIDER, organisation=make_org("福寿", region=STREET))
    client.force_login(other)
    assert client.post(reverse("services:workspace_shift_remove", args=[shift.pk])).status_code == 404
    client.force_login(w["provider"])
    assert client.post(reverse("services:workspace_shift_remove", args=[shift.pk])).status_code == 302
    assert not CaregiverShift.objects.filter(pk=shift.pk).exists()


# ------------------------------------------------------------------------------------------------- scope

def test_another_provider_sees_none_of_our_orders(client, world):
    w = world
    order = place(w)
    other = make_user("other_provider", Role.PROVIDER, organisation=make_org("福寿", region=STREET))
    client.force_login(other)
    assert "王秀英" not in body(client.get(WORKSPACE))
    for name in ("workspace_accept", "workspace_decline", "workspace_assign"):
        assert client.post(reverse(f"services:{name}", args=[order.pk]), {"reason": "x"}, **HX).status_code == 404
    # ?provider= is ignored for a provider: always its own.
    assert "王秀英" not in body(client.get(WORKSPACE, {"provider": w["org"].pk}))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REQUESTED
    # Caregivers, families and community staff have no workspace.
    for who in ("caregiver", "family", "community"):
        client.force_login(w[who])
        assert client.get(WORKSPACE).status_code == 404, who


def test_bureau_and_operator_views(client, world):
    w = world
    order = place(w)
    client.force_login(w["bureau"])
    picker = body(client.get(WORKSPACE))
    assert f"?provider={w['org'].pk}" in picker
    page = body(client.get(WORKSPACE, {"provider": w["org"].pk}))
    assert "王秀英" in page and 'data-testid="read-only"' in page and f"accept-{order.pk}" not in page
    assert client.post(reverse("services:workspace_accept", args=[order.pk]), **HX).status_code == 404
    client.force_login(w["other_bureau"])
    assert client.get(WORKSPACE, {"provider": w["org"].pk}).status_code == 404
    root = User.objects.create_superuser("root", password="x")
    client.force_login(root)
    page = body(client.get(WORKSPACE, {"provider": w["org"].pk}))
    assert f"accept-{order.pk}" in page
    assert client.post(reverse("services:workspace_accept", args=[order.pk]), **HX).status_code == 200
    assert Order.objects.get(pk=order.pk).status == OrderStatus.ACCEPTED


def test_flags_tab_lists_flagged_orders(client, world):
    w = world
    order = place(w)
    services.accept_order(actor=w["provider"], order=order)
    order.flags.create(kind="overlap", detail="护理员尚未从订单 1 签退")
    client.force_login(w["provider"])
    page = body(client.get(WORKSPACE, {"tab": "flags"}))
    assert f'data-testid="flagged-{order.pk}"' in page and "同一护理员服务时间重叠" in page
    assert 'data-testid="tab-flags">异常<span class="count hot">1</span>' in page


# --------------------------------------------------------------------------------------------- catalogue

CATALOGUE = reverse("services:catalogue")


def test_catalogue_is_public_to_every_signed_in_role(client, world):
    w = world
    for who in ("family", "community", "provider", "caregiver", "bureau"):
        client.force_login(w[who])
        page = body(client.get(CATALOGUE))
        assert 'data-testid="market-bath">80.00<' in page and 'data-testid="inclusive-bath"><strong>40.00<' in page
        assert "特困：按普惠价，政府全额补贴，本人无需付费。" in page, who
        assert "低保：按普惠价，政府补贴 90%，其余先从每月服务补贴余额抵扣，不足部分本人自付。" in page
        assert "80 周岁及以上：按普惠价，先从每月服务补贴余额抵扣" in page
        assert "其他老人：按市场价自付。" in page
        assert ('data-testid="set-price"' in page) == (who == "bureau")
        assert ('data-testid="offer-form"' in page) == (who == "provider")
    client.logout()
    assert client.get(CATALOGUE).status_code == 302


def test_bureau_sets_a_price_version(client, world):
    w = world
    client.force_login(w["bureau"])
    start = timezone.localdate() + datetime.timedelta(days=1)
    resp = client.post(reverse("services:catalogue_set_price"), {
        "item": w["bath"].pk, "valid_from": start.isoformat(), "market_price": "80.00", "inclusive_price": "90.00"})
    assert resp.status_code == 422 and "普惠价不能高于市场价。" in body(resp)
    assert ServicePrice.objects.filter(item=w["bath"]).count() == 1
    resp = client.post(reverse("services:catalogue_set_price"), {
        "item": w["bath"].pk, "valid_from": start.isoformat(), "market_price": "84.00", "inclusive_price": "42.00",
        "note": "2027 年调价"})
    assert resp.status_code == 302
    new = ServicePrice.objects.get(item=w["bath"], valid_from=start)
    assert (str(new.market_price), str(new.inclusive_price)) == ("84.00", "42.00")
    # Only the bureau may: others get 404 and nothing is written.
    for who in ("provider", "community", "family"):
        client.force_login(w[who])
        assert client.post(reverse("services:catalogue_set_price"), {"item": w["bath"].pk}).status_code == 404


def test_provider_declares_an_offer_under_the_ceiling(client, world):
    w = world
    client.force_login(w["provider"])
    page = body(client.get(CATALOGUE))
    assert "33.33" in page and "登科街道" in page
    # Streets of the county only: 巴州区's are not offered.
    assert 'value="511902' not in page.split('data-testid="offer-form"')[1]
    # "调整" starts the form from the offer: its item, price and streets.
    current = w["offers"]["bath"]
    form = body(client.get(CATALOGUE, {"offer": current.pk})).split('data-testid="offer-form"')[1]
    assert 'name="price" value="33.33"' in form
    checked = [chunk.split('value="')[1].split('"')[0] for chunk in form.split("<input")[1:]
               if 'name="streets"' in chunk and " checked" in chunk.split(">")[0]]
    assert checked == [STREET, OTHER_STREET]
    start = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    resp = client.post(reverse("services:catalogue_declare_offer"), {
        "item": w["bath"].pk, "streets": [STREET], "price": "45.00", "valid_from": start})
    assert resp.status_code == 422
    assert 'data-testid="offer-price-error"' in body(resp)
    assert "价格 45.00 元高于登科街道适用的普惠价上限 40.00 元" in body(resp)
    assert ProviderOffer.objects.filter(provider=w["org"], item=w["bath"]).count() == 1
    resp = client.post(reverse("services:catalogue_declare_offer"), {
        "item": w["bath"].pk, "streets": ["511902001"], "price": "30.00", "valid_from": start})
    assert resp.status_code == 422 and ProviderOffer.objects.filter(provider=w["org"], item=w["bath"]).count() == 1
    resp = client.post(reverse("services:catalogue_declare_offer"), {
        "item": w["bath"].pk, "streets": [STREET], "price": "36.00", "valid_from": start})
    assert resp.status_code == 302
    offer = ProviderOffer.objects.get(provider=w["org"], item=w["bath"], valid_from=start)
    assert str(offer.price) == "36.00" and list(offer.streets.values_list("code", flat=True)) == [STREET]
    assert ProviderOffer.objects.get(provider=w["org"], item=w["bath"], valid_from=days_ago(30)).valid_until \
        == timezone.localdate()
