"""The vendors' webhook, over real HTTP through Django's test client: the signature is the authentication (401
and nothing stored but one security log line), a malformed payload is a 422 naming the field, a valid one is
202 with what was accepted, a replay counts once, a flood from one device makes one alarm with a count."""

import datetime
import json
import logging

import pytest
from django.test import Client

from yiyang.alarms import services
from yiyang.alarms.adapters import MAX_BODY_BYTES, MAX_EVENTS
from yiyang.alarms.models import Alarm, AlarmKind, Channel, DeviceEvent, EventKind, Vendor, VendorFormat

from .factories import json_event, make_vendor, signed_post

pytestmark = pytest.mark.django_db

URL = "/api/v1/alarms/webhooks/"


def _security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "yiyang.security"]


def test_a_signed_sos_is_accepted_and_raises_an_alarm(client, alarm_world):
    w = alarm_world
    resp = signed_post(client, "anxin", w["secret"], json_event("SOS-1", battery=76, lat=31.94, lng=106.64))
    assert resp.status_code == 202, resp.content
    assert resp.json() == {"accepted": 1, "duplicates": 0, "quarantined": 0}
    stored = DeviceEvent.objects.get()
    assert (stored.channel, stored.kind, stored.alarm_kind, stored.battery_pct) == (
        Channel.WEBHOOK, EventKind.ALARM, AlarmKind.SOS, 76)
    assert stored.processed_at is not None and stored.payload["device_id"] == "SOS-1"
    alarm = Alarm.objects.get()
    assert (alarm.device, alarm.kind, alarm.event_count) == (w["sos"], AlarmKind.SOS, 1)
    assert str(alarm.latitude) == "31.940000"
    w["sos"].refresh_from_db()
    assert w["sos"].battery_pct == 76


def test_a_replayed_message_is_accepted_once_and_counted_as_a_duplicate(client, alarm_world):
    w = alarm_world
    body = json.dumps(json_event("SOS-1", event_id="anxin-77")).encode()
    first = signed_post(client, "anxin", w["secret"], body)
    again = signed_post(client, "anxin", w["secret"], body)
    assert first.json() == {"accepted": 1, "duplicates": 0, "quarantined": 0}
    assert again.status_code == 202
    assert again.json() == {"accepted": 0, "duplicates": 1, "quarantined": 0}
    assert DeviceEvent.objects.count() == 1
    assert Alarm.objects.get().event_count == 1


def test_a_flood_from_one_device_makes_one_alarm_with_a_count(client, alarm_world):
    w = alarm_world
    # Forty presses of the button, each its own request, and a batch of ten more: one alarm, fifty events.
    for _ in range(40):
        assert signed_post(client, "anxin", w["secret"], json_event("SOS-1")).status_code == 202
    batch = {"events": [json_event("SOS-1") for _ in range(10)]}
    assert signed_post(client, "anxin", w["secret"], batch).json() == {
        "accepted": 10, "duplicates": 0, "quarantined": 0}
    alarm = Alarm.objects.get()
    assert alarm.event_count == 50
    assert DeviceEvent.objects.filter(alarm=alarm).count() == 50


def test_a_batch_mixes_heartbeats_alarms_and_unknown_devices(client, alarm_world):
    w = alarm_world
    batch = {"events": [json_event("DOOR-1", "heartbeat", battery=55), json_event("DOOR-1", "door"),
                        json_event("SOS-1", "fall"), json_event("NOBODY-9", "sos")]}
    resp = signed_post(client, "anxin", w["secret"], batch)
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 4, "duplicates": 0, "quarantined": 1}
    assert Alarm.objects.get().kind == AlarmKind.FALL
    w["door"].refresh_from_db()
    assert w["door"].battery_pct == 55 and w["door"].last_activity_at is not None
    assert DeviceEvent.objects.get(quarantined=True).device_serial == "NOBODY-9"


@pytest.mark.parametrize("case", ["unknown_vendor", "bad_signature", "wrong_secret", "old", "ahead", "missing",
                                  "inactive", "body_changed"])
def test_an_unauthenticated_message_is_401_and_stores_nothing_but_a_log_line(client, alarm_world, caplog, case):
    w = alarm_world
    now = int(datetime.datetime.now().timestamp())
    body = json.dumps(json_event("SOS-1")).encode()
    code, kwargs = "anxin", {}
    if case == "unknown_vendor":
        code = "nobody"
    elif case == "bad_signature":
        kwargs["signature"] = "0" * 64
    elif case == "wrong_secret":
        kwargs["signature"] = services.setup._new_secret()
    elif case == "old":
        kwargs["ts"] = now - 301
    elif case == "ahead":
        kwargs["ts"] = now + 301
    elif case == "missing":
        kwargs["signature"] = ""
    elif case == "inactive":
        Vendor.objects.filter(pk=w["vendor"].pk).update(active=False)
    caplog.set_level(logging.WARNING, logger="yiyang.security")
    if case == "body_changed":
        # Signed over one serialisation, sent as another (the same JSON, other bytes).
        from yiyang.alarms.events import sign

        ts = now
        resp = client.post(URL + code, data=json.dumps(json.loads(body), indent=1), content_type="application/json",
                           headers={"X-Yiyang-Timestamp": str(ts), "X-Yiyang-Signature": sign(w["secret"], ts, body)})
    else:
        resp = signed_post(client, code, w["secret"], body, **kwargs)
    assert resp.status_code == 401, resp.content
    assert resp.json() == {"status": 401, "code": "unauthenticated", "message": "签名无效或已过期，或厂商未登记。",
                           "errors": []}
    assert DeviceEvent.objects.count() == 0 and Alarm.objects.count() == 0
    lines = _security_lines(caplog)
    assert len(lines) == 1
    assert lines[0].startswith("alarm message refused: ") and f"vendor='{code}'" in lines[0]
    assert "channel=webhook" in lines[0] and "source='127.0.0.1'" in lines[0]


def test_the_log_line_says_why(client, alarm_world, caplog):
    w = alarm_world
    caplog.set_level(logging.WARNING, logger="yiyang.security")
    signed_post(client, "anxin", w["secret"], json_event(), signature="f" * 64)
    signed_post(client, "anxin", w["secret"], json_event(), ts=int(datetime.datetime.now().timestamp()) - 400)
    signed_post(client, "nobody\nforged line", w["secret"], json_event())
    lines = _security_lines(caplog)
    assert [line.split(" vendor=")[0] for line in lines] == [
        "alarm message refused: bad signature", "alarm message refused: clock skew",
        "alarm message refused: unknown vendor"]
    assert "\n" not in lines[2]  # the code is quoted, a newline in it cannot start a forged log line


def test_the_previous_secret_works_during_its_grace_period_only(client, alarm_world, frozen_clock):
    w = alarm_world
    old = w["secret"]
    new = services.rotate_secret(actor=w["bureau"], vendor=w["vendor"], grace_hours=2)
    assert signed_post(client, "anxin", old, json_event("DOOR-1", "heartbeat")).status_code == 202
    assert signed_post(client, "anxin", new, json_event("DOOR-1", "heartbeat")).status_code == 202
    frozen_clock.shift(datetime.timedelta(hours=2, minutes=1))
    assert signed_post(client, "anxin", old, json_event("DOOR-1", "heartbeat")).status_code == 401
    assert signed_post(client, "anxin", new, json_event("DOOR-1", "heartbeat")).status_code == 202
    assert DeviceEvent.objects.count() == 3


def test_a_signature_may_carry_the_sha256_prefix(client, alarm_world):
    from yiyang.alarms.events import sign

    w = alarm_world
    body = json.dumps(json_event()).encode()
    ts = int(datetime.datetime.now().timestamp())
    resp = signed_post(client, "anxin", w["secret"], body, ts=ts, signature="sha256=" + sign(w["secret"], ts, body))
    assert resp.status_code == 202


def test_the_webhook_needs_no_csrf_token_and_opens_no_session(alarm_world):
    w = alarm_world
    strict = Client(enforce_csrf_checks=True)
    resp = signed_post(strict, "anxin", w["secret"], json_event())
    assert resp.status_code == 202, resp.content
    assert "sessionid" not in resp.cookies and "csrftoken" not in resp.cookies


@pytest.mark.parametrize(("body", "field", "message"), [
    (b"{not json", "body", "请求内容不是有效的 JSON。"),
    (b"[1, 2]", "body", "应为一个事件对象，或 {\"events\": [...]}。"),
    (b'{"events": {}}', "events", "应为列表。"),
    (b'{"events": []}', "events", "报文中没有事件。"),
    (json.dumps({"events": [json_event() for _ in range(MAX_EVENTS + 1)]}).encode(), "events",
     f"一次最多 {MAX_EVENTS} 个事件。"),
    (json.dumps({"event_id": "e1", "device_id": "SOS-1", "type": "sos"}).encode(), "occurred_at", "此项为必填项。"),
    (json.dumps({"event_id": "e1", "device_id": "SOS-1", "type": "sos", "occurred_at": "2026-11-18T10:00:00"})
     .encode(), "occurred_at", "发生时间须带时区。"),
    (json.dumps({"event_id": "e1", "device_id": "SOS-1", "type": "sos", "occurred_at": "yesterday"}).encode(),
     "occurred_at", "时间格式应为 ISO 8601，例如 2026-12-04T20:15:00+08:00。"),
    (json.dumps({"events": [json_event(), json_event(battery=120)]}).encode(), "events.1.battery",
     "电量须为 0 至 100 的整数。"),
    (json.dumps(json_event(event_id="x" * 65)).encode(), "event_id", "内容过长（最多 64 字）。"),
    (json.dumps(json_event(device_id="SOS\x07-1")).encode(), "device_id", "不能包含控制字符。"),
    # A NUL is refused by the API's edge before any operation (api/middleware.py), signed or not.
    (json.dumps(json_event(device_id="SOS\x00-1")).encode(), "device_id", "不能包含控制字符 U+0000 NULL。"),
    (json.dumps(json_event(lat=91)).encode(), "lat", "坐标超出范围（±90）。"),
    (b"\xff\xfe\x00garbage", "body", "请求内容不是有效的 JSON。"),
    (b"[" * 100_000, "body", "请求内容不是有效的 JSON。"),
])
def test_a_malformed_payload_is_a_422_naming_the_field(client, alarm_world, body, field, message):
    resp = signed_post(client, "anxin", alarm_world["secret"], body)
    assert resp.status_code == 422, resp.content[:300]
    errors = resp.json()["errors"]
    assert {"field": field, "code": "invalid", "message": message} in errors or \
        (field, message) in [(e["field"], e["message"]) for e in errors], errors
    assert DeviceEvent.objects.count() == 0


def test_an_unknown_type_is_refused_with_the_known_ones(client, alarm_world):
    resp = signed_post(client, "anxin", alarm_world["secret"], json_event(type_="earthquake"))
    assert resp.status_code == 422
    message = resp.json()["errors"][0]["message"]
    assert message.startswith("事件类型无效：earthquake（可用：sos, fall,") and "heartbeat" in message


def test_an_event_older_than_a_week_is_refused_by_ingest(client, alarm_world):
    at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=8)
    resp = signed_post(client, "anxin", alarm_world["secret"], json_event(at=at))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "occurred_at"
    assert DeviceEvent.objects.count() == 0


def test_an_over_large_body_is_a_413(client, alarm_world):
    body = json.dumps(json_event(padding="x" * MAX_BODY_BYTES)).encode()
    resp = signed_post(client, "anxin", alarm_world["secret"], body)
    assert resp.status_code == 413
    assert resp.json()["code"] == "request_too_large"


def test_an_over_long_vendor_code_or_header_is_a_422(client, alarm_world):
    resp = signed_post(client, "x" * 33, alarm_world["secret"], json_event())
    assert resp.status_code == 422
    resp = signed_post(client, "anxin", alarm_world["secret"], json_event(), signature="a" * 101)
    assert resp.status_code == 422
    assert DeviceEvent.objects.count() == 0


def test_get_is_not_allowed(client, alarm_world):
    resp = client.get(URL + "anxin")
    assert resp.status_code == 405
    assert resp.json()["code"] == "method_not_allowed"


# ------------------------------------------------------------------------------------------------ scaip_xml

SCAIP = """<?xml version="1.0" encoding="UTF-8"?>
<scaip>
  <msg><ref>{ref}</ref><cid>CTRL-7</cid><did>PENDANT-1</did><dty>pendant</dty><stc>{stc}</stc>
       <time>{time}</time><bat>64</bat><loc><lat>31.95</lat><lon>106.65</lon><txt>卧室</txt></loc></msg>
</scaip>"""


@pytest.fixture
def scaip_vendor(alarm_world):
    w = alarm_world
    vendor, secret = make_vendor(w["bureau"], "huaxia", format=VendorFormat.SCAIP_XML)
    device = services.register_device(actor=w["community"], vendor=vendor, serial="PENDANT-1", kind="sos_button",
                                      elder=w["elder"], installed_on=datetime.date(2026, 10, 1))
    return {**w, "scaip": vendor, "scaip_secret": secret, "pendant": device}


def test_a_scaip_message_raises_an_alarm(client, scaip_vendor):
    w = scaip_vendor
    body = SCAIP.format(ref="H-1", stc="101", time=datetime.datetime.now(datetime.UTC).isoformat()).encode()
    resp = signed_post(client, "huaxia", w["scaip_secret"], body, content_type="application/xml")
    assert resp.status_code == 202, resp.content
    assert resp.json() == {"accepted": 1, "duplicates": 0, "quarantined": 0}
    alarm = Alarm.objects.get()
    assert (alarm.device, alarm.kind, str(alarm.latitude)) == (w["pendant"], AlarmKind.FALL, "31.950000")
    assert DeviceEvent.objects.get().payload == {
        "ref": "H-1", "cid": "CTRL-7", "did": "PENDANT-1", "dty": "pendant", "stc": "101",
        "time": DeviceEvent.objects.get().payload["time"], "bat": 64, "loc": "卧室", "lat": "31.950000",
        "lon": "106.650000"}


def test_a_scaip_message_with_a_dtd_is_refused(client, scaip_vendor):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              b"<msg><ref>&lol2;</ref></msg>")
    resp = signed_post(client, "huaxia", scaip_vendor["scaip_secret"], laughs, content_type="application/xml")
    assert resp.status_code == 422
    assert resp.json()["errors"] == [{"field": "body", "code": "invalid", "message": "不接受 DTD 或实体声明。"}]
    assert DeviceEvent.objects.count() == 0


def test_the_webhook_is_documented_without_a_token_or_session(client, db):
    schema = client.get("/api/openapi.json").json()
    op = schema["paths"]["/api/v1/alarms/webhooks/{vendor_code}"]["post"]
    assert "security" not in op
    assert {p["name"] for p in op["parameters"]} == {"vendor_code", "X-Yiyang-Timestamp", "X-Yiyang-Signature"}
    assert {"202", "401", "413", "422"} <= set(op["responses"])
    assert "application/json" in op["requestBody"]["content"]
