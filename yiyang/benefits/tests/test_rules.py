"""Rule parameters: validation messages, description, versions."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.benefits import rules, services
from yiyang.benefits.models import RuleVersion
from yiyang.benefits.tests import factories as f
from yiyang.core.models import AuditEvent, Region
from yiyang.core.tests.factories import demo_roles


def errors_of(raw) -> dict:
    with pytest.raises(ValidationError) as info:
        rules.parse(raw)
    return info.value.message_dict


def test_demo_rules_parse_and_round_trip():
    for raw in (f.LONGEVITY, f.CARE, f.DESTITUTE):
        parsed = rules.parse(raw)
        assert rules.parse(parsed.to_json()) == parsed
    assert rules.parse(f.LONGEVITY).possible_amounts() == {Decimal("50"), Decimal("100"), Decimal("500")}


def test_bands_must_not_overlap_and_amounts_must_be_fen_exact():
    bad = {**f.LONGEVITY, "bands": [{"min_age": 80, "max_age": 90, "amount": "50"},
                                    {"min_age": 90, "max_age": None, "amount": "100.001"}]}
    errs = errors_of(bad)
    assert errs["bands"] == ["年龄档 80–90 与 90+ 重叠。"]
    assert errs["bands.1"] == ["金额最多精确到分（两位小数）。"]


@pytest.mark.parametrize("amount, message", [
    ("-1", "金额须在 0 至 100000 元之间。"), ("abc", "金额须为数字，如 100 或 100.50。"),
    ("NaN", "金额须在 0 至 100000 元之间。"), ("100001", "金额须在 0 至 100000 元之间。"),
])
def test_bad_amounts(amount, message):
    assert errors_of({"amount_kind": "fixed", "fixed_amount": amount})["fixed_amount"] == [message]


def test_ages_categories_levels_basis():
    errs = errors_of({"min_age": 80, "max_age": 70, "categories": ["rich"], "levels": [5], "basis": "moon",
                      "amount_kind": "fixed", "fixed_amount": "10"})
    assert errs["max_age"] == ["最高年龄不能小于最低年龄。"]
    assert errs["categories"] == ["未知的人员类别：rich"]
    assert errs["levels"] == ["能力等级须为 0 至 4 的整数。"]
    assert errs["basis"] == ["发放地须为居住地或户籍地。"]


def test_band_below_the_floor_and_empty_tables():
    errs = errors_of({**f.LONGEVITY, "min_age": 85})
    assert errs["bands"] == ["最低年龄档不能低于享受年龄。"]
    assert errors_of({"amount_kind": "level_table", "table": []})["table"] == ["至少需要一行标准。"]
    dup = {"amount_kind": "level_table", "table": [{"level": 2, "category": "", "amount": "1"},
                                                   {"level": 2, "category": "", "amount": "2"}]}
    assert errors_of(dup)["table.1"] == ["同一等级和类别只能有一个标准。"]


def test_describe_says_the_rule_in_sentences():
    text = rules.parse(f.LONGEVITY).describe()
    assert text[0] == "对象：每月 1 日 80 周岁及以上"
    assert "90–99 岁档：100.00 元/月" in text and "100+ 岁档：500.00 元/月" in text


def test_age_helpers():
    assert rules.born_by(datetime.date(2026, 11, 1), 80) == datetime.date(1946, 11, 1)
    assert rules.add_months(datetime.date(2026, 11, 1), 2) == datetime.date(2027, 1, 1)
    assert rules.add_months(datetime.date(2026, 1, 1), -1) == datetime.date(2025, 12, 1)
    assert rules.age_on(datetime.date(1936, 2, 29), datetime.date(2026, 2, 28)) == 89
    assert rules.age_on(datetime.date(1936, 2, 29), datetime.date(2026, 3, 1)) == 90


@pytest.mark.django_db
def test_adopting_a_version_closes_the_previous_one_and_is_audited():
    roles = demo_roles()
    prog = f.programme()
    region = Region.objects.get(code="511903")
    first = f.rule(prog, f.LONGEVITY)
    bands = [dict(b) for b in f.LONGEVITY["bands"]]
    bands[1]["amount"] = "150"
    this_month = timezone.localdate().replace(day=1)
    next_month, month_after = rules.add_months(this_month, 1), rules.add_months(this_month, 2)
    new = services.adopt_rule(actor=roles["bureau"], programme=prog, jurisdiction=region,
                              params={**f.LONGEVITY, "bands": bands}, valid_from=f"{next_month:%Y-%m}",
                              note="90–99 岁提至 150 元")
    first.refresh_from_db()
    assert (new.version, new.valid_from, new.status) == (2, next_month, "adopted")
    assert first.valid_until == this_month
    assert AuditEvent.objects.filter(object_type="benefits.ruleversion", object_id=str(new.pk)).exists()
    # Next month has not come: a corrected version for it replaces version 2, which is kept as withdrawn.
    third = services.adopt_rule(actor=roles["bureau"], programme=prog, jurisdiction=region, params=f.LONGEVITY,
                                valid_from=f"{next_month:%Y-%m}", note="again")
    new.refresh_from_db()
    assert (third.version, new.status) == (3, "withdrawn")
    # A version may not start in a month that has already begun when a later one exists.
    with pytest.raises(ValidationError) as info:
        services.adopt_rule(actor=roles["bureau"], programme=prog, jurisdiction=region, params=f.LONGEVITY,
                            valid_from=f"{this_month:%Y-%m}", note="back in time")
    assert "新版本须晚于它" in info.value.message_dict["valid_from"][0]
    with pytest.raises(ValidationError) as info:
        services.adopt_rule(actor=roles["bureau"], programme=prog, jurisdiction=region, params=f.LONGEVITY,
                            valid_from=f"{month_after:%Y-%m}", note="")
    assert info.value.message_dict == {"note": ["请填写修订说明。"]}
    with pytest.raises(services.DomainError):
        services.adopt_rule(actor=roles["street"], programme=prog, jurisdiction=region, params=f.LONGEVITY,
                            valid_from=f"{month_after:%Y-%m}", note="x")
    assert RuleVersion.objects.filter(programme=prog).count() == 3


def test_the_test_clock_is_frozen_and_ticks_from_one_instant(frozen_clock):
    # conftest.TEST_NOW: every test starts there, whatever the machine's date.
    from conftest import TEST_NOW

    assert abs((timezone.now() - TEST_NOW).total_seconds()) < 60
    frozen_clock.move_to(TEST_NOW + datetime.timedelta(days=400))
    assert timezone.localdate() == (TEST_NOW + datetime.timedelta(days=400)).astimezone(
        timezone.get_current_timezone()).date()


def test_bands_must_leave_no_gap_and_start_at_the_floor():
    gap = {**f.LONGEVITY, "bands": [{"min_age": 80, "max_age": 89, "amount": "50"},
                                    {"min_age": 91, "max_age": None, "amount": "100"}]}
    assert errors_of(gap)["bands"] == ["年龄档 80–89 与 91+ 之间有空档：90 岁没有标准。"]
    # Lowering the floor to 75 alone would pay 75–79 nothing: the first band must move with it.
    assert errors_of({**f.LONGEVITY, "min_age": 75})["bands"] == [
        "享受年龄为 75 岁，最低年龄档却从 80 岁开始：请把最低年龄档改为从 75 岁开始。"]
    bands = [dict(b) for b in f.LONGEVITY["bands"]]
    bands[0]["min_age"] = 75
    assert rules.parse({**f.LONGEVITY, "min_age": 75, "bands": bands}).bands[0].label == "75-89"
