"""Caregivers' shifts (排班): set, change, overlap refused, scope, and the availability of caregivers for a
visit window (on shift?, overlapping visits, skills) in a bounded number of queries."""

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import make_org, make_user
from yiyang.services import selectors, services
from yiyang.services.models import CaregiverShift

from .factories import make_caregiver, tomorrow_at

pytestmark = pytest.mark.django_db
BASE = "/api/v1/services/"


@pytest.fixture
def world(world):
    # world["carer"] is 李护理: 助浴, 助洁; the `caregiver` account.
    return {**world, "other": make_caregiver(world, account=None, skills="助洁", seq=8, name="张护理")}


def tomorrow():
    return timezone.localdate() + datetime.timedelta(days=1)


def test_a_shift_is_set_changed_and_removed_with_audit(world):
    day = tomorrow()
    shift = services.set_shift(actor=world["provider"], caregiver=world["carer"], day=day, start="08:00",
                               end="12:00", note="上午班")
    assert (shift.start, shift.end, shift.note) == (datetime.time(8), datetime.time(12), "上午班")
    again = services.set_shift(actor=world["provider"], caregiver=world["carer"], day=day.isoformat(),
                               start="08:00", end="11:30")
    assert again.pk == shift.pk and CaregiverShift.objects.get().end == datetime.time(11, 30)
    services.remove_shift(actor=world["provider"], shift=again)
    assert not CaregiverShift.objects.exists()
    assert list(AuditEvent.objects.filter(object_type="services.caregivershift").order_by("pk")
                .values_list("action", flat=True)) == ["create", "update", "delete"]


@pytest.mark.parametrize("start,end,field", [("12:00", "12:00", "end"), ("13:00", "09:00", "end"),
                                             ("9点", "12:00", "start"), ("11:00", "14:00", "start"),
                                             ("07:00", "08:30", "start")])
def test_bad_and_overlapping_shifts_are_refused(world, start, end, field):
    services.set_shift(actor=world["provider"], caregiver=world["carer"], day=tomorrow(), start="08:00",
                       end="12:00")
    with pytest.raises(ValidationError) as err:
        services.set_shift(actor=world["provider"], caregiver=world["carer"], day=tomorrow(), start=start, end=end)
    assert field in err.value.message_dict
    assert CaregiverShift.objects.count() == 1


def test_back_to_back_shifts_are_fine_and_another_provider_is_403(world):
    services.set_shift(actor=world["provider"], caregiver=world["carer"], day=tomorrow(), start="08:00",
                       end="12:00")
    services.set_shift(actor=world["provider"], caregiver=world["carer"], day=tomorrow(), start="12:00",
                       end="16:00")
    stranger = make_user("p2", "provider", organisation=make_org("夕阳红", region="511903001"))
    with pytest.raises(DomainError) as err:
        services.set_shift(actor=stranger, caregiver=world["carer"], day=tomorrow(), start="18:00", end="20:00")
    assert err.value.status == 403
    assert CaregiverShift.objects.count() == 2


def test_availability_shows_shift_cover_overlaps_and_skills(world, django_assert_max_num_queries):
    day = tomorrow()
    services.set_shift(actor=world["provider"], caregiver=world["carer"], day=day, start="08:00", end="12:00")
    # 李护理 has a bath at 9:00 tomorrow (60 minutes).
    order = services.place_order(actor=world["bureau"], elder=world["elder"], provider=world["org"],
                                 item=world["bath"], scheduled_start=tomorrow_at(9), channel="staff",
                                 allowance_available=0)[0]
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    with django_assert_max_num_queries(3):
        rows = selectors.caregiver_availability(provider=world["org"], start=tomorrow_at(9) +
                                                datetime.timedelta(minutes=30), end=tomorrow_at(10))
    by_name = {r["caregiver"].name: r for r in rows}
    assert set(by_name) == {"李护理", "张护理"}
    assert by_name["李护理"]["on_shift"] is True and by_name["李护理"]["overlapping"] == 1
    assert by_name["李护理"]["skills"] == ["助浴", "助洁"]
    assert by_name["张护理"]["on_shift"] is None and by_name["张护理"]["overlapping"] == 0
    # 11:30–12:30 runs past the end of the shift; 10:00–11:00 starts when the bath ends.
    late = {r["caregiver"].name: r for r in selectors.caregiver_availability(
        provider=world["org"], start=tomorrow_at(11) + datetime.timedelta(minutes=30),
        end=tomorrow_at(12) + datetime.timedelta(minutes=30))}
    assert late["李护理"]["on_shift"] is False
    after = {r["caregiver"].name: r for r in selectors.caregiver_availability(
        provider=world["org"], start=tomorrow_at(10), end=tomorrow_at(11))}
    assert after["李护理"]["overlapping"] == 0 and after["李护理"]["on_shift"] is True
    assert [s.caregiver.name for s in selectors.shifts_for(world["org"], day)] == ["李护理"]


def test_shift_api_is_scoped(client, world):
    client.force_login(world["provider"])
    body = {"caregiver": world["carer"].pk, "day": tomorrow().isoformat(), "start": "08:00", "end": "12:00"}
    resp = client.post(BASE + "shifts", json.dumps(body), content_type="application/json")
    assert resp.status_code == 201, resp.content
    shift_id = resp.json()["id"]
    assert resp.json()["start"] == "08:00" and resp.json()["caregiver"]["name"] == "李护理"
    overlap = client.post(BASE + "shifts", json.dumps({**body, "start": "10:00", "end": "13:00"}),
                          content_type="application/json")
    assert overlap.status_code == 422 and "start" in overlap.content.decode()
    assert [s["id"] for s in client.get(BASE + "shifts").json()["items"]] == [shift_id]
    avail = client.get(BASE + "availability", {"start": tomorrow_at(9).isoformat()}).json()
    assert {a["caregiver"]["name"]: a["on_shift"] for a in avail} == {"李护理": True, "张护理": None}
    # The caregiver sees their own shifts and cannot write; another provider sees none and gets 404.
    client.force_login(world["caregiver"])
    assert [s["id"] for s in client.get(BASE + "shifts", {"day": tomorrow().isoformat()}).json()["items"]] == [
        shift_id]
    assert client.delete(BASE + f"shifts/{shift_id}").status_code == 403
    client.force_login(make_user("p2", "provider", organisation=make_org("夕阳红", region="511903001")))
    assert client.get(BASE + "shifts").json() == {"items": [], "count": 0}
    assert client.delete(BASE + f"shifts/{shift_id}").status_code == 404
    client.force_login(world["provider"])
    assert client.delete(BASE + f"shifts/{shift_id}").status_code == 204
    assert not CaregiverShift.objects.exists()


def test_assigning_outside_the_shift_is_allowed_and_said_in_the_timeline(world):
    services.set_shift(actor=world["provider"], caregiver=world["carer"], day=tomorrow(), start="13:00",
                       end="17:00")
    order = services.place_order(actor=world["bureau"], elder=world["elder"], provider=world["org"],
                                 item=world["bath"], scheduled_start=tomorrow_at(9), channel="staff",
                                 allowance_available=0)[0]
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    assert order.events.order_by("pk").last().note == "李护理（不在当天班次 13:00-17:00 内）"
    other = services.place_order(actor=world["bureau"], elder=world["elder"], provider=world["org"],
                                 item=world["cleaning"], scheduled_start=tomorrow_at(14), channel="staff",
                                 allowance_available=0)[0]
    services.accept_order(actor=world["provider"], order=other)
    services.assign_order(actor=world["provider"], order=other, caregiver=world["carer"])
    assert other.events.order_by("pk").last().note == "李护理"  # 14:00–15:00 lies within 13:00–17:00
