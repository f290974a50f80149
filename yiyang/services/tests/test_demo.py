"""The demo city's services data: catalogue, prices, the subsidy rule and the demo provider's offers."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from yiyang.core.demo import build_demo_city
from yiyang.registry.models import Elder
from yiyang.services import examples, services
from yiyang.services.models import ProviderOffer, ServiceItem, ServicePrice, SubsidyRule

# The whole city, each step committed as `make demo` does: inside one test transaction the savepoints of
# thousands of service calls would each hold a lock until the end and overflow PostgreSQL's lock table.
pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def _catalogue_prices_rule_and_offers(ctx):
    assert ServiceItem.objects.count() == len(examples.CATALOGUE)
    assert ServicePrice.objects.filter(jurisdiction_id="511903").count() == len(examples.CATALOGUE)
    assert SubsidyRule.objects.filter(jurisdiction_id="511903").count() == 1
    bath = ProviderOffer.objects.get(item__code="bath-home")
    assert bath.price == Decimal("54.00")  # 90 % of the 60.00 普惠 price
    # An 85-year-old of the demo community with no category is quoted for a bath next week: the provider's
    # 54.00 (under the 普惠 ceiling), no subsidy share, all paid by the person (nothing written).
    today = timezone.localdate()
    elder = (Elder.objects.filter(residence_region_id="511903001002", status="active", categories__isnull=True,
                                  birth_date__lte=today.replace(year=today.year - 81)).order_by("pk").first())
    when = timezone.now() + datetime.timedelta(days=7)
    quote = services.preview_quote(actor=ctx.accounts["community"], elder=elder, provider=bath.provider,
                                   item=bath.item, scheduled_start=when)
    assert (quote.basis, quote.total, quote.subsidy, quote.copay) == ("inclusive", Decimal("54.00"),
                                                                      Decimal("0.00"), Decimal("54.00"))


def _today_bounds():
    start = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))
    return start, start + datetime.timedelta(days=1)


def test_demo_orders_every_state_today_settlement_and_family():
    from yiyang.services.models import Order, OrderStatus, Settlement, SettlementItem, SettlementStatus

    ctx = build_demo_city(seed=7, scale=1 / 200, log=lambda *a: None)
    _catalogue_prices_rule_and_offers(ctx)
    provider = ctx.accounts["provider"].organisation
    orders = Order.objects.filter(provider=provider)
    # Every state of the life cycle is in the demo, with who and why for the ones that ended early.
    assert set(orders.values_list("status", flat=True)) == set(OrderStatus.values)
    for status in (OrderStatus.DECLINED, OrderStatus.CANCELLED, OrderStatus.NO_SHOW):
        assert not orders.filter(status=status, end_reason="").exists()
    assert orders.filter(status=OrderStatus.RATED, rating__gte=4).count() > orders.filter(rating__lte=2).count()
    # Nothing happened in the future: every check-out is in the past, after its check-in.
    now = timezone.now()
    assert not Order.objects.filter(check_out_at__gt=now).exists()
    assert not Order.objects.filter(created_at__gt=now).exists()

    # The caregiver account's day: at least four visits today, in time order, none overlapping the next.
    start, end = _today_bounds()
    visits = list(Order.objects.filter(caregiver__account=ctx.accounts["caregiver"], scheduled_start__gte=start,
                                       scheduled_start__lt=end).exclude(status="cancelled")
                  .select_related("item").order_by("scheduled_start"))
    assert len(visits) >= 4
    for a, b in zip(visits, visits[1:], strict=False):
        assert a.scheduled_start + datetime.timedelta(minutes=float(a.item.standard_minutes * a.quantity)) \
            <= b.scheduled_start
    local = timezone.localtime(now)
    if local.hour < 21:  # built before 21:00, two visits are still to come (see test_caregiver_slots…)
        assert sum(1 for v in visits if v.scheduled_start > now) >= 2

    # Last full month: prepared, not approved, reconciling to the fen with its items and their orders.
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    draft = Settlement.objects.get(provider=provider, month=last_month)
    assert draft.status == SettlementStatus.DRAFT and draft.order_count > 0
    items = SettlementItem.objects.filter(settlement=draft, held=False)
    assert items.count() == draft.order_count
    for part in ("total", "subsidy", "allowance", "copay"):
        from_items = sum((getattr(i, part) for i in items), Decimal("0"))
        from_orders = sum((getattr(o, part) for o in Order.objects.filter(settlement_items__in=items)),
                          Decimal("0"))
        assert getattr(draft, part) == from_items == from_orders
    assert draft.total == draft.subsidy + draft.allowance + draft.copay
    # The months before are approved: their included orders are settled.
    approved = Settlement.objects.filter(provider=provider, month__lt=last_month)
    assert approved.exists() and set(approved.values_list("status", flat=True)) == {SettlementStatus.APPROVED}
    assert set(Order.objects.filter(settlement_items__settlement__in=approved, settlement_items__held=False)
               .values_list("status", flat=True)) == {OrderStatus.SETTLED}
    assert not Settlement.objects.filter(month=this_month).exists()

    # The family account's mother: one visit waiting for 确认, one for 评价.
    mine = Order.objects.filter(elder__family_links__user=ctx.accounts["family"])
    assert mine.filter(status=OrderStatus.CHECKED_OUT).count() == 1
    assert mine.filter(status=OrderStatus.CONFIRMED).count() == 1
    assert mine.filter(status=OrderStatus.RATED).exists()

    # Standing orders placed their visits (channel 周期服务), people with a service allowance drew on it, past
    # months' samples were called back (the last full month's partly still to call), and this week has shifts,
    # the caregiver's today covering all her visits.
    from yiyang.services.models import AllowanceEntry, CaregiverShift, FollowUpCall, RecurringOrder

    assert RecurringOrder.objects.filter(provider=provider).count() >= 3
    assert orders.filter(channel="recurring").count() > orders.filter(channel="recurring", status="requested").count()
    funded = Order.objects.filter(allowance__gt=0)
    # (The small test city may have nobody with an allowance in the provider's streets; the demo's has some.)
    credited = AllowanceEntry.objects.filter(kind="credit", month=this_month,
                                             region_code__regex=r"^51190300[123]")
    assert funded.exists() == credited.exists()
    for order in funded[:5]:
        debit = AllowanceEntry.objects.get(order=order, kind="debit")
        assert debit.amount == -order.allowance
    calls = FollowUpCall.objects.all()
    assert calls.filter(month__lt=last_month).exists()
    assert not calls.filter(month__lt=last_month, called_at__isnull=True).exists()
    assert calls.filter(month=last_month, called_at__isnull=True).exists()
    assert calls.filter(outcome="reached", satisfaction__isnull=False).exists()
    shifts = CaregiverShift.objects.filter(caregiver__account=ctx.accounts["caregiver"], day=timezone.localdate())
    assert shifts.count() == 1
    shift = shifts.get()
    first, last = timezone.localtime(visits[0].scheduled_start), timezone.localtime(visits[-1].scheduled_start)
    assert shift.start <= first.time() and last.time() < shift.end

    # Plan today for the demo provider: its caregivers start from home (routing demo), every plannable visit
    # is routed or has a reason, and the caregiver's phone would show the published order.
    from yiyang.routing import services as routing
    from yiyang.routing.selectors import published_sequence

    provider = ctx.accounts["provider"].organisation
    run = routing.plan_day(actor=ctx.accounts["provider"], provider=provider, day=timezone.localdate(),
                           time_limit_seconds=2, max_iterations=300)
    assert "centroid_start" not in {n["code"] for n in run.plan.summary.get("notes", [])}
    stops = list(run.plan.stops.all())
    assert stops and all(s.position is not None or s.unassigned_reason for s in stops)
    routing.publish_plan(actor=ctx.accounts["provider"], plan=run.plan)
    carer = visits[0].caregiver
    assert set(published_sequence(carer, timezone.localdate())) <= {s.order_id for s in stops}

    # A second build adds no order and no price.
    count, prices = Order.objects.count(), ServicePrice.objects.count()
    build_demo_city(seed=7, scale=1 / 200, log=lambda *a: None)
    assert (Order.objects.count(), ServicePrice.objects.count()) == (count, prices)


def test_caregiver_slots_keep_two_visits_to_come_when_built_late():
    from yiyang.services.demo import caregiver_slots

    # Built in the morning: the planned day (8:30, 10:00, 14:00, 15:30, 17:00).
    assert [m for m, _c, _q in caregiver_slots(6 * 60)] == [510, 600, 840, 930, 1020]
    # At 16:00 only 17:00 is still to come: 15:30's cleaning (done) moves to 18:15 (17:00 + 75 min).
    assert caregiver_slots(16 * 60) == [(510, "bath-home", 1), (600, "medication", 1), (840, "nursing-basic", 1),
                                        (1020, "companion", 1), (1095, "cleaning-hour", 1)]
    # At 21:10 none is to come: 15:30 and 17:00 move to 21:40 and 22:55; the three before stay, done.
    assert [m for m, _c, _q in caregiver_slots(21 * 60 + 10)] == [510, 600, 840, 1300, 1375]
    # At 23:00 there is no room before midnight: the day as planned, all done.
    assert [m for m, _c, _q in caregiver_slots(23 * 60)] == [510, 600, 840, 930, 1020]

