"""Set-based writes of an import: bulk inserts, snapshot values for the audit, key sets."""


from __future__ import annotations

import datetime
import json
import logging
from decimal import Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from yiyang.core import audit, pii
from yiyang.core.models import AuditEvent, Region
from yiyang.core.selectors import region_paths

from .cells import WRITE_BATCH

log = logging.getLogger(__name__)


def insert_rows(model, rows: list[dict]) -> list[int]:
    """Insert many new rows (attname → value; missing fields take their defaults) in the current transaction and
    return their primary keys, in order.

    Django's bulk_create is the portable way, but it builds a model instance per row, and on PostgreSQL (Django 5.2
    inserts through UNNEST arrays, which psycopg quotes client-side in Python) it costs ~20 µs per value. Here:
    ids are reserved first (the identity sequence on PostgreSQL; past MAX(id) and sqlite_sequence under SQLite's
    write lock), then the rows go in with COPY (PostgreSQL) or one executemany (SQLite). Values are prepared as
    Django would: encrypted fields encrypted, JSON dumped, auto_now timestamps set, dates and decimals adapted.
    Constraint violations surface as django.db.IntegrityError.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    if connection.vendor not in ("postgresql", "sqlite"):
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=WRITE_BATCH)
        return [o.pk for o in objs]
    table = connection.ops.quote_name(meta.db_table)
    pk_column = meta.pk.column
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    # Fields whose values pass unchanged first (no call per value), then those that need converting.
    converters = {f.attname: _converter(f, connection, now) for f in fields}
    plain = [(f.attname, f.get_default()) for f in fields if converters[f.attname] is None]
    converted = [(f.attname, f.get_default(), converters[f.attname]) for f in fields if converters[f.attname]]
    order = [f for f in fields if converters[f.attname] is None] + [f for f in fields if converters[f.attname]]
    columns = ", ".join(connection.ops.quote_name(c) for c in [pk_column] + [f.column for f in order])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, pk_column, len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
        else:
            cursor.execute(f"SELECT MAX({connection.ops.quote_name(pk_column)}) FROM {table}")
            start = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
            seq = cursor.fetchone()
            start = max(start, seq[0] if seq else 0)
            ids = list(range(start + 1, start + 1 + len(rows)))
        values = ([pk, *[row.get(a, d) for a, d in plain], *[c(row.get(a, d)) for a, d, c in converted]]
                  for pk, row in zip(ids, rows, strict=True))
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * (len(fields) + 1))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)
    return ids


def insert_many(model, objs: list) -> None:
    """`insert_rows` for model instances: sets their primary keys and auto_now timestamps."""
    if not objs:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for obj in objs:
        for f in fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                setattr(obj, f.attname, now)
    ids = insert_rows(model, [{f.attname: getattr(obj, f.attname) for f in fields} for obj in objs])
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = router.db_for_write(model)


def _converter(field, connection, now):
    """value → what the database driver takes, per field (decided once, applied per row)."""
    from yiyang.core.fields import EncryptedTextField

    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        if connection.vendor == "postgresql":
            return lambda value: value or now
        return lambda value: field.get_db_prep_save(value or now, connection)
    if isinstance(field, EncryptedTextField):
        return lambda value: pii.encrypt(value) if value else value
    internal = field.get_internal_type()
    if internal == "JSONField":
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    if connection.vendor == "sqlite" and internal in ("DateTimeField", "DateField", "DecimalField", "TimeField"):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def snapshot_values(model, values: dict) -> dict:
    """What `audit.snapshot` gives for an instance, computed from the values just inserted (no instance)."""
    from yiyang.core.fields import EncryptedTextField

    spec = _SNAPSHOT_SPECS.get(model)
    if spec is None:
        fields = [f for f in model._meta.concrete_fields if f.name not in audit.SECRET_FIELDS]
        spec = _SNAPSHOT_SPECS[model] = (
            [(f.attname, f.get_default()) for f in fields],
            [(f.attname, f.name == "id_number") for f in fields if isinstance(f, EncryptedTextField)],
            [f.attname for f in fields if f.get_internal_type() in ("DateField", "DateTimeField", "DecimalField")],
        )
    plain, secret, typed = spec
    out = {attname: values.get(attname, default) for attname, default in plain}
    for attname, is_id in secret:
        if out[attname]:
            out[attname] = pii.mask_id_number(out[attname]) if is_id else pii.mask_account(out[attname])
    for attname in typed:
        value = out[attname]
        if isinstance(value, datetime.date):
            out[attname] = value.isoformat()
        elif isinstance(value, Decimal):
            out[attname] = str(value)
    return out


_SNAPSHOT_SPECS: dict = {}


def key_sets(keys: list, *, integer: bool = False, chunk: int = 2000):
    """Operands for `field__in=` covering many keys. On PostgreSQL a large set goes into a temporary table with
    COPY and is used as one subquery (quoting 100,000 parameters client-side costs seconds); elsewhere the keys
    come in chunks that stay under SQLite's parameter limit."""
    if not keys:
        return
    connection = connections["default"]
    if connection.vendor != "postgresql" or len(keys) <= chunk:
        for i in range(0, len(keys), chunk):
            yield keys[i:i + chunk]
        return
    table = "yiyang_import_ids" if integer else "yiyang_import_keys"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} (k {'bigint' if integer else 'text'}) "
                       f"ON COMMIT DROP")
        cursor.execute(f"TRUNCATE {table}")
        with cursor.cursor.copy(f"COPY {table} (k) FROM STDIN") as copy:
            for k in keys:
                copy.write_row((k,))
        cursor.execute(f"ANALYZE {table}")
        yield RawSQL(f"SELECT k FROM {table}", [])


def _category_text(label, grade, start) -> str:
    return f"{label}{f'（{grade}）' if grade else ''}：{start.isoformat() if start else ''}"


def _extra_after(p) -> dict:
    extra = {}
    cats = p.get("cats") or p.get("cats_add")
    if cats:
        extra["categories_added"] = cats
    if p.get("cats_upd"):
        extra["categories_updated"] = p["cats_upd"]
    contact = p.get("contact") or p.get("contact_add")
    if contact:
        extra["contact_added"] = {"name": contact[0], "relationship": contact[1], "phone": contact[2]}
    if p.get("contact_upd"):
        extra["contact_updated"] = {"id": p["contact_upd"][0], "relationship": p["contact_upd"][1],
                                    "phone": p["contact_upd"][2]}
    return extra


def _masked(values: dict) -> dict:
    out = dict(values)
    if out.get("bank_account"):
        out["bank_account"] = pii.mask_account(out["bank_account"])
    return out


def _audit_event(ctx, action, object_type, pk, name, region, row_number, before, after):
    actor = ctx.actor
    job = ctx.job
    return AuditEvent(
        actor=actor, actor_username=actor.get_username(), action=action, object_type=object_type,
        object_id=str(pk), object_repr=str(name)[:200], region_code=region or "", ip=job.ip if job else None,
        user_agent=job.user_agent if job else "", before=before, after=after,
        detail=ctx.detail % {"row": row_number},
    )


def _audit_row(ctx, action, object_type, pk, name, region, row_number, before, after, now) -> dict:
    """An audit event as plain values for `insert_rows` (same content as `_audit_event`)."""
    actor, job = ctx.actor, ctx.job
    return {"at": now, "actor_id": actor.pk, "actor_username": actor.get_username(), "action": action,
            "object_type": object_type, "object_id": str(pk), "object_repr": str(name)[:200],
            "region_code": region or "", "ip": job.ip if job else None, "user_agent": job.user_agent if job else "",
            "before": before, "after": after, "detail": ctx.detail % {"row": row_number}}


def _row_list(rows: list[int], limit: int = 20) -> str:
    text = "、".join(str(r) for r in rows[:limit])
    return text + ("…" if len(rows) > limit else "")


def _example_region(actor, levels) -> str:
    code = getattr(actor, "scope_code", "") or settings.DEFAULT_JURISDICTION_CODE
    region = Region.objects.filter(code__startswith=code, level__in=levels).order_by("code").first()
    if region is None:
        return code
    path = region_paths([region])[region.code].split("/")
    return "/".join(path[2:]) if len(path) > 2 else "/".join(path)
