"""Tier rules as data: validation messages and tier placement at the boundaries, computed by hand."""

import copy
import datetime

import pytest
from django.core.exceptions import ValidationError

from yiyang.visits import rules
from yiyang.visits.defaults import MODEL_TIERS

PARAMS = rules.parse(copy.deepcopy(MODEL_TIERS))


def tier(**facts):
    t = PARAMS.tier_for(rules.Facts(**facts))
    return t.code if t else None


@pytest.mark.parametrize("facts, expected", [
    # 独居 + 失能 (level 2 and above): weekly.
    ({"age": 72, "living": "alone", "level": 2}, "high"),
    ({"age": 72, "living": "alone", "level": 1}, "general"),   # alone, able enough, under 80: quarterly
    ({"age": 80, "living": "alone", "level": 1}, "key"),       # 80+ 独居: monthly
    ({"age": 79, "living": "alone"}, "general"),
    # 特困 分散供养 (not in a home): weekly; in a home: no home visits at all.
    ({"age": 66, "living": "with_children", "categories": frozenset({"destitute"})}, "high"),
    ({"age": 66, "living": "institution", "categories": frozenset({"destitute"})}, None),
    ({"age": 70, "living": "empty_nest"}, "key"),
    ({"age": 70, "living": "left_behind"}, "key"),
    ({"age": 70, "living": "with_children", "categories": frozenset({"severe_disability"})}, "key"),
    ({"age": 80, "living": "with_children"}, "general"),
    ({"age": 79, "living": "with_children"}, None),
    ({"age": 85, "living": "institution"}, None),
    ({"age": 65, "living": "", "categories": frozenset({"subsistence"})}, "general"),
])
def test_tier_placement(facts, expected):
    assert tier(**facts) == expected


def test_age_on_birthday_counts_that_day():
    assert rules.age_on(datetime.date(1946, 12, 1), datetime.date(2026, 12, 1)) == 80
    assert rules.age_on(datetime.date(1946, 12, 2), datetime.date(2026, 12, 1)) == 79


def test_weekly_windows_are_month_aligned():
    # December 2026: 1–7, 8–14, 15–21, 22–31 (the last window takes the rest of the month).
    got = rules.windows("week", datetime.date(2026, 12, 1))
    assert [(a.day, (b - datetime.timedelta(days=1)).day) for a, b in got] == [(1, 7), (8, 14), (15, 21), (22, 31)]
    assert rules.windows("quarter", datetime.date(2026, 11, 1)) == []
    assert rules.windows("quarter", datetime.date(2026, 10, 1)) == [(datetime.date(2026, 10, 1),
                                                                      datetime.date(2027, 1, 1))]
    assert rules.windows("month", datetime.date(2027, 2, 1)) == [(datetime.date(2027, 2, 1),
                                                                   datetime.date(2027, 3, 1))]


def messages(raw):
    with pytest.raises(ValidationError) as e:
        rules.parse(raw)
    return [m for ms in e.value.message_dict.values() for m in ms]


def test_overlapping_tier_is_refused_with_the_names():
    raw = copy.deepcopy(MODEL_TIERS)
    # A lower tier's clause that the high tier already takes everyone of: 独居 + level ≥ 3 ⊂ 独居 + level ≥ 2.
    raw["tiers"][2]["when"].append({"living": ["alone"], "min_level": 3})
    got = messages(raw)
    assert len(got) == 1 and "一般" in got[0] and "高风险" in got[0] and "完全覆盖" in got[0]


def test_same_rank_twice_and_duplicate_codes():
    raw = copy.deepcopy(MODEL_TIERS)
    raw["tiers"][1]["rank"] = 1
    raw["tiers"][2]["code"] = "high"
    got = messages(raw)
    assert any("优先级都是 1" in m for m in got) and any("high 重复" in m for m in got)


def test_bad_values_are_all_reported():
    raw = copy.deepcopy(MODEL_TIERS)
    raw["tiers"][0]["period"] = "daily"
    raw["tiers"][0]["methods"] = ["pigeon"]
    raw["tiers"][1]["when"] = [{"categories": ["rich"]}]
    raw["tiers"][2]["when"] = [{}]
    raw["escalate_after_hours"] = 0
    got = " | ".join(messages(raw))
    for expected in ("周期", "pigeon", "rich", "空条件", "逾期后上报小时数"):
        assert expected in got


def test_remote_counts_needs_a_remote_method():
    raw = copy.deepcopy(MODEL_TIERS)
    raw["tiers"][2]["methods"] = ["home"]
    assert any("电话/视频计入" in m for m in messages(raw))


def test_not_an_object():
    assert messages([]) == ["规则须为一个对象。"]
    assert messages({"tiers": []}) == ["至少需要一个巡访等级。"]


def test_round_trip():
    assert rules.parse(PARAMS.to_json()) == PARAMS
