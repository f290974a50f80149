"""A vendor's signed message, whichever way it came (the webhook, MQTT): the vendor, the signature, the adapter
of its format, then `ingest`. One function so the two channels cannot check differently.

A refused signature stores nothing: one line on the `yiyang.security` logger says who tried, from where, and
why (the caller is told only that the signature was refused).
"""

from __future__ import annotations

import logging

from django.utils import timezone

from .. import adapters
from ..events import SignatureError, verify
from ..models import Vendor
from .ingest import IngestResult, ingest

security_log = logging.getLogger("yiyang.security")


class Refused(SignatureError):
    """Unknown or inactive vendor, bad signature, clock skew: the caller answers 401 (or drops the message)."""


def refuse(reason: str, *, vendor_code: str, channel: str, source: str) -> Refused:
    """Log the refusal on `yiyang.security` (one line; values quoted so a crafted code cannot forge a line)."""
    security_log.warning("alarm message refused: %s vendor=%r channel=%s source=%r", reason, vendor_code[:64],
                         channel, (source or "")[:128])
    return Refused(reason)


def authenticate(*, vendor_code: str, timestamp: str, signature: str, body: bytes, channel: str,
                 source: str) -> Vendor:
    """The active vendor whose current secret (or previous one, within its grace period) signed `body` at
    `timestamp` (±5 minutes of now); else `Refused`, logged."""
    vendor = Vendor.objects.filter(code=vendor_code, active=True).first() if vendor_code else None
    if vendor is None:
        raise refuse("unknown vendor", vendor_code=vendor_code, channel=channel, source=source)
    now = timezone.now()
    try:
        verify(secrets=vendor.secrets_valid_at(now), timestamp=timestamp or "", signature=signature or "",
               body=body, now=now)
    except SignatureError as exc:
        raise refuse(str(exc), vendor_code=vendor_code, channel=channel, source=source) from None
    return vendor


def receive_signed(*, vendor_code: str, timestamp: str, signature: str, body: bytes, channel: str,
                   source: str = "") -> IngestResult:
    """Authenticate, parse with the vendor's adapter (ValidationError when malformed), ingest (the events stored
    in one transaction, committed, then processed)."""
    vendor = authenticate(vendor_code=vendor_code, timestamp=timestamp, signature=signature, body=body,
                          channel=channel, source=source)
    events = adapters.parse(vendor.format, body)
    return ingest(vendor=vendor, events=events, channel=channel)
