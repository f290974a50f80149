"""The alarms pages: the console and its queue, an alarm's page driving every step through the buttons the policy
draws, the lists, and who may open what (404 outside one's remit, like every other app)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.models import Alarm, AlarmOutcome, AlarmStatus, Channel, DutyShift, MaintenanceTask, Vendor
from yiyang.core.navigation import landing_page

from .factories import event

pytestmark = pytest.mark.django_db


def _sos(world, serial="SOS-1"):
    services.ingest(vendor=world["vendor"], events=[event(serial)], channel=Channel.WEBHOOK)
    return Alarm.objects.get(device__serial=serial)


def _client(client, user):
    client.force_login(user)
    return client


def test_the_operator_lands_on_the_console_and_sees_the_sos_in_the_queue(alarm_world, client):
    alarm = _sos(alarm_world)
    c = _client(client, alarm_world["operator"])
    assert landing_page(alarm_world["operator"]) == "alarms:console"  # where signing in takes them
    page = c.get(reverse("alarms:console"))
    text = page.content.decode()
    assert page.status_code == 200
    assert f'data-testid="alarm-{alarm.pk}"' in text and "王秀英" in text and "一键呼叫" in text
    assert f'data-testid="ack-{alarm.pk}"' in text          # the operator may acknowledge: the button is there
    assert 'hx-trigger="every 3s"' in text                   # the queue refreshes itself
    assert "接警员小周" in text                               # who is on duty now
    partial = c.get(reverse("alarms:queue"))
    assert partial.status_code == 200 and f'data-raised="{alarm.pk} "' in partial.content.decode()
    assert "<html" not in partial.content.decode()


def test_the_steps_are_buttons_on_the_alarm_page_and_each_is_timed(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    c = _client(client, w["operator"])
    url = reverse("alarms:detail", args=[alarm.pk])
    page = c.get(url).content.decode()
    assert 'data-testid="step-acknowledge"' in page and 'data-testid="step-dispatch"' not in page
    assert "王秀英" in page and 'data-testid="elder-summary"' in page
    assert c.post(reverse("alarms:step", args=[alarm.pk, "acknowledge"])).status_code == 302
    page = c.get(url).content.decode()
    assert 'data-testid="step-acknowledge"' not in page and 'data-testid="step-dispatch"' in page
    c.post(reverse("alarms:step", args=[alarm.pk, "dispatch"]),
           {"responder": "community", "responder_user": w["community"].pk})
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.DISPATCHED and alarm.responder_user == w["community"]
    # The community worker it went to reports arriving and the outcome from their own account.
    cw = _client(client, w["community"])
    assert 'data-testid="step-on_site"' in cw.get(url).content.decode()
    cw.post(reverse("alarms:step", args=[alarm.pk, "on_site"]))
    cw.post(reverse("alarms:step", args=[alarm.pk, "resolve"]), {"outcome": "handled_at_home", "note": "扶起"})
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED and alarm.outcome == AlarmOutcome.HANDLED_AT_HOME
    steps = list(alarm.steps.values_list("kind", flat=True))
    assert steps == ["raised", "acknowledged", "dispatched", "on_site", "resolved"]


def test_a_refused_step_says_why_and_changes_nothing(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    c = _client(client, w["operator"])
    response = c.post(reverse("alarms:step", args=[alarm.pk, "resolve"]), {"outcome": "false_alarm"}, follow=True)
    assert "只有已接警、未处置完毕的报警可以登记处置结果。" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RAISED and alarm.outcome == ""
    assert c.post(reverse("alarms:step", args=[alarm.pk, "explode"])).status_code == 404
    c.post(reverse("alarms:step", args=[alarm.pk, "acknowledge"]))
    response = c.post(reverse("alarms:step", args=[alarm.pk, "dispatch"]), {"responder": "family"}, follow=True)
    assert "请填写处置人姓名。" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACKNOWLEDGED


def test_an_alarm_outside_ones_area_is_404_and_pages_outside_ones_role_too(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    for role in ("other_street", "other_bureau", "caregiver"):
        c = _client(client, w[role])
        assert c.get(reverse("alarms:detail", args=[alarm.pk])).status_code == 404, role
        assert c.post(reverse("alarms:step", args=[alarm.pk, "acknowledge"])).status_code == 404, role
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RAISED
    assert _client(client, w["assessor"]).get(reverse("alarms:console")).status_code == 404
    assert _client(client, w["caregiver"]).get(reverse("alarms:devices")).status_code == 404


def test_a_call_taken_by_phone_opens_an_alarm_from_the_console(alarm_world, client):
    w = alarm_world
    c = _client(client, w["operator"])
    response = c.post(reverse("alarms:raise"), {"elder": w["elder"].pk, "kind": "fall", "note": "邻居来电"})
    alarm = Alarm.objects.get(kind="fall")
    assert response.status_code == 302 and response["Location"] == reverse("alarms:detail", args=[alarm.pk])
    assert alarm.device is None and alarm.elder == w["elder"]
    # An elder outside the operator's county is not found (nothing about them is told).
    far = c.post(reverse("alarms:raise"), {"elder": 999999, "kind": "fall"}, follow=True)
    assert "您的值守范围内没有这位老人。" in far.content.decode() and Alarm.objects.count() == 1


def test_the_lists_show_what_the_area_has(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    services.ingest(vendor=w["vendor"], events=[event("NOBODY-9")], channel=Channel.WEBHOOK)
    services.check_silent_devices(now=timezone.now() + datetime.timedelta(hours=30))
    street = _client(client, w["street"])
    month = timezone.localdate().strftime("%Y-%m")
    listing = street.get(reverse("alarms:list"), {"month": month}).content.decode()
    assert f'data-testid="row-{alarm.pk}"' in listing
    devices = street.get(reverse("alarms:devices")).content.decode()
    assert "SOS-1" in devices and "DOOR-1" in devices
    # Events of an unregistered device wait for the vendor, visible to the county (the vendor's jurisdiction).
    assert "NOBODY-9" in _client(client, w["bureau"]).get(reverse("alarms:quarantine")).content.decode()
    street = _client(client, w["street"])
    assert street.get(reverse("alarms:quarantine")).status_code == 404
    tasks = MaintenanceTask.objects.filter(kind="offline")
    assert tasks.count() == 2
    provider = _client(client, w["provider"])  # the maintainer of the vendor's devices
    page = provider.get(reverse("alarms:maintenance")).content.decode()
    assert all(f'data-testid="task-{t.pk}"' in page for t in tasks)
    provider.post(reverse("alarms:maintenance_finish", args=[tasks[0].pk]), {"note": "换电池"})
    assert MaintenanceTask.objects.filter(kind="offline", status="open").count() == 1


def test_the_rota_page_adds_a_shift_and_shows_who_is_on_duty(alarm_world, client):
    w = alarm_world
    c = _client(client, w["street"])
    page = c.get(reverse("alarms:rota")).content.decode()
    assert "接警员小周" in page and 'data-testid="rota-add"' in page
    start = timezone.localtime() + datetime.timedelta(days=1)
    before = DutyShift.objects.count()
    c.post(reverse("alarms:rota_add"), {"region": "511903001", "user": w["street"].pk, "duty_role": "operator",
                                        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
                                        "ends_at": (start + datetime.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")})
    assert DutyShift.objects.count() == before + 1
    # The operator reads the rota but has no form to change it.
    assert 'data-testid="rota-add"' not in _client(client, w["operator"]).get(reverse("alarms:rota")).content.decode()


def test_the_bureau_sets_the_service_level_and_sees_a_new_secret_once(alarm_world, client):
    w = alarm_world
    c = _client(client, w["bureau"])
    c.post(reverse("alarms:service_level"), {"region": "511903", "ack_seconds": "90", "arrive_minutes": "40",
                                             "silence_hours": "24"})
    assert services.service_level_for("511903001002").ack_seconds == 90
    bad = c.post(reverse("alarms:service_level"), {"region": "511903", "ack_seconds": "abc", "arrive_minutes": "40",
                                                   "silence_hours": "24"}, follow=True)
    assert "接警时限须为 10 至 3600 秒。" in bad.content.decode()
    assert services.service_level_for("511903001002").ack_seconds == 90
    vendor = Vendor.objects.get(code="anxin")
    old = vendor.secret
    page = c.post(reverse("alarms:vendor_rotate", args=[vendor.pk]), follow=True).content.decode()
    vendor.refresh_from_db()
    assert vendor.secret != old and vendor.secret in page and 'data-testid="new-secret"' in page
    assert vendor.secret not in c.get(reverse("alarms:settings")).content.decode()  # shown once
    assert _client(client, w["street"]).post(reverse("alarms:vendor_rotate", args=[vendor.pk])).status_code == 404


def test_the_home_and_elder_pages_show_the_alarms(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    c = _client(client, w["community"])
    assert 'data-testid="alarms-panel"' in c.get("/").content.decode()
    elder_page = c.get(reverse("registry:elder_detail", args=[w["elder"].pk])).content.decode()
    assert 'data-testid="elder-alarms"' in elder_page and reverse("alarms:detail", args=[alarm.pk]) in elder_page
    assert "SOS-1" in elder_page


def test_notifications_lead_to_the_alarm(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    c = _client(client, w["operator"])
    note = w["operator"].alarm_notifications.get(alarm=alarm)
    assert note.subject in c.get(reverse("alarms:notifications")).content.decode()
    response = c.post(reverse("alarms:notification_read", args=[note.pk]), {"open": "1"})
    assert response["Location"] == reverse("alarms:detail", args=[alarm.pk])
    note.refresh_from_db()
    assert note.read_at is not None
    assert _client(client, w["operator2"]).post(reverse("alarms:notification_read", args=[note.pk])).status_code == 404


def test_the_statistics_page_shows_the_month_and_the_streets(alarm_world, client):
    w = alarm_world
    alarm = _sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    services.resolve(actor=w["operator"], alarm=alarm, outcome="false_alarm")
    c = _client(client, w["bureau"])
    page = c.get(reverse("alarms:stats")).content.decode()
    # One alarm this month, acknowledged at once (within 60 s: 1/1), resolved as a false alarm (1 of 1 resolved).
    assert 'data-testid="stat-total">1<' in page and 'data-testid="stat-ack-share">100.0%<' in page
    assert 'data-testid="stat-false">100.0%<' in page and "登科街道" in page  # the county's table of streets
    street = _client(client, w["street"]).get(reverse("alarms:stats"), {"region": "511903002"}).content.decode()
    assert "登科街道" in street and 'data-testid="stat-streets"' not in street  # outside its area: its own
    assert _client(client, w["caregiver"]).get(reverse("alarms:stats")).status_code == 404
