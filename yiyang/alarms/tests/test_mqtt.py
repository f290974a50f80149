"""Alarms over MQTT: one message's handling on its own (alarms.mqtt.handle_message), then the listener against
the real broker on 127.0.0.1:1883 (skipped when none answers): signed messages published while the listener
was away wait in its persistent session, a message published twice makes one stored event, one unacknowledged
by a crashed consumer is delivered again and counted once."""

import hashlib
import hmac
import io
import json
import logging
import socket
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from yiyang.alarms.events import sign
from yiyang.alarms.models import Alarm, AlarmKind, Channel, DeviceEvent, VendorFormat
from yiyang.alarms.mqtt import envelope, handle_message, vendor_of

from .factories import json_event, make_vendor

pytestmark = pytest.mark.django_db

TOPIC = "yiyang/alarms/anxin/events"


def _security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "yiyang.security"]


def _body(**kw) -> bytes:
    return json.dumps(json_event(**kw)).encode()


def test_the_vendor_is_the_topics_plus_level():
    assert vendor_of("yiyang/alarms/anxin/events") == "anxin"
    assert vendor_of("site-7/alarms/huaxia/events", "site-7/alarms/+/events") == "huaxia"
    assert vendor_of("yiyang/alarms/anxin/status") is None
    assert vendor_of("yiyang/alarms/events") is None
    assert vendor_of("yiyang/alarms//events") is None


def test_a_signed_message_is_ingested_once(alarm_world):
    w = alarm_world
    message = envelope("anxin", w["secret"], _body(serial="SOS-1", event_id="m-1"))
    first = handle_message(TOPIC, message)
    assert first.ingested and first.result.accepted == 1 and first.result.alarms_raised == 1
    again = handle_message(TOPIC, message)
    assert again.ingested and (again.result.accepted, again.result.duplicates) == (0, 1)
    assert DeviceEvent.objects.get().channel == Channel.MQTT
    assert Alarm.objects.get().event_count == 1


def test_a_hand_made_envelope_matches_the_documentation(alarm_world):
    # What a vendor's engineer writes from the documentation alone (mqtt.py), without our helpers.
    w = alarm_world
    body = json.dumps(json_event("DOOR-1", "heartbeat", battery=40))
    ts = int(timezone.now().timestamp())
    sig = hmac.new(w["secret"].encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    outcome = handle_message(TOPIC, json.dumps({"ts": str(ts), "sig": sig, "body": body}).encode())
    assert outcome.ingested, outcome.reason
    w["door"].refresh_from_db()
    assert w["door"].battery_pct == 40


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("yiyang/other/anxin", b"{}", "topic without a vendor"),
    (TOPIC, b"not json", "envelope is not JSON"),
    (TOPIC, b"[]", "envelope without a body"),
    (TOPIC, json.dumps({"ts": 1, "sig": "x", "body": {"a": 1}}).encode(), "envelope without a body"),
    (TOPIC, json.dumps({"vendor": "huaxia", "ts": 1, "sig": "x", "body": "{}"}).encode(),
     "envelope's vendor differs from the topic's"),
    (TOPIC, json.dumps({"ts": True, "sig": "x", "body": "{}"}).encode(), "envelope without ts or sig"),
    (TOPIC, b'{"ts": 1, "sig": "x", "body": "\\ud800"}', "body is not UTF-8"),
    (TOPIC, b" " * (7 * 256 * 1024), "envelope too large"),
    ("yiyang/alarms/nobody/events", b'{"ts": 1, "sig": "x", "body": "{}"}', "unknown vendor"),
    (TOPIC, b'{"ts": 1, "sig": "x", "body": "{}"}', "clock skew"),
])
def test_a_bad_message_is_dropped_with_a_security_line_and_nothing_stored(alarm_world, caplog, topic, payload,
                                                                          reason):
    caplog.set_level(logging.WARNING, logger="yiyang.security")
    outcome = handle_message(topic, payload)
    assert not outcome.ingested and outcome.reason == reason
    lines = _security_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith(f"alarm message refused: {reason} ")
    assert "channel=mqtt" in lines[0] and f"source='{topic}'" in lines[0]
    assert DeviceEvent.objects.count() == 0


def test_a_bad_signature_and_a_malformed_payload_are_dropped(alarm_world, caplog):
    w = alarm_world
    caplog.set_level(logging.WARNING, logger="yiyang.security")
    forged = json.loads(envelope("anxin", "not-the-secret", _body()))
    assert handle_message(TOPIC, json.dumps(forged).encode()).reason == "bad signature"
    # Signed properly, but the payload is not an event: logged with the adapter's message, dropped.
    outcome = handle_message(TOPIC, envelope("anxin", w["secret"], b'{"event_id": "e"}'))
    assert not outcome.ingested and outcome.reason.startswith("malformed payload: 此项为必填项。")
    assert len(_security_lines(caplog)) == 2
    assert DeviceEvent.objects.count() == 0


def test_a_scaip_vendor_over_mqtt(alarm_world):
    w = alarm_world
    vendor, secret = make_vendor(w["bureau"], "huaxia", format=VendorFormat.SCAIP_XML)
    xml = (f"<msg><ref>h-1</ref><cid>HX-404</cid><stc>101</stc>"
           f"<time>{json_event()['occurred_at']}</time></msg>")
    outcome = handle_message("yiyang/alarms/huaxia/events", envelope("huaxia", secret, xml))
    assert outcome.ingested and outcome.result.quarantined == 1  # HX-404 is not registered
    assert DeviceEvent.objects.get().alarm_kind == AlarmKind.FALL


# --------------------------------------------------------------------------------------- the real broker


def _broker_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        return False
    return True


broker = pytest.mark.skipif(not _broker_answers(), reason="no MQTT broker answers on 127.0.0.1:1883 (mosquitto)")


@pytest.fixture
def channel():
    """A topic and client id of this test's own, so that parallel tests and a running demo do not meet."""
    prefix = f"yiyang-test-{uuid.uuid4().hex[:10]}"
    return {"filter": f"{prefix}/alarms/+/events", "topic": f"{prefix}/alarms/anxin/events",
            "client_id": f"{prefix}-listener"}


def _publish(topic: str, *payloads: bytes) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                         protocol=paho.MQTTv5)
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        for payload in payloads:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()


def _listen(channel, *args) -> str:
    out = io.StringIO()
    call_command("alarm_listener", "--host", "127.0.0.1", "--port", "1883", "--client-id", channel["client_id"],
                 "--topic", channel["filter"], "--session-expiry", "300", *args, stdout=out, verbosity=2)
    return out.getvalue()


def _pending(channel, seconds: float = 1.5) -> list[bytes]:
    """What the broker still holds for the listener's session: connect as it, take, never acknowledge."""
    import time

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=channel["client_id"], protocol=paho.MQTTv5,
                         manual_ack=True)
    client.on_message = lambda c, u, m: got.append(m.payload)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    client.connect("127.0.0.1", 1883, clean_start=False, properties=props)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.loop(timeout=0.1)
    client.disconnect()
    client.loop(timeout=0.1)
    return got


@broker
def test_the_listener_stores_an_alarm_once_though_it_was_published_twice(alarm_world, channel):
    w = alarm_world
    # The listener's first run makes its session (subscribed, QoS 1); it is then away while devices publish.
    assert "subscribed to" in _listen(channel, "--timeout", "1.5")
    sos = envelope("anxin", w["secret"], _body(serial="SOS-1", event_id="press-1"))
    _publish(channel["topic"], sos, sos, envelope("anxin", w["secret"], _body(serial="DOOR-1", type_="heartbeat")),
             envelope("anxin", "forged", _body(serial="SOS-1")))
    out = _listen(channel, "--once", "4", "--timeout", "20")
    assert "session present: True" in out
    assert out.count("accepted=1 duplicates=0") == 2 and out.count("accepted=0 duplicates=1") == 1
    assert "dropped (bad signature)" in out and "handled 4 message(s)" in out
    alarm = Alarm.objects.get()
    assert (alarm.device, alarm.event_count) == (w["sos"], 1)
    assert DeviceEvent.objects.count() == 2
    # Every message was acknowledged (the forged one too): nothing waits in the session any more.
    assert _pending(channel) == []


@broker
def test_a_message_a_crashed_consumer_never_acknowledged_is_delivered_again_and_counted_once(alarm_world, channel):
    w = alarm_world
    _listen(channel, "--timeout", "1.5")
    sos = envelope("anxin", w["secret"], _body(serial="SOS-1", event_id="press-2"))
    _publish(channel["topic"], sos)
    # A consumer on the listener's session takes the message and dies before acknowledging it.
    assert _pending(channel) == [sos]
    out = _listen(channel, "--once", "1", "--timeout", "20")
    assert "accepted=1 duplicates=0" in out
    # The vendor resends it too: absorbed.
    _publish(channel["topic"], sos)
    assert "accepted=0 duplicates=1" in _listen(channel, "--once", "1", "--timeout", "20")
    assert Alarm.objects.get().event_count == 1 and DeviceEvent.objects.count() == 1


@broker
def test_the_listener_retries_a_broker_that_does_not_answer(alarm_world, channel, caplog):
    caplog.set_level(logging.WARNING, logger="yiyang.alarms")
    out = io.StringIO()
    call_command("alarm_listener", "--host", "127.0.0.1", "--port", "1", "--client-id", channel["client_id"],
                 "--timeout", "3.5", stdout=out)
    retries = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    # Tried at once, after 1 s, then after 2 s more (the backoff doubles).
    assert len(retries) == 3 and retries[0].endswith("retrying in 1 s") and retries[2].endswith("retrying in 4 s")
    assert "handled 0 message(s)" in out.getvalue()


def test_the_signature_is_over_the_bodys_bytes():
    message = json.loads(envelope("anxin", "s3cret", '{"a": "颐养"}', ts=1_700_000_000))
    assert message == {"vendor": "anxin", "ts": 1_700_000_000, "body": '{"a": "颐养"}',
                       "sig": sign("s3cret", 1_700_000_000, '{"a": "颐养"}'.encode())}


@broker
def test_a_database_error_leaves_the_message_unacknowledged_and_it_comes_again(alarm_world, channel, caplog):
    from django.db import OperationalError, connection

    w = alarm_world
    _listen(channel, "--timeout", "1.5")
    _publish(channel["topic"], envelope("anxin", w["secret"], _body(serial="SOS-1", event_id="press-3")))
    failed = []

    def database_away_once(execute, sql, params, many, context):
        # The first write of an event fails as a database that went away would (Django's own hook for this).
        if not failed and sql.lstrip().upper().startswith("INSERT") and "alarms_deviceevent" in sql:
            failed.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    caplog.set_level(logging.WARNING, logger="yiyang.alarms")
    with connection.execute_wrapper(database_away_once):
        out = _listen(channel, "--once", "1", "--timeout", "20")
    assert len(failed) == 1
    assert any("database error on an MQTT message; not acknowledged" in r.getMessage() for r in caplog.records)
    # It reconnected, the broker delivered the message again, and this time it was stored and acknowledged.
    assert out.count("connected to") == 2 and "accepted=1 duplicates=0" in out and "handled 1 message(s)" in out
    assert Alarm.objects.get().event_count == 1
    assert _pending(channel) == []
