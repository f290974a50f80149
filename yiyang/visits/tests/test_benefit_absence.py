"""Benefits' 长期无服务或探访 check, wired: a person due visits and not seen for 90 days is a doubt on the roll,
and the doubt raises a visit within 24 hours."""

import datetime

from django.utils import timezone

from yiyang.benefits.models import CheckKind, RollCheck
from yiyang.benefits.tests.factories import LONGEVITY, generate, programme, rule
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import generation, rules, services
from yiyang.visits.models import Trigger, VisitTask

from .factories import this_month


def test_nobody_seen_for_90_days_is_a_doubt_and_raises_a_visit(world, frozen_clock):
    m = this_month()
    seen = make_elder(world["bureau"], name="李桂兰", living_situation="alone", birth=datetime.date(1938, 1, 1),
                      seq=2)
    unvisited_elsewhere = make_elder(world["bureau"], name="陈淑芳", living_situation="with_children",
                                     birth=datetime.date(1939, 1, 1), seq=3)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    Elder.objects.update(created_at=long_ago)
    services.pair(actor=world["community"], elder=seen, visitor=world["zhao"])
    two_back = rules.add_months(m, -2)
    services.generate_month(month=two_back, now=generation.day_start(two_back))
    # 李桂兰 was seen twenty days ago (a late visit still counts as contact); 王秀英 never.
    services.record_visit(actor=world["visitor"], elder=seen, method="home", outcome="seen",
                          visited_at=timezone.now() - datetime.timedelta(days=20))
    prog = programme()
    rule(prog, LONGEVITY)
    roll = generate(world["bureau"], prog, m)
    doubts = RollCheck.objects.filter(roll=roll, kind=CheckKind.ABSENCE)
    # 陈淑芳 (80+, with children) is in the 一般 tier but had no visit due in the window: not judged.
    assert [c.line.elder.name for c in doubts] == ["王秀英"]
    assert doubts[0].explain() == "已 90 天没有服务或探访记录"
    [task] = VisitTask.objects.filter(trigger=Trigger.BENEFIT_ABSENCE)
    assert task.elder == world["elder"] and task.visitor == world["zhao"]
    assert task.due_at - task.window_start == datetime.timedelta(hours=24)
    assert unvisited_elsewhere.pk not in {c.line.elder_id for c in doubts}
    # Generating the roll again recomputes the checks; the visit is not raised twice.
    from yiyang.benefits import services as benefits

    benefits.generate_roll(actor=world["bureau"], roll=roll)
    assert VisitTask.objects.filter(trigger=Trigger.BENEFIT_ABSENCE).count() == 1
