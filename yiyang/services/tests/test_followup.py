"""Follow-up calls (回访): a deterministic sample of the month's completed orders (at least the rate, at least
one per provider, re-running adds nothing), recorded by region staff; a low satisfaction flags the order and
holds it back from settlement."""

import datetime
import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import make_org, make_user
from yiyang.services import services
from yiyang.services.models import FlagKind, FollowUpCall, OrderFlag

from .factories import completed, make_caregiver

pytestmark = pytest.mark.django_db
BASE = "/api/v1/services/"


@pytest.fixture
def world(world):
    # A second provider in 登科街道 with its own caregiver.
    org2 = make_org("夕阳红", region="511903001")
    boss2 = make_user("provider2", "provider", organisation=org2)
    services.declare_offer(actor=boss2, provider=org2, item=world["bath"], streets=["511903001"], price="35.00",
                           valid_from=timezone.localdate() - datetime.timedelta(days=30))
    carer2 = make_caregiver({**world, "provider": boss2, "caregiver": make_user("carer2", "caregiver",
                                                                                organisation=org2)},
                            account="caregiver", seq=9, organisation=org2, name="王护理")
    return {**world, "org2": org2, "boss2": boss2, "carer2": carer2}


def this_month():
    return timezone.localdate().replace(day=1)


def rank(order_id):
    return hashlib.sha256(f":{this_month():%Y-%m}:{order_id}".encode()).hexdigest()


def test_sample_meets_the_rate_with_one_per_provider_and_is_idempotent(world):
    mine = completed(world, 12)
    theirs = completed(world, 2, org=world["org2"], boss=world["boss2"], carer=world["carer2"])
    completed(world, 1, confirm=False)  # checked out, not confirmed: not sampled
    calls = services.sample_follow_ups(actor=world["bureau"], jurisdiction="511903", month=this_month())
    # 14 completed × 10 % → 2 (rounded up): the first of each provider in hash order.
    assert sorted(c.order_id for c in calls) == sorted([min((o.pk for o in mine), key=rank),
                                                        min((o.pk for o in theirs), key=rank)])
    assert services.sample_follow_ups(actor=world["bureau"], jurisdiction="511903", month=this_month()) == []
    more = services.sample_follow_ups(actor=world["street"], jurisdiction="511903001",
                                      month=this_month().strftime("%Y-%m"), rate="0.3")
    assert len(more) == 3 and FollowUpCall.objects.count() == 5  # ceil(14 × 0.3) = 5
    assert AuditEvent.objects.filter(object_type="services.followupcall").count() == 2
    with pytest.raises(DomainError):
        services.sample_follow_ups(actor=world["other_bureau"], jurisdiction="511903", month=this_month())
    with pytest.raises(ValidationError):
        services.sample_follow_ups(actor=world["bureau"], jurisdiction="511903", month=this_month(), rate="1.5")


@pytest.mark.parametrize("outcome,satisfaction,field", [("reached", None, "satisfaction"),
                                                        ("reached", 6, "satisfaction"),
                                                        ("unreachable", 3, "satisfaction"),
                                                        ("maybe", None, "outcome")])
def test_a_bad_record_is_refused(world, outcome, satisfaction, field):
    completed(world, 1)
    call = services.sample_follow_ups(actor=world["bureau"], jurisdiction="511903", month=this_month())[0]
    with pytest.raises(ValidationError) as err:
        services.record_follow_up(actor=world["community"], call=call, outcome=outcome, satisfaction=satisfaction)
    assert field in err.value.message_dict
    assert FollowUpCall.objects.get().called_at is None


def test_low_satisfaction_flags_the_order_and_settlement_holds_it(world):
    order = completed(world, 1)[0]
    call = services.sample_follow_ups(actor=world["bureau"], jurisdiction="511903", month=this_month())[0]
    with pytest.raises(DomainError):
        services.record_follow_up(actor=world["other_street"], call=call, outcome="reached", satisfaction=5)
    done = services.record_follow_up(actor=world["community"], call=call, outcome="reached", satisfaction=2,
                                     issues="护理员迟到半小时")
    assert (done.outcome, done.satisfaction, done.called_by) == ("reached", 2, world["community"])
    flag = OrderFlag.objects.get(order=order)
    assert flag.kind == FlagKind.FOLLOW_UP and "护理员迟到半小时" in flag.detail
    statement = services.prepare_settlement(actor=world["bureau"], provider=world["org"], month=this_month())
    assert (statement.order_count, statement.held_count, statement.held_total) == (0, 1, order.total)


def test_a_satisfied_person_flags_nothing_and_the_api_is_scoped(client, world):
    completed(world, 2)
    client.force_login(world["street"])
    resp = client.post(BASE + "follow-ups/sample", json.dumps({"month": this_month().strftime("%Y-%m")}),
                       content_type="application/json")
    assert resp.status_code == 200 and resp.json()["added"] == 1
    call_id = resp.json()["calls"][0]["id"]
    listed = client.get(BASE + "follow-ups", {"pending": "true"}).json()
    assert [c["id"] for c in listed["items"]] == [call_id]
    bad = client.post(BASE + f"follow-ups/{call_id}", json.dumps({"outcome": "reached"}),
                      content_type="application/json")
    assert bad.status_code == 422
    ok = client.post(BASE + f"follow-ups/{call_id}", json.dumps({"outcome": "reached", "satisfaction": 5}),
                     content_type="application/json")
    assert ok.status_code == 200 and ok.json()["outcome_label"] == "已接通"
    assert not OrderFlag.objects.filter(kind=FlagKind.FOLLOW_UP).exists()
    client.force_login(world["provider"])
    assert client.get(BASE + "follow-ups").json()["count"] == 1
    client.force_login(world["boss2"])
    assert client.get(BASE + "follow-ups").json()["count"] == 0
    client.force_login(world["other_street"])
    assert client.post(BASE + f"follow-ups/{call_id}", json.dumps({"outcome": "refused"}),
                       content_type="application/json").status_code == 404
