"""Writes of the routing domain: plan a provider's day, lock and unlock visits, publish a plan.

`plan_day` turns the provider's orders, caregivers and shifts of one local day into the solver's input
(`solver.Visit`, `solver.Caregiver`, `solver.PlanOptions`), runs it, and saves the answer as a new draft
version. `publish_plan` hands the routed orders to their caregivers through the services app's
`assign_order`, so the order life cycle, its events and audit stay in one place.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min, OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction
from yiyang.registry.models import Elder, Organisation, Practitioner
from yiyang.services import selectors as service_selectors
from yiyang.services import services as order_services
from yiyang.services.models import Order, OrderStatus, ServiceCategory

from . import policy, solver
from .models import PlanStatus, RouteLock, RoutePlan, RouteStop
from .texts import NO_LOCATION, reason_text
from .travel import DEFAULT_SPEEDS_KMH

# Orders the planner routes: taken by the provider and not yet finished.
PLANNABLE = (OrderStatus.ACCEPTED, OrderStatus.ASSIGNED, OrderStatus.CHECKED_IN)
# A visit that happened: its caregiver is the one the elder knows (continuity of care).
COMPLETED = (OrderStatus.CHECKED_OUT, OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.SETTLED)
PRIORITY = {ServiceCategory.EMERGENCY: 3, ServiceCategory.MEDICAL: 2}
DEFAULT_SHIFT = (datetime.time(8), datetime.time(18))
MAX_TIME_LIMIT = 120
# Elders' bounding box plus this margin (degrees, about 5 km) is the county's service area.
AREA_MARGIN_DEG = 0.05
MODES = tuple(DEFAULT_SPEEDS_KMH)


def visit_id(order_id: int) -> str:
    return f"o{order_id}"


def caregiver_id(practitioner_id: int) -> str:
    return f"c{practitioner_id}"


def _pk(ident: str) -> int:
    return int(ident[1:])


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _seconds(moment: datetime.datetime, midnight: datetime.datetime) -> int:
    return int((moment - midnight).total_seconds())


def _clock(seconds: int) -> datetime.time:
    """Seconds since midnight as a time of the same day (clamped to 00:00–23:59)."""
    seconds = min(max(seconds, 0), 23 * 3600 + 59 * 60)
    return datetime.time(seconds // 3600, seconds % 3600 // 60)


def _date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value)
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({"date": [_("日期格式应为 YYYY-MM-DD。")]}) from None


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


# ------------------------------------------------------------------------------------------- the options


def _options(*, seed, time_limit_seconds, continuity_weight, mode, detour_factor) -> dict:
    errors: dict[str, list] = {}
    try:
        limit = float(time_limit_seconds)
    except (TypeError, ValueError):
        limit = math.nan
    if not (limit > 0 and limit <= MAX_TIME_LIMIT):
        errors["time_limit_seconds"] = [_("排线时间须大于 0 秒且不超过 %(max)d 秒。") % {"max": MAX_TIME_LIMIT}]
    try:
        weight = int(continuity_weight)
    except (TypeError, ValueError):
        weight = -1
    if weight < 0 or weight > 86400:
        errors["continuity_weight"] = [_("服务连续性权重须为 0 到 86400 之间的整数（秒）。")]
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        seed = -1
    if seed < 0:
        errors["seed"] = [_("随机种子须为非负整数。")]
    if mode not in MODES:
        errors["mode"] = [_("出行方式须为 walk（步行）、ebike（电动车）或 car（汽车）。")]
    try:
        detour = float(detour_factor)
    except (TypeError, ValueError):
        detour = math.nan
    if not 1.0 <= detour <= 3.0:
        errors["detour_factor"] = [_("绕行系数须在 1.0 到 3.0 之间。")]
    if errors:
        raise ValidationError(errors)
    return {"seed": seed, "time_limit_seconds": limit, "continuity_weight": weight, "mode": mode,
            "detour_factor": detour}


# ------------------------------------------------------------------------------------------- the input


@dataclass
class Problem:
    """The solver's input for one provider and day, with what is needed to save and explain the answer."""

    visits: list[solver.Visit]
    caregivers: list[solver.Caregiver]
    options: solver.PlanOptions
    orders: dict[int, Order]
    practitioners: dict[int, Practitioner]
    pre_rejected: dict[int, tuple[str, dict]]  # order id → (code, params), decided before the solver
    starts: dict[int, tuple[float, float, bool]]  # practitioner id → (lat, lon, is home)
    notes: list[dict] = field(default_factory=list)


def _shift_bounds(provider: Organisation, day: datetime.date):
    """practitioner id → (earliest start, latest end) of that day's shifts (several shifts: the span)."""
    spans: dict[int, tuple[datetime.time, datetime.time]] = {}
    for shift in service_selectors.shifts_for(provider, day).only("caregiver_id", "start", "end"):
        lo, hi = spans.get(shift.caregiver_id, (shift.start, shift.end))
        spans[shift.caregiver_id] = (min(lo, shift.start), max(hi, shift.end))
    return spans


def _area(provider: Organisation, elder_ids):
    """The bounding box of the county's other elders (not those of the day's orders, so a mistyped location
    cannot widen it), with a margin: a visit outside it is reported, not routed."""
    box = (Elder.objects.filter(county_code=provider.region_id[:6], latitude__isnull=False,
                                longitude__isnull=False).exclude(pk__in=elder_ids)
           .aggregate(lat0=Min("latitude"), lat1=Max("latitude"), lon0=Min("longitude"), lon1=Max("longitude")))
    if box["lat0"] is None:
        return None
    m = AREA_MARGIN_DEG
    return (float(box["lat0"]) - m, float(box["lon0"]) - m, float(box["lat1"]) + m, float(box["lon1"]) + m)


def build_problem(*, provider: Organisation, day: datetime.date, options: dict, now=None,
                  max_iterations: int | None = 10_000) -> Problem:
    midnight = _midnight(day)
    replan_at = None
    if now is not None and timezone.localdate(now) == day:
        replan_at = max(0, _seconds(now, midnight))

    previous = (Order.objects.filter(provider_id=provider.pk, elder_id=OuterRef("elder_id"),
                                     status__in=COMPLETED, scheduled_start__lt=midnight, caregiver__isnull=False)
                .order_by("-scheduled_start", "-pk").values("caregiver_id")[:1])
    orders = list(Order.objects.filter(provider_id=provider.pk, status__in=PLANNABLE,
                                       scheduled_start__gte=midnight,
                                       scheduled_start__lt=midnight + datetime.timedelta(days=1))
                  .select_related("elder", "item", "caregiver")
                  .annotate(previous_caregiver_id=Subquery(previous))
                  .order_by("scheduled_start", "pk"))
    locks = {lock.order_id: lock for lock in
             RouteLock.objects.filter(order__in=[o.pk for o in orders]).select_related("caregiver")}

    notes: list[dict] = []
    active = list(service_selectors.active_caregivers(provider, day))
    spans = _shift_bounds(provider, day)
    practitioners = {p.pk: p for p in active}
    for lock in locks.values():  # a lock may name someone not planned today: their name is still shown
        practitioners.setdefault(lock.caregiver_id, lock.caregiver)
    for order in orders:
        if order.caregiver_id:
            practitioners.setdefault(order.caregiver_id, order.caregiver)
    if not active:
        notes.append({"code": "no_caregivers"})
    elif not spans:
        notes.append({"code": "default_shift"})
        spans = {p.pk: DEFAULT_SHIFT for p in active}
    # A visit under way is a fact: its caregiver works at least from an hour before the check-in to an hour
    # after its end, whatever the shifts say, so the started visit stays first in their route.
    active_ids = {p.pk for p in active}
    for order in orders:
        if order.status == OrderStatus.CHECKED_IN and order.caregiver_id in active_ids:
            begun = _seconds(order.check_in_at or order.scheduled_start, midnight)
            length = int(order_services.expected_minutes(order) * 60)
            lo, hi = _clock(begun - 3600), _clock(begun + length + 3600)
            old_lo, old_hi = spans.get(order.caregiver_id, (lo, hi))
            spans[order.caregiver_id] = (min(lo, old_lo), max(hi, old_hi))
    idle = [p.name for p in active if p.pk not in spans]
    if idle:
        notes.append({"code": "unscheduled", "params": {"names": "、".join(idle)}})
    if not orders:
        notes.append({"code": "no_orders"})

    visits: list[solver.Visit] = []
    pre_rejected: dict[int, tuple[str, dict]] = {}
    points = []
    for order in orders:
        elder = order.elder
        if elder.latitude is None or elder.longitude is None:
            pre_rejected[order.pk] = (NO_LOCATION, {})
            continue
        location = (float(elder.latitude), float(elder.longitude))
        points.append(location)
        earliest = _seconds(order.scheduled_start, midnight)
        latest = earliest + order.window_minutes * 60
        service = int((order_services.expected_minutes(order) * 60).to_integral_value())
        lock = locks.get(order.pk)
        locked = caregiver_id(lock.caregiver_id) if lock else None
        started = order.status == OrderStatus.CHECKED_IN
        if started:
            # Already happening: with its caregiver, first in the route, at the real check-in time.
            check_in = order.check_in_at or order.scheduled_start
            earliest = latest = max(0, _seconds(check_in, midnight))
            locked = caregiver_id(order.caregiver_id) if order.caregiver_id else None
        # The preferred caregiver: the one already sent (the elder or family may have been told who comes),
        # else the one who served the elder last. A preference, not a lock: the plan may still move it.
        previous_id = (order.caregiver_id if order.status == OrderStatus.ASSIGNED and order.caregiver_id
                       else order.previous_caregiver_id)
        visits.append(solver.Visit(
            id=visit_id(order.pk), location=location, earliest=earliest, latest=latest, service=service,
            skill=order.item.required_skill.strip() or None, priority=PRIORITY.get(order.item.category, 1),
            previous_caregiver_id=caregiver_id(previous_id) if previous_id else None,
            locked_caregiver_id=locked, started=started))

    centroid = ((sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
                if points else None)
    caregivers: list[solver.Caregiver] = []
    starts: dict[int, tuple[float, float, bool]] = {}
    no_home = []
    for person in active:
        span = spans.get(person.pk)
        if span is None:
            continue
        if person.home_latitude is not None and person.home_longitude is not None:
            start = (float(person.home_latitude), float(person.home_longitude))
            starts[person.pk] = (*start, True)
        elif centroid is not None:
            start = centroid
            starts[person.pk] = (*start, False)
            no_home.append(person.name)
        else:
            start = (0.0, 0.0)  # nothing to route today: the point is never used
        caregivers.append(solver.Caregiver(
            id=caregiver_id(person.pk), start=start,
            shift_start=span[0].hour * 3600 + span[0].minute * 60,
            shift_end=span[1].hour * 3600 + span[1].minute * 60,
            skills=frozenset(person.skill_list), mode=options["mode"]))
    if no_home and visits:
        notes.append({"code": "centroid_start", "params": {"names": "、".join(no_home)}})
    if replan_at is not None:
        notes.append({"code": "replan_now", "params": {"now": _hhmm(replan_at)}})

    plan_options = solver.PlanOptions(
        seed=options["seed"], time_limit_seconds=options["time_limit_seconds"], max_iterations=max_iterations,
        continuity_weight=options["continuity_weight"], detour_factor=options["detour_factor"],
        bounds=_area(provider, {o.elder_id for o in orders}), now=replan_at)
    return Problem(visits=visits, caregivers=caregivers, options=plan_options, orders={o.pk: o for o in orders},
                   practitioners=practitioners, pre_rejected=pre_rejected, starts=starts, notes=notes)


def _reason_params(problem: Problem, item: solver.UnassignedVisit) -> dict:
    """The facts the Chinese sentence of a solver reason needs (texts.REASONS)."""
    visit = next(v for v in problem.visits if v.id == item.visit_id)
    order = problem.orders[_pk(item.visit_id)]
    params = {"earliest": _hhmm(visit.earliest), "latest": _hhmm(visit.latest)}
    if visit.skill:
        params["skill"] = visit.skill
    if problem.options.now is not None:
        params["now"] = _hhmm(problem.options.now)
    who = visit.locked_caregiver_id
    if item.code == solver.Reason.SOLVER_INFEASIBLE:
        found = re.search(r"caregiver (c\d+)", item.reason)
        who = found.group(1) if found else who
    if item.code == solver.Reason.UNREACHABLE and not visit.locked_caregiver_id:
        who = None
    if who:
        person = problem.practitioners.get(_pk(who))
        params["caregiver"] = person.name if person else who
    elif item.code == solver.Reason.DUPLICATE_STARTED and order.caregiver:
        params["caregiver"] = order.caregiver.name
    return params


# ------------------------------------------------------------------------------------------- planning


@dataclass
class PlanRun:
    """A saved plan with the solver's own input and answer (for the feasibility checker in tests)."""

    plan: RoutePlan
    problem: Problem
    result: solver.Plan


@transaction.atomic
def plan_day(*, actor, provider: Organisation, day, seed=0, time_limit_seconds=10, continuity_weight=600,
             mode="ebike", detour_factor=1.3, now=None, max_iterations: int | None = 10_000) -> PlanRun:
    """Plan the provider's visits of `day` and save them as the next draft version.

    `now`: for a re-plan during the day (default: the current time when `day` is today) visits already
    checked in stay with their caregiver and first in the route, and no visit starts before now."""
    policy.may_plan_routes(actor, provider).require()
    day = _date(day)
    options = _options(seed=seed, time_limit_seconds=time_limit_seconds, continuity_weight=continuity_weight,
                       mode=mode, detour_factor=detour_factor)
    today = timezone.localdate(now) if now is not None else timezone.localdate()
    if day < today:
        raise ValidationError({"date": [_("不能为已经过去的日期排线。")]})
    if now is None and day == today:
        now = timezone.now()
    problem = build_problem(provider=provider, day=day, options=options, now=now, max_iterations=max_iterations)
    try:
        result = solver.plan(problem.visits, problem.caregivers, problem.options)
    except ValueError as exc:
        raise ValidationError({"__all__": [_("排线参数或数据有误：%(detail)s") % {"detail": exc}]}) from None

    midnight = _midnight(day)
    at = lambda seconds: midnight + datetime.timedelta(seconds=int(seconds))  # noqa: E731
    by_visit = {v.id: v for v in problem.visits}
    stops: list[RouteStop] = []
    for route in result.routes:
        person = _pk(route.caregiver_id)
        position = 0
        for stop in route.stops:
            if stop.kind != "visit":
                continue
            position += 1
            visit = by_visit[stop.visit_id]
            stops.append(RouteStop(order_id=_pk(stop.visit_id), caregiver_id=person, position=position,
                                   arrival=at(stop.arrival), start=at(stop.start), end=at(stop.end),
                                   travel_seconds=stop.travel, started=visit.started,
                                   locked=visit.locked_caregiver_id is not None and not visit.started))
    reasons: dict[str, dict] = {}

    def unrouted(order_id: int, code: str, params: dict) -> None:
        reasons[str(order_id)] = params
        visit = by_visit.get(visit_id(order_id))
        with translation.override("zh-hans"):  # the stored sentence; pages render it again per reader
            text = reason_text(code, params)[:300]
        stops.append(RouteStop(order_id=order_id, unassigned_code=code, unassigned_reason=text,
                               locked=bool(visit and visit.locked_caregiver_id and not visit.started),
                               started=bool(visit and visit.started)))

    for order_id, (code, params) in problem.pre_rejected.items():
        unrouted(order_id, code, params)
    for item in result.unassigned:
        unrouted(_pk(item.visit_id), item.code, _reason_params(problem, item))

    notes = list(problem.notes)
    if result.stopped_by == "time_limit":
        notes.append({"code": "time_limit", "params": {"seconds": f"{problem.options.time_limit_seconds:g}"}})
    with_previous = sum(1 for v in problem.visits if v.previous_caregiver_id)
    summary = {
        "visits": len(problem.orders), "served": result.visits_served,
        "unassigned": len(problem.orders) - result.visits_served,
        "travel_seconds": result.total_travel_time, "waiting_seconds": result.total_waiting_time,
        "continuity_kept": result.continuity_kept,
        "continuity_candidates": with_previous, "runtime_seconds": round(result.runtime_seconds, 2),
        "stopped_by": result.stopped_by, "iterations": result.iterations, "caregivers": len(problem.caregivers),
        "routes": {str(_pk(r.caregiver_id)): {"departure": r.departure, "end": r.end_time, "travel": r.travel_time,
                                              "waiting": r.waiting_time}
                   for r in result.routes},
        "starts": {str(k): list(v) for k, v in problem.starts.items()},
        "reasons": reasons, "notes": notes,
    }

    last = (RoutePlan.objects.select_for_update().filter(provider_id=provider.pk, day=day)
            .order_by("-version").values_list("version", flat=True).first())
    RoutePlan.objects.filter(provider_id=provider.pk, day=day, status=PlanStatus.DRAFT).update(
        status=PlanStatus.SUPERSEDED)
    plan = RoutePlan.objects.create(provider=provider, day=day, version=(last or 0) + 1, status=PlanStatus.DRAFT,
                                    options={**options, "now": problem.options.now}, summary=summary,
                                    created_by=_user(actor))
    for stop in stops:
        stop.plan = plan
    RouteStop.objects.bulk_create(stops)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=plan, after=audit.snapshot(plan),
                 region_code=provider.region_id,
                 detail=f"排线 v{plan.version}: {result.visits_served}/{len(problem.orders)}")
    return PlanRun(plan=plan, problem=problem, result=result)


# ------------------------------------------------------------------------------------------- locks


def _lockable(actor, order: Order) -> None:
    provider = order.provider
    policy.may_dispatch_routes(actor, provider).require()
    if order.status == OrderStatus.CHECKED_IN:
        raise DomainError(ErrorCode.INVALID_STATE, _("该订单已在服务中，不能再锁定。"), status=409)
    if order.status not in PLANNABLE:
        raise DomainError(ErrorCode.INVALID_STATE, _("订单当前为“%(status)s”，不参与排线。") % {
            "status": order.get_status_display()}, status=409)


@transaction.atomic
def lock_visit(*, actor, order: Order, caregiver: Practitioner) -> RouteLock:
    """Fix the order to the caregiver in every later plan of its day (the solver must respect it)."""
    order = Order.objects.select_for_update(of=("self",)).select_related("provider", "item").get(pk=order.pk)
    _lockable(actor, order)
    day = timezone.localdate(order.scheduled_start)
    if caregiver.organisation_id != order.provider_id or caregiver.role != "caregiver":
        raise ValidationError({"caregiver": [_("%(name)s 不是本机构的护理员。") % {"name": caregiver.name}]})
    if not service_selectors.in_post(caregiver, day):
        raise ValidationError({"caregiver": [_("%(name)s 在 %(date)s 不在职。") % {
            "name": caregiver.name, "date": day.isoformat()}]})
    skill = order.item.required_skill.strip()
    if skill and skill not in caregiver.skill_list:
        raise ValidationError({"caregiver": [_("%(name)s 不具备“%(skill)s”技能，不能锁定到%(item)s。") % {
            "name": caregiver.name, "skill": skill, "item": order.item.name}]})
    existing = RouteLock.objects.filter(order=order).first()
    before = audit.snapshot(existing) if existing else None
    lock, _created = RouteLock.objects.update_or_create(
        order=order, defaults={"caregiver": caregiver, "locked_by": _user(actor), "locked_at": timezone.now()})
    audit.record(actor=actor, action=AuditAction.UPDATE if existing else AuditAction.CREATE, instance=lock,
                 before=before, after=audit.snapshot(lock), region_code=order.region_code,
                 detail=f"锁定 {caregiver.name}")
    return lock


@transaction.atomic
def unlock_visit(*, actor, order: Order) -> None:
    order = Order.objects.select_for_update(of=("self",)).select_related("provider").get(pk=order.pk)
    policy.may_dispatch_routes(actor, order.provider).require()
    lock = RouteLock.objects.filter(order=order).first()
    if lock is None:
        return
    before = audit.snapshot(lock)
    lock.delete()
    audit.record(actor=actor, action=AuditAction.DELETE, object_type="routing.routelock", object_id=str(order.pk),
                 object_repr=str(order)[:200], before=before, region_code=order.region_code, detail="解除锁定")


# ------------------------------------------------------------------------------------------- publishing


@dataclass
class PublishResult:
    plan: RoutePlan
    assigned: list[int]            # orders (re-)assigned now
    unchanged: list[int]           # routed orders already with their planned caregiver
    kept: list[int]                # assigned orders the plan did not route: they keep their caregiver


@transaction.atomic
def publish_plan(*, actor, plan: RoutePlan) -> PublishResult:
    """Send the latest draft to the caregivers: assign each routed order to its planned caregiver.

    Refused, with nothing assigned, when a newer plan exists or a routed order changed since planning."""
    plan = RoutePlan.objects.select_for_update().select_related("provider").get(pk=plan.pk)
    policy.may_dispatch_routes(actor, plan.provider).require()
    if plan.status != PlanStatus.DRAFT:
        raise DomainError(ErrorCode.INVALID_STATE, _("只能发布草稿方案，该方案为“%(status)s”。") % {
            "status": plan.get_status_display()}, status=409)
    newest = (RoutePlan.objects.filter(provider_id=plan.provider_id, day=plan.day)
              .order_by("-version").values_list("version", flat=True).first())
    if newest != plan.version:
        raise DomainError(ErrorCode.INVALID_STATE,
                          _("已有更新的排线方案（第 %(v)s 版），请发布最新方案。") % {"v": newest}, status=409)
    stops = list(plan.stops.select_related("caregiver"))
    routed = {s.order_id: s for s in stops if s.caregiver_id is not None}
    orders = {o.pk: o for o in Order.objects.select_for_update(of=("self",))
              .filter(pk__in=[s.order_id for s in stops]).select_related("elder", "item", "caregiver")}
    changed = []
    for order_id, stop in routed.items():
        order = orders.get(order_id)
        same = order is not None and order.caregiver_id == stop.caregiver_id
        ok = order is not None and (
            order.status in (OrderStatus.ACCEPTED, OrderStatus.ASSIGNED)
            # The caregiver began (or, for a visit that was already under way, finished) it: still as planned.
            or (same and order.status == OrderStatus.CHECKED_IN)
            or (same and stop.started and order.status == OrderStatus.CHECKED_OUT))
        if not ok:
            changed.append(_("%(elder)s %(time)s（现为“%(status)s”）") % {
                "elder": order.elder.name if order else order_id,
                "time": timezone.localtime(order.scheduled_start).strftime("%H:%M") if order else "",
                "status": order.get_status_display() if order else _("已删除")})
    if changed:
        raise DomainError("stale_plan", _("排线后以下订单已变化，请重新排线后再发布：%(orders)s") % {
            "orders": "；".join(changed)}, status=409)

    assigned, unchanged = [], []
    for order_id, stop in sorted(routed.items(), key=lambda kv: (kv[1].caregiver_id, kv[1].position)):
        order = orders[order_id]
        if order.status == OrderStatus.ACCEPTED or (order.status == OrderStatus.ASSIGNED
                                                    and order.caregiver_id != stop.caregiver_id):
            order_services.assign_order(actor=actor, order=order, caregiver=stop.caregiver)
            assigned.append(order_id)
        else:
            unchanged.append(order_id)
    kept = sorted(o.pk for o in orders.values()
                  if o.pk not in routed and o.status == OrderStatus.ASSIGNED and o.caregiver_id)

    RoutePlan.objects.filter(provider_id=plan.provider_id, day=plan.day, status=PlanStatus.PUBLISHED).update(
        status=PlanStatus.SUPERSEDED)
    before = audit.snapshot(plan)
    plan.status = PlanStatus.PUBLISHED
    plan.published_at = timezone.now()
    plan.published_by = _user(actor)
    plan.save(update_fields=["status", "published_at", "published_by"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=plan, before=before, after=audit.snapshot(plan),
                 region_code=plan.provider.region_id,
                 detail=f"发布排线 v{plan.version}: 派单 {len(assigned)}，未变 {len(unchanged)}，保留 {len(kept)}")
    return PublishResult(plan=plan, assigned=assigned, unchanged=unchanged, kept=kept)
