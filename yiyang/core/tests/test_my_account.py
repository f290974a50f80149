"""My account: one's own API tokens (list, revoke one, revoke all) and the password change."""

import pytest
from django.test import Client
from django.urls import reverse

from yiyang.core import services
from yiyang.core.models import ApiToken, AuditEvent
from yiyang.core.tests.factories import PASSWORD, demo_roles
from yiyang.core.tests.test_api import post_json, token_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Xin-Mima-2026-ok"


@pytest.fixture
def roles():
    return demo_roles()


def bearer(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_api_lists_and_revokes_own_tokens(client, roles):
    first, second = token_for(client, "bureau"), token_for(client, "bureau")
    other = token_for(client, "street")
    listed = client.get("/api/v1/me/tokens", **bearer(first)).json()
    assert [t["prefix"] for t in listed] == [second[3:11], first[3:11]]  # newest first, only mine
    assert listed[0]["revoked_at"] is None and "key_hash" not in listed[0]
    revoked = post_json(client, f"/api/v1/me/tokens/{listed[0]['id']}/revoke", {}, **bearer(first)).json()
    assert revoked["revoked_at"] is not None
    assert client.get("/api/v1/me", **bearer(second)).status_code == 401
    assert AuditEvent.objects.filter(action="update", detail=f"token {second[3:11]}… revoked").count() == 1
    street_token = ApiToken.objects.get(user=roles["street"])
    assert post_json(client, f"/api/v1/me/tokens/{street_token.pk}/revoke", {}, **bearer(first)).status_code == 404
    assert post_json(client, "/api/v1/me/tokens/revoke-all", {}, **bearer(first)).json() == {"revoked": 1}
    assert client.get("/api/v1/me", **bearer(first)).status_code == 401
    assert client.get("/api/v1/me", **bearer(other)).status_code == 200  # someone else's untouched


def test_page_lists_tokens_and_revokes_them(client, roles):
    token_for(client, "bureau")
    key = token_for(client, "bureau")
    client.force_login(roles["bureau"])
    assert 'href="/me/"' in client.get("/").content.decode()  # from the user menu
    body = client.get(reverse("core:my_account")).content.decode()
    assert "我的账号" in body and f"{key[3:11]}…" in body and body.count("有效") >= 2
    token = ApiToken.objects.get(prefix=key[3:11])
    client.post(reverse("core:my_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    client.post(reverse("core:my_tokens_revoke_all"))
    assert not ApiToken.objects.filter(user=roles["bureau"], revoked_at=None).exists()
    assert "已撤销" in client.get(reverse("core:my_account")).content.decode()


def test_page_cannot_revoke_someone_elses_token(client, roles):
    token_for(client, "street")
    client.force_login(roles["bureau"])
    token = ApiToken.objects.get(user=roles["street"])
    assert client.post(reverse("core:my_token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_password_change_needs_current_password_revokes_tokens_and_keeps_session(client, roles):
    key = token_for(client, "bureau")
    client.force_login(roles["bureau"])
    url = reverse("core:my_password")
    wrong = client.post(url, {"current_password": "nope", "new_password": NEW_PASSWORD,
                              "new_password_again": NEW_PASSWORD})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.content.decode()
    weak = client.post(url, {"current_password": PASSWORD, "new_password": "123", "new_password_again": "123"})
    assert weak.status_code == 422  # Django's validators
    ok = client.post(url, {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                           "new_password_again": NEW_PASSWORD})
    assert ok.status_code == 302
    roles["bureau"].refresh_from_db()
    assert roles["bureau"].check_password(NEW_PASSWORD)
    assert client.get(reverse("core:my_account")).status_code == 200  # still signed in
    assert Client().get("/api/v1/me", **bearer(key)).status_code == 401  # without this browser's session
    assert AuditEvent.objects.filter(action="update", detail="password changed", actor=roles["bureau"]).exists()
    assert AuditEvent.objects.filter(detail="1 token(s) revoked: password changed").exists()


def test_deactivating_an_account_revokes_its_tokens(client, roles):
    key = token_for(client, "street")
    services.set_account_active(actor=roles["bureau"], user=roles["street"], active=False)
    services.set_account_active(actor=roles["bureau"], user=roles["street"], active=True)
    assert client.get("/api/v1/me", **bearer(key)).status_code == 401  # not back alive on re-enabling
    assert ApiToken.objects.get(user=roles["street"]).revoked_at is not None
