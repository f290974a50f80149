"""The settlement pages through the real services: the bureau's month view, preparing a statement, its totals
equal to the orders' (hand-computed to the fen), held-back orders with their reasons, approval, the xlsx read
back with openpyxl, and scope (another county's bureau, other providers, streets: 404)."""

import datetime
import io
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from yiyang.core.models import Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import Order, OrderStatus, Settlement, SettlementStatus

from .factories import STREET, days_ago, soon

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("services:settlements")


def _last_month() -> datetime.date:
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


LAST = _last_month()


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _ago(minutes: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(minutes=minutes)


@pytest.fixture
def elder_fields():
    return {"latitude": D("31.800000"), "longitude": D("106.600000")}  # 王秀英, 80+


def _younger(w, *, kind, seq):
    elder = make_elder(w["bureau"], name=f"张{seq}", birth=datetime.date(1956, 6, 1), seq=seq, male=True)
    registry.add_category(actor=w["bureau"], elder=elder, kind=kind, start_date=days_ago(365))
    return elder


def _served(w, elder, *, out, item="bath", quantity=1, allowance="0", latitude="31.8"):
    """Placed by the community, accepted, assigned, checked in and out, confirmed: then moved to have been
    checked out at `out` (last month)."""
    order = services.place_order(actor=w["community"], elder=elder, provider=w["org"], item=w[item],
                                 scheduled_start=soon(5), quantity=quantity, channel="phone",
                                 allowance_available=allowance)[0]
    services.accept_order(actor=w["provider"], order=order)
    services.assign_order(actor=w["provider"], order=order, caregiver=w["carer"])
    services.check_in(actor=w["caregiver"], order=order, at=_ago(65), latitude=latitude, longitude="106.6")
    services.check_out(actor=w["caregiver"], order=order, at=_ago(2), notes="服务完成")
    services.confirm_order(actor=w["community"], order=order)
    Order.objects.filter(pk=order.pk).update(scheduled_start=out - datetime.timedelta(minutes=70),
                                             check_in_at=out - datetime.timedelta(minutes=63), check_out_at=out)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def month(world):
    """Last month for 颐康, hand-computed:

        特困 bath           33.33 = subsidy 33.33
        低保 1.5 h cleaning 28.88 × 1.5 = 43.32 = subsidy 38.99 (90 %, half up) + allowance 2.00 + paid 2.33
        80+ bath           33.33 = allowance 20.00 + paid 13.33
        ─────────────────────────────────────────────
        total 109.98 = subsidy 72.32 + allowance 22.00 + co-payment 15.66

    and a fourth bath checked in 1.1 km from her home: flagged, held back (33.33)."""
    w = world
    included = [
        _served(w, _younger(w, kind="destitute", seq=2), out=_at(LAST, 9)),
        _served(w, _younger(w, kind="subsistence", seq=3), item="cleaning", quantity="1.5", allowance="2.00",
                out=_at(LAST, 10)),
        _served(w, w["elder"], allowance="20.00", out=_at(LAST, 11)),
    ]
    held = _served(w, w["elder"], latitude="31.81", out=_at(LAST, 12))
    return {"included": included, "held": held}


def _prepare(client, w):
    client.force_login(w["bureau"])
    resp = client.post(reverse("services:settlement_prepare"), {
        "provider": w["org"].pk, "month": LAST.strftime("%Y-%m"), "jurisdiction": "511903"})
    assert resp.status_code == 302, resp.status_code
    return Settlement.objects.get(provider=w["org"], month=LAST), resp


def _figure(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}">')[1].split("<")[0]


def test_month_view_prepare_and_statement_totals_equal_the_orders(client, world, month):
    w = world
    client.force_login(w["bureau"])
    page = client.get(LIST, {"month": LAST.strftime("%Y-%m")}).content.decode()
    row = page.split(f'data-testid="provider-{w["org"].pk}"')[1].split("</tr>")[0]
    # Waiting: the three and the flagged one, 109.98 + 33.33 = 143.31; no statement yet.
    assert ">4<" in row and "143.31" in row and "未生成" in row and f'prepare-{w["org"].pk}' in row

    statement, resp = _prepare(client, w)
    assert resp.url == reverse("services:settlement", args=[statement.pk])
    page = client.get(resp.url).content.decode()
    assert "已生成颐康" in page
    assert _figure(page, "order-count") == "3"
    assert _figure(page, "total") == "109.98"
    assert _figure(page, "subsidy") == "72.32"
    assert _figure(page, "allowance") == "22.00"
    assert _figure(page, "copay") == "15.66"
    assert _figure(page, "held-count") == "1"
    assert D("72.32") + D("22.00") + D("15.66") == D("109.98")
    # The page's totals are the statement's and the orders' sums.
    orders = Order.objects.filter(pk__in=[o.pk for o in month["included"]])
    assert sum(o.total for o in orders) == statement.total == D("109.98")
    assert sum(o.subsidy for o in orders) == statement.subsidy == D("72.32")
    assert 'data-testid="reconciled"' in page
    footer = page.split('data-testid="items-total"')[1].split("</tr>")[0]
    assert all(f">{v}<" in footer for v in ("109.98", "72.32", "22.00", "15.66"))
    for order in month["included"]:
        assert f'data-testid="item-{order.pk}"' in page
    held = page.split('data-testid="held"')[1]
    assert f'data-testid="held-{month["held"].pk}"' in held and "签到地点远离老人住址" in held
    assert f'data-testid="item-{month["held"].pk}"' not in page
    assert 'data-testid="approve"' in page and 'data-testid="export"' not in page

    # Back on the month view: the statement, draft, with its figures.
    page = client.get(LIST, {"month": LAST.strftime("%Y-%m")}).content.decode()
    row = page.split(f'data-testid="provider-{w["org"].pk}"')[1].split("</tr>")[0]
    assert "待审核" in row and "109.98" in row and "重新生成" in row


def test_approve_then_export_an_xlsx_with_the_same_totals(client, world, month):
    w = world
    statement, _resp = _prepare(client, w)
    resp = client.post(reverse("services:settlement_approve", args=[statement.pk]), **HX)
    assert resp.status_code == 200 and resp["HX-Redirect"] == reverse("services:settlement", args=[statement.pk])
    statement.refresh_from_db()
    assert statement.status == SettlementStatus.APPROVED
    assert set(Order.objects.filter(pk__in=[o.pk for o in month["included"]]).values_list("status", flat=True)) \
        == {OrderStatus.SETTLED}
    assert Order.objects.get(pk=month["held"].pk).status == OrderStatus.CONFIRMED
    page = client.get(reverse("services:settlement", args=[statement.pk])).content.decode()
    assert "结算单已审核通过：3 单，合计 109.98 元。" in page
    assert 'data-testid="approve"' not in page and 'data-testid="export"' in page
    # Approving again: the service's refusal as a message, nothing changes.
    resp = client.post(reverse("services:settlement_approve", args=[statement.pk]))
    assert resp.status_code == 302
    assert "不能审核" in client.get(resp.url).content.decode()
    # A new preparation of an approved month is refused too.
    resp = client.post(reverse("services:settlement_prepare"), {
        "provider": w["org"].pk, "month": LAST.strftime("%Y-%m"), "jurisdiction": "511903"})
    assert "不能重新生成" in client.get(resp.url).content.decode()

    resp = client.post(reverse("services:settlement_export", args=[statement.pk]))
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp["Content-Disposition"]
    book = load_workbook(io.BytesIO(resp.content))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True)}
    assert summary["结算订单数"] == 3
    assert [round(D(str(summary[k])), 2) for k in ("金额合计（元）", "政府补贴合计（元）", "服务补贴抵扣合计（元）",
                                                   "本人自付合计（元）")] == [D("109.98"), D("72.32"), D("22.00"),
                                                                          D("15.66")]
    detail = list(book["结算明细"].iter_rows(min_row=2, values_only=True))
    assert len(detail) == 3 and sum(round(D(str(r[6])), 2) for r in detail) == D("109.98")
    assert [r[0] for r in book["暂缓结算"].iter_rows(min_row=2, values_only=True)] == [month["held"].pk]
    statement.refresh_from_db()
    assert statement.status == SettlementStatus.EXPORTED


def test_scope_other_county_providers_and_streets(client, world, month):
    w = world
    statement, _resp = _prepare(client, w)
    url = reverse("services:settlement", args=[statement.pk])
    client.force_login(w["other_bureau"])
    assert client.get(url).status_code == 404
    assert client.post(reverse("services:settlement_approve", args=[statement.pk])).status_code == 404
    assert client.post(reverse("services:settlement_export", args=[statement.pk])).status_code == 404
    assert "颐康" not in client.get(LIST, {"month": LAST.strftime("%Y-%m")}).content.decode()
    # Another county's provider is not found (404), like every object outside the bureau's scope.
    resp = client.post(reverse("services:settlement_prepare"), {"provider": w["org"].pk,
                                                                "month": LAST.strftime("%Y-%m")})
    assert resp.status_code == 404
    statement.refresh_from_db()
    assert statement.status == SettlementStatus.DRAFT

    # The provider reads its own statement: no approval, no export (that is the bureau's).
    client.force_login(w["provider"])
    listing = client.get(LIST).content.decode()
    assert f'data-testid="statement-{statement.pk}"' in listing and "109.98" in listing
    page = client.get(url).content.decode()
    assert _figure(page, "total") == "109.98"
    assert 'data-testid="approve"' not in page and 'data-testid="export"' not in page
    # It sees the statement and may not take these steps: 403 (policy.py), nothing changes.
    assert client.post(reverse("services:settlement_approve", args=[statement.pk])).status_code == 403
    assert client.post(reverse("services:settlement_export", args=[statement.pk])).status_code == 403
    statement.refresh_from_db()
    assert statement.status == SettlementStatus.DRAFT
    # Another provider, the streets and communities, families: not found.
    client.force_login(make_user("other_provider", Role.PROVIDER, organisation=make_org("福寿", region=STREET)))
    assert client.get(url).status_code == 404
    assert f"statement-{statement.pk}" not in client.get(LIST).content.decode()
    for who in ("street", "community", "family", "caregiver"):
        client.force_login(w[who])
        assert client.get(url).status_code == 404, who
        assert client.get(LIST).status_code == 404, who
        assert ">服务结算</a>" not in client.get(reverse("services:catalogue")).content.decode()
    client.force_login(w["bureau"])
    assert ">服务结算</a>" in client.get(LIST).content.decode()


def test_refusals_show_the_services_message(client, world):
    w = world
    client.force_login(w["bureau"])
    future = (timezone.localdate().replace(day=28) + datetime.timedelta(days=5)).strftime("%Y-%m")
    resp = client.post(reverse("services:settlement_prepare"), {"provider": w["org"].pk, "month": future})
    assert "不能结算尚未开始的月份。" in client.get(resp.url).content.decode()
    assert not Settlement.objects.exists()
    page = client.get(LIST, {"month": "2026-13"}).content.decode()
    assert "月份格式应为 YYYY-MM" in page


def test_pages_queries_are_bounded(client, world, month, django_assert_max_num_queries):
    w = world
    statement, _resp = _prepare(client, w)
    with django_assert_max_num_queries(14):
        assert client.get(LIST, {"month": LAST.strftime("%Y-%m")}).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(reverse("services:settlement", args=[statement.pk])).status_code == 200
