"""The demo city's alarms: the two vendors with their derived secrets, 200 devices in 恩阳区's homes, the rota
with the `operator` login on duty now, the service levels, three months of alarms through every outcome whose
times agree with their steps, today's open alarms, quarantined events, devices offline and maintenance."""

import datetime

import pytest
from django.db.models import F
from django.utils import timezone

from yiyang.alarms import selectors
from yiyang.alarms.demo_secrets import demo_vendor_secret
from yiyang.alarms.models import (
    Alarm,
    AlarmOutcome,
    AlarmStatus,
    Device,
    DeviceEvent,
    DutyRole,
    MaintenanceKind,
    MaintenanceTask,
    Notification,
    ServiceLevel,
    StepKind,
    Vendor,
)
from yiyang.alarms.services import on_duty_users
from yiyang.core.demo import DEMO_COUNTY, build_demo_city
from yiyang.core.models import Region, Role

# The whole city, each step committed as `make demo` does (see services/tests/test_demo.py).
pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def test_demo_alarms():
    logged = []
    ctx = build_demo_city(seed=7, scale=1 / 200, log=lambda *a: logged.append(" ".join(map(str, a))))
    now = timezone.now()
    operator = ctx.accounts["operator"]
    assert operator.role == Role.OPERATOR and operator.region_id == DEMO_COUNTY
    assert operator.check_password("demo12345")

    # Two vendors whose secrets the simulator can derive; none is printed.
    vendors = {v.code: v for v in Vendor.objects.all()}
    assert set(vendors) == {"anxin", "huaxia"}
    for code, vendor in vendors.items():
        assert vendor.secret == demo_vendor_secret(code)
        assert not any(vendor.secret in line for line in logged)
    assert demo_vendor_secret("anxin") != demo_vendor_secret("huaxia")

    # 200 devices in the homes of the county's elders, of many kinds, from both vendors.
    devices = Device.objects.filter(region_code__startswith=DEMO_COUNTY)
    assert devices.count() == 200
    assert devices.values("kind").distinct().count() >= 8
    assert set(devices.values_list("vendor__code", flat=True)) == {"anxin", "huaxia"}
    assert not devices.exclude(region_code=F("elder__residence_region_id")).exists()

    # The rota: the operator on duty now at the call centre with a backup, a duty officer for every street.
    assert operator in on_duty_users("511903001002", DutyRole.OPERATOR)
    assert on_duty_users("511903002001", DutyRole.BACKUP)
    streets = Region.objects.filter(code__startswith=DEMO_COUNTY, level="street").values_list("code", flat=True)
    assert all(on_duty_users(code, DutyRole.DUTY_OFFICER)[0].region_id == code for code in [DEMO_COUNTY, *streets])
    assert set(ServiceLevel.objects.values_list("jurisdiction_id", flat=True)) == {"511903", "511903001"}

    # Three months of history through every outcome; the times follow each other and none is in the future.
    alarms = Alarm.objects.filter(region_code__startswith=DEMO_COUNTY)
    history = alarms.filter(raised_at__lt=now - datetime.timedelta(days=60))
    assert history.exists()
    assert set(alarms.exclude(outcome="").values_list("outcome", flat=True)) == set(AlarmOutcome.values)
    assert alarms.filter(status=AlarmStatus.CLOSED).count() > 100
    assert not alarms.filter(acknowledged_at__lt=F("raised_at")).exists()
    assert not alarms.filter(dispatched_at__lt=F("acknowledged_at")).exists()
    assert not alarms.filter(on_site_at__lt=F("dispatched_at")).exists()
    assert not alarms.filter(resolved_at__lt=F("acknowledged_at")).exists()
    for field in ("raised_at", "acknowledged_at", "resolved_at", "closed_at"):
        assert not alarms.filter(**{f"{field}__gt": now}).exists(), field
    # Every alarm's events are stored (as many as it counts), and its timeline starts with it being raised.
    first = alarms.filter(device__isnull=False).order_by("raised_at").first()
    assert first.events.count() == first.event_count
    assert first.steps.first().kind == StepKind.RAISED and first.steps.last().kind == StepKind.CLOSED
    # The one death is in the register, and the maintainer is asked to collect that home's devices.
    death = alarms.get(outcome=AlarmOutcome.DECEASED)
    assert death.elder.status == "deceased" and "无生命体征" in death.steps.get(kind=StepKind.RESOLVED).note
    assert MaintenanceTask.objects.filter(device__elder=death.elder, kind=MaintenanceKind.RETRIEVE,
                                          status="open").exists()
    assert not alarms.filter(elder=death.elder, raised_at__gt=death.resolved_at).exists()
    ack = alarms.filter(resolved_at__isnull=False)
    within = ack.filter(acknowledged_at__lte=F("raised_at") + datetime.timedelta(seconds=60)).count()
    assert 0.9 <= within / ack.count() < 1

    # Today: open alarms in the operator's queue, the fall unacknowledged and escalated; they were told.
    queue = list(selectors.console_queue(operator))
    assert len(queue) >= 4
    assert {a.status for a in queue} >= {AlarmStatus.RAISED, AlarmStatus.DISPATCHED, AlarmStatus.ON_SITE}
    assert alarms.filter(status=AlarmStatus.RAISED, escalation_level__gte=1).exists()
    assert Notification.objects.filter(recipient=operator).exists()
    # Events of unregistered devices, devices offline and low on battery for the maintainer.
    assert DeviceEvent.objects.filter(quarantined=True).count() == 2
    open_tasks = MaintenanceTask.objects.filter(status="open")
    assert open_tasks.filter(kind=MaintenanceKind.OFFLINE).count() >= 6
    assert open_tasks.filter(kind=MaintenanceKind.LOW_BATTERY).count() == 2
    assert MaintenanceTask.objects.filter(status="done").exists()
