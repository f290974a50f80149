"""The check-out photo: only the assigned caregiver, only once checked in or out, JPEG or PNG by content,
at most 5 MB, a replayed upload (same client_key) stores nothing twice, and only those who may see the order
may fetch it."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import make_org, make_user
from yiyang.services import services
from yiyang.services.models import Order

from .factories import soon

pytestmark = pytest.mark.django_db
BASE = "/api/v1/services/"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    return tmp_path


@pytest.fixture
def world(world):
    order = services.place_order(actor=world["family"], elder=world["elder"], provider=world["org"],
                                 item=world["bath"], scheduled_start=soon(5), channel="portal",
                                 allowance_available=0)[0]
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    return {**world, "order": order}


def upload(content, name="p.jpg"):
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def test_only_once_checked_in_and_only_the_assigned_caregiver(world):
    order = world["order"]
    with pytest.raises(DomainError) as err:
        services.attach_photo(actor=world["caregiver"], order=order, photo=upload(JPEG))
    assert err.value.status == 409
    services.check_in(actor=world["caregiver"], order=order)
    with pytest.raises(DomainError) as err:
        services.attach_photo(actor=world["provider"], order=order, photo=upload(JPEG))
    assert err.value.status == 403
    services.attach_photo(actor=world["caregiver"], order=order, photo=upload(JPEG), client_key="ph-1")
    order.refresh_from_db()
    assert order.check_out_photo.name.endswith(".jpg") and order.check_out_photo.read() == JPEG
    assert AuditEvent.objects.filter(object_type="services.order", detail__startswith="上传服务照片").count() == 1


@pytest.mark.parametrize("content,name", [(b"GIF89a" + b"\x00" * 20, "x.jpg"), (b"%PDF-1.4", "x.png"),
                                          (b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024), "big.jpg")])
def test_not_an_image_or_too_big_is_refused(world, content, name):
    services.check_in(actor=world["caregiver"], order=world["order"])
    with pytest.raises(ValidationError) as err:
        services.attach_photo(actor=world["caregiver"], order=world["order"], photo=upload(content, name))
    assert "photo" in err.value.message_dict
    assert not Order.objects.get(pk=world["order"].pk).check_out_photo


def test_a_replayed_upload_is_a_no_op_and_a_new_one_replaces(world, media):
    order = world["order"]
    services.check_in(actor=world["caregiver"], order=order)
    services.check_out(actor=world["caregiver"], order=order, notes="洗澡")
    first = services.attach_photo(actor=world["caregiver"], order=order, photo=upload(JPEG), client_key="k1")
    name = first.check_out_photo.name
    again = services.attach_photo(actor=world["caregiver"], order=order, photo=upload(PNG), client_key="k1")
    assert again.check_out_photo.name == name
    assert AuditEvent.objects.filter(detail__startswith="上传服务照片").count() == 1
    files = [p for p in media.rglob("*") if p.is_file()]
    assert len(files) == 1
    services.attach_photo(actor=world["caregiver"], order=order, photo=upload(PNG, "new.png"), client_key="k2")
    assert Order.objects.get(pk=order.pk).check_out_photo.name.endswith(".png")
    # After the family confirms, the photo is final.
    services.confirm_order(actor=world["family"], order=order)
    with pytest.raises(DomainError):
        services.attach_photo(actor=world["caregiver"], order=order, photo=upload(JPEG), client_key="k3")


def test_photo_api_upload_and_scoped_download(client, world):
    order = world["order"]
    services.check_in(actor=world["caregiver"], order=order)
    client.force_login(world["caregiver"])
    url = BASE + f"orders/{order.pk}/photo"
    resp = client.post(url, {"photo": upload(PNG, "a.png"), "client_key": "phone-1"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["has_photo"] is True
    replay = client.post(url, {"photo": upload(JPEG), "client_key": "phone-1"})
    assert replay.status_code == 200
    assert client.post(url, {"photo": upload(b"hello", "a.txt")}).status_code == 422
    client.force_login(world["family"])
    got = client.get(url)
    assert got.status_code == 200 and got["Content-Type"] == "image/png"
    assert b"".join(got.streaming_content) == PNG
    client.force_login(make_user("p2", "provider", organisation=make_org("夕阳红", region="511903001")))
    assert client.get(url).status_code == 404
