"""Two clerks racing: two admissions to one bed, two deposits for one resident over the cap together, two
withdrawals each under 30% but over it together. The row locks (select_for_update) serialise them: one wins,
the other is refused with the reason it would get one after the other. Real concurrent transactions need
PostgreSQL (SQLite serialises writers, so there is nothing to race there)."""

import threading
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from yiyang.institutions import selectors, services
from yiyang.institutions.models import AccountStatus, EscrowPosting, Stay, Withdrawal, WithdrawalStatus

pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def race(*calls):
    """Run the calls at once on their own connections; return what each returned or raised."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            start.wait()
            results[i] = call()
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_admissions_to_one_bed(world):
    bed = world["beds"][0]
    results = race(*[lambda e=e: services.admit(actor=world["manager"], elder=world[e], bed=bed,
                                                  admitted_on="2026-11-01", monthly_fee="3000")
                     for e in ("elder", "elder2")])
    won = [r for r in results if isinstance(r, Stay)]
    lost = [r for r in results if isinstance(r, ValidationError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "bed" in lost[0].message_dict
    assert Stay.objects.filter(bed=bed).count() == 1
    bed.refresh_from_db()
    assert bed.status == "occupied" and bed.status_changes.count() == 2


@pytest.fixture
def funded(world):
    account = services.open_escrow_account(actor=world["bureau"], institution=world["home"], bank_name="存管银行",
                                           account_number="622800001111")
    stay = services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0],
                          admitted_on="2026-11-01", monthly_fee="3000")
    return {**world, "account": account, "stay": stay}


def test_two_deposits_over_the_cap_together(funded):
    # Cap 6 × 3,000.00 = 18,000.00; each 10,000.00 fits alone, both do not.
    results = race(*[lambda k=k: services.take_prepayment(actor=funded["manager"], stay=funded["stay"],
                                                          kind="deposit", amount="10000", key=k)
                     for k in ("a", "b")])
    assert sorted(type(r).__name__ for r in results) == ["ValidationError", "tuple"], results
    assert services.deposit_held(funded["stay"]) == D("10000.00")


def test_two_withdrawals_under_thirty_percent_each_over_it_together(funded):
    services.take_prepayment(actor=funded["manager"], stay=funded["stay"], kind="deposit", amount="10000")
    # 2,500.00 is 25% of 10,000.00; after one is paid, the other is 2,500.00 / 7,500.00 = 33.33%: it trips.
    results = race(*[lambda: services.request_withdrawal(actor=funded["manager"], account=funded["account"],
                                                         amount="2500", reason="支付水电费")] * 2)
    paid = [r for r in results if isinstance(r, Withdrawal)]
    tripped = [r for r in results if isinstance(r, services.BreakerTripped)]
    assert len(paid) == 1 and len(tripped) == 1, results
    assert tripped[0].withdrawal.balance_before == D("7500.00")
    assert selectors.balance(funded["account"]) == D("7500.00")
    funded["account"].refresh_from_db()
    assert funded["account"].status == AccountStatus.FROZEN
    assert Withdrawal.objects.filter(status=WithdrawalStatus.HELD).count() == 1
    assert list(EscrowPosting.objects.order_by("seq").values_list("seq", "balance_after")) == [
        (1, D("10000.00")), (2, D("7500.00"))]
