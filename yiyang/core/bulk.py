"""Set-based writes: many rows in one statement (or one COPY), for the import and the services.

- `insert_rows(model, rows, count=None)`: new rows from plain values (attname → value), primary keys returned in
  order; COPY on PostgreSQL, one executemany on SQLite, `bulk_create` elsewhere; with `count`, the rows may come
  from a generator consumed during the COPY;
- `insert_many(model, objs)`: the same for model instances (their primary keys are set);
- `insert_select(model, queryset, values)`: INSERT INTO … SELECT …, the rows computed by the database;
- `key_sets(keys)`: operands for `field__in=` covering many keys (a temporary table filled by COPY on
  PostgreSQL, chunks elsewhere).

All of them write in the caller's transaction; the caller audits (`audit.bulk_records` for many rows).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable

from django.db import connections, router, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from . import pii
from .fields import EncryptedTextField

BATCH = 1000  # rows per statement where neither COPY nor executemany is used
_ENCRYPT = object()  # the converter of encrypted fields: pii.encrypt_many over a chunk of rows


def insert_rows(model, rows: Iterable[dict], *, count: int | None = None) -> list[int]:
    """Insert many new rows (attname → value; missing fields take their defaults) in the current transaction and
    return their primary keys, in order.

    With `count`, `rows` may be a generator of exactly that many rows: it is consumed while the database takes
    in the rows before (with COPY, the caller's work of making rows overlaps the database's of storing them).

    Django's bulk_create is the portable way, but it builds a model instance per row, and on PostgreSQL (Django 5.2
    inserts through UNNEST arrays, which psycopg quotes client-side in Python) it costs ~20 µs per value. Here:
    ids are reserved first (the identity sequence on PostgreSQL; past MAX(id) and sqlite_sequence under SQLite's
    write lock), then the rows go in with COPY (PostgreSQL, its data sent by psycopg's writer thread while the
    next rows are prepared) or one executemany (SQLite). Values are prepared as Django would: encrypted fields
    encrypted, JSON dumped, auto_now timestamps set, dates and decimals adapted. Constraint violations surface as
    django.db.IntegrityError.
    """
    if count is None:
        rows = list(rows)
        count = len(rows)
    if not count:
        return []
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    if connection.vendor not in ("postgresql", "sqlite"):
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH)
        return [o.pk for o in objs]
    table = connection.ops.quote_name(meta.db_table)
    pk_column = meta.pk.column
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    # Fields whose values pass unchanged first (no call per value), then those that need converting.
    converters = {f.attname: _converter(f, connection, now) for f in fields}
    # Encrypted fields last: they are encrypted a chunk of rows at a time (pii.encrypt_many).
    encrypted = [f for f in fields if converters[f.attname] is _ENCRYPT]
    plain = [(f.attname, f.get_default()) for f in fields if converters[f.attname] is None]
    converted = [(f.attname, f.get_default(), converters[f.attname]) for f in fields
                 if converters[f.attname] not in (None, _ENCRYPT)]
    order = [f for f in fields if converters[f.attname] is None] + [
        f for f in fields if converters[f.attname] not in (None, _ENCRYPT)] + encrypted
    columns = ", ".join(connection.ops.quote_name(c) for c in [pk_column] + [f.column for f in order])
    with connection.cursor() as cursor:
        ids = _reserve_ids(cursor, connection, meta, table, pk_column, count)
        values = _values(ids, rows, plain, converted, [(f.attname, f.get_default()) for f in encrypted])
        if connection.vendor == "postgresql":
            from psycopg.copy import QueuedLibpqWriter

            raw = cursor.cursor
            with connection.wrap_database_errors, raw.copy(f"COPY {table} ({columns}) FROM STDIN",
                                                           writer=QueuedLibpqWriter(raw)) as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * (len(fields) + 1))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)
    return ids


ENCRYPT_CHUNK = 5000


def _values(ids, rows, plain, converted, encrypted):
    """The rows as COPY / executemany take them, encrypted columns done a chunk at a time."""
    source, start = iter(rows), 0
    while chunk := list(itertools.islice(source, ENCRYPT_CHUNK)):
        secret = [pii.encrypt_many([row.get(a, d) for row in chunk]) for a, d in encrypted]
        for n, (pk, row) in enumerate(zip(ids[start:start + len(chunk)], chunk, strict=True)):
            yield [pk, *[row.get(a, d) for a, d in plain], *[c(row.get(a, d)) for a, d, c in converted],
                   *[column[n] for column in secret]]
        start += len(chunk)
    if start != len(ids):
        raise ValueError(f"insert_rows: {start} rows for {len(ids)} reserved ids")


def _reserve_ids(cursor, connection, meta, table: str, pk_column: str, n: int) -> list[int]:
    if connection.vendor == "postgresql":
        # Usually one unbroken run (then only its ends travel); with other sessions taking ids meanwhile, the
        # whole list, in the order nextval gave them.
        cursor.execute("SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL "
                       "ELSE array_agg(id ORDER BY id) END FROM (SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "AS id FROM generate_series(1, %s)) ids", [meta.db_table, pk_column, n])
        first, last, ids = cursor.fetchone()
        return list(range(first, last + 1)) if ids is None else list(ids)
    cursor.execute(f"SELECT MAX({connection.ops.quote_name(pk_column)}) FROM {table}")
    start = cursor.fetchone()[0] or 0
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
    seq = cursor.fetchone()
    start = max(start, seq[0] if seq else 0)
    return list(range(start + 1, start + 1 + n))


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


def _converter(field, connection, now) -> Callable | None:
    """value → what the database driver takes, per field (decided once, applied per row)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        if connection.vendor == "postgresql":
            return lambda value: value or now
        return lambda value: field.get_db_prep_save(value or now, connection)
    if isinstance(field, EncryptedTextField):
        return _ENCRYPT
    internal = field.get_internal_type()
    if internal == "JSONField":
        encode = (field.encoder or json.JSONEncoder)().encode  # json.dumps(value, cls=encoder), one encoder
        return lambda value: None if value is None else encode(value)
    if connection.vendor == "sqlite" and internal in ("DateTimeField", "DateField", "DecimalField", "TimeField"):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def insert_select(model, queryset, values: dict) -> int:
    """INSERT INTO model (fields) SELECT …: one statement, whatever the number of rows. `values` maps the
    model's field names to expressions over the queryset's rows. Returns the number of rows inserted."""
    aliases = {f"_ins_{name}": expr for name, expr in values.items()}
    rows = queryset.order_by().annotate(**aliases).values_list(*aliases)
    compiler = rows.query.get_compiler(using=rows.db)
    select_sql, params = compiler.as_sql()
    # The SELECT's columns in the order the compiler wrote them (not trusting the order of the dict).
    columns = [model._meta.get_field(alias.removeprefix("_ins_")).column for _expr, _sql, alias in compiler.select]
    connection = transaction.get_connection(rows.db)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({quoted}) {select_sql}",
                       params)
        return cursor.rowcount


def key_sets(keys: list, *, integer: bool = False, chunk: int = 2000) -> Iterable:
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
    table = "yiyang_bulk_ids" if integer else "yiyang_bulk_keys"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} (k {'bigint' if integer else 'text'}) "
                       f"ON COMMIT DROP")
        cursor.execute(f"TRUNCATE {table}")
        with cursor.cursor.copy(f"COPY {table} (k) FROM STDIN") as copy:
            for k in keys:
                copy.write_row((k,))
        cursor.execute(f"ANALYZE {table}")
        yield RawSQL(f"SELECT k FROM {table}", [])
