"""The alarm's life cycle: raised → acknowledged → dispatched → on site → resolved → closed, each step timed
and allowed only to whom policy.py says; ingest stores an event once and folds repeats into the open alarm."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from yiyang.alarms import policy, services
from yiyang.alarms.models import Alarm, AlarmStatus, AlarmStep, Channel, DeviceEvent, Notification, StepKind
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.visits.models import Trigger, VisitTask

from .factories import event

pytestmark = pytest.mark.django_db


def _sos(world, **kw):
    result = services.ingest(vendor=world["vendor"], events=[event("SOS-1", **kw)], channel=Channel.WEBHOOK)
    assert result.alarms_raised == 1
    return Alarm.objects.get(device=world["sos"])


def test_an_sos_raises_one_alarm_and_tells_whoever_is_on_duty(alarm_world, frozen_clock):
    alarm = _sos(alarm_world)
    assert alarm.status == AlarmStatus.RAISED and alarm.emergency and alarm.event_count == 1
    assert alarm.region_code == "511903001002"
    # The acknowledgement deadline is the default 60 s after the event.
    assert (alarm.next_escalation_at - alarm.raised_at).total_seconds() == 60
    told = set(Notification.objects.filter(alarm=alarm).values_list("recipient__username", flat=True))
    assert told == {"operator"}  # the operator on duty, not the backup (that is the chain's first step)
    assert list(alarm.steps.values_list("kind", flat=True)) == [StepKind.RAISED]


def test_the_whole_life_cycle_is_timed_step_by_step(alarm_world, frozen_clock, django_capture_on_commit_callbacks):
    w = alarm_world
    alarm = _sos(w)
    t0 = alarm.raised_at
    frozen_clock.shift(datetime.timedelta(seconds=25))
    assert policy.next_steps(w["operator"], alarm) == ["acknowledge", "note"]
    services.acknowledge(actor=w["operator"], alarm=alarm)
    frozen_clock.shift(datetime.timedelta(seconds=95))
    services.dispatch(actor=w["operator"], alarm=alarm, responder="community", responder_user=w["community"],
                      responder_name="社区小李", responder_phone="13800000001")
    frozen_clock.shift(datetime.timedelta(minutes=18))
    services.mark_on_site(actor=w["community"], alarm=alarm)
    frozen_clock.shift(datetime.timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(actor=w["community"], alarm=alarm, outcome="handled_at_home", note="摔倒，无外伤")
    services.close(actor=w["operator"], alarm=alarm)
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.CLOSED and alarm.outcome == "handled_at_home"
    # Hand-computed: acknowledged 25 s after, dispatched 120 s after, on site 18 min after dispatch.
    assert round((alarm.acknowledged_at - t0).total_seconds()) == 25
    assert round((alarm.dispatched_at - t0).total_seconds()) == 120
    assert round((alarm.on_site_at - alarm.dispatched_at).total_seconds()) == 18 * 60
    assert alarm.next_escalation_at is None
    assert list(alarm.steps.values_list("kind", flat=True)) == [
        "raised", "acknowledged", "dispatched", "on_site", "resolved", "closed"]
    # The community worker was told of the dispatch; the elder gets a visit within 24 hours.
    assert Notification.objects.filter(alarm=alarm, recipient=w["community"]).count() == 1
    task = VisitTask.objects.get(elder=w["elder"], trigger=Trigger.ALARM)
    assert task.trigger_ref == f"alarm:{alarm.pk}"
    assert AuditEvent.objects.filter(object_type="alarms.alarm", object_id=str(alarm.pk)).count() == 5


@pytest.mark.parametrize("step", ["dispatch", "on_site", "resolve", "close"])
def test_a_raised_alarm_must_be_acknowledged_first(alarm_world, step):
    w = alarm_world
    alarm = _sos(w)
    calls = {
        "dispatch": lambda: services.dispatch(actor=w["operator"], alarm=alarm, responder="family",
                                              responder_name="王小明"),
        "on_site": lambda: services.mark_on_site(actor=w["operator"], alarm=alarm),
        "resolve": lambda: services.resolve(actor=w["operator"], alarm=alarm, outcome="false_alarm"),
        "close": lambda: services.close(actor=w["operator"], alarm=alarm),
    }
    with pytest.raises(DomainError) as refused:
        calls[step]()
    assert refused.value.status == 409
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RAISED and alarm.steps.count() == 1


def test_acknowledging_twice_is_refused_and_the_first_one_stands(alarm_world):
    w = alarm_world
    alarm = _sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    with pytest.raises(DomainError):
        services.acknowledge(actor=w["operator2"], alarm=alarm)
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == w["operator"]


def test_who_may_handle_an_alarm(alarm_world):
    w = alarm_world
    alarm = _sos(w)
    assert policy.may_acknowledge(w["street"], alarm) and policy.may_acknowledge(w["community"], alarm)
    for name in ("other_street", "other_bureau", "caregiver", "provider", "family", "assessor"):
        assert not policy.may_acknowledge(w[name], alarm), name
    with pytest.raises(DomainError) as refused:
        services.acknowledge(actor=w["other_street"], alarm=alarm)
    assert refused.value.status == 403


def test_a_false_alarm_is_resolved_by_phone_without_anyone_going(alarm_world):
    w = alarm_world
    alarm = _sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    services.resolve(actor=w["operator"], alarm=alarm, outcome="false_alarm", note="误按，已电话确认")
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED and alarm.dispatched_at is None
    assert not VisitTask.objects.filter(elder=w["elder"], trigger=Trigger.ALARM).exists()


def test_bad_dispatch_and_outcome_are_explained_and_change_nothing(alarm_world):
    w = alarm_world
    alarm = _sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    with pytest.raises(ValidationError) as bad:
        services.dispatch(actor=w["operator"], alarm=alarm, responder="family")
    assert "responder_name" in bad.value.message_dict
    with pytest.raises(ValidationError):
        services.dispatch(actor=w["operator"], alarm=alarm, responder="police", responder_name="x")
    with pytest.raises(ValidationError):
        services.resolve(actor=w["operator"], alarm=alarm, outcome="deceased")  # a death needs a note
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.ACKNOWLEDGED and alarm.steps.count() == 2


def test_a_referral_to_120_needs_no_name(alarm_world):
    w = alarm_world
    alarm = _sos(w)
    services.acknowledge(actor=w["operator"], alarm=alarm)
    services.dispatch(actor=w["operator"], alarm=alarm, responder="ambulance")
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.DISPATCHED and alarm.responder == "ambulance"


def test_a_replayed_event_counts_once(alarm_world):
    w = alarm_world
    ev = event("SOS-1", event_id="vendor-42")
    first = services.ingest(vendor=w["vendor"], events=[ev], channel=Channel.WEBHOOK)
    again = services.ingest(vendor=w["vendor"], events=[ev, ev], channel=Channel.MQTT)
    assert (first.accepted, first.duplicates) == (1, 0)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert DeviceEvent.objects.filter(event_id="vendor-42").count() == 1
    assert Alarm.objects.get().event_count == 1


def test_a_redelivery_after_a_crash_between_storing_and_processing_finishes_the_processing(alarm_world):
    """The listener killed after the events' commit, before processing: the broker delivers the message again; it
    is a duplicate, and its events, still unprocessed, are processed now (once), not at the next sweep."""
    from django.db import transaction

    from yiyang.alarms.services.ingest import _store

    w = alarm_world
    ev = event("SOS-1", event_id="vendor-7")
    with transaction.atomic():
        _store(w["vendor"], [ev], Channel.MQTT, ev.occurred_at)  # stored, then the process died
    assert not Alarm.objects.exists()
    again = services.ingest(vendor=w["vendor"], events=[ev], channel=Channel.MQTT)
    assert (again.accepted, again.duplicates, again.alarms_raised) == (0, 1, 1)
    assert Alarm.objects.get().event_count == 1
    third = services.ingest(vendor=w["vendor"], events=[ev], channel=Channel.MQTT)
    assert (third.duplicates, third.alarms_raised) == (1, 0) and Alarm.objects.get().event_count == 1
    assert services.process_events(list(DeviceEvent.objects.values_list("pk", flat=True))) == (0, 0)
    assert Alarm.objects.get().event_count == 1


def test_a_flood_folds_into_the_open_alarm(alarm_world):
    w = alarm_world
    services.ingest(vendor=w["vendor"], events=[event("SOS-1") for _ in range(150)], channel=Channel.WEBHOOK)
    services.ingest(vendor=w["vendor"], events=[event("SOS-1") for _ in range(50)], channel=Channel.MQTT)
    alarm = Alarm.objects.get()
    assert alarm.event_count == 200
    assert Notification.objects.filter(alarm=alarm).count() == 1  # the operators are told once
    assert DeviceEvent.objects.filter(alarm=alarm).count() == 200
    # Another kind from the same device is another alarm; after the first is resolved, a new SOS is new.
    services.ingest(vendor=w["vendor"], events=[event("SOS-1", alarm_kind="fall")], channel=Channel.WEBHOOK)
    assert Alarm.objects.count() == 2
    services.acknowledge(actor=w["operator"], alarm=alarm)
    services.resolve(actor=w["operator"], alarm=alarm, outcome="false_alarm")
    services.ingest(vendor=w["vendor"], events=[event("SOS-1")], channel=Channel.WEBHOOK)
    assert Alarm.objects.filter(kind="sos").count() == 2


def test_heartbeats_and_activity_update_the_device(alarm_world, frozen_clock):
    w = alarm_world
    from django.utils import timezone

    at = timezone.now() - datetime.timedelta(minutes=3)
    services.ingest(vendor=w["vendor"], events=[event("DOOR-1", kind="heartbeat", at=at, battery=64),
                                                event("DOOR-1", kind="activity", at=at)], channel=Channel.MQTT)
    w["door"].refresh_from_db()
    assert w["door"].battery_pct == 64 and w["door"].last_heartbeat_at == at and w["door"].last_activity_at == at
    assert not Alarm.objects.exists()


def test_an_unknown_device_is_quarantined_then_released_when_registered(alarm_world,
                                                                        django_capture_on_commit_callbacks):
    w = alarm_world
    result = services.ingest(vendor=w["vendor"], events=[event("NEW-9")], channel=Channel.WEBHOOK)
    assert (result.accepted, result.quarantined, result.alarms_raised) == (1, 1, 0)
    held = DeviceEvent.objects.get(device_serial="NEW-9")
    assert held.quarantined and held.device is None and held.region_code == "511903"
    with django_capture_on_commit_callbacks(execute=True):
        device = services.register_device(actor=w["community"], vendor=w["vendor"], serial="NEW-9",
                                          kind="sos_button", elder=w["elder"],
                                          installed_on=w["sos"].installed_on)
    held.refresh_from_db()
    assert held.device == device and not held.quarantined
    assert Alarm.objects.filter(device=device).count() == 1  # a minute-old SOS is still an emergency


def test_a_manual_alarm_follows_the_same_life_cycle(alarm_world):
    w = alarm_world
    alarm = services.raise_manual_alarm(actor=w["operator"], elder=w["elder"], kind="fall", note="邻居来电")
    assert alarm.device is None and alarm.status == AlarmStatus.RAISED
    assert AlarmStep.objects.get(alarm=alarm).note == "邻居来电"
    with pytest.raises(DomainError):
        services.raise_manual_alarm(actor=w["other_street"], elder=w["elder"], kind="fall")



def test_a_late_older_report_never_moves_the_device_back(alarm_world):
    w = alarm_world
    from django.utils import timezone

    now = timezone.now()
    services.ingest(vendor=w["vendor"], events=[event("DOOR-1", kind="activity", at=now)], channel=Channel.MQTT)
    services.ingest(vendor=w["vendor"], events=[event("DOOR-1", kind="activity", at=now - datetime.timedelta(hours=2)),
                                                event("SOS-1", kind="heartbeat", at=now, battery=9)],
                    channel=Channel.MQTT)
    w["door"].refresh_from_db()
    w["sos"].refresh_from_db()
    assert w["door"].last_activity_at == now and w["door"].last_heartbeat_at == now
    assert w["sos"].battery_pct == 9 and w["sos"].last_activity_at is None


def test_reports_of_many_devices_cost_the_same_few_queries(alarm_world, django_assert_num_queries):
    w = alarm_world
    from django.utils import timezone

    for i in range(40):
        services.register_device(actor=w["community"], vendor=w["vendor"], serial=f"W-{i}", kind="smartwatch",
                                 elder=w["elder"], installed_on=w["sos"].installed_on)
    now = timezone.now()
    batch = [event(f"W-{i}", kind="heartbeat", at=now, battery=50 + i) for i in range(40)]
    # Devices lookup, the INSERT, reading the new events back, one UPDATE of the devices, one of the events,
    # and the savepoint of each of the two transactions.
    with django_assert_num_queries(9):
        result = services.ingest(vendor=w["vendor"], events=batch, channel=Channel.MQTT)
    assert result.accepted == 40
    from yiyang.alarms.models import Device

    assert Device.objects.get(serial="W-39").battery_pct == 89
