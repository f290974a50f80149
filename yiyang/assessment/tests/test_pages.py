"""The pages: request from the elder page, agency inbox, my list, the tablet form with autosave, submission,
review, the result, due reassessments, the home panels; scope (404) and query counts."""

import datetime

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from yiyang.assessment import services
from yiyang.assessment.models import Assessment, AssessmentPolicy, CurrentLevel, Status
from yiyang.core.models import AuditEvent, Region

from .factories import INFO, MILD, assessment_world, assigned, elder, published, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return assessment_world()


def test_community_worker_requests_from_the_elder_page_link(client, roles):
    person = elder(roles, name="何淑珍")
    client.force_login(roles["community"])
    url = reverse("assessment:request") + f"?elder={person.pk}"
    page = client.get(url)
    assert page.status_code == 200 and "何淑珍" in page.content.decode()
    resp = client.post(url, {"elder": person.pk, "reason": "first", "agency": roles["agency"].pk, "note": "出院"})
    a = Assessment.objects.get(elder=person)
    assert resp.status_code == 302 and resp.url == reverse("assessment:detail", args=[a.pk])
    assert a.request_note == "出院" and a.requested_by == roles["community"]
    # A second request shows the one under way instead of the form.
    assert "已有进行中的评估" in client.get(url).content.decode()
    resp = client.post(url, {"elder": person.pk, "reason": "first", "agency": roles["agency"].pk})
    assert resp.status_code == 422 and "已有进行中的评估" in resp.content.decode()


def test_request_page_is_404_outside_the_jurisdiction(client, roles):
    person = elder(roles)
    client.force_login(roles["other_street"])
    assert client.get(reverse("assessment:request") + f"?elder={person.pk}").status_code == 404
    client.force_login(roles["assessor"])
    assert client.get(reverse("assessment:request") + f"?elder={person.pk}").status_code == 404


def test_inbox_assigns_two_assessors(client, roles):
    a = services.request_assessment(actor=roles["community"], elder=elder(roles, name="蒲国华"), reason="first")
    client.force_login(roles["reviewer"])
    page = client.get(reverse("assessment:inbox")).content.decode()
    assert "蒲国华" in page and "评估员 何静" in page
    today = timezone.localdate().isoformat()
    resp = client.post(reverse("assessment:assign", args=[a.pk]), {
        "assessor_1": roles["assessor"].pk, "assessor_2": roles["assessor"].pk, "scheduled_for": today,
        "next": "inbox"})
    assert resp.status_code == 302 and resp.url == reverse("assessment:inbox")
    a.refresh_from_db()
    assert a.status == Status.REQUESTED
    client.post(reverse("assessment:assign", args=[a.pk]), {
        "assessor_1": roles["assessor"].pk, "assessor_2": roles["assessor2"].pk, "scheduled_for": today,
        "next": "inbox"})
    a.refresh_from_db()
    assert (a.status, a.assessor_1, a.assessor_2) == (Status.ASSIGNED, roles["assessor"], roles["assessor2"])
    client.force_login(roles["assessor"])
    mine = client.get(reverse("assessment:mine")).content.decode()
    assert "蒲国华" in mine and "开始评估" in mine


def test_tablet_form_autosaves_and_shows_running_subtotals(client, roles):
    a = assigned(roles, elder(roles))
    client.force_login(roles["assessor"])
    page = client.get(reverse("assessment:form", args=[a.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('class="assess-item') >= 26 + 3 and "能独立使用餐具" in html and "已完成 0 / 26 项" in html
    assert AuditEvent.objects.filter(action="view_health", object_id=str(a.pk)).count() == 1
    resp = client.post(reverse("assessment:answer", args=[a.pk]), {"B.1.1": "4"}, HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 200 and 'id="progress"' in body and "已完成 1 / 26 项" in body
    assert 'id="subtotal-sec-B-1" hx-swap-oob="true">4 / 32' in body
    resp = client.post(reverse("assessment:answer", args=[a.pk]), {
        "info_present": "1", "info_informant_name": "杨志强", "info_informant_relationship": "child",
        "info_diagnoses": ["I10", "F03"], "info_diagnoses_other": "e78", "info_risk_fall": "1",
        "info_health_problems": ["pain"]}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    a.refresh_from_db()
    assert a.info["diagnoses"] == ["I10", "F03", "E78"] and a.info["risk_events_30d"]["fall"] == 1
    assert a.items == {"B.1.1": 4} and a.status == Status.IN_PROGRESS
    # An invalid score answers in the panel, nothing saved.
    resp = client.post(reverse("assessment:answer", args=[a.pk]), {"B.1.2": "7"}, HTTP_HX_REQUEST="true")
    assert "0～4" in resp.content.decode()
    a.refresh_from_db()
    assert a.items == {"B.1.1": 4}


def test_a_level_posted_with_the_form_is_refused(client, roles):
    a = assigned(roles, elder(roles))
    client.force_login(roles["assessor"])
    resp = client.post(reverse("assessment:answer", args=[a.pk]), {"B.1.1": "4", "final_level": "0"},
                       HTTP_HX_REQUEST="true")
    assert "不能手工填写" in resp.content.decode()
    a.refresh_from_db()
    assert a.items == {}
    services.save_answers(actor=roles["assessor"], assessment=a, items=MILD, info=INFO)
    resp = client.post(reverse("assessment:submit", args=[a.pk]), {
        "assessed_on": timezone.localdate().isoformat(), "final_level": "0"})
    assert resp.status_code == 422 and "不能手工填写" in resp.content.decode()
    a.refresh_from_db()
    assert a.status == Status.IN_PROGRESS and a.final_level is None


def test_submit_refuses_and_lists_missing_items(client, roles):
    a = assigned(roles, elder(roles))
    items = dict(MILD)
    del items["B.3.4"]
    services.save_answers(actor=roles["assessor"], assessment=a, items=items, info=INFO)
    client.force_login(roles["assessor2"])
    resp = client.post(reverse("assessment:submit", args=[a.pk]), {"assessed_on": timezone.localdate().isoformat()})
    html = resp.content.decode()
    assert resp.status_code == 422 and "缺少“记忆”（B.3.4）的得分" in html
    assert 'class="assess-item missing" id="item-B-3-4"' in html
    services.save_answers(actor=roles["assessor"], assessment=a, items={"B.3.4": 3})
    resp = client.post(reverse("assessment:submit", args=[a.pk]), {"assessed_on": timezone.localdate().isoformat()})
    assert resp.status_code == 302
    a.refresh_from_db()
    assert a.status == Status.SUBMITTED and a.total == 76


def test_review_page_publishes_and_the_result_page_shows_the_level(client, roles):
    a = submitted(roles, elder(roles, name="文德明"))
    client.force_login(roles["assessor"])
    own = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
    assert "须由本机构其他评估员审核" in own and 'data-testid="publish"' not in own
    client.force_login(roles["reviewer"])
    page = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
    assert 'data-testid="publish"' in page and "杨志强" in page  # the agency sees Annex A
    resp = client.post(reverse("assessment:publish", args=[a.pk]), {"note": "同意"})
    assert resp.status_code == 302
    a.refresh_from_db()
    assert a.status == Status.PUBLISHED
    client.force_login(roles["community"])
    page = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
    assert "轻度失能" in page and 'data-testid="total">76<' in page and "打印报告" in page
    assert "杨志强" not in page and "仅评估机构、民政局" in page  # no health data for the community
    assert 'data-testid="dispute"' in page


def test_send_back_from_the_review_page(client, roles):
    a = submitted(roles, elder(roles))
    client.force_login(roles["reviewer"])
    client.post(reverse("assessment:return", args=[a.pk]), {"return-reason": "B.2.4 请复核"})
    a.refresh_from_db()
    assert a.status == Status.RETURNED
    client.force_login(roles["assessor"])
    assert "B.2.4 请复核" in client.get(reverse("assessment:form", args=[a.pk])).content.decode()


def test_pages_answer_404_outside_scope(client, roles):
    a = published(roles, elder(roles))
    for role in ("other_street", "other_bureau", "provider"):
        client.force_login(roles[role])
        assert client.get(reverse("assessment:detail", args=[a.pk])).status_code == 404, role
    client.force_login(roles["other_street"])
    assert client.get(reverse("assessment:report", args=[a.pk])).status_code == 404
    client.force_login(roles["community"])
    assert client.get(reverse("assessment:form", args=[a.pk])).status_code == 404  # not an assessor page


def test_assessor_not_on_the_assessment_cannot_open_its_form(client, roles):
    a = assigned(roles, elder(roles))
    client.force_login(roles["reviewer"])  # another assessor of the agency: not theirs to see
    assert client.get(reverse("assessment:form", args=[a.pk])).status_code == 404
    b = submitted(roles, elder(roles, seq=2))  # awaiting the agency's review: they see it, not its form
    resp = client.get(reverse("assessment:form", args=[b.pk]), follow=True)
    assert "您不是这次评估的评估员" in resp.content.decode()


def test_due_list_and_home_panels(client, roles):
    people = [elder(roles, seq=i, name=f"到期{i}") for i in (1, 2)]
    for p in people:
        published(roles, p)
    CurrentLevel.objects.filter(elder=people[0]).update(reassess_by=timezone.localdate() - datetime.timedelta(days=5))
    client.force_login(roles["community"])
    page = client.get(reverse("assessment:due")).content.decode()
    assert "到期1" in page and "到期2" not in page and "已逾期" in page and "申请复评" in page
    home = client.get("/").content.decode()
    assert 'data-testid="assessment-summary"' in home
    a = assigned(roles, elder(roles, seq=3, name="今日老人"))
    assert a.scheduled_for == timezone.localdate()
    client.force_login(roles["assessor"])
    home = client.get("/").content.decode()
    assert 'data-testid="assessment-today"' in home and "今日老人" in home


def test_policy_page_for_the_bureau(client, roles):
    client.force_login(roles["bureau"])
    assert "默认设置" in client.get(reverse("assessment:policy")).content.decode()
    client.post(reverse("assessment:policy"), {"stack_adjustments": "on", "validity_months": "12"})
    p = AssessmentPolicy.objects.get(region=Region.objects.get(code="511903"))
    assert p.stack_adjustments and p.validity_months == 12
    client.force_login(roles["street"])
    assert client.get(reverse("assessment:policy")).status_code == 404


def test_elder_levels_snippet_shows_the_history(rf, roles):
    person = elder(roles)
    published(roles, person)
    request = rf.get("/")
    request.user = roles["community"]
    html = Template("{% load assessment_tags %}{% elder_levels elder %}").render(
        Context({"elder": person, "request": request}))
    assert "当前能力等级" in html and "轻度失能" in html and "GB/T 42195-2022" in html
    assert 'data-testid="request-assessment"' in html


def test_list_pages_do_not_grow_queries_with_rows(client, roles):
    client.force_login(roles["community"])
    people = [elder(roles, seq=i) for i in range(1, 4)]
    published(roles, people[0])
    CurrentLevel.objects.update(reassess_by=timezone.localdate())

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = {u: count(u) for u in (reverse("assessment:list"), reverse("assessment:due"))}
    for p in people[1:]:
        published(roles, p)
    CurrentLevel.objects.update(reassess_by=timezone.localdate())
    for url, n in few.items():
        assert count(url) == n, url
    client.force_login(roles["reviewer"])
    for p in [elder(roles, seq=i) for i in range(4, 6)]:
        services.request_assessment(actor=roles["community"], elder=p, reason="first")
    n = count(reverse("assessment:inbox"))
    services.request_assessment(actor=roles["community"], elder=elder(roles, seq=6), reason="first")
    assert count(reverse("assessment:inbox")) == n
