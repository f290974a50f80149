"""No IntegrityError reaches a user: the services check duplicates on update as on create, and what only the
database sees becomes a 409 `conflict` on the API and the form again, with the message, on the pages."""

import json

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from yiyang.api.main import api
from yiyang.core.conflicts import IntegrityErrorMiddleware
from yiyang.core.models import Region
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import services
from yiyang.registry.models import Facility

pytestmark = pytest.mark.django_db

CONFLICT = "提交的内容与已有记录冲突（可能刚被他人修改），未作任何更改。请刷新后重试。"


@pytest.fixture
def roles():
    return demo_roles()


def _facility(roles, name, region="511903001002"):
    return services.save_facility(actor=roles["bureau"], name=name, kind="day_care", region=region)


def _put(client, facility, **changes):
    body = {"name": facility.name, "kind": facility.kind, "region": facility.region_id, **changes}
    return client.put(f"/api/v1/facilities/{facility.pk}", json.dumps(body), content_type="application/json")


def test_renaming_a_facility_to_another_ones_name_is_a_422_on_the_name(client, roles):
    first, second = _facility(roles, "登科日间照料中心"), _facility(roles, "文治日间照料中心")
    client.force_login(roles["bureau"])
    resp = _put(client, second, name="登科日间照料中心")
    assert resp.status_code == 422, resp.content
    assert resp.json()["errors"] == [{"field": "name", "code": "invalid", "message": "该区域已有同名设施。"}]
    assert Facility.objects.get(pk=second.pk).name == "文治日间照料中心"
    # Its own name again, or the same name in another region, is fine.
    assert _put(client, second, address="登科街道 1 号").status_code == 200
    assert _put(client, first, region="511903002001", name="文治日间照料中心").status_code == 200
    # Moving into a region where the name is taken is not.
    moved = _put(client, Facility.objects.get(pk=first.pk), region="511903001002")
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "name"


def _real_integrity_error() -> IntegrityError:
    """The database's own refusal: a second region with an existing code."""
    try:
        with transaction.atomic():
            Region.objects.create(code="511903", name="重复", level="county")
    except IntegrityError as exc:
        return exc
    raise AssertionError("the database accepted a duplicate primary key")


def test_an_integrity_error_on_the_api_is_a_409_conflict_in_the_one_format(roles):
    request = RequestFactory().post("/api/v1/facilities", HTTP_ACCEPT_LANGUAGE="zh-hans")
    request.user = roles["bureau"]
    resp = api.on_exception(request, _real_integrity_error())
    assert resp.status_code == 409
    assert json.loads(resp.content) == {"status": 409, "code": "conflict", "message": CONFLICT, "errors": []}


def _page_request(method: str, path: str, **headers):
    request = getattr(RequestFactory(), method)(path, **headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_an_integrity_error_on_a_page_gives_the_form_back_with_the_message():
    middleware = IntegrityErrorMiddleware(lambda request: None)
    post = _page_request("post", "/registry/facilities/new/")
    resp = middleware.process_exception(post, _real_integrity_error())
    assert resp.status_code == 302 and resp["Location"] == "/registry/facilities/new/"
    assert [str(m) for m in get_messages(post)] == [CONFLICT]
    # htmx reloads the page it came from; a GET gets a 409 page with the message.
    hx = _page_request("post", "/services/orders/7/assign/", HTTP_HX_REQUEST="true",
                       HTTP_HX_CURRENT_URL="http://testserver/services/orders/7/")
    resp = middleware.process_exception(hx, _real_integrity_error())
    assert resp.status_code == 409 and resp["HX-Redirect"] == "http://testserver/services/orders/7/"
    get = _page_request("get", "/registry/elders/")
    get.user = None
    resp = middleware.process_exception(get, _real_integrity_error())
    assert resp.status_code == 409 and CONFLICT in resp.content.decode()
    # Other exceptions are not its business.
    assert middleware.process_exception(post, ValueError("x")) is None
