"""Coverage counted from the tasks on a small fixture, by hand, and the rule-set simulation and adoption."""

import copy
import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.models import Region
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import generation, rules, selectors, services
from yiyang.visits.defaults import MODEL_TIERS
from yiyang.visits.models import RuleStatus, VisitTask

from .factories import make_visitor, this_month


@pytest.fixture
def month_done(world, frozen_clock):
    """Next month, five people in key (monthly) or general tiers, visited as below, looked at after the month.

    登科寺社区 (511903001002): 王秀英 seen on the 3rd (on time); 李 seen on the 10th by phone (does not count:
    key tier), then at home on the 2nd of the next month (late); 张 never (overdue).
    另一社区 (511903001001): 陈 seen on the 5th.   文治街道 (511903002001): 刘 never.
    """
    m = rules.add_months(this_month(), 1)
    w = world
    li = make_elder(w["bureau"], name="李桂兰", living_situation="empty_nest", birth=datetime.date(1950, 2, 2), seq=2)
    zhang = make_elder(w["bureau"], name="张玉珍", living_situation="left_behind", birth=datetime.date(1951, 2, 2),
                       seq=3)
    chen = make_elder(w["bureau"], name="陈淑芳", living_situation="empty_nest", birth=datetime.date(1952, 2, 2),
                      seq=4, residence="511903001001")
    liu = make_elder(w["bureau"], name="刘秀英", living_situation="empty_nest", birth=datetime.date(1953, 2, 2),
                     seq=5, residence="511903002001")
    for person in (li, zhang):
        services.pair(actor=w["community"], elder=person, visitor=w["zhao"])
    services.pair(actor=w["street"], elder=chen,
                  visitor=make_visitor(w["street"], "吴网格", region="511903001001"))
    services.generate_month(month=m, now=generation.day_start(m))

    def at(day, hour=10):
        return generation.day_start(m) + datetime.timedelta(days=day - 1, hours=hour)

    def seen(person, day, method="home", key=""):
        frozen_clock.move_to(at(day, 11))
        services.record_visit(actor=w["street"], elder=person, method=method, outcome="seen",
                              visited_at=at(day), client_key=key or f"{person.pk}-{day}-{method}")

    seen(w["elder"], 3)
    seen(li, 10, "phone")
    seen(chen, 5)
    next_m = rules.add_months(m, 1)
    frozen_clock.move_to(generation.day_start(next_m) + datetime.timedelta(days=1, hours=11))
    task = VisitTask.objects.get(elder=li)
    services.record_visit(actor=w["street"], elder=li, method="home", outcome="seen", task=task,
                          visited_at=generation.day_start(next_m) + datetime.timedelta(days=1, hours=10))
    frozen_clock.move_to(generation.day_start(next_m) + datetime.timedelta(days=3))
    return {**w, "month": m, "li": li, "zhang": zhang, "chen": chen, "liu": liu}


def figures(row):
    return (row.due, row.done, row.on_time, row.overdue, row.rate)


def test_coverage_per_community_street_and_county(month_done):
    w = month_done
    cov = selectors.coverage(w["bureau"], month=w["month"])
    by_code = {r.code: r for r in cov["communities"]}
    assert figures(by_code["511903001002"]) == (3, 2, 1, 1, 2 / 3)
    assert figures(by_code["511903001001"]) == (1, 1, 1, 0, 1.0)
    assert figures(by_code["511903002001"]) == (1, 0, 0, 1, 0.0)
    streets = {r.code: r for r in cov["streets"]}
    assert figures(streets["511903001"]) == (4, 3, 2, 1, 0.75)
    assert figures(cov["total"]) == (5, 3, 2, 2, 0.6)
    # The street sees its own part only; the community its own.
    assert figures(selectors.coverage(w["street"], month=w["month"])["total"]) == (4, 3, 2, 1, 0.75)
    assert figures(selectors.coverage(w["community"], month=w["month"])["total"]) == (3, 2, 1, 1, 2 / 3)
    assert selectors.coverage(w["visitor"], month=w["month"])["communities"] == []


def test_the_people_not_seen(month_done):
    w = month_done
    names = [t.elder.name for t in selectors.not_seen_for(w["bureau"], month=w["month"])]
    assert sorted(names) == ["刘秀英", "张玉珍"]
    assert [t.elder.name for t in selectors.not_seen_for(w["street"], month=w["month"])] == ["张玉珍"]


def test_coverage_by_tier(world):
    m = rules.add_months(this_month(), 1)
    from yiyang.registry import services as registry

    person = make_elder(world["bureau"], living_situation="with_children", birth=datetime.date(1950, 1, 1), seq=2)
    registry.add_category(actor=world["bureau"], elder=person, kind="destitute",
                          start_date=m - datetime.timedelta(days=60))
    services.generate_month(month=m, now=generation.day_start(m))
    rows = selectors.coverage(world["community"], month=m, by_tier=True)["communities"]
    # 王秀英 (80+, alone): one monthly visit; the 特困 person living with children: four weekly ones.
    assert [(r.tier, r.due) for r in rows] == [("high", 4), ("key", 1)]


def test_simulation_counts_people_and_visits_and_adoption_needs_everyone_covered(world):
    county = Region.objects.get(code="511903")
    m = rules.add_months(this_month(), 1)
    make_elder(world["bureau"], living_situation="empty_nest", birth=datetime.date(1950, 1, 1), seq=2)
    make_elder(world["bureau"], living_situation="left_behind", birth=datetime.date(1955, 1, 1), seq=3)
    # A draft without the 重点 tier: the 空巢 and 留守 people are covered and fall in no tier.
    raw = copy.deepcopy(MODEL_TIERS)
    raw["tiers"] = [t for t in raw["tiers"] if t["code"] != "key"]
    draft = services.draft_rule_set(actor=world["bureau"], jurisdiction=county, params=raw, valid_from=m)
    sim = services.simulate_rule_set(rule_set=draft, month=m)
    # 王秀英 (alone, 86, no level): general under the draft; key under the rule in force.
    assert [(t.code, t.people) for t in sim["proposed"].tiers] == [("high", 0), ("general", 1)]
    assert sim["proposed"].covered_untiered == 2
    assert [(t.code, t.people, t.visits_per_month) for t in sim["current"].tiers] == [
        ("high", 0, 0.0), ("key", 3, 3.0), ("general", 0, 0.0)]
    with pytest.raises(ValidationError) as e:
        services.adopt_rule_set(actor=world["bureau"], rule_set=draft)
    assert "有 2 名应访老人不属于任何巡访等级" in str(e.value)
    draft.refresh_from_db()
    assert draft.status == RuleStatus.DRAFT


def test_adopting_a_new_version_closes_the_old_one_the_month_before(world):
    county = Region.objects.get(code="511903")
    m = rules.add_months(this_month(), 2)
    draft = services.draft_rule_set(actor=world["bureau"], jurisdiction=county, params=copy.deepcopy(MODEL_TIERS),
                                    valid_from=m)
    draft = services.adopt_rule_set(actor=world["bureau"], rule_set=draft)
    world["rule_set"].refresh_from_db()
    assert world["rule_set"].valid_until == rules.add_months(m, -1)
    assert [r.pk for r in generation.rule_sets_in_force(m)] == [draft.pk]
    assert [r.pk for r in generation.rule_sets_in_force(this_month())] == [world["rule_set"].pk]
    assert draft.version == 2 and timezone.now() >= draft.adopted_at
    # Only the bureau drafts rules.
    from yiyang.core.errors import DomainError

    with pytest.raises(DomainError):
        services.draft_rule_set(actor=world["street"], jurisdiction=county, params=copy.deepcopy(MODEL_TIERS),
                                valid_from=m)
