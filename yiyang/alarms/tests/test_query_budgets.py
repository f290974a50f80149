"""Query budgets of the alarms app's list API endpoints (core/tests/query_budget.py): a line per list. The world
is the conftest's (an operator on duty, the vendor 安心, 王秀英 with an SOS button and a door sensor)."""

import datetime

import pytest
from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.models import Channel
from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import make_user
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry.tests.factories import make_elder

from .factories import event, make_vendor, shift

pytestmark = pytest.mark.django_db
INSTALLED = datetime.date(2026, 1, 5)


def alarms(w, n):
    """Alarms taken by phone for new elders of 登科寺社区 (each tells the operator on duty)."""
    made = []
    for _ in range(n):
        s = seq(w)
        elder = make_elder(w["bureau"], name=f"老人{s}", seq=s)
        made.append(services.raise_manual_alarm(actor=w["operator"], elder=elder, kind="fall"))
    return made


def devices(w, n):
    return [services.register_device(actor=w["community"], vendor=w["vendor"], serial=f"D-{seq(w)}",
                                     kind="smoke", elder=w["elder"], installed_on=INSTALLED) for _ in range(n)]


def vendors(w, n):
    return [make_vendor(w["bureau"], code=f"v{seq(w)}")[0] for _ in range(n)]


def quarantined(w, n):
    services.ingest(vendor=w["vendor"], events=[event(f"UNKNOWN-{seq(w)}") for _ in range(n)],
                    channel=Channel.WEBHOOK)
    return range(n)


def maintenance(w, n):
    made = devices(w, n)
    services.ingest(vendor=w["vendor"], events=[event(d.serial, "alarm", "low_battery", battery=5) for d in made],
                    channel=Channel.WEBHOOK)
    return made


def shifts(w, n):
    start = timezone.now() + datetime.timedelta(days=1)
    return [shift(w["bureau"], make_user(f"op{seq(w)}", Role.OPERATOR, region="511903"), start=start)
            for _ in range(n)]


def service_levels(w, n):
    taken = w.setdefault("_streets", [])
    streets = (Region.objects.filter(code__startswith="511903", level="street").exclude(code__in=taken)
               .order_by("code").values_list("code", flat=True)[:n])
    made = []
    for code in streets:
        taken.append(code)
        made.append(services.set_service_level(actor=w["bureau"], jurisdiction=Region.objects.get(code=code),
                                               ack_seconds=60, arrive_minutes=45,
                                               chain=[{"to": "bureau", "wait_seconds": 0}]))
    return made


BUDGETS = [
    Budget("/api/v1/alarms/alarms", "operator", alarms, ceiling=4),
    Budget("/api/v1/alarms/alarms", "street", alarms, ceiling=4),
    Budget("/api/v1/alarms/devices", "operator", devices, ceiling=4),
    Budget("/api/v1/alarms/devices", "provider", devices, ceiling=4),
    Budget("/api/v1/alarms/vendors", "bureau", vendors, ceiling=4),
    Budget("/api/v1/alarms/quarantine", "bureau", quarantined, ceiling=4),
    Budget("/api/v1/alarms/maintenance", "provider", maintenance, ceiling=4),
    Budget("/api/v1/alarms/rota", "bureau", shifts, ceiling=4),
    Budget("/api/v1/alarms/service-levels", "bureau", service_levels, ceiling=4),
    Budget("/api/v1/alarms/notifications", "operator", alarms, ceiling=4),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
