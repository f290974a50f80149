"""The routing API: plan a day (201 with routes, unassigned reasons and summary), read it back, lock and
unlock, publish; scope (another provider's id answers 404), bad options (422 in the caller's language), a
stale plan (409, nothing assigned)."""

import json

import pytest

from yiyang.core.tests.factories import make_org, make_user
from yiyang.routing.models import RouteLock, RoutePlan
from yiyang.services import services as order_services
from yiyang.services.models import Order, OrderStatus

from .factories import carer, day, visit

pytestmark = pytest.mark.django_db
BASE = "/api/v1/routing/"


def post(client, url, data=None, **headers):
    return client.post(BASE + url, data=json.dumps(data or {}), content_type="application/json", **headers)


def as_user(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def day_of(world):
    west = carer(world, "西护理", lon=106.59)
    east = carer(world, "东护理", lon=106.70, skills="助洁")
    orders = {"甲": visit(world, "甲", 106.60, window=60), "乙": visit(world, "乙", 106.69),
              "洗澡": visit(world, "洗澡", 106.61, item="bath"), "无坐标": visit(world, "无坐标", None)}
    return {**world, "west": west, "east": east, "orders": orders}


def body(w, **changes):
    return {"provider_id": w["org"].pk, "date": day().isoformat(), "time_limit_seconds": 2, **changes}


def test_plan_returns_routes_unassigned_and_summary(client, day_of):
    w = day_of
    response = post(as_user(client, w["provider"]), "plan", body(w))
    assert response.status_code == 201, response.content
    data = response.json()
    routes = {r["caregiver"]["name"]: [s["elder"] for s in r["stops"]] for r in data["routes"]}
    assert routes == {"西护理": ["甲", "洗澡"], "东护理": ["乙"]}
    west = next(r for r in data["routes"] if r["caregiver"]["name"] == "西护理")
    first = west["stops"][0]
    # 甲's window opens at 09:00 and the visit lasts 60 minutes; one leg (0.01°, 296 s) from home: 5 minutes.
    assert (first["position"], first["start"], first["end"], first["travel_minutes"]) == (1, "09:00", "10:00", 5)
    assert data["unassigned"] == [{"order_id": w["orders"]["无坐标"].pk, "elder": "无坐标", "item": "上门助洁",
                                   "code": "no_location", "reason": "老人住址没有经纬度，无法排线"}]
    summary = data["summary"]
    assert (summary["visits"], summary["served"], summary["unassigned"], summary["caregivers"]) == (4, 3, 1, 2)
    assert data["version"] == 1 and data["status"] == "draft" and data["status_label"] == "草稿"
    assert client.get(f"{BASE}plans/{data['id']}").json()["routes"] == data["routes"]


def test_reasons_come_in_english_for_an_english_caller(client, day_of):
    w = day_of
    response = post(as_user(client, w["provider"]), "plan", body(w), HTTP_ACCEPT_LANGUAGE="en")
    reason = response.json()["unassigned"][0]["reason"]
    assert reason == "The older person's address has no coordinates, so it cannot be routed"


def test_another_provider_and_its_plans_are_404(client, day_of):
    w = day_of
    plan_id = post(as_user(client, w["provider"]), "plan", body(w)).json()["id"]
    stranger = make_user("p2", "provider", organisation=make_org("夕阳红", region="511903001"))
    as_user(client, stranger)
    assert post(client, "plan", body(w)).status_code == 404
    assert client.get(f"{BASE}plans/{plan_id}").status_code == 404
    assert post(client, f"plans/{plan_id}/publish").status_code == 404
    assert post(client, "locks", {"order_id": w["orders"]["甲"].pk, "caregiver_id": w["west"].pk}).status_code == 404
    assert client.delete(f"{BASE}locks/{w['orders']['甲'].pk}").status_code == 404
    # The caregiver's account is not a dispatcher.
    assert post(as_user(client, w["caregiver"]), "plan", body(w)).status_code == 403
    assert RoutePlan.objects.count() == 1


@pytest.mark.parametrize("changes,field", [({"time_limit_seconds": 0}, "time_limit_seconds"),
                                           ({"continuity_weight": -5}, "continuity_weight"),
                                           ({"mode": "horse"}, "mode"), ({"date": "2026-13-01"}, "date")])
def test_bad_options_are_422_and_save_nothing(client, day_of, changes, field):
    response = post(as_user(client, day_of["provider"]), "plan", body(day_of, **changes))
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "validation_error" and [e["field"] for e in data["errors"]] == [field]
    if field == "time_limit_seconds":
        assert data["errors"][0]["message"] == "排线时间须大于 0 秒且不超过 120 秒。"
    assert not RoutePlan.objects.exists()


def test_lock_replan_publish_flow(client, day_of):
    w = day_of
    as_user(client, w["provider"])
    far = w["orders"]["乙"]
    response = post(client, "locks", {"order_id": far.pk, "caregiver_id": w["west"].pk})
    assert response.status_code == 201 and response.json()["caregiver"]["name"] == "西护理"
    # A bath cannot be locked to a caregiver without 助浴.
    bad = post(client, "locks", {"order_id": w["orders"]["洗澡"].pk, "caregiver_id": w["east"].pk})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "caregiver"
    data = post(client, "plan", body(w)).json()
    west = next(r for r in data["routes"] if r["caregiver"]["name"] == "西护理")
    assert [s["elder"] for s in west["stops"]] == ["甲", "洗澡", "乙"]
    assert {s["elder"]: s["locked"] for s in west["stops"]} == {"甲": False, "洗澡": False, "乙": True}
    published = post(client, f"plans/{data['id']}/publish")
    assert published.status_code == 200, published.content
    out = published.json()
    assert out["status"] == "published" and sorted(out["assigned"]) == sorted(
        [w["orders"][k].pk for k in ("甲", "乙", "洗澡")])
    assigned = Order.objects.filter(status=OrderStatus.ASSIGNED)
    assert set(assigned.values_list("caregiver__name", flat=True)) == {"西护理"}
    # Published: publishing again is refused.
    assert post(client, f"plans/{data['id']}/publish").status_code == 409
    assert client.delete(f"{BASE}locks/{far.pk}").status_code == 204
    assert not RouteLock.objects.exists()


def test_a_stale_plan_is_409_and_assigns_nothing(client, day_of):
    w = day_of
    as_user(client, w["provider"])
    plan_id = post(client, "plan", body(w)).json()["id"]
    order_services.cancel_order(actor=w["provider"], order=w["orders"]["甲"], reason="老人住院")
    response = post(client, f"plans/{plan_id}/publish")
    assert response.status_code == 409 and response.json()["code"] == "stale_plan"
    assert "甲" in response.json()["message"]
    assert not Order.objects.filter(status=OrderStatus.ASSIGNED).exists()


def test_the_bureau_may_plan_and_look_but_not_publish(client, day_of):
    w = day_of
    as_user(client, w["bureau"])
    response = post(client, "plan", body(w))
    assert response.status_code == 201
    assert client.get(f"{BASE}plans/{response.json()['id']}").status_code == 200
    assert post(client, f"plans/{response.json()['id']}/publish").status_code == 403
    as_user(client, w["other_bureau"])
    assert client.get(f"{BASE}plans/{response.json()['id']}").status_code == 404
