"""The demo city's benefits on a small register: a year of closed rolls, this month's draft, failures,
recoveries, back pay and re-issues, explanations, and totals that add up."""

from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from yiyang.benefits import demo, rules
from yiyang.benefits.models import (
    BankResultImport,
    LineKind,
    LineStatus,
    Programme,
    Roll,
    RollCheck,
    RollLine,
    RollStatus,
    RuleVersion,
)
from yiyang.core.demo import DEMO_COUNTY, build_demo_city

SCALE = 1 / 200
SEED = 7


pytestmark = pytest.mark.django_db


def test_demo_benefits():
    """One build of the small city (about 7 s), then every property of it."""
    log = []
    ctx = build_demo_city(seed=SEED, scale=SCALE, log=log.append, upto="yiyang.benefits")
    check_programmes_and_rules()
    check_a_year_of_paid_rolls_and_this_months_draft(log)
    check_failures_recoveries_back_pay_and_reissues()
    check_every_line_explains_itself_and_totals_add_up()
    # A second run leaves everything as it is.
    before = RollLine.objects.count()
    again = []
    demo.benefits_demo(ctx, again.append)
    assert "left as they are" in again[-1]
    assert RollLine.objects.count() == before


def check_programmes_and_rules():
    assert set(Programme.objects.values_list("code", flat=True)) == {"longevity", "care", "destitute_care",
                                                                     "service"}
    assert not Programme.objects.get(code="service").pays_to_bank
    this_month = timezone.localdate().replace(day=1)
    for code in demo.RULES:
        rule = RuleVersion.objects.get(programme__code=code, jurisdiction_id=DEMO_COUNTY)
        assert rule.status == "adopted" and rule.valid_until is None
        assert rule.valid_from == rules.add_months(this_month, -demo.HISTORY_MONTHS)
        assert "seeds/" in rule.source and rule.note
        assert rule.adopted_at.date() < rule.valid_from
    assert rules.parse(RuleVersion.objects.get(programme__code="longevity").params).possible_amounts() == {
        Decimal("50.00"), Decimal("100.00"), Decimal("500.00")}


def check_a_year_of_paid_rolls_and_this_months_draft(log):
    this_month = timezone.localdate().replace(day=1)
    history = [rules.add_months(this_month, k - demo.HISTORY_MONTHS) for k in range(demo.HISTORY_MONTHS)]
    for code in demo.RULES:
        rolls = list(Roll.objects.filter(programme__code=code, jurisdiction_id=DEMO_COUNTY).order_by("month"))
        assert [r.month for r in rolls] == history + [this_month]
        for r in rolls[:-1]:
            payable = r.lines.filter(amount__gt=0).exclude(status=LineStatus.WITHHELD).exists()
            # A bank file without a row (possible at this tiny scale) gets no results file back.
            assert r.status == (RollStatus.CLOSED if payable else RollStatus.EXPORTED), (code, r.month, r.status)
            assert r.open_checks == 0 and r.approved_at and r.exported_at
            assert BankResultImport.objects.filter(roll=r).count() == int(payable)
            assert r.generated_at.date().replace(day=1) == r.month  # the simulated clock
            assert not r.lines.filter(status=LineStatus.PENDING, amount__gt=0).exists()
            assert not r.street_reviews.filter(reviewed_at__isnull=True).exists()
        draft = rolls[-1]
        assert draft.status == RollStatus.DRAFT and draft.line_count > 0
    # The longevity draft keeps its checks open (accounts missing or mistyped, the couple sharing one).
    draft = Roll.objects.get(programme__code="longevity", month=this_month)
    assert draft.open_checks > 0
    assert {"bank_missing", "bank_invalid", "shared_account"} <= set(
        RollCheck.objects.filter(roll=draft, resolution="").values_list("kind", flat=True))
    # Checks of past rolls were cleared: most confirmed, the ones without a usable account withheld.
    past = RollCheck.objects.exclude(roll__month=this_month)
    assert past.filter(resolution="").count() == 0
    assert past.filter(resolution="confirmed").exists() and past.filter(resolution="withheld").exists()
    assert any(f"{3 * demo.HISTORY_MONTHS} rolls" in line for line in log)


def check_failures_recoveries_back_pay_and_reissues():
    lines = RollLine.objects.filter(roll__jurisdiction_id=DEMO_COUNTY)
    paid = lines.filter(status=LineStatus.PAID)
    assert paid.count() > 100
    assert all(d.day == 15 for d in paid.values_list("paid_on", flat=True).distinct())
    failed = lines.filter(status=LineStatus.FAILED)
    assert failed.exists()
    assert set(failed.values_list("failure_reason", flat=True)) <= set(demo.FAILURES)
    recovery = lines.filter(kind=LineKind.RECOVERY)
    assert recovery.exists() and all(a < 0 for a in recovery.values_list("amount", flat=True))
    assert lines.filter(kind__in=[LineKind.BACK_PAY, LineKind.REISSUE]).exists()
    assert lines.filter(kind=LineKind.REISSUE).exists()
    # Every failed payment is re-issued by the next roll.
    for line in failed.exclude(roll__month=timezone.localdate().replace(day=1)):
        assert lines.filter(elder_id=line.elder_id, programme_id=line.programme_id, for_month=line.for_month,
                            kind=LineKind.REISSUE, month=rules.add_months(line.month, 1)).exists()
    # Nobody is paid twice for a month: regular + adjustments never exceed one month's top amount.
    issued = (lines.exclude(status__in=[LineStatus.FAILED, LineStatus.WITHHELD])
              .values("elder_id", "programme_id", "for_month").annotate(total=Sum("amount"), n=Count("id")))
    assert all(row["total"] <= Decimal("500.00") for row in issued)


def check_every_line_explains_itself_and_totals_add_up():
    for line in RollLine.objects.filter(roll__jurisdiction_id=DEMO_COUNTY).select_related("rule"):
        assert str(line.explain()).strip(), line.pk
    for roll in Roll.objects.filter(jurisdiction_id=DEMO_COUNTY):
        agg = roll.lines.aggregate(n=Count("id"), total=Sum("amount"))
        assert roll.line_count == agg["n"]
        assert roll.total_amount == (agg["total"] or Decimal("0.00"))

