"""Every value a client sends the API is bounded by its schema before the database sees it: each string by a
max_length no longer than its column, each integer by the database's integer range (yiyang/api/types.py)."""

import json

import pytest

from yiyang.api.types import BIGINT_MAX, ColumnLength
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder

from .schema_walk import Ge, Gt, Le, Lt, MaxLen, input_leaves

# Free-form JSON the services validate themselves, item by item, with their own messages and limits.
VALIDATED_BY_THE_SERVICE = {
    ("ScoreIn", "payload.items{}"): "scoring.score: every item code and score",
    ("ScoreIn", "payload.diagnoses[]"): "scoring.score: ICD-10 codes",
    ("ScoreIn", "payload.risk_events_30d{}"): "scoring.score: kinds and counts",
    ("AnswersIn", "payload.items{}"): "services.save_answers: item codes and scores",
    ("AnswersIn", "payload.info{}"): "annex.py: every Annex A field with its TEXT_LIMITS",
    ("RuleIn", "payload.params{}"): "rules.parse: the rule as data",
    ("SimulateIn", "payload.params{}"): "rules.parse",
    ("SimulateIn", "payload.changes{}"): "rules.with_changes, then rules.parse",
    ("RuleSetDraftIn", "payload.params{}"): "visits.rules.parse: the tiers as data",
    ("TierSimulateIn", "payload.params{}"): "visits.rules.parse",
}
# Strings named like a column of their schema's model that are not stored in it.
NOT_THE_COLUMN = {("TokenIn", "payload.password"): "the password as typed; User.password holds its hash"}
# Result fields an assessor may not send: any value is refused with a message (services.refuse_computed_fields).
REFUSED = {"final_level", "preliminary_level", "level", "total", "subtotals", "adjustments"}

LEAVES = input_leaves()


def _limit(leaf):
    bound = leaf.bound(MaxLen)
    return bound.max_length if bound else None


def test_every_string_has_a_limit_no_longer_than_its_column():
    problems = []
    home: dict[type, set] = {}  # the models a schema's limits were read from
    for leaf in LEAVES:
        limit = _limit(leaf)
        if isinstance(limit, ColumnLength):
            home.setdefault(leaf.model, set()).add(limit.model)
    for leaf in LEAVES:
        if leaf.kind != "str":
            continue
        limit = _limit(leaf)
        if limit is None:
            problems.append(f"{leaf.operation} {leaf.schema}.{leaf.field}: no max_length")
            continue
        if isinstance(limit, ColumnLength):
            columns = [(limit.model, limit.field)]
        elif (leaf.schema, leaf.field) in NOT_THE_COLUMN:
            columns = []
        else:
            # A hand-written limit on a field named like a column of the schema's model must fit that column.
            name = leaf.field.split(".")[-1].rstrip("[]{}")
            columns = [(m, name) for m in home.get(leaf.model, ()) if name in {f.name for f in m._meta.fields}]
        for model, field in columns:
            f = model._meta.get_field(field)
            column = (f.target_field if f.is_relation else f).max_length
            if column is not None and limit > column:
                problems.append(f"{leaf.operation} {leaf.schema}.{leaf.field}: {limit} > "
                                f"{model.__name__}.{field} ({column})")
    assert not problems, "\n".join(problems)


def test_every_integer_fits_the_database():
    problems = []
    for leaf in LEAVES:
        if leaf.kind != "int":
            continue
        upper = leaf.bound(Le) or leaf.bound(Lt)
        lower = leaf.bound(Ge) or leaf.bound(Gt)
        high = upper and (upper.le if isinstance(upper, Le) else upper.lt)
        low = lower and (lower.ge if isinstance(lower, Ge) else lower.gt)
        if high is None or low is None or high > BIGINT_MAX or low < -BIGINT_MAX:
            problems.append(f"{leaf.operation} {leaf.schema}.{leaf.field}: bounds {low}..{high}")
    assert not problems, "\n".join(problems)


def test_free_form_values_are_only_where_a_service_validates_them():
    found = {(leaf.schema, leaf.field) for leaf in LEAVES if leaf.kind == "any"}
    unexplained = {(s, f) for s, f in found
                   if (s, f) not in VALIDATED_BY_THE_SERVICE and f.split(".")[-1] not in REFUSED}
    assert not unexplained
    assert set(VALIDATED_BY_THE_SERVICE) <= found  # no stale entries


@pytest.fixture
def bureau_client(client, db):
    from yiyang.core.tests.factories import demo_roles

    roles = demo_roles()
    client.force_login(roles["bureau"])
    return client, roles


def _patch(client, pk, data):
    return client.patch(f"/api/v1/elders/{pk}", data=json.dumps(data), content_type="application/json")


@pytest.mark.parametrize(("field", "text", "limit"), [
    ("bank_name", "长" * 20_000, 64), ("bank_account_holder", "长" * 65, 64), ("notes", "x" * 1_900_000, 2000),
    ("name", "长" * 65, 64)])
def test_an_over_long_value_is_refused_before_the_database(bureau_client, field, text, limit):
    client, roles = bureau_client
    elder = make_elder(roles["bureau"], name="王秀英")
    resp = _patch(client, elder.pk, {field: text})
    assert resp.status_code == 422, resp.content[:300]
    assert resp.json()["errors"] == [{"field": field, "code": "too_long",
                                      "message": f"内容过长（最多 {limit} 字）。"}]
    fresh = Elder.objects.get(pk=elder.pk)
    assert getattr(fresh, field) == getattr(elder, field)
    # At the limit it is stored (PostgreSQL would refuse one character more).
    ok = _patch(client, elder.pk, {field: "长" * limit})
    assert ok.status_code == 200, ok.content[:300]
    assert len(getattr(Elder.objects.get(pk=elder.pk), field)) == limit


@pytest.mark.parametrize("url", [
    "/api/v1/assessments?elder=100000000000000000000000000000",
    "/api/v1/services/orders?provider=-100000000000000000000000000000",
    "/api/v1/services/recurring?elder=9223372036854775808",
    "/api/v1/elders/9223372036854775808",
])
def test_an_integer_beyond_the_database_is_a_422(bureau_client, url):
    client, _roles = bureau_client
    resp = client.get(url)
    assert resp.status_code == 422, resp.content[:300]
    assert resp.json()["errors"][0]["code"] == "out_of_range"


@pytest.mark.parametrize(("method", "url", "data", "fields"), [
    ("get", "/api/v1/elders?q=%E7%8E%8B%00", None, ["q"]),
    ("get", "/api/v1/regions/5119%0003", None, ["path"]),
    ("patch", "/api/v1/elders/{pk}", {"name": "王\x00秀英", "address": "ok"}, ["name"]),
    ("post", "/api/v1/elders", {"name": "王", "categories": [{"kind": "destitute", "grade": "\x00"}],
                                "k\x00": 1}, ["categories.0.grade", "k"]),
])
def test_a_nul_character_is_a_422_on_its_field_before_the_database(bureau_client, method, url, data, fields):
    # PostgreSQL refuses NUL in text (a DataError, so a 500 before); SQLite would store it.
    client, roles = bureau_client
    elder = make_elder(roles["bureau"], name="王秀英")
    kwargs = {"data": json.dumps(data), "content_type": "application/json"} if data is not None else {}
    resp = getattr(client, method)(url.replace("{pk}", str(elder.pk)), **kwargs)
    assert resp.status_code == 422, resp.content[:300]
    assert [(e["field"], e["code"]) for e in resp.json()["errors"]] == [(f, "control_character") for f in fields]
    assert resp.json()["errors"][0]["message"] == "不能包含控制字符 U+0000 NULL。"
    assert Elder.objects.get(pk=elder.pk).name == "王秀英" and Elder.objects.count() == 1


def test_a_nul_in_a_form_field_is_a_422_too(bureau_client):
    client, _roles = bureau_client
    resp = client.post("/api/v1/services/orders/1/photo", {"client_key": "k\x00"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "client_key"
