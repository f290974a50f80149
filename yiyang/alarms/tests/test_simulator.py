"""The device simulator against a live server (pytest-django's `live_server`, real HTTP) and the real MQTT
broker: what it sends is signed with the demo secrets and ends as alarms and heartbeats."""

import datetime
import io
import socket
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yiyang.alarms import services
from yiyang.alarms.demo_secrets import demo_vendor_secret
from yiyang.alarms.models import Alarm, AlarmKind, Channel, Device, DeviceEvent, VendorFormat

from .factories import make_vendor

pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def _demo_secret(vendor):
    vendor.secret = demo_vendor_secret(vendor.code)
    vendor.save()


def _simulate(*args) -> str:
    out = io.StringIO()
    call_command("simulate_devices", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_devices(alarm_world, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    w = alarm_world
    _demo_secret(w["vendor"])
    watches = [services.register_device(actor=w["community"], vendor=w["vendor"], serial=f"W-{i}", kind="smartwatch",
                                        elder=w["elder"], installed_on=datetime.date(2026, 10, 1)) for i in range(5)]
    return {**w, "watches": watches}


def test_once_sends_one_sos_by_the_webhook_and_the_alarm_appears(demo_devices, live_server):
    out = _simulate("--url", live_server.url, "--once", "--vendor", "anxin", "--seed", "3")
    assert "webhook anxin: sos " in out and '→ 202 {"accepted": 1, "duplicates": 0, "quarantined": 0}' in out
    alarm = Alarm.objects.get()
    assert alarm.kind == AlarmKind.SOS and alarm.device.vendor.code == "anxin"
    assert DeviceEvent.objects.get().channel == Channel.WEBHOOK


def test_a_short_run_sends_heartbeats_and_now_and_then_an_alarm(demo_devices, live_server):
    out = _simulate("--url", live_server.url, "--vendor", "anxin", "--rate", "20", "--duration", "1.5",
                    "--alarm-chance", "0.3", "--seed", "7")
    assert "simulating 7 devices of anxin" in out and "heartbeats → 202" in out
    assert " 401 " not in out and "not sent" not in out
    sent = int(out.strip().splitlines()[-1].split()[1])
    assert sent >= 10
    heard = Device.objects.filter(last_heartbeat_at__isnull=False).count()
    assert heard == 7
    assert Alarm.objects.exists()
    assert set(Alarm.objects.values_list("kind", flat=True)) <= {AlarmKind.SOS, AlarmKind.FALL}


def test_a_vendor_whose_secret_is_not_the_demos_is_told_and_refused(alarm_world, live_server, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    out = _simulate("--url", live_server.url, "--once")
    assert "anxin: its secret is not the demo's" in out and "→ 401 " in out
    assert DeviceEvent.objects.count() == 0


def test_without_devices_it_says_what_to_do(db):
    with pytest.raises(CommandError, match="load the demo first"):
        _simulate("--once")


def _broker_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _broker_answers(), reason="no MQTT broker answers on 127.0.0.1:1883 (mosquitto)")
def test_an_mqtt_vendors_sos_reaches_the_listener(alarm_world):
    w = alarm_world
    vendor, _secret = make_vendor(w["bureau"], "huaxia", format=VendorFormat.SCAIP_XML)
    _demo_secret(vendor)
    services.register_device(actor=w["community"], vendor=vendor, serial="HX-1", kind="sos_button",
                             elder=w["elder"], installed_on=datetime.date(2026, 10, 1))
    prefix = f"yiyang-test-{uuid.uuid4().hex[:10]}"
    listen = ["--client-id", f"{prefix}-listener", "--topic", f"{prefix}/alarms/+/events", "--session-expiry", "300"]
    call_command("alarm_listener", *listen, "--timeout", "1.5", stdout=io.StringIO())  # its session
    out = _simulate("--once", "--vendor", "huaxia", "--topic", f"{prefix}/alarms/+/events")
    assert f"mqtt huaxia: sos HX-1 → published to {prefix}/alarms/huaxia/events" in out
    heard = io.StringIO()
    call_command("alarm_listener", *listen, "--once", "1", "--timeout", "20", stdout=heard)
    assert "accepted=1 duplicates=0 quarantined=0 alarms_raised=1" in heard.getvalue()
    alarm = Alarm.objects.get()
    assert alarm.device.serial == "HX-1" and DeviceEvent.objects.get().channel == Channel.MQTT
