"""The caregivers' phone app (/services/m/) through Django's test client: today's visits (only one's own, in
time order, in a bounded number of queries), the visit page and its steps without JavaScript, the manifest
and the service worker's headers, and the roles that are not caregivers."""

import datetime
import io
import json
import re
from decimal import Decimal as D

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from yiyang.assessment.tests.factories import published
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_user
from yiyang.registry.models import Contact
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import Order, OrderEvent, OrderStatus

from .factories import make_caregiver, soon

pytestmark = pytest.mark.django_db
APP = "/services/m/"
HOME = (D("31.800000"), D("106.600000"))


def at_today(hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(hour, minute)))


def visit(w, elder, *, carer="carer", start=None, item="bath", note=""):
    """An order placed, accepted and assigned through the services, then moved to `start` (placing needs a
    future time; the page is about what the day looks like)."""
    order = services.place_order(actor=w["community"], elder=elder, provider=w["org"], item=w[item],
                                 scheduled_start=soon(5), channel="phone", note=note)[0]
    services.accept_order(actor=w["provider"], order=order)
    services.assign_order(actor=w["provider"], order=order, caregiver=w[carer])
    if start is not None:
        Order.objects.filter(pk=order.pk).update(scheduled_start=start)
    order.refresh_from_db()
    return order


@pytest.fixture
def elder_fields():
    """王秀英 (the world's elder, conftest) at home with coordinates, a phone and a daughter to call."""
    return {"latitude": HOME[0], "longitude": HOME[1], "address": "登科街道兴隆路 12 号", "phone": "13912345678"}


@pytest.fixture
def world(world):
    """李护理 (the `caregiver` account) and 周护理 (another caregiver of 颐康, `caregiver2`); 王秀英 with her
    daughter's number; 张建国 with an address but no coordinates."""
    world["caregiver2"] = make_user("caregiver2", Role.CAREGIVER, organisation=world["org"])
    wang = world["elder"]
    Contact.objects.create(elder=wang, name="李芳", relationship="daughter", phone="13687654321",
                           is_guardian=True)
    zhang = make_elder(world["bureau"], name="张建国", birth=datetime.date(1944, 6, 1), seq=2, male=True,
                       address="登科街道文化路 3 号")
    other = make_caregiver(world, account="caregiver2", seq=8, name="周护理")
    return {**world, "wang": wang, "zhang": zhang, "other": other}


def signed_in(client, user):
    client.force_login(user)
    return client


# ------------------------------------------------------------------------------------------------ today


def test_today_lists_only_my_visits_in_time_order_in_bounded_queries(client, world, django_assert_max_num_queries):
    late = visit(world, world["zhang"], start=at_today(15, 30), item="cleaning")
    early = visit(world, world["wang"], start=at_today(8), note="需要助浴椅")
    visit(world, world["zhang"], start=at_today(10), carer="other")  # 周护理's, not mine
    visit(world, world["wang"], start=at_today(9) + datetime.timedelta(days=1))  # tomorrow
    signed_in(client, world["caregiver"])
    with django_assert_max_num_queries(10):
        response = client.get(APP)
    assert response.status_code == 200
    html = response.content.decode()
    listed = [int(pk) for pk in re.findall(r'data-testid="visit-(\d+)"', html)]
    assert listed == [early.pk, late.pk]
    card = html[html.index(f'data-testid="visit-{early.pk}"'):html.index(f'data-testid="visit-{late.pk}"')]
    # 08:00 with a 60-minute window; the need, the note, both numbers to call, the map by coordinates.
    assert "08:00</time>–<time" in card and "09:00</time>" in card
    assert "上门助浴</strong> × 1 次" in card and "需要助浴椅" in card
    assert 'href="tel:13912345678"' in card and 'href="tel:13687654321"' in card and "李芳（女儿）" in card
    assert 'href="geo:31.800000,106.600000?q=31.800000,106.600000(' in card
    assert world["wang"].id_number not in html  # the ID number is never on the phone
    # No coordinates: the map link searches for the address.
    assert "geo:0,0?q=%E7%99%BB%E7%A7%91" in html
    assert response["Cache-Control"] == "private, no-cache"


def test_today_follows_the_published_route_showing_service_starts(client, world):
    from yiyang.routing.models import PlanStatus, RoutePlan, RouteStop

    first = visit(world, world["wang"], start=at_today(8))
    second = visit(world, world["zhang"], start=at_today(9), item="cleaning")
    added = visit(world, world["zhang"], start=at_today(7))  # booked after the route was published
    plan = RoutePlan.objects.create(provider=world["org"], day=timezone.localdate(), version=1,
                                    status=PlanStatus.PUBLISHED)
    # The dispatcher's route goes to 张建国 first (window opens 09:00), then 王秀英 (08:00): the phone says when
    # each service starts (the booked 09:00 and 08:00), not the planned arrivals (08:55, 07:30).
    RouteStop.objects.create(plan=plan, order=second, caregiver=world["carer"], position=1, arrival=at_today(8, 55))
    RouteStop.objects.create(plan=plan, order=first, caregiver=world["carer"], position=2, arrival=at_today(7, 30))
    html = signed_in(client, world["caregiver"]).get(APP).content.decode()
    assert [int(pk) for pk in re.findall(r'data-testid="visit-(\d+)"', html)] == [second.pk, first.pk, added.pk]
    assert f'data-testid="route-{second.pk}">路线第 1 站 · 09:00 开始服务<' in html
    assert f'data-testid="route-{first.pk}">路线第 2 站 · 08:00 开始服务<' in html
    assert "08:55" not in html and "07:30" not in html and "到达" not in html
    assert f'data-testid="route-{added.pk}"' not in html and 'data-testid="routed"' in html
    # A draft (not published) route changes nothing.
    plan.status = PlanStatus.DRAFT
    plan.save()
    html = client.get(APP).content.decode()
    assert [int(pk) for pk in re.findall(r'data-testid="visit-(\d+)"', html)] == [added.pk, first.pk, second.pk]


def test_today_shows_the_ability_level_when_one_is_published(client, world):
    world["assessor2"] = make_user("assessor2", Role.ASSESSOR, organisation=world["assessor"].organisation)
    world["reviewer"] = make_user("reviewer", Role.ASSESSOR, organisation=world["assessor"].organisation)
    published(world, world["wang"])  # total 76: 轻度失能
    order = visit(world, world["wang"], start=at_today(8))
    bare = visit(world, world["zhang"], start=at_today(9))
    html = signed_in(client, world["caregiver"]).get(APP).content.decode()
    assert f'data-testid="level-{order.pk}">能力等级：轻度失能<' in html
    assert f'data-testid="level-{bare.pk}"' not in html
    english = client.get(APP, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200


def test_a_caregiver_with_nothing_today_is_told_so(client, world):
    html = signed_in(client, world["caregiver"]).get(APP).content.decode()
    assert 'data-testid="no-visits"' in html and "今天没有安排上门服务" in html
    lone = make_user("lone", Role.CAREGIVER, organisation=world["org"])
    html = signed_in(client, lone).get(APP).content.decode()
    assert 'data-testid="no-profile"' in html


def test_other_roles_get_a_friendly_refusal_and_strangers_the_login(client, world):
    response = client.get(APP)
    assert response.status_code == 302 and response["Location"] == "/login/?next=/services/m/"
    response = signed_in(client, world["provider"]).get(APP)
    assert response.status_code == 403
    assert "此应用供护理员使用" in response.content.decode()
    order = visit(world, world["wang"])
    assert client.get(f"{APP}visits/{order.pk}/").status_code == 403


# ------------------------------------------------------------------------------------------------ a visit


def test_another_caregivers_visit_is_not_found(client, world):
    mine = visit(world, world["wang"])
    theirs = visit(world, world["zhang"], carer="other")
    signed_in(client, world["caregiver"])
    assert client.get(f"{APP}visits/{mine.pk}/").status_code == 200
    assert client.get(f"{APP}visits/{theirs.pk}/").status_code == 404
    assert client.post(f"{APP}visits/{theirs.pk}/check-in/", {"client_key": "k1"}).status_code == 404
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.ASSIGNED


def test_the_visit_page_offers_the_next_step_only(client, world):
    order = visit(world, world["wang"])
    signed_in(client, world["caregiver"])
    html = client.get(f"{APP}visits/{order.pk}/").content.decode()
    assert re.search(r'data-testid="check-in-step">', html)  # shown
    assert re.search(r'data-testid="check-out-step" hidden>', html)
    assert 'accept="image/*" capture="environment"' in html
    assert f'action="/services/m/visits/{order.pk}/check-in/"' in html and "csrfmiddlewaretoken" in html
    config = json.loads(re.search(r'<script id="cg-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["checkIn"].replace(config["idSentinel"], str(order.pk)) == \
        f"/api/v1/services/orders/{order.pk}/check-in"
    assert config["t"]["pending"] == "待同步 (%(n)s)"


def test_check_in_and_out_without_javascript(client, world):
    order = visit(world, world["wang"])
    signed_in(client, world["caregiver"])
    response = client.post(f"{APP}visits/{order.pk}/check-in/", {"client_key": "web-abc-in"}, follow=True)
    assert "已签到（未记录位置）。" in response.content.decode()
    # The same form sent twice (a double tap, a resend) is applied once.
    client.post(f"{APP}visits/{order.pk}/check-in/", {"client_key": "web-abc-in"})
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CHECKED_IN).count() == 1
    html = client.get(f"{APP}visits/{order.pk}/").content.decode()
    assert re.search(r'data-testid="check-in-step" hidden>', html)
    assert re.search(r'data-testid="check-out-step">', html)
    response = client.post(f"{APP}visits/{order.pk}/check-out/", {"client_key": "web-abc-out",
                                                                   "notes": "洗浴完成，皮肤无破损"}, follow=True)
    assert "已签退。" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CHECKED_OUT and order.service_notes == "洗浴完成，皮肤无破损"
    assert order.check_in_latitude is None
    assert "洗浴完成，皮肤无破损" in client.get(f"{APP}visits/{order.pk}/").content.decode()


def png(colour=(200, 220, 240)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, "PNG")
    return SimpleUploadedFile("visit.png", out.getvalue(), content_type="image/png")


def test_check_out_with_a_photo_and_replace_it_later_without_javascript(client, world):
    order = visit(world, world["wang"])
    signed_in(client, world["caregiver"])
    client.post(f"{APP}visits/{order.pk}/check-in/", {"client_key": "web-p-in"})
    response = client.post(f"{APP}visits/{order.pk}/check-out/", {"client_key": "web-p-out", "notes": "",
                                                                   "photo": png()}, follow=True)
    html = response.content.decode()
    assert "已签退。" in html and "照片已上传。" in html
    order.refresh_from_db()
    assert order.status == OrderStatus.CHECKED_OUT and order.check_out_photo
    first = order.check_out_photo.name
    assert f'src="/api/v1/services/orders/{order.pk}/photo"' in html
    assert 'data-testid="upload-photo"' in html  # a better one may still be sent before confirmation
    # Not an image: refused with the reason, the first photo stays.
    bad = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post(f"{APP}visits/{order.pk}/photo/", {"client_key": "web-p2", "photo": bad}, follow=True)
    assert "照片已上传。" not in response.content.decode()
    assert Order.objects.get(pk=order.pk).check_out_photo.name == first
    client.post(f"{APP}visits/{order.pk}/photo/", {"client_key": "web-p3", "photo": png((10, 10, 10))})
    assert Order.objects.get(pk=order.pk).check_out_photo.name != first


def test_a_refused_step_says_why_and_changes_nothing(client, world):
    order = visit(world, world["wang"])
    signed_in(client, world["caregiver"])
    response = client.post(f"{APP}visits/{order.pk}/check-out/", {"client_key": "web-x-out"}, follow=True)
    assert "尚未签到，不能签退。" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.ASSIGNED and order.check_out_at is None
    assert not OrderEvent.objects.filter(order=order, to_status=OrderStatus.CHECKED_OUT).exists()


def test_the_api_the_queue_uses_applies_a_replayed_check_in_once(client, world):
    """What the phone's queue sends (JSON with the tap's time, location and key), twice."""
    order = visit(world, world["wang"])
    signed_in(client, world["caregiver"])
    tap = (timezone.now() - datetime.timedelta(minutes=3)).replace(microsecond=0)
    body = {"at": tap.isoformat(), "latitude": 31.8001, "longitude": 106.6002, "client_key": "0b0e-1"}
    url = f"/api/v1/services/orders/{order.pk}/check-in"
    for _ in range(2):
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200 and response.json()["status"] == "checked_in"
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.CHECKED_IN).count() == 1
    order.refresh_from_db()
    assert order.check_in_at == tap and order.check_in_latitude == D("31.800100")


# ------------------------------------------------------------------------------------------ manifest, worker


def test_the_manifest(client, world):
    response = client.get(f"{APP}manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    body = json.loads(response.content)
    assert body["name"] == "颐养护理员" and body["start_url"] == APP and body["scope"] == APP
    assert body["display"] == "standalone" and body["theme_color"] == "#a23b2a"
    assert {i["sizes"] for i in body["icons"]} == {"192x192", "512x512"}
    for icon in body["icons"]:  # the committed PNGs, of the stated size
        with Image.open(finders.find(icon["src"].removeprefix("/static/"))) as png:
            assert f"{png.width}x{png.height}" == icon["sizes"] and png.format == "PNG"


def test_the_service_worker(client, world):
    response = client.get(f"{APP}sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response["Service-Worker-Allowed"] == APP
    body = response.content.decode()
    assert 'const SCOPE = "/services/m/";' in body
    assets = json.loads(re.search(r"const ASSETS = (\[.*?\]);", body).group(1))
    assert "/static/services/caregiver.js" in assets and "/static/services/icon-512.png" in assets
    assert "/services/m/manifest.webmanifest" in assets
    assert 'data-source="cache"' in body  # the offline copy is marked as such
    assert re.search(r'const CACHE = CACHE_PREFIX \+ "[0-9a-f]{16}";', body)


def test_the_page_links_its_manifest_and_shell(client, world):
    html = signed_in(client, world["caregiver"]).get(APP).content.decode()
    assert '<link rel="manifest" href="/services/m/manifest.webmanifest">' in html
    assert '<script src="/static/services/caregiver.js" defer></script>' in html
    assert 'data-source="network"' in html
    assert "离线：显示的是" in html  # the banner the script shows when the page comes from the cache


def test_the_home_panel_counts_todays_open_visits(rf, world):
    from django.template.loader import render_to_string

    from yiyang.services.views_caregiver import caregiver_home_panel

    done = visit(world, world["wang"], start=at_today(7))
    Order.objects.filter(pk=done.pk).update(status=OrderStatus.CHECKED_OUT)
    visit(world, world["zhang"], start=at_today(9))
    request = rf.get("/")
    request.user = world["caregiver"]
    panel = caregiver_home_panel(request)
    assert (panel["count"], panel["open"]) == (2, 1)
    html = render_to_string(panel["template"], {"panel": panel})
    assert "今天 2 个任务，待完成 1 个。" in html and 'href="/services/m/"' in html
    request.user = world["provider"]
    assert caregiver_home_panel(request) is None


def test_a_caregiver_lands_on_todays_visits_after_signing_in(client):
    from yiyang.core.models import Role, User
    from yiyang.core.tests.factories import PASSWORD

    user = User.objects.create_user(username="cg_landing", password=PASSWORD, role=Role.CAREGIVER)
    resp = client.post("/login/", {"username": "cg_landing", "password": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == "/services/m/"
    client.logout()
    resp = client.post("/login/?next=/services/catalogue/", {"username": user.username, "password": PASSWORD})
    assert resp["Location"] == "/services/catalogue/"


def test_tomorrow_lists_tomorrows_visits_only(client, world):
    today = visit(world, world["wang"], start=at_today(9))
    later = visit(world, world["zhang"], start=at_today(9) + datetime.timedelta(days=1))
    signed_in(client, world["caregiver"])
    html = client.get(APP, {"day": "tomorrow"}).content.decode()
    assert "明日服务" in html and 'data-testid="show-today"' in html
    assert [int(pk) for pk in re.findall(r'data-testid="visit-(\d+)"', html)] == [later.pk]
    html = client.get(APP).content.decode()
    assert [int(pk) for pk in re.findall(r'data-testid="visit-(\d+)"', html)] == [today.pk]
