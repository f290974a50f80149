"""Generating a month's tasks, set-based: who is due, in which windows, at the boundaries (hand-computed)."""

import datetime

import pytest
from django.utils import timezone

from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import generation, rules, services
from yiyang.visits.models import TaskStatus, VisitTask

from .factories import this_month


def next_month():
    return rules.add_months(this_month(), 1)


def next_quarter():
    m = next_month()
    while (m.month - 1) % 3:
        m = rules.add_months(m, 1)
    return m


def tasks_of(elder, month=None):
    qs = VisitTask.objects.filter(elder=elder)
    if month is not None:
        qs = qs.filter(period_month=month)
    return list(qs.order_by("window_start"))


def generate(month):
    return services.generate_month(month=month, now=generation.day_start(month))


def test_age_80_on_the_1st(home):
    m = next_month()
    eighty = make_elder(home["bureau"], living_situation="alone", birth=m.replace(year=m.year - 80), seq=1)
    seventy_nine = make_elder(home["bureau"], living_situation="alone",
                              birth=m.replace(year=m.year - 80) + datetime.timedelta(days=1), seq=2)
    generate(m)
    # 80 on the 1st, living alone: 重点 (monthly), one task for the calendar month.
    [task] = tasks_of(eighty)
    assert (task.tier, task.window_start, task.due_at) == ("key", generation.day_start(m),
                                                            generation.day_start(rules.add_months(m, 1)))
    # 79 that day: 一般 (quarterly), so a task only when m opens a quarter.
    expected = 1 if (m.month - 1) % 3 == 0 else 0
    assert len(tasks_of(seventy_nine)) == expected


def test_category_ending_mid_month_keeps_this_month_and_drops_the_next(home):
    m = next_month()
    person = make_elder(home["bureau"], living_situation="with_children", birth=datetime.date(1956, 5, 5))
    registry.add_category(actor=home["bureau"], elder=person, kind="destitute",
                          start_date=m - datetime.timedelta(days=400), end_date=m.replace(day=15))
    generate(m)
    tasks = tasks_of(person, m)
    # 特困 分散供养 on the 1st: 高风险, weekly: four windows 1–7, 8–14, 15–21, 22–end.
    assert [t.tier for t in tasks] == ["high"] * 4
    assert [timezone.localtime(t.window_start).day for t in tasks] == [1, 8, 15, 22]
    after = rules.add_months(m, 1)
    generate(after)
    # Aged 70, living with children, no category any more: in no tier.
    assert tasks_of(person, after) == []


@pytest.fixture
def reviewers(home):
    agency = home["assessor"].organisation
    return {**home, "assessor2": make_user("assessor2", Role.ASSESSOR, organisation=agency),
            "reviewer": make_user("reviewer", Role.ASSESSOR, organisation=agency)}


def test_level_published_before_the_end_of_the_1st_counts(reviewers, frozen_clock):
    from yiyang.assessment.tests.factories import SEVERE, published

    q = next_quarter()
    on_the_1st = make_elder(reviewers["bureau"], living_situation="alone", birth=datetime.date(1954, 4, 4), seq=1)
    on_the_2nd = make_elder(reviewers["bureau"], living_situation="alone", birth=datetime.date(1954, 4, 4), seq=2)
    frozen_clock.move_to(generation.day_start(q) + datetime.timedelta(hours=15))
    published(reviewers, on_the_1st, SEVERE)
    frozen_clock.move_to(generation.day_start(q) + datetime.timedelta(days=1, hours=9))
    published(reviewers, on_the_2nd, SEVERE)
    services.generate_month(month=q, now=generation.day_start(q))
    # 独居 + 重度失能 on the 1st: weekly; the level published on the 2nd is next month's fact: 一般, quarterly.
    assert [t.tier for t in tasks_of(on_the_1st)] == ["high"] * 4
    assert [t.tier for t in tasks_of(on_the_2nd)] == ["general"]
    assert tasks_of(on_the_2nd)[0].due_at == generation.day_start(rules.add_months(q, 3))
    assert tasks_of(on_the_2nd)[0].period_month == rules.add_months(q, 2)  # counted in the quarter's last month


def test_windows_already_over_are_not_made_and_generation_is_idempotent(world):
    m = this_month()
    day = generation.day_start(m) + datetime.timedelta(days=16)  # the 17th: weeks 1–7 and 8–14 are over
    person = make_elder(world["bureau"], living_situation="alone", birth=datetime.date(1955, 1, 1), seq=3)
    registry.add_category(actor=world["bureau"], elder=person, kind="destitute",
                          start_date=m - datetime.timedelta(days=30))
    assert services.generate_month(month=m, now=day) >= 2
    assert [timezone.localtime(t.window_start).day for t in tasks_of(person)] == [15, 22]
    assert services.generate_month(month=m, now=day) == 0


def test_the_responsible_visitor_is_on_the_task_and_the_dead_get_none(world):
    m = next_month()
    gone = make_elder(world["bureau"], living_situation="alone", birth=datetime.date(1930, 1, 1), seq=4)
    registry.record_status_event(actor=world["bureau"], elder=gone, kind="death",
                                 effective_date=this_month())
    generate(m)
    [task] = tasks_of(world["elder"])
    assert task.visitor == world["zhao"] and task.status == TaskStatus.OPEN
    assert task.region_code == "511903001002" and task.county_code == "511903"
    assert tasks_of(gone) == []


def test_a_more_specific_jurisdiction_governs_its_own_streets(world):
    """登科街道 adopts its own rule (everyone alone weekly); the county's rule keeps the other streets."""
    street = Region.objects.get(code="511903001")
    street_bureau = make_user("street_bureau", Role.BUREAU, region="511903")
    params = {"covered": [], "tiers": [{"code": "alone", "name": "独居", "rank": 1, "period": "week",
                                         "methods": ["home"], "when": [{"living": ["alone"]}]}]}
    m = next_month()
    rs = services.draft_rule_set(actor=street_bureau, jurisdiction=street, params=params, valid_from=m)
    services.adopt_rule_set(actor=street_bureau, rule_set=rs)
    elsewhere = make_elder(world["bureau"], living_situation="alone", birth=datetime.date(1940, 3, 8), seq=5,
                           residence="511903002001")
    generate(m)
    assert [t.tier for t in tasks_of(world["elder"])] == ["alone"] * 4
    assert [t.tier for t in tasks_of(elsewhere)] == ["key"]
