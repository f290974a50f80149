"""The adapters on their own (no database): each vendor format's bytes → NormalisedEvents, or a ValidationError
naming the field in Chinese."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from yiyang.alarms import adapters
from yiyang.alarms.models import AlarmKind, EventKind, VendorFormat

AT = "2026-11-18T10:00:00+08:00"


def _errors(format, body) -> dict:
    with pytest.raises(ValidationError) as exc:
        adapters.parse(format, body)
    return exc.value.message_dict


def test_one_json_event():
    body = json.dumps({"event_id": "e1", "device_id": "SOS-1", "type": "SOS", "occurred_at": AT, "battery": "80",
                       "lat": 31.94, "lng": "106.64", "status": 100, "firmware": "2.1"}).encode()
    [e] = adapters.parse(VendorFormat.YIYANG_JSON, body)
    assert (e.event_id, e.device_serial, e.kind, e.alarm_kind) == ("e1", "SOS-1", EventKind.ALARM, AlarmKind.SOS)
    assert e.occurred_at == datetime.datetime(2026, 11, 18, 2, 0, tzinfo=datetime.UTC)
    assert (e.battery_pct, e.latitude, e.longitude) == (80, Decimal("31.940000"), Decimal("106.640000"))
    assert e.raw["firmware"] == "2.1" and e.raw["status"] == 100  # the vendor's object is kept as it came


@pytest.mark.parametrize(("type_", "kind", "alarm_kind"), [
    ("heartbeat", EventKind.HEARTBEAT, ""), ("activity", EventKind.ACTIVITY, ""), ("door", EventKind.ACTIVITY, ""),
    ("restore", EventKind.RESTORE, ""), ("fall", EventKind.ALARM, AlarmKind.FALL),
    ("low_battery", EventKind.ALARM, AlarmKind.LOW_BATTERY), ("water", EventKind.ALARM, AlarmKind.WATER)])
def test_json_types_map_to_the_kinds_ingest_knows(type_, kind, alarm_kind):
    body = json.dumps({"event_id": "e", "device_id": "d", "type": type_, "occurred_at": AT}).encode()
    [e] = adapters.parse(VendorFormat.YIYANG_JSON, body)
    assert (e.kind, e.alarm_kind) == (kind, alarm_kind)


def test_every_alarm_kind_has_a_json_type():
    assert set(AlarmKind.values) <= set(adapters.JSON_TYPES)
    assert {k for k, _a in adapters.JSON_TYPES.values()} <= set(EventKind.values)


def test_a_batch_names_each_wrong_field_by_its_position():
    body = json.dumps({"events": [
        {"event_id": "e1", "device_id": "d", "type": "sos", "occurred_at": AT},
        {"event_id": "", "device_id": "d", "type": "sos", "occurred_at": "2026-11-18 10:00"},
        "not an object",
    ]}).encode()
    assert _errors(VendorFormat.YIYANG_JSON, body) == {
        "events.1.event_id": ["此项为必填项。"], "events.1.occurred_at": ["发生时间须带时区。"],
        "events.2": ["应为对象。"]}


def test_the_errors_of_one_message_are_bounded():
    body = json.dumps({"events": [{"type": "sos"}] * 100}).encode()
    errors = _errors(VendorFormat.YIYANG_JSON, body)
    assert sum(len(v) for v in errors.values()) == adapters.MAX_ERRORS


@pytest.mark.parametrize(("value", "message"), [
    (True, "应为文本。"), ({"a": 1}, "应为文本。"), ("  ", "此项为必填项。"), ("x\ty", "不能包含控制字符。")])
def test_ids_are_text(value, message):
    body = json.dumps({"event_id": "e", "device_id": value, "type": "sos", "occurred_at": AT}).encode()
    assert _errors(VendorFormat.YIYANG_JSON, body) == {"device_id": [message]}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("battery", 101, "电量须为 0 至 100 的整数。"), ("battery", True, "电量须为 0 至 100 的整数。"),
    ("battery", 5.5, "电量须为 0 至 100 的整数。"), ("lat", "north", "坐标应为数字。"),
    ("lng", -181, "坐标超出范围（±180）。"), ("lat", "NaN", "坐标超出范围（±90）。"),
    ("status", "9" * 33, "内容过长（最多 32 字）。")])
def test_optional_values_are_checked_when_given(field, value, message):
    body = json.dumps({"event_id": "e", "device_id": "d", "type": "sos", "occurred_at": AT, field: value}).encode()
    assert _errors(VendorFormat.YIYANG_JSON, body) == {field: [message]}


def test_a_control_character_anywhere_in_the_kept_object_is_refused():
    body = json.dumps({"event_id": "e", "device_id": "d", "type": "sos", "occurred_at": AT,
                       "extra": {"note": "a\u0000b"}}).encode()
    assert _errors(VendorFormat.YIYANG_JSON, body) == {"body": ["不能包含控制字符。"]}


def test_bounds_of_a_message():
    assert _errors(VendorFormat.YIYANG_JSON, b"") == {"body": ["报文为空。"]}
    big = b" " * adapters.MAX_BODY_BYTES + b"{}"
    assert _errors(VendorFormat.YIYANG_JSON, big) == {"body": [f"报文过大（最多 {adapters.MAX_BODY_BYTES} 字节）。"]}
    assert _errors("carrier_pigeon", b"{}") == {"format": ["报文格式无效。"]}


# ------------------------------------------------------------------------------------------------ scaip_xml


def _msg(**fields) -> str:
    values = {"ref": "r1", "cid": "CTRL-1", "stc": "100", "time": AT, **fields}
    return "<msg>" + "".join(f"<{k}>{v}</{k}>" for k, v in values.items() if v is not None) + "</msg>"


def test_one_scaip_message_and_the_controller_as_the_device():
    [e] = adapters.parse(VendorFormat.SCAIP_XML, _msg(dty="button").encode())
    assert (e.event_id, e.device_serial, e.kind, e.alarm_kind) == ("r1", "CTRL-1", EventKind.ALARM, AlarmKind.SOS)
    assert e.raw == {"ref": "r1", "cid": "CTRL-1", "dty": "button", "stc": "100", "time": AT}


def test_several_scaip_messages_with_a_namespace_and_locations():
    body = (f'<s:scaip xmlns:s="urn:example:scaip">{_msg(ref="a", did="SMOKE-2", stc="110")}'
            f'{_msg(ref="b", stc="600", bat="33", loc="<lat>31.9</lat><lon>106.6</lon><txt>厨房</txt>")}</s:scaip>')
    a, b = adapters.parse(VendorFormat.SCAIP_XML, body.encode())
    assert (a.device_serial, a.alarm_kind) == ("SMOKE-2", AlarmKind.SMOKE)
    assert (b.kind, b.battery_pct, b.latitude, b.raw["loc"]) == (EventKind.HEARTBEAT, 33, Decimal("31.900000"),
                                                                 "厨房")


def test_every_scaip_status_maps_to_a_known_kind():
    for kind, alarm_kind in adapters.SCAIP_STATUS.values():
        assert kind in EventKind.values and (alarm_kind == "" or alarm_kind in AlarmKind.values)


@pytest.mark.parametrize(("body", "errors"), [
    (_msg(stc="999"), {"stc": ["状态码无效：999"]}),
    (_msg(ref=None, time="noon"), {"ref": ["此项为必填项。"],
                                   "time": ["时间格式应为 ISO 8601，例如 2026-12-04T20:15:00+08:00。"]}),
    ("<scaip>" + _msg() + _msg(cid="") + "</scaip>", {"msg.1.cid": ["此项为必填项。"]}),
    ("<scaip></scaip>", {"events": ["报文中没有事件。"]}),
    ("<alarm/>", {"body": ["根元素应为 <scaip> 或 <msg>。"]}),
    ("<msg><ref>unclosed</msg>", {"body": ["请求内容不是有效的 XML。"]}),
    ("<a>" * 10 + "</a>" * 10, {"body": ["报文嵌套过深。"]}),
    ("<scaip>" + _msg() * (adapters.MAX_EVENTS + 1) + "</scaip>",
     {"events": [f"一次最多 {adapters.MAX_EVENTS} 个事件。"]}),
])
def test_a_malformed_scaip_message_names_the_field(body, errors):
    assert _errors(VendorFormat.SCAIP_XML, body.encode()) == errors


@pytest.mark.parametrize("body", [
    # Entity expansion (billion laughs), an external entity (XXE), an external DTD, a parameter entity.
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><msg><ref>&b;</ref></msg>',
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><msg><ref>&x;</ref></msg>',
    b'<?xml version="1.0"?><!DOCTYPE msg SYSTEM "http://127.0.0.1:1/evil.dtd"><msg/>',
    b'<!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p">%p;]><msg/>',
])
def test_xml_with_a_dtd_is_refused_before_anything_is_expanded_or_fetched(body):
    assert _errors(VendorFormat.SCAIP_XML, body) == {"body": ["不接受 DTD 或实体声明。"]}


def test_an_undeclared_entity_is_malformed_xml():
    assert _errors(VendorFormat.SCAIP_XML, b"<msg><ref>&nope;</ref></msg>") == {"body": ["请求内容不是有效的 XML。"]}
