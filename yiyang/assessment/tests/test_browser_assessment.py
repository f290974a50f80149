"""End to end in chromium: a community worker requests, the agency assigns, an assessor fills the whole form
on a tablet, another assessor of the agency publishes; the result, the PDF and the calculator agree."""

import datetime
import json

import pytest
from django.test import Client

from yiyang.assessment import selectors
from yiyang.assessment.models import Assessment, Status
from yiyang.browser_testing import sign_in, wait_for_object_page
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import PASSWORD
from yiyang.registry.models import Elder

from .factories import MILD, assessment_world, elder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def roles():
    load_regions(prefix="5119")
    return assessment_world()


def switch_user(page, username):
    page.context.clear_cookies()
    sign_in(page, username, PASSWORD)


def test_request_assess_on_a_tablet_review_and_publish(page, roles):
    person = elder(roles, name="何淑珍", birth=datetime.date(1936, 4, 2))
    # 1. The community worker requests a first assessment from the elder's link.
    sign_in(page, "community", PASSWORD)
    page.goto(page.base_url + f"/assessment/request/?elder={person.pk}")
    page.get_by_label("首次评估").check()
    page.fill("#id_note", "申请护理补贴")
    page.get_by_test_id("submit-request").click()
    wait_for_object_page(page, "/assessment/")
    assert page.get_by_test_id("status").inner_text() == "待派单"
    a = Assessment.objects.get(elder=person)

    # 2. The agency assigns two assessors for today.
    switch_user(page, "assessor")
    page.goto(page.base_url + "/assessment/inbox/")
    row = page.locator("[data-testid=to-assign] tr", has_text="何淑珍")
    row.locator("select[name=assessor_1]").select_option(str(roles["assessor"].pk))
    row.locator("select[name=assessor_2]").select_option(str(roles["assessor2"].pk))
    row.get_by_role("button", name="派单").click()
    page.wait_for_load_state()
    assert "已派单" in page.locator(".messages").inner_text()

    # 3. On a tablet: today's list, then the whole form, saved answer by answer.
    page.set_viewport_size(TABLET)
    page.goto(page.base_url + "/assessment/mine/")
    page.locator("[data-testid=today] li", has_text="何淑珍").get_by_role("link", name="开始评估").click()
    page.wait_for_url(f"**/assessment/{a.pk}/form/")
    page.fill("#informant", "杨志强")
    page.select_option("#relationship", "child")  # a change: the Annex A block autosaves
    page.locator("label.check", has_text="痴呆（未特指）").click()
    page.wait_for_function("() => document.querySelector('#progress .saved') !== null")
    for code, score in MILD.items():
        page.locator(f"#item-{code.replace('.', '-')} input[value='{score}']").check()
    page.wait_for_function("() => document.querySelector('[data-testid=answered]').innerText.includes('26 / 26')")
    assert page.get_by_test_id("running-total").inner_text() == "76 / 90"
    assert page.get_by_test_id("progress-B.1").inner_text() == "29 / 32"
    assert "中度失能" in page.locator("#progress .preview").inner_text()  # 轻度 + dementia → 中度 (preview)
    a.refresh_from_db()
    assert a.items == MILD and a.info["diagnoses"] == ["F03"] and a.status == Status.IN_PROGRESS
    page.get_by_test_id("submit-assessment").click()
    page.wait_for_url(f"**/assessment/{a.pk}/")
    assert page.get_by_test_id("status").inner_text() == "待审核"

    # 4. Another assessor of the agency reviews and publishes.
    page.set_viewport_size({"width": 1280, "height": 900})
    switch_user(page, "reviewer")
    page.goto(page.base_url + "/assessment/inbox/")
    page.locator("[data-testid=to-review] tr", has_text="何淑珍").get_by_role("link", name="审核").click()
    page.get_by_test_id("publish").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "已发布"
    result = page.get_by_test_id("result").inner_text()
    assert "中度失能" in result and "76" in result and "确诊痴呆或其他精神和行为障碍（F03）" in result
    pdf = page.request.get(page.url + "report.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"

    # 5. The elder's current level and the list filter show it; the calculator agrees with the page.
    a.refresh_from_db()
    assert (a.status, a.total, a.final_level, a.reviewed_by) == (Status.PUBLISHED, 76, 2, roles["reviewer"])
    assert selectors.current_levels([person.pk])[person.pk]["name"] == "中度失能"
    visible = Elder.objects.restrict(roles["community"])
    assert list(selectors.filter_elders_by_level(visible, "2")) == [person]
    client = Client()
    client.force_login(roles["community"])
    calc = client.post("/api/v1/assessments/score", data=json.dumps({"items": MILD, "diagnoses": ["F03"]}),
                       content_type="application/json").json()
    assert (calc["total"], calc["final_level"], calc["subtotals"]) == (a.total, a.final_level, a.subtotals)
