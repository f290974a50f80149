"""The vendors' webhook: `POST /api/v1/alarms/webhooks/{vendor_code}`, mounted in yiyang/api/main.py.

The signature is the authentication (no session, no token, so no CSRF): `X-Yiyang-Timestamp` (Unix seconds) and
`X-Yiyang-Signature` (hex HMAC-SHA256 of `f"{timestamp}."` + the raw body with the vendor's secret, or its
previous one during the grace period after a rotation; events.py). The body is read raw and given to the
adapter of the vendor's format (adapters.py). Answers:

- 401 unknown or inactive vendor, missing or bad signature, a timestamp more than five minutes off: nothing is
  stored, one line goes to the `yiyang.security` log;
- 413 a body over `adapters.MAX_BODY_BYTES`; 422 a malformed payload (the field named);
- 202 `{"accepted", "duplicates", "quarantined"}`: the events are stored (once per vendor event id, so a
  replayed message counts as duplicates) and committed, then processed.
"""

from django.utils.translation import gettext as _
from ninja import Header, Path, Router, Schema, Status

from yiyang.api.types import column
from yiyang.core.api import ERRORS
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.middleware import client_ip

from . import adapters, services
from .events import SIGNATURE_HEADER, TIMESTAMP_HEADER
from .models import Channel, Vendor

router = Router(tags=["alarms"])

_BODY = {
    "required": True,
    "description": "The vendor's message as it sends it: `yiyang_json` (one event or `{\"events\": [...]}`) or "
                   f"`scaip_xml`, at most {adapters.MAX_BODY_BYTES} bytes and {adapters.MAX_EVENTS} events.",
    "content": {
        "application/json": {"schema": {"type": "object", "example": {
            "event_id": "ev-1", "device_id": "SOS-1", "type": "sos",
            "occurred_at": "2026-12-04T20:15:00+08:00", "battery": 80}}},
    },
}


class AcceptedOut(Schema):
    accepted: int
    duplicates: int
    quarantined: int


def unauthenticated() -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, _("签名无效或已过期，或厂商未登记。"), status=401)


@router.post("{vendor_code}", auth=None, response={202: AcceptedOut, **ERRORS},
             summary="A vendor's device events (signed webhook)", openapi_extra={"requestBody": _BODY})
def vendor_webhook(request, vendor_code: str = Path(..., max_length=column(Vendor, "code")),
                   timestamp: str = Header("", alias=TIMESTAMP_HEADER, max_length=20,
                                           description="Unix seconds, within five minutes of our clock."),
                   signature: str = Header("", alias=SIGNATURE_HEADER, max_length=100,
                                           description="hex HMAC-SHA256 of `{timestamp}.` + the raw body.")):
    """Authenticated by the vendor's signature (see the module's description in docs/alarms.md)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > adapters.MAX_BODY_BYTES or len(request.body) > adapters.MAX_BODY_BYTES:
        raise DomainError(ErrorCode.REQUEST_TOO_LARGE,
                          _("报文过大（最多 %(n)d 字节）。") % {"n": adapters.MAX_BODY_BYTES}, status=413)
    try:
        result = services.receive_signed(vendor_code=vendor_code, timestamp=timestamp, signature=signature,
                                         body=request.body, channel=Channel.WEBHOOK,
                                         source=client_ip(request) or "")
    except services.Refused:
        raise unauthenticated() from None
    return Status(202, {"accepted": result.accepted, "duplicates": result.duplicates,
                        "quarantined": result.quarantined})
