"""A JSON body nested deeper than Python's decoder goes is a malformed request (400), not a 500 from the NUL
check in front of every operation (api/middleware.py)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_deeply_nested_body_is_a_400(client):
    resp = client.post("/api/v1/auth/token", data=b"[" * 100_000, content_type="application/json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed_request"
