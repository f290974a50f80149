"""Every place that shows or exports an order's money shows all of it, and the columns add up to the fen
(total = government subsidy + service allowance + co-payment); and what a family reads of the subsidy rule
is the rule in plain words with the jurisdiction's own document, never our seed files or 示例数据.

The order (hand-computed): 颐康's 上门助浴 at 33.33 for a 低保边缘 elder (70 %): subsidy 33.33 × 70 % = 23.331
→ 23.33; 10.00 left, of which 5.00 from the month's service allowance (credited 5.00) and 5.00 paid by her."""

import datetime
import io
import json
import re
from decimal import Decimal as D

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.services import examples, services
from yiyang.services.models import AllowanceEntry, AllowanceKind, SubsidyRule

from .scope_world import build_services_world, elder_in, placer_for, soon

pytestmark = pytest.mark.django_db

PARTS = ("total", "subsidy", "allowance", "copay")
EXPECTED = {"total": D("33.33"), "subsidy": D("23.33"), "allowance": D("5.00"), "copay": D("5.00")}


def parts_in(html: str) -> dict:
    """The money cells (data-part) of a fragment of a page."""
    found = dict(re.findall(r'data-part="(total|subsidy|allowance|copay)"[^>]*>\s*([\d.,]+)\s*<', html))
    return {k: D(v.replace(",", "")) for k, v in found.items()}


def row_of(html: str, testid: str) -> str:
    match = re.search(rf'<tr[^>]*data-testid="{testid}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {testid}"
    return match.group(1)


def adds_up(parts: dict, where: str) -> None:
    assert set(parts) == set(PARTS), f"{where}: shows {sorted(parts)}, not all of {PARTS}"
    assert parts["total"] == parts["subsidy"] + parts["allowance"] + parts["copay"], f"{where}: {parts}"
    assert parts == EXPECTED, f"{where}: {parts}"


@pytest.fixture
def served(scope_world, frozen_clock):
    """The order above, served for an hour, confirmed by the family: (world, order)."""
    sw = build_services_world(scope_world)
    elder = elder_in(sw, "family_mother")
    from yiyang.registry import services as registry

    registry.add_category(actor=scope_world["bureau"], elder=elder, kind="near_subsistence",
                          start_date=timezone.localdate() - datetime.timedelta(days=365))
    start = soon()
    AllowanceEntry.objects.create(elder=elder, month=timezone.localdate(start).replace(day=1), amount=D("5.00"),
                                  kind=AllowanceKind.CREDIT, county_code=elder.county_code,
                                  region_code=elder.residence_region_id)
    actor, channel = placer_for(sw, elder)
    order = services.place_order(actor=actor, elder=elder, provider=sw.orgs["provider"], item=sw.bath,
                                 scheduled_start=start, channel=channel)[0]
    assert {p: getattr(order, p) for p in PARTS} == EXPECTED
    return sw, order


def test_order_pages_and_the_api_show_every_part_and_they_add_up(client, scope_world, served):
    sw, order = served
    for role in ("family", "community", "bureau", "provider"):
        client.force_login(scope_world[role])
        listing = client.get(reverse("services:order_list")).content.decode()
        adds_up(parts_in(row_of(listing, f"order-{order.pk}")), f"order list ({role})")
        detail = client.get(reverse("services:order_detail", args=[order.pk])).content.decode()
        adds_up(parts_in(detail), f"order detail ({role})")
        body = client.get(f"/api/v1/services/orders/{order.pk}").json()
        adds_up({p: D(body[p]) for p in PARTS}, f"API order ({role})")
        items = client.get("/api/v1/services/orders?limit=10").json()["items"]
        adds_up({p: D(next(i for i in items if i["id"] == order.pk)[p]) for p in PARTS}, f"API list ({role})")
    client.force_login(scope_world["provider"])
    desk = client.get(reverse("services:workspace")).content.decode()
    adds_up(parts_in(row_of(desk, f"incoming-{order.pk}")), "workspace 待接单")


def test_the_quote_shows_every_part_and_they_add_up(client, scope_world, served):
    sw, order = served
    # A second visit the same month: the allowance is spent, so the family pays the 10.00 left.
    client.force_login(scope_world["family"])
    day = timezone.localdate(order.scheduled_start)
    body = {"elder": order.elder_id, "provider": sw.orgs["provider"].pk, "item": "bath",
            "scheduled_start": order.scheduled_start.isoformat()}
    quote = client.post("/api/v1/services/quote", json.dumps(body), content_type="application/json").json()
    assert (quote["total"], quote["subsidy"], quote["allowance"], quote["copay"]) == ("33.33", "23.33", "0.00",
                                                                                      "10.00")
    page = client.get(reverse("services:order_quote"), {
        "elder": order.elder_id, "item": "bath", "provider": sw.orgs["provider"].pk, "date": day.isoformat(),
        "time": timezone.localtime(order.scheduled_start).strftime("%H:%M"), "quantity": "1"}).content.decode()
    shown = {p: D(v) for p, v in re.findall(r'data-testid="quote-(total|subsidy|allowance|copay)"[^>]*>([\d.]+)<',
                                            page)}
    assert shown == {"total": D("33.33"), "subsidy": D("23.33"), "allowance": D("0.00"), "copay": D("10.00")}


def test_the_settlement_statement_its_list_and_its_xlsx_add_up(client, scope_world, served, frozen_clock):
    sw, order = served
    caregiver = sw.users["caregiver"]
    services.accept_order(actor=scope_world["provider"], order=order)
    services.assign_order(actor=scope_world["provider"], order=order, caregiver=sw.carers["provider"])
    services.check_in(actor=caregiver, order=order)
    frozen_clock.shift(datetime.timedelta(minutes=60))  # an hour's visit: the standard, no flag
    services.check_out(actor=caregiver, order=order, notes="已助浴")
    services.confirm_order(actor=scope_world["family"], order=order)
    order.refresh_from_db()
    month = timezone.localdate(order.check_out_at).replace(day=1)
    statement = services.prepare_settlement(actor=scope_world["bureau"], provider=sw.orgs["provider"], month=month)
    assert (statement.order_count, statement.held_count) == (1, 0)
    services.approve_settlement(actor=scope_world["bureau"], settlement=statement)

    client.force_login(scope_world["bureau"])
    page = client.get(reverse("services:settlement", args=[statement.pk])).content.decode()
    adds_up(parts_in(row_of(page, f"item-{order.pk}")), "statement item")
    figures = {p: D(v) for p, v in re.findall(r'data-testid="(total|subsidy|allowance|copay)">([\d.,]+)<', page)}
    adds_up(figures, "statement figures")
    client.force_login(scope_world["provider"])
    listing = client.get(reverse("services:settlements")).content.decode()
    adds_up(parts_in(row_of(listing, f"statement-{statement.pk}")), "provider's statements")

    client.force_login(scope_world["bureau"])
    resp = client.post(reverse("services:settlement_export", args=[statement.pk]))
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True)
    rows = list(wb["结算明细"].iter_rows(values_only=True))
    columns = {name: rows[0].index(name) for name in ("金额", "政府补贴", "服务补贴抵扣", "本人自付")}
    line = {part: D(str(rows[1][columns[name]])).quantize(D("0.01"))
            for part, name in zip(PARTS, columns, strict=True)}
    adds_up(line, "xlsx 结算明细")
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(values_only=True)}
    names = ("金额合计（元）", "政府补贴合计（元）", "服务补贴抵扣合计（元）", "本人自付合计（元）")
    adds_up({part: D(str(summary[name])).quantize(D("0.01")) for part, name in zip(PARTS, names, strict=True)},
            "xlsx 汇总")


# ------------------------------------------------------------------------------------ the rule in words


FORBIDDEN = ("seeds/", "示例数据", "示例")


def test_a_family_reads_the_rule_in_words_and_the_jurisdictions_document(client, scope_world):
    """The demo's rule (examples.py): its revision note says where the figures came from, for staff."""
    sw = build_services_world(scope_world)
    rule = SubsidyRule.objects.get(jurisdiction_id="511903")
    rule.note, rule.source = examples.SUBSIDY_NOTE, examples.SUBSIDY_SOURCE
    rule.save(update_fields=["note", "source"])
    elder = elder_in(sw, "family_mother")
    from yiyang.registry import services as registry

    registry.add_category(actor=scope_world["bureau"], elder=elder, kind="subsistence",
                          start_date=timezone.localdate() - datetime.timedelta(days=365))
    day = timezone.localdate() + datetime.timedelta(days=1)
    client.force_login(scope_world["family"])
    quote = client.get(reverse("services:order_new"), {
        "elder": elder.pk, "item": "bath", "provider": sw.orgs["provider"].pk, "date": day.isoformat(),
        "time": "09:00", "quantity": "1"}).content.decode()
    basis = re.search(r"<li>(依据：[^<]*)</li>", quote).group(1)
    assert basis == (f"依据：恩阳区自 {rule.valid_from.isoformat()} 起执行的服务补贴规则——低保：按普惠价，"
                     "政府补贴 90%，其余先从每月服务补贴余额抵扣，不足部分本人自付。（政策依据：恩民政函〔2021〕3号）")
    order = services.place_order(actor=scope_world["family"], elder=elder, provider=sw.orgs["provider"],
                                 item=sw.bath, scheduled_start=soon(), channel="portal")[0]
    detail = client.get(reverse("services:order_detail", args=[order.pk])).content.decode()
    catalogue = client.get(reverse("services:catalogue")).content.decode()
    assert "恩民政函〔2021〕3号" in detail and "恩民政函〔2021〕3号" in catalogue
    assert "低保：按普惠价，政府补贴 90%" in catalogue
    for page, name in ((quote, "quote"), (detail, "order"), (catalogue, "catalogue")):
        assert not [word for word in FORBIDDEN if word in page], name
    # Staff keep the revision note, with where its figures came from.
    client.force_login(scope_world["bureau"])
    staff_page = client.get(reverse("services:catalogue")).content.decode()
    assert "seeds/001" in staff_page and "比例为示例数据" in staff_page


def test_the_demo_rule_keeps_seed_references_out_of_its_public_basis():
    assert not any(word in examples.SUBSIDY_SOURCE for word in FORBIDDEN)
    assert "seeds/" in examples.SUBSIDY_NOTE  # where the figures came from, for staff
