"""Recording a visit: what counts, what is refused, and follow-ups that become real work."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services.models import Order
from yiyang.services.tests.factories import catalogue, tomorrow_at
from yiyang.visits import services
from yiyang.visits.models import FollowUp, TaskStatus, VisitRecord, VisitTask

from .factories import this_month


@pytest.fixture
def due(world):
    services.generate_month(month=this_month())
    return {**world, "task": VisitTask.objects.get(elder=world["elder"])}


def visit(w, **kwargs):
    kwargs.setdefault("method", "home")
    kwargs.setdefault("outcome", "seen")
    actor = kwargs.pop("actor", w["visitor"])
    return services.record_visit(actor=actor, elder=w["elder"], **kwargs)


def errors_of(call):
    with pytest.raises(ValidationError) as e:
        call()
    return e.value.message_dict


def test_a_flaky_phone_sending_twice_makes_one_record(due):
    first, created = visit(due, client_key="abc", checklist={"gas": "concern", "food": "ok"})
    second, again = visit(due, client_key="abc", checklist={"gas": "concern", "food": "ok"})
    assert created and not again and first.pk == second.pk
    assert VisitRecord.objects.count() == 1 and first.concerns == 1
    due["task"].refresh_from_db()
    assert due["task"].status == TaskStatus.DONE


def test_far_from_home_is_recorded_flagged_and_does_not_count(due):
    # 0.01° of latitude ≈ 1,112 m north of the home at (31.94, 106.64).
    record, _ = visit(due, latitude="31.950000", longitude="106.640000")
    assert record.far_from_home and record.distance_m == 1112 and not record.counts
    due["task"].refresh_from_db()
    assert due["task"].status == TaskStatus.OPEN


def test_in_the_future_or_a_month_late_is_refused_and_nothing_is_written(due):
    later = timezone.now() + datetime.timedelta(hours=2)
    assert "visited_at" in errors_of(lambda: visit(due, visited_at=later.isoformat()))
    assert "visited_at" in errors_of(lambda: visit(due, visited_at=timezone.now() - datetime.timedelta(days=40)))
    assert VisitRecord.objects.count() == 0


def test_for_a_dead_person_is_refused(due):
    registry.record_status_event(actor=due["bureau"], elder=due["elder"], kind="death",
                                 effective_date=timezone.localdate() - datetime.timedelta(days=2))
    due["elder"].refresh_from_db()
    assert "已故" in errors_of(lambda: visit(due))["elder"][0]


def test_by_someone_neither_paired_nor_covering(due):
    stranger = make_user("v2", Role.VISITOR, region="511903001001")
    with pytest.raises(DomainError) as e:
        visit(due, actor=stranger)
    assert "不是该老人的包联人" in e.value.message
    # The community's worker covering the area may record it.
    record, _ = visit(due, actor=due["community"])
    assert record.counts


def test_a_phone_call_counts_only_where_the_tier_says_so(due):
    # 重点 (monthly) allows phone calls but they do not close the task; 一般 tiers do.
    record, _ = visit(due, method="phone")
    assert not record.counts
    assert errors_of(lambda: visit(due, method="fax"))["method"]


def test_a_method_the_tier_does_not_allow(world):
    person = make_elder(world["bureau"], living_situation="with_children", birth=datetime.date(1956, 5, 5), seq=9)
    registry.add_category(actor=world["bureau"], elder=person, kind="destitute",
                          start_date=this_month() - datetime.timedelta(days=90))
    services.pair(actor=world["community"], elder=person, visitor=world["zhao"])
    services.generate_month(month=this_month())
    with pytest.raises(ValidationError) as e:
        services.record_visit(actor=world["visitor"], elder=person, method="video", outcome="seen")
    assert "不允许以“视频”方式" in str(e.value)


def test_a_bad_checklist_is_refused(due):
    got = errors_of(lambda: visit(due, checklist={"gas": "smells", "weather": "ok"}))
    assert "gas" in got["checklist"][0] and "weather" in got["checklist"][0]


def test_follow_ups_become_an_order_and_an_assessment_request(due):
    cat = catalogue(due)
    record, _ = visit(due, follow_ups=[
        {"kind": "service_order", "item": cat["bath"].pk, "provider": cat["org"].pk,
         "scheduled_start": tomorrow_at(10).isoformat(), "note": "行动不便，需助浴"},
        {"kind": "assessment", "note": "近月跌倒两次"},
        {"kind": "home_adaptation", "note": "卫生间无扶手"},
    ], client_key="fu1")
    by_kind = {f.kind: f for f in FollowUp.objects.filter(record=record)}
    order = Order.objects.get(pk=by_kind["service_order"].order_id)
    assert (order.elder_id, order.channel, order.provider_id) == (due["elder"].pk, "visit", cat["org"].pk)
    assert by_kind["assessment"].assessment.elder_id == due["elder"].pk
    assert by_kind["home_adaptation"].status == "open" and by_kind["service_order"].status == "done"


def test_a_follow_up_refused_by_its_domain_leaves_nothing_half_done(due):
    cat = catalogue(due)
    with pytest.raises(ValidationError):
        visit(due, follow_ups=[{"kind": "service_order", "item": cat["bath"].pk, "provider": cat["org"].pk,
                                "scheduled_start": "not a time"}], client_key="fu2")
    assert VisitRecord.objects.count() == 0 and FollowUp.objects.count() == 0
    due["task"].refresh_from_db()
    assert due["task"].status == TaskStatus.OPEN
