"""The services API through the real services: the catalogue and offers, the quote, the whole life cycle of an
order (family places a bath → provider accepts and assigns → caregiver checks in and out → family confirms and
rates), offline replay by client_key, validation (422 with field messages, nothing written), forbidden
transitions (409) and scope (404 outside it)."""

import datetime
import json
from decimal import Decimal as D

import pytest
from django.utils import timezone

from yiyang.core.models import AuditEvent, Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry.tests.factories import make_elder
from yiyang.services.models import Order, OrderEvent, OrderStatus

from .factories import booked_for, make_caregiver, soon, tomorrow_at

pytestmark = pytest.mark.django_db
BASE = "/api/v1/services/"
HOME = (D("31.800000"), D("106.600000"))


def post(client, url, data=None, **headers):
    return client.post(BASE + url, data=json.dumps(data or {}), content_type="application/json", **headers)


def get(client, url, **params):
    return client.get(BASE + url, params)


def ago(minutes):
    return (timezone.now() - datetime.timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def elder_fields():
    """The world (conftest): the demo roles, 恩阳区's catalogue (bath 80.00/40.00, 颐康 offers it at 33.33), 王秀英
    (80+, in 登科寺社区) linked to `family`, and 李护理, the `caregiver` account's practitioner."""
    return {"latitude": HOME[0], "longitude": HOME[1], "address": "登科街道 12 号"}


def order_body(w, **changes):
    body = {"elder": w["elder"].pk, "provider": w["org"].pk, "item": "bath",
            "scheduled_start": soon(5).isoformat(), "quantity": "1"}
    return {**body, **changes}


def as_user(client, user):
    client.force_login(user)
    return client


def placed(client, w, who="family", **changes):
    resp = post(as_user(client, w[who]), "orders", order_body(w, **changes))
    assert resp.status_code == 201, resp.content
    return resp.json()


def assigned(client, w, **changes):
    order = placed(client, w, **changes)
    as_user(client, w["provider"])
    assert post(client, f"orders/{order['id']}/accept").status_code == 200
    resp = post(client, f"orders/{order['id']}/assign", {"caregiver": w["carer"].pk})
    assert resp.status_code == 200, resp.content
    return resp.json()


def snapshot():
    """Everything a refused call must leave alone (logging in is audited too, so only the services' records)."""
    return (list(Order.objects.order_by("pk").values()), OrderEvent.objects.count(),
            AuditEvent.objects.filter(object_type__startswith="services.").count())


# ---------------------------------------------------------------------------------------- catalogue, offers


def test_catalogue_has_the_prices_in_force_where_the_caller_works(client, world):
    resp = get(as_user(client, world["community"]), "catalogue")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["region"]["code"] == "511903001002" and body["date"] == timezone.localdate().isoformat()
    bath = next(i for i in body["items"] if i["code"] == "bath")
    assert (bath["category"], bath["unit"], bath["standard_minutes"], bath["required_skill"]) == (
        "bath", "visit", 60, "助浴")
    assert bath["price"]["jurisdiction"]["code"] == "511903"
    assert (bath["price"]["market_price"], bath["price"]["inclusive_price"]) == ("80.00", "40.00")
    # Elsewhere no price is published; a category narrows the list; an unknown region is a 422.
    other = get(client, "catalogue", region="511902").json()
    assert all(i["price"] is None for i in other["items"])
    assert [i["code"] for i in get(client, "catalogue", category="cleaning").json()["items"]] == ["cleaning"]
    resp = get(client, "catalogue", region="999999")
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "region"


def test_offers_by_item_and_street(client, world):
    resp = get(as_user(client, world["street"]), "offers", item="bath", street="511903001002")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["count"] == 1
    (offer,) = body["items"]
    assert offer["provider"] == {"id": world["org"].pk, "name": "颐康"} and offer["price"] == "33.33"
    assert [s["code"] for s in offer["streets"]] == ["511903001", "511903002"]
    assert get(client, "offers", street="511903003").json()["count"] == 0
    # A provider sees its own offers only.
    other = make_user("other_provider", Role.PROVIDER, organisation=make_org("别家", region="511903003"))
    assert get(as_user(client, other), "offers").json()["count"] == 0
    assert get(as_user(client, world["provider"]), "offers").json()["count"] == 2


# ------------------------------------------------------------------------------------------ quote, placing


def test_the_quote_shows_the_split_and_writes_nothing(client, world):
    before = snapshot()
    resp = post(as_user(client, world["family"]), "quote", order_body(world, scheduled_start=tomorrow_at(9)
                                                                       .isoformat()))
    assert resp.status_code == 200, resp.content
    q = resp.json()
    assert (q["unit_price"], q["total"], q["share"], q["subsidy"], q["allowance"], q["copay"]) == (
        "33.33", "33.33", "0.00", "0.00", "0.00", "33.33")
    assert q["basis"] == "inclusive" and q["reasons"] == ["80 周岁及以上"] and q["quantity"] == "1.00"
    assert q["explanation"].startswith("80 周岁及以上 → 普惠价 33.33 元 × 1 = 33.33 元；政府补贴 0% 即 0.00 元，")
    assert q["explanation"].endswith("本人自付 33.33 元")
    assert datetime.datetime.fromisoformat(q["scheduled_start"]) == tomorrow_at(9)
    assert snapshot() == before
    # What was shown is what the order keeps.
    order = placed(client, world, scheduled_start=tomorrow_at(9).isoformat())
    assert order["price_explanation"] == q["explanation"]
    assert [order[k] for k in ("unit_price", "total", "share", "subsidy", "allowance", "copay")] == [
        q[k] for k in ("unit_price", "total", "share", "subsidy", "allowance", "copay")]


def test_the_whole_life_cycle(client, world):
    order = placed(client, world, note="需要助浴椅", client_key="phone-1")
    assert (order["status"], order["channel"], order["note"]) == ("requested", "portal", "需要助浴椅")
    assert (order["total"], order["subsidy"], order["copay"]) == ("33.33", "0.00", "33.33")
    oid = order["id"]

    as_user(client, world["provider"])
    assert get(client, "orders", status="requested").json()["items"][0]["id"] == oid
    resp = post(client, f"orders/{oid}/accept", {"note": "已安排"})
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    resp = post(client, f"orders/{oid}/assign", {"caregiver": world["carer"].pk})
    assert resp.status_code == 200, resp.content
    assert resp.json()["caregiver"] == {"id": world["carer"].pk, "name": "李护理"}

    as_user(client, world["caregiver"])
    # The visit was booked for an hour ago.
    booked_for(Order.objects.get(pk=oid), timezone.now() - datetime.timedelta(minutes=65))
    (visit,) = get(client, "orders").json()["items"]
    assert visit["id"] == oid and visit["status"] == "assigned"
    assert get(client, f"orders/{oid}").json()["address"] == "登科街道 12 号"
    resp = post(client, f"orders/{oid}/check-in", {"at": ago(65), "latitude": "31.8005", "longitude": 106.6,
                                                   "client_key": "in-1"})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["check_in_latitude"]) == ("checked_in", "31.800500")
    resp = post(client, f"orders/{oid}/check-out", {"at": ago(2), "latitude": "31.8", "longitude": "106.6",
                                                    "notes": "洗澡、修剪指甲", "client_key": "out-1"})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["service_notes"]) == ("checked_out", "洗澡、修剪指甲")

    as_user(client, world["family"])
    assert post(client, f"orders/{oid}/confirm").json()["status"] == "confirmed"
    resp = post(client, f"orders/{oid}/rate", {"rating": 4, "comment": "准时"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["status"], body["status_label"], body["rating"], body["rating_comment"]) == (
        "rated", "已评价", 4, "准时")
    assert [e["to_status"] for e in body["events"]] == [
        "requested", "accepted", "assigned", "checked_in", "checked_out", "confirmed", "rated"]
    assert body["events"][1]["note"] == "已安排" and body["events"][0]["by"] == "family"
    assert body["flags"] == []
    provider_view = get(as_user(client, world["provider"]), f"orders/{oid}").json()
    assert provider_view["flags"] == [] and provider_view["placed_by"] == "family"


def test_flags_are_shown_to_the_provider_not_to_the_family(client, world):
    order = assigned(client, world)
    as_user(client, world["caregiver"])
    resp = post(client, f"orders/{order['id']}/check-in", {"latitude": "31.81", "longitude": "106.6"})
    assert resp.status_code == 200, resp.content
    flags = get(as_user(client, world["provider"]), f"orders/{order['id']}").json()["flags"]
    assert [(f["kind"], f["label"], f["detail"]) for f in flags] == [
        ("far_check_in", "签到地点远离老人住址", "签到地点距老人住址约 1112 米")]
    assert get(as_user(client, world["family"]), f"orders/{order['id']}").json()["flags"] == []


def test_placing_twice_with_the_same_client_key_makes_one_order(client, world):
    body = order_body(world, client_key="k-1")
    as_user(client, world["family"])
    first = post(client, "orders", body)
    again = post(client, "orders", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["events"] == first.json()["events"]
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == 1
    resp = post(client, "orders", {**body, "quantity": "2"})
    assert resp.status_code == 409 and resp.json()["code"] == "client_key_conflict"
    assert Order.objects.count() == 1


def test_a_check_in_replayed_from_the_offline_queue_is_applied_once(client, world):
    oid = assigned(client, world)["id"]
    as_user(client, world["caregiver"])
    first = post(client, f"orders/{oid}/check-in", {"at": ago(30), "latitude": "31.8", "longitude": "106.6",
                                                    "client_key": "in-1"})
    again = post(client, f"orders/{oid}/check-in", {"at": ago(29), "latitude": "31.9", "longitude": "106.6",
                                                    "client_key": "in-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["check_in_at"] == first.json()["check_in_at"]
    assert again.json()["check_in_latitude"] == "31.800000"
    assert [e["to_status"] for e in again.json()["events"]].count("checked_in") == 1
    resp = post(client, f"orders/{oid}/check-out", {"client_key": "in-1"})
    assert resp.status_code == 409 and resp.json()["code"] == "client_key_conflict"


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"scheduled_start": "2020-01-01T09:00:00+08:00"}, "scheduled_start", "invalid"),
    ({"scheduled_start": "next tuesday"}, "scheduled_start", "invalid"),
    ({"quantity": "0"}, "quantity", "invalid"),
    ({"quantity": "lots"}, "quantity", "invalid_type"),
    ({"item": "massage"}, "item", "invalid"),
    ({"provider": 999999}, "provider", "invalid"),
    ({"channel": "fax"}, "channel", "invalid_choice"),
    ({"price": "1.00"}, "price", "unknown_field"),
    ({"note": "长" * 301}, "note", "too_long"),
])
def test_bad_orders_are_refused_with_field_messages(client, world, changes, field, code):
    before = snapshot()
    resp = post(as_user(client, world["family"]), "orders", order_body(world, **changes))
    assert resp.status_code == 422, resp.content
    body = resp.json()
    assert body["code"] == "validation_error" and body["message"] == "提交的数据有误，请检查标出的字段。"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)], body
    assert body["errors"][0]["message"]
    assert snapshot() == before


def test_missing_fields_are_each_named(client, world):
    resp = post(as_user(client, world["family"]), "orders", {"elder": world["elder"].pk})
    assert resp.status_code == 422
    assert {(e["field"], e["code"], e["message"]) for e in resp.json()["errors"]} == {
        ("provider", "required", "此项为必填项。"), ("item", "required", "此项为必填项。"),
        ("scheduled_start", "required", "此项为必填项。")}
    assert not Order.objects.exists()


def test_an_elder_outside_the_providers_streets_is_named(client, world):
    elder = make_elder(world["bureau"], name="赵大爷", seq=4, male=True, residence="511903003")
    resp = post(as_user(client, world["bureau"]), "orders", order_body(world, elder=elder.pk))
    assert resp.status_code == 422
    (error,) = resp.json()["errors"]
    assert error["field"] == "provider" and "不在老人所在街道提供上门助浴" in error["message"]
    assert not Order.objects.exists()


def test_bad_steps_are_refused_and_change_nothing(client, world):
    oid = assigned(client, world)["id"]
    before = snapshot()
    as_user(client, world["caregiver"])
    resp = post(client, f"orders/{oid}/check-in", {"latitude": "north", "longitude": "106"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "latitude"
    resp = post(client, f"orders/{oid}/check-in", {"at": (timezone.now() + datetime.timedelta(hours=1))
                                                   .isoformat()})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "at"
    resp = post(as_user(client, world["provider"]), f"orders/{oid}/no-show", {"reason": "  "})
    assert resp.status_code == 422 and resp.json()["errors"] == [
        {"field": "reason", "code": "invalid", "message": "请填写原因。"}]
    resp = post(client, f"orders/{oid}/cancel", {})
    assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "required"
    someone_elses = make_caregiver(world, account=None, seq=9, name="外机构",
                                   organisation=make_org("别家", region="511903003"))
    resp = post(client, f"orders/{oid}/assign", {"caregiver": someone_elses.pk})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "caregiver"
    assert "外机构" not in resp.json()["errors"][0]["message"]
    assert snapshot() == before


@pytest.mark.parametrize("rating", [0, 6, "4.5", "good"])
def test_a_rating_is_a_whole_number_from_1_to_5(client, world, rating):
    oid = assigned(client, world)["id"]
    as_user(client, world["caregiver"])
    post(client, f"orders/{oid}/check-in", {"at": ago(60)})
    post(client, f"orders/{oid}/check-out", {"at": ago(1)})
    as_user(client, world["family"])
    assert post(client, f"orders/{oid}/confirm").status_code == 200
    before = snapshot()
    resp = post(client, f"orders/{oid}/rate", {"rating": rating})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "rating"
    assert snapshot() == before


# ------------------------------------------------------------------------------------ forbidden transitions


def test_steps_out_of_order_are_409_and_change_nothing(client, world):
    oid = placed(client, world)["id"]
    before = snapshot()
    resp = post(as_user(client, world["family"]), f"orders/{oid}/confirm")
    assert resp.status_code == 409
    assert resp.json() == {"status": 409, "code": "invalid_state",
                           "message": "订单当前为“待接单”，不能确认完成。", "errors": []}
    resp = post(as_user(client, world["provider"]), f"orders/{oid}/assign", {"caregiver": world["carer"].pk})
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_state"
    assert snapshot() == before
    assert post(client, f"orders/{oid}/accept").status_code == 200
    assert post(client, f"orders/{oid}/accept").status_code == 409
    assert post(client, f"orders/{oid}/decline", {"reason": "人手不足"}).status_code == 409


def test_a_check_out_before_the_check_in_says_so(client, world):
    oid = assigned(client, world)["id"]
    resp = post(as_user(client, world["caregiver"]), f"orders/{oid}/check-out", {"notes": "x"})
    assert resp.status_code == 409 and resp.json()["message"] == "尚未签到，不能签退。"
    assert Order.objects.get(pk=oid).status == OrderStatus.ASSIGNED


def test_a_visit_started_cannot_be_cancelled_and_a_wrong_role_is_403(client, world):
    oid = assigned(client, world)["id"]
    resp = post(as_user(client, world["family"]), f"orders/{oid}/accept")
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    assert post(as_user(client, world["caregiver"]), f"orders/{oid}/check-in").status_code == 200
    resp = post(as_user(client, world["family"]), f"orders/{oid}/cancel", {"reason": "改期"})
    assert resp.status_code == 409 and resp.json()["message"] == "订单当前为“服务中”，不能取消。"


def test_cancel_and_no_show_keep_who_and_why(client, world):
    first, second = placed(client, world), assigned(client, world)
    resp = post(as_user(client, world["family"]), f"orders/{first['id']}/cancel", {"reason": "改期"})
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["end_reason"], resp.json()["events"][-1]["note"]) == (
        "cancelled", "改期", "下单人：改期")
    resp = post(as_user(client, world["caregiver"]), f"orders/{second['id']}/no-show", {"reason": "敲门无人应答"})
    assert resp.status_code == 200 and resp.json()["status"] == "no_show"


# -------------------------------------------------------------------------------------------------- scope


def test_another_provider_gets_404(client, world):
    oid = placed(client, world)["id"]
    other = make_user("other_provider", Role.PROVIDER, organisation=make_org("别家", region="511903003"))
    as_user(client, other)
    assert get(client, f"orders/{oid}").status_code == 404
    resp = post(client, f"orders/{oid}/accept")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert get(client, "orders").json()["count"] == 0
    assert Order.objects.get(pk=oid).status == OrderStatus.REQUESTED


def test_a_caregiver_sees_only_their_own_visits(client, world):
    mine = assigned(client, world)["id"]
    not_yet = placed(client, world)["id"]
    someone = world["caregiver2"] = make_user("caregiver2", Role.CAREGIVER, organisation=world["org"])
    make_caregiver(world, account="caregiver2", seq=8, name="王护理")
    as_user(client, world["caregiver"])
    assert [o["id"] for o in get(client, "orders").json()["items"]] == [mine]
    assert get(client, f"orders/{not_yet}").status_code == 404
    as_user(client, someone)
    assert get(client, "orders").json()["count"] == 0
    assert get(client, f"orders/{mine}").status_code == 404
    assert post(client, f"orders/{mine}/check-in").status_code == 404


def test_an_unlinked_family_gets_404(client, world):
    oid = placed(client, world)["id"]
    stranger = make_user("family2", Role.FAMILY)
    as_user(client, stranger)
    assert get(client, f"orders/{oid}").status_code == 404
    assert post(client, f"orders/{oid}/cancel", {"reason": "x"}).status_code == 404
    assert get(client, "orders").json()["count"] == 0
    assert post(client, "quote", order_body(world)).status_code == 404
    assert post(client, "orders", order_body(world)).status_code == 404
    assert Order.objects.count() == 1


def test_region_staff_see_their_region_and_another_district_gets_404(client, world):
    oid = placed(client, world)["id"]
    for who in ("bureau", "street", "community"):
        assert get(as_user(client, world[who]), "orders").json()["count"] == 1, who
        assert get(client, f"orders/{oid}").status_code == 200
    for who in ("other_bureau", "other_street"):
        as_user(client, world[who])
        assert get(client, "orders").json()["count"] == 0
        assert get(client, f"orders/{oid}").status_code == 404
        assert post(client, f"orders/{oid}/cancel", {"reason": "x"}).status_code == 404
    assert post(client, "quote", order_body(world)).status_code == 404  # their elders only
    assert get(as_user(client, world["assessor"]), "orders").status_code == 403
    client.logout()
    resp = get(client, "orders")
    assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated"


def test_orders_are_filtered_by_status_date_provider_and_elder(client, world):
    neighbour = make_elder(world["bureau"], name="张建国", birth=datetime.date(1956, 6, 1), seq=2, male=True)
    a = placed(client, world, who="community", scheduled_start=tomorrow_at(9).isoformat())["id"]
    b = placed(client, world, who="community", elder=neighbour.pk,
               scheduled_start=(tomorrow_at(9) + datetime.timedelta(days=2)).isoformat())["id"]
    post(as_user(client, world["provider"]), f"orders/{b}/accept")
    as_user(client, world["community"])
    day = tomorrow_at(9).date()

    def ids(**params):
        resp = get(client, "orders", **params)
        assert resp.status_code == 200, resp.content
        return [o["id"] for o in resp.json()["items"]]

    assert ids() == [b, a]
    assert ids(status="accepted") == [b]
    assert ids(date_from=day.isoformat(), date_to=day.isoformat()) == [a]
    assert ids(date_from=(day + datetime.timedelta(days=1)).isoformat()) == [b]
    assert ids(elder=neighbour.pk) == [b]
    assert ids(provider=world["org"].pk) == [b, a] and ids(provider=999999) == []
    assert ids(limit=1) == [b]
    resp = get(client, "orders", date_from=day.isoformat(), date_to=(day - datetime.timedelta(days=1)).isoformat())
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "date_to"
    resp = get(client, "orders", status="lost")
    assert resp.status_code == 422 and resp.json()["errors"] == [
        {"field": "status", "code": "invalid_choice", "message": "不是允许的取值。"}]
