"""The pure rules on hand-computed figures (no database)."""

from decimal import Decimal as D

import pytest

from yiyang.institutions import rules
from yiyang.institutions.rules import FREE, OCCUPIED, OUT_OF_SERVICE, RESERVED


class TestMoney:
    @pytest.mark.parametrize("value, expected", [("3000", D("3000.00")), ("0.01", D("0.01")), (D("12.5"), D("12.50")),
                                                 (" 1999.99 ", D("1999.99")), (7, D("7.00"))])
    def test_amounts_to_the_fen(self, value, expected):
        assert rules.parse_money(value) == expected

    @pytest.mark.parametrize("value", [0.1, 3000.0, True, "0", "-1", "1.001", "abc", "", None, "NaN", "Infinity",
                                       "10000000000.00"])
    def test_not_money(self, value):
        with pytest.raises(rules.MoneyError):
            rules.parse_money(value)

    def test_zero_when_allowed(self):
        assert rules.parse_money("0", allow_zero=True) == D("0.00")

    def test_rounding_half_up(self):
        assert rules.fen(D("0.005")) == D("0.01")
        assert rules.fen(D("2.344999")) == D("2.34")


class TestDepositCap:
    def test_six_times_the_monthly_fee(self):
        # 2,850.50 × 6 = 17,103.00
        assert rules.deposit_cap(D("2850.50")) == D("17103.00")
        # 1,333.33 × 6 = 7,999.98
        assert rules.deposit_cap(D("1333.33")) == D("7999.98")

    def test_configurable_multiple(self):
        # 12 × 1,500.00 = 18,000.00 (the national ceiling some jurisdictions keep)
        assert rules.deposit_cap(D("1500.00"), D("12")) == D("18000.00")

    def test_reaching_the_cap_exactly_is_allowed_one_fen_more_is_not(self):
        fee = D("3000.00")  # cap 18,000.00
        assert rules.deposit_allowed(fee, D("0.00"), D("18000.00"))
        assert not rules.deposit_allowed(fee, D("0.00"), D("18000.01"))
        # 10,000.00 held: 8,000.00 more reaches 18,000.00; 8,000.01 does not fit.
        assert rules.deposit_allowed(fee, D("10000.00"), D("8000.00"))
        assert not rules.deposit_allowed(fee, D("10000.00"), D("8000.01"))

    def test_room_left(self):
        assert rules.deposit_room(D("3000.00"), D("10000.00")) == D("8000.00")
        assert rules.deposit_room(D("3000.00"), D("20000.00")) == D("0.00")

    def test_service_fee_prepaid_twelve_months(self):
        # 2,850.50 × 12 = 34,206.00
        assert rules.service_fee_prepay_cap(D("2850.50")) == D("34206.00")


def test_membership_fee_only_for_private_homes():
    assert rules.membership_fee_allowed(is_public=False)
    assert not rules.membership_fee_allowed(is_public=True)


class TestBreaker:
    def test_thirty_percent_passes_one_fen_more_trips(self):
        # 30% of 1,000.00 is 300.00.
        assert not rules.breaker_trips(D("1000.00"), D("300.00"))
        assert rules.breaker_trips(D("1000.00"), D("300.01"))

    def test_thirty_vs_thirty_point_zero_one_percent(self):
        # 30% of 100,000.00 is 30,000.00; 30.01% is 30,010.00.
        assert not rules.breaker_trips(D("100000.00"), D("30000.00"))
        assert rules.breaker_trips(D("100000.00"), D("30010.00"))

    def test_exact_comparison_without_rounding(self):
        # 30% of 333.33 is 99.999: 99.99 passes, 100.00 trips (rounding the limit to 100.00 would let it pass).
        assert not rules.breaker_trips(D("333.33"), D("99.99"))
        assert rules.breaker_trips(D("333.33"), D("100.00"))

    def test_empty_account(self):
        assert rules.breaker_trips(D("0.00"), D("0.01"))

    def test_share_for_the_alert(self):
        # 350 / 1000 = 35.00%; 100 / 333.33 = 30.0003% → 30.00
        assert rules.share_of_balance(D("1000.00"), D("350.00")) == D("35.00")
        assert rules.share_of_balance(D("333.33"), D("100.00")) == D("30.00")


class TestBedStateMachine:
    ALLOWED = {(FREE, RESERVED), (FREE, OCCUPIED), (FREE, OUT_OF_SERVICE), (RESERVED, FREE), (RESERVED, OCCUPIED),
               (OCCUPIED, FREE), (OUT_OF_SERVICE, FREE)}

    def test_every_pair(self):
        states = (FREE, RESERVED, OCCUPIED, OUT_OF_SERVICE)
        got = {(a, b) for a in states for b in states if rules.bed_transition_allowed(a, b)}
        assert got == self.ALLOWED

    def test_unknown_states(self):
        assert not rules.bed_transition_allowed("", FREE)
        assert not rules.bed_transition_allowed(FREE, "broken")


def test_ratio_percent():
    # 7 of 12 beds = 58.333…% → 58.33; 2 of 3 = 66.67; no beds: None
    assert rules.ratio_percent(7, 12) == D("58.33")
    assert rules.ratio_percent(2, 3) == D("66.67")
    assert rules.ratio_percent(0, 0) is None
