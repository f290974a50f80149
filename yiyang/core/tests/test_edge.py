"""The web edge: favicon, security headers, error shapes."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_is_linked_and_favicon_ico_redirects_to_it(client):
    from django.contrib.staticfiles import finders

    page = client.get("/login/").content.decode()
    assert 'rel="icon" type="image/svg+xml"' in page and "core/favicon" in page
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer["Location"].startswith("/static/core/favicon") and answer["Location"].endswith(".svg")
    svg = Path(finders.find("core/favicon.svg")).read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "viewBox" in svg


@pytest.mark.parametrize("url", ["/login/", "/api/openapi.json", "/favicon.ico", "/no-such-page/", "/api/docs"])
def test_every_response_has_the_content_security_policy(client, url):
    policy = client.get(url)["Content-Security-Policy"]
    parts = dict(p.split(" ", 1) for p in policy.split("; "))
    assert parts["default-src"] == "'self'" and parts["script-src"] == "'self'" and parts["style-src"] == "'self'"
    assert parts["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_templates_hold_no_inline_scripts_styles_or_handlers():
    # What the policy refuses must not be in a page: scan every template a response may carry.
    import re

    from django.conf import settings

    root = Path(settings.BASE_DIR) / "yiyang"
    offenders = []
    for path in root.rglob("templates/**/*.html"):
        rel = path.relative_to(root).as_posix()
        if rel in PRINTED_ONLY:
            continue
        text = path.read_text(encoding="utf-8")
        if (re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", text)
                or re.search(r"<style\b|\sstyle=\"|\son[a-z]+=\"", text)):
            offenders.append(rel)
    assert offenders == []


# Rendered to a string and never served under the policy: the PDF report (to WeasyPrint) and the caregiver
# app's offline page (held by the service worker and answered from its cache).
PRINTED_ONLY = {"assessment/templates/assessment/report.html", "services/templates/services/caregiver/offline.html"}


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = []  # filled below: this module doubles as a URLconf with one failing API route


def _urls():
    from django.urls import path

    from yiyang.urls import urlpatterns as real

    return [path("api/test-boom", _boom), *real]


def _shape(answer, status, code):
    assert answer.status_code == status and answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["status"] == status and body["code"] == code and body["message"] and body["errors"] == []
    return body


def test_unknown_api_path_answers_404_in_the_error_format(client):
    body = _shape(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "没有这个接口" in body["message"]
    english = _shape(client.get("/api/v1/no-such-thing", HTTP_ACCEPT_LANGUAGE="en"), 404, "not_found")
    assert english["message"].startswith("No such endpoint")
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]  # pages keep their HTML 404


def test_wrong_method_answers_405_in_the_error_format(client):
    answer = client.delete("/api/v1/auth/token")
    _shape(answer, 405, "method_not_allowed")
    assert "POST" in answer["Allow"]


def test_unexpected_exception_answers_500_in_the_error_format(settings):
    from django.test import Client

    import yiyang.core.tests.test_edge as here

    here.urlpatterns[:] = _urls()
    settings.ROOT_URLCONF = "yiyang.core.tests.test_edge"
    body = _shape(Client(raise_request_exception=False).get("/api/test-boom"), 500, "server_error")
    assert "a bug" not in body["message"]


def test_csrf_failure_on_the_api_says_so(client):
    from django.test import Client

    from yiyang.core.tests.factories import demo_roles

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(demo_roles()["bureau"])
    body = _shape(browser.post("/api/v1/me/tokens/revoke-all"), 403, "csrf_failed")
    assert body["message"].startswith("CSRF 校验失败")
