"""Every list of the API is paged by the database with one shared class (yiyang/api/pagination.py): the page
is a LIMIT/OFFSET query, its size is capped, and a page costs the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.signature.details import is_collection_type

from yiyang.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, PAGINATED
from yiyang.registry.tests.factories import make_elder

from .schema_walk import operations
from .world import OTHER_COMMUNITY, api_world

pytestmark = pytest.mark.django_db

# Lists that are not pages of a table: bounded by what they are.
UNPAGED = {
    "GET /api/v1/regions": "a picker's lookup: at most `limit` (≤ 100) matches, or one region's children",
    "GET /api/v1/assessments/templates": "the assessment standards the code ships (two)",
    "GET /api/v1/benefits/programmes": "the catalogue of benefit programmes (a handful)",
    "GET /api/v1/services/availability": "one row per caregiver of the caller's own organisation",
    "GET /api/v1/me/tokens": "the caller's own API tokens, at most 100",
}


def _returns_a_list(op) -> bool:
    for model in op.response_models.values():
        annotation = getattr(model, "__annotations__", {}).get("response")
        if annotation is not None and is_collection_type(annotation):
            return True
    return False


def test_every_list_endpoint_is_paged_by_the_shared_class():
    paged, unpaged = [], []
    for o in operations():
        view = o.op.view_func
        if getattr(view, "_ninja_is_paginated", False):
            (paged if getattr(view, PAGINATED, False) else unpaged).append(o.label)
        elif _returns_a_list(o.op) and o.label not in UNPAGED:
            unpaged.append(o.label)
    assert not unpaged, f"lists not paged by yiyang.api.pagination.paginated: {unpaged}"
    assert len(paged) >= 15


def _url(label: str) -> str:
    path = label.split(" ", 1)[1]
    return path.replace("{code}", "longevity").replace("{roll_id}", "1").replace("{home_id}", "1")


# Every paged list (by whichever class: the test above holds them to ours).
PAGED = [o.label for o in operations() if getattr(o.op.view_func, "_ninja_is_paginated", False)]


@pytest.mark.parametrize("label", PAGED)
@pytest.mark.parametrize(("params", "field", "message"), [
    ({"limit": MAX_LIMIT + 1}, "limit", f"不能大于 {MAX_LIMIT}。"),
    ({"limit": 10**20}, "limit", f"不能大于 {MAX_LIMIT}。"),
    ({"limit": 0}, "limit", "不能小于 1。"),
    ({"offset": -1}, "offset", "不能小于 0。"),
    ({"offset": 10**20}, "offset", f"不能大于 {MAX_OFFSET}。"),
])
def test_page_size_and_offset_are_bounded_with_a_clear_422(client, label, params, field, message):
    from yiyang.core.tests.factories import make_user

    client.force_login(make_user("bureau", "bureau", region="511903"))
    resp = client.get(_url(label), params)
    assert resp.status_code == 422, (label, resp.content)
    body = resp.json()
    assert body["code"] == "validation_error"
    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [(field, "out_of_range", message)]


# Who lists what in the world of world.py: (label, user, at least this many rows).
LISTS = [
    ("GET /api/v1/accounts", "bureau", 5),
    ("GET /api/v1/audit", "bureau", 5),
    ("GET /api/v1/elders", "bureau", 5),
    ("GET /api/v1/elders", "street", 4),
    ("GET /api/v1/organisations", "bureau", 3),
    ("GET /api/v1/facilities", "bureau", 3),
    ("GET /api/v1/staff", "bureau", 3),
    ("GET /api/v1/assessments", "bureau", 3),
    ("GET /api/v1/benefits/programmes/{code}/rules", "bureau", 1),
    ("GET /api/v1/benefits/rolls", "bureau", 1),
    ("GET /api/v1/benefits/rolls/{roll_id}/lines", "bureau", 3),
    ("GET /api/v1/benefits/rolls/{roll_id}/checks", "bureau", 3),
    ("GET /api/v1/services/offers", "bureau", 2),
    ("GET /api/v1/services/orders", "bureau", 6),
    ("GET /api/v1/services/shifts", "provider", 3),
    ("GET /api/v1/services/follow-ups", "bureau", 3),
    ("GET /api/v1/services/recurring", "bureau", 3),
    ("GET /api/v1/visits/rule-sets", "bureau", 1),
    ("GET /api/v1/visits/visitors", "community", 2),
    ("GET /api/v1/visits/pairings", "community", 3),
    ("GET /api/v1/visits/unpaired", "community", 1),
    ("GET /api/v1/visits/tasks", "bureau", 4),
    ("GET /api/v1/visits/my-day", "visitor", 2),
    ("GET /api/v1/visits/records", "bureau", 1),
    ("GET /api/v1/visits/follow-ups", "bureau", 1),
    ("GET /api/v1/alarms/alarms", "operator", 2),
    ("GET /api/v1/alarms/devices", "operator", 6),
    ("GET /api/v1/alarms/vendors", "bureau", 1),
    ("GET /api/v1/alarms/quarantine", "bureau", 1),
    ("GET /api/v1/alarms/maintenance", "provider", 1),
    ("GET /api/v1/alarms/rota", "bureau", 2),
    ("GET /api/v1/alarms/service-levels", "bureau", 1),
    ("GET /api/v1/alarms/notifications", "operator", 1),
    ("GET /api/v1/institutions/homes", "bureau", 1),
    ("GET /api/v1/institutions/homes/{home_id}/beds", "bureau", 3),
    ("GET /api/v1/institutions/escrow-accounts", "bureau", 1),
]


def test_the_world_covers_every_paged_list():
    assert sorted({label for label, _user, _n in LISTS}) == sorted(PAGED)


def _get(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url, params)
    assert resp.status_code == 200, (url, resp.content)
    return resp.json(), ctx.captured_queries


def test_every_list_is_one_limited_query_and_costs_the_same_for_any_page_size(client):
    world = api_world()
    problems = []
    for label, who, at_least in LISTS:
        client.force_login(world[who])
        url = label.split(" ", 1)[1].replace("{code}", world["programme"].code).replace(
            "{roll_id}", str(world["roll"].pk)).replace("{home_id}", str(world["home"].pk))
        whole, many = _get(client, url, {"limit": MAX_LIMIT})
        one, few = _get(client, url, {"limit": 1})
        if whole["count"] < at_least or len(whole["items"]) != whole["count"]:
            problems.append(f"{label} as {who}: {whole['count']} rows, the test needs {at_least}")
            continue
        if one["count"] != whole["count"] or len(one["items"]) != min(1, whole["count"]):
            problems.append(f"{label}: a page of 1 says count {one['count']} with {len(one['items'])} items")
        if not any(" LIMIT " in q["sql"].upper() for q in few):
            problems.append(f"{label}: no LIMIT in {[q['sql'][:120] for q in few]}")
        # A page of up to 100 rows never costs more queries than a page of one (no query per row), and a page
        # costs a small, fixed number of them: the session and the user, the page, its prefetches, the count.
        if len(many) > len(few) or len(few) > 10:
            problems.append(f"{label} as {who}: {len(few)} queries for 1 row, {len(many)} for {whole['count']}")
    assert not problems, "\n".join(problems)


def test_a_page_reads_its_rows_only_and_counts_the_whole_scope(client):
    world = api_world()
    for i in range(40):
        make_elder(world["bureau"], seq=20 + i, name=f"新老人{i}", residence=OTHER_COMMUNITY)
    client.force_login(world["bureau"])
    first = client.get("/api/v1/elders").json()
    assert len(first["items"]) == DEFAULT_LIMIT and first["count"] == 45
    second = client.get("/api/v1/elders", {"offset": DEFAULT_LIMIT}).json()
    assert len(second["items"]) == 45 - DEFAULT_LIMIT and second["count"] == 45
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}
    beyond = client.get("/api/v1/elders", {"offset": 1000}).json()
    assert beyond == {"items": [], "count": 45}
    # The categories are those of the page's elders: 老人1 (特困, 登科寺社区) comes first in region order.
    categories = {e["name"]: [c["kind"] for c in e["categories"]] for e in first["items"]}
    assert categories["老人1"] == ["destitute"] and categories["老人2"] == []
