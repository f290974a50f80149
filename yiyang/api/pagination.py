"""One way to page through every list of the API: `limit` (1–100, default 25) and `offset` (from 0), cut by the
database (LIMIT/OFFSET), answered as `{"items": [...], "count": N}`.

A list endpoint returns a QuerySet, or `Rows(queryset, render)` when a page of model objects must be turned into
items (`render` gets the page's objects, at most `limit` of them, and may prefetch what the page needs). Anything
else is a programming error: a list built in Python would read the whole scope for one page, which is what made
the elder list take seconds at a county's size.

    @router.get("things", response=list[ThingOut])
    @paginated
    def list_things(request):
        return Rows(selectors.things_for(user=request.user), render=lambda page: [out(t) for t in page])
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.pagination import PaginationBase, paginate

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# Deep OFFSETs cost the database the rows they skip; beyond this, filter the list (or export it).
MAX_OFFSET = 10_000_000

PAGINATED = "_yiyang_paginated"


@dataclass(frozen=True)
class Rows:
    """A list endpoint's rows: the queryset the database pages, and how one page becomes the answer's items."""

    queryset: QuerySet
    render: Callable[[list], list] | None = None


class Page(PaginationBase):
    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                           description=f"Items per page, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT}).")
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip (0 for the first page).")

    class Output(Schema):
        items: list[Any]
        count: int = Field(..., description="Items in the whole list (all pages), with the filters applied.")

    def paginate_queryset(self, queryset, pagination: Input, request, **params) -> dict:
        rows = queryset if isinstance(queryset, Rows) else Rows(queryset)
        if not isinstance(rows.queryset, QuerySet):
            raise TypeError(f"a paginated endpoint must return a QuerySet or Rows, not {type(rows.queryset)!r}")
        start = pagination.offset
        page = _page(rows.queryset, start, pagination.limit)
        # A short page ends the list, so it also gives the count: no COUNT(*) over the scope for it.
        if page and len(page) < pagination.limit or not page and start == 0:
            count = start + len(page)
        else:
            count = rows.queryset.count()
        return {"items": rows.render(page) if rows.render else page, "count": count}


def _page(queryset: QuerySet, start: int, limit: int) -> list:
    """The page's rows, in two steps: the ids of the page (the database skips `start` rows reading only the
    index when one covers the order and the scope, e.g. the elders' region order), then those rows with what
    they select and prefetch. A deep page thus costs an index walk, not `start` joined rows. The order is made
    total with the primary key, so that pages never overlap or skip a row."""
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    if not any(isinstance(o, str) and o.lstrip("-") in ("pk", "id") for o in ordering):
        ordering.append("pk")
    queryset = queryset.order_by(*ordering)
    ids = list(queryset.values_list("pk", flat=True)[start:start + limit])
    if not ids:
        return []
    found = {obj.pk: obj for obj in queryset.filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def paginated(func):
    """`@paginate(Page)`, marked so that a test can prove every list endpoint of the API uses it."""
    wrapped = paginate(Page)(func)
    setattr(wrapped, PAGINATED, True)
    return wrapped
