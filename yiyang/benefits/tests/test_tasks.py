"""Large rolls go to the task queue and the database worker finishes them."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from yiyang.benefits import services
from yiyang.benefits.models import BenefitSettings, Roll
from yiyang.benefits.tests import factories as f
from yiyang.core.models import Region
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import demo_roles

pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def test_large_roll_is_queued_and_the_worker_generates_it():
    load_regions(prefix="5119")
    roles = demo_roles()
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    for i in range(3):
        f.elder(roles["community"], i + 1, birth=datetime.date(1930 + i, 1, 1))
    region = Region.objects.get(code="511903")
    BenefitSettings.objects.create(jurisdiction=region, background_threshold=2)
    roll, queued = services.request_roll(actor=roles["bureau"], programme=prog, jurisdiction=region, month="2026-11")
    assert queued and roll.status == "generating" and roll.progress == 0
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    roll = Roll.objects.get(pk=roll.pk)
    assert (roll.status, roll.progress, roll.line_count) == ("draft", 100, 3)
    assert roll.total_amount == Decimal("300.00")  # aged 96, 95 and 94 on 2026-11-01: 100 yuan each
