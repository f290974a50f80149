"""Set-based generation for benchmarks: INSERT … SELECT rows that look like the ORM's, without the ORM."""

from __future__ import annotations

import datetime
import json


def insert_select(cursor, model, values: dict[str, tuple[str, list]], source: str, params: list | None = None) -> int:
    """INSERT INTO model's table (every concrete column but id) SELECT … `source`. `values` maps columns to
    their SQL (and its parameters); every other column gets its field default, or '' / NULL / now, so that
    the rows have the shape the ORM would give them (new columns of a model need no change here)."""
    from django.db import models as m
    from django.utils import timezone

    now = timezone.now()
    columns, exprs, args = [], [], []
    for f in model._meta.concrete_fields:
        if f.column == "id":
            continue
        columns.append(f.column)
        if f.column in values:
            sql, p = values[f.column]
            exprs.append(sql)
            args += p
            continue
        if f.null:
            exprs.append("NULL")
            continue
        default = f.get_default() if f.has_default() else None
        if isinstance(f, m.JSONField):
            exprs.append("%s::jsonb")
            args.append(json.dumps(default if default is not None else {}))
            continue
        exprs.append("%s")
        if isinstance(f, m.DateTimeField):
            args.append(default if isinstance(default, datetime.datetime) else now)
        elif isinstance(f, m.DateField):
            args.append(default if isinstance(default, datetime.date) else now.date())
        elif isinstance(f, (m.IntegerField, m.DecimalField, m.FloatField)):
            args.append(default or 0)
        elif isinstance(f, m.BooleanField):
            args.append(bool(default))
        else:
            args.append(str(default) if default is not None else "")
    cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {source}",
                   args + (params or []))
    return cursor.rowcount
