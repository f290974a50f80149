"""statistics.alarm_statistics on a hand-built October 2026 in 恩阳区, every number computed by hand below.

The clock is moved to fixed days (no ticking, so every duration is exact) and back: the test never depends on
the day it runs. Two homes: 王秀英 in 登科寺社区 (登科街道 has its own service level: acknowledged within 30 s,
on site within 20 minutes) and 李大爷 in 文治街道 (no level of its own, none for the county: the defaults, 60 s and
45 minutes). Times are counted from the first event (`raised_at`).

    alarm  home  kind   raised (local)      ack   dispatched  on site  outcome
    S      王    sos    09-30 23:59:30      5 s   -           -        false_alarm   (September: not counted)
    A3     王    sos    10-01 00:00:30      10 s  -           -        false_alarm   (September in UTC, October here)
    A1     王    sos    10-05 09:00 (SOS-1) 20 s  100 s       900 s    handled_at_home, closed
    A2     王    fall   10-06 09:00         50 s  200 s       1500 s   to_hospital
    B1     李    smoke  10-07 09:00         40 s  300 s       2400 s   false_alarm
    B2     李    sos    10-08 09:00         90 s  150 s       -        (open: dispatched)
    B3     李    fall   10-09 09:00         -     -           -        (open: raised)
"""

import datetime
import zoneinfo

import pytest
import time_machine

from yiyang.alarms import services, statistics
from yiyang.alarms.models import Alarm, Channel
from yiyang.alarms.services.silence import _open_maintenance
from yiyang.alarms.statistics import Timing
from yiyang.core.models import Region
from yiyang.registry.tests.factories import make_elder

from .factories import event

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
OCTOBER = datetime.date(2026, 10, 1)


def at(month, day, hour, minute=0, second=0):
    return datetime.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def october(alarm_world):
    w = alarm_world
    op = w["operator"]
    li = make_elder(w["bureau"], seq=2, name="李大爷", residence="511903002001")
    services.set_service_level(actor=w["bureau"], jurisdiction=Region.objects.get(code="511903001"), ack_seconds=30,
                               arrive_minutes=20, chain=[{"to": "bureau", "wait_seconds": 0}])
    _open_maintenance(w["door"], "offline")  # 王秀英's door sensor has gone silent

    def life(raised, elder, kind, *, ack=None, sent=None, there=None, outcome=None, close=False, device=False):
        with time_machine.travel(raised, tick=False) as clock:
            if device:
                services.ingest(vendor=w["vendor"], events=[event("SOS-1", at=raised)], channel=Channel.WEBHOOK)
                alarm = Alarm.objects.get(device=w["sos"], raised_at=raised)
            else:
                alarm = services.raise_manual_alarm(actor=op, elder=elder, kind=kind)
            for seconds, step in ((ack, "ack"), (sent, "sent"), (there, "there")):
                if seconds is None:
                    continue
                clock.move_to(raised + datetime.timedelta(seconds=seconds))
                if step == "ack":
                    services.acknowledge(actor=op, alarm=alarm)
                elif step == "sent":
                    services.dispatch(actor=op, alarm=alarm, responder="community", responder_name="社区小李")
                else:
                    services.mark_on_site(actor=op, alarm=alarm)
            if outcome:
                clock.shift(60)
                services.resolve(actor=op, alarm=alarm, outcome=outcome, note="已处置")
            if close:
                services.close(actor=op, alarm=alarm)
        return alarm

    wang = w["elder"]
    life(at(9, 30, 23, 59, 30), wang, "sos", ack=5, outcome="false_alarm")
    life(at(10, 1, 0, 0, 30), wang, "sos", ack=10, outcome="false_alarm")
    life(at(10, 5, 9), wang, "sos", ack=20, sent=100, there=900, outcome="handled_at_home", close=True, device=True)
    life(at(10, 6, 9), wang, "fall", ack=50, sent=200, there=1500, outcome="to_hospital")
    life(at(10, 7, 9), li, "smoke", ack=40, sent=300, there=2400, outcome="false_alarm")
    life(at(10, 8, 9), li, "sos", ack=90, sent=150)
    life(at(10, 9, 9), li, "fall")
    return w


def test_a_county_month_counted_by_hand(october):
    s = statistics.alarm_statistics(region_code="511903", month=OCTOBER)
    # A1, A2, A3, B1, B2, B3 (S was raised in September).
    assert s["total"] == 6
    assert s["by_kind"] == {"sos": 3, "fall": 2, "smoke": 1}  # sos: A1 A3 B2; fall: A2 B3; smoke: B1
    assert s["by_outcome"] == {"false_alarm": 2, "handled_at_home": 1, "to_hospital": 1, "unresolved": 2}
    assert s["open"] == 2  # B2, B3
    # Acknowledged: 10 20 40 50 90 (B3 never). p50 at rank 0.5·4 = 2 → 40; p90 at rank 0.9·4 = 3.6 →
    # 50 + 0.6·(90 − 50) = 74. Within the level: A3 10 ≤ 30, A1 20 ≤ 30, B1 40 ≤ 60 (A2 50 > 30, B2 90 > 60, B3
    # never): 3 of the month's 6 alarms.
    assert s["acknowledge"] == Timing(count=5, p50=40.0, p90=74.0, within=3, of=6, share=0.5)
    # Dispatched: 100 150 200 300. p50 at rank 1.5 → 150 + 0.5·50 = 175; p90 at rank 2.7 → 200 + 0.7·100 = 270.
    assert s["dispatch"] == Timing(count=4, p50=175.0, p90=270.0)
    # On site: 900 1500 2400. p50 at rank 1 → 1500; p90 at rank 1.8 → 1500 + 0.8·900 = 2220. Within the level:
    # A1 900 ≤ 20·60, B1 2400 ≤ 45·60 (A2 1500 > 1200): 2 of the 4 dispatched (B2 not there yet).
    assert s["on_site"] == Timing(count=3, p50=1500.0, p90=2220.0, within=2, of=4, share=0.5)
    # Resolved: A1 A2 A3 B1, of which A3 and B1 false alarms: 2 / 4.
    assert (s["resolved"], s["false_alarms"], s["false_alarm_rate"]) == (4, 2, 0.5)
    # SOS-1 and DOOR-1 in use; the door sensor has an open 设备离线 task.
    assert (s["devices_active"], s["devices_offline"]) == (2, 1)


def test_a_street_month_counted_by_hand(october):
    s = statistics.alarm_statistics(region_code="511903001", month=OCTOBER)
    assert s["total"] == 3 and s["by_kind"] == {"sos": 2, "fall": 1}  # A1 A3, A2
    # Acknowledged: 10 20 50 → p50 20; p90 at rank 1.8 → 20 + 0.8·30 = 44; within 30 s: A3, A1 → 2 / 3.
    assert s["acknowledge"] == Timing(count=3, p50=20.0, p90=44.0, within=2, of=3, share=0.6667)
    # On site: 900 1500 → p50 at rank 0.5 → 1200; p90 at rank 0.9 → 900 + 0.9·600 = 1440; within 20 min: A1 → 1 / 2.
    assert s["on_site"] == Timing(count=2, p50=1200.0, p90=1440.0, within=1, of=2, share=0.5)
    assert s["false_alarm_rate"] == 0.3333  # A3 of A1 A2 A3
    # 文治街道 has no device.
    assert statistics.alarm_statistics(region_code="511903002", month=OCTOBER)["devices_active"] == 0


def test_a_month_without_alarms_has_no_times(october):
    s = statistics.alarm_statistics(region_code="511903", month=datetime.date(2026, 8, 1))
    assert s["total"] == 0 and s["by_kind"] == {} and s["false_alarm_rate"] is None
    assert s["acknowledge"] == Timing(count=0, p50=None, p90=None, within=0, of=0, share=None)


def test_the_statistics_are_a_fixed_number_of_queries(october, django_assert_num_queries):
    # by kind, by outcome, open, the times, devices in use, devices offline: 6 whatever the month holds.
    with django_assert_num_queries(6):
        statistics.alarm_statistics(region_code="511903", month=OCTOBER)
