"""Builders for the alarms tests."""

import datetime
import itertools

from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.events import NormalisedEvent
from yiyang.alarms.models import VendorFormat
from yiyang.core.models import Region

_ids = itertools.count(1)


def make_vendor(bureau, code="anxin", *, format=VendorFormat.YIYANG_JSON, maintainer=None):
    return services.create_vendor(actor=bureau, code=code, name=f"{code} 科技", format=format,
                                  jurisdiction=Region.objects.get(code="511903"), maintainer=maintainer)


def event(serial, kind="alarm", alarm_kind="sos", *, at=None, event_id=None, battery=None):
    return NormalisedEvent(event_id=event_id or f"ev-{next(_ids)}", device_serial=serial, kind=kind,
                           alarm_kind=alarm_kind if kind == "alarm" else "",
                           occurred_at=at or timezone.now(), battery_pct=battery)


def shift(actor, user, *, region="511903", role="operator", hours=12, start=None):
    start = start or timezone.now() - datetime.timedelta(hours=1)
    return services.add_shift(actor=actor, region=Region.objects.get(code=region), user=user, duty_role=role,
                              starts_at=start, ends_at=start + datetime.timedelta(hours=hours))


def json_event(serial="SOS-1", type_="sos", *, event_id=None, at=None, **extra) -> dict:
    """One event as a yiyang_json vendor sends it."""
    return {"event_id": event_id or f"ev-{next(_ids)}", "device_id": serial, "type": type_,
            "occurred_at": (at or timezone.now()).isoformat(), **extra}


def signed_post(client, code, secret, body, *, ts=None, signature=None, content_type="application/json"):
    """POST the raw `body` (bytes, or a dict sent as JSON) to the vendor's webhook, signed with `secret`."""
    import json

    from yiyang.alarms.events import sign

    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    ts = int(timezone.now().timestamp()) if ts is None else ts
    headers = {"X-Yiyang-Timestamp": str(ts),
               "X-Yiyang-Signature": signature if signature is not None else sign(secret, ts, raw)}
    return client.post(f"/api/v1/alarms/webhooks/{code}", data=raw, content_type=content_type, headers=headers)
