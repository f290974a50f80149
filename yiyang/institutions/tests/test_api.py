"""The institutions API: homes, a home's beds and occupancy on a past day, the escrow accounts' balances."""

import datetime

from yiyang.institutions import services

from .conftest import SINCE


def get(client, user, url, params=None):
    client.force_login(user)
    return client.get(url, params or {})


def test_homes_and_beds(client, world):
    home = world["home"]
    body = get(client, world["street"], "/api/v1/institutions/homes").json()
    assert body["count"] == 1
    assert body["items"][0] == {
        "id": home.pk, "name": "恩阳区福寿养老院", "kind": "care_home", "kind_label": "养老院", "ownership": "private",
        "ownership_label": "民办", "region": {"code": "511903001", "name": home.region.name},
        "operator": {"id": home.organisation_id, "name": "恩阳区福寿养老院运营方"}, "is_active": True}
    beds = get(client, world["manager"], f"/api/v1/institutions/homes/{home.pk}/beds", {"nursing": True}).json()
    assert [(b["room"], b["label"], b["status"], b["status_since"]) for b in beds["items"]] == [
        ("101", "1", "free", str(SINCE)), ("101", "2", "free", str(SINCE))]
    assert get(client, world["family"], "/api/v1/institutions/homes").status_code == 403
    assert get(client, world["other_bureau"], f"/api/v1/institutions/homes/{home.pk}/beds").status_code == 404


def test_occupancy_on_a_past_day(client, world):
    services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0], admitted_on="2026-06-01",
                   monthly_fee="3000")
    url = f"/api/v1/institutions/homes/{world['home'].pk}/occupancy"
    before = get(client, world["bureau"], url, {"day": "2026-05-31"}).json()
    assert (before["occupied"], before["free"], before["occupancy"]) == (0, 4, "0.00")
    after = get(client, world["bureau"], url, {"day": "2026-06-01"}).json()
    assert after == {"day": "2026-06-01", "beds": 4, "free": 3, "reserved": 0, "occupied": 1, "out_of_service": 0,
                     "nursing": 2, "occupancy": "25.00", "nursing_share": "50.00"}
    none = get(client, world["bureau"], url, {"day": "2025-01-01"}).json()
    assert (none["beds"], none["occupancy"]) == (0, None)
    assert get(client, world["bureau"], url).json()["day"] == str(datetime.date(2026, 11, 18))


def test_escrow_accounts_with_their_balance(client, world):
    account = services.open_escrow_account(actor=world["bureau"], institution=world["home"], bank_name="存管银行",
                                           account_number="622848001234")
    stay = services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0],
                          admitted_on="2026-11-01", monthly_fee="2850.50")
    services.take_prepayment(actor=world["manager"], stay=stay, kind="deposit", amount="17103")
    services.request_withdrawal(actor=world["manager"], account=account, amount="5130.90", reason="工资")  # 30%
    items = get(client, world["manager"], "/api/v1/institutions/escrow-accounts").json()["items"]
    # 17,103.00 − 5,130.90 = 11,972.10
    assert [(a["account_number"], a["status"], a["balance"]) for a in items] == [("**** 1234", "active",
                                                                                  "11972.10")]
    assert get(client, world["street"], "/api/v1/institutions/escrow-accounts").status_code == 403
    assert get(client, world["bureau"], "/api/v1/institutions/escrow-accounts", {"frozen": True}).json()["count"] == 0
