"""The workflow through the services: request, assign, answers, submit, review, dispute, cancel, status changes."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.assessment import selectors, services
from yiyang.assessment.models import (
    Assessment,
    AssessmentPolicy,
    CurrentLevel,
    ImmutableResult,
    Reason,
    Source,
    Status,
)
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent, Region, Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry import services as registry_services

from .factories import FULL, INFO, MILD, MILD_SUBTOTALS, assessment_world, assigned, elder, published, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return assessment_world()


def test_whole_workflow_publishes_the_level_with_its_validity(roles):
    person = elder(roles)
    a = services.request_assessment(actor=roles["community"], elder=person, reason=Reason.FIRST, note="申请护理补贴")
    assert a.status == Status.REQUESTED and a.agency == roles["agency"] and a.source == Source.STAFF
    assert a.county_code == "511903" and a.region_code == "511903001002"
    a = services.assign(actor=roles["assessor"], assessment=a, assessor_1=roles["assessor"],
                        assessor_2=roles["assessor2"], scheduled_for=timezone.localdate())
    assert a.status == Status.ASSIGNED
    partial = services.save_answers(actor=roles["assessor2"], assessment=a, items={"B.1.1": 4, "B.1.2": 3})
    assert partial.subtotals["B.1"] == 7 and partial.answered == 2 and len(partial.missing) == 24
    services.save_answers(actor=roles["assessor"], assessment=a, items=MILD, info=INFO)
    a = services.submit(actor=roles["assessor"], assessment=a)
    assert (a.status, a.total, a.final_level, a.subtotals) == (Status.SUBMITTED, 76, 1, MILD_SUBTOTALS)
    assert a.template_code == "GB/T 42195-2022" and a.template_version == "1"
    a = services.publish(actor=roles["reviewer"], assessment=a, note="核对无误")
    assert a.status == Status.PUBLISHED and a.reviewed_by == roles["reviewer"]
    today = timezone.localdate()
    assert a.valid_until == selectors.add_months(today, 6)
    current = CurrentLevel.objects.get(elder=person)
    assert (current.level, current.assessment_id, current.reassess_by) == (1, a.pk, a.valid_until)
    # Every write left an audit event; Annex A only as a fingerprint.
    events = AuditEvent.objects.filter(object_type="assessment.assessment", object_id=str(a.pk))
    assert events.count() >= 5
    assert not any("杨志强" in str(e.after) for e in events)


def test_add_months_clamps_to_the_end_of_month():
    assert selectors.add_months(datetime.date(2026, 8, 31), 6) == datetime.date(2027, 2, 28)
    assert selectors.add_months(datetime.date(2026, 11, 25), 6) == datetime.date(2027, 5, 25)
    assert selectors.add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)


def test_submission_refused_while_an_item_is_missing_and_nothing_is_saved(roles):
    a = assigned(roles, elder(roles))
    items = dict(MILD)
    del items["B.2.4"], items["B.4.5"]
    services.save_answers(actor=roles["assessor"], assessment=a, items=items, info=INFO)
    with pytest.raises(ValidationError) as exc:
        services.submit(actor=roles["assessor"], assessment=a)
    errors = exc.value.message_dict
    assert set(errors) == {"items.B.2.4", "items.B.4.5"}
    assert "上下楼梯" in errors["items.B.2.4"][0]
    a.refresh_from_db()
    assert a.status == Status.IN_PROGRESS and a.final_level is None and a.total is None


def test_informant_is_required_at_submission(roles):
    a = assigned(roles, elder(roles))
    services.save_answers(actor=roles["assessor"], assessment=a, items=MILD)
    with pytest.raises(ValidationError) as exc:
        services.submit(actor=roles["assessor"], assessment=a)
    assert "info.informant_name" in exc.value.message_dict


@pytest.mark.parametrize("items, field, text", [
    ({"B.2.4": 4}, "items.B.2.4", "0～3"),
    ({"B.9.9": 1}, "items.B.9.9", "没有评估项目"),
    ({"B.1.1": "很好"}, "items.B.1.1", "整数"),
])
def test_bad_scores_are_refused_and_nothing_saved(roles, items, field, text):
    a = assigned(roles, elder(roles))
    services.save_answers(actor=roles["assessor"], assessment=a, items={"B.1.1": 4})
    with pytest.raises(ValidationError) as exc:
        services.save_answers(actor=roles["assessor"], assessment=a, items={"B.1.2": 3, **items})
    assert text in exc.value.message_dict[field][0]
    a.refresh_from_db()
    assert a.items == {"B.1.1": 4}


def test_bad_annex_values_are_refused(roles):
    a = assigned(roles, elder(roles))
    with pytest.raises(ValidationError) as exc:
        services.save_answers(actor=roles["assessor"], assessment=a, info={
            "diagnoses": ["F03", "not-a-code"], "risk_events_30d": {"fall": -1, "flood": 1}, "coma": "yes",
            "final_level": 4})
    fields = set(exc.value.message_dict)
    assert fields == {"info.diagnoses.1", "info.risk_events_30d.fall", "info.risk_events_30d.flood", "info.coma",
                      "info.final_level"}
    a.refresh_from_db()
    assert a.info == {}


def test_two_distinct_assessors_of_the_agency(roles):
    a = services.request_assessment(actor=roles["community"], elder=elder(roles), reason=Reason.FIRST)
    with pytest.raises(ValidationError) as exc:
        services.assign(actor=roles["assessor"], assessment=a, assessor_1=roles["assessor"],
                        assessor_2=roles["assessor"], scheduled_for=None)
    assert "不能是同一人" in exc.value.message_dict["assessor_2"][0]
    outsider_org = make_org("另一评估所", kind="assessment", region="511903002")
    outsider = make_user("outsider", Role.ASSESSOR, organisation=outsider_org)
    with pytest.raises(ValidationError) as exc:
        services.assign(actor=roles["assessor"], assessment=a, assessor_1=roles["assessor"], assessor_2=outsider,
                        scheduled_for=None)
    assert "不是本评估机构" in exc.value.message_dict["assessor_2"][0]
    # Another agency cannot assign this request at all.
    with pytest.raises(DomainError):
        services.assign(actor=outsider, assessment=a, assessor_1=roles["assessor"], assessor_2=roles["assessor2"],
                        scheduled_for=None)
    a.refresh_from_db()
    assert a.status == Status.REQUESTED and a.assessor_1 is None


def test_only_the_two_assessors_fill_in_and_a_third_reviews(roles):
    a = assigned(roles, elder(roles))
    with pytest.raises(DomainError) as exc:
        services.save_answers(actor=roles["reviewer"], assessment=a, items={"B.1.1": 4})
    assert exc.value.code == "not_assigned"
    services.save_answers(actor=roles["assessor"], assessment=a, items=MILD, info=INFO)
    services.submit(actor=roles["assessor2"], assessment=a)
    for person in ("assessor", "assessor2"):
        with pytest.raises(DomainError) as exc:
            services.publish(actor=roles[person], assessment=a)
        assert exc.value.code == "own_assessment"
    with pytest.raises(DomainError):
        services.publish(actor=roles["community"], assessment=a)
    a.refresh_from_db()
    assert a.status == Status.SUBMITTED


def test_send_back_then_resubmit(roles):
    a = submitted(roles, elder(roles))
    with pytest.raises(ValidationError):
        services.send_back(actor=roles["reviewer"], assessment=a, reason="  ")
    a = services.send_back(actor=roles["reviewer"], assessment=a, reason="B.2.4 与现场记录不符")
    assert a.status == Status.RETURNED and a.final_level is None and a.review_note.startswith("B.2.4")
    services.save_answers(actor=roles["assessor"], assessment=a, items={"B.2.4": 3})
    a.refresh_from_db()
    assert a.status == Status.IN_PROGRESS
    a = services.submit(actor=roles["assessor"], assessment=a)
    assert a.total == 77


def test_published_results_are_immutable(roles):
    a = published(roles, elder(roles))
    a.final_level = 4
    with pytest.raises(ImmutableResult):
        a.save()
    with pytest.raises(ImmutableResult):
        Assessment.objects.filter(pk=a.pk).update(final_level=4)
    with pytest.raises(ImmutableResult):
        Assessment.objects.get(pk=a.pk).delete()
    fresh = Assessment.objects.get(pk=a.pk)
    with pytest.raises(DomainError) as exc:
        services.save_answers(actor=roles["assessor"], assessment=fresh, items={"B.1.1": 0})
    assert exc.value.code == "result_immutable"
    with pytest.raises(DomainError):
        services.submit(actor=roles["assessor"], assessment=fresh)
    fresh.refresh_from_db()
    assert fresh.final_level == 1 and fresh.items["B.1.1"] == 4


def test_one_assessment_under_way_per_person_and_reasons_must_fit(roles):
    person = elder(roles)
    with pytest.raises(ValidationError) as exc:
        services.request_assessment(actor=roles["community"], elder=person, reason=Reason.ROUTINE)
    assert "首次评估" in exc.value.message_dict["reason"][0]
    services.request_assessment(actor=roles["community"], elder=person, reason=Reason.FIRST)
    with pytest.raises(ValidationError) as exc:
        services.request_assessment(actor=roles["street"], elder=person, reason=Reason.FIRST)
    assert "已有进行中的评估" in exc.value.message_dict["elder"][0]


def test_requests_only_within_the_jurisdiction(roles):
    person = elder(roles)
    for outsider in ("other_street", "assessor", "provider"):
        with pytest.raises(DomainError):
            services.request_assessment(actor=roles[outsider], elder=person, reason=Reason.FIRST)
    assert not Assessment.objects.exists()


def test_dispute_opens_a_review_and_the_new_result_replaces_the_old(roles):
    person = elder(roles)
    first = published(roles, person)
    with pytest.raises(DomainError):
        services.dispute(actor=roles["other_street"], assessment=first, reason="不服")
    review = services.dispute(actor=roles["community"], assessment=first, reason="家属认为评估时老人状态异常")
    first.refresh_from_db()
    assert first.status == Status.DISPUTED and review.reason == Reason.REVIEW and review.supersedes == first
    assert CurrentLevel.objects.get(elder=person).assessment_id == first.pk  # the old result stands meanwhile
    services.assign(actor=roles["assessor2"], assessment=review, assessor_1=roles["assessor2"],
                    assessor_2=roles["reviewer"], scheduled_for=None)
    services.save_answers(actor=roles["reviewer"], assessment=review, items=FULL, info=INFO)
    services.submit(actor=roles["reviewer"], assessment=review)
    review = services.publish(actor=roles["assessor"], assessment=review)
    assert CurrentLevel.objects.get(elder=person).assessment_id == review.pk
    assert CurrentLevel.objects.get(elder=person).level == 0
    history = selectors.level_history(person)["history"]
    assert [h["level"] for h in history] == [0, 1]


def test_withdrawing_the_review_withdraws_the_dispute(roles):
    first = published(roles, elder(roles))
    review = services.dispute(actor=roles["community"], assessment=first, reason="再看看")
    services.cancel(actor=roles["community"], assessment=review, reason="家属撤回异议")
    first.refresh_from_db()
    assert first.status == Status.PUBLISHED and first.dispute_reason == "再看看"


def test_stacking_and_validity_are_per_jurisdiction_with_the_nearest_policy(roles):
    assert selectors.policy_for("511903001002") == selectors.Policy()
    AssessmentPolicy.objects.create(region=Region.objects.get(code="5119"), stack_adjustments=True,
                                    validity_months=12)
    assert selectors.policy_for("511903001002").region_code == "5119"
    AssessmentPolicy.objects.create(region=Region.objects.get(code="511903"), stack_adjustments=True,
                                    validity_months=3)
    policy = selectors.policy_for("511903001002")
    assert (policy.stack_adjustments, policy.validity_months, policy.region_code) == (True, 3, "511903")
    a = published(roles, elder(roles), info={"diagnoses": ["F03"], "risk_events_30d": {"fall": 2}})
    assert (a.preliminary_level, a.final_level, a.stack_adjustments) == (1, 3, True)
    assert a.valid_until == selectors.add_months(timezone.localdate(), 3)


def test_save_policy_is_for_the_bureau_of_the_region(roles):
    county = Region.objects.get(code="511903")
    with pytest.raises(DomainError):
        services.save_policy(actor=roles["street"], region=county, stack_adjustments=True, validity_months=6)
    with pytest.raises(DomainError):
        services.save_policy(actor=roles["other_bureau"], region=county, stack_adjustments=True, validity_months=6)
    with pytest.raises(ValidationError):
        services.save_policy(actor=roles["bureau"], region=county, stack_adjustments=True, validity_months=48)
    services.save_policy(actor=roles["bureau"], region=county, stack_adjustments=True, validity_months=12)
    assert selectors.policy_for("511903001").validity_months == 12


def test_a_move_makes_reassessment_due_at_once_and_death_cancels(roles):
    person = elder(roles)
    published(roles, person)
    today = timezone.localdate()
    registry_services.record_status_event(actor=roles["street"], elder=person, kind="relocate",
                                          effective_date=today, to_region="511903001001")
    current = CurrentLevel.objects.get(elder=person)
    assert current.reassess_by == today
    auto = Assessment.objects.get(elder=person, status=Status.REQUESTED)
    assert (auto.reason, auto.source, auto.due_on, auto.region_code) == (
        Reason.IMMEDIATE, Source.AUTO, today, "511903001001")
    assert selectors.due_reassessments(user=roles["street"], today=today).filter(elder=person).exists()
    registry_services.record_status_event(actor=roles["street"], elder=person, kind="death", effective_date=today)
    auto.refresh_from_db()
    assert auto.status == Status.CANCELLED and "死亡" in auto.cancel_reason


def test_due_reassessments_are_requested_once(roles):
    people = [elder(roles, seq=i) for i in range(1, 4)]
    for p in people:
        published(roles, p)
    CurrentLevel.objects.filter(elder=people[0]).update(reassess_by=timezone.localdate() - datetime.timedelta(days=3))
    CurrentLevel.objects.filter(elder=people[1]).update(reassess_by=timezone.localdate() + datetime.timedelta(days=10))
    assert services.request_due_reassessments(lead_days=30) == 2
    assert services.request_due_reassessments(lead_days=30) == 0
    rows = Assessment.objects.filter(status=Status.REQUESTED, source=Source.AUTO)
    assert {r.elder_id for r in rows} == {people[0].pk, people[1].pk}
    assert all(r.reason == Reason.ROUTINE and r.supersedes_id and r.agency_id for r in rows)


def test_selectors_for_the_elder_pages(roles):
    a, b, c = (elder(roles, seq=i) for i in (1, 2, 3))
    published(roles, a)
    published(roles, b, items=FULL)
    levels = selectors.current_levels([a.pk, b.pk, c.pk])
    assert levels[a.pk]["level"] == 1 and levels[a.pk]["name"] == "轻度失能" and c.pk not in levels
    from yiyang.registry.models import Elder

    qs = Elder.objects.restrict(roles["community"])
    assert list(selectors.filter_elders_by_level(qs, "1")) == [a]
    assert list(selectors.filter_elders_by_level(qs, "0")) == [b]
    assert list(selectors.filter_elders_by_level(qs, "none")) == [c]
    assert selectors.filter_elders_by_level(qs, "bogus").count() == 3
    CurrentLevel.objects.filter(elder=a).update(reassess_by=timezone.localdate() - datetime.timedelta(days=1))
    assert list(selectors.filter_elders_by_level(qs, "due")) == [a]
    assert [k for k, _ in selectors.level_filter_choices()] == ["0", "1", "2", "3", "4", "none", "due"]


def test_assessors_see_no_elder_in_the_register(roles):
    """What a visit needs comes with the assessment (test_disclosure.py); the register (bank account, ID
    number, benefits) is not an assessor's to see, not even for the elders they assess."""
    from yiyang.registry.models import Elder

    person = elder(roles, seq=1)
    assigned(roles, person)
    for role in ("assessor", "assessor2", "reviewer"):
        assert not Elder.objects.restrict(roles[role]).exists(), role
        assert not Elder.objects.restrict(roles[role], "change").exists(), role


def test_a_correction_is_a_new_assessment_that_supersedes_the_result(roles):
    person = elder(roles)
    first = published(roles, person)
    with pytest.raises(DomainError):
        services.correct(actor=roles["community"], assessment=first, reason="录入错误")
    fix = services.correct(actor=roles["reviewer"], assessment=first, reason="B.2.4 录入错误")
    assert (fix.status, fix.supersedes, fix.items, fix.assessor_1) == (
        Status.ASSIGNED, first, first.items, first.assessor_1)
    first.refresh_from_db()
    assert first.status == Status.PUBLISHED  # untouched, still current
    services.save_answers(actor=roles["assessor"], assessment=fix, items={"B.2.4": 3})
    services.submit(actor=roles["assessor"], assessment=fix)
    fix = services.publish(actor=roles["reviewer"], assessment=fix)
    assert fix.total == first.total + 1
    assert CurrentLevel.objects.get(elder=person).assessment_id == fix.pk
    with pytest.raises(DomainError):  # only the current result can be corrected
        services.correct(actor=roles["reviewer"], assessment=first, reason="again")


def test_request_due_command_and_task(roles):
    from io import StringIO

    from django.core.management import call_command

    person = elder(roles)
    published(roles, person)
    CurrentLevel.objects.update(reassess_by=timezone.localdate())
    out = StringIO()
    call_command("request_due_assessments", stdout=out)
    assert "requested 1" in out.getvalue()
    from yiyang.assessment.tasks import request_due_reassessments

    assert request_due_reassessments.call() == 0
