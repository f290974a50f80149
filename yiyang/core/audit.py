"""Writing the audit log. Services call `record` inside their transaction, so the event and the change
commit or roll back together."""

import datetime
import decimal
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from .fields import EncryptedTextField
from .middleware import current_request_context
from .models import AuditEvent
from .pii import mask_account, mask_id_number

# Never copied into the log, whatever the model.
SECRET_FIELDS = {"password", "key_hash", "id_number_hash"}
# Bookkeeping that changes on every save says nothing about the change itself.
NOISE_FIELDS = {"updated_at"}


def _json_value(value):
    if type(value) in _PLAIN:  # the common case, without the isinstance chain
        return value
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):  # a file field: its stored name, never the content
        return value.name or ""
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})


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
    return _snapshot(type(instance), _Fields(instance))


class _Fields:
    """An instance read like a dict of its attnames (deferred fields are loaded, as getattr loads them)."""

    __slots__ = ("instance",)

    def __init__(self, instance):
        self.instance = instance

    def get(self, attname, default=None):
        return getattr(self.instance, attname)


# Per model: (attname, default, how) for the fields a snapshot keeps; how: "" as is, "json" through
# _json_value, "id" / "account" masked.
_SPECS: dict = {}


def _spec(model) -> list[tuple[str, object, str]]:
    spec = _SPECS.get(model)
    if spec is None:
        spec = []
        for field in model._meta.concrete_fields:
            if field.name in SECRET_FIELDS or field.name in NOISE_FIELDS:
                continue
            if isinstance(field, EncryptedTextField):
                how = "id" if field.name == "id_number" else "account"
            elif field.get_internal_type() in {"CharField", "TextField", "IntegerField", "BigIntegerField",
                                               "PositiveIntegerField", "PositiveSmallIntegerField",
                                               "SmallIntegerField", "BooleanField", "ForeignKey", "OneToOneField",
                                               "AutoField", "BigAutoField", "JSONField", "FloatField"}:
                how = ""
            else:
                how = "json"
            spec.append((field.attname, field.get_default(), how))
        _SPECS[model] = spec
    return spec


def _shown(how: str, value):
    if how == "json":
        return _json_value(value)
    if how and value:
        return mask_id_number(value) if how == "id" else mask_account(value)
    return value


def _snapshot(model, values) -> dict:
    """`snapshot` of the values of a row (attname → value; missing fields take their defaults)."""
    spec = _spec(model)
    get = values.get
    data = {attname: get(attname, default) for attname, default, _how in spec}
    for attname, how in _special(model):
        value = data[attname]
        if value is not None:
            data[attname] = _shown(how, value)
    return data


_SPECIAL: dict = {}


def _special(model) -> list[tuple[str, str]]:
    """The (attname, how) of the fields whose value a snapshot converts or masks (None stays None)."""
    special = _SPECIAL.get(model)
    if special is None:
        special = _SPECIAL[model] = [(attname, how) for attname, _default, how in _spec(model) if how]
    return special


def _masked(model, values: dict | None) -> dict | None:
    """A partial before/after (attname → raw value) under the snapshot's rules: secrets and bookkeeping left out,
    PII masked, values JSON-safe; keys that are not fields (e.g. "categories_added") pass as they are."""
    if values is None:
        return None
    rules = {attname: how for attname, _default, how in _spec(model)}
    hidden = {f.attname for f in model._meta.concrete_fields} - set(rules)
    return {k: _shown(rules[k], v) if rules.get(k) else v for k, v in values.items() if k not in hidden}


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


@dataclass(slots=True)
class Entry:
    """One audited change among many (`bulk_records`): an instance, or the values of a row inserted without one
    (attname → value, with its "id"). `before` / `after` are raw values (masked as `snapshot` masks); `extra`
    joins `after` once the two sides are compared."""

    instance: models.Model | None = None
    values: dict | None = None
    before: dict | None = None
    after: dict | None = None
    extra: dict | None = None
    object_repr: str = ""
    region_code: str = ""
    detail: str = ""


def bulk_records(*, actor, action: str, model, entries: Iterable[Entry], snapshot_after: bool = False,
                 ip: str | None = None, user_agent: str | None = None) -> list[int]:
    """`record` for many changes of one model in one set-based insert, under the same rules: the same object
    type, id, representation and region defaults, the same masking (`snapshot`), only the changed fields kept
    (`diff`), the same attribution under `recorded_as`. With `snapshot_after`, `after` is the snapshot of the
    instance (or values). `ip` and `user_agent` default to the current request's (a background job passes the
    ones of the request that started it). Returns the events' ids."""
    from .bulk import insert_rows

    ctx = current_request_context()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    username = actor.get_username() if is_user else ""
    scope = getattr(actor, "scope_code", "") if is_user else ""
    source = _system_source.get()
    if source is not None:
        actor, is_user, ctx = None, False, None
    ip = ip or (ctx.ip if ctx else None)
    user_agent = user_agent if user_agent is not None else (ctx.user_agent if ctx else "")
    object_type = model._meta.label_lower
    now = timezone.now()
    entries = entries if isinstance(entries, list | tuple) else list(entries)
    rows = _audit_rows(entries, model, action, snapshot_after, now, actor, is_user, username, source, object_type,
                       scope, ip, user_agent)
    # Rows of plain values are made while the database stores the rows before them (insert_rows consumes the
    # generator during COPY); an instance's fields or str() might query, which cannot happen during COPY.
    if any(e.instance is not None for e in entries):
        rows = list(rows)
    return insert_rows(AuditEvent, rows, count=len(entries))


def _audit_rows(entries, model, action, snapshot_after, now, actor, is_user, username, source, object_type, scope,
                ip, user_agent):
    for e in entries:
        if e.instance is not None:
            pk, values, text = e.instance.pk, _Fields(e.instance), e.object_repr or str(e.instance)
        else:
            pk, values, text = e.values["id"], e.values, e.object_repr
        after = _snapshot(model, values) if snapshot_after else _masked(model, e.after)
        before, after = diff(_masked(model, e.before), after)
        if e.extra:
            after = (after or {}) | e.extra
        detail = e.detail
        if source is not None:
            detail = f"[{source}{' · ' + username if username else ''}] {detail}".strip()
        yield {"at": now, "actor_id": actor.pk if is_user else None,
               "actor_username": source if source is not None else username, "action": action,
               "object_type": object_type, "object_id": str(pk), "object_repr": str(text)[:200],
               "region_code": e.region_code or scope, "ip": ip, "user_agent": user_agent,
               "before": before, "after": after, "detail": detail[:500]}
