"""Alarms over MQTT, without the broker: what one message on `yiyang/alarms/<vendor code>/events` does
(`handle_message`), and how a vendor wraps its payload (`envelope`). The subscriber around it is
management/commands/alarm_listener.py.

A message is an envelope, JSON::

    {"vendor": "huaxia", "ts": 1764879300, "sig": "<hex HMAC-SHA256>", "body": "<the payload, as a string>"}

signed exactly like the webhook: HMAC-SHA256 with the vendor's secret over `f"{ts}."` + the body's UTF-8 bytes,
within five minutes of our clock; the body is read by the adapter of the vendor's format. The topic names the
vendor; `vendor`, when given, must agree with it.

Whatever is wrong with a message (topic, envelope, signature, payload) is logged on `yiyang.security` and
reported as dropped, so that the listener acknowledges it and a bad message cannot block the queue. A database
that does not answer is not the message's fault: the error is raised, the listener does not acknowledge, and
the broker delivers the message again (ingest's idempotency absorbs a message delivered twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError, messages_of

from . import adapters
from .events import sign
from .models import Channel
from .services import IngestResult, Refused, receive_signed
from .services.receive import refuse

# The body may be JSON-escaped inside the envelope (at worst six bytes for one), plus the envelope's own fields.
MAX_ENVELOPE_BYTES = 6 * adapters.MAX_BODY_BYTES + 1024


@dataclass
class Outcome:
    ingested: bool
    reason: str = ""
    result: IngestResult | None = None


def vendor_of(topic: str, topic_filter: str | None = None) -> str | None:
    """The vendor code in `topic`: the level matched by the filter's single `+` (yiyang/alarms/+/events)."""
    pattern = (topic_filter or settings.ALARMS_MQTT_TOPIC).split("/")
    levels = topic.split("/")
    if len(levels) != len(pattern) or pattern.count("+") != 1:
        return None
    code = None
    for want, got in zip(pattern, levels, strict=True):
        if want == "+":
            code = got
        elif want != got:
            return None
    return code or None


def envelope(vendor_code: str, secret: str, body: bytes | str, *, ts: int | None = None) -> bytes:
    """A vendor's signed MQTT message carrying `body` (for the simulator, and what a vendor's device does)."""
    raw = body.encode() if isinstance(body, str) else body
    ts = int(timezone.now().timestamp()) if ts is None else ts
    return json.dumps({"vendor": vendor_code, "ts": ts, "sig": sign(secret, ts, raw), "body": raw.decode()},
                      ensure_ascii=False).encode()


def _drop(reason: str, *, code: str, topic: str) -> Outcome:
    refuse(reason, vendor_code=code, channel=Channel.MQTT, source=topic)
    return Outcome(False, reason)


def handle_message(topic: str, payload: bytes, *, topic_filter: str | None = None) -> Outcome:
    """Authenticate, parse and ingest one MQTT message. Returns once the events are committed (and processed);
    a bad message is logged and dropped; a database error is raised (the caller must not acknowledge)."""
    code = vendor_of(topic, topic_filter)
    if code is None:
        return _drop("topic without a vendor", code="", topic=topic)
    if len(payload) > MAX_ENVELOPE_BYTES:
        return _drop("envelope too large", code=code, topic=topic)
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return _drop("envelope is not JSON", code=code, topic=topic)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        return _drop("envelope without a body", code=code, topic=topic)
    if data.get("vendor") not in (None, code):
        return _drop("envelope's vendor differs from the topic's", code=code, topic=topic)
    ts, sig = data.get("ts"), data.get("sig")
    if isinstance(ts, bool) or not isinstance(ts, int | str) or not isinstance(sig, str):
        return _drop("envelope without ts or sig", code=code, topic=topic)
    try:
        body = data["body"].encode()
    except UnicodeEncodeError:  # a lone surrogate escaped in the JSON
        return _drop("body is not UTF-8", code=code, topic=topic)
    try:
        result = receive_signed(vendor_code=code, timestamp=str(ts), signature=sig, body=body, channel=Channel.MQTT,
                                source=topic)
    except Refused as exc:
        return Outcome(False, str(exc))  # logged by receive_signed
    except (ValidationError, DomainError) as exc:
        reason = "malformed payload: " + "; ".join(messages_of(exc))[:300]
        return _drop(reason, code=code, topic=topic)
    return Outcome(True, result=result)
