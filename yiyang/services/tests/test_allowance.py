"""The monthly service allowance (服务补贴余额): an append-only ledger per elder × month, credited when a roll of
a programme not paid to a bank is approved, drawn by orders (under a lock on the elder, never below zero) and
given back when an order ends unserved.

Hand-computed figures: 王秀英 is 86 (80+: the 普惠 price, share 0); 颐康's bath is 33.33. With 100.00 credited,
one bath draws 33.33 → 66.67 left; a double bath (66.66) then leaves 0.01; the next bath draws the 0.01 and
she pays 33.32; cancelling that one gives the 0.01 back."""

import datetime
import json
import threading
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from yiyang.benefits import services as benefits
from yiyang.benefits.models import Programme, ProgrammeKind, RollCheck
from yiyang.benefits.tests import factories as bf
from yiyang.core.models import Region
from yiyang.core.tests.factories import make_org, make_user
from yiyang.services import selectors, services
from yiyang.services.models import AllowanceEntry, AllowanceKind

from .factories import soon

BASE = "/api/v1/services/"


def month_of(moment) -> datetime.date:
    return timezone.localdate(moment).replace(day=1)


def credit(elder, amount, month=None):
    return AllowanceEntry.objects.create(elder=elder, month=month or month_of(soon()), amount=D(amount),
                                         kind=AllowanceKind.CREDIT, county_code=elder.county_code,
                                         region_code=elder.residence_region_id)


@pytest.fixture
def world(home):
    return home  # no caregiver: a test makes its own


def bath(w, *, minutes=5, quantity=1, key=None):
    return services.place_order(actor=w["family"], elder=w["elder"], provider=w["org"], item=w["bath"],
                                scheduled_start=soon(minutes), quantity=quantity, channel="portal", client_key=key)[0]


def balance(w):
    return selectors.allowance_balance(w["elder"], month_of(soon()))


def test_an_order_draws_on_the_balance_and_cancelling_gives_it_back(world):
    credit(world["elder"], "100.00")
    assert services.preview_quote(actor=world["family"], elder=world["elder"], provider=world["org"],
                                  item=world["bath"], scheduled_start=soon(5)).allowance == D("33.33")
    first = bath(world)
    assert (first.total, first.subsidy, first.allowance, first.copay) == (D("33.33"), 0, D("33.33"), 0)
    assert balance(world) == D("66.67")
    double = bath(world, minutes=10, quantity=2)
    assert (double.total, double.allowance, double.copay) == (D("66.66"), D("66.66"), 0)
    assert balance(world) == D("0.01")
    third = bath(world, minutes=15)
    assert (third.allowance, third.copay) == (D("0.01"), D("33.32"))
    assert balance(world) == D("0.00")
    fourth = bath(world, minutes=20)
    assert (fourth.allowance, fourth.copay) == (0, D("33.33"))
    assert not AllowanceEntry.objects.filter(order=fourth).exists()
    services.cancel_order(actor=world["family"], order=third, reason="改期")
    assert balance(world) == D("0.01")
    services.decline_order(actor=world["provider"], order=first, reason="人手不足")
    assert balance(world) == D("33.34")
    totals = selectors.allowance_totals(world["elder"], month_of(soon()))
    assert totals == {"credited": D("100.00"), "debited": D("100.00"), "refunded": D("33.34"),
                      "balance": D("33.34")}


def test_a_no_show_refunds_once_and_a_replayed_order_never_debits_twice(world):
    credit(world["elder"], "50.00")
    order = bath(world, key="phone-1")
    again = bath(world, key="phone-1")
    assert again.pk == order.pk
    assert AllowanceEntry.objects.filter(kind=AllowanceKind.DEBIT).count() == 1
    assert balance(world) == D("16.67")
    services.accept_order(actor=world["provider"], order=order)
    from .factories import make_caregiver
    services.assign_order(actor=world["provider"], order=order, caregiver=make_caregiver(world))
    services.mark_no_show(actor=world["provider"], order=order, reason="老人不在家")
    assert balance(world) == D("50.00")
    # The ledger itself refuses a second debit or refund of the same order.
    with pytest.raises(IntegrityError), transaction.atomic():
        AllowanceEntry.objects.create(elder=world["elder"], month=month_of(soon()), amount=D("16.67"),
                                      kind=AllowanceKind.REFUND, order=order, county_code="511903",
                                      region_code="511903001002")


def test_an_explicit_allowance_is_used_as_given_and_not_recorded(world):
    order = services.place_order(actor=world["family"], elder=world["elder"], provider=world["org"],
                                 item=world["bath"], scheduled_start=soon(5), channel="portal",
                                 allowance_available="20.00")[0]
    assert (order.allowance, order.copay) == (D("20.00"), D("13.33"))
    assert not AllowanceEntry.objects.exists()
    services.cancel_order(actor=world["family"], order=order, reason="改期")
    assert not AllowanceEntry.objects.exists()


def test_an_approved_service_roll_credits_its_lines_once(world):
    prog = Programme.objects.create(code="service", kind=ProgrammeKind.SERVICE, name="服务补贴",
                                    pays_to_bank=False)
    bf.rule(prog, {"min_age": 80, "basis": "residence", "amount_kind": "fixed", "fixed_amount": "100"})
    other = bf.elder(world["bureau"], 2, birth=datetime.date(1970, 1, 1), name="年轻人")  # 56: not eligible
    from yiyang.registry.models import Elder
    Elder.objects.filter(pk=world["elder"].pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
    month = month_of(soon())
    roll = bf.generate(world["bureau"], prog, month.strftime("%Y-%m"))
    for check in RollCheck.objects.filter(roll=roll, resolution=""):
        benefits.resolve_check(actor=world["bureau"], check=check, resolution="confirmed", note="ok")
    benefits.submit_for_review(actor=world["bureau"], roll=roll)
    for review in roll.street_reviews.select_related("street"):
        benefits.sign_off_street(actor=world["bureau"], roll=roll, street=review.street, note="纸质审核表已签字")
    assert not AllowanceEntry.objects.exists()  # nothing before approval
    benefits.approve_roll(actor=world["bureau"], roll=roll)
    assert list(AllowanceEntry.objects.values_list("elder_id", "month", "amount", "kind")) == [
        (world["elder"].pk, month, D("100.00"), "credit")]
    assert selectors.allowance_balance(other, month) == 0
    # Crediting again (a replayed signal) adds nothing.
    assert services.credit_allowance_from_roll(roll=roll) == 0
    assert AllowanceEntry.objects.count() == 1
    order = bath(world)
    assert (order.allowance, balance(world)) == (D("33.33"), D("66.67"))


def test_a_bank_paid_roll_credits_nothing(world):
    prog = Programme.objects.create(code="longevity", kind=ProgrammeKind.LONGEVITY, name="高龄津贴")
    bf.rule(prog, bf.LONGEVITY)
    roll = bf.generate(world["bureau"], prog, month_of(soon()).strftime("%Y-%m"))
    assert roll.line_count == 1
    assert services.credit_allowance_from_roll(roll=roll) == 0
    assert not AllowanceEntry.objects.exists()


def test_the_api_quotes_and_orders_from_the_ledger_and_shows_the_balance(client, world):
    credit(world["elder"], "100.00")
    client.force_login(world["family"])
    body = {"elder": world["elder"].pk, "provider": world["org"].pk, "item": "bath",
            "scheduled_start": soon(5).isoformat()}
    quote = client.post(BASE + "quote", json.dumps(body), content_type="application/json").json()
    assert (quote["allowance"], quote["copay"]) == ("33.33", "0.00")
    resp = client.post(BASE + "orders", json.dumps(body), content_type="application/json")
    assert resp.status_code == 201 and resp.json()["allowance"] == "33.33"
    got = client.get(BASE + f"elders/{world['elder'].pk}/allowance",
                     {"month": month_of(soon()).strftime("%Y-%m")}).json()
    assert (got["credited"], got["debited"], got["refunded"], got["balance"]) == (
        "100.00", "33.33", "0.00", "66.67")
    assert [(e["kind"], e["amount"]) for e in got["entries"]] == [("credit", "100.00"), ("debit", "-33.33")]
    client.force_login(make_user("p2", "family"))
    assert client.get(BASE + f"elders/{world['elder'].pk}/allowance").status_code == 404
    client.force_login(make_user("p3", "provider", organisation=make_org("夕阳红", region="511903001")))
    assert client.get(BASE + f"elders/{world['elder'].pk}/allowance").status_code in (403, 404)


@pytest.mark.flushes
@pytest.mark.django_db(transaction=True)
def test_two_orders_at_once_never_take_the_balance_below_zero(world):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent sessions: PostgreSQL")
    assert Region.objects.filter(code="511903001002").exists()  # loaded by the world (conftest), this test flushes
    w = world
    credit(w["elder"], "50.00")
    errors, orders, barrier = [], [], threading.Barrier(2)

    def run(minutes):
        from django.db import connections

        try:
            barrier.wait()
            orders.append(bath(w, minutes=minutes))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(m,)) for m in (5, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # 50.00 covers one bath (33.33) and 16.67 of the other; she pays 16.66 of the second.
    assert sorted(o.allowance for o in orders) == [D("16.67"), D("33.33")]
    assert sorted(o.copay for o in orders) == [D("0.00"), D("16.66")]
    assert balance(w) == D("0.00")
