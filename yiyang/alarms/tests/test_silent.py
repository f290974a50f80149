"""Silent devices and silent homes: no heartbeat within the vendor's hours → a maintenance task for the
maintainer (closed when it speaks again); no activity for 24 h from a door sensor in the home of someone living
alone → a welfare visit (the visits app), once per silence."""

import datetime

import pytest
from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.models import Channel, Device, MaintenanceTask
from yiyang.visits.models import Trigger, VisitTask

from .factories import event

pytestmark = pytest.mark.django_db
H = datetime.timedelta(hours=1)


def _beat(world, serial, at, kind="heartbeat"):
    services.ingest(vendor=world["vendor"], events=[event(serial, kind=kind, at=at)], channel=Channel.MQTT)


def test_a_device_silent_past_its_hours_gets_one_maintenance_task(alarm_world, frozen_clock):
    w = alarm_world
    now = timezone.now()
    _beat(w, "SOS-1", now - 25 * H)
    _beat(w, "DOOR-1", now - 23 * H)
    assert services.check_silent_devices(now=now)["offline_new"] == 1
    task = MaintenanceTask.objects.get()
    assert task.device == w["sos"] and task.kind == "offline" and task.status == "open"
    assert services.check_silent_devices(now=now)["offline_new"] == 0  # once
    _beat(w, "SOS-1", now)
    services.check_silent_devices(now=now)
    task.refresh_from_db()
    assert task.status == "done"


def test_a_silent_home_of_someone_living_alone_gets_a_welfare_visit(alarm_world, frozen_clock):
    w = alarm_world
    now = timezone.now()
    _beat(w, "DOOR-1", now - 30 * H, kind="activity")
    _beat(w, "DOOR-1", now - 1 * H)  # heartbeats alone are not a person moving
    result = services.check_silent_devices(now=now)
    assert result["silent"] == 1 and result["visits_raised"] == 1
    task = VisitTask.objects.get(elder=w["elder"], trigger=Trigger.INACTIVITY)
    assert task.status == "open"
    assert services.check_silent_devices(now=now)["visits_raised"] == 0  # the same silence raises it once
    # Activity 23 h ago is within the 24 h: nothing.
    VisitTask.objects.all().delete()
    _beat(w, "DOOR-1", now - 23 * H, kind="activity")
    assert services.check_silent_devices(now=now)["silent"] == 0


def test_someone_living_with_family_is_not_a_silent_home(alarm_world, frozen_clock):
    w = alarm_world
    w["elder"].living_situation = "with_children"
    w["elder"].save()
    _beat(w, "DOOR-1", timezone.now() - 48 * H, kind="activity")
    assert services.check_silent_devices()["silent"] == 0
    assert Device.objects.count() == 2


def test_a_death_asks_the_maintainer_to_collect_the_devices(alarm_world):
    from yiyang.registry.services import record_status_event

    w = alarm_world
    record_status_event(actor=w["community"], elder=w["elder"], kind="death", effective_date=timezone.localdate())
    tasks = MaintenanceTask.objects.filter(kind="retrieve")
    assert sorted(t.device.serial for t in tasks) == ["DOOR-1", "SOS-1"]
    assert all(t.status == "open" and t.note == "死亡" for t in tasks)
