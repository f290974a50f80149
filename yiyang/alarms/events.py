"""The normalised device event (pure: no database), whatever the vendor's format, and the signature check.

A vendor signs every message with HMAC-SHA256 over ``f"{timestamp}.".encode() + body`` with its secret, hex
encoded; the timestamp is Unix seconds. A message older or newer than five minutes is refused (replays of an old
capture), and the vendor's event id makes a resent message count once.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from dataclasses import dataclass, field
from decimal import Decimal

MAX_SKEW_SECONDS = 300
SIGNATURE_HEADER = "X-Yiyang-Signature"
TIMESTAMP_HEADER = "X-Yiyang-Timestamp"


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    event_id: str
    device_serial: str
    kind: str                      # models.EventKind
    occurred_at: datetime.datetime  # aware
    alarm_kind: str = ""           # models.AlarmKind, for kind == "alarm"
    battery_pct: int | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    raw: dict = field(default_factory=dict, compare=False)


class SignatureError(Exception):
    """The message is not signed by the vendor, or not now (401)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(*, secrets: list[str], timestamp: str, signature: str, body: bytes, now: datetime.datetime) -> None:
    """Raise SignatureError unless `signature` is the HMAC of one of `secrets` over timestamp + body and the
    timestamp lies within five minutes of `now`."""
    if not timestamp or not signature:
        raise SignatureError("missing signature or timestamp")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError("bad timestamp") from None
    if abs(now.timestamp() - ts) > MAX_SKEW_SECONDS:
        raise SignatureError("clock skew")
    given = signature.strip().lower().removeprefix("sha256=")
    for secret in secrets:
        if secret and hmac.compare_digest(sign(secret, ts, body), given):
            return
    raise SignatureError("bad signature")
