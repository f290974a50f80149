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
