"""The API: the stateless calculator (every adjustment, both stacking settings, the cap, coma), its errors in
the project's format in Chinese and English, and the workflow endpoints with their scope."""

import json

import pytest

from yiyang.assessment.models import Assessment, AssessmentPolicy, Status
from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import PASSWORD, make_org, make_user

from .factories import FULL, INFO, MILD, SEVERE, assessment_world, assigned, elder, published, submitted

pytestmark = pytest.mark.django_db
SCORE = "/api/v1/assessments/score"
NO_EVENTS = {"fall": 0, "choking": 0, "wandering": 0, "self_harm": 0, "other": 0}
# B.1: 8×1 = 8; B.2: 4×1 = 4; B.3: 6×1+0+0+0 = 6; B.4: 0+0+1+1+1 = 3 → total 21 → 完全失能 (4)
COMPLETE = {code: 1 for code in FULL}
COMPLETE.update({"B.3.7": 0, "B.3.8": 0, "B.3.9": 0, "B.4.1": 0, "B.4.2": 0})


@pytest.fixture
def roles():
    return assessment_world()


def post(client, url, data, **headers):
    return client.post(url, data=json.dumps(data), content_type="application/json", **headers)


def patch(client, url, data, **headers):
    return client.patch(url, data=json.dumps(data), content_type="application/json", **headers)


def score(client, items, **extra):
    return post(client, SCORE, {"template": "GB/T 42195-2022", "items": items, **extra})


def test_calculator_example_from_the_issue(client, roles):
    client.force_login(roles["assessor"])
    resp = score(client, MILD, diagnoses=[], risk_events_30d=NO_EVENTS, coma=False)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["subtotals"] == {"B.1": 29, "B.2": 12, "B.3": 25, "B.4": 10}
    assert (body["total"], body["preliminary_level"], body["final_level"]) == (76, 1, 1)
    assert body["final_level_name"] == "轻度失能" and body["adjustments"] == []
    assert body["stack_adjustments"] is False and body["template_version"] == "1"


# (items, diagnoses, events, coma, stack) → (preliminary, final, rules that moved the level, a cap recorded)
CASES = [
    ("diagnosis alone", MILD, ["F03"], {}, False, None, (1, 2, ["dementia_or_mental_disorder"], False)),
    ("diagnosis alone, stacking", MILD, ["F03"], {}, False, True, (1, 2, ["dementia_or_mental_disorder"], False)),
    ("other mental disorder", MILD, ["F32.1"], {}, False, False, (1, 2, ["dementia_or_mental_disorder"], False)),
    ("non-F diagnosis does nothing", MILD, ["G30", "I10"], {}, False, False, (1, 1, [], False)),
    ("events alone", MILD, [], {"fall": 1, "choking": 1}, False, False, (1, 2, ["risk_events"], False)),
    ("events alone, stacking", MILD, [], {"wandering": 2}, False, True, (1, 2, ["risk_events"], False)),
    ("one event is not enough", MILD, [], {"fall": 1}, False, False, (1, 1, [], False)),
    ("both, not stacking", MILD, ["F01"], {"fall": 2}, False, False,
     (1, 2, ["dementia_or_mental_disorder"], False)),
    ("both, stacking", MILD, ["F01"], {"fall": 2}, False, True,
     (1, 3, ["dementia_or_mental_disorder", "risk_events"], False)),
    ("cap at 完全失能", COMPLETE, ["F00"], {}, False, False, (4, 4, [], True)),
    ("stacking from 重度 is capped", SEVERE, ["F00"], {"fall": 3}, False, True,
     (3, 4, ["dementia_or_mental_disorder"], True)),
    ("not stacking from 重度: one step, no cap", SEVERE, ["F00"], {"fall": 3}, False, False,
     (3, 4, ["dementia_or_mental_disorder"], False)),
    # 88 points (B.3.9 = 0 is compatible with coma) would be 轻度失能; coma overrides diagnoses and events.
    ("coma overrides everything", {**FULL, "B.3.9": 0}, ["F03"], {"fall": 3}, True, True, (1, 4, ["coma"], False)),
]


@pytest.mark.parametrize("items, diagnoses, events, coma, stack, expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_adjustments_alone_and_together_under_both_stacking_settings(client, roles, items, diagnoses, events, coma,
                                                                     stack, expected):
    client.force_login(roles["community"])
    extra = {"diagnoses": diagnoses, "risk_events_30d": events, "coma": coma}
    if stack is not None:
        extra["stack_adjustments"] = stack
    body = score(client, items, **extra).json()
    moved = [a["rule"] for a in body["adjustments"] if a["from_level"] != a["to_level"]]
    capped = any(a["rule"] == "cap" for a in body["adjustments"])
    assert (body["preliminary_level"], body["final_level"], moved, capped) == expected
    if coma:
        assert [a["rule"] for a in body["adjustments"]] == ["coma"]


def test_calculator_uses_the_jurisdictions_stacking_setting(client, roles):
    client.force_login(roles["community"])
    both = {"diagnoses": ["F03"], "risk_events_30d": {"fall": 2}}
    assert score(client, MILD, **both).json()["final_level"] == 2
    AssessmentPolicy.objects.create(region=Region.objects.get(code="511903"), stack_adjustments=True)
    body = score(client, MILD, **both).json()
    assert (body["final_level"], body["stack_adjustments"], body["policy_region"]) == (3, True, "511903")
    # An explicit setting wins; another jurisdiction keeps its own (default) setting.
    assert score(client, MILD, stack_adjustments=False, **both).json()["final_level"] == 2
    assert score(client, MILD, region="511902", **both).json()["final_level"] == 2


def test_calculator_errors_in_the_single_format_chinese_and_english(client, roles):
    client.force_login(roles["assessor"])
    items = {**MILD, "B.2.4": 4, "B.9.9": 1}
    del items["B.1.3"]
    resp = score(client, items, diagnoses=["XYZ"], risk_events_30d={"fall": -1}, coma=True)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "validation_error" and body["status"] == 422
    by_field = {e["field"]: e for e in body["errors"]}
    assert by_field["items.B.2.4"]["code"] == "out_of_range" and "上下楼梯" in by_field["items.B.2.4"]["message"]
    assert by_field["items.B.9.9"]["code"] == "unknown_item"
    assert by_field["items.B.1.3"]["code"] == "missing_item" and "洗澡" in by_field["items.B.1.3"]["message"]
    assert by_field["diagnoses.0"]["code"] == "invalid_icd10"
    assert by_field["risk_events_30d.fall"]["code"] == "negative_count"
    assert by_field["coma"]["code"] == "coma_conflict"
    en = post(client, SCORE, {"items": items}, HTTP_ACCEPT_LANGUAGE="en").json()
    en_fields = {e["field"]: e["message"] for e in en["errors"]}
    assert en_fields["items.B.2.4"] == "Score for Going up and down stairs (B.2.4) must be 0 to 3, got 4"
    assert en["message"] != body["message"]


def test_calculator_refuses_a_level_and_unknown_templates(client, roles):
    client.force_login(roles["assessor"])
    resp = score(client, MILD, final_level=0)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "final_level"
    resp = post(client, SCORE, {"template": "GB/T 0000", "items": MILD})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "template"


def test_calculator_needs_a_staff_role_and_takes_a_token(client, roles):
    assert score(client, MILD).status_code == 401
    client.force_login(roles["family"])
    assert score(client, MILD).status_code == 403
    client.logout()
    token = post(client, "/api/v1/auth/token", {"username": "assessor", "password": PASSWORD}).json()["token"]
    resp = post(client, SCORE, {"items": MILD}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert resp.status_code == 200 and resp.json()["total"] == 76


def test_templates_endpoint_lists_the_forms_as_data(client, roles):
    client.force_login(roles["assessor"])
    body = client.get("/api/v1/assessments/templates").json()
    assert [t["code"] for t in body] == ["GB/T 42195-2022", "MZ/T 039-2013"]
    gb = body[0]
    assert sum(len(i["items"]) for i in gb["indicators"]) == 26 and gb["max_total"] == 90
    assert [lv["name"] for lv in gb["levels"]] == ["能力完好", "轻度失能", "中度失能", "重度失能", "完全失能"]
    assert body[1]["legacy"] is True and len(body[1]["levels"]) == 4


def test_openapi_documents_the_endpoints(client, roles):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in ["/api/v1/assessments/score", "/api/v1/assessments/templates", "/api/v1/assessments",
                 "/api/v1/assessments/{assessment_id}/answers", "/api/v1/assessments/{assessment_id}/submit",
                 "/api/v1/assessments/{assessment_id}/publish", "/api/v1/assessments/{assessment_id}/report.pdf",
                 "/api/v1/assessments/elders/{elder_id}/levels"]:
        assert path in paths, path
    score_op = paths["/api/v1/assessments/score"]["post"]
    assert "422" in score_op["responses"] and "stateless" in score_op["summary"]
    answers = json.dumps(schema["components"]["schemas"]["AnswersIn"])
    assert "final_level" not in answers


def test_workflow_through_the_api(client, roles):
    person = elder(roles)
    client.force_login(roles["community"])
    resp = post(client, "/api/v1/assessments", {"elder": person.pk, "reason": "first", "note": "申请护理补贴"})
    assert resp.status_code == 201, resp.content
    pk = resp.json()["id"]
    assert resp.json()["status"] == "requested" and resp.json()["info"] is None
    client.force_login(roles["assessor"])
    resp = post(client, f"/api/v1/assessments/{pk}/assign", {
        "assessor_1": roles["assessor"].pk, "assessor_2": roles["assessor"].pk})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "assessor_2"
    resp = post(client, f"/api/v1/assessments/{pk}/assign", {
        "assessor_1": roles["assessor"].pk, "assessor_2": roles["assessor2"].pk})
    assert resp.status_code == 200 and resp.json()["assessor_2"]["name"] == "评估员 何静"
    url = f"/api/v1/assessments/{pk}/answers"
    resp = patch(client, url, {"items": {"B.1.1": 4, "B.1.2": 9}})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "items.B.1.2"
    assert Assessment.objects.get(pk=pk).items == {}
    resp = patch(client, url, {"items": MILD, "info": {**INFO, "diagnoses": ["F03"]}})
    assert resp.status_code == 200 and resp.json()["complete"] is True and resp.json()["total"] == 76
    resp = post(client, f"/api/v1/assessments/{pk}/submit", {})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["final_level"], resp.json()["preliminary_level"]) == (2, 1)
    # The calculator agrees with the stored result.
    calc = score(client, MILD, diagnoses=["F03"]).json()
    assert (calc["total"], calc["final_level"]) == (resp.json()["total"], resp.json()["final_level"])
    assert post(client, f"/api/v1/assessments/{pk}/publish", {}).json()["code"] == "own_assessment"
    client.force_login(roles["reviewer"])
    resp = post(client, f"/api/v1/assessments/{pk}/publish", {"note": "同意"})
    assert resp.status_code == 200 and resp.json()["status"] == "published"
    assert resp.json()["info"]["diagnoses"] == ["F03"]  # the agency sees Annex A (and the read is logged)
    client.force_login(roles["community"])
    detail = client.get(f"/api/v1/assessments/{pk}").json()
    assert detail["final_level"] == 2 and detail["info"] is None  # health data stays with the agency/bureau
    levels = client.get(f"/api/v1/assessments/elders/{person.pk}/levels").json()
    assert levels["current_level"] == 2 and levels["history"][0]["assessment"] == pk
    resp = post(client, f"/api/v1/assessments/{pk}/dispute", {"reason": "不服"})
    assert resp.status_code == 201 and resp.json()["reason"] == "review" and resp.json()["supersedes"] == pk


def test_a_level_sent_with_the_answers_is_refused_with_a_clear_error(client, roles):
    a = assigned(roles, elder(roles))
    client.force_login(roles["assessor"])
    for body in ({"items": {"B.1.1": 4}, "final_level": 0}, {"final_level": 0}, {"items": MILD, "total": 90}):
        resp = patch(client, f"/api/v1/assessments/{a.pk}/answers", body)
        assert resp.status_code == 422
        error = resp.json()["errors"][0]
        assert error["code"] == "computed_field" and "不能手工填写" in error["message"]
    resp = post(client, f"/api/v1/assessments/{a.pk}/submit", {"final_level": 0})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "final_level"
    a.refresh_from_db()
    assert a.items == {} and a.final_level is None


def test_assessors_outside_the_assignment(client, roles):
    a = assigned(roles, elder(roles))
    b = submitted(roles, elder(roles, seq=2))
    other_agency = make_org("另一评估所", kind="assessment", region="511903002")
    stranger = make_user("stranger", Role.ASSESSOR, organisation=other_agency)
    client.force_login(stranger)
    assert patch(client, f"/api/v1/assessments/{a.pk}/answers", {"items": {"B.1.1": 4}}).status_code == 404
    assert client.get(f"/api/v1/assessments/{a.pk}").status_code == 404
    # Same agency, not one of the two: an assignment of others is outside their scope (DESIGN §1) ...
    client.force_login(roles["reviewer"])
    assert patch(client, f"/api/v1/assessments/{a.pk}/answers", {"items": {"B.1.1": 4}}).status_code == 404
    assert client.get(f"/api/v1/assessments/{a.pk}").status_code == 404
    a.refresh_from_db()
    assert a.items == {}
    # ... until it is submitted and waits for the agency's review: then they see it and may not fill it in.
    assert client.get(f"/api/v1/assessments/{b.pk}").status_code == 200
    resp = patch(client, f"/api/v1/assessments/{b.pk}/answers", {"items": {"B.1.1": 0}})
    assert resp.status_code == 403 and resp.json()["code"] == "not_assigned"
    b.refresh_from_db()
    assert b.items["B.1.1"] == MILD["B.1.1"]


@pytest.mark.parametrize("role, visible", [
    ("bureau", True), ("street", True), ("community", True), ("other_street", False), ("other_bureau", False),
    ("assessor", True), ("provider", False), ("family", False),
])
def test_list_and_detail_scope(client, roles, role, visible):
    a = published(roles, elder(roles))
    client.force_login(roles[role])
    resp = client.get("/api/v1/assessments")
    if role == "provider":  # no assessments to list at all
        assert resp.status_code == 403
    else:
        assert (a.pk in [r["id"] for r in resp.json()["items"]]) is visible
    assert client.get(f"/api/v1/assessments/{a.pk}").status_code == (200 if visible else 404)
    if not visible:
        assert client.get(f"/api/v1/assessments/{a.pk}/report.pdf").status_code == 404


def test_family_sees_and_disputes_their_own(client, roles):
    from yiyang.registry.models import FamilyLink

    person = elder(roles)
    a = published(roles, person)
    FamilyLink.objects.create(user=roles["family"], elder=person, relationship="son")
    client.force_login(roles["family"])
    assert client.get(f"/api/v1/assessments/{a.pk}").json()["info"]["informant_name"] == "杨志强"
    resp = post(client, f"/api/v1/assessments/{a.pk}/dispute", {"reason": "母亲当天发烧"})
    assert resp.status_code == 201
    assert Assessment.objects.get(pk=resp.json()["id"]).source == "family"


def test_submitted_then_cancelled_is_not_listed_as_open(client, roles):
    a = submitted(roles, elder(roles))
    client.force_login(roles["community"])
    resp = post(client, f"/api/v1/assessments/{a.pk}/cancel", {"reason": "老人拒绝评估"})
    assert resp.status_code == 200 and resp.json()["status"] == Status.CANCELLED
    assert client.get("/api/v1/assessments?status=open").json()["count"] == 0


def test_list_filters_by_region_and_correction_endpoint(client, roles):
    a = published(roles, elder(roles, seq=1))
    published(roles, elder(roles, seq=2, residence="511903001001", by="street"), by="street")
    client.force_login(roles["street"])
    rows = client.get("/api/v1/assessments?region=511903001002").json()["items"]
    assert [r["id"] for r in rows] == [a.pk]
    client.force_login(roles["reviewer"])
    resp = post(client, f"/api/v1/assessments/{a.pk}/correct", {"reason": "B.1.1 录入错误"})
    assert resp.status_code == 201 and resp.json()["supersedes"] == a.pk and resp.json()["status"] == "assigned"


def test_admin_lists_for_platform_operators(client, roles):
    from yiyang.core.models import User

    a = published(roles, elder(roles))
    admin = User.objects.create_superuser("operator", password="Xy7#operator-pass")
    client.force_login(admin)
    for url in ("/admin/assessment/assessment/", "/admin/assessment/assessmentpolicy/",
                "/admin/assessment/currentlevel/"):
        assert client.get(url).status_code == 200, url
    # The read-only form shows Annex A (the informant here): a read of the health record, audited.
    from yiyang.core.models import AuditEvent

    page = client.get(f"/admin/assessment/assessment/{a.pk}/change/")
    assert page.status_code == 200 and "杨志强" in page.content.decode()
    assert list(AuditEvent.objects.filter(action="view_health", actor=admin).values_list("object_id", "detail")) == [
        (str(a.pk), "admin")]
