"""The visitor's phone app: today's tasks, the visit page, and the record endpoint the offline queue posts to
(JSON answers; a replay of a client key returns the first record; 401 signed out so the phone keeps it)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.services.models import Order, OrderChannel
from yiyang.services.tests.factories import catalogue
from yiyang.visits import services
from yiyang.visits.models import FollowUp, TaskStatus, VisitRecord, VisitTask

from .factories import make_visitor, this_month

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def day(world):
    services.generate_month(month=this_month())
    task = VisitTask.objects.get(elder=world["elder"])
    return {**world, "task": task}


def record_url(task):
    return reverse("visits:phone_record", args=[task.pk])


def form(**extra):
    return {"method": "home", "outcome": "seen", "seen": "本人", "check_health": "ok", "check_gas": "concern",
            "notes": "燃气灶老化", "latitude": "31.940100", "longitude": "106.640000", **extra}


def test_my_day_lists_ad_hoc_first(client, day):
    adhoc, _ = services.raise_task(actor=day["community"], elder=day["elder"], trigger="discharge", note="昨日出院")
    client.force_login(day["visitor"])
    r = client.get(reverse("visits:my_day"))
    assert r.status_code == 200
    cards = [c["task"].pk for c in r.context["cards"]]
    assert cards == [adhoc.pk, day["task"].pk]
    assert "昨日出院" in r.content.decode() and 'id="vs-config"' in r.content.decode()
    r = client.get(reverse("visits:phone_task", args=[day["task"].pk]))
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="check-gas-concern"' in html and "燃气安全" in html


def test_other_roles_and_other_visitors(client, day):
    client.force_login(day["community"])
    assert client.get(reverse("visits:my_day")).status_code == 403
    stranger = make_visitor(day["community"], "孙志愿", username="visitor2")
    client.force_login(stranger.user)
    assert client.get(reverse("visits:phone_task", args=[day["task"].pk])).status_code == 404
    r = client.post(record_url(day["task"]), form(client_key="s1"), **JSON)
    assert r.status_code == 404 and not VisitRecord.objects.exists()


def test_record_once_then_replay(client, day):
    client.force_login(day["visitor"])
    r = client.post(record_url(day["task"]), form(client_key="phone-1"), **JSON)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["created"] and body["counts"] and body["task_status"] == TaskStatus.DONE
    rec = VisitRecord.objects.get()
    assert rec.checklist == {"health": "ok", "gas": "concern"} and rec.concerns == 1 and rec.distance_m == 11
    r = client.post(record_url(day["task"]), form(client_key="phone-1"), **JSON)
    assert r.status_code == 200 and r.json()["id"] == rec.pk and not r.json()["created"]
    assert VisitRecord.objects.count() == 1


def test_record_refusals_are_4xx_with_reason(client, day):
    client.force_login(day["visitor"])
    r = client.post(record_url(day["task"]), form(outcome="asleep", client_key="bad"), **JSON)
    assert r.status_code == 422 and "巡访结果取值无效。" in [e["message"] for e in r.json()["errors"]]
    client.logout()
    r = client.post(record_url(day["task"]), form(client_key="late"), **JSON)
    assert r.status_code == 401  # the phone keeps it until its user signs in again
    assert not VisitRecord.objects.exists()


def test_not_home_counts_an_attempt_and_plain_form_redirects(client, day):
    client.force_login(day["visitor"])
    r = client.post(record_url(day["task"]), form(outcome="not_home", client_key="web-1"))
    assert r.status_code == 302 and r["Location"] == reverse("visits:my_day")
    task = VisitTask.objects.get(pk=day["task"].pk)
    assert task.status == TaskStatus.OPEN and task.failed_attempts == 1


def test_follow_up_service_order_becomes_an_order(client, day):
    cat = catalogue(day)
    client.force_login(day["visitor"])
    r = client.get(reverse("visits:phone_task", args=[day["task"].pk]))
    offer = f"{cat['org'].pk}:{cat['bath'].pk}"
    assert offer in r.content.decode()
    start = (timezone.localtime() + datetime.timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    r = client.post(record_url(day["task"]), form(client_key="fu-1", fu_service_order="1", fu_offer=offer,
                                                  fu_time=start.strftime("%Y-%m-%dT%H:%M"),
                                                  fu_home_adaptation="1", fu_home_adaptation_note="扶手"), **JSON)
    assert r.status_code == 201, r.content
    assert r.json()["follow_ups"] == 2
    order = Order.objects.get(elder=day["elder"])
    assert (order.provider, order.item, order.channel) == (cat["org"], cat["bath"], OrderChannel.VISIT)
    assert order.scheduled_start == start
    assert FollowUp.objects.filter(kind="home_adaptation", note="扶手", status="open").exists()


def test_service_worker(client, day):
    r = client.get(reverse("visits:phone_sw"))
    body = r.content.decode()
    assert r.status_code == 200 and r["Service-Worker-Allowed"] == "/visits/my-day/"
    assert 'CACHE_PREFIX = "yiyang-visitor-"' in body and "/static/visits/visitor.js" in body
    r = client.get(reverse("services:caregiver_sw"))
    assert 'CACHE_PREFIX = "yiyang-caregiver-"' in r.content.decode()
