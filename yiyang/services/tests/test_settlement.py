"""Monthly settlement through the real services: totals hand-computed to the fen and equal to the orders' sums,
flagged orders held back, approval settling exactly the included orders, the export, scope, query counts."""

import datetime
import io
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditAction, AuditEvent, Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import (
    FlagKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderStatus,
    Settlement,
    SettlementItem,
    SettlementStatus,
)

from .factories import STREET, days_ago, soon

pytestmark = pytest.mark.django_db

HOME = (D("31.800000"), D("106.600000"))
MONEY = ("total", "subsidy", "allowance", "copay")


def month_start(offset: int) -> datetime.date:
    """The 1st of this month (0), last month (-1), the month before (-2)…"""
    first = timezone.localdate().replace(day=1)
    for _ in range(-offset):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return first


LAST = month_start(-1)


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def ago(minutes):
    return timezone.now() - datetime.timedelta(minutes=minutes)


@pytest.fixture
def elder_fields():
    return {"latitude": HOME[0], "longitude": HOME[1]}  # 王秀英, born 1940: 80+


def younger(w, *, kind, seq):
    elder = make_elder(w["bureau"], name=f"张{seq}", birth=datetime.date(1956, 6, 1), seq=seq, male=True)
    registry.add_category(actor=w["bureau"], elder=elder, kind=kind, start_date=days_ago(365))
    return elder


def checked_out_at(order, out: datetime.datetime):
    """Time passes: the visit happened at `out` (a past month), as the order tests move times."""
    Order.objects.filter(pk=order.pk).update(scheduled_start=out - datetime.timedelta(minutes=70),
                                             check_in_at=out - datetime.timedelta(minutes=63), check_out_at=out)
    return Order.objects.get(pk=order.pk)


def served(w, elder, *, out, item="bath", quantity=1, allowance="0", latitude="31.8", until="confirmed"):
    """An order placed by the community and driven through the life cycle by the real services (accepted,
    assigned, checked in and out, confirmed by the community or the family, rated by the family), then moved to
    have been checked out at `out`."""
    order = services.place_order(actor=w["community"], elder=elder, provider=w["org"], item=w[item],
                                 scheduled_start=soon(5), quantity=quantity, channel="phone",
                                 allowance_available=allowance)[0]
    services.accept_order(actor=w["provider"], order=order)
    services.assign_order(actor=w["provider"], order=order, caregiver=w["carer"])
    services.check_in(actor=w["caregiver"], order=order, at=ago(65), latitude=latitude, longitude="106.6")
    services.check_out(actor=w["caregiver"], order=order, at=ago(2), notes="服务完成")
    if until != "checked_out":
        confirmer = w["family"] if until == "rated" else w["community"]
        services.confirm_order(actor=confirmer, order=order)
    if until == "rated":
        services.rate_order(actor=w["family"], order=order, rating=5, comment="满意")
    return checked_out_at(order, out)


@pytest.fixture
def month(world):
    """Last month for 颐康: three orders to settle, one held back, and some that do not belong."""
    w = world
    last_day = month_start(0) - datetime.timedelta(days=1)
    # 特困 bath: 颐康's 33.33, 100 % subsidised. Checked out at the first minute of the month (local time).
    destitute = served(w, younger(w, kind="destitute", seq=2), out=local(LAST, 0, 0))
    # 低保 1.5 h cleaning: 28.88 × 1.5 = 43.32; 90 % = 38.988 → 38.99; 2.00 allowance; 2.33 paid.
    subsistence = served(w, younger(w, kind="subsistence", seq=3), item="cleaning", quantity="1.5",
                         allowance="2.00", out=local(LAST, 15, 10))
    # 80+ bath at the 普惠 price: 20.00 from the allowance, 13.33 paid; rated. The month's last minute.
    aged = served(w, w["elder"], allowance="20.00", until="rated", out=local(last_day, 23, 59))
    # Checked in about 1.1 km from home: flagged, held back (33.33 all paid by herself).
    held = served(w, w["elder"], latitude="31.81", out=local(LAST, 20, 9))
    # Not this statement's: done but not yet confirmed; this month; another provider.
    unconfirmed = served(w, w["elder"], until="checked_out", out=local(LAST, 21, 8))
    this_month = served(w, w["elder"], out=local(month_start(0), 0, 0))
    other_org = make_org("福寿", region="511903001")
    services.declare_offer(actor=w["bureau"], provider=other_org, item=w["bath"], streets=[STREET], price="30.00",
                           valid_from=days_ago(30))
    elsewhere = services.place_order(actor=w["community"], elder=w["elder"], provider=other_org, item=w["bath"],
                                     scheduled_start=soon(5), channel="phone")[0]
    Order.objects.filter(pk=elsewhere.pk).update(status=OrderStatus.CONFIRMED)
    elsewhere = checked_out_at(elsewhere, local(LAST, 11, 0))
    return {"included": [destitute, subsistence, aged], "held": held, "unconfirmed": unconfirmed,
            "this_month": this_month, "elsewhere": elsewhere, "other_org": other_org}


def prepare(w, **kw):
    kw.setdefault("actor", w["bureau"])
    kw.setdefault("provider", w["org"])
    kw.setdefault("month", LAST.strftime("%Y-%m"))
    return services.prepare_settlement(**kw)


def totals(settlement) -> tuple:
    return (settlement.order_count, *(getattr(settlement, p) for p in MONEY), settlement.held_count,
            settlement.held_total)


def orders_state() -> list:
    return list(Order.objects.order_by("pk").values_list("pk", "status"))


HAND = (3, D("109.98"), D("72.32"), D("22.00"), D("15.66"), 1, D("33.33"))


# ---------------------------------------------------------------------------------------------------- prepare


def test_the_statement_adds_up_to_the_fen_by_hand_and_with_the_orders(world, month):
    destitute, subsistence, aged = month["included"]
    assert [(o.total, o.subsidy, o.allowance, o.copay) for o in month["included"]] == [
        (D("33.33"), D("33.33"), D("0.00"), D("0.00")),
        (D("43.32"), D("38.99"), D("2.00"), D("2.33")),
        (D("33.33"), D("0.00"), D("20.00"), D("13.33"))]
    assert (destitute.status, subsistence.status, aged.status) == ("confirmed", "confirmed", "rated")
    s = prepare(world)
    assert (s.status, s.jurisdiction_id, s.month, s.provider) == ("draft", "511903", LAST, world["org"])
    # 33.33 + 43.32 + 33.33 = 109.98 = 72.32 + 22.00 + 15.66; held back: 33.33.
    assert totals(s) == HAND
    sums = Order.objects.filter(pk__in=[o.pk for o in month["included"]]).aggregate(*(Sum(p) for p in MONEY))
    assert tuple(sums[f"{p}__sum"] for p in MONEY) == (s.total, s.subsidy, s.allowance, s.copay)
    items = list(s.items.filter(held=False).order_by("order_id").values_list("order_id", *MONEY))
    assert items == sorted((o.pk, *(getattr(o, p) for p in MONEY)) for o in month["included"])
    assert list(s.items.filter(held=True).values_list("order_id", "total", "hold_reason")) == [
        (month["held"].pk, D("33.33"), "签到地点远离老人住址：签到地点距老人住址约 1112 米")]
    event = AuditEvent.objects.get(object_type="services.settlement", object_id=str(s.pk))
    assert (event.action, event.region_code) == (AuditAction.CREATE, "511903")
    assert not OrderEvent.objects.filter(to_status=OrderStatus.SETTLED).exists()


def test_preparing_a_draft_again_is_idempotent_and_follows_the_orders(world, month):
    first = prepare(world)
    before = list(first.items.order_by("order_id").values_list("order_id", "held", *MONEY))
    again = prepare(world)
    assert again.pk == first.pk and Settlement.objects.count() == 1
    assert totals(again) == HAND
    assert list(again.items.order_by("order_id").values_list("order_id", "held", *MONEY)) == before
    # The family confirms the late one: the draft, prepared again, has it (43.32 is not it: an 80+ bath).
    services.confirm_order(actor=world["family"], order=month["unconfirmed"])
    third = prepare(world, month=LAST)
    assert totals(third) == (4, D("143.31"), D("72.32"), D("22.00"), D("48.99"), 1, D("33.33"))
    assert AuditEvent.objects.filter(object_type="services.settlement", action=AuditAction.UPDATE).count() == 2


@pytest.mark.parametrize("kind", [FlagKind.OVERLAP, FlagKind.DURATION])
def test_every_holding_flag_holds_back_and_an_inactive_elder_flag_does_not(world, month, kind):
    destitute, subsistence, _aged = month["included"]
    OrderFlag.objects.create(order=destitute, kind=kind, detail="x")
    OrderFlag.objects.create(order=subsistence, kind=FlagKind.ELDER_INACTIVE, detail="迁居")
    s = prepare(world)
    assert (s.order_count, s.total, s.held_count, s.held_total) == (2, D("76.65"), 2, D("66.66"))
    assert set(s.items.filter(held=True).values_list("order_id", flat=True)) == {destitute.pk, month["held"].pk}


def test_an_empty_month_gives_an_empty_statement(world, month):
    s = prepare(world, month=month_start(-2))
    assert totals(s) == (0, D("0.00"), D("0.00"), D("0.00"), D("0.00"), 0, D("0.00"))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"month": "2026-13"}, "month"),
    ({"month": "next"}, "month"),
    ({"month": month_start(0) + datetime.timedelta(days=40)}, "month"),
    ({"jurisdiction": "511903001"}, "jurisdiction"),
    ({"jurisdiction": "999999"}, "jurisdiction"),
])
def test_bad_months_and_jurisdictions_are_refused(world, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        prepare(world, **kwargs)
    assert field in exc.value.message_dict
    assert not Settlement.objects.exists()


# ---------------------------------------------------------------------------------------------------- approve


def test_a_large_statement_is_approved_at_once_and_its_orders_settled_by_the_queue_in_batches(
        world, month, monkeypatch, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    monkeypatch.setattr(services.settlement, "SETTLE_INLINE_MAX", 2)  # the three included orders count as "large"
    s = prepare(world)
    included = {o.pk: o.status for o in month["included"]}
    with django_capture_on_commit_callbacks(execute=True):
        s = services.approve_settlement(actor=world["bureau"], settlement=s)
    assert s.status == SettlementStatus.APPROVED and totals(Settlement.objects.get(pk=s.pk)) == HAND
    # Approved and payable, the orders not rewritten yet: the task is queued with the statement and approver.
    assert dict(Order.objects.filter(pk__in=included).values_list("pk", "status")) == included
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("mark_orders_settled_task") and task.args_kwargs["args"] == [
        s.pk, world["bureau"].pk]
    from django.test import Client

    page = Client()
    page.force_login(world["bureau"])
    html = page.get(f"/services/settlements/{s.pk}/").content.decode()
    assert 'data-testid="settling">订单状态正在后台更新为已结算：0 / 3 单' in html
    # The worker's run, two orders a batch; a second run (a restarted worker) moves nothing.
    assert services.mark_orders_settled(settlement_id=s.pk, actor_id=world["bureau"].pk, batch=2) == 3
    assert services.mark_orders_settled(settlement_id=s.pk, actor_id=world["bureau"].pk, batch=2) == 0
    assert set(Order.objects.filter(pk__in=included).values_list("status", flat=True)) == {OrderStatus.SETTLED}
    events = OrderEvent.objects.filter(to_status=OrderStatus.SETTLED)
    assert sorted(events.values_list("order_id", "from_status", "by")) == sorted(
        (pk, status, world["bureau"].pk) for pk, status in included.items())
    assert Order.objects.get(pk=month["held"].pk).status == OrderStatus.CONFIRMED
    assert 'data-testid="settling"' not in page.get(f"/services/settlements/{s.pk}/").content.decode()


def test_approval_settles_exactly_the_included_orders(world, month):
    s = prepare(world)
    untouched = {o.pk: o.status for o in (month["held"], month["unconfirmed"], month["this_month"],
                                           month["elsewhere"])}
    s = services.approve_settlement(actor=world["bureau"], settlement=s)
    assert (s.status, s.approved_by) == (SettlementStatus.APPROVED, world["bureau"]) and s.approved_at
    included = {o.pk: o.status for o in month["included"]}  # as they were: confirmed, confirmed, rated
    assert dict(Order.objects.filter(pk__in=included).values_list("pk", "status")) == dict.fromkeys(
        included, OrderStatus.SETTLED)
    assert dict(Order.objects.filter(pk__in=untouched).values_list("pk", "status")) == untouched
    assert Order.objects.get(pk=month["held"].pk).status == OrderStatus.CONFIRMED
    events = OrderEvent.objects.filter(to_status=OrderStatus.SETTLED)
    assert sorted(events.values_list("order_id", "from_status", "by")) == sorted(
        (pk, status, world["bureau"].pk) for pk, status in included.items())
    assert all(f"{LAST:%Y-%m} 月度结算" in e.note for e in events)
    assert totals(Settlement.objects.get(pk=s.pk)) == HAND
    assert AuditEvent.objects.filter(object_type="services.settlement", object_id=str(s.pk),
                                     action=AuditAction.UPDATE, after__status="approved").count() == 1


def test_approving_twice_or_preparing_after_approval_is_refused(world, month):
    s = services.approve_settlement(actor=world["bureau"], settlement=prepare(world))
    before = (orders_state(), OrderEvent.objects.count(), list(SettlementItem.objects.values()),
              AuditEvent.objects.count())
    for call in (lambda: services.approve_settlement(actor=world["bureau"], settlement=s), lambda: prepare(world)):
        with pytest.raises(DomainError) as exc:
            call()
        assert (exc.value.code, exc.value.status) == ("settlement_closed", 409)
        assert str(exc.value.message).startswith(f"{LAST:%Y-%m} 的结算单状态为“已审核”，不能")
    assert (orders_state(), OrderEvent.objects.count(), list(SettlementItem.objects.values()),
            AuditEvent.objects.count()) == before


def test_totals_that_do_not_match_the_items_are_not_approved(world, month):
    s = prepare(world)
    item = s.items.filter(held=False).order_by("order_id").last()
    SettlementItem.objects.filter(pk=item.pk).update(total=item.total + D("0.01"), copay=item.copay + D("0.01"))
    before = orders_state()
    with pytest.raises(DomainError) as exc:
        services.approve_settlement(actor=world["bureau"], settlement=s)
    assert (exc.value.code, exc.value.status) == ("settlement_mismatch", 409)
    assert orders_state() == before and Settlement.objects.get(pk=s.pk).status == "draft"
    assert not OrderEvent.objects.filter(to_status=OrderStatus.SETTLED).exists()


def test_an_order_flagged_after_preparing_stops_the_approval(world, month):
    s = prepare(world)
    OrderFlag.objects.create(order=month["included"][0], kind=FlagKind.DURATION, detail="复核")
    with pytest.raises(DomainError) as exc:
        services.approve_settlement(actor=world["bureau"], settlement=s)
    assert exc.value.code == "settlement_mismatch"
    s = services.approve_settlement(actor=world["bureau"], settlement=prepare(world))
    assert (s.order_count, s.held_count) == (2, 2)


# ---------------------------------------------------------------------------------------------------- export


def sheet(wb, name) -> list[list]:
    return [list(row) for row in wb[name].iter_rows(values_only=True)]


def fen(value) -> D:
    return D(str(value)).quantize(D("0.01"))


def test_the_export_reconciles_with_the_statement_to_the_fen(world, month):
    s = prepare(world)
    with pytest.raises(DomainError) as exc:
        services.export_settlement(actor=world["bureau"], settlement=s)
    assert (exc.value.code, exc.value.status) == ("settlement_not_approved", 409)
    s = services.approve_settlement(actor=world["bureau"], settlement=s)
    content = services.export_settlement(actor=world["bureau"], settlement=s)
    wb = load_workbook(io.BytesIO(content), read_only=True)
    assert wb.sheetnames == ["结算明细", "暂缓结算", "汇总"]
    detail = sheet(wb, "结算明细")
    assert detail[0] == ["订单号", "服务日期", "老人姓名", "身份证号（脱敏）", "服务项目", "数量", "金额", "政府补贴",
                         "服务补贴抵扣", "本人自付"]
    destitute, subsistence, aged = month["included"]
    rows = [[r[0], r[1].date(), r[2], r[3], r[4], fen(r[5]), *map(fen, r[6:])] for r in detail[1:]]
    assert rows == [
        [destitute.pk, LAST, "张2", destitute.elder.id_number_masked, "上门助浴", D("1.00"), D("33.33"), D("33.33"),
         D("0.00"), D("0.00")],
        [subsistence.pk, LAST, "张3", subsistence.elder.id_number_masked, "上门助洁", D("1.50"),
         D("43.32"), D("38.99"), D("2.00"), D("2.33")],
        [aged.pk, month_start(0) - datetime.timedelta(days=1), "王秀英", aged.elder.id_number_masked, "上门助浴",
         D("1.00"), D("33.33"), D("0.00"), D("20.00"), D("13.33")]]
    assert "*" in destitute.elder.id_number_masked and destitute.elder.id_number not in str(detail)
    # Column sums of the rows, the summary sheet and the statement agree to the fen.
    assert [sum((r[i] for r in rows), D("0.00")) for i in range(6, 10)] == [s.total, s.subsidy, s.allowance,
                                                                             s.copay]
    summary = dict((r[0], r[1]) for r in sheet(wb, "汇总"))
    assert (summary["服务机构"], summary["辖区"], summary["结算月份"]) == ("颐康", "恩阳区", f"{LAST:%Y-%m}")
    assert (summary["结算订单数"], fen(summary["金额合计（元）"]), fen(summary["政府补贴合计（元）"]),
            fen(summary["服务补贴抵扣合计（元）"]), fen(summary["本人自付合计（元）"]), summary["暂缓结算订单数"],
            fen(summary["暂缓结算金额（元）"])) == totals(s) == HAND
    held = sheet(wb, "暂缓结算")
    assert [(r[0], fen(r[6]), r[-1]) for r in held[1:]] == [
        (month["held"].pk, D("33.33"), "签到地点远离老人住址：签到地点距老人住址约 1112 米")]
    s.refresh_from_db()
    assert (s.status, s.exported_by) == (SettlementStatus.EXPORTED, world["bureau"]) and s.exported_at
    export = AuditEvent.objects.get(object_type="services.settlement", action=AuditAction.EXPORT)
    assert export.detail == f"settlement-{world['org'].pk}-511903-{LAST:%Y%m}.xlsx"
    # Exported again (a lost file): the same content, audited again.
    again = load_workbook(io.BytesIO(services.export_settlement(actor=world["bureau"], settlement=s)),
                          read_only=True)
    assert sheet(again, "结算明细") == detail
    assert AuditEvent.objects.filter(object_type="services.settlement", action=AuditAction.EXPORT).count() == 2


# ---------------------------------------------------------------------------------------------------- scope


def test_only_the_countys_bureau_prepares_approves_and_exports(world, month):
    refusals = [("other_bureau", {}, 403), ("provider", {}, 403), ("street", {}, 403), ("caregiver", {}, 403),
                ("other_bureau", {"jurisdiction": "511902"}, 404)]
    for who, kwargs, status in refusals:
        with pytest.raises(DomainError) as exc:
            prepare(world, actor=world[who], **kwargs)
        assert exc.value.status == status, who
    assert not Settlement.objects.exists() and not AuditEvent.objects.filter(
        object_type="services.settlement").exists()
    # A provider of another county cannot be settled by this county's bureau either.
    far = make_org("巴州颐养", region="511902001")
    with pytest.raises(DomainError) as exc:
        prepare(world, provider=far)
    assert exc.value.status == 403
    with pytest.raises(DomainError) as exc:
        prepare(world, provider=far, jurisdiction="511903")
    assert exc.value.status == 404
    s = prepare(world)
    other_provider = make_user("other_provider", Role.PROVIDER, organisation=month["other_org"])
    before = orders_state()
    for who in (world["other_bureau"], world["provider"], other_provider, world["street"]):
        with pytest.raises(DomainError) as exc:
            services.approve_settlement(actor=who, settlement=s)
        assert exc.value.status == 403
    assert orders_state() == before and Settlement.objects.get(pk=s.pk).status == "draft"
    s = services.approve_settlement(actor=world["bureau"], settlement=s)
    for who in (world["other_bureau"], world["provider"]):
        with pytest.raises(DomainError) as exc:
            services.export_settlement(actor=who, settlement=s)
        assert exc.value.status == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
    # Who sees the statement: the county's bureau, and the provider its own.
    assert list(Settlement.objects.restrict(world["bureau"])) == [s]
    assert list(Settlement.objects.restrict(world["provider"])) == [s]
    assert not Settlement.objects.restrict(world["other_bureau"]).exists()
    assert not Settlement.objects.restrict(other_provider).exists()
    assert not Settlement.objects.restrict(world["provider"], "change").exists()


# ---------------------------------------------------------------------------------------------------- queries


def confirmed_orders(w, n: int, month_first: datetime.date, *, flagged: int = 1):
    """n confirmed orders of 80+ baths checked out in a month, the first `flagged` held back."""
    orders = []
    for i in range(n):
        order = services.place_order(actor=w["community"], elder=w["elder"], provider=w["org"], item=w["bath"],
                                     scheduled_start=soon(5), channel="phone")[0]
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.CONFIRMED)
        orders.append(checked_out_at(order, local(month_first + datetime.timedelta(days=i), 10)))
    for order in orders[:flagged]:
        OrderFlag.objects.create(order=order, kind=FlagKind.OVERLAP, detail="重叠")
    return orders


def test_the_number_of_queries_does_not_grow_with_the_orders(world):
    earlier, last = month_start(-2), LAST
    confirmed_orders(world, 3, earlier)
    confirmed_orders(world, 6, last)
    with CaptureQueriesContext(connection) as three:
        small = prepare(world, month=earlier)
    with CaptureQueriesContext(connection) as six:
        large = prepare(world, month=last)
    assert (small.order_count, small.held_count, large.order_count, large.held_count) == (2, 1, 5, 1)
    assert (small.total, large.total) == (D("66.66"), D("166.65"))
    assert len(three.captured_queries) == len(six.captured_queries) <= 20
    with CaptureQueriesContext(connection) as three:
        services.approve_settlement(actor=world["bureau"], settlement=small)
    with CaptureQueriesContext(connection) as six:
        services.approve_settlement(actor=world["bureau"], settlement=large)
    assert len(three.captured_queries) == len(six.captured_queries) <= 20
    assert Order.objects.filter(status=OrderStatus.SETTLED).count() == 7
    assert OrderEvent.objects.filter(to_status=OrderStatus.SETTLED).count() == 7
