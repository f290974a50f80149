"""Tests of the pure-Python assessment scorer. No database, no Django.

Every expected total below was added up by hand from the item scores written next to it.
"""

import itertools
import json
from importlib import resources

import pytest

from yiyang.assessment import scoring
from yiyang.assessment.scoring import (
    GBT_42195_2022,
    MZT_039_2013,
    Adjustment,
    ScoringError,
    get_template,
    normalize_icd10,
    partial_subtotals,
    score,
)

GB = GBT_42195_2022
MZ = MZT_039_2013

# Every GB/T 42195-2022 item at its maximum: 32 + 15 + 28 + 15 = 90.
FULL = {
    # B.1 自理能力: 8 × 4 = 32
    "B.1.1": 4,
    "B.1.2": 4,
    "B.1.3": 4,
    "B.1.4": 4,
    "B.1.5": 4,
    "B.1.6": 4,
    "B.1.7": 4,
    "B.1.8": 4,
    # B.2 基础运动能力: 4 + 4 + 4 + 3 = 15
    "B.2.1": 4,
    "B.2.2": 4,
    "B.2.3": 4,
    "B.2.4": 3,
    # B.3 精神状态: 6 × 4 + 1 + 1 + 2 = 28
    "B.3.1": 4,
    "B.3.2": 4,
    "B.3.3": 4,
    "B.3.4": 4,
    "B.3.5": 4,
    "B.3.6": 4,
    "B.3.7": 1,
    "B.3.8": 1,
    "B.3.9": 2,
    # B.4 感知觉与社会参与: 2 + 2 + 4 + 3 + 4 = 15
    "B.4.1": 2,
    "B.4.2": 2,
    "B.4.3": 4,
    "B.4.4": 3,
    "B.4.5": 4,
}
ZERO = dict.fromkeys(FULL, 0)

# A mixed, realistic record written out in full.
# B.1: 4+4+3+4+3+4+3+4 = 29; B.2: 4+3+3+2 = 12; B.3: 3+4+4+3+4+4+1+0+2 = 25; B.4: 1+1+3+2+3 = 10
# total 29 + 12 + 25 + 10 = 76 → level 1 轻度失能
MILD = {
    "B.1.1": 4,
    "B.1.2": 4,
    "B.1.3": 3,
    "B.1.4": 4,
    "B.1.5": 3,
    "B.1.6": 4,
    "B.1.7": 3,
    "B.1.8": 4,
    "B.2.1": 4,
    "B.2.2": 3,
    "B.2.3": 3,
    "B.2.4": 2,
    "B.3.1": 3,
    "B.3.2": 4,
    "B.3.3": 4,
    "B.3.4": 3,
    "B.3.5": 4,
    "B.3.6": 4,
    "B.3.7": 1,
    "B.3.8": 0,
    "B.3.9": 2,
    "B.4.1": 1,
    "B.4.2": 1,
    "B.4.3": 3,
    "B.4.4": 2,
    "B.4.5": 3,
}

# Level 3 重度失能, total 40: B.3 full (28) + B.4.3 = 4, B.4.4 = 3, B.4.5 = 4, B.4.1 = 1 (12) = 40.
SEVERE_40 = {**ZERO, **{k: FULL[k] for k in FULL if k.startswith("B.3.")}, "B.4.1": 1, "B.4.3": 4, "B.4.4": 3}
SEVERE_40["B.4.5"] = 4

# Level 4 完全失能, total 20: B.3.1–B.3.5 at 4 = 20, everything else 0 (B.3.9 = 0 too).
COMPLETE_20 = {**ZERO, "B.3.1": 4, "B.3.2": 4, "B.3.3": 4, "B.3.4": 4, "B.3.5": 4}


def rules(result):
    return [(a.rule, a.from_level, a.to_level) for a in result.adjustments]


# --------------------------------------------------------------------------------------------------
# The template as data
# --------------------------------------------------------------------------------------------------


def test_gb_template_shape():
    t = get_template(GB)
    assert t.code == "GB/T 42195-2022"
    assert t.version
    assert len(t.items) == 26
    assert t.max_total == 90
    assert [ind.code for ind in t.indicators] == ["B.1", "B.2", "B.3", "B.4"]
    assert [ind.name_zh for ind in t.indicators] == [
        "自理能力",
        "基础运动能力",
        "精神状态",
        "感知觉与社会参与",
    ]
    assert [ind.max_subtotal for ind in t.indicators] == [32, 15, 28, 15]
    assert [len(ind.items) for ind in t.indicators] == [8, 4, 9, 5]
    assert all(ind.min_subtotal == 0 for ind in t.indicators)


def test_gb_item_ranges_and_names():
    t = get_template(GB)
    assert {item.code: item.max_score for item in t.items} == FULL
    assert all(item.scores == tuple(range(item.max_score + 1)) for item in t.items)
    names = [item.name_zh for item in t.items]
    assert names[:8] == [
        "进食",
        "修饰",
        "洗澡",
        "穿/脱上衣",
        "穿/脱裤子和鞋袜",
        "小便控制",
        "大便控制",
        "如厕",
    ]
    assert names[8:12] == ["床上体位转移", "床椅转移", "平地行走", "上下楼梯"]
    assert names[12:21] == [
        "时间定向",
        "空间定向",
        "人物定向",
        "记忆",
        "理解能力",
        "表达能力",
        "攻击行为",
        "抑郁症状",
        "意识水平",
    ]
    assert names[21:] == ["视力", "听力", "执行日常事务", "使用交通工具外出", "社会交往能力"]
    for item in t.items:
        assert item.name_en
        assert all(o.text_zh and o.text_en for o in item.options)


def test_gb_higher_score_is_more_able():
    t = get_template(GB)
    assert "独立" in t.item("B.1.2").option(4).text_zh
    assert "完全依赖" in t.item("B.1.2").option(0).text_zh
    consciousness = t.item("B.3.9")
    assert "清醒" in consciousness.option(2).text_zh
    assert "嗜睡" in consciousness.option(1).text_zh
    assert "昏睡" in consciousness.option(0).text_zh and "昏迷" in consciousness.option(0).text_zh
    assert "未出现" in t.item("B.3.7").option(1).text_zh or "没有" in t.item("B.3.7").option(1).text_zh


def test_gb_levels_and_annex_a_data():
    t = get_template(GB)
    assert [(lv.level, lv.name_zh, lv.min_total, lv.max_total) for lv in t.levels] == [
        (0, "能力完好", 90, 90),
        (1, "轻度失能", 66, 89),
        (2, "中度失能", 46, 65),
        (3, "重度失能", 30, 45),
        (4, "完全失能", 0, 29),
    ]
    assert t.level(4).name_en == "Complete disability"
    assert [k.code for k in t.risk_event_kinds] == ["fall", "wandering", "choking", "self_harm", "other"]
    assert all(k.counts_toward_rule for k in t.risk_event_kinds)
    assert [(c.count, c.text_zh) for c in t.risk_event_count_options] == [
        (0, "无"),
        (1, "发生过1次"),
        (2, "发生过2次"),
        (3, "发生过3次及以上"),
    ]
    assert [(r.first, r.last) for r in t.diagnosis_ranges] == [("F00", "F03"), ("F04", "F99")]
    assert t.coma_level == 4 and t.coma_item == "B.3.9"


def test_available_templates():
    assert scoring.available_templates() == (GB, MZ)


@pytest.mark.parametrize("name", ["gbt_42195_2022.json", "mz_t_039_2013.json"])
def test_json_files_are_utf8_pretty_and_unescaped(name):
    text = resources.files("yiyang.assessment.templates_data").joinpath(name).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
    assert "\\u" not in text
    assert "老年人能力评估" in text


# --------------------------------------------------------------------------------------------------
# Totals and the preliminary level at every boundary
# --------------------------------------------------------------------------------------------------

BOUNDARIES = [
    # (items, hand-computed subtotals B.1/B.2/B.3/B.4, total, level)
    pytest.param(FULL, [32, 15, 28, 15], 90, 0, id="90"),
    # 90 − 1 (意识水平 2 → 1)
    pytest.param({**FULL, "B.3.9": 1}, [32, 15, 27, 15], 89, 1, id="89"),
    # 90 − 24 (B.1.1–B.1.6 from 4 to 0)
    pytest.param(
        {**FULL, "B.1.1": 0, "B.1.2": 0, "B.1.3": 0, "B.1.4": 0, "B.1.5": 0, "B.1.6": 0},
        [8, 15, 28, 15],
        66,
        1,
        id="66",
    ),
    # the 66 record with B.1.7 from 4 to 3
    pytest.param(
        {**FULL, "B.1.1": 0, "B.1.2": 0, "B.1.3": 0, "B.1.4": 0, "B.1.5": 0, "B.1.6": 0, "B.1.7": 3},
        [7, 15, 28, 15],
        65,
        2,
        id="65",
    ),
    # B.3 full 28 + B.4 full 15 + 床上体位转移 3 = 46
    pytest.param(
        {**ZERO, **{k: v for k, v in FULL.items() if k[:3] in ("B.3", "B.4")}, "B.2.1": 3},
        [0, 3, 28, 15],
        46,
        2,
        id="46",
    ),
    # B.3 full 28 + B.4 full 15 + 床上体位转移 2 = 45
    pytest.param(
        {**ZERO, **{k: v for k, v in FULL.items() if k[:3] in ("B.3", "B.4")}, "B.2.1": 2},
        [0, 2, 28, 15],
        45,
        3,
        id="45",
    ),
    # B.1 eight items at 3 = 24, 上下楼梯 3, 意识水平 2, 攻击行为 1 → 24 + 3 + 3 = 30
    pytest.param(
        {
            **ZERO,
            **{f"B.1.{n}": 3 for n in range(1, 9)},
            "B.2.4": 3,
            "B.3.9": 2,
            "B.3.7": 1,
        },
        [24, 3, 3, 0],
        30,
        3,
        id="30",
    ),
    # the 30 record without 攻击行为 → 29
    pytest.param(
        {**ZERO, **{f"B.1.{n}": 3 for n in range(1, 9)}, "B.2.4": 3, "B.3.9": 2},
        [24, 3, 2, 0],
        29,
        4,
        id="29",
    ),
    pytest.param(ZERO, [0, 0, 0, 0], 0, 4, id="0"),
    pytest.param(MILD, [29, 12, 25, 10], 76, 1, id="mixed-76"),
    pytest.param(SEVERE_40, [0, 0, 28, 12], 40, 3, id="40"),
    pytest.param(COMPLETE_20, [0, 0, 20, 0], 20, 4, id="20"),
]


@pytest.mark.parametrize(("items", "subtotals", "total", "level"), BOUNDARIES)
def test_totals_and_preliminary_level(items, subtotals, total, level):
    result = score(GB, items)
    assert list(result.subtotals) == ["B.1", "B.2", "B.3", "B.4"]
    assert list(result.subtotals.values()) == subtotals
    assert result.total == total
    assert result.preliminary_level == level
    assert result.final_level == level
    assert result.adjustments == ()
    assert result.indicator_grades == {}


def test_level_names_on_the_result():
    result = score(GB, MILD)
    assert result.preliminary_level_name_zh == "轻度失能"
    assert result.final_level_name_en == "Mild disability"
    assert result.template_version == get_template(GB).version


@pytest.mark.parametrize(
    ("total", "level"),
    [(90, 0), (89, 1), (66, 1), (65, 2), (46, 2), (45, 3), (30, 3), (29, 4), (0, 4)],
)
def test_level_table(total, level):
    assert get_template(GB).level_for_total(total) == level


# --------------------------------------------------------------------------------------------------
# Adjustments
# --------------------------------------------------------------------------------------------------


def test_diagnosis_alone_raises_one_level():
    result = score(GB, MILD, diagnoses=["F01.1"])
    assert result.preliminary_level == 1
    assert result.final_level == 2
    assert rules(result) == [("dementia_or_mental_disorder", 1, 2)]
    assert "F01.1" in result.adjustments[0].description_zh
    assert result.changed_by == ("dementia_or_mental_disorder",)


def test_level_0_with_one_step_becomes_1():
    result = score(GB, FULL, diagnoses=["F32.1"])
    assert (result.preliminary_level, result.final_level) == (0, 1)


def test_several_mental_diagnoses_still_one_step():
    result = score(GB, MILD, diagnoses=["F03", "F20.0", "F32"], stack_adjustments=True)
    assert result.final_level == 2
    assert rules(result) == [("dementia_or_mental_disorder", 1, 2)]


@pytest.mark.parametrize(
    ("events", "count", "final"),
    [
        ({}, 0, 1),
        ({"fall": 1}, 1, 1),
        ({"fall": 2}, 2, 2),
        ({"fall": 1, "choking": 1}, 2, 2),
        ({"wandering": 1, "self_harm": 1}, 2, 2),
        ({"fall": 3}, 3, 2),
        ({"other": 2}, 2, 2),
        ({"fall": 1, "other": 1}, 2, 2),
        ({"fall": 0, "choking": 0, "other": 1}, 1, 1),
    ],
)
def test_risk_events(events, count, final):
    result = score(GB, MILD, risk_events_30d=events)
    assert result.risk_event_count == count
    assert result.preliminary_level == 1
    assert result.final_level == final
    if final == 2:
        assert rules(result) == [("risk_events", 1, 2)]
    else:
        assert result.adjustments == ()


def test_both_rules_do_not_stack_by_default():
    result = score(GB, MILD, diagnoses=["F03"], risk_events_30d={"fall": 2})
    assert result.final_level == 2
    assert rules(result) == [("dementia_or_mental_disorder", 1, 2), ("risk_events", 2, 2)]
    assert "不叠加" in result.adjustments[1].description_zh
    assert result.changed_by == ("dementia_or_mental_disorder",)
    assert result.stack_adjustments is False


def test_both_rules_stack_when_the_jurisdiction_says_so():
    result = score(GB, MILD, diagnoses=["F03"], risk_events_30d={"fall": 2}, stack_adjustments=True)
    assert result.final_level == 3
    assert rules(result) == [("dementia_or_mental_disorder", 1, 2), ("risk_events", 2, 3)]


def test_risk_events_alone_under_stacking_is_still_one_step():
    result = score(GB, MILD, risk_events_30d={"fall": 5}, stack_adjustments=True)
    assert result.final_level == 2


def test_cap_at_complete_disability_single_rule():
    result = score(GB, COMPLETE_20, diagnoses=["F00.1"])
    assert result.preliminary_level == 4
    assert result.final_level == 4
    assert rules(result) == [("dementia_or_mental_disorder", 4, 4), ("cap", 4, 4)]
    assert "完全失能" in result.adjustments[-1].description_zh


def test_cap_when_stacking_goes_past_the_top():
    result = score(GB, SEVERE_40, diagnoses=["F02.3"], risk_events_30d={"choking": 2}, stack_adjustments=True)
    assert result.preliminary_level == 3
    assert result.final_level == 4
    assert rules(result) == [
        ("dementia_or_mental_disorder", 3, 4),
        ("risk_events", 4, 4),
        ("cap", 4, 4),
    ]


def test_no_cap_when_not_stacking_from_level_3():
    result = score(GB, SEVERE_40, diagnoses=["F02.3"], risk_events_30d={"choking": 2})
    assert result.final_level == 4
    assert rules(result) == [("dementia_or_mental_disorder", 3, 4), ("risk_events", 4, 4)]


@pytest.mark.parametrize("stack", [False, True])
def test_cap_with_both_rules_at_the_top(stack):
    result = score(GB, COMPLETE_20, diagnoses=["F03"], risk_events_30d={"fall": 2}, stack_adjustments=stack)
    assert result.final_level == 4
    assert result.adjustments[-1].rule == "cap"
    assert all(a.to_level == 4 for a in result.adjustments)


def test_coma_overrides_everything():
    # FULL with 意识水平 0: 90 − 2 = 88 → level 1, but coma → 4 directly.
    items = {**FULL, "B.3.9": 0}
    everything = {"diagnoses": ["F03"], "risk_events_30d": {"fall": 3}, "stack_adjustments": True}
    result = score(GB, items, coma=True, **everything)
    assert result.total == 88
    assert result.preliminary_level == 1
    assert result.final_level == 4
    assert rules(result) == [("coma", 1, 4)]
    assert result.coma is True


def test_coma_already_at_the_top_is_recorded():
    result = score(GB, COMPLETE_20, coma=True)
    assert rules(result) == [("coma", 4, 4)]


def test_consciousness_zero_alone_is_not_coma():
    # 0 on B.3.9 covers 昏睡 as well as 昏迷; without the coma record the total decides.
    result = score(GB, {**FULL, "B.3.9": 0})
    assert result.coma is False
    assert (result.total, result.final_level) == (88, 1)


def test_coma_contradicting_consciousness_is_rejected():
    with pytest.raises(ScoringError) as exc:
        score(GB, FULL, coma=True)
    assert [(e.field, e.code) for e in exc.value.errors] == [("coma", "coma_conflict")]


def test_result_as_dict_is_json_ready():
    result = score(GB, MILD, diagnoses=[" f03 "], risk_events_30d={"fall": 2})
    data = json.loads(json.dumps(result.as_dict(), ensure_ascii=False))
    assert data["total"] == 76
    assert data["final_level"] == 2
    assert data["diagnoses"] == ["F03"]
    assert data["adjustments"][0]["rule"] == "dementia_or_mental_disorder"
    assert Adjustment(**data["adjustments"][0]) == result.adjustments[0]


# --------------------------------------------------------------------------------------------------
# ICD-10
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("F01.1", "F01.1"),
        ("f03", "F03"),
        (" F20.0 ", "F20.0"),
        ("\tf32.9\n", "F32.9"),
        ("Ｆ０３", "F03"),
        ("F03.X00X001", "F03.x00x001"),
        ("F00.9*", "F00.9*"),
        ("G30.9†", "G30.9†"),
        ("I63.900", "I63.900"),
    ],
)
def test_normalize_icd10(raw, normalised):
    assert normalize_icd10(raw) == normalised


@pytest.mark.parametrize(
    "raw", ["", " ", "F", "F3", "F0A", "03", "F03.", "FF03", "F 03", "F03.12345", "F03-F04", "痴呆", None, 3]
)
def test_normalize_icd10_rejects(raw):
    assert normalize_icd10(raw) is None


@pytest.mark.parametrize(
    ("diagnoses", "raised"),
    [
        (["F00"], True),
        (["F03.x00x001"], True),
        (["F04"], True),
        (["F99"], True),
        (["f10.2"], True),
        (["G30"], False),  # Alzheimer's without its F00 code: the rule names F codes only
        (["G30.9†", "F00.9*"], True),
        (["E11.9", "I10"], False),
        ([], False),
    ],
)
def test_which_diagnoses_count(diagnoses, raised):
    result = score(GB, MILD, diagnoses=diagnoses)
    assert result.final_level == (2 if raised else 1)


def test_diagnoses_are_normalised_and_deduplicated():
    result = score(GB, MILD, diagnoses=["f03", " F03 ", "E11"])
    assert result.diagnoses == ("F03", "E11")


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def errors_of(**kwargs):
    template = kwargs.pop("template", GB)
    items = kwargs.pop("items", FULL)
    with pytest.raises(ScoringError) as exc:
        score(template, items, **kwargs)
    return [(e.field, e.code) for e in exc.value.errors], exc.value


def test_scoring_error_is_a_value_error_with_bilingual_messages():
    found, exc = errors_of(items={**FULL, "B.1.1": 5})
    assert isinstance(exc, ValueError)
    assert found == [("items.B.1.1", "out_of_range")]
    error = exc.errors[0]
    assert "进食" in error.message_zh and "Eating" in error.message_en
    assert exc.as_dicts()[0]["code"] == "out_of_range"
    assert "items.B.1.1" in str(exc)


def test_unknown_template():
    found, _ = errors_of(template="GB/T 99999-2099")
    assert found == [("template_code", "unknown_template")]
    with pytest.raises(ScoringError):
        get_template("MZ/T 001-2000")


@pytest.mark.parametrize(("value", "code"), [(5, "out_of_range"), (-1, "out_of_range")])
def test_out_of_range(value, code):
    assert errors_of(items={**FULL, "B.3.9": value})[0] == [("items.B.3.9", code)]


def test_stairs_max_is_3():
    assert errors_of(items={**FULL, "B.2.4": 4})[0] == [("items.B.2.4", "out_of_range")]


@pytest.mark.parametrize("value", [True, False, 3.0, "3", [3]])
def test_not_integer(value):
    assert errors_of(items={**FULL, "B.1.1": value})[0] == [("items.B.1.1", "not_integer")]


def test_unknown_item():
    assert errors_of(items={**FULL, "B.5.1": 1})[0] == [("items.B.5.1", "unknown_item")]


def test_missing_items():
    items = {k: v for k, v in FULL.items() if k not in ("B.1.1", "B.4.5")}
    assert errors_of(items=items)[0] == [("items.B.1.1", "missing_item"), ("items.B.4.5", "missing_item")]
    assert errors_of(items={**FULL, "B.2.2": None})[0] == [("items.B.2.2", "missing_item")]


def test_items_must_be_a_mapping():
    assert errors_of(items=[4] * 26)[0] == [("items", "invalid_type")]


def test_invalid_icd10():
    found, _ = errors_of(diagnoses=["F03", "F3", 7])
    assert found == [("diagnoses.1", "invalid_icd10"), ("diagnoses.2", "invalid_icd10")]


def test_diagnoses_must_be_a_list():
    assert errors_of(diagnoses="F03")[0] == [("diagnoses", "invalid_type")]


def test_risk_event_errors():
    found, _ = errors_of(risk_events_30d={"fall": -1, "flood": 1, "choking": True, "wandering": 1.5})
    assert found == [
        ("risk_events_30d.fall", "negative_count"),
        ("risk_events_30d.flood", "unknown_risk_event"),
        ("risk_events_30d.choking", "not_integer"),
        ("risk_events_30d.wandering", "not_integer"),
    ]
    assert errors_of(risk_events_30d=[("fall", 2)])[0] == [("risk_events_30d", "invalid_type")]


def test_flags_must_be_booleans():
    found, _ = errors_of(coma="no", stack_adjustments=1)
    assert found == [("coma", "invalid_type"), ("stack_adjustments", "invalid_type")]


def test_all_errors_are_reported_at_once():
    items = {k: v for k, v in FULL.items() if k != "B.1.2"}
    items.update({"B.1.1": 9, "B.9.9": 0})
    found, _ = errors_of(items=items, diagnoses=["x"], risk_events_30d={"fall": -2})
    assert {code for _, code in found} == {
        "out_of_range",
        "missing_item",
        "unknown_item",
        "invalid_icd10",
        "negative_count",
    }


# --------------------------------------------------------------------------------------------------
# Partial subtotals for a form being filled in
# --------------------------------------------------------------------------------------------------


def test_partial_subtotals_empty():
    partial = partial_subtotals(GB, {})
    assert partial.subtotals == {"B.1": 0, "B.2": 0, "B.3": 0, "B.4": 0}
    assert partial.total == 0
    assert partial.answered == 0
    assert len(partial.missing) == 26
    assert partial.missing[0] == "B.1.1" and partial.missing[-1] == "B.4.5"
    assert not partial.complete


def test_partial_subtotals_some_filled():
    # B.1: 4 + 3 = 7; B.2: 2; B.3: 0 (B.3.1 is None = not yet filled); B.4: 1 → total 10
    partial = partial_subtotals(GB, {"B.1.1": 4, "B.1.2": 3, "B.2.4": 2, "B.3.1": None, "B.4.1": 1})
    assert partial.subtotals == {"B.1": 7, "B.2": 2, "B.3": 0, "B.4": 1}
    assert partial.total == 10
    assert partial.answered == 4
    assert "B.3.1" in partial.missing and "B.1.1" not in partial.missing
    assert len(partial.missing) == 22


def test_partial_subtotals_complete():
    partial = partial_subtotals(GB, MILD)
    assert partial.complete
    assert partial.total == 76


def test_partial_subtotals_still_validates_what_is_filled():
    with pytest.raises(ScoringError) as exc:
        partial_subtotals(GB, {"B.1.1": 7, "X": 1, "B.1.2": False})
    assert [(e.field, e.code) for e in exc.value.errors] == [
        ("items.B.1.1", "out_of_range"),
        ("items.B.1.2", "not_integer"),
        ("items.X", "unknown_item"),
    ]


# --------------------------------------------------------------------------------------------------
# Legacy MZ/T 039-2013
# --------------------------------------------------------------------------------------------------

# Barthel items at their maximum: 10+5+5+10+10+10+10+15+15+10 = 100. Other indicators: 0 is best.
MZ_BEST = {
    "B.1.1": 10,
    "B.1.2": 5,
    "B.1.3": 5,
    "B.1.4": 10,
    "B.1.5": 10,
    "B.1.6": 10,
    "B.1.7": 10,
    "B.1.8": 15,
    "B.1.9": 15,
    "B.1.10": 10,
    "B.2.1": 0,
    "B.2.2": 0,
    "B.2.3": 0,
    "B.3.1": 0,
    "B.3.2": 0,
    "B.3.3": 0,
    "B.3.4": 0,
    "B.4.1": 0,
    "B.4.2": 0,
    "B.4.3": 0,
    "B.4.4": 0,
    "B.4.5": 0,
}


def test_legacy_template_shape():
    t = get_template(MZ)
    assert t.legacy
    assert len(t.items) == 22
    assert [ind.max_subtotal for ind in t.indicators] == [100, 6, 14, 20]
    assert [lv.name_zh for lv in t.levels] == ["能力完好", "轻度失能", "中度失能", "重度失能"]
    assert t.coma_level == 3
    assert not t.risk_event_kind("other").counts_toward_rule


def test_legacy_intact():
    result = score(MZ, MZ_BEST)
    assert result.subtotals == {"B.1": 100, "B.2": 0, "B.3": 0, "B.4": 0}
    assert result.total is None
    assert result.indicator_grades == {"B.1": 0, "B.2": 0, "B.3": 0, "B.4": 0}
    assert (result.preliminary_level, result.final_level) == (0, 0)


def test_legacy_mild():
    items = {
        **MZ_BEST,
        # ADL 10+0+5+5+10+5+5+10+10+5 = 65 → grade 1
        "B.1.2": 0,
        "B.1.4": 5,
        "B.1.6": 5,
        "B.1.7": 5,
        "B.1.8": 10,
        "B.1.9": 10,
        "B.1.10": 5,
        # mental 1 + 0 + 1 = 2 → grade 2
        "B.2.1": 1,
        "B.2.3": 1,
        # sensory: alert, vision 2, hearing 1, communication 1 → grade 1
        "B.3.2": 2,
        "B.3.3": 1,
        "B.3.4": 1,
        # social 2+2+1+1+1 = 7 → grade 1
        "B.4.1": 2,
        "B.4.2": 2,
        "B.4.3": 1,
        "B.4.4": 1,
        "B.4.5": 1,
    }
    result = score(MZ, items)
    assert result.subtotals == {"B.1": 65, "B.2": 2, "B.3": 4, "B.4": 7}
    assert result.indicator_grades == {"B.1": 1, "B.2": 2, "B.3": 1, "B.4": 1}
    # ADL 1 and at least one other indicator at 0 or 1 → 轻度失能
    assert result.preliminary_level == 1
    assert result.preliminary_level_name_zh == "轻度失能"


def test_legacy_moderate_then_raised_by_risk_events():
    items = {
        **MZ_BEST,
        "B.1.10": 0,  # ADL 100 − 10 = 90 → grade 1
        "B.2.1": 2,  # mental 2 → grade 2
        "B.3.1": 1,  # drowsy → sensory grade 2
        "B.4.1": 2,  # social 2+2+2+1+1 = 8 → grade 2
        "B.4.2": 2,
        "B.4.3": 2,
        "B.4.4": 1,
        "B.4.5": 1,
    }
    result = score(MZ, items, risk_events_30d={"fall": 1, "wandering": 1})
    assert result.indicator_grades == {"B.1": 1, "B.2": 2, "B.3": 2, "B.4": 2}
    # ADL 1 with the other three all at 2 → 中度失能, then two events → 重度失能
    assert (result.preliminary_level, result.final_level) == (2, 3)
    assert rules(result) == [("risk_events", 2, 3)]


def test_legacy_other_events_do_not_count():
    result = score(MZ, MZ_BEST, risk_events_30d={"other": 3})
    assert result.risk_event_count == 0
    assert result.final_level == 0


def test_legacy_coma_score_implies_coma():
    result = score(MZ, {**MZ_BEST, "B.3.1": 3})
    assert result.indicator_grades["B.3"] == 3
    assert result.preliminary_level == 1  # ADL 0 with sensory 3 → 轻度失能
    assert result.coma is True
    assert rules(result) == [("coma", 1, 3)]


def test_legacy_coma_conflict_and_invalid_option():
    with pytest.raises(ScoringError) as exc:
        score(MZ, {**MZ_BEST, "B.1.1": 7, "B.3.1": 2}, coma=True)
    assert [(e.field, e.code) for e in exc.value.errors] == [
        ("items.B.1.1", "invalid_option"),
        ("coma", "coma_conflict"),
    ]


def test_legacy_cap_at_severe():
    adl_40 = {**MZ_BEST, "B.1.1": 0, "B.1.4": 0, "B.1.5": 0, "B.1.6": 0, "B.1.7": 0, "B.1.8": 5, "B.1.9": 5}
    # ADL 0+5+5+0+0+0+0+5+5+10 = 30 → grade 3 → 重度失能 whatever else
    result = score(MZ, adl_40, diagnoses=["F03"])
    assert result.subtotals["B.1"] == 30
    assert result.preliminary_level == 3
    assert rules(result) == [("dementia_or_mental_disorder", 3, 3), ("cap", 3, 3)]


@pytest.mark.parametrize(
    ("grades", "level"),
    [
        ((0, 0, 0, 0), 0),
        ((0, 0, 0, 1), 0),
        ((0, 0, 0, 2), 1),
        ((0, 0, 0, 3), 1),  # not in the text; read as "social participation 2 or worse"
        ((0, 1, 0, 0), 1),
        ((0, 3, 3, 3), 1),
        ((1, 0, 0, 0), 1),
        ((1, 1, 2, 2), 1),
        ((1, 2, 2, 2), 2),
        ((1, 0, 3, 0), 2),  # matches a mild and a moderate clause: the more severe wins
        ((2, 0, 0, 0), 2),  # not in the text: ADL 2 alone is moderate
        ((2, 1, 2, 0), 2),
        ((2, 1, 1, 1), 2),  # not in the text: three impaired but not all at 2
        ((2, 2, 2, 2), 3),
        ((2, 0, 0, 3), 3),
        ((3, 0, 0, 0), 3),
    ],
)
def test_legacy_combination_rule(grades, level):
    assert scoring._mzt_combined_level(*grades) == level


def test_legacy_combination_rule_is_total_and_monotone():
    table = {g: scoring._mzt_combined_level(*g) for g in itertools.product(range(4), repeat=4)}
    assert set(table.values()) == {0, 1, 2, 3}
    for grades, level in table.items():
        for i in range(4):
            if grades[i] < 3:
                worse = grades[:i] + (grades[i] + 1,) + grades[i + 1 :]
                assert table[worse] >= level, (grades, worse)
