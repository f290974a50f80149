"""Planning a provider's day from its orders, caregivers and shifts: small hand-checkable days.

The geometry: every elder lives on one east-west line at latitude 31.80 (恩阳区), so the best route is the
order of the longitudes. 0.01° of longitude there is 1113.2 m × cos 31.8° ≈ 946 m, × 1.3 detour ≈ 1230 m, which
an e-bike (15 km/h) covers in ⌈295.2⌉ = 296 s.
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.registry.models import Practitioner
from yiyang.routing import selectors, services
from yiyang.routing.models import PlanStatus, RouteLock, RoutePlan, RouteStop
from yiyang.routing.solver import check_plan
from yiyang.services import services as order_services
from yiyang.services.models import Order, OrderStatus
from yiyang.services.tests.factories import tomorrow_at

from .factories import FAST, LAT, LEG, at, carer, day, visit

pytestmark = pytest.mark.django_db


def plan(world, **options):
    run = services.plan_day(actor=world["provider"], provider=world["org"], day=day(), **{**FAST, **options})
    problems = check_plan(run.result, run.problem.visits, run.problem.caregivers,
                          run.problem.options.travel_model(), now=run.problem.options.now)
    assert problems == []
    return run


def routes(run) -> dict[str, list[str]]:
    """caregiver name → the elders in route order (from the saved stops)."""
    out: dict[str, list[str]] = {}
    for stop in (RouteStop.objects.filter(plan=run.plan, caregiver__isnull=False)
                 .select_related("caregiver", "order__elder").order_by("caregiver_id", "position")):
        out.setdefault(stop.caregiver.name, []).append(stop.order.elder.name)
    return out


def unassigned(run) -> dict[str, tuple[str, str]]:
    return {s.order.elder.name: (s.unassigned_code, s.unassigned_reason)
            for s in RouteStop.objects.filter(plan=run.plan, caregiver__isnull=True).select_related("order__elder")}


def test_three_visits_on_a_line_are_served_west_to_east(world):
    carer(world, "李护理", lon=106.59)
    visit(world, "东头", 106.62)
    # Out and back along a line is as long either way; 西头's window (09:00–10:00) makes west-to-east the one.
    visit(world, "西头", 106.60, window=60)
    visit(world, "中间", 106.61)
    run = plan(world)
    assert routes(run) == {"李护理": ["西头", "中间", "东头"]}
    # Out 0.03° and back 0.03°: six legs of 296 s (each leg rounded up on its own, so ±1 s per leg).
    assert abs(run.plan.summary["travel_seconds"] - 6 * LEG) <= 6
    stops = list(RouteStop.objects.filter(plan=run.plan).order_by("position"))
    assert [s.position for s in stops] == [1, 2, 3]
    # The first visit starts at 09:00 (its window opens then), each lasts 60 minutes, plus one leg of travel.
    assert timezone.localtime(stops[0].start).time() == datetime.time(9)
    assert stops[1].start - stops[0].end == datetime.timedelta(seconds=stops[1].travel_seconds)
    assert run.plan.version == 1 and run.plan.status == PlanStatus.DRAFT
    assert run.plan.summary["served"] == 3 and run.plan.summary["unassigned"] == 0


def test_two_caregivers_take_the_visits_near_their_homes(world):
    carer(world, "西护理", lon=106.59)
    carer(world, "东护理", lon=106.70)
    visit(world, "甲", 106.60, window=60)  # 09:00–10:00: 甲 before 丙 (see above)
    visit(world, "乙", 106.69)
    visit(world, "丙", 106.61)
    assert routes(plan(world)) == {"西护理": ["甲", "丙"], "东护理": ["乙"]}


def test_a_bath_goes_to_the_caregiver_with_the_skill_even_if_farther(world):
    carer(world, "西护理", lon=106.59)
    carer(world, "东护理", lon=106.70, skills="助洁")
    visit(world, "洗澡", 106.69, item="bath")
    assert routes(plan(world)) == {"西护理": ["洗澡"]}


def test_a_lock_is_honoured_after_re_planning_and_can_be_released(world):
    west = carer(world, "西护理", lon=106.59)
    carer(world, "东护理", lon=106.70)
    far = visit(world, "东边", 106.69)
    assert routes(plan(world)) == {"东护理": ["东边"]}
    services.lock_visit(actor=world["provider"], order=far, caregiver=west)
    run = plan(world)
    assert routes(run) == {"西护理": ["东边"]}
    assert RouteStop.objects.get(plan=run.plan).locked is True
    assert RoutePlan.objects.get(version=1).status == PlanStatus.SUPERSEDED
    services.unlock_visit(actor=world["provider"], order=far)
    assert not RouteLock.objects.exists()
    assert routes(plan(world)) == {"东护理": ["东边"]}
    assert list(AuditEvent.objects.filter(object_type="routing.routelock").order_by("pk")
                .values_list("action", flat=True)) == [
        "create", "delete"]


def test_a_lock_to_a_caregiver_without_the_skill_is_refused(world):
    carer(world, "西护理", lon=106.59)
    east = carer(world, "东护理", lon=106.70, skills="助洁")
    bath = visit(world, "洗澡", 106.69, item="bath")
    with pytest.raises(ValidationError) as err:
        services.lock_visit(actor=world["provider"], order=bath, caregiver=east)
    assert "助浴" in err.value.message_dict["caregiver"][0]
    assert not RouteLock.objects.exists()


def _served_before(world, order, person):
    """Make `person` the caregiver of the elder's last completed visit (a week ago)."""
    old = order_services.place_order(actor=world["bureau"], elder=order.elder, provider=world["org"],
                                     item=world["cleaning"], scheduled_start=tomorrow_at(9), channel="staff")[0]
    Order.objects.filter(pk=old.pk).update(status=OrderStatus.CONFIRMED, caregiver=person,
                                           scheduled_start=at(9) - datetime.timedelta(days=8))


@pytest.mark.parametrize("previous", ["甲护理", "乙护理"])
def test_continuity_decides_between_two_equally_near_caregivers(world, previous):
    people = {name: carer(world, name, lon=106.59) for name in ("甲护理", "乙护理")}
    order = visit(world, "王秀英", 106.60)
    _served_before(world, order, people[previous])
    run = plan(world)
    assert routes(run) == {previous: ["王秀英"]}
    assert run.plan.summary["continuity_kept"] == 1 and run.plan.summary["continuity_candidates"] == 1


@pytest.mark.parametrize("sent", ["甲护理", "乙护理"])
def test_a_visit_already_assigned_prefers_the_caregiver_sent_over_the_one_before(world, sent):
    people = {name: carer(world, name, lon=106.59) for name in ("甲护理", "乙护理")}
    order = visit(world, "王秀英", 106.60)
    _served_before(world, order, people["甲护理" if sent == "乙护理" else "乙护理"])
    order_services.assign_order(actor=world["provider"], order=order, caregiver=people[sent])
    run = plan(world)
    assert routes(run) == {sent: ["王秀英"]}


def test_missing_coordinates_and_unscheduled_caregivers_are_explained(world):
    carer(world, "李护理", lon=106.59, skills="助洁")
    carer(world, "休息", lon=106.59, shift=None)
    visit(world, "无坐标", None)
    visit(world, "洗澡", 106.60, item="bath")
    visit(world, "打扫", 106.61)
    run = plan(world)
    assert routes(run) == {"李护理": ["打扫"]}
    assert unassigned(run) == {"无坐标": ("no_location", "老人住址没有经纬度，无法排线"),
                               "洗澡": ("no_skill", "当天排线的护理员都不具备“助浴”技能")}
    assert {"code": "unscheduled", "params": {"names": "休息"}} in run.plan.summary["notes"]


def test_no_shifts_at_all_means_eight_to_six_and_a_home_less_caregiver_starts_at_the_centre(world):
    carer(world, "李护理", shift=None)
    visit(world, "早", 106.60, hour=7, window=30)   # closes 07:30, before 08:00
    visit(world, "甲", 106.60)
    visit(world, "乙", 106.62)
    run = plan(world)
    assert sorted(routes(run)["李护理"]) == ["乙", "甲"]
    assert unassigned(run)["早"][0] == "unreachable"
    assert unassigned(run)["早"][1] == "时间窗 07:00–07:30 在任何护理员的班次内都赶不到"
    codes = [n["code"] for n in run.plan.summary["notes"]]
    assert codes == ["default_shift", "centroid_start"]
    # The centre of the day's three visits: (106.60 + 106.60 + 106.62) / 3.
    assert run.plan.summary["starts"][str(Practitioner.objects.get().pk)] == [LAT, pytest.approx(106.606667),
                                                                               False]


def test_a_location_outside_the_county_is_reported(world):
    from yiyang.registry.tests.factories import make_elder

    # The county's area is drawn from its other elders (here one neighbour), so a mistyped location among the
    # day's orders cannot widen it.
    make_elder(world["bureau"], name="邻居", seq=99, latitude=LAT, longitude=106.62)
    carer(world, "李护理", lon=106.59)
    visit(world, "近", 106.60)
    visit(world, "填错", 116.40, lat=39.90)  # Beijing's coordinates typed for an address in 恩阳区
    run = plan(world)
    assert routes(run) == {"李护理": ["近"]}
    assert unassigned(run) == {"填错": ("outside_area", "老人住址的经纬度在本区县范围之外，请核对住址坐标")}


def test_bad_options_are_refused_in_chinese_and_save_nothing(world):
    carer(world, "李护理", lon=106.59)
    visit(world, "甲", 106.60)
    for bad, field in [({"time_limit_seconds": 0}, "time_limit_seconds"),
                       ({"time_limit_seconds": 121}, "time_limit_seconds"),
                       ({"continuity_weight": -1}, "continuity_weight"), ({"mode": "horse"}, "mode")]:
        with pytest.raises(ValidationError) as err:
            services.plan_day(actor=world["provider"], provider=world["org"], day=day(), **bad)
        assert field in err.value.message_dict
    with pytest.raises(ValidationError):
        services.plan_day(actor=world["provider"], provider=world["org"], day=timezone.localdate()
                          - datetime.timedelta(days=1))
    assert not RoutePlan.objects.exists()


def test_only_the_providers_dispatcher_or_bureau_may_plan(world):
    with pytest.raises(DomainError) as err:
        services.plan_day(actor=world["street"], provider=world["org"], day=day(), **FAST)
    assert err.value.status == 403
    run = services.plan_day(actor=world["bureau"], provider=world["org"], day=day(), **FAST)
    assert run.plan.summary["notes"] == [{"code": "no_caregivers"}, {"code": "no_orders"}]


def test_re_planning_today_keeps_the_started_visit_first_and_reports_closed_windows(world):
    today = timezone.localdate()
    person = carer(world, "李护理", lon=106.59, shift=None)
    # Their shift starts at 14:00, but they checked in at 13:35: the visit under way still leads their route.
    order_services.set_shift(actor=world["provider"], caregiver=person, day=today, start="14:00", end="20:00")
    started = visit(world, "正在服务", 106.62)
    closed = visit(world, "错过", 106.60)
    later = visit(world, "下午", 106.61)
    Order.objects.filter(pk=started.pk).update(scheduled_start=at(13, 30, today), status=OrderStatus.CHECKED_IN,
                                               caregiver=person, check_in_at=at(13, 35, today))
    Order.objects.filter(pk=closed.pk).update(scheduled_start=at(9, 0, today), window_minutes=60)
    Order.objects.filter(pk=later.pk).update(scheduled_start=at(15, 0, today), window_minutes=60)
    run = services.plan_day(actor=world["provider"], provider=world["org"], day=today, now=at(14, 0, today), **FAST)
    assert check_plan(run.result, run.problem.visits, run.problem.caregivers, run.problem.options.travel_model(),
                      now=run.problem.options.now) == []
    assert routes(run) == {"李护理": ["正在服务", "下午"]}
    first = RouteStop.objects.get(plan=run.plan, position=1)
    assert first.started and timezone.localtime(first.start).time() == datetime.time(13, 35)
    assert unassigned(run) == {"错过": ("window_closed", "时间窗已过（最晚开始 10:00，现在 14:00），请改约时间")}
    assert {"code": "replan_now", "params": {"now": "14:00"}} in run.plan.summary["notes"]


def test_publish_assigns_the_routed_orders_in_one_go(world):
    west = carer(world, "西护理", lon=106.59)
    east = carer(world, "东护理", lon=106.70)
    a, b = visit(world, "甲", 106.60), visit(world, "乙", 106.69)
    kept = visit(world, "无坐标", None)
    order_services.assign_order(actor=world["provider"], order=kept, caregiver=east)
    run = plan(world)
    result = services.publish_plan(actor=world["provider"], plan=run.plan)
    assert (sorted(result.assigned), result.unchanged, result.kept) == (sorted([a.pk, b.pk]), [], [kept.pk])
    assert {o.pk: (o.status, o.caregiver_id) for o in Order.objects.all()} == {
        a.pk: ("assigned", west.pk), b.pk: ("assigned", east.pk), kept.pk: ("assigned", east.pk)}
    run.plan.refresh_from_db()
    assert run.plan.status == PlanStatus.PUBLISHED and run.plan.published_by == world["provider"]
    # The caregiver's phone reads the published order: 甲 first for 西护理, arriving by its 09:00 start.
    sequence = selectors.published_sequence(west, day())
    assert list(sequence) == [a.pk] and sequence[a.pk][0] == 1
    assert timezone.localtime(sequence[a.pk][1]).time() <= datetime.time(9)
    assert selectors.published_sequence(west, day() + datetime.timedelta(days=1)) == {}
    # A second plan, published, supersedes the first; orders already with their caregiver are left alone.
    again = plan(world)
    result = services.publish_plan(actor=world["provider"], plan=again.plan)
    assert result.assigned == [] and sorted(result.unchanged) == sorted([a.pk, b.pk])
    assert RoutePlan.objects.get(pk=run.plan.pk).status == PlanStatus.SUPERSEDED


def test_a_stale_order_makes_publish_refuse_and_change_nothing(world):
    carer(world, "西护理", lon=106.59)
    a, b = visit(world, "甲", 106.60), visit(world, "乙", 106.61)
    run = plan(world)
    order_services.cancel_order(actor=world["provider"], order=b, reason="家属取消")
    with pytest.raises(DomainError) as err:
        services.publish_plan(actor=world["provider"], plan=run.plan)
    assert err.value.status == 409 and "乙" in str(err.value.message) and "已取消" in str(err.value.message)
    assert Order.objects.get(pk=a.pk).status == OrderStatus.ACCEPTED
    assert RoutePlan.objects.get().status == PlanStatus.DRAFT
    # An older draft cannot be published once a newer one exists.
    newer = plan(world)
    with pytest.raises(DomainError):
        services.publish_plan(actor=world["provider"], plan=run.plan)
    assert newer.plan.version == 2


def _count(world) -> int:
    with CaptureQueriesContext(connection) as ctx:
        services.plan_day(actor=world["provider"], provider=world["org"], day=day(), **FAST)
    return len(ctx.captured_queries)


def test_planning_takes_the_same_number_of_queries_for_3_and_8_visits(world):
    people = [carer(world, f"护理{i}", lon=106.59) for i in range(2)]
    orders = [visit(world, f"老人{i}", 106.60 + i / 100) for i in range(3)]
    _served_before(world, orders[0], people[0])
    services.lock_visit(actor=world["provider"], order=orders[1], caregiver=people[1])
    small = _count(world)
    more = [visit(world, f"老人{i}", 106.60 + i / 100) for i in range(3, 8)]
    _served_before(world, more[0], people[1])
    services.lock_visit(actor=world["provider"], order=more[1], caregiver=people[0])
    carer(world, "护理3", lon=106.70)
    assert _count(world) == small
    assert small <= 16
