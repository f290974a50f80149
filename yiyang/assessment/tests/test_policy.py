"""One rule per step (policy.py), the same in the page's buttons, the services and the API: for every role that
sees an assessment in each state of the workflow, the page offers exactly the steps the rules allow, and the
API accepts exactly those (each tried inside a transaction that is rolled back)."""

import json

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from yiyang.assessment import policy, services
from yiyang.core.models import Region
from yiyang.core.tests.factories import make_org

from .factories import assessment_world, assigned, elder, published, submitted

pytestmark = pytest.mark.django_db

ROLES = ("bureau", "street", "community", "assessor", "assessor2", "reviewer", "family")
# Hand-written from the workflow (models.py, DESIGN.md §1/§3.1). The request came from the community worker;
# the assessment went to the agency, `assessor` and `assessor2` assess, `reviewer` reviews. None: not visible.
REGION = {"bureau", "street", "community"}
EXPECTED = {
    "requested": {**{r: {"change_agency", "cancel"} for r in REGION},
                  "assessor": {"assign"}, "assessor2": {"assign"}, "reviewer": {"assign"}, "family": set()},
    "assigned": {**{r: {"cancel"} for r in REGION},
                 "assessor": {"assign", "answer"}, "assessor2": {"assign", "answer"}, "reviewer": None,
                 "family": set()},
    "submitted": {**{r: {"cancel", "report"} for r in REGION},
                  "assessor": {"report"}, "assessor2": {"report"}, "reviewer": {"publish", "return", "report"},
                  "family": {"report"}},
    "published": {**{r: {"dispute", "report"} for r in REGION},
                  "assessor": {"correct", "report"}, "assessor2": {"correct", "report"},
                  "reviewer": {"correct", "report"}, "family": {"dispute", "report"}},
}
BUTTONS = {"change_agency": "change-agency", "assign": "assign", "answer": "fill", "publish": "publish",
           "return": "send-back", "dispute": "dispute", "correct": "correct", "cancel": "cancel",
           "report": "report-link"}


@pytest.fixture
def world():
    from yiyang.registry.models import FamilyLink

    roles = assessment_world()
    made = {}
    for seq, (state, build) in enumerate((
            ("requested", lambda p: services.request_assessment(actor=roles["community"], elder=p, reason="first")),
            ("assigned", lambda p: assigned(roles, p)), ("submitted", lambda p: submitted(roles, p)),
            ("published", lambda p: published(roles, p))), start=1):
        person = elder(roles, seq=seq, name=f"老人{seq}")
        FamilyLink.objects.create(user=roles["family"], elder=person, relationship="son")
        made[state] = build(person)
    # After the requests, which go to the county's agency by default.
    roles["other_agency"] = make_org("第二评估中心", kind="assessment", region="511903002")
    return roles, made


def _try(client, step, a, roles):
    """Take the step through the API (the agency change through its page), then roll it back.
    True when it was accepted."""
    def api(method, path, data):
        return getattr(client, method)(f"/api/v1/assessments/{a.pk}{path}", data=json.dumps(data),
                                       content_type="application/json")

    with transaction.atomic():
        if step == "change_agency":
            client.post(reverse("assessment:agency", args=[a.pk]), {"agency": roles["other_agency"].pk})
            accepted = type(a).objects.get(pk=a.pk).agency_id == roles["other_agency"].pk
        elif step == "report":
            accepted = client.get(f"/api/v1/assessments/{a.pk}/report.pdf").status_code == 200
        else:
            resp = {
                "assign": lambda: api("post", "/assign", {"assessor_1": roles["assessor"].pk,
                                                          "assessor_2": roles["assessor2"].pk,
                                                          "scheduled_for": timezone.localdate().isoformat()}),
                "answer": lambda: api("patch", "/answers", {"items": {"B.1.1": 4}}),
                "publish": lambda: api("post", "/publish", {"note": "同意"}),
                "return": lambda: api("post", "/return", {"reason": "请复核"}),
                "dispute": lambda: api("post", "/dispute", {"reason": "不服"}),
                "correct": lambda: api("post", "/correct", {"reason": "录入错误"}),
                "cancel": lambda: api("post", "/cancel", {"reason": "老人住院"}),
            }[step]()
            assert resp.status_code in (200, 201, 403, 409), (step, a.status, client.session.get("_auth_user_id"),
                                                               resp.status_code, resp.content)
            accepted = resp.status_code in (200, 201)
        transaction.set_rollback(True)
    return accepted


def test_buttons_rules_and_api_agree_in_every_state(client, world):
    roles, made = world
    wrong = []
    for state, a in made.items():
        for role in ROLES:
            user = roles[role]
            expected = EXPECTED[state][role]
            client.force_login(user)
            resp = client.get(reverse("assessment:detail", args=[a.pk]))
            if expected is None:
                if resp.status_code != 404:
                    wrong.append((state, role, "visible", resp.status_code))
                continue
            a.refresh_from_db()
            ruled = {step for step, decision in policy.steps(user, a).items() if decision}
            page = resp.content.decode()
            offered = {step for step, testid in BUTTONS.items() if f'data-testid="{testid}"' in page}
            accepted = {step for step in BUTTONS if _try(client, step, a, roles)}
            for what, got in (("rules", ruled), ("page", offered), ("api", accepted)):
                if got != expected:
                    wrong.append((state, role, what, sorted(got), sorted(expected)))
    assert not wrong, "(state, role, where, got, expected): " + "\n".join(map(str, wrong))


def test_refusals_carry_the_rules_reason_and_status(world):
    roles, made = world
    own = policy.may_publish_assessment(roles["assessor"], made["submitted"])
    assert (own.allowed, own.code, own.status) == (False, "own_assessment", 403)
    late = policy.may_assign_assessment(roles["assessor"], made["submitted"])
    assert (late.allowed, late.code, late.status) == (False, "invalid_state", 409)
    assert "待审核" in str(late.reason)
    stranger = policy.may_answer_assessment(roles["reviewer"], made["assigned"])
    assert (stranger.allowed, stranger.code, stranger.status) == (False, "not_assigned", 403)
    county = Region.objects.get(code="511903")
    assert policy.may_set_policy(roles["bureau"], county)
    other_bureau = policy.may_set_policy(roles["other_bureau"], county)
    assert not other_bureau and other_bureau.status == 403
    assert not policy.may_set_policy(roles["street"], county)
