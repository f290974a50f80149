"""Writing the audit log. Services call `record` inside their transaction, so the event and the change
commit or roll back together."""

import datetime
import decimal
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import models
from django.db.models.fields.files import FieldFile

from .fields import EncryptedTextField
from .middleware import current_request_context
from .models import AuditEvent
from .pii import mask_account, mask_id_number

# Never copied into the log, whatever the model.
SECRET_FIELDS = {"password", "key_hash", "id_number_hash"}
# Bookkeeping that changes on every save says nothing about the change itself.
NOISE_FIELDS = {"updated_at"}


def _json_value(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):  # a file field: its stored name, never the content
        return value.name or ""
    return value


# A system process (the demo loader, a migration of data) that writes through the services under a person's
# authority must not look, in the log, as if that person had done it.
_system_source: ContextVar[str | None] = ContextVar("audit_system_source", default=None)


@contextmanager
def recorded_as(source: str):
    """Attribute everything recorded inside to the system process `source` (e.g. "demo_city"), saying whose
    authority it ran under, instead of to that account."""
    token = _system_source.set(source)
    try:
        yield
    finally:
        _system_source.reset(token)


def snapshot(instance: models.Model) -> dict:
    """The instance's concrete fields as JSON-safe values, with secrets left out and PII masked."""
    data = {}
    for field in instance._meta.concrete_fields:
        if field.name in SECRET_FIELDS or field.name in NOISE_FIELDS:
            continue
        value = getattr(instance, field.attname)
        if isinstance(field, EncryptedTextField) and value:
            value = mask_id_number(value) if field.name == "id_number" else mask_account(value)
        data[field.attname] = _json_value(value)
    return data


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the fields that changed (both sides), so the log reads as the change itself."""
    if not before or not after:
        return before, after
    changed = {k for k in after if before.get(k) != after.get(k)}
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def record(
    *,
    actor,
    action: str,
    instance: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    region_code: str = "",
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
    ip: str | None = None,
) -> AuditEvent:
    ctx = current_request_context()
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = object_id or str(instance.pk)
        object_repr = object_repr or str(instance)[:200]
    if not region_code and actor is not None and getattr(actor, "is_authenticated", False):
        region_code = getattr(actor, "scope_code", "")
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    before, after = diff(before, after)
    username = actor.get_username() if is_user else ""
    if (source := _system_source.get()) is not None:
        detail = f"[{source}{' · ' + username if username else ''}] {detail}".strip()
        actor, is_user, username, ctx = None, False, source, None
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_username=username,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        region_code=region_code,
        ip=ip or (ctx.ip if ctx else None),
        user_agent=ctx.user_agent if ctx else "",
        before=before,
        after=after,
        detail=detail[:500],
    )
