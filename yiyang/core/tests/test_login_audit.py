import pytest
from django.test import override_settings
from django.urls import reverse

from yiyang.core.models import AuditEvent, LoginFailure
from yiyang.core.tests.factories import PASSWORD, demo_roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def test_login_logout_are_audited(client, roles):
    resp = client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert resp.status_code == 302 and resp.url == "/"
    event = AuditEvent.objects.get(action="login")
    assert event.actor == roles["bureau"] and event.ip == "10.1.2.3" and event.region_code == "511903"
    client.post(reverse("core:logout"))
    assert AuditEvent.objects.filter(action="logout", actor=roles["bureau"]).exists()
    assert client.get("/").status_code == 302  # signed out


def test_wrong_password_is_refused_in_chinese_and_logged(client, roles):
    resp = client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"})
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", object_repr="bureau").count() == 1
    assert "_auth_user_id" not in client.session


def test_wrong_password_message_in_english(client, roles):
    client.cookies["django_language"] = "en"
    resp = client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"})
    assert "Wrong username or password." in resp.content.decode()


def test_pages_stay_chinese_for_an_english_browser(client, roles):
    body = client.get(reverse("core:login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in body and 'lang="zh-hans"' in body


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_throttling_after_repeated_failures(client, roles):
    for _ in range(3):
        client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"})
    # Even the right password is refused while locked.
    resp = client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD})
    assert resp.status_code == 401
    assert "登录失败次数过多" in resp.content.decode()
    assert "_auth_user_id" not in client.session
    assert LoginFailure.objects.filter(username="bureau").count() == 3


def test_success_clears_failures(client, roles):
    client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"})
    client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD})
    assert LoginFailure.objects.filter(username="bureau").count() == 0


def test_open_redirect_is_refused(client, roles):
    resp = client.post(reverse("core:login") + "?next=https://evil.example/", {"username": "bureau",
                                                                                "password": PASSWORD})
    assert resp.url == "/"


def test_audit_log_is_append_only(roles):
    event = AuditEvent.objects.create(action="login", actor_username="x")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().update(detail="tampered")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db(transaction=False)
def test_postgres_trigger_refuses_raw_updates(roles):
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    AuditEvent.objects.create(action="login", actor_username="x")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE core_auditevent SET detail = 'tampered'")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditevent")


def test_audit_page_is_scoped_and_searchable(client, roles):
    from yiyang.core import audit

    audit.record(actor=roles["street"], action="update", object_type="core.user", object_id="1", object_repr="ours")
    audit.record(actor=roles["other_bureau"], action="update", object_type="core.user", object_id="2",
                 object_repr="theirs")
    client.force_login(roles["bureau"])
    body = client.get(reverse("core:audit_list")).content.decode()
    assert "ours" in body and "theirs" not in body
    filtered = client.get(reverse("core:audit_list"), {"actor": "street", "action": "update"}).content.decode()
    assert "ours" in filtered
    none = client.get(reverse("core:audit_list"), {"actor": "nobody"}).content.decode()
    assert "ours" not in none


def test_home_pages_per_role(client, roles):
    expectations = {
        "bureau": ["恩阳区", "辖区账号", "最近操作"],
        "street": ["登科街道", "本街道/乡镇"],
        "community": ["登科寺社区", "本社区/村"],
        "assessor": ["评估中心"],
        "provider": ["颐康"],
        "caregiver": ["颐康"],
        "family": ["居家上门服务"],
    }
    for name, needles in expectations.items():
        client.force_login(roles[name])
        body = client.get("/").content.decode()
        for needle in needles:
            assert needle in body, (name, needle)
        if name != "bureau":
            assert "辖区账号" not in body and 'href="/audit/"' not in body


def test_language_switch_to_english(client, roles):
    client.force_login(roles["bureau"])
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = client.get("/").content.decode()
    assert "Accounts" in body and "Audit log" in body
    assert 'lang="en"' in body


def test_security_headers_and_cookie_flags(client, roles):
    resp = client.get(reverse("core:login"))
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_wrong_passwords_lock_that_address_only(client, roles):
    for _ in range(3):
        client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    locked = client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD},
                         REMOTE_ADDR="203.0.113.9")
    assert "登录失败次数过多" in locked.content.decode()
    # The real person, elsewhere, still gets in; the stranger's failures stay on record.
    ok = client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")
    assert ok.status_code == 302
    assert LoginFailure.objects.filter(username="bureau", ip="203.0.113.9").count() == 3


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_USERNAME_LIMIT=5)
def test_failures_from_many_addresses_lock_the_username_everywhere(client, roles):
    for n in range(5):  # 2 + 2 + 1: no pair reaches 3, the username reaches 5
        client.post(reverse("core:login"), {"username": "bureau", "password": "wrong"},
                    REMOTE_ADDR=f"198.51.100.{n // 2}")
    resp = client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD}, REMOTE_ADDR="10.0.0.7")
    assert resp.status_code == 401 and "登录失败次数过多" in resp.content.decode()


@override_settings(TRUSTED_PROXIES=0)
def test_forwarded_for_is_ignored_without_trusted_proxies(client, roles):
    client.post(reverse("core:login"), {"username": "bureau", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9",
                HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEvent.objects.get(action="login").ip == "10.9.9.9"


@pytest.mark.parametrize("hops, forwarded, expected", [
    (1, "1.2.3.4, 203.0.113.5", "203.0.113.5"),       # the forged leftmost entry is not believed
    (2, "1.2.3.4, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
    (2, "203.0.113.5", "203.0.113.5"),                  # came in past the outer proxy: what the inner one saw
    (1, "not-an-address", "10.0.0.1"),                  # garbage never reaches the address column
    (1, "", "10.0.0.1"),
])
def test_client_address_counts_trusted_proxies_from_the_right(rf, hops, forwarded, expected):
    from yiyang.core.middleware import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXIES=hops):
        assert client_ip(request) == expected


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_admin_login_is_throttled_and_audited(client, roles):
    from yiyang.core.models import User

    User.objects.filter(username="bureau").update(is_staff=True)
    for _ in range(3):
        resp = client.post("/admin/login/", {"username": "bureau", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
        assert resp.status_code == 200 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", object_repr="bureau", ip="203.0.113.9").count() == 3
    locked = client.post("/admin/login/", {"username": "bureau", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    assert "登录失败次数过多" in locked.content.decode() and "_auth_user_id" not in client.session
    ok = client.post("/admin/login/?next=/admin/", {"username": "bureau", "password": PASSWORD, "next": "/admin/"},
                     REMOTE_ADDR="10.0.0.7")
    assert ok.status_code == 302 and client.session["_auth_user_id"] == str(roles["bureau"].pk)
    assert AuditEvent.objects.get(action="login", detail="admin").ip == "10.0.0.7"


def test_admin_login_refuses_non_staff_and_audits_it(client, roles):
    resp = client.post("/admin/login/", {"username": "street", "password": PASSWORD})
    assert resp.status_code == 200 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", object_repr="street", detail="admin: not staff").exists()
    assert not AuditEvent.objects.filter(action="login", actor=roles["street"]).exists()
