"""The printed report: a real PDF from WeasyPrint, its text extracted with pypdf and checked figure by figure."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from yiyang.assessment.models import Assessment, CurrentLevel, Reason, Source, Status
from yiyang.core.models import AuditEvent

from .factories import MILD, assessment_world, elder, published

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Table cells come out with their own spacing; compare without whitespace.
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture(scope="module")
def roles_and_report(django_db_blocker, django_db_setup):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            roles = assessment_world()
            person = elder(roles, name="何淑珍")
            a = published(roles, person, info={"diagnoses": ["F03", "I10"], "risk_events_30d": {"fall": 1},
                                               "medication": "多奈哌齐 5mg 每晚一次"})
            yield roles, a
            transaction.set_rollback(True)


def test_report_has_the_right_figures_in_chinese(client, roles_and_report):
    roles, a = roles_and_report
    client.force_login(roles["reviewer"])
    resp = client.get(reverse("assessment:report", args=[a.pk]))
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF")
    text = pdf_text(resp.content)
    for expected in [
        "老年人能力评估报告", "GB/T42195-2022", "老年人能力评估规范", a.number, "首次评估",
        "何淑珍", "女", a.elder.id_number_masked,
        # items with their scores, subtotals (29 + 12 + 25 + 10 = 76)
        "B.1.1进食", "4/4", "B.2.4上下楼梯", "2/3", "小计29/32", "小计12/15", "小计25/28", "小计10/15",
        "总分76/90", "能力初步等级轻度失能",
        # F03 raises one level: 轻度 → 中度
        "确诊痴呆或其他精神和行为障碍（F03）", "能力最终等级：中度失能",
        "评估员（主评）评估员陈明" if roles["assessor"].display_name else "评估员（主评）assessor",
        "评估员（协评）评估员何静", "审核人审核员罗军",
        a.assessed_on.strftime("%Y年") + str(a.assessed_on.month) + "月", "有效期至",
        "多奈哌齐", "杨志强",
    ]:
        assert expected in text, expected
    assert AuditEvent.objects.filter(action="view_health", object_id=str(a.pk), detail="PDF报告").exists()


def test_report_for_the_community_leaves_out_health_data(client, roles_and_report):
    roles, a = roles_and_report
    client.force_login(roles["community"])
    resp = client.get(f"/api/v1/assessments/{a.pk}/report.pdf")
    assert resp.status_code == 200
    text = pdf_text(resp.content)
    assert "中度失能" in text and "76/90" in text
    assert "多奈哌齐" not in text and "I10" not in text and "杨志强" not in text
    # Which levels the change joined, not the diagnosis behind it, nor even which health rule applied.
    assert "依据老年人健康状况的等级变更规则调整：轻度失能→中度失能" in text
    assert "F03" not in text and "痴呆" not in text and "跌倒" not in text
    # Nor the item scores: the four subtotals and the total only.
    assert "小计29/32" in text and "B.1.1" not in text and "进食" not in text


def test_legacy_results_stay_readable(client, roles_and_report):
    """An MZ/T 039-2013 result (four levels 0–3, no total) as migrated from the old system."""
    roles, a = roles_and_report
    person = elder(roles, seq=9, name="旧标准老人")
    # ADL 95 (bathing needs help) → grade 1 轻度受损; the rest intact → level 1
    items = {"B.1.1": 10, "B.1.2": 0, "B.1.3": 5, "B.1.4": 10, "B.1.5": 10, "B.1.6": 10, "B.1.7": 10, "B.1.8": 15,
             "B.1.9": 15, "B.1.10": 10, "B.2.1": 0, "B.2.2": 0, "B.2.3": 0, "B.3.1": 0, "B.3.2": 0, "B.3.3": 0,
             "B.3.4": 0, "B.4.1": 1, "B.4.2": 1, "B.4.3": 0, "B.4.4": 0, "B.4.5": 0}
    from django.utils import timezone

    from yiyang.assessment import services

    old = Assessment(elder=person, county_code="511903", region_code=person.residence_region_id,
                     reason=Reason.FIRST, source=Source.STAFF, template_code="MZ/T 039-2013",
                     assessor_1=roles["assessor"], assessor_2=roles["assessor2"], reviewed_by=roles["reviewer"],
                     agency=roles["agency"], items=items, info={"informant_name": "本人"})
    services.apply_result(old, services.score_of(old, stack=False))
    now = timezone.now()
    old.status, old.published_at, old.valid_until, old.assessed_on = Status.PUBLISHED, now, now.date(), now.date()
    old.save()
    CurrentLevel.objects.create(elder=person, assessment=old, template_code=old.template_code, level=old.final_level,
                                published_at=now, valid_until=now.date(), reassess_by=now.date(), county_code="511903")
    assert (old.total, old.final_level) == (None, 1)
    client.force_login(roles["bureau"])
    page = client.get(reverse("assessment:detail", args=[old.pk])).content.decode()
    assert "MZ/T 039-2013" in page and "轻度失能" in page and "日常生活活动" in page
    text = pdf_text(client.get(reverse("assessment:report", args=[old.pk])).content)
    assert "MZ/T039-2013" in text and "历史标准" in text and "能力最终等级：轻度失能" in text and "总分" not in text
    levels = client.get(f"/api/v1/assessments/elders/{person.pk}/levels").json()
    assert levels["history"][0]["legacy"] is True and levels["current_level_name"] == "轻度失能"


def test_no_report_before_submission(client, roles_and_report):
    roles, a = roles_and_report
    fresh = services_request(roles)
    client.force_login(roles["community"])
    assert client.get(reverse("assessment:report", args=[fresh.pk])).status_code == 404
    assert client.get(f"/api/v1/assessments/{fresh.pk}/report.pdf").status_code == 409


def services_request(roles):
    from yiyang.assessment import services

    return services.request_assessment(actor=roles["community"], elder=elder(roles, seq=12), reason="first")


def test_mild_items_are_the_fixture():
    assert sum(MILD.values()) == 76
