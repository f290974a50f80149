"""The alarms tests' world.

    alarm_world   the demo roles (core.tests.factories.demo_roles), an `operator` of 恩阳区's call centre on duty
                  now (and `operator2` as backup), the street's duty officer (the `street` account), a vendor
                  安心 (yiyang_json) maintained by the provider 颐康, and the elder 王秀英 (born 1940, 独居, in
                  登科寺社区) with an SOS button `SOS-1` and a door sensor `DOOR-1`.
"""

import datetime

import pytest
from django.utils import timezone

from yiyang.alarms import services
from yiyang.core.models import Role
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import demo_roles, make_user
from yiyang.registry.tests.factories import make_elder

from .factories import make_vendor, shift


@pytest.fixture
def alarm_world(request, db):
    if request.node.get_closest_marker("flushes"):
        load_regions(prefix="5119")
    roles = demo_roles()
    operator = make_user("operator", Role.OPERATOR, region="511903", display_name="接警员小周")
    operator2 = make_user("operator2", Role.OPERATOR, region="511903", display_name="接警员小吴")
    bureau = roles["bureau"]
    shift(bureau, operator)
    shift(bureau, operator2, role="backup")
    shift(bureau, roles["street"], region="511903001", role="duty_officer")
    vendor, secret = make_vendor(bureau, maintainer=roles["provider"].organisation)
    elder = make_elder(bureau, living_situation="alone", birth=datetime.date(1940, 3, 8),
                       latitude="31.940000", longitude="106.640000")
    today = timezone.localdate()
    sos = services.register_device(actor=roles["community"], vendor=vendor, serial="SOS-1", kind="sos_button",
                                   elder=elder, installed_on=today - datetime.timedelta(days=30))
    door = services.register_device(actor=roles["community"], vendor=vendor, serial="DOOR-1", kind="door",
                                    elder=elder, installed_on=today - datetime.timedelta(days=30))
    return {**roles, "operator": operator, "operator2": operator2, "vendor": vendor, "secret": secret,
            "elder": elder, "sos": sos, "door": door}


@pytest.fixture
def world(alarm_world):
    """The app's world under the name the shared tests (query budgets) use."""
    return alarm_world
