"""Prepayments and the supervised deposit account: the 6× cap, no 会员费 for public homes, the append-only
ledger, refunds, and the 30% circuit breaker with the bureau's review. Figures are hand-computed."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditEvent
from yiyang.institutions import selectors, services
from yiyang.institutions.models import (
    AccountStatus,
    AppendOnly,
    EscrowPosting,
    Prepayment,
    Withdrawal,
    WithdrawalStatus,
)

from .factories import assessed_elder, make_home, make_room


@pytest.fixture
def escrow(world):
    account = services.open_escrow_account(actor=world["bureau"], institution=world["home"],
                                           bank_name="重庆农村商业银行", account_number="6228 4800 1234 5678")
    stay = services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0],
                          admitted_on="2026-11-01", monthly_fee="2850.50")
    return {**world, "account": account, "stay": stay}


def deposit(w, amount, key="", stay=None):
    return services.take_prepayment(actor=w["manager"], stay=stay or w["stay"], kind="deposit", amount=amount,
                                    received_on="2026-11-01", key=key)


def withdraw(w, amount, reason="支付护理员工资"):
    return services.request_withdrawal(actor=w["manager"], account=w["account"], amount=amount, reason=reason)


def balance(w):
    return selectors.balance(w["account"])


def test_the_account(escrow):
    account = escrow["account"]
    assert (account.account_number, account.status, balance(escrow)) == ("6228480012345678", "active", D("0.00"))
    with pytest.raises(ValidationError):  # one per home
        services.open_escrow_account(actor=escrow["bureau"], institution=escrow["home"], bank_name="另一银行",
                                     account_number="62284800000000")
    other, _manager = make_home(escrow["bureau"], name="另一养老院", manager="other_home")
    with pytest.raises(DomainError):  # the bureau opens it, not the home
        services.open_escrow_account(actor=_manager, institution=other, bank_name="某银行",
                                     account_number="622800000000")
    with pytest.raises(ValidationError) as exc:  # digits of another script are not digits here
        services.open_escrow_account(actor=escrow["bureau"], institution=other, bank_name="某银行",
                                     account_number="６２２８" + "٠١٢٣٤٥٦٧٨٩")
    assert "account_number" in exc.value.message_dict


class TestDepositCap:
    def test_up_to_six_times_the_monthly_fee(self, escrow):
        # 2,850.50 × 6 = 17,103.00: 10,000.00 and then 7,103.00 reach it exactly.
        deposit(escrow, "10000.00")
        deposit(escrow, "7103.00")
        assert services.deposit_held(escrow["stay"]) == D("17103.00")
        assert balance(escrow) == D("17103.00")

    def test_one_fen_over_is_refused_and_nothing_is_written(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(ValidationError) as exc:
            deposit(escrow, "7103.01")
        message = exc.value.message_dict["amount"][0]
        assert "17103.00" in message and "7103.00" in message  # the cap and what may still be taken
        assert EscrowPosting.objects.count() == 1 and Prepayment.objects.count() == 1
        assert balance(escrow) == D("10000.00")

    def test_a_single_deposit_above_the_cap(self, escrow):
        with pytest.raises(ValidationError):
            deposit(escrow, "17103.01")
        assert not EscrowPosting.objects.exists()

    def test_no_deposit_without_a_supervised_account(self, world):
        stay = services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0],
                              admitted_on="2026-11-01", monthly_fee="3000")
        with pytest.raises(DomainError) as exc:
            services.take_prepayment(actor=world["manager"], stay=stay, kind="deposit", amount="1000")
        assert exc.value.status == 409 and "专户" in str(exc.value.message)
        assert not Prepayment.objects.exists()

    def test_a_retry_with_the_same_key_takes_it_once(self, escrow):
        first, created = deposit(escrow, "5000.00", key="phone-1")
        again, created_again = deposit(escrow, "5000.00", key="phone-1")
        assert (created, created_again, again.pk) == (True, False, first.pk)
        assert balance(escrow) == D("5000.00")
        with pytest.raises(DomainError) as exc:
            deposit(escrow, "6000.00", key="phone-1")
        assert exc.value.code == ErrorCode.CLIENT_KEY_CONFLICT


class TestOtherPrepayments:
    def test_membership_fees_are_refused_for_public_homes(self, roles):
        for ownership, allowed in (("public", False), ("public_private", False), ("private", True)):
            home, manager = make_home(roles["bureau"], name=f"{ownership}养老院", ownership=ownership,
                                      manager=f"m_{ownership}")
            bed = make_room(manager, home, day=datetime.date(2026, 1, 1))[0]
            elder = assessed_elder(roles, {"public": 11, "public_private": 12, "private": 13}[ownership])
            stay = services.admit(actor=manager, elder=elder, bed=bed, admitted_on="2026-11-01", monthly_fee="2000")
            if allowed:
                prepayment, _created = services.take_prepayment(actor=manager, stay=stay, kind="membership",
                                                                amount="50000")
                assert prepayment.posting is None
            else:
                with pytest.raises(ValidationError) as exc:
                    services.take_prepayment(actor=manager, stay=stay, kind="membership", amount="50000")
                assert "会员费" in exc.value.message_dict["kind"][0]
        assert Prepayment.objects.count() == 1

    def test_service_fees_prepaid_for_at_most_twelve_months(self, escrow):
        # 2,850.50 × 12 = 34,206.00
        services.take_prepayment(actor=escrow["manager"], stay=escrow["stay"], kind="service_fee", amount="34206.00")
        with pytest.raises(ValidationError):
            services.take_prepayment(actor=escrow["manager"], stay=escrow["stay"], kind="service_fee",
                                     amount="34206.01")
        assert balance(escrow) == D("0.00")  # service fees are not escrowed

    def test_only_the_home_takes_money(self, escrow):
        for who in ("bureau", "caregiver", "provider", "street"):
            with pytest.raises(DomainError) as exc:
                services.take_prepayment(actor=escrow[who], stay=escrow["stay"], kind="deposit", amount="100")
            assert exc.value.status == 403, who


class TestLedger:
    def test_running_totals_and_append_only(self, escrow):
        deposit(escrow, "10000.00")
        withdraw(escrow, "3000.00")
        services.refund_deposit(actor=escrow["manager"], stay=escrow["stay"], amount="1500.50")
        rows = list(EscrowPosting.objects.order_by("seq").values_list("seq", "kind", "amount", "balance_after"))
        assert rows == [(1, "deposit_in", D("10000.00"), D("10000.00")),
                        (2, "withdrawal_out", D("3000.00"), D("7000.00")),
                        (3, "refund_out", D("1500.50"), D("5499.50"))]
        assert balance(escrow) == D("5499.50")
        posting = EscrowPosting.objects.get(seq=1)
        posting.note = "changed"
        with pytest.raises(AppendOnly):
            posting.save()
        with pytest.raises(AppendOnly):
            posting.delete()
        with pytest.raises(AppendOnly):
            EscrowPosting.objects.filter(account=escrow["account"]).update(amount=D("1.00"))
        with pytest.raises(AppendOnly):
            EscrowPosting.objects.all().delete()
        assert list(selectors.postings_for(escrow["manager"], escrow["account"])) == list(
            EscrowPosting.objects.order_by("seq"))
        assert not selectors.postings_for(escrow["street"], escrow["account"]).exists()

    def test_a_refund_larger_than_what_was_held_is_refused(self, escrow):
        deposit(escrow, "8000.00")
        with pytest.raises(ValidationError) as exc:
            services.refund_deposit(actor=escrow["manager"], stay=escrow["stay"], amount="8000.01")
        assert "8000.00" in exc.value.message_dict["amount"][0]
        # The resident's whole deposit (here all the account holds) goes back without tripping the breaker.
        services.refund_deposit(actor=escrow["manager"], stay=escrow["stay"], amount="8000.00")
        assert balance(escrow) == D("0.00")
        escrow["account"].refresh_from_db()
        assert escrow["account"].status == AccountStatus.ACTIVE

    def test_a_withdrawal_larger_than_the_balance(self, escrow):
        deposit(escrow, "1000.00")
        with pytest.raises(ValidationError):
            withdraw(escrow, "1000.01")
        assert not Withdrawal.objects.exists()


class TestBreaker:
    def test_thirty_percent_passes_and_a_fen_more_trips(self, escrow):
        deposit(escrow, "10000.00")
        # 30% of 10,000.00 = 3,000.00 → paid; 7,000.00 left. 30% of 7,000.00 = 2,100.00 → paid; 4,900.00 left.
        assert withdraw(escrow, "3000.00").status == WithdrawalStatus.PAID
        assert withdraw(escrow, "2100.00").status == WithdrawalStatus.PAID
        assert balance(escrow) == D("4900.00")
        # 30% of 4,900.00 = 1,470.00: 1,470.01 trips.
        with pytest.raises(services.BreakerTripped) as exc:
            withdraw(escrow, "1470.01")
        assert exc.value.code == ErrorCode.CIRCUIT_BREAKER and exc.value.status == 409
        held = exc.value.withdrawal
        held.refresh_from_db()
        assert (held.status, held.balance_before, held.amount) == (WithdrawalStatus.HELD, D("4900.00"), D("1470.01"))
        account = escrow["account"]
        account.refresh_from_db()
        assert account.status == AccountStatus.FROZEN and account.frozen_at is not None
        assert balance(escrow) == D("4900.00")  # nothing left the account
        assert not EscrowPosting.objects.filter(withdrawal=held).exists()
        assert AuditEvent.objects.filter(object_type="institutions.escrowaccount", detail__contains="熔断").exists()
        assert list(selectors.accounts_for(escrow["bureau"], frozen_only=True)) == [account]

    def test_thirty_point_zero_one_percent_of_the_balance_before(self, escrow):
        deposit(escrow, "10000.00")
        # 3,001.00 / 10,000.00 = 30.01%
        with pytest.raises(services.BreakerTripped):
            withdraw(escrow, "3001.00")

    def test_nothing_leaves_a_frozen_account(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(services.BreakerTripped):
            withdraw(escrow, "3500.00")  # 35%
        with pytest.raises(DomainError) as exc:
            withdraw(escrow, "10.00")
        assert exc.value.status == 409
        with pytest.raises(DomainError):
            services.refund_deposit(actor=escrow["manager"], stay=escrow["stay"], amount="10.00")
        assert balance(escrow) == D("10000.00")
        assert Withdrawal.objects.count() == 1
        # Money still comes in (a new resident's deposit): only leaving is frozen.
        deposit(escrow, "500.00")
        assert balance(escrow) == D("10500.00")

    def test_only_the_bureau_reviews_with_a_reason(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(services.BreakerTripped):
            withdraw(escrow, "3500.00")
        for who in ("manager", "other_bureau", "street", "provider"):
            with pytest.raises(DomainError) as exc:
                services.review_breaker(actor=escrow[who], account=escrow["account"], release=True, note="同意")
            assert exc.value.status == 403, who
        with pytest.raises(ValidationError):
            services.review_breaker(actor=escrow["bureau"], account=escrow["account"], release=True, note=" ")
        escrow["account"].refresh_from_db()
        assert escrow["account"].status == AccountStatus.FROZEN

    def test_release_pays_the_held_withdrawal(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(services.BreakerTripped):
            withdraw(escrow, "3500.00")
        w = services.review_breaker(actor=escrow["bureau"], account=escrow["account"], release=True,
                                    note="经核实为支付消防改造工程款，凭合同放行")
        assert (w.status, w.reviewed_by, balance(escrow)) == (WithdrawalStatus.RELEASED, escrow["bureau"],
                                                             D("6500.00"))
        escrow["account"].refresh_from_db()
        assert escrow["account"].status == AccountStatus.ACTIVE
        assert AuditEvent.objects.filter(object_type="institutions.withdrawal", detail__contains="放行").exists()
        with pytest.raises(DomainError) as exc:  # not frozen any more
            services.review_breaker(actor=escrow["bureau"], account=escrow["account"], release=False, note="再审")
        assert exc.value.status == 409
        # The home withdraws again, measured against the new balance: 30% of 6,500.00 = 1,950.00.
        assert withdraw(escrow, "1950.00").status == WithdrawalStatus.PAID

    def test_reject_keeps_the_money(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(services.BreakerTripped):
            withdraw(escrow, "9000.00")
        w = services.review_breaker(actor=escrow["bureau"], account=escrow["account"], release=False,
                                    note="用途不明，驳回")
        assert (w.status, balance(escrow)) == (WithdrawalStatus.REJECTED, D("10000.00"))
        escrow["account"].refresh_from_db()
        assert escrow["account"].status == AccountStatus.ACTIVE

    def test_the_bureau_never_withdraws(self, escrow):
        deposit(escrow, "10000.00")
        with pytest.raises(DomainError) as exc:
            services.request_withdrawal(actor=escrow["bureau"], account=escrow["account"], amount="10", reason="x")
        assert exc.value.status == 403
