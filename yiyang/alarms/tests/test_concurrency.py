"""Two deliveries racing on one device (a vendor's retry crossing the first attempt; the webhook and MQTT at
once) must make one alarm and count every event once. Real concurrent transactions need PostgreSQL (SQLite
serialises writers, so there is nothing to race there)."""

import threading

import pytest
from django.db import connection, connections

from yiyang.alarms import services
from yiyang.alarms.models import Alarm, Channel, DeviceEvent

from .factories import event

pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def test_racing_deliveries_make_one_alarm(alarm_world):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    w = alarm_world
    batches = [[event("SOS-1") for _ in range(30)] for _ in range(4)]
    shared = event("SOS-1", event_id="same-on-both")
    for batch in batches:
        batch.append(shared)
    start = threading.Barrier(len(batches))
    errors = []

    def deliver(batch):
        try:
            start.wait()
            services.ingest(vendor=w["vendor"], events=batch, channel=Channel.WEBHOOK)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    alarm = Alarm.objects.get()
    # 4 × 30 distinct events plus the one sent in every batch, stored and counted once.
    assert alarm.event_count == 121
    assert DeviceEvent.objects.count() == 121
    assert DeviceEvent.objects.filter(processed_at__isnull=True).count() == 0
