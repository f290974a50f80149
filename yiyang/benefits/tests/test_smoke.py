import datetime
from decimal import Decimal

import pytest

from yiyang.benefits.models import RollLine
from yiyang.benefits.tests import factories as f
from yiyang.core.tests.factories import demo_roles

pytestmark = pytest.mark.django_db


def test_longevity_roll_bands():
    roles = demo_roles()
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    a = f.elder(roles["community"], 1, birth=datetime.date(1934, 11, 2))  # 91 on 2026-11-01
    b = f.elder(roles["community"], 2, birth=datetime.date(1946, 11, 1))  # 80 on 2026-11-01
    c = f.elder(roles["community"], 3, birth=datetime.date(1946, 11, 2))  # 79 on 2026-11-01
    roll = f.generate(roles["bureau"], prog, "2026-11")
    got = dict(RollLine.objects.filter(roll=roll).values_list("elder_id", "amount"))
    assert got == {a.pk: Decimal("100.00"), b.pk: Decimal("50.00")}
    assert c.pk not in got
    assert roll.status == "draft" and roll.line_count == 2 and roll.total_amount == Decimal("150.00")


def test_explanation_names_age_band_and_amount():
    roles = demo_roles()
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    f.elder(roles["community"], 1, birth=datetime.date(1934, 10, 15))  # 92 on 2026-11-01
    roll = f.generate(roles["bureau"], prog, "2026-11")
    line = RollLine.objects.get(roll=roll)
    assert line.explain() == "2026-11-01 时 92 岁 → 90–99 岁档 → 100.00 元"
