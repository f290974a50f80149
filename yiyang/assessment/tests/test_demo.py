"""The demo step on a small register: who gets assessed, the spread of levels, work under way, idempotence."""

import datetime
import random

import pytest
from django.utils import timezone

from yiyang.assessment.demo import assessment_demo
from yiyang.assessment.models import OPEN_STATUSES, Assessment, CurrentLevel, Status
from yiyang.core.demo import DemoContext
from yiyang.core.models import Region, User
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import services as registry_services
from yiyang.registry.models import Practitioner
from yiyang.registry.tests.factories import make_elder

pytestmark = pytest.mark.django_db


def test_demo_assessments(django_assert_max_num_queries):
    roles = demo_roles()
    today = timezone.localdate()
    people = []
    for i in range(36):
        age = 62 + i  # 62 … 97
        birth = datetime.date(today.year - age, 3, 1)
        people.append(make_elder(roles["community"], name=f"老人{i}", seq=i + 1, birth=birth, male=i % 2 == 0))
    destitute = people[:4]
    for p in destitute:
        registry_services.add_category(actor=None, elder=p, kind="destitute", start_date=datetime.date(2020, 1, 1))
    ctx = DemoContext(seed=7, scale=1, rng=random.Random(7), county=Region.objects.get(code="511903"),
                      accounts=dict(roles))
    lines = []
    with django_assert_max_num_queries(260):
        assessment_demo(ctx, lines.append)
    assert {"assessor2", "assessor3"} <= set(ctx.accounts)
    assert Practitioner.objects.filter(account__username__in=["assessor", "assessor2", "assessor3"]).count() == 3
    assert User.objects.get(username="assessor3").organisation == roles["assessor"].organisation
    current = {c.elder_id: c for c in CurrentLevel.objects.all()}
    assert all(p.pk in current for p in destitute)
    over_80 = [p for p in people if p.age_on(today) >= 80]
    assert sum(1 for p in over_80 if p.pk in current) >= len(over_80) // 2
    assert len({c.level for c in current.values()}) >= 3
    # Every current level is the latest published result, scored by the rules.
    for c in current.values():
        latest = Assessment.objects.filter(elder_id=c.elder_id, status=Status.PUBLISHED).order_by(
            "-published_at").first()
        assert latest.pk == c.assessment_id and latest.final_level == c.level and latest.reviewed_by_id
        assert latest.reviewed_by_id not in {latest.assessor_1_id, latest.assessor_2_id}
        assert latest.assessor_1_id != latest.assessor_2_id
    # Work under way: distinct elders, today's visits for the demo assessor.
    open_ones = Assessment.objects.filter(status__in=OPEN_STATUSES)
    assert open_ones.count() == open_ones.values("elder").distinct().count() > 0
    assert open_ones.filter(assessor_1=roles["assessor"], scheduled_for=today).exists()
    assert "elders with a published level" in lines[-1]
    assessment_demo(ctx, lines.append)
    assert "left as they are" in lines[-1]
