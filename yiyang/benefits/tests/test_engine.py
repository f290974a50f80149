"""The month semantics and the roll generator, on hand-computed cases.

Demo rules (factories): 高龄津贴 80–89 → 50, 90–99 → 100, 100+ → 500 yuan; 护理补贴 低保 100/200/300,
低保边缘 80/150/250, 经济困难 50/100/200 for levels 2/3/4. Everything is decided on the 1st of the month.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from yiyang.benefits import engine, services
from yiyang.benefits.models import BenefitSettings, Roll, RollCheck, RollLine
from yiyang.benefits.tests import factories as f
from yiyang.core.models import Region
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import services as registry
from yiyang.registry.models import ElderCategory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def roles():
    return demo_roles()


@pytest.fixture
def longevity():
    prog = f.programme()
    f.rule(prog, f.LONGEVITY, jurisdiction="5119")  # the city's rule applies in both districts
    return prog


@pytest.fixture
def care():
    prog = f.programme("care", "care", "经济困难老年人护理补贴")
    f.rule(prog, f.CARE, jurisdiction="5119")
    return prog


def paid(roll) -> dict:
    """{elder_id: amount} of the roll's lines for its own month."""
    return {e: a for e, a, fm in RollLine.objects.filter(roll=roll).values_list("elder_id", "amount", "for_month")
            if fm == roll.month}


def lines(roll) -> list[tuple]:
    return sorted(RollLine.objects.filter(roll=roll).values_list("elder_id", "for_month", "kind", "amount"))


def close(roll, *, failed=()):
    """Stand-in for approval and the bank's results (the workflow itself is tested in test_workflow)."""
    Roll.objects.filter(pk=roll.pk).update(status="closed")
    RollLine.objects.filter(roll=roll).exclude(elder_id__in=failed).update(status="paid", paid_on=roll.month)
    RollLine.objects.filter(roll=roll, elder_id__in=failed).update(status="failed", failure_reason="账户已销户")


def other_community(county="511902") -> str:
    return Region.objects.filter(code__startswith=county, level="community").order_by("code").values_list(
        "code", flat=True)[0]


# --- age on the 1st ---------------------------------------------------------------------------------------

def test_turning_80_on_the_first_is_paid_that_month_on_the_second_from_the_next(roles, longevity):
    first = f.elder(roles["community"], 1, birth=D(1946, 11, 1))
    second = f.elder(roles["community"], 2, birth=D(1946, 11, 2))
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert paid(nov) == {first.pk: Decimal("50.00")}
    dec = f.generate(roles["bureau"], longevity, "2026-12")
    assert paid(dec) == {first.pk: Decimal("50.00"), second.pk: Decimal("50.00")}


def test_bands_at_90_and_100(roles, longevity):
    e89 = f.elder(roles["community"], 1, birth=D(1936, 11, 2))  # 89 on 2026-11-01
    e90 = f.elder(roles["community"], 2, birth=D(1936, 11, 1))  # 90
    e99 = f.elder(roles["community"], 3, birth=D(1926, 11, 2))  # 99
    e100 = f.elder(roles["community"], 4, birth=D(1926, 11, 1))  # 100
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    assert paid(roll) == {e89.pk: Decimal("50.00"), e90.pk: Decimal("100.00"), e99.pk: Decimal("100.00"),
                          e100.pk: Decimal("500.00")}
    line = RollLine.objects.get(roll=roll, elder=e100)
    assert (line.age, line.band) == (100, "100+")
    assert line.explain() == "2026-11-01 时 100 岁 → 100+ 岁档 → 500.00 元"


def test_born_29_february(roles, longevity):
    # 1936-02-29: on 2026-02-01 the 90th birthday (taken as 1 March in a common year) has not come: 89.
    e = f.elder(roles["community"], 1, birth=D(1936, 2, 29))
    feb = f.generate(roles["bureau"], longevity, "2026-02")
    mar = f.generate(roles["bureau"], longevity, "2026-03")
    assert paid(feb) == {e.pk: Decimal("50.00")}
    assert paid(mar) == {e.pk: Decimal("100.00")}


def test_born_29_february_in_a_leap_year_month(roles, longevity):
    # 1944-02-29 turns 80 on 2024-02-29: 79 on 2024-02-01, 80 on 2024-03-01.
    e = f.elder(roles["community"], 1, birth=D(1944, 2, 29))
    assert paid(f.generate(roles["bureau"], longevity, "2024-02")) == {}
    assert paid(f.generate(roles["bureau"], longevity, "2024-03")) == {e.pk: Decimal("50.00")}


# --- death, suspension ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pay_month_of_death, nov_paid", [(True, True), (False, False)])
def test_death_on_the_first(roles, longevity, pay_month_of_death, nov_paid):
    BenefitSettings.objects.create(jurisdiction_id="511903", pay_month_of_death=pay_month_of_death)
    e = f.elder(roles["community"], 1, birth=D(1940, 1, 5))
    registry.record_status_event(actor=roles["community"], elder=e, kind="death", effective_date=D(2026, 11, 1))
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert (e.pk in paid(nov)) is nov_paid
    assert paid(f.generate(roles["bureau"], longevity, "2026-12")) == {}


def test_death_mid_month_paid_for_that_month_not_after(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1940, 1, 5))
    registry.record_status_event(actor=roles["community"], elder=e, kind="death", effective_date=D(2026, 10, 31))
    assert paid(f.generate(roles["bureau"], longevity, "2026-10")) == {e.pk: Decimal("50.00")}
    assert paid(f.generate(roles["bureau"], longevity, "2026-11")) == {}


def test_suspended_on_the_first_is_not_paid_and_resumed_is(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1940, 1, 5))
    registry.record_status_event(actor=roles["community"], elder=e, kind="suspend", effective_date=D(2026, 9, 20))
    registry.record_status_event(actor=roles["community"], elder=e, kind="resume", effective_date=D(2026, 11, 1))
    assert paid(f.generate(roles["bureau"], longevity, "2026-09")) == {e.pk: Decimal("50.00")}
    assert paid(f.generate(roles["bureau"], longevity, "2026-10")) == {}
    assert paid(f.generate(roles["bureau"], longevity, "2026-11")) == {e.pk: Decimal("50.00")}


# --- level and category on the 1st ------------------------------------------------------------------------

def test_level_change_mid_month_counts_from_next_month(roles, care):
    e = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    registry.add_category(actor=roles["community"], elder=e, kind="subsistence", start_date=D(2020, 1, 1))
    f.assess(e, 2, datetime.datetime(2026, 1, 10, 10))
    f.assess(e, 3, datetime.datetime(2026, 11, 15, 10))
    assert paid(f.generate(roles["bureau"], care, "2026-11")) == {e.pk: Decimal("100.00")}
    dec = f.generate(roles["bureau"], care, "2026-12")
    assert paid(dec) == {e.pk: Decimal("200.00")}
    line = RollLine.objects.get(roll=dec)
    assert (line.level, line.category) == (3, "subsistence")


def test_level_published_on_the_first_counts_that_month(roles, care):
    e = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    registry.add_category(actor=roles["community"], elder=e, kind="low_income", start_date=D(2020, 1, 1))
    f.assess(e, 4, datetime.datetime(2026, 11, 1, 23, 30))
    assert paid(f.generate(roles["bureau"], care, "2026-11")) == {e.pk: Decimal("200.00")}


def test_category_ending_mid_month_paid_that_month_only(roles, care):
    e = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    cat = registry.add_category(actor=roles["community"], elder=e, kind="subsistence", start_date=D(2020, 1, 1))
    f.assess(e, 4, datetime.datetime(2025, 1, 10, 10))
    registry.end_category(actor=roles["community"], category=cat, end_date=D(2026, 11, 15))
    assert paid(f.generate(roles["bureau"], care, "2026-11")) == {e.pk: Decimal("300.00")}
    assert paid(f.generate(roles["bureau"], care, "2026-12")) == {}


def test_highest_table_row_wins_and_levels_outside_the_rule_get_nothing(roles, care):
    both = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    registry.add_category(actor=roles["community"], elder=both, kind="low_income", start_date=D(2020, 1, 1))
    registry.add_category(actor=roles["community"], elder=both, kind="near_subsistence", start_date=D(2020, 1, 1))
    f.assess(both, 3, datetime.datetime(2025, 1, 10, 10))
    mild = f.elder(roles["community"], 2, birth=D(1950, 5, 5))
    registry.add_category(actor=roles["community"], elder=mild, kind="subsistence", start_date=D(2020, 1, 1))
    f.assess(mild, 1, datetime.datetime(2025, 1, 10, 10))
    unassessed = f.elder(roles["community"], 3, birth=D(1950, 5, 5))
    registry.add_category(actor=roles["community"], elder=unassessed, kind="subsistence", start_date=D(2020, 1, 1))
    roll = f.generate(roles["bureau"], care, "2026-11")
    # 低保边缘 level 3 = 150 beats 经济困难 level 3 = 100.
    assert paid(roll) == {both.pk: Decimal("150.00")}
    assert RollLine.objects.get(roll=roll).category == "near_subsistence"


# --- idempotency and crash recovery -----------------------------------------------------------------------

def _population(roles):
    out = []
    for i, birth in enumerate([D(1930, 3, 3), D(1940, 6, 6), D(1920, 1, 1), D(1946, 12, 2), D(1935, 7, 7)]):
        out.append(f.elder(roles["community"], i + 1, birth=birth, bank_account="" if i == 1 else
                           "6222020200112233445"[:18] + str(i)))
    return out


def test_rerun_changes_nothing(roles, longevity):
    _population(roles)
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    before = list(RollLine.objects.filter(roll=roll).order_by("pk").values_list("pk", "amount", "updated_at"))
    checks = list(RollCheck.objects.filter(roll=roll).order_by("pk").values_list("pk", "kind"))
    again = f.generate(roles["bureau"], longevity, "2026-11")
    assert again.pk == roll.pk
    assert list(RollLine.objects.filter(roll=roll).order_by("pk").values_list("pk", "amount", "updated_at")) == before
    assert sorted(RollCheck.objects.filter(roll=roll).values_list("kind", flat=True)) == sorted(k for _, k in checks)
    assert Roll.objects.filter(programme=longevity, month=D(2026, 11, 1)).count() == 1
    assert again.line_count == 4 and again.total_amount == Decimal("750.00")  # 100 + 50 + 500 + 100


def test_crash_between_steps_then_rerun_equals_a_clean_run(roles, longevity):
    _population(roles)
    region = Region.objects.get(code="511903")
    roll = services.create_roll(actor=roles["bureau"], programme=longevity, jurisdiction=region, month="2026-11")
    cut = services.generate_roll(actor=roles["bureau"], roll=roll, stop_after=1)
    assert cut.status == "generating" and cut.progress < 100
    assert RollCheck.objects.filter(roll=roll).count() == 0  # the checks step never ran
    done = services.generate_roll(actor=roles["bureau"], roll=roll)
    assert done.status == "draft" and done.progress == 100
    crashed = (lines(done), sorted(RollCheck.objects.filter(roll=roll).values_list("line__elder_id", "kind")))
    # A clean run of the same month for a fresh roll gives the same result.
    RollCheck.objects.filter(roll=roll).delete()
    RollLine.objects.filter(roll=roll).delete()
    roll.delete()
    clean = f.generate(roles["bureau"], longevity, "2026-11")
    assert (lines(clean), sorted(RollCheck.objects.filter(roll=clean).values_list("line__elder_id", "kind"))) \
        == crashed
    assert RollCheck.objects.filter(roll=clean, kind="bank_missing").count() == 1


def test_failure_inside_a_step_rolls_it_back_and_is_recorded(roles, longevity, monkeypatch):
    _population(roles)
    region = Region.objects.get(code="511903")
    roll = services.create_roll(actor=roles["bureau"], programme=longevity, jurisdiction=region, month="2026-11")

    def broken(*args, **kwargs):  # the database goes away in the middle of the checks step
        RollCheck.objects.create(roll=roll, line=RollLine.objects.filter(roll=roll).first(), kind="amount",
                                 region_code="x")
        raise RuntimeError("connection lost")

    monkeypatch.setattr(engine, "run_checks", broken)
    with pytest.raises(RuntimeError):
        services.generate_roll(actor=roles["bureau"], roll=roll)
    roll.refresh_from_db()
    assert roll.status == "generating" and "connection lost" in roll.error
    assert RollLine.objects.filter(roll=roll).count() == 4  # step 1 committed
    assert RollCheck.objects.filter(roll=roll).count() == 0  # step 2 rolled back entirely
    monkeypatch.undo()
    done = services.generate_roll(actor=roles["bureau"], roll=roll)
    assert done.status == "draft" and done.line_count == 4


def test_regenerating_an_open_roll_follows_changes_and_an_approved_one_refuses(roles, longevity):
    a, b = f.elder(roles["community"], 1, birth=D(1930, 3, 3)), f.elder(roles["community"], 2, birth=D(1940, 3, 3))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    assert paid(roll) == {a.pk: Decimal("100.00"), b.pk: Decimal("50.00")}
    registry.record_status_event(actor=roles["community"], elder=b, kind="death", effective_date=D(2026, 10, 20))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    assert paid(roll) == {a.pk: Decimal("100.00")}
    Roll.objects.filter(pk=roll.pk).update(status="approved")
    with pytest.raises(services.DomainError):
        f.generate(roles["bureau"], longevity, "2026-11")


# --- adjustments: recovery, back pay, re-issue ------------------------------------------------------------

def test_late_registered_death_is_recovered_next_month(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1940, 1, 5))
    close(f.generate(roles["bureau"], longevity, "2026-09"))
    close(f.generate(roles["bureau"], longevity, "2026-10"))
    # Died on 20 September, registered in November: September stays paid, October was paid wrongly.
    registry.record_status_event(actor=roles["community"], elder=e, kind="death", effective_date=D(2026, 9, 20))
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert lines(nov) == [(e.pk, D(2026, 10, 1), "recovery", Decimal("-50.00"))]
    line = RollLine.objects.get(roll=nov)
    assert line.previous_amount == Decimal("50.00")
    assert line.explain() == "2026-10：当月 1 日不符合发放条件，应发 0 元；已发 50.00 元 → 追回 50.00 元"
    assert nov.total_amount == Decimal("-50.00")
    # Once the recovery is in an approved roll, December does not recover it again.
    close(nov)
    assert lines(f.generate(roles["bureau"], longevity, "2026-12")) == []


def test_late_approved_category_gives_back_pay(roles, care):
    e = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    f.assess(e, 3, datetime.datetime(2026, 1, 10, 10))
    close(f.generate(roles["bureau"], care, "2026-09"))
    close(f.generate(roles["bureau"], care, "2026-10"))
    # 低保 approved in November, effective from 15 August: September and October are owed (August has no roll).
    registry.add_category(actor=roles["community"], elder=e, kind="subsistence", start_date=D(2026, 8, 15))
    nov = f.generate(roles["bureau"], care, "2026-11")
    assert lines(nov) == [(e.pk, D(2026, 9, 1), "back_pay", Decimal("200.00")),
                          (e.pk, D(2026, 10, 1), "back_pay", Decimal("200.00")),
                          (e.pk, D(2026, 11, 1), "regular", Decimal("200.00"))]
    assert nov.total_amount == Decimal("600.00")
    back = RollLine.objects.get(roll=nov, for_month=D(2026, 9, 1))
    assert back.explain() == ("2026-09：2026-09-01 时 76 岁 → 低保 → 能力等级：重度失能 → 200.00 元；"
                              "已发 0.00 元 → 补发 200.00 元")


def test_failed_payment_is_reissued_once(roles, longevity):
    a, b = f.elder(roles["community"], 1, birth=D(1930, 3, 3)), f.elder(roles["community"], 2, birth=D(1940, 3, 3))
    close(f.generate(roles["bureau"], longevity, "2026-10"), failed=[b.pk])
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert lines(nov) == sorted([(a.pk, D(2026, 11, 1), "regular", Decimal("100.00")),
                                 (b.pk, D(2026, 11, 1), "regular", Decimal("50.00")),
                                 (b.pk, D(2026, 10, 1), "reissue", Decimal("50.00"))])
    assert RollLine.objects.get(roll=nov, kind="reissue").explain() == (
        "2026-10：2026-10-01 时 86 岁 → 80–89 岁档 → 50.00 元；上次发放失败 → 重发 50.00 元")
    close(nov)
    assert [k for _, _, k, _ in lines(f.generate(roles["bureau"], longevity, "2026-12"))] == ["regular", "regular"]


def test_unchanged_elders_are_not_recomputed_for_past_months(roles, longevity):
    f.elder(roles["community"], 1, birth=D(1930, 3, 3))
    close(f.generate(roles["bureau"], longevity, "2026-10"))
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert [k for _, _, k, _ in lines(nov)] == ["regular"]


# --- 费随人走 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("moved_on, oct_payer", [
    (D(2026, 10, 1), "511902"),   # lives in 巴州区 on 1 October: 巴州 pays October
    (D(2026, 10, 15), "511903"),  # still in 恩阳区 on the 1st: 恩阳 pays October, 巴州 from November
    (D(2026, 10, 31), "511903"),
])
def test_entitlement_follows_a_move_between_districts(roles, longevity, moved_on, oct_payer):
    e = f.elder(roles["community"], 1, birth=D(1935, 4, 4))
    registry.record_status_event(actor=roles["community"], elder=e, kind="relocate", effective_date=moved_on,
                                 to_region=other_community())
    payers = {}
    for month in ("2026-09", "2026-10", "2026-11"):
        for county, actor in (("511903", roles["bureau"]), ("511902", roles["other_bureau"])):
            roll = f.generate(actor, longevity, month, jurisdiction=county)
            if e.pk in paid(roll):
                payers.setdefault(month, []).append((county, paid(roll)[e.pk]))
    assert payers == {"2026-09": [("511903", Decimal("100.00"))], "2026-10": [(oct_payer, Decimal("100.00"))],
                      "2026-11": [("511902", Decimal("100.00"))]}


def test_move_registered_late_is_recovered_by_one_district_and_back_paid_by_the_other(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1935, 4, 4))
    for county, actor in (("511903", roles["bureau"]), ("511902", roles["other_bureau"])):
        close(f.generate(actor, longevity, "2026-10", jurisdiction=county))
    # Moved to 巴州区 on 15 September, registered in November: 恩阳 paid October wrongly, 巴州 owes it.
    registry.record_status_event(actor=roles["community"], elder=e, kind="relocate", effective_date=D(2026, 9, 15),
                                 to_region=other_community())
    enyang = f.generate(roles["bureau"], longevity, "2026-11", jurisdiction="511903")
    bazhou = f.generate(roles["other_bureau"], longevity, "2026-11", jurisdiction="511902")
    assert lines(enyang) == [(e.pk, D(2026, 10, 1), "recovery", Decimal("-100.00"))]
    assert lines(bazhou) == [(e.pk, D(2026, 10, 1), "back_pay", Decimal("100.00")),
                             (e.pk, D(2026, 11, 1), "regular", Decimal("100.00"))]


def test_moving_into_a_care_home_keeps_the_allowance_unless_the_rule_excludes_institutions(roles):
    prog = f.programme()
    f.rule(prog, {**f.LONGEVITY, "exclude_institution": True}, jurisdiction="5119")
    home = f.elder(roles["community"], 1, birth=D(1935, 4, 4), living_situation="institution")
    at_home = f.elder(roles["community"], 2, birth=D(1935, 4, 4))
    assert paid(f.generate(roles["bureau"], prog, "2026-11")) == {at_home.pk: Decimal("100.00")}
    assert home.pk


# --- checks -----------------------------------------------------------------------------------------------

def test_checks_flag_bank_problems_and_shared_accounts(roles, longevity):
    valid = next(f"622202020011223344{d}" for d in range(10) if engine.valid_bank_account(f"622202020011223344{d}"))
    invalid = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    a = f.elder(roles["community"], 1, birth=D(1930, 3, 3), bank_account=valid)
    b = f.elder(roles["community"], 2, birth=D(1931, 3, 3), bank_account=valid)
    c = f.elder(roles["community"], 3, birth=D(1932, 3, 3), bank_account=invalid)
    d = f.elder(roles["community"], 4, birth=D(1933, 3, 3))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    got = sorted(RollCheck.objects.filter(roll=roll).values_list("line__elder_id", "kind"))
    assert got == sorted([(a.pk, "shared_account"), (b.pk, "shared_account"), (c.pk, "bank_invalid"),
                          (d.pk, "bank_missing")])
    assert roll.open_checks == 4


def test_each_check_kind_says_what_it_is(client, roles, longevity):
    """Two people sharing an account are not one person registered twice: each doubt is its own kind, and
    its group on the roll page and its explanation say that doubt only."""
    valid = next(f"622202020011223344{d}" for d in range(10) if engine.valid_bank_account(f"622202020011223344{d}"))
    c = roles["community"]
    husband = f.elder(c, 1, birth=D(1930, 3, 3), name="张大爷", male=True, bank_account=valid)
    wife = f.elder(c, 2, birth=D(1931, 4, 4), name="张大娘", bank_account=valid)
    twice = [f.elder(c, seq, birth=D(1932, 5, 5), name="李桂英", bank_account=f"95588012345678{seq:04d}")
             for seq in (3, 8)]
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    checks = list(RollCheck.objects.filter(roll=roll).select_related("line"))
    assert sorted((ch.line.elder_id, ch.kind) for ch in checks) == sorted(
        [(husband.pk, "shared_account"), (wife.pk, "shared_account"),
         (twice[0].pk, "duplicate"), (twice[1].pk, "duplicate")])
    for ch in checks:
        if ch.kind == "shared_account":
            assert ch.get_kind_display() == "多人共用银行账户" and "共用同一银行账户" in ch.explain()
        else:
            assert ch.get_kind_display() == "疑似重复身份" and "银行" not in ch.explain()
            assert "同名、同性别、同出生日期" in ch.explain()
    client.force_login(roles["bureau"])
    body = client.get(f"/benefits/rolls/{roll.pk}/").content.decode()
    duplicate = body.split('data-testid="check-group-duplicate"')[1].split("</details>")[0]
    shared = body.split('data-testid="check-group-shared_account"')[1].split("</details>")[0]
    assert "疑似重复身份" in duplicate and "银行账户" not in duplicate and "李桂英" in duplicate
    assert "多人共用银行账户" in shared and "张大爷" in shared and "李桂英" not in shared


def test_every_check_kind_has_an_explanation_of_its_own():
    from django.utils import translation

    from yiyang.benefits.models import CheckKind

    for language in ("zh-hans", "en"):
        with translation.override(language):
            texts = {kind: str(RollCheck(kind=kind, detail="").explain()) for kind in CheckKind.values}
            assert all(texts.values()), texts
            assert len(set(texts.values())) == len(texts), texts


def test_luhn_on_unionpay_numbers():
    assert engine.valid_bank_account("6228480402564890018")  # Luhn-valid 19 digits
    assert not engine.valid_bank_account("6228480402564890019")
    assert engine.valid_bank_account("4100123456789")  # not a 62 card: digits and length only
    assert not engine.valid_bank_account("62284804025648900x")
    assert not engine.valid_bank_account("12345")


def test_resolved_checks_survive_a_rerun(roles, longevity):
    f.elder(roles["community"], 1, birth=D(1930, 3, 3))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    check = RollCheck.objects.get(roll=roll, kind="bank_missing")
    services.resolve_check(actor=roles["bureau"], check=check, resolution="withheld", note="待补录账户")
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    check.refresh_from_db()
    assert check.resolution == "withheld" and roll.open_checks == 0
    assert RollLine.objects.get(roll=roll).status == "withheld"


def test_deceased_in_roll_month_is_flagged_for_confirmation(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1930, 3, 3), bank_account="6228480402564890018")
    registry.record_status_event(actor=roles["community"], elder=e, kind="death", effective_date=D(2026, 11, 10))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    assert paid(roll) == {e.pk: Decimal("100.00")}
    assert list(RollCheck.objects.filter(roll=roll).values_list("kind", flat=True)) == ["deceased"]


# --- concurrency on PostgreSQL ----------------------------------------------------------------------------

@pytest.mark.flushes
@pytest.mark.django_db(transaction=True)
def test_two_processes_generating_the_same_roll_make_one():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent sessions: PostgreSQL")
    import threading

    from yiyang.core.services import load_regions

    load_regions(prefix="5119")
    roles = demo_roles()
    longevity = f.programme()
    f.rule(longevity, f.LONGEVITY, jurisdiction="5119")

    for i in range(30):
        f.elder(roles["community"], i + 1, birth=D(1930 + i % 15, 1 + i % 12, 1 + i % 27), name=f"并发{i}")
    region = Region.objects.get(code="511903")
    errors, barrier = [], threading.Barrier(2)

    def run():
        from django.db import connections

        try:
            barrier.wait()
            roll = services.create_roll(actor=roles["bureau"], programme=longevity, jurisdiction=region,
                                        month="2026-11")
            services.generate_roll(actor=roles["bureau"], roll=roll)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rolls = Roll.objects.filter(programme=longevity, month=D(2026, 11, 1))
    assert rolls.count() == 1
    roll = rolls.get()
    assert roll.status == "draft" and roll.line_count == 30
    assert RollLine.objects.filter(roll=roll).values("elder_id").distinct().count() == 30


def test_category_updated_at_moves_on_end(roles):
    e = f.elder(roles["community"], 1, birth=D(1950, 5, 5))
    cat = registry.add_category(actor=roles["community"], elder=e, kind="subsistence", start_date=D(2020, 1, 1))
    ElderCategory.objects.filter(pk=cat.pk).update(updated_at=timezone.now() - datetime.timedelta(days=30))
    registry.end_category(actor=roles["community"], category=cat, end_date=D(2026, 11, 15))
    cat.refresh_from_db()
    assert cat.updated_at > timezone.now() - datetime.timedelta(minutes=1)


def test_withheld_payment_comes_back_as_back_pay_while_still_owed(roles, longevity):
    e = f.elder(roles["community"], 1, birth=D(1930, 3, 3))
    oct_roll = f.generate(roles["bureau"], longevity, "2026-10")
    services.resolve_check(actor=roles["bureau"], check=RollCheck.objects.get(roll=oct_roll, kind="bank_missing"),
                           resolution="withheld", note="待补录银行账户")
    Roll.objects.filter(pk=oct_roll.pk).update(status="closed")
    assert RollLine.objects.get(roll=oct_roll).status == "withheld"
    nov = f.generate(roles["bureau"], longevity, "2026-11")
    assert lines(nov) == [(e.pk, D(2026, 10, 1), "back_pay", Decimal("100.00")),
                          (e.pk, D(2026, 11, 1), "regular", Decimal("100.00"))]


def test_simulation_raises_a_band_and_lowers_the_floor(roles, longevity):
    from yiyang.benefits import rules

    e92 = f.elder(roles["community"], 1, birth=D(1934, 10, 15))  # 92 on 2026-12-01: 100 → 150
    f.elder(roles["community"], 2, birth=D(1941, 1, 1))  # 85: 50 either way
    f.elder(roles["community"], 3, birth=D(1950, 1, 1))  # 76: joins at floor 75 (50 yuan)
    street2 = Region.objects.filter(code__startswith="511903002", level="community").order_by("code")[0].code
    other = f.elder(roles["bureau"], 4, birth=D(1934, 1, 1), residence=street2)  # another street: 100 → 150
    bands = [dict(b) for b in f.LONGEVITY["bands"]]
    bands[0]["min_age"] = 75
    bands[1]["amount"] = "150"
    proposed = rules.with_changes(f.LONGEVITY, {"min_age": 75, "bands": bands})
    region = Region.objects.get(code="511903")
    lines_before = RollLine.objects.count()
    result = services.simulate(actor=roles["bureau"], programme=longevity, jurisdiction=region, month="2026-12",
                               params=proposed)
    t = result["total"]
    assert (t["current_count"], t["current_cost"]) == (3, Decimal("250.00"))  # 100 + 50 + 100
    assert (t["proposed_count"], t["proposed_cost"]) == (4, Decimal("400.00"))  # 150 + 50 + 50 + 150
    assert (t["gaining"], t["losing"], t["joining"], t["leaving"]) == (2, 0, 1, 0)
    assert t["change"] == Decimal("150.00") and result["annual_change"] == Decimal("1800.00")
    by_street = {r["code"]: r for r in result["regions"]}
    assert by_street["511903001"]["proposed_cost"] == Decimal("250.00")
    assert by_street[other.residence_region_id[:9]]["change"] == Decimal("50.00")
    assert RollLine.objects.count() == lines_before and not Roll.objects.exists()
    assert e92.pk


def test_simulation_is_for_the_bureau_only(roles, longevity):
    region = Region.objects.get(code="511903")
    with pytest.raises(services.DomainError):
        services.simulate(actor=roles["street"], programme=longevity, jurisdiction=region, month="2026-12",
                          params=f.LONGEVITY)
    with pytest.raises(services.DomainError):
        services.simulate(actor=roles["other_bureau"], programme=longevity, jurisdiction=region, month="2026-12",
                          params=f.LONGEVITY)


def test_generation_issues_the_same_queries_for_3_or_12_elders(roles, longevity):
    """Set-based: the number of statements does not grow with the number of people (and the debug cursor,
    which formats every statement, copes with SQLite's strftime patterns)."""
    from django.test.utils import CaptureQueriesContext

    def run(month, n, start):
        for i in range(n):
            f.elder(roles["community"], start + i, birth=D(1930 + i, 1 + i % 12, 1), name=f"规模{start + i}",
                    bank_account="6228480402564890018")
        with CaptureQueriesContext(connection) as ctx:
            roll = f.generate(roles["bureau"], longevity, month)
        return len(ctx.captured_queries), roll

    small, roll3 = run("2026-10", 3, 1)
    large, roll12 = run("2026-09", 9, 10)
    assert (roll3.line_count, roll12.line_count) == (3, 12)
    assert small == large


def test_checks_explain_themselves_in_the_readers_language(roles, longevity):
    from django.utils import translation

    e = f.elder(roles["community"], 1, birth=D(1930, 3, 3))
    registry.record_status_event(actor=roles["community"], elder=e, kind="death", effective_date=D(2026, 11, 10))
    roll = f.generate(roles["bureau"], longevity, "2026-11")
    got = {c.kind: c for c in RollCheck.objects.filter(roll=roll)}
    assert got["deceased"].explain() == "死亡日期 2026-11-10"
    assert got["bank_missing"].explain() == "未登记银行账户，请补录后再发放"
    with translation.override("en"):
        assert "2026-11-10" in got["deceased"].explain() and "死亡" not in got["deceased"].explain()
