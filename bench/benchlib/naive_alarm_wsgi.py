"""The baseline of bench/alarms.py: the WSGI app with one more route, `POST /naive/<vendor code>`, a naive
synchronous webhook handler as one would first write it. One event per request; per event: look up the vendor,
check the signature, look for the event id, load the device, store the event, update the device, then open or
fold the alarm, each through the ORM, in one transaction, before answering. Everything else is the real app.

Bench-only (served by gunicorn from bench/alarms.py, never mounted in the product).
"""

import datetime
import json

from yiyang.wsgi import application as real_application  # sets Django up before the models are imported


def _answer(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def naive(environ, start_response):
    from django.db import transaction
    from django.utils import timezone

    from yiyang.alarms.events import SignatureError, verify
    from yiyang.alarms.models import OPEN_STATUSES, Alarm, Channel, Device, DeviceEvent, EventKind, Vendor

    code = environ["PATH_INFO"].removeprefix("/naive/").strip("/")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    vendor = Vendor.objects.filter(code=code).first()
    if vendor is None:
        return _answer(start_response, "401 Unauthorized", {"error": "vendor"})
    try:
        verify(secrets=vendor.secrets_valid_at(timezone.now()), timestamp=environ.get("HTTP_X_YIYANG_TIMESTAMP", ""),
               signature=environ.get("HTTP_X_YIYANG_SIGNATURE", ""), body=body, now=timezone.now())
    except SignatureError:
        return _answer(start_response, "401 Unauthorized", {"error": "signature"})
    item = json.loads(body)
    with transaction.atomic():
        if DeviceEvent.objects.filter(vendor=vendor, event_id=item["event_id"]).exists():
            return _answer(start_response, "202 Accepted", {"accepted": 0, "duplicates": 1})
        device = Device.objects.select_related("elder").get(vendor=vendor, serial=item["device_id"])
        at = datetime.datetime.fromisoformat(item["occurred_at"])
        alarm_kind = "" if item["type"] == "heartbeat" else item["type"]
        event = DeviceEvent.objects.create(
            vendor=vendor, event_id=item["event_id"], device_serial=device.serial, device=device,
            kind=EventKind.ALARM if alarm_kind else EventKind.HEARTBEAT, alarm_kind=alarm_kind, occurred_at=at,
            channel=Channel.WEBHOOK, battery_pct=item.get("battery"), region_code=device.region_code,
            payload=item, processed_at=timezone.now())
        device.last_heartbeat_at = max(device.last_heartbeat_at or at, at)
        if item.get("battery") is not None:
            device.battery_pct = item["battery"]
        device.save()
        if alarm_kind:
            alarm = Alarm.objects.filter(device=device, kind=alarm_kind, status__in=OPEN_STATUSES).first()
            if alarm:
                alarm.event_count += 1
                alarm.last_event_at = at
                alarm.save()
            else:
                alarm = Alarm.objects.create(elder=device.elder, device=device, kind=alarm_kind,
                                             region_code=device.region_code, raised_at=at, last_event_at=at,
                                             next_escalation_at=at + datetime.timedelta(seconds=60))
            event.alarm = alarm
            event.save()
    return _answer(start_response, "202 Accepted", {"accepted": 1, "duplicates": 0})


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/naive/") and environ.get("REQUEST_METHOD") == "POST":
        return naive(environ, start_response)
    return real_application(environ, start_response)
