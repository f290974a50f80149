"""Escalation on the frozen clock: not acknowledged within the service level (default 60 s), the alarm goes up
the chain (backup operators, then the duty officer, then the bureau), each step after its own wait; the outbox
sends in-app messages and records every attempt."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.models import Alarm, Channel, DutyShift, Notification, NotificationAttempt, NotificationChannel
from yiyang.core.models import Region

from .factories import event

pytestmark = pytest.mark.django_db
S = datetime.timedelta(seconds=1)


def _raise(world):
    services.ingest(vendor=world["vendor"], events=[event("SOS-1")], channel=Channel.WEBHOOK)
    return Alarm.objects.get()


def _told(alarm, **extra):
    return sorted(Notification.objects.filter(alarm=alarm, **extra).values_list("recipient__username", flat=True))


def test_the_chain_fires_step_by_step_at_its_deadlines(alarm_world, frozen_clock):
    alarm = _raise(alarm_world)
    t0 = alarm.raised_at
    # Hand-computed deadlines with the default chain: 60 s (ack) → backup; +120 s → duty officer; +300 s → bureau.
    assert services.escalate_due(now=t0 + 59 * S) == 0
    assert services.escalate_due(now=t0 + 60 * S) == 1
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1 and alarm.next_escalation_at == t0 + 180 * S
    assert "operator2" in _told(alarm)
    assert services.escalate_due(now=t0 + 61 * S) == 0  # idempotent within a step
    assert services.escalate_due(now=t0 + 180 * S) == 1
    alarm.refresh_from_db()
    assert alarm.escalation_level == 2 and alarm.next_escalation_at == t0 + 480 * S
    assert "street" in _told(alarm)  # 登科街道's duty officer
    assert services.escalate_due(now=t0 + 480 * S) == 1
    alarm.refresh_from_db()
    assert alarm.escalation_level == 3 and alarm.next_escalation_at is None
    assert "bureau" in _told(alarm)
    assert "other_bureau" not in _told(alarm)
    assert services.escalate_due(now=t0 + 3600 * S) == 0
    assert list(alarm.steps.filter(kind="escalated").values_list("at", flat=True)) == [
        t0 + 60 * S, t0 + 180 * S, t0 + 480 * S]


def test_acknowledging_stops_the_chain(alarm_world, frozen_clock):
    alarm = _raise(alarm_world)
    services.escalate_due(now=alarm.raised_at + 60 * S)
    services.acknowledge(actor=alarm_world["operator2"], alarm=alarm)
    assert services.escalate_due(now=alarm.raised_at + 3600 * S) == 0
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1 and alarm.next_escalation_at is None


def test_a_street_level_service_level_overrides_the_county(alarm_world):
    w = alarm_world
    services.set_service_level(actor=w["bureau"], jurisdiction=Region.objects.get(code="511903"), ack_seconds=90,
                               arrive_minutes=45, chain=[{"to": "bureau", "wait_seconds": 0}])
    services.set_service_level(actor=w["bureau"], jurisdiction=Region.objects.get(code="511903001"),
                               ack_seconds=30, arrive_minutes=30,
                               chain=[{"to": "duty_officer", "wait_seconds": 30}, {"to": "bureau", "wait_seconds": 0}])
    alarm = _raise(w)
    assert (alarm.next_escalation_at - alarm.raised_at).total_seconds() == 30
    services.escalate_due(now=alarm.raised_at + 30 * S)
    assert "street" in _told(alarm)
    services.escalate_due(now=alarm.raised_at + 60 * S)
    alarm.refresh_from_db()
    assert alarm.escalation_level == 2 and "bureau" in _told(alarm)


def test_a_bad_chain_is_refused_and_nothing_changes(alarm_world):
    w = alarm_world
    county = Region.objects.get(code="511903")
    for chain in ([], [{"to": "mayor", "wait_seconds": 10}], [{"to": "bureau", "wait_seconds": -1}], "bureau"):
        with pytest.raises(ValidationError):
            services.set_service_level(actor=w["bureau"], jurisdiction=county, ack_seconds=60, arrive_minutes=45,
                                       chain=chain)
    with pytest.raises(ValidationError):
        services.set_service_level(actor=w["bureau"], jurisdiction=county, ack_seconds=5, arrive_minutes=45,
                                   chain=[{"to": "bureau", "wait_seconds": 0}])
    from yiyang.alarms.models import ServiceLevel

    assert not ServiceLevel.objects.exists()


def test_with_nobody_on_duty_the_chain_starts_at_once(alarm_world):
    DutyShift.objects.filter(duty_role="operator").delete()
    alarm = _raise(alarm_world)
    assert alarm.next_escalation_at <= timezone.now()
    assert services.escalate_due() == 1
    assert "operator2" in _told(alarm)


def test_the_outbox_sends_in_app_messages_and_retries_a_missing_gateway(alarm_world, frozen_clock):
    alarm = _raise(alarm_world)
    sms = Notification.objects.create(channel=NotificationChannel.SMS, phone="13800000000", alarm=alarm,
                                      subject="s", body="b")
    now = timezone.now()
    assert services.send_due_notifications(now=now) == 1  # the operator's in-app message
    sms.refresh_from_db()
    assert sms.status == "pending" and sms.attempts == 1 and sms.next_attempt_at == now + datetime.timedelta(minutes=1)
    for minutes in (1, 3, 7, 15):  # retries after 1, 2, 4, 8 minutes
        services.send_due_notifications(now=now + datetime.timedelta(minutes=minutes))
    sms.refresh_from_db()
    assert sms.status == "failed" and sms.attempts == 5
    assert NotificationAttempt.objects.filter(notification=sms, ok=False).count() == 5
    assert NotificationAttempt.objects.filter(ok=True).count() == 1


def test_the_tick_command_escalates_what_is_due(alarm_world, frozen_clock):
    from io import StringIO

    from django.core.management import call_command

    alarm = _raise(alarm_world)
    frozen_clock.shift(datetime.timedelta(seconds=61))
    out = StringIO()
    call_command("alarms_tick", "--hourly", stdout=out)
    assert "escalated=1" in out.getvalue()
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1
