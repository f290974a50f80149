"""Orders through the real services: money splits to the fen, the life cycle, offline replay, flags, scope."""

import datetime
from decimal import Decimal as D
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent, Region, Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import TRANSITIONS, FlagKind, Order, OrderEvent, OrderFlag, OrderStatus

from .factories import (
    OTHER_STREET,
    STREET,
    booked_for,
    days_ago,
    make_caregiver,
    soon,
    split,
    tomorrow_at,
)

pytestmark = pytest.mark.django_db

HOME = (D("31.800000"), D("106.600000"))


@pytest.fixture
def elder_fields():
    return {"latitude": HOME[0], "longitude": HOME[1]}  # born 1940-03-08: 80+


def younger(w, *, kind=None, seq=2):
    """A 70-year-old neighbour, optionally of a category (特困, 低保) for the last year."""
    elder = make_elder(w["bureau"], name="张建国", birth=datetime.date(1956, 6, 1), seq=seq, male=True)
    if kind:
        registry.add_category(actor=w["bureau"], elder=elder, kind=kind, start_date=days_ago(365))
    return elder


def place(w, elder=None, *, item="bath", actor="community", start=None, **kw):
    kw.setdefault("channel", "phone")
    return services.place_order(actor=w[actor], elder=elder or w["elder"], provider=w["org"], item=w[item],
                                scheduled_start=start or tomorrow_at(9), **kw)[0]


def state(order):
    """Everything a failed call must leave alone."""
    return (Order.objects.filter(pk=order.pk).values().get(), OrderEvent.objects.filter(order=order).count(),
            list(OrderFlag.objects.filter(order=order).values_list("kind", flat=True)),
            AuditEvent.objects.count())


def ago(minutes):
    return timezone.now() - datetime.timedelta(minutes=minutes)


# ---------------------------------------------------------------------------------------------------- money


def test_destitute_pay_nothing(world):
    order = place(world, younger(world, kind="destitute"))
    # 颐康's 33.33 (under the 40.00 ceiling), 100 % subsidised.
    assert split(order) == (D("33.33"), D("33.33"), D("100"), D("33.33"), D("0.00"), D("0.00"))
    assert order.price_basis == "inclusive" and order.subsidy_rule == world["rule"]
    assert order.price_explanation == ("特困 → 普惠价 33.33 元 × 1 = 33.33 元；政府补贴 100% 即 33.33 元，"
                                       "服务补贴余额抵扣 0.00 元，本人自付 0.00 元")


def test_subsistence_90_percent_of_hours_rounded_half_up(world):
    order = place(world, younger(world, kind="subsistence"), item="cleaning", quantity="1.5",
                  allowance_available="2.00")
    # 28.88 × 1.5 = 43.32; 90 % = 38.988 → 38.99; 4.33 left: 2.00 from the allowance, 2.33 paid.
    assert split(order) == (D("28.88"), D("43.32"), D("90"), D("38.99"), D("2.00"), D("2.33"))
    assert order.subsidy + order.allowance + order.copay == order.total


def test_80_plus_pay_the_inclusive_price_from_their_allowance_first(world):
    order = place(world, allowance_available="20.00")
    assert split(order) == (D("33.33"), D("33.33"), D("0"), D("0.00"), D("20.00"), D("13.33"))
    assert order.price_explanation.startswith("80 周岁及以上 → 普惠价 33.33 元")


def test_others_pay_the_market_price_without_allowance(world):
    order = place(world, younger(world), allowance_available="20.00")
    assert split(order) == (D("80.00"), D("80.00"), D("0"), D("0.00"), D("0.00"), D("80.00"))
    assert order.price_basis == "market"


def test_a_ceiling_lowered_since_the_offer_holds_the_price_and_the_nearest_price_applies(world):
    services.set_price(actor=world["bureau"], item=world["bath"], jurisdiction=STREET, valid_from=days_ago(0),
                       market_price="70.00", inclusive_price="30.00")
    assert split(place(world, younger(world, kind="destitute")))[:2] == (D("30.00"), D("30.00"))
    assert split(place(world, younger(world, seq=3)))[:2] == (D("70.00"), D("70.00"))


def test_the_preview_is_what_the_order_will_be_and_writes_nothing(world):
    elder = younger(world, kind="subsistence")
    quote = services.preview_quote(actor=world["family"], elder=world["elder"], provider=world["org"],
                                   item=world["bath"], scheduled_start=tomorrow_at(9), allowance_available="5")
    assert (quote.total, quote.subsidy, quote.allowance, quote.copay) == (D("33.33"), D("0.00"), D("5.00"),
                                                                         D("28.33"))
    assert not Order.objects.exists()
    order = place(world, elder, actor="bureau")
    quote = services.preview_quote(actor=world["bureau"], elder=elder, provider=world["org"],
                                   item=world["bath"], scheduled_start=tomorrow_at(9))
    assert (quote.unit_price, quote.total, quote.share, quote.subsidy, quote.allowance, quote.copay) == split(order)


# ------------------------------------------------------------------------------------------- placing: refusals


@pytest.mark.parametrize(("change", "field"), [
    ({"start": "past"}, "scheduled_start"),
    ({"start": "far"}, "scheduled_start"),
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-1"}, "quantity"),
    ({"channel": "fax"}, "channel"),
])
def test_bad_requests_are_refused(world, change, field):
    start = {"past": ago(1), "far": timezone.now() + datetime.timedelta(days=61)}.get(change.pop("start", None))
    with pytest.raises(ValidationError) as exc:
        place(world, start=start, **change)
    assert field in exc.value.message_dict
    assert not Order.objects.exists()


def test_an_elder_outside_the_providers_streets_is_refused(world):
    elder = make_elder(world["bureau"], name="赵大爷", seq=4, male=True, residence="511903003")
    with pytest.raises(ValidationError) as exc:
        place(world, elder, actor="bureau")
    assert exc.value.message_dict["provider"] == [
        f"颐康 在 {timezone.localdate() + datetime.timedelta(days=1)} 不在老人所在街道提供上门助浴。"]


@pytest.mark.parametrize("kind", ["death", "move_out", "suspend"])
def test_no_order_for_an_elder_who_died_moved_out_or_is_suspended(world, kind):
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind=kind,
                                 effective_date=days_ago(0))
    with pytest.raises(DomainError) as exc:
        place(world)
    assert exc.value.code == "elder_inactive"
    assert not Order.objects.exists()


@pytest.mark.parametrize("who", ["other_bureau", "other_street", "provider", "caregiver", "unlinked"])
def test_only_the_family_and_the_elders_region_may_order(world, who):
    if who == "unlinked":
        world["unlinked"] = make_user("family2", Role.FAMILY)
    with pytest.raises(DomainError) as exc:
        place(world, actor=who)
    assert exc.value.status == 403
    assert not Order.objects.exists()


@pytest.mark.parametrize("who", ["family", "community", "street", "bureau"])
def test_the_family_and_every_level_of_the_region_may_order(world, who):
    order = place(world, actor=who, channel="portal" if who == "family" else "staff")
    assert order.placed_by == world[who] and order.status == OrderStatus.REQUESTED
    assert (order.county_code, order.region_code) == ("511903", "511903001002")
    assert list(order.events.values_list("from_status", "to_status")) == [("", "requested")]


# ------------------------------------------------------------------------------------------- offline replay


def test_the_same_client_key_twice_makes_one_order(world):
    def submit():
        return services.place_order(actor=world["family"], elder=world["elder"], provider=world["org"],
                                    item=world["bath"], scheduled_start=tomorrow_at(10), channel="portal",
                                    client_key="k-1")

    (first, created), (again, created_again) = submit(), submit()
    assert again.pk == first.pk and (created, created_again) == (True, False)
    assert Order.objects.count() == 1 and OrderEvent.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="services.order").count() == 1


def test_the_same_client_key_with_other_content_or_by_someone_else_is_a_conflict(world):
    place(world, actor="family", channel="portal", client_key="k-1")
    with pytest.raises(DomainError) as exc:
        place(world, actor="family", channel="portal", client_key="k-1", quantity=2)
    assert (exc.value.code, exc.value.status) == ("client_key_conflict", 409)
    with pytest.raises(DomainError) as exc:
        place(world, actor="community", channel="portal", client_key="k-1")
    assert exc.value.status == 409
    assert Order.objects.count() == 1


def test_a_retry_after_the_visit_time_passed_still_returns_the_order(world):
    start = soon(5)
    order = place(world, client_key="k-late", start=start)
    Order.objects.filter(pk=order.pk).update(scheduled_start=ago(60))  # the phone comes back online later
    order.refresh_from_db()
    assert place(world, client_key="k-late", start=order.scheduled_start).pk == order.pk


def assigned(w, elder=None, *, item="bath", start=None, **kw):
    order = place(w, elder, item=item, start=start or soon(5), **kw)
    services.accept_order(actor=w["provider"], order=order)
    return services.assign_order(actor=w["provider"], order=order, caregiver=w["carer"])


def test_check_in_and_out_replayed_from_the_queue_are_applied_once(world):
    order = booked_for(assigned(world), ago(60))
    first = services.check_in(actor=world["caregiver"], order=order, at=ago(60), latitude="31.8",
                              longitude="106.6", client_key="in-1")
    again = services.check_in(actor=world["caregiver"], order=order, at=ago(59), latitude="31.9",
                              longitude="106.6", client_key="in-1")
    assert again.check_in_at == first.check_in_at and again.check_in_latitude == D("31.800000")
    out = services.check_out(actor=world["caregiver"], order=order, at=ago(0), notes="洗澡顺利", client_key="out-1")
    # The check-in arrives a third time after the visit ended: still nothing new.
    late = services.check_in(actor=world["caregiver"], order=order, client_key="in-1")
    assert late.status == OrderStatus.CHECKED_OUT == out.status
    services.check_out(actor=world["caregiver"], order=order, notes="洗澡顺利", client_key="out-1")
    steps = list(order.events.order_by("pk").values_list("to_status", flat=True))
    assert steps == ["requested", "accepted", "assigned", "checked_in", "checked_out"]
    assert not OrderFlag.objects.exists()
    with pytest.raises(DomainError) as exc:  # a key used for the check-in cannot be a check-out
        services.check_out(actor=world["caregiver"], order=order, client_key="in-1")
    assert exc.value.code == "client_key_conflict"


# ------------------------------------------------------------------------------------------- the life cycle

ACTIONS = {
    OrderStatus.ACCEPTED: lambda w, o: services.accept_order(actor=w["provider"], order=o),
    OrderStatus.DECLINED: lambda w, o: services.decline_order(actor=w["provider"], order=o, reason="人手不足"),
    OrderStatus.ASSIGNED: lambda w, o: services.assign_order(actor=w["provider"], order=o, caregiver=w["carer"]),
    OrderStatus.CHECKED_IN: lambda w, o: services.check_in(actor=w["caregiver"], order=o, at=ago(0)),
    OrderStatus.CHECKED_OUT: lambda w, o: services.check_out(actor=w["caregiver"], order=o, at=ago(0)),
    OrderStatus.CONFIRMED: lambda w, o: services.confirm_order(actor=w["family"], order=o),
    OrderStatus.RATED: lambda w, o: services.rate_order(actor=w["family"], order=o, rating=5, comment="很好"),
    OrderStatus.CANCELLED: lambda w, o: services.cancel_order(actor=w["community"], order=o, reason="老人住院"),
    OrderStatus.NO_SHOW: lambda w, o: services.mark_no_show(actor=w["provider"], order=o, reason="家中无人"),
}
REACHED_AFTER_CHECK_IN = {OrderStatus.CHECKED_IN, OrderStatus.CHECKED_OUT, OrderStatus.CONFIRMED,
                          OrderStatus.RATED, OrderStatus.SETTLED}
PAIRS = [(a, b) for a in OrderStatus for b in ACTIONS]


def put_in(w, status):
    """An order (by the community, for the family's mother, starting in 5 minutes) in the given status."""
    order = place(w, start=soon(5))
    fields = {"status": status, "caregiver": w["carer"]}
    if status in REACHED_AFTER_CHECK_IN:
        fields["check_in_at"] = ago(60)
    if status in REACHED_AFTER_CHECK_IN - {OrderStatus.CHECKED_IN}:
        fields["check_out_at"] = ago(1)
    Order.objects.filter(pk=order.pk).update(**fields)
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_transition_of_the_table(world, source, target):
    order = put_in(world, source)
    if target in TRANSITIONS[source]:
        events = order.events.count()
        moved = ACTIONS[target](world, order)
        assert moved.status == target == Order.objects.get(pk=order.pk).status
        assert order.events.count() == events + 1
        assert order.events.order_by("pk").last().from_status == source
    else:
        before = state(order)
        with pytest.raises(DomainError) as exc:
            ACTIONS[target](world, order)
        assert (exc.value.code, exc.value.status) == ("invalid_state", 409)
        assert state(order) == before


def test_a_check_out_before_any_check_in_says_so(world):
    order = assigned(world)
    with pytest.raises(DomainError) as exc:
        services.check_out(actor=world["caregiver"], order=order)
    assert str(exc.value.message) == "尚未签到，不能签退。"


def test_the_whole_journey(world):
    order = place(world, actor="family", channel="portal", start=soon(5), note="需要助浴椅")
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    booked_for(order, ago(65))
    services.check_in(actor=world["caregiver"], order=order, at=ago(65), latitude="31.8005", longitude="106.6")
    services.check_out(actor=world["caregiver"], order=order, at=ago(2), latitude="31.8", longitude="106.6",
                       notes="洗澡、修剪指甲")
    services.confirm_order(actor=world["family"], order=order)
    order = services.rate_order(actor=world["family"], order=order, rating="4", comment="准时")
    assert (order.status, order.rating, order.rating_comment, order.service_notes) == ("rated", 4, "准时",
                                                                                       "洗澡、修剪指甲")
    assert order.caregiver == world["carer"] and not order.flags.exists()
    assert AuditEvent.objects.filter(object_type="services.order", object_id=str(order.pk)).count() == 7


@pytest.mark.parametrize("who", ["community", "street", "family"])
def test_the_family_the_community_or_the_street_confirm(world, who):
    order = put_in(world, OrderStatus.CHECKED_OUT)
    assert services.confirm_order(actor=world[who], order=order).status == OrderStatus.CONFIRMED


@pytest.mark.parametrize("rating", [0, 6, "4.5", "good", None])
def test_a_rating_is_a_whole_number_from_1_to_5(world, rating):
    order = put_in(world, OrderStatus.CONFIRMED)
    before = state(order)
    with pytest.raises(ValidationError):
        services.rate_order(actor=world["family"], order=order, rating=rating)
    assert state(order) == before


# ------------------------------------------------------------------------------------------- flags


def test_a_check_in_far_from_home_is_flagged_and_near_is_not(world):
    far, near = assigned(world), assigned(world)
    services.check_in(actor=world["caregiver"], order=near, latitude="31.803", longitude="106.6")  # ≈ 334 m
    services.check_out(actor=world["caregiver"], order=near)
    services.check_in(actor=world["caregiver"], order=far, latitude="31.81", longitude="106.6")  # ≈ 1 112 m
    assert not near.flags.filter(kind=FlagKind.FAR_CHECK_IN).exists()
    assert list(far.flags.values_list("kind", "detail")) == [(FlagKind.FAR_CHECK_IN, "签到地点距老人住址约 1112 米")]


@pytest.mark.parametrize(("early", "flag"), [
    (datetime.timedelta(hours=2), "签到比预约时间早 120 分钟"),           # the last moment that is let through
    (datetime.timedelta(hours=1, minutes=59), "签到比预约时间早 119 分钟"),
    (datetime.timedelta(minutes=31), "签到比预约时间早 31 分钟"),
    (datetime.timedelta(minutes=30), None),                               # half an hour early is normal
    (datetime.timedelta(minutes=5), None),
])
def test_a_check_in_more_than_half_an_hour_early_is_flagged_not_refused(world, early, flag):
    now = timezone.now()
    order = services.check_in(actor=world["caregiver"], order=assigned(world, start=now + early), at=now)
    assert order.status == OrderStatus.CHECKED_IN
    expected = [(FlagKind.EARLY_CHECK_IN, flag)] if flag else []
    assert list(order.flags.values_list("kind", "detail")) == expected


def test_a_check_in_without_a_location_is_not_flagged(world):
    order = services.check_in(actor=world["caregiver"], order=assigned(world))
    assert order.check_in_latitude is None and not order.flags.exists()


def test_overlapping_visits_of_one_caregiver_are_flagged(world):
    first, second, third = assigned(world), assigned(world, younger(world)), assigned(world)
    for order, start in ((first, ago(90)), (second, ago(60)), (third, ago(5))):
        booked_for(order, start)
    services.check_in(actor=world["caregiver"], order=first, at=ago(90))
    services.check_in(actor=world["caregiver"], order=second, at=ago(60))
    services.check_out(actor=world["caregiver"], order=first, at=ago(30))
    services.check_out(actor=world["caregiver"], order=second, at=ago(10))
    services.check_in(actor=world["caregiver"], order=third, at=ago(5))
    assert not first.flags.exists() and not third.flags.exists()
    assert list(second.flags.values_list("kind", "detail")) == [
        (FlagKind.OVERLAP, f"护理员尚未从订单 {first.pk}（王秀英）签退")]


@pytest.mark.parametrize(("item", "quantity", "minutes", "flagged"), [
    ("bath", "1", 60, False),
    ("bath", "1", 30, False),        # 50 % of 60: still within
    ("bath", "1", 29, True),
    ("bath", "1", 120, False),       # 200 %
    ("bath", "1", 121, True),
    ("cleaning", "0.5", 60, False),  # half an hour booked: 30 minutes standard, 60 is 200 %
    ("cleaning", "0.5", 61, True),
    ("cleaning", "1.5", 45, False),  # an hour and a half: 90 minutes standard, 45 is 50 %
    ("cleaning", "1.5", 44, True),
])
def test_durations_far_from_the_standard_are_flagged(world, item, quantity, minutes, flagged):
    order = assigned(world, item=item, quantity=quantity)
    # Time passes: the visit was booked for just before the caregiver arrived.
    now = timezone.now()
    arrived = now - datetime.timedelta(minutes=minutes + 1)
    Order.objects.filter(pk=order.pk).update(scheduled_start=arrived)
    services.check_in(actor=world["caregiver"], order=order, at=arrived)
    services.check_out(actor=world["caregiver"], order=order, at=now - datetime.timedelta(minutes=1))
    assert order.flags.filter(kind=FlagKind.DURATION).exists() is flagged


def test_an_order_for_an_elder_who_died_since_is_cancelled_and_cannot_be_visited(world):
    order = place(world, start=soon(5))
    services.accept_order(actor=world["provider"], order=order)
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="death",
                                 effective_date=days_ago(0))
    order.refresh_from_db()
    assert order.status == "cancelled" and order.end_reason.startswith("老年人状态变更：死亡")
    before = state(order)
    with pytest.raises(DomainError) as exc:
        services.check_in(actor=world["caregiver"], order=order)
    assert exc.value.status == 409
    assert state(order) == before


def test_an_elder_who_moved_out_of_the_providers_streets_is_flagged_at_acceptance(world):
    order = place(world, start=soon(5))
    far = (Region.objects.filter(code__startswith="511903", level="community")
           .exclude(code__startswith=STREET).exclude(code__startswith=OTHER_STREET).order_by("code")[0])
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="relocate",
                                 effective_date=days_ago(0), to_region=far.code)
    services.accept_order(actor=world["provider"], order=order)
    assert list(order.flags.values_list("kind", flat=True)) == [FlagKind.ELDER_INACTIVE]
    services.assign_order(actor=world["provider"], order=order, caregiver=world["carer"])
    with pytest.raises(DomainError) as exc:
        services.check_in(actor=world["caregiver"], order=order)
    assert exc.value.code == "elder_inactive"


# ------------------------------------------------------------------------------------------- scope


def test_another_provider_cannot_touch_the_order(world):
    other = make_user("other_provider", Role.PROVIDER, organisation=make_org("别家", region="511903003"))
    order = place(world)
    before = state(order)
    for call in (lambda: services.accept_order(actor=other, order=order),
                 lambda: services.decline_order(actor=other, order=order, reason="x"),
                 lambda: services.cancel_order(actor=other, order=order, reason="x"),
                 lambda: services.accept_order(actor=world["other_bureau"], order=order),
                 lambda: services.cancel_order(actor=world["other_street"], order=order, reason="x")):
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.status == 403
    assert state(order) == before


def test_only_the_assigned_caregiver_checks_in(world):
    someone = make_user("caregiver2", Role.CAREGIVER, organisation=world["org"])
    make_caregiver(world, account=None, seq=8, name="王护理")
    order = assigned(world)
    before = state(order)
    for actor in (someone, world["provider"], world["family"]):
        with pytest.raises(DomainError) as exc:
            services.check_in(actor=actor, order=order)
        assert exc.value.status == 403
    assert state(order) == before


def test_an_unlinked_family_cannot_confirm_or_rate(world):
    stranger = make_user("family2", Role.FAMILY)
    order = put_in(world, OrderStatus.CHECKED_OUT)
    before = state(order)
    with pytest.raises(DomainError):
        services.confirm_order(actor=stranger, order=order)
    with pytest.raises(DomainError):
        services.confirm_order(actor=world["provider"], order=order)  # the provider cannot confirm its own work
    assert state(order) == before
    services.confirm_order(actor=world["family"], order=order)
    with pytest.raises(DomainError):
        services.rate_order(actor=world["community"], order=order, rating=5)


def test_a_caregiver_must_belong_be_employed_and_have_the_skill(world):
    order = place(world)
    services.accept_order(actor=world["provider"], order=order)
    elsewhere = make_org("别家", region="511903003")
    strangers = make_caregiver(world, account=None, seq=9, name="外机构", organisation=elsewhere)
    unskilled = make_caregiver(world, account=None, seq=10, name="无助浴", skills="助洁")
    gone = make_caregiver(world, account=None, seq=11, name="已离职", end_date=days_ago(1))
    before = state(order)
    for carer, text in ((strangers, "不是本机构的人员"), (unskilled, "不具备“助浴”技能"), (gone, "不在职")):
        with pytest.raises(ValidationError) as exc:
            services.assign_order(actor=world["provider"], order=order, caregiver=carer)
        assert text in exc.value.message_dict["caregiver"][0]
    assert state(order) == before
    # 助洁 needs no skill: anyone employed may take it.
    cleaning = place(world, item="cleaning")
    services.accept_order(actor=world["provider"], order=cleaning)
    assert services.assign_order(actor=world["provider"], order=cleaning, caregiver=unskilled).caregiver == unskilled


# ------------------------------------------------------------------------------------------- cancel, no-show


def test_cancellation_by_the_placer_the_provider_or_the_community_keeps_who_and_why(world):
    by_placer = place(world, actor="family", channel="portal")
    by_provider = place(world)
    services.accept_order(actor=world["provider"], order=by_provider)
    by_community = assigned(world, actor="family", channel="portal")
    services.cancel_order(actor=world["family"], order=by_placer, reason="改期")
    services.cancel_order(actor=world["provider"], order=by_provider, reason="车辆故障")
    services.cancel_order(actor=world["community"], order=by_community, reason="老人住院")
    notes = [o.events.order_by("pk").last().note for o in (by_placer, by_provider, by_community)]
    assert notes == ["下单人：改期", "服务机构：车辆故障", "社区/街道：老人住院"]
    assert Order.objects.get(pk=by_provider.pk).end_reason == "车辆故障"


def test_a_reason_is_required_to_cancel_decline_or_mark_a_no_show(world):
    order = place(world)
    before = state(order)
    for call in (services.cancel_order, services.decline_order):
        with pytest.raises(ValidationError) as exc:
            call(actor=world["provider"], order=order, reason="  ")
        assert exc.value.message_dict == {"reason": ["请填写原因。"]}
    assert state(order) == before


def test_a_visit_started_cannot_be_cancelled(world):
    order = services.check_in(actor=world["caregiver"], order=assigned(world))
    before = state(order)
    with pytest.raises(DomainError) as exc:
        services.cancel_order(actor=world["community"], order=order, reason="x")
    assert str(exc.value.message) == "订单当前为“服务中”，不能取消。"
    assert state(order) == before


def test_a_no_show_by_the_caregiver_or_the_provider(world):
    one, two = assigned(world), assigned(world)
    one = services.mark_no_show(actor=world["caregiver"], order=one, reason="敲门无人应答")
    two = services.mark_no_show(actor=world["provider"], order=two, reason="护理员生病")
    assert (one.status, one.end_reason, two.status) == ("no_show", "敲门无人应答", "no_show")
    with pytest.raises(DomainError):
        services.mark_no_show(actor=world["family"], order=assigned(world), reason="x")


# ------------------------------------------------------------------------------------------- nothing half-done


def test_failed_calls_leave_the_order_exactly_as_it_was(world):
    early = assigned(world, start=timezone.now() + datetime.timedelta(hours=3))
    before = state(early)
    with pytest.raises(ValidationError) as exc:  # far away *and* too early: refused, and no flag either
        services.check_in(actor=world["caregiver"], order=early, latitude="31.9", longitude="106.6")
    assert "还早于 2 小时" in exc.value.message_dict["at"][0]
    assert state(early) == before

    order = services.check_in(actor=world["caregiver"], order=assigned(world), at=ago(30))
    before = state(order)
    for kwargs, field in (({"at": ago(31)}, "at"), ({"at": timezone.now() + datetime.timedelta(hours=1)}, "at"),
                          ({"latitude": "north", "longitude": "106"}, "latitude")):
        with pytest.raises(ValidationError) as exc:
            services.check_out(actor=world["caregiver"], order=order, client_key="out-x", **kwargs)
        assert field in exc.value.message_dict
    assert state(order) == before
    assert not OrderEvent.objects.filter(client_key="out-x").exists()


@pytest.mark.parametrize("role, channel, allowed", [
    ("family", "portal", True), ("family", "phone", False), ("family", "staff", False),
    ("community", "phone", True), ("community", "staff", True), ("community", "portal", False),
])
def test_the_channel_must_fit_who_places_the_order(world, role, channel, allowed):
    w = world
    place = partial(services.place_order, actor=w[role], elder=w["elder"], provider=w["org"], item=w["bath"],
                    scheduled_start=soon(30), channel=channel)
    if allowed:
        assert place()[0].channel == channel
    else:
        with pytest.raises(ValidationError) as exc:
            place()
        assert "不能以" in exc.value.message_dict["channel"][0]
        assert not Order.objects.exists() and not AuditEvent.objects.filter(object_type="services.order").exists()


def test_a_flag_is_written_in_the_platform_language_whatever_the_phone_speaks(world):
    """The caregiver's phone asks for English; the flag is a record everyone reads, kept in Chinese (the English
    page translates its label, not the stored text)."""
    from django.utils import translation

    now = timezone.now()
    order = assigned(world, start=now + datetime.timedelta(minutes=90))
    with translation.override("en"):
        services.check_in(actor=world["caregiver"], order=order, at=now)
    assert list(order.flags.values_list("kind", "detail")) == [(FlagKind.EARLY_CHECK_IN, "签到比预约时间早 90 分钟")]
