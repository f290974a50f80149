"""Writes of an import: the audit entries of many rows, texts of the changes, the example region.

The set-based inserts themselves are `yiyang.core.bulk`; the audit rows come from `yiyang.core.audit.bulk_records`
(the same rules as `audit.record`)."""


from __future__ import annotations

import logging

from django.conf import settings

from yiyang.core import audit
from yiyang.core.bulk import insert_many, insert_rows, key_sets
from yiyang.core.models import Region
from yiyang.core.selectors import region_paths

log = logging.getLogger(__name__)

__all__ = ["insert_many", "insert_rows", "key_sets"]


def audit_entry(ctx, row_number: int, **fields) -> audit.Entry:
    """The audit entry of one row of the file ("Excel 导入（任务 #12，第 7 行）")."""
    return audit.Entry(detail=ctx.detail % {"row": row_number}, **fields)


def record_rows(ctx, action: str, model, entries: list, *, snapshot_after: bool = False) -> None:
    """The audit events of many rows, attributed to the person who confirmed and the request that started it."""
    if entries:
        job = ctx.job
        audit.bulk_records(actor=ctx.actor, action=action, model=model, entries=entries,
                           snapshot_after=snapshot_after, ip=job.ip if job else None,
                           user_agent=job.user_agent if job else "")


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
