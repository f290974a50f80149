"""The alarms API with hand-computed values: an SOS through its whole life cycle by the duty desk, what the
alarm shows of the elder and to whom, refusals (409 not now, 403 not yours, 404 out of scope), an alarm taken
by phone, devices, vendors' secrets shown once, the rota, the service level, notifications and statistics."""

import datetime
import json

import pytest
from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.models import (
    Alarm,
    Channel,
    Device,
    DeviceEvent,
    DutyShift,
    MaintenanceTask,
    Notification,
    ServiceLevel,
    Vendor,
)
from yiyang.alarms.tests.factories import event

pytestmark = pytest.mark.django_db
API = "/api/v1/alarms/"


def post(client, user, url, data=None):
    client.force_login(user)
    return client.post(API + url, json.dumps(data or {}), content_type="application/json")


def get(client, user, url, params=None):
    client.force_login(user)
    return client.get(API + url, params or {})


def sos(w, serial="SOS-1", **kw):
    services.ingest(vendor=w["vendor"], events=[event(serial, **kw)], channel=Channel.WEBHOOK)
    return Alarm.objects.filter(device__serial=serial).latest("raised_at")


def test_the_desk_takes_an_sos_through_its_life_cycle(client, alarm_world, frozen_clock):
    w = alarm_world
    alarm = sos(w)
    listed = get(client, w["operator"], "alarms", {"open": "true"}).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == alarm.pk
    assert listed["items"][0]["status"] == "raised" and listed["items"][0]["device"]["serial"] == "SOS-1"

    detail = get(client, w["operator"], f"alarms/{alarm.pk}").json()
    assert detail["next_steps"] == ["acknowledge", "note"]
    assert [s["kind"] for s in detail["steps"]] == ["raised"]
    # The operator has no access to the register: what they see of the elder comes through the alarm.
    assert detail["summary"]["living_situation"] == "独居"
    assert [d["serial"] for d in detail["summary"]["devices"]] == ["DOOR-1", "SOS-1"]  # by kind: door, sos_button

    # Dispatching before anyone acknowledged: 409, nothing changes.
    r = post(client, w["operator"], f"alarms/{alarm.pk}/dispatch", {"responder": "community", "responder_name": "李"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"

    frozen_clock.shift(datetime.timedelta(seconds=40))
    r = post(client, w["operator"], f"alarms/{alarm.pk}/acknowledge", {"note": "老人说摔倒了"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["next_escalation_at"] is None
    # A responder account of another county is not found (the same 422 as one that does not exist).
    r = post(client, w["operator"], f"alarms/{alarm.pk}/dispatch",
             {"responder": "community", "responder_user": w["other_bureau"].pk})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "responder_user"
    r = post(client, w["operator"], f"alarms/{alarm.pk}/dispatch",
             {"responder": "community", "responder_user": w["community"].pk, "responder_name": "社区小李"})
    assert r.status_code == 200 and r.json()["responder_name"] == "社区小李"
    # The community worker it was dispatched to arrives and resolves it.
    frozen_clock.shift(datetime.timedelta(minutes=12))
    assert post(client, w["community"], f"alarms/{alarm.pk}/on-site").json()["status"] == "on_site"
    r = post(client, w["community"], f"alarms/{alarm.pk}/resolve", {"outcome": "deceased"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"  # a death needs a note
    r = post(client, w["community"], f"alarms/{alarm.pk}/resolve", {"outcome": "false_alarm", "note": "误按"})
    assert r.json()["status"] == "resolved" and r.json()["outcome"] == "false_alarm"
    r = post(client, w["operator"], f"alarms/{alarm.pk}/notes", {"note": "已回电确认"})
    assert r.status_code == 201 and r.json()["kind"] == "note"
    r = post(client, w["operator"], f"alarms/{alarm.pk}/close")
    assert r.json()["status"] == "closed" and r.json()["next_steps"] == []
    assert [s["kind"] for s in r.json()["steps"]] == ["raised", "acknowledged", "dispatched", "on_site", "resolved",
                                                      "note", "closed"]
    alarm.refresh_from_db()
    # 40 s on the frozen clock, plus the few the requests took while it ticks.
    assert 40 <= (alarm.acknowledged_at - alarm.raised_at).total_seconds() < 50


def test_who_sees_the_elder_summary(client, alarm_world):
    w = alarm_world
    from yiyang.registry.models import FamilyLink

    FamilyLink.objects.create(user=w["family"], elder=w["elder"], relationship="daughter")
    alarm = sos(w)
    family = get(client, w["family"], f"alarms/{alarm.pk}").json()
    assert family["id"] == alarm.pk and family["summary"] is None and family["next_steps"] == []
    assert get(client, w["street"], f"alarms/{alarm.pk}").json()["summary"] is not None
    # The maintainer sees its device's alarm, not the elder's record.
    assert get(client, w["provider"], f"alarms/{alarm.pk}").json()["summary"] is None
    # A caregiver of the provider sees nothing: nothing was dispatched to them.
    assert get(client, w["caregiver"], f"alarms/{alarm.pk}").status_code == 404
    # Family may not take steps: 403 (they see the alarm), not 404.
    assert post(client, w["family"], f"alarms/{alarm.pk}/on-site").status_code == 403
    assert post(client, w["family"], f"alarms/{alarm.pk}/acknowledge").status_code == 404  # no change scope


def test_an_alarm_taken_by_phone(client, alarm_world):
    w = alarm_world
    r = post(client, w["operator"], "alarms", {"elder": w["elder"].pk, "kind": "fall", "note": "邻居来电"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["device"] is None and body["kind"] == "fall" and body["steps"][0]["note"] == "邻居来电"
    # An elder of another county is the same 422 as one that does not exist.
    from yiyang.core.tests.factories import make_user
    from yiyang.registry.tests.factories import make_elder

    far = make_elder(make_user("bz", "bureau", region="511902"), seq=77, name="巴州老人", residence="511902001001")
    for pk in (far.pk, 10**9):
        r = post(client, w["operator"], "alarms", {"elder": pk, "kind": "fall"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "elder"
    assert post(client, w["family"], "alarms", {"elder": w["elder"].pk, "kind": "fall"}).status_code == 403


def test_filters_of_the_alarm_list(client, alarm_world):
    w = alarm_world
    first = sos(w)
    services.acknowledge(actor=w["operator"], alarm=first)
    services.resolve(actor=w["operator"], alarm=first, outcome="false_alarm")
    sos(w)  # the next event raises a new one
    services.raise_manual_alarm(actor=w["operator"], elder=w["elder"], kind="fall")
    op = w["operator"]
    assert get(client, op, "alarms").json()["count"] == 3
    assert get(client, op, "alarms", {"open": "true"}).json()["count"] == 2
    assert get(client, op, "alarms", {"kind": "fall"}).json()["count"] == 1
    assert get(client, op, "alarms", {"status": "resolved"}).json()["items"][0]["id"] == first.pk
    assert get(client, op, "alarms", {"region": "511903002"}).json()["count"] == 0
    assert get(client, op, "alarms", {"status": "nonsense"}).status_code == 422


def test_devices_register_retire_and_release_the_quarantine(client, alarm_world):
    w = alarm_world
    # An unknown watch sends an SOS: quarantined in the vendor's jurisdiction.
    services.ingest(vendor=w["vendor"], events=[event("WATCH-9")], channel=Channel.WEBHOOK)
    q = get(client, w["bureau"], "quarantine").json()
    assert q["count"] == 1 and q["items"][0]["device_serial"] == "WATCH-9" and q["items"][0]["vendor_code"] == "anxin"
    today = timezone.localdate()
    body = {"vendor": w["vendor"].pk, "serial": "WATCH-9", "kind": "smartwatch", "elder": w["elder"].pk,
            "installed_on": str(today)}
    assert post(client, w["family"], "devices", body).status_code == 403
    r = post(client, w["community"], "devices", body)
    assert r.status_code == 201, r.content
    device = r.json()
    assert device["maintainer"]["id"] == w["provider"].organisation_id  # the vendor's maintainer
    assert not DeviceEvent.objects.filter(quarantined=True).exists()
    assert post(client, w["community"], "devices", body).json()["errors"][0]["field"] == "serial"
    assert post(client, w["community"], "devices", {**body, "serial": "X", "installed_on": str(
        today + datetime.timedelta(days=1))}).json()["errors"][0]["field"] == "installed_on"
    listed = get(client, w["provider"], "devices", {"kind": "smartwatch"}).json()
    assert [d["serial"] for d in listed["items"]] == ["WATCH-9"]
    r = post(client, w["community"], f"devices/{device['id']}/retire")
    assert r.json()["status"] == "retired"
    assert Device.objects.get(pk=device["id"]).status == "retired"
    # The operator sees devices but may not manage them.
    assert post(client, w["operator"], f"devices/{device['id']}/retire").status_code == 403


def test_a_vendor_secret_is_shown_once_and_rotation_keeps_the_old_one_for_the_grace(client, alarm_world):
    w = alarm_world
    r = post(client, w["bureau"], "vendors", {"code": "huaxia", "name": "华夏物联", "format": "scaip_xml",
                                              "jurisdiction": "511903"})
    assert r.status_code == 201, r.content
    created = r.json()
    vendor = Vendor.objects.get(code="huaxia")
    assert created["secret"] == vendor.secret and len(created["secret"]) >= 40
    shown = get(client, w["bureau"], f"vendors/{vendor.pk}").json()
    assert "secret" not in shown and shown["format"] == "scaip_xml"
    assert post(client, w["street"], "vendors", {"code": "x", "name": "x", "format": "yiyang_json",
                                                 "jurisdiction": "511903"}).status_code == 403
    r = post(client, w["bureau"], f"vendors/{vendor.pk}/rotate-secret", {"grace_hours": 2})
    new = r.json()
    vendor.refresh_from_db()
    assert new["secret"] == vendor.secret != created["secret"] and vendor.previous_secret == created["secret"]
    assert (vendor.previous_valid_until - vendor.secret_rotated_at) == datetime.timedelta(hours=2)
    # The street sees the county's vendors but cannot rotate: 404 (no change scope).
    assert get(client, w["street"], "vendors").json()["count"] == 2
    assert post(client, w["street"], f"vendors/{vendor.pk}/rotate-secret", {}).status_code == 404


def test_maintenance_tasks_are_finished_once(client, alarm_world):
    w = alarm_world
    services.ingest(vendor=w["vendor"], events=[event("DOOR-1", "alarm", "low_battery", battery=8)],
                    channel=Channel.WEBHOOK)
    task = MaintenanceTask.objects.get(device=w["door"])
    listed = get(client, w["provider"], "maintenance").json()
    assert [t["id"] for t in listed["items"]] == [task.pk] and listed["items"][0]["kind"] == "low_battery"
    r = post(client, w["provider"], f"maintenance/{task.pk}/finish", {"note": "已换电池"})
    assert r.json()["status"] == "done" and r.json()["note"] == "已换电池"
    assert post(client, w["provider"], f"maintenance/{task.pk}/finish", {}).status_code == 409
    assert get(client, w["provider"], "maintenance").json()["count"] == 0
    assert get(client, w["provider"], "maintenance", {"status": "all"}).json()["count"] == 1


def test_the_rota_and_who_is_on_duty(client, alarm_world):
    w = alarm_world
    now = get(client, w["operator"], "rota/now", {"region": "511903001002"}).json()
    assert [u["name"] for u in now["operator"]] == ["接警员小周"]
    assert [u["name"] for u in now["backup"]] == ["接警员小吴"]
    assert [u["name"] for u in now["duty_officer"]] == [str(w["street"])]  # the street's own duty officer
    assert get(client, w["operator"], "rota/now", {"region": "511902001"}).status_code == 404
    start = timezone.now() + datetime.timedelta(days=1)
    body = {"region": "511903001", "user": w["community"].pk, "duty_role": "operator",
            "starts_at": start.isoformat(), "ends_at": (start + datetime.timedelta(hours=25)).isoformat()}
    r = post(client, w["street"], "rota", body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_at"  # over 24 hours
    body["ends_at"] = (start + datetime.timedelta(hours=8)).isoformat()
    r = post(client, w["street"], "rota", body)
    assert r.status_code == 201, r.content
    shift_id = r.json()["id"]
    assert post(client, w["operator"], "rota", body).status_code == 403
    day = str(timezone.localdate(start))
    assert shift_id in {s["id"] for s in get(client, w["street"], "rota", {"day": day}).json()["items"]}
    client.force_login(w["street"])
    assert client.delete(f"{API}rota/{shift_id}").status_code == 204
    assert not DutyShift.objects.filter(pk=shift_id).exists()
    # The operator's own shift, running now: the operator cannot remove it (no delete scope).
    mine = DutyShift.objects.filter(user=w["operator"]).first()
    client.force_login(w["operator"])
    assert client.delete(f"{API}rota/{mine.pk}").status_code == 404


def test_the_service_level_of_a_street(client, alarm_world):
    w = alarm_world
    body = {"ack_seconds": 45, "arrive_minutes": 30, "chain": [{"to": "duty_officer", "wait_seconds": 60},
                                                                {"to": "bureau", "wait_seconds": 0}]}
    client.force_login(w["bureau"])
    r = client.put(f"{API}service-levels/511903001", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["chain"][0] == {"to": "duty_officer", "wait_seconds": 60}
    r = client.put(f"{API}service-levels/511903001", json.dumps({**body, "ack_seconds": 5}),
                   content_type="application/json")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ack_seconds"
    r = client.put(f"{API}service-levels/511903001", json.dumps({**body, "ack_seconds": 90}),
                   content_type="application/json")
    assert r.status_code == 200 and ServiceLevel.objects.get(jurisdiction_id="511903001").ack_seconds == 90
    # Another county's street: not found; a street worker: not theirs to set.
    assert client.put(f"{API}service-levels/511902001", json.dumps(body),
                      content_type="application/json").status_code == 404
    client.force_login(w["street"])
    assert client.put(f"{API}service-levels/511903001", json.dumps(body),
                      content_type="application/json").status_code == 404
    assert [s["jurisdiction"]["code"] for s in get(client, w["street"], "service-levels").json()["items"]] == [
        "511903001"]


def test_notifications_are_the_callers_own(client, alarm_world):
    w = alarm_world
    alarm = sos(w)
    mine = get(client, w["operator"], "notifications").json()
    assert mine["count"] == 1 and mine["items"][0]["alarm_id"] == alarm.pk and mine["items"][0]["read_at"] is None
    n = Notification.objects.get(recipient=w["operator"])
    assert get(client, w["operator2"], f"notifications/{n.pk}").status_code == 404
    assert post(client, w["operator2"], f"notifications/{n.pk}/read").status_code == 404
    assert post(client, w["operator"], f"notifications/{n.pk}/read").json()["read_at"] is not None
    assert get(client, w["operator"], "notifications", {"unread": "true"}).json()["count"] == 0


def test_stats_of_the_callers_area(client, alarm_world):
    w = alarm_world
    alarm = sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    body = get(client, w["operator"], "stats").json()
    assert body["region_code"] == "511903" and body["total"] == 1 and body["by_kind"] == {"sos": 1}
    assert body["acknowledge"]["count"] == 1 and body["devices_active"] == 2
    assert get(client, w["community"], "stats", {"region": "511903"}).status_code == 404
    assert get(client, w["operator"], "stats", {"month": "2026-13"}).status_code == 422
