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
