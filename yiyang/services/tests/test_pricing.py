"""Who pays what, hand-computed to the fen."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from yiyang.services import pricing


@pytest.fixture(autouse=True)
def chinese():
    # These functions speak the active language; a request of an earlier test on this worker (Accept-Language:
    # en) may have left English active.
    with translation.override("zh-hans"):
        yield

# The example rule of the issue: 特困 fully paid, 低保 90 %, 80+ the 普惠 price; anyone else the market price.
RULE = pricing.parse({"rows": [{"category": "destitute", "share": "100"},
                               {"category": "subsistence", "share": "90"},
                               {"min_age": 80, "share": "0"}], "others": "market"})


def q(categories=(), age=70, price="30.00", market="60.00", qty="1", allowance="0.00"):
    return pricing.quote(params=RULE, categories=set(categories), age=age, subsidised_price=D(price),
                         market_price=D(market), quantity=D(qty), allowance_available=D(allowance))


def test_destitute_pay_nothing():
    r = q(["destitute"], price="30.00")
    assert (r.total, r.subsidy, r.allowance, r.copay) == (D("30.00"), D("30.00"), D("0.00"), D("0.00"))


def test_subsistence_90_percent_rounded_half_up_and_the_parts_add_up():
    r = q(["subsistence"], price="33.33")  # 33.33 × 0.9 = 29.997 → 30.00; the person pays 3.33
    assert (r.total, r.subsidy, r.copay) == (D("33.33"), D("30.00"), D("3.33"))
    assert r.subsidy + r.allowance + r.copay == r.total


def test_hours_are_priced_then_rounded():
    r = q(["subsistence"], price="33.33", qty="1.5")  # 49.995 → 50.00; 90 % = 45.00; 5.00 left
    assert (r.total, r.subsidy, r.copay) == (D("50.00"), D("45.00"), D("5.00"))


def test_80_plus_pay_the_inclusive_price_from_their_allowance_first():
    r = q(age=84, price="45.00", allowance="20.00")  # 普惠 45; no share; 20 from the allowance; 25 paid
    assert (r.basis, r.total, r.subsidy, r.allowance, r.copay) == ("inclusive", D("45.00"), D("0.00"),
                                                                   D("20.00"), D("25.00"))


def test_the_allowance_never_goes_below_zero_nor_pays_more_than_is_left():
    r = q(["subsistence"], price="40.00", allowance="50.00")  # 36.00 subsidy, 4.00 left: 4.00 from 50.00
    assert (r.subsidy, r.allowance, r.copay) == (D("36.00"), D("4.00"), D("0.00"))
    r = q(["subsistence"], price="40.00", allowance="-5.00")  # a negative balance is treated as empty
    assert (r.allowance, r.copay) == (D("0.00"), D("4.00"))


def test_the_best_matching_row_wins():
    r = q(["subsistence"], age=85, price="40.00")  # 低保 90 % beats 80+ 0 %
    assert (r.share, r.subsidy, r.copay) == (D("90"), D("36.00"), D("4.00"))
    assert r.reasons == ("低保", "80 周岁及以上")


def test_others_pay_the_market_price_without_allowance():
    r = q(age=70, price="30.00", market="60.00", allowance="20.00")
    assert (r.basis, r.total, r.subsidy, r.allowance, r.copay) == ("market", D("60.00"), D("0.00"), D("0.00"),
                                                                   D("60.00"))


def test_explanation():
    assert q(["subsistence"], price="33.33").explain() == (
        "低保 → 普惠价 33.33 元 × 1 = 33.33 元；政府补贴 90% 即 30.00 元，服务补贴余额抵扣 0.00 元，本人自付 3.33 元")


def test_bad_rules_and_inputs_are_named():
    with pytest.raises(ValidationError) as info:
        pricing.parse({"rows": [{"category": "destitute", "min_age": 80, "share": "100"},
                                {"category": "rich", "share": "10"}, {"min_age": 80, "share": "101"}],
                       "others": "free"})
    assert info.value.message_dict == {
        "rows.0": ["每行须指定人员类别或年龄之一。"], "rows.1": ["未知的人员类别：rich"],
        "rows.2": ["补贴比例须为 0 至 100 的数字。"], "others": ["其他人员须按市场价或普惠价。"]}
    with pytest.raises(ValidationError):
        q(qty="0")
    with pytest.raises(ValidationError):
        q(price="70.00", market="60.00")


def test_the_example_catalogue_and_rule():
    from yiyang.services import examples

    assert pricing.parse(examples.SUBSIDY_RULE).rows[0] == pricing.Row(share=D("100"), category="destitute")
    for code, _name, _cat, _unit, minutes, _skill, market, inclusive in examples.CATALOGUE:
        assert D(inclusive) * 2 == D(market) and minutes > 0, code  # 普惠 at half the market price (seed 001)


def test_amounts_always_carry_two_decimals():
    r = q(["subsistence"], price="30.00", allowance="0")
    assert str(r.allowance) == "0.00" and "服务补贴余额抵扣 0.00 元" in r.explain()
