"""One adapter per vendor payload format (`models.VendorFormat`): a message's raw bytes → `NormalisedEvent`s, or
a `ValidationError` in Chinese naming the field (the API answers it 422). Pure: no database; the webhook and the
MQTT listener call `parse(vendor.format, body)` after the signature check, then `services.ingest`.

Bounds, whatever the format: a body of at most `MAX_BODY_BYTES`, at most `MAX_EVENTS` events in one message,
ids of at most 64 characters (the columns), no control characters in any text.

**yiyang_json** — one event object, or ``{"events": [event, …]}``::

    {"event_id": "ev-1", "device_id": "SOS-1", "type": "sos", "occurred_at": "2026-12-04T20:15:00+08:00",
     "battery": 80, "lat": 31.94, "lng": 106.64, "status": "100"}

`type` is one of `JSON_TYPES`: an alarm kind (sos, fall, smoke, gas, water, intrusion, bed_exit, vitals,
low_battery, tamper), heartbeat, activity, door (a door opened or closed: a person moved, not an alarm) or
restore. `battery` (0–100), `lat`, `lng` and `status` (the vendor's own status code, kept with the event) are
optional. Other keys are kept in the stored payload.

**scaip_xml** — a SCAIP-like message (the fields of CLC/TS 50134-9: controller id, device id, device type, status
code, location), one ``<msg>`` or several in ``<scaip>``::

    <scaip>
      <msg>
        <ref>evt-42</ref> <cid>CTRL-7</cid> <did>PENDANT-1</did> <dty>pendant</dty> <stc>100</stc>
        <time>2026-12-04T20:15:00+08:00</time> <bat>80</bat>
        <loc><lat>31.94</lat><lon>106.64</lon><txt>卧室</txt></loc>
      </msg>
    </scaip>

`ref` is the vendor's event id, the device is `did` (the controller itself when `did` is absent), `stc` a status
code of `SCAIP_STATUS` (the platform's table: a vendor maps its codes to these when it is connected). The XML is
read with the standard library's expat with every DTD refused: no DOCTYPE, no entity declarations, no external
entities (the entity-expansion and external-entity attacks need one of them).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from xml.parsers import expat

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .events import NormalisedEvent
from .models import AlarmKind, EventKind, VendorFormat

MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 500
MAX_ID = 64            # DeviceEvent.event_id, device_serial
MAX_CODE = 32          # a status code or device type
MAX_TIME = 40          # an ISO 8601 timestamp
MAX_XML_DEPTH = 6
MAX_ERRORS = 20        # field errors reported for one message (the rest are the same mistake again)

# yiyang_json's `type` → (EventKind, AlarmKind).
JSON_TYPES: dict[str, tuple[str, str]] = {
    **{kind: (EventKind.ALARM, kind) for kind in AlarmKind.values},
    "heartbeat": (EventKind.HEARTBEAT, ""),
    "activity": (EventKind.ACTIVITY, ""),
    "door": (EventKind.ACTIVITY, ""),
    "restore": (EventKind.RESTORE, ""),
}

# scaip_xml's status codes (`stc`) → (EventKind, AlarmKind).
SCAIP_STATUS: dict[str, tuple[str, str]] = {
    "100": (EventKind.ALARM, AlarmKind.SOS),          # assistance call (pendant, pull cord, button)
    "101": (EventKind.ALARM, AlarmKind.FALL),
    "110": (EventKind.ALARM, AlarmKind.SMOKE),
    "111": (EventKind.ALARM, AlarmKind.GAS),
    "112": (EventKind.ALARM, AlarmKind.WATER),
    "120": (EventKind.ALARM, AlarmKind.INTRUSION),    # door or window at an unusual time
    "121": (EventKind.ALARM, AlarmKind.BED_EXIT),
    "130": (EventKind.ALARM, AlarmKind.VITALS),
    "300": (EventKind.ALARM, AlarmKind.LOW_BATTERY),
    "301": (EventKind.ALARM, AlarmKind.TAMPER),
    "400": (EventKind.RESTORE, ""),                   # the condition has cleared
    "600": (EventKind.HEARTBEAT, ""),                 # periodic test call
    "601": (EventKind.ACTIVITY, ""),                  # presence, a door opened
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # in the kept object: tabs and newlines may stay
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")                  # ids, codes, times: none at all


class _Errors:
    """Field errors of one message, named `events.<i>.<field>` in a batch and `<field>` for a single event."""

    def __init__(self):
        self.found: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        if sum(len(v) for v in self.found.values()) < MAX_ERRORS:
            self.found.setdefault(field, []).append(str(message))

    def raise_any(self) -> None:
        if self.found:
            raise ValidationError(self.found)


def _refuse(field: str, message: str):
    raise ValidationError({field: [str(message)]})


# ------------------------------------------------------------------------------------------------- values


def _text(value, field: str, errors: _Errors, *, limit: int, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            errors.add(field, _("此项为必填项。"))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.add(field, _("应为文本。"))
        return ""
    text = str(value).strip()
    if not text and required:
        errors.add(field, _("此项为必填项。"))
    elif len(text) > limit:
        errors.add(field, _("内容过长（最多 %(n)d 字）。") % {"n": limit})
        return ""
    elif _NOT_ONE_LINE.search(text):
        errors.add(field, _("不能包含控制字符。"))
        return ""
    return text


def _moment(value, field: str, errors: _Errors) -> datetime.datetime | None:
    text = _text(value, field, errors, limit=MAX_TIME)
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        errors.add(field, _("时间格式应为 ISO 8601，例如 2026-12-04T20:15:00+08:00。"))
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors.add(field, _("发生时间须带时区。"))
        return None
    return moment


def _battery(value, field: str, errors: _Errors) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        errors.add(field, _("电量须为 0 至 100 的整数。"))
        return None
    return value


def _coordinate(value, field: str, errors: _Errors, limit: int) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float) or len(str(value)) > 20:
        errors.add(field, _("坐标应为数字。"))
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.add(field, _("坐标应为数字。"))
        return None
    if not number.is_finite() or not -limit <= number <= limit:
        errors.add(field, _("坐标超出范围（±%(n)d）。") % {"n": limit})
        return None
    return number.quantize(Decimal("0.000001"))


def _clean_raw(value, depth: int = 0):
    """The vendor's object as stored (`DeviceEvent.payload`): no NUL or other control character, which
    PostgreSQL's jsonb refuses and nothing downstream expects."""
    if depth > 8:
        _refuse("body", _("报文嵌套过深。"))
    if isinstance(value, str):
        if _CONTROL.search(value):
            _refuse("body", _("不能包含控制字符。"))
        return value
    if isinstance(value, dict):
        return {_clean_raw(str(k), depth + 1): _clean_raw(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_raw(v, depth + 1) for v in value]
    return value


def _check_size(body: bytes) -> None:
    if not body or not body.strip():
        _refuse("body", _("报文为空。"))
    if len(body) > MAX_BODY_BYTES:
        _refuse("body", _("报文过大（最多 %(n)d 字节）。") % {"n": MAX_BODY_BYTES})


def _check_count(count: int) -> None:
    if count == 0:
        _refuse("events", _("报文中没有事件。"))
    if count > MAX_EVENTS:
        _refuse("events", _("一次最多 %(n)d 个事件。") % {"n": MAX_EVENTS})


# ----------------------------------------------------------------------------------------------- yiyang_json


def parse_yiyang_json(body: bytes) -> list[NormalisedEvent]:
    _check_size(body)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        _refuse("body", _("请求内容不是有效的 JSON。"))
    if isinstance(data, dict) and "events" in data:
        items, batch = data["events"], True
        if not isinstance(items, list):
            _refuse("events", _("应为列表。"))
    elif isinstance(data, dict):
        items, batch = [data], False
    else:
        _refuse("body", _("应为一个事件对象，或 {\"events\": [...]}。"))
    _check_count(len(items))
    errors, events = _Errors(), []
    for i, item in enumerate(items):
        prefix = f"events.{i}." if batch else ""
        if not isinstance(item, dict):
            errors.add(prefix.rstrip(".") or "body", _("应为对象。"))
            continue
        event = _json_event(item, prefix, errors)
        if event is not None:
            events.append(event)
    errors.raise_any()
    return events


def _json_event(item: dict, prefix: str, errors: _Errors) -> NormalisedEvent | None:
    before = len(errors.found)
    event_id = _text(item.get("event_id"), prefix + "event_id", errors, limit=MAX_ID)
    serial = _text(item.get("device_id"), prefix + "device_id", errors, limit=MAX_ID)
    kind = alarm_kind = ""
    type_ = _text(item.get("type"), prefix + "type", errors, limit=MAX_CODE)
    if type_:
        if type_.lower() in JSON_TYPES:
            kind, alarm_kind = JSON_TYPES[type_.lower()]
        else:
            errors.add(prefix + "type", _("事件类型无效：%(kind)s（可用：%(known)s）") % {
                "kind": type_, "known": ", ".join(JSON_TYPES)})
    occurred_at = _moment(item.get("occurred_at"), prefix + "occurred_at", errors)
    battery = _battery(item.get("battery"), prefix + "battery", errors)
    lat = _coordinate(item.get("lat"), prefix + "lat", errors, 90)
    lng = _coordinate(item.get("lng"), prefix + "lng", errors, 180)
    _text(item.get("status"), prefix + "status", errors, limit=MAX_CODE, required=False)
    try:
        raw = _clean_raw(item)
    except ValidationError:
        errors.add(prefix + "body", _("不能包含控制字符。"))
        return None
    if len(errors.found) > before or not kind:
        return None
    return NormalisedEvent(event_id=event_id, device_serial=serial, kind=kind, alarm_kind=alarm_kind,
                           occurred_at=occurred_at, battery_pct=battery, latitude=lat, longitude=lng, raw=raw)


# ------------------------------------------------------------------------------------------------- scaip_xml


class _Node:
    __slots__ = ("tag", "children", "text")

    def __init__(self, tag: str):
        self.tag, self.children, self.text = tag, [], []

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, tag: str) -> str | None:
        node = self.find(tag)
        return None if node is None else "".join(node.text).strip()


class _RefusedXML(Exception):
    pass


def _refuse_dtd(*args):
    raise _RefusedXML(_("不接受 DTD 或实体声明。"))


def _read_xml(body: bytes) -> _Node:
    """The standard library's expat, with a DOCTYPE, any entity declaration and any external entity refused,
    into a small tree (tag names without their namespace prefix)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    stack: list[_Node] = []
    root: list[_Node] = []

    def start(name, attrs):
        if len(stack) >= MAX_XML_DEPTH:
            raise _RefusedXML(_("报文嵌套过深。"))
        node = _Node(name.rsplit(":", 1)[-1].lower())
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(name):
        stack.pop()

    def text(data):
        if stack:
            stack[-1].text.append(data)

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    try:
        parser.Parse(body, True)
    except _RefusedXML as exc:
        _refuse("body", str(exc))
    except (expat.ExpatError, ValueError):
        _refuse("body", _("请求内容不是有效的 XML。"))
    return root[0]


def parse_scaip_xml(body: bytes) -> list[NormalisedEvent]:
    _check_size(body)
    root = _read_xml(body)
    if root.tag == "msg":
        messages, batch = [root], False
    elif root.tag == "scaip":
        messages, batch = [c for c in root.children if c.tag == "msg"], True
    else:
        _refuse("body", _("根元素应为 <scaip> 或 <msg>。"))
    _check_count(len(messages))
    errors, events = _Errors(), []
    for i, msg in enumerate(messages):
        event = _scaip_event(msg, f"msg.{i}." if batch else "", errors)
        if event is not None:
            events.append(event)
    errors.raise_any()
    return events


def _scaip_event(msg: _Node, prefix: str, errors: _Errors) -> NormalisedEvent | None:
    before = len(errors.found)
    event_id = _text(msg.value("ref"), prefix + "ref", errors, limit=MAX_ID)
    controller = _text(msg.value("cid"), prefix + "cid", errors, limit=MAX_ID)
    device = _text(msg.value("did"), prefix + "did", errors, limit=MAX_ID, required=False)
    device_type = _text(msg.value("dty"), prefix + "dty", errors, limit=MAX_CODE, required=False)
    status = _text(msg.value("stc"), prefix + "stc", errors, limit=MAX_CODE)
    kind = alarm_kind = ""
    if status:
        if status in SCAIP_STATUS:
            kind, alarm_kind = SCAIP_STATUS[status]
        else:
            errors.add(prefix + "stc", _("状态码无效：%(code)s") % {"code": status})
    occurred_at = _moment(msg.value("time"), prefix + "time", errors)
    battery = _battery(msg.value("bat"), prefix + "bat", errors)
    loc = msg.find("loc")
    lat = lng = None
    place = ""
    if loc is not None:
        lat = _coordinate(loc.value("lat"), prefix + "loc.lat", errors, 90)
        lng = _coordinate(loc.value("lon"), prefix + "loc.lon", errors, 180)
        place = _text(loc.value("txt"), prefix + "loc.txt", errors, limit=200, required=False)
    if len(errors.found) > before or not kind:
        return None
    raw = {"ref": event_id, "cid": controller, "did": device, "dty": device_type, "stc": status,
           "time": msg.value("time"), "bat": battery, "loc": place,
           "lat": str(lat) if lat is not None else None, "lon": str(lng) if lng is not None else None}
    return NormalisedEvent(event_id=event_id, device_serial=device or controller, kind=kind, alarm_kind=alarm_kind,
                           occurred_at=occurred_at, battery_pct=battery, latitude=lat, longitude=lng,
                           raw={k: v for k, v in raw.items() if v not in (None, "")})


ADAPTERS: dict[str, Callable[[bytes], list[NormalisedEvent]]] = {
    VendorFormat.YIYANG_JSON: parse_yiyang_json,
    VendorFormat.SCAIP_XML: parse_scaip_xml,
}


def parse(format: str, body: bytes) -> list[NormalisedEvent]:
    """The events of one message in the vendor's `format`; a ValidationError (422) when it is not one."""
    adapter = ADAPTERS.get(format)
    if adapter is None:
        _refuse("format", _("报文格式无效。"))
    return adapter(body)
