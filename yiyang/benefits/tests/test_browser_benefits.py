"""End to end in chromium: the bureau raises the 90–99 band of 高龄津贴 to 150 yuan, sees the cost in the
simulation, adopts it from next month, generates next month's roll, clears its checks, submits it, the street
signs its part and the bureau approves; the street cannot download the payment file, and the family finds the
mother's new amount, explained, from its menu."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from yiyang.benefits import rules
from yiyang.benefits.models import Roll, RollLine, RuleVersion
from yiyang.benefits.tests import factories as f
from yiyang.browser_testing import nav_to, sign_in, wait_for_object_page
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import PASSWORD, demo_roles
from yiyang.registry.models import FamilyLink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def roles():
    load_regions(prefix="5119")
    return demo_roles()


def switch_user(page, username):
    page.context.clear_cookies()
    sign_in(page, username, PASSWORD)


def test_raise_a_band_simulate_adopt_generate_and_approve(page, roles):
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    nxt = rules.add_months(timezone.localdate().replace(day=1), 1)
    c = roles["community"]
    old = f.elder(c, 1, birth=datetime.date(nxt.year - 93, 1, 15), name="赵德明", bank_name="农商银行",
                  bank_account="955880123456789012")
    f.elder(c, 2, birth=datetime.date(nxt.year - 85, 1, 15), name="钱秀兰")  # no bank account: a check

    # 1. The bureau opens the rule of 高龄津贴 and raises the 90–99 band to 150 yuan.
    sign_in(page, "bureau", PASSWORD)
    nav_to(page, "补贴发放")
    page.get_by_role("link", name="补贴项目与规则").click()
    assert "90–99 岁档：100.00 元/月" in page.get_by_test_id("rule-longevity").inner_text()
    page.get_by_test_id("edit-longevity").click()
    page.wait_for_url("**/benefits/programmes/longevity/rule/")
    page.get_by_label("90 岁档金额").fill("150")

    # 2. The simulation shows the cost of the change, and writes nothing.
    page.get_by_test_id("simulate").click()
    sim = page.get_by_test_id("simulation")
    sim.wait_for()
    assert page.get_by_test_id("sim-change").inner_text() == "+50.00"
    assert page.get_by_test_id("sim-annual").inner_text() == "+600.00"
    assert "增发 1 人" in page.get_by_test_id("sim-people").inner_text()
    assert "登科街道" in page.get_by_test_id("sim-regions").inner_text()
    assert RuleVersion.objects.count() == 1

    # 3. Adopted from next month, with a note.
    page.fill("#rule-note", "90–99 岁档提高至 150 元")
    page.get_by_test_id("adopt").click()
    page.wait_for_url("**/benefits/programmes/*")
    assert "已启用高龄津贴规则第 2 版" in page.locator(".messages").inner_text()
    assert "90–99 岁档：150.00 元/月" in page.get_by_test_id("upcoming-longevity").inner_text()
    rule = RuleVersion.objects.get(version=2)
    assert rule.valid_from == nxt and rule.note == "90–99 岁档提高至 150 元"

    # 4. Next month's roll: generated, explained, its check cleared, submitted.
    page.get_by_role("link", name="发放名册").click()
    page.fill("#id_month", nxt.strftime("%Y-%m"))
    page.get_by_test_id("generate-roll").click()
    wait_for_object_page(page, "/benefits/rolls/")
    assert page.get_by_test_id("roll-status").inner_text() == "草稿"
    assert page.get_by_test_id("total-amount").inner_text() == "200.00"
    lines = page.get_by_test_id("line-table").inner_text()
    assert "90–99 岁档 → 150.00 元" in lines and "80–89 岁档 → 50.00 元" in lines
    page.get_by_test_id("checks").get_by_role("button", name="核实无误", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_test_id("no-checks").is_visible()
    page.get_by_test_id("submit-review").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("roll-status").inner_text() == "街道审核中"
    roll = Roll.objects.get(month=nxt)

    # 5. The street signs its part; the bureau approves.
    switch_user(page, "street")
    page.goto(page.base_url + f"/benefits/rolls/{roll.pk}/")
    page.get_by_test_id("sign-511903001").click()
    page.wait_for_load_state()
    assert "登科街道 已审核通过" in page.locator(".messages").inner_text()
    switch_user(page, "bureau")
    page.goto(page.base_url + f"/benefits/rolls/{roll.pk}/")
    page.get_by_test_id("approve").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("roll-status").inner_text() == "已审批"
    assert page.get_by_test_id("export-xlsx").is_visible()
    roll.refresh_from_db()
    assert roll.status == "approved" and roll.total_amount == Decimal("200.00")
    assert RollLine.objects.get(roll=roll, elder=old).amount == Decimal("150.00")

    # 6. The street may not download the payment file (only its review list); the family finds the mother's
    # benefits from the menu, explained.
    switch_user(page, "street")
    page.goto(page.base_url + f"/benefits/rolls/{roll.pk}/")
    assert page.get_by_test_id("export-lines").is_visible() and page.get_by_test_id("export-xlsx").count() == 0
    FamilyLink.objects.create(user=roles["family"], elder=old, relationship="daughter")
    switch_user(page, "family")
    page.locator("nav.mainnav").get_by_role("link", name="补贴明细").click()
    page.wait_for_url("**/benefits/mine/")
    mine = page.get_by_test_id(f"mine-{old.pk}").inner_text()
    age = rules.age_on(old.birth_date, nxt)
    assert f"{nxt.isoformat()} 时 {age} 岁 → 90–99 岁档 → 150.00 元" in mine and "已审批，待银行发放" in mine
    assert "钱秀兰" not in page.content()
    switch_user(page, "bureau")

    # 7. The totals page draws next month's amounts per street (ECharts, served from our own static files).
    page.goto(page.base_url + f"/benefits/totals/?month={nxt:%Y-%m}&level=9")
    page.locator("#totals-chart svg").first.wait_for()
    assert "登科街道" in page.get_by_test_id("totals").inner_text()
