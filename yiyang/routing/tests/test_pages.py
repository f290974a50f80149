"""The dispatcher's page: plan a day with the form, see the routes, the map data and the reasons, lock a
visit to a caregiver and plan again, publish; the bureau reads only; other roles and providers get 404."""

import pytest
from django.urls import reverse

from yiyang.core.tests.factories import make_org, make_user
from yiyang.routing.models import PlanStatus, RouteLock, RoutePlan
from yiyang.services.models import Order, OrderStatus
from yiyang.services.tests.factories import make_caregiver

from .factories import carer, day, visit

pytestmark = pytest.mark.django_db
URL = reverse("routing:plan")


@pytest.fixture
def day_of(world):
    west = carer(world, "西护理", lon=106.59)
    east = carer(world, "东护理", lon=106.70)
    orders = {"甲": visit(world, "甲", 106.60, window=60), "乙": visit(world, "乙", 106.69),
              "无坐标": visit(world, "无坐标", None)}
    return {**world, "west": west, "east": east, "orders": orders}


def plan_form(**changes):
    return {"date": day().isoformat(), "time_limit_seconds": "2", "continuity_weight": "600", "mode": "ebike",
            **changes}


def test_the_page_plans_and_shows_routes_map_and_reasons(client, day_of, django_assert_max_num_queries):
    w = day_of
    client.force_login(w["provider"])
    page = client.get(URL)
    assert page.status_code == 200 and 'data-testid="no-plan"' in page.content.decode()  # today: nothing yet
    response = client.post(URL, plan_form())
    assert response.status_code == 302 and response["Location"] == f"{URL}?date={day().isoformat()}"
    with django_assert_max_num_queries(20):
        page = client.get(response["Location"])
    html = page.content.decode()
    assert "第 1 版方案" in html and "草稿" in html and "发布到护理员 App" in html
    assert page.context["form"].initial["time_limit_seconds"] == 2  # planning again keeps the options
    routes = {r.caregiver.name: [s.order.elder.name for s in r.stops] for r in page.context["view"].routes}
    assert routes == {"西护理": ["甲"], "东护理": ["乙"]}
    assert "老人住址没有经纬度，无法排线" in html
    payload = page.context["map"]
    assert [(r["caregiver"], [p["elder"] for p in r["points"]]) for r in payload["routes"]] == [
        ("东护理", ["乙"]), ("西护理", ["甲"])]
    # Home → 甲 → home, as [lon, lat] pairs for the value axes.
    assert next(r for r in payload["routes"] if r["caregiver"] == "西护理")["line"] == [
        [106.59, 31.8], [106.6, 31.8], [106.59, 31.8]]
    assert 'id="route-map-data"' in html and "echarts.min.js" in html


def test_lock_form_then_replan_then_publish(client, day_of):
    w = day_of
    client.force_login(w["provider"])
    client.post(URL, plan_form())
    far = w["orders"]["乙"]
    response = client.post(reverse("routing:lock"), {"order": far.pk, "caregiver": w["west"].pk})
    assert response.status_code == 302
    assert RouteLock.objects.get(order=far).caregiver == w["west"]
    client.post(URL, plan_form())
    page = client.get(f"{URL}?date={day().isoformat()}")
    routes = {r.caregiver.name: [s.order.elder.name for s in r.stops] for r in page.context["view"].routes}
    assert routes == {"西护理": ["甲", "乙"]}
    assert f'<option value="{w["west"].pk}" selected>' in page.content.decode()
    plan = RoutePlan.objects.get(version=2)
    response = client.post(reverse("routing:publish", args=[plan.pk]), follow=True)
    assert "已发布第 2 版：派单 2 单" in response.content.decode()
    assigned = Order.objects.filter(status=OrderStatus.ASSIGNED)
    assert set(assigned.values_list("caregiver__name", flat=True)) == {"西护理"}
    assert RoutePlan.objects.get(version=2).status == PlanStatus.PUBLISHED
    # Unlock through the same form (empty choice).
    client.post(reverse("routing:lock"), {"order": far.pk, "caregiver": ""})
    assert not RouteLock.objects.exists()


def test_a_refused_lock_and_bad_options_show_why_and_change_nothing(client, day_of):
    w = day_of
    client.force_login(w["provider"])
    response = client.post(URL, plan_form(time_limit_seconds="0"))
    assert response.status_code == 200 and not RoutePlan.objects.exists()
    assert response.context["form"].errors["time_limit_seconds"]
    bath_free = carer(w, "只会打扫", lon=106.59, skills="助洁")
    bath = visit(w, "洗澡", 106.61, item="bath")
    response = client.post(reverse("routing:lock"), {"order": bath.pk, "caregiver": bath_free.pk}, follow=True)
    assert "不具备“助浴”技能" in response.content.decode()
    assert not RouteLock.objects.exists()
    # A caregiver of another provider, or no number at all, is unknown here: said, and nothing locked.
    stranger = make_caregiver(w, account=None, seq=99, organisation=make_org("夕阳红", region="511903001"))
    for raw in (stranger.pk, "abc"):
        response = client.post(reverse("routing:lock"), {"order": bath.pk, "caregiver": raw}, follow=True)
        assert response.redirect_chain[-1][0] == f"{URL}?date={day().isoformat()}"
        assert "未知的护理员。" in response.content.decode()
    assert not RouteLock.objects.exists()


def test_the_bureau_reads_only_and_others_get_404(client, day_of):
    w = day_of
    client.force_login(w["provider"])
    client.post(URL, plan_form())
    client.force_login(w["bureau"])
    page = client.get(f"{URL}?provider={w['org'].pk}&date={day().isoformat()}")
    html = page.content.decode()
    assert page.status_code == 200 and "第 1 版方案" in html
    assert "发布到护理员 App" not in html and 'data-testid="lock-form"' not in html
    assert client.post(URL, {**plan_form(), "provider": w["org"].pk}).status_code == 404
    assert client.post(reverse("routing:publish", args=[RoutePlan.objects.get().pk]),
                       {"provider": w["org"].pk}).status_code == 404
    client.force_login(w["other_bureau"])
    assert client.get(f"{URL}?provider={w['org'].pk}").status_code == 404
    client.force_login(w["caregiver"])
    assert client.get(URL).status_code == 404
    client.force_login(w["family"])
    assert client.get(URL).status_code == 404
    client.logout()
    assert client.get(URL).status_code == 404
    stranger = make_user("p2", "provider", organisation=make_org("夕阳红", region="511903001"))
    client.force_login(stranger)
    page = client.get(f"{URL}?date={day().isoformat()}")
    assert page.context["view"] is None
    assert client.post(reverse("routing:publish", args=[RoutePlan.objects.get().pk])).status_code == 404
    assert client.post(reverse("routing:lock"), {"order": w["orders"]["甲"].pk, "caregiver": ""}).status_code == 404


def test_the_plan_shows_service_starts_arrivals_and_waiting(client, world):
    # One caregiver, 甲 (09:00–09:30) one leg east, 乙 (15:00–15:45) a leg further. Waiting costs, so 甲 starts
    # at 09:30 (the latest it may), ends 10:30, and 乙's service starts 15:00: the caregiver leaves 甲 at
    # 15:00 − one leg and arrives at 15:00, so the 15:00 − 10:30 − 296 s ≈ 265 minutes are waiting, not early.
    carer(world, "李护理", lon=106.59)
    visit(world, "甲", 106.60, window=30)
    visit(world, "乙", 106.61, hour=15, window=45)
    client.force_login(world["provider"])
    client.post(URL, plan_form())
    page = client.get(f"{URL}?date={day().isoformat()}")
    html = page.content.decode()
    (route,) = page.context["view"].routes
    assert [s.order.elder.name for s in route.stops] == ["甲", "乙"]
    plan = RoutePlan.objects.get()
    assert abs(plan.summary["waiting_seconds"] - (15 * 3600 - (10 * 3600 + 1800) - 296)) <= 1
    assert page.context["view"].summary["waiting_minutes"] == 265 and route.waiting_minutes == 265
    assert '<strong data-testid="stop-start">服务 15:00–16:00</strong> 乙' in html
    assert '<span class="muted" data-testid="stop-arrival">15:00 到达</span>' in html
    assert '<strong data-testid="stop-start">服务 09:30–10:30</strong> 甲' in html
    assert 'data-testid="waiting"><strong>265</strong>' in html and "等候 265 分钟" in html
