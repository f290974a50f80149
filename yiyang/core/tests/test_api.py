import json

import pytest

from yiyang.core.models import ApiToken, AuditEvent, User
from yiyang.core.tests.factories import PASSWORD, demo_roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def post_json(client, url, data, **headers):
    return client.post(url, data=json.dumps(data), content_type="application/json", **headers)


def token_for(client, username):
    resp = post_json(client, "/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.content
    return resp.json()["token"]


def test_token_flow(client, roles):
    token = token_for(client, "bureau")
    assert token.startswith("yy_")
    # Only a hash is stored.
    assert not ApiToken.objects.filter(key_hash=token).exists()
    assert ApiToken.objects.filter(key_hash=ApiToken.hash_key(token)).exists()
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200
    assert me.json()["role"] == "bureau" and me.json()["scope"]["code"] == "511903"
    assert AuditEvent.objects.filter(action="token", actor=roles["bureau"]).count() == 1


def test_wrong_login_on_token_endpoint(client, roles):
    resp = post_json(client, "/api/v1/auth/token", {"username": "bureau", "password": "nope"})
    assert resp.status_code == 401
    body = resp.json()
    assert body["code"] == "invalid_credentials" and body["message"] == "用户名或密码错误。"
    en = post_json(client, "/api/v1/auth/token", {"username": "bureau", "password": "nope"},
                   HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["message"] == "Wrong username or password."


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Token abc", "Bearer yy_" + "x" * 43, "Basic Zm9v"])
def test_malformed_or_unknown_tokens(client, roles, header):
    resp = client.get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert resp.status_code == 401
    assert resp.json()["code"] == "unauthenticated"


def test_expired_and_revoked_tokens(client, roles):
    from django.utils import timezone

    token = token_for(client, "bureau")
    ApiToken.objects.update(revoked_at=timezone.now())
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    token2 = token_for(client, "bureau")
    ApiToken.objects.filter(key_hash=ApiToken.hash_key(token2)).update(expires_at=timezone.now())
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token2}").status_code == 401


def test_inactive_users_token_stops_working(client, roles):
    token = token_for(client, "street")
    User.objects.filter(username="street").update(is_active=False)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_session_auth_works_for_the_browser(client, roles):
    client.force_login(roles["community"])
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200 and resp.json()["username"] == "community"


def test_validation_errors_have_one_format(client, roles):
    resp = post_json(client, "/api/v1/auth/token", {"username": "bureau"})
    assert resp.status_code == 422
    body = resp.json()
    assert body["status"] == 422 and body["code"] == "validation_error"
    assert body["errors"] == [{"field": "password", "code": "required", "message": "此项为必填项。"}]


def test_malformed_json(client, roles):
    resp = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed_request"


def test_oversized_request(client, roles, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    resp = client.post("/api/v1/auth/token", data=json.dumps({"username": "x" * 5000, "password": "y"}),
                       content_type="application/json")
    assert resp.status_code == 413
    assert resp.json()["code"] == "request_too_large"


def test_accounts_api_scope_and_404(client, roles):
    token = token_for(client, "bureau")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    listing = client.get("/api/v1/accounts", {"limit": 100}, **auth).json()
    names = {a["username"] for a in listing["items"]}
    assert "street" in names and "other_bureau" not in names
    assert client.get(f"/api/v1/accounts/{roles['street'].pk}", **auth).status_code == 200
    out = client.get(f"/api/v1/accounts/{roles['other_bureau'].pk}", **auth)
    assert out.status_code == 404 and out.json()["code"] == "not_found"
    street_token = token_for(client, "street")
    resp = client.get(f"/api/v1/accounts/{roles['community'].pk}", HTTP_AUTHORIZATION=f"Bearer {street_token}")
    assert resp.status_code == 404


def test_create_account_via_api_with_field_errors(client, roles):
    token = token_for(client, "bureau")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    bad = post_json(client, "/api/v1/accounts", {"username": "n1", "password": "weak", "role": "street",
                                                 "region": "511903", "id_number": "110105194912310021"}, **auth)
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"password", "region", "id_number"} <= fields
    assert not User.objects.filter(username="n1").exists()
    ok = post_json(client, "/api/v1/accounts", {"username": "n1", "password": "Gd7#kLmn2pq", "role": "street",
                                                "region": "511903003"}, **auth)
    assert ok.status_code == 201 and ok.json()["region"] == "511903003"
    forbidden = post_json(client, "/api/v1/accounts", {"username": "n2", "password": "Gd7#kLmn2pq",
                                                       "role": "family"},
                          HTTP_AUTHORIZATION=f"Bearer {token_for(client, 'street')}")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


def test_unknown_role_is_a_validation_error(client, roles):
    token = token_for(client, "bureau")
    resp = post_json(client, "/api/v1/accounts", {"username": "n3", "password": "Gd7#kLmn2pq", "role": "king"},
                     HTTP_AUTHORIZATION=f"Bearer {token}")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "role"


def test_regions_api(client, roles):
    client.force_login(roles["bureau"])
    children = client.get("/api/v1/regions", {"parent": "511903"}).json()
    assert len(children) == 18 and children[0]["name"] == "登科街道"
    found = client.get("/api/v1/regions", {"q": "ey"}).json()
    assert any(r["name"] == "恩阳区" and r["path"] == "四川省/巴中市/恩阳区" for r in found)
    assert client.get("/api/v1/regions/999999").status_code == 404


def test_audit_api_scoped(client, roles):
    token_for(client, "street")
    token = token_for(client, "bureau")
    events = client.get("/api/v1/audit", {"action": "token"}, HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert {e["actor"] for e in events["items"]} == {"street", "bureau"}


def test_openapi_and_docs(client, roles):
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/auth/token" in paths and "/api/v1/accounts" in paths
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.content.decode().lower()  # served from our own static files


def test_openapi_json_has_no_duplicate_keys(client, roles):
    # A file route once listed its 200 twice (int and str key): Swagger UI then refused the whole document.
    import json

    duplicates = []

    def pairs(items):
        keys = [k for k, _ in items]
        duplicates.extend({k for k in keys if keys.count(k) > 1})
        return dict(items)

    schema = json.loads(client.get("/api/openapi.json").content, object_pairs_hook=pairs)
    assert duplicates == []
    report = schema["paths"]["/api/v1/assessments/{assessment_id}/report.pdf"]["get"]["responses"]
    assert list(report["200"]["content"]) == ["application/pdf"]
    bank = schema["paths"]["/api/v1/benefits/rolls/{roll_id}/bank-file"]["get"]["responses"]
    assert set(bank["200"]["content"]) == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv"}


def test_api_requires_auth(client, roles):
    assert client.get("/api/v1/accounts").status_code == 401


@pytest.mark.parametrize("loc, field", [
    (("query", "status", "str-enum[OrderStatus]"), "status"),
    (("body", "payload", "start", "function-after[_check(), date]"), "start"),
    (("body", "payload", "rows", 2, "amount"), "rows.2.amount"),
    (("query", "filters", "month", "nullable", "lax-or-strict[date]"), "month"),
])
def test_error_field_names_drop_pydantic_validator_tags(loc, field):
    from yiyang.api.errors import _field_path

    assert _field_path(loc) == field
