"""Who is shown which part of an assessment (policy.disclosure), identically in the page, the API and the PDF,
with every read of the health record audited; and what an assessor sees of the person they visit."""

import io
import json

import pytest
from django.urls import reverse
from pypdf import PdfReader

from yiyang.assessment import services
from yiyang.core.models import AuditEvent, Role
from yiyang.core.tests.factories import make_user
from yiyang.registry import services as registry
from yiyang.registry.models import FamilyLink

from .factories import MILD, assessment_world, assigned, elder, published

pytestmark = pytest.mark.django_db

# Annex A of the person below: dementia (F03, one level up), a fall and a wandering in 30 days (two events: the
# second one-level-up rule, which does not stack by default), medication, and who gave the information.
ANNEX = {"informant_name": "杨志强", "informant_relationship": "child", "diagnoses": ["F03", "I10"],
         "risk_events_30d": {"fall": 1, "wandering": 1}, "medication": "多奈哌齐 5mg 每晚一次"}
# Text that only the health record carries, in any channel (the API in Chinese and English).
HEALTH_MARKERS = ("F03", "I10", "痴呆", "跌倒", "走失", "多奈哌齐", "杨志强", "dementia", "Dementia", "wander",
                  "Wander", "fall ", "falls", "Fall", "risk_events", "dementia_or_mental_disorder")
# An item's code and name: only where the item scores are shown (the subtotals are B.1 … B.4).
ITEM_MARKERS = ("B.1.1", "进食", "上下楼梯")

# Hand-written from DESIGN.md §4 and the table in policy.py: street and community workers see the level and
# the totals; the bureau, the agency's assessors and reviewer, and the family see the item scores and the
# health record as well.
FULL = {"items", "health"}
EXPECTED = {"bureau": FULL, "street": set(), "community": set(), "assessor": FULL, "assessor2": FULL,
            "reviewer": FULL, "family": FULL}


@pytest.fixture
def world():
    roles = assessment_world()
    person = elder(roles, name="何淑珍")
    FamilyLink.objects.create(user=roles["family"], elder=person, relationship="daughter")
    a = published(roles, person, info=ANNEX)
    assert (a.total, a.preliminary_level, a.final_level) == (76, 1, 2)  # 轻度 + F03 → 中度, events not stacked
    return roles, a


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def parts_in(text: str) -> set:
    got = set()
    if any(m in text for m in ITEM_MARKERS):
        got.add("items")
    if any(m in text for m in HEALTH_MARKERS):
        got.add("health")
    return got


def test_street_and_community_get_no_health_data_from_the_api(client, world):
    """The reported leak: `adjustments[].description_zh` carried "确诊痴呆…（F03）" and the events."""
    roles, a = world
    for role in ("street", "community"):
        client.force_login(roles[role])
        for lang in ("zh-hans", "en"):
            body = client.get(f"/api/v1/assessments/{a.pk}", HTTP_ACCEPT_LANGUAGE=lang).json()
            text = json.dumps(body, ensure_ascii=False)
            assert [m for m in HEALTH_MARKERS if m in text] == [], (role, lang)
            assert body["info"] is None and body["items"] is None and body["missing"] is None
            assert body["disclosure"] == {"items": False, "health": False, "visit": True}
            # The level change is there, with the levels it joined and nothing of why.
            assert [(x["rule"], x["from_level"], x["to_level"]) for x in body["adjustments"]] == [
                ("health_information", 1, 2)]
            assert body["adjustments"][0]["description_zh"] == (
                "依据老年人健康状况的等级变更规则调整：轻度失能 → 中度失能")
            assert body["adjustments"][0]["description_en"] == (
                "Level changed under a rule on the person's health: Mild disability → Moderate disability")
            assert (body["total"], body["final_level"], body["subtotals"]) == (
                76, 2, {"B.1": 29, "B.2": 12, "B.3": 25, "B.4": 10})
    assert not AuditEvent.objects.filter(action="view_health", actor__role__in=["street", "community"]).exists()


def test_each_role_is_shown_the_same_parts_in_page_api_and_pdf(client, world):
    roles, a = world
    outsider = make_user("assessor4", Role.ASSESSOR, organisation=roles["agency"])
    wrong = []
    for role, expected in EXPECTED.items():
        client.force_login(roles[role])
        before = AuditEvent.objects.filter(action="view_health", actor=roles[role]).count()
        page = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
        api = json.dumps(client.get(f"/api/v1/assessments/{a.pk}").json(), ensure_ascii=False)
        pdf = pdf_text(client.get(reverse("assessment:report", args=[a.pk])).content)
        for channel, text in (("page", page), ("api", api), ("pdf", pdf)):
            if parts_in(text) != expected:
                wrong.append((role, channel, sorted(parts_in(text)), sorted(expected)))
        audited = list(AuditEvent.objects.filter(action="view_health", actor=roles[role]).order_by("id")
                       .values_list("detail", flat=True)[before:])
        if audited != (["查看评估详情", "API", "PDF报告"] if "health" in expected else []):
            wrong.append((role, "audit", audited))
    assert not wrong, f"(role, channel, shown, expected) {wrong}"
    # An assessor of the same agency who neither assessed nor reviewed it sees nothing of it.
    client.force_login(outsider)
    for url in (reverse("assessment:detail", args=[a.pk]), f"/api/v1/assessments/{a.pk}",
                reverse("assessment:report", args=[a.pk]), f"/api/v1/assessments/{a.pk}/report.pdf"):
        assert client.get(url).status_code == 404, url


def test_the_assessor_sees_what_the_visit_needs_and_nothing_of_the_register(client):
    roles = assessment_world()
    person = elder(roles, name="蒲国华", address="登科街道健康路12号3单元", phone="13990001111",
                   bank_name="中国农业银行", bank_account="6228480402564890018", bank_account_holder="蒲国华")
    registry.add_contact(actor=roles["community"], elder=person, name="蒲小红", relationship="daughter",
                         phone="13990002222", is_guardian=True)
    a = assigned(roles, person)
    full_id = person.id_number
    client.force_login(roles["assessor"])
    # The register's elder page and API are not the assessor's (they carried the bank account).
    assert client.get(reverse("registry:elder_detail", args=[person.pk])).status_code == 404
    assert client.get(f"/api/v1/elders/{person.pk}").status_code == 404
    # The assessment carries the visit: where, a phone, the guardian; no bank, no full ID number.
    page = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
    body = client.get(f"/api/v1/assessments/{a.pk}").json()
    assert body["visit"] == {
        "address": "登科街道健康路12号3单元", "location": "登科街道健康路12号3单元", "phone": "13990001111",
        "region": person.residence_region.path_name(), "id_number_masked": person.id_number_masked,
        "contact": {"name": "蒲小红", "relationship": "女儿", "phone": "13990002222", "is_guardian": True}}
    for text in (page, json.dumps(body, ensure_ascii=False)):
        assert "健康路12号" in text and "13990001111" in text and "13990002222" in text
        for secret in ("中国农业银行", "6228480402564890018", "4890018", full_id):
            assert secret not in text, secret
    # Once the visit has been made, the agency no longer needs the phone numbers.
    services.save_answers(actor=roles["assessor"], assessment=a, items=MILD, info={"informant_name": "蒲小红"})
    services.submit(actor=roles["assessor"], assessment=a)
    body = client.get(f"/api/v1/assessments/{a.pk}").json()
    page = client.get(reverse("assessment:detail", args=[a.pk])).content.decode()
    assert body["visit"] is None and body["disclosure"]["visit"] is False
    assert "13990002222" not in page and 'data-testid="visit"' not in page
    # Region staff still see it (they have the register anyway).
    client.force_login(roles["community"])
    assert client.get(f"/api/v1/assessments/{a.pk}").json()["visit"]["contact"]["name"] == "蒲小红"


def test_the_summary_hides_events_that_did_not_move_the_level(client):
    """Two risk events with no diagnosis raise the level; a dementia diagnosis that could not raise it further
    (at the top already) must not show up as a line of its own for the community either."""
    roles = assessment_world()
    from .factories import SEVERE

    # SEVERE: total 41 → 重度失能 (3); two events → 完全失能 (4); F03 then cannot raise it (cap, unmoved).
    a = published(roles, elder(roles), items=SEVERE, info={"diagnoses": ["F03"], "risk_events_30d": {"fall": 2}})
    assert a.final_level == 4 and len(a.adjustments) >= 2
    client.force_login(roles["community"])
    body = client.get(f"/api/v1/assessments/{a.pk}").json()
    assert [(x["rule"], x["from_level"], x["to_level"]) for x in body["adjustments"]] == [
        ("health_information", 3, 4)]
    client.force_login(roles["bureau"])
    full = client.get(f"/api/v1/assessments/{a.pk}").json()["adjustments"]
    assert len(full) == len(a.adjustments) and any("F03" in x["description_zh"] for x in full)
