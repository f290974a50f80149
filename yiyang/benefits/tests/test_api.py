"""The benefits API: every endpoint's happy path, validation (422 with field messages, nothing written), scope
(404 outside it, streets see their own lines, other roles 403), and the whole month as a clerk lives it:
generate → clear checks → street review → approve → bank file → results with two failures → re-issued next month.
"""

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from yiyang.benefits import rules, services
from yiyang.benefits.models import (
    BankResultImport,
    BenefitSettings,
    LineKind,
    LineStatus,
    Roll,
    RollCheck,
    RollLine,
    RuleVersion,
)
from yiyang.benefits.tests import factories as f
from yiyang.core.models import Region
from yiyang.registry import services as registry_services

pytestmark = pytest.mark.django_db
BASE = "/api/v1/benefits/"
OTHER_STREET_COMMUNITY = "511903002001"  # 文治街道 文治居民委员会


def luhn_account(seq: int) -> str:
    """A 19-digit UnionPay-style card number (62…) with a valid Luhn check digit."""
    base = f"62220202{seq:010d}"
    total = 0
    for i, ch in enumerate(reversed(base)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return base + str((10 - total % 10) % 10)


def this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def ym(day: datetime.date) -> str:
    return day.strftime("%Y-%m")


def born(age: int) -> datetime.date:
    """Someone `age` years old on the 1st of this month and of the next (born mid-March, so in every case)."""
    m = this_month()
    return datetime.date(m.year - age - (1 if m.month <= 3 else 0), 3, 15)


def post(client, url, data=None, **headers):
    return client.post(BASE + url, data=json.dumps(data or {}), content_type="application/json", **headers)


def get(client, url, **params):
    return client.get(BASE + url, params)


@pytest.fixture
def world(world):
    """恩阳区 with the 高龄津贴 rule (80–89: 50, 90–99: 100, 100+: 500) and four elders: three in 登科街道
    (one without a bank account) and one in 文治街道 (conftest's three and this one)."""
    elders = {**world["elders"], "d": f.elder(world["community"], 4, birth=born(95))}  # no bank account → a check
    return {"roles": world["roles"], "programme": world["prog"], "elders": elders}


def generated(world, month=None):
    return f.generate(world["roles"]["bureau"], world["programme"], ym(month or this_month()))


def approved(world, month=None):
    """A generated roll taken through the workflow with the real services (checks confirmed)."""
    bureau = world["roles"]["bureau"]
    roll = generated(world, month)
    for check in RollCheck.objects.filter(roll=roll, resolution=""):
        services.resolve_check(actor=bureau, check=check, resolution="confirmed", note="ok")
    services.submit_for_review(actor=bureau, roll=roll)
    for review in roll.street_reviews.select_related("street"):
        services.sign_off_street(actor=bureau, roll=roll, street=review.street, note="纸质审核表已签字")
    return services.approve_roll(actor=bureau, roll=roll)


# ------------------------------------------------------------------------------------------------ programmes


def test_programmes_with_rule_in_force(client, world):
    client.force_login(world["roles"]["street"])
    resp = get(client, "programmes")
    assert resp.status_code == 200, resp.content
    (p,) = resp.json()
    assert p["code"] == "longevity" and p["jurisdiction"]["code"] == "511903"
    assert p["rule"]["version"] == 1 and p["rule"]["valid_until"] is None
    assert p["rule"]["params"]["bands"][1]["amount"] == "100"
    assert any("90–99 岁档：100.00 元/月" in s for s in p["rule"]["description"])


def test_adopt_rule_closes_the_previous_version(client, world):
    client.force_login(world["roles"]["bureau"])
    nxt = rules.add_months(this_month(), 1)
    params = {**f.LONGEVITY, "bands": [{"min_age": 80, "max_age": 89, "amount": "50"},
                                       {"min_age": 90, "max_age": 99, "amount": "150"},
                                       {"min_age": 100, "max_age": None, "amount": "500"}]}
    resp = post(client, "programmes/longevity/rules",
                {"params": params, "valid_from": ym(nxt), "note": "90–99 岁档提至 150 元",
                 "source": "恩民发〔2026〕1号"})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["version"] == 2 and body["valid_from"] == ym(nxt) and body["status"] == "adopted"
    assert body["params"]["bands"][1]["amount"] == "150.00"
    versions = get(client, "programmes/longevity/rules").json()["items"]
    assert [(v["version"], v["valid_until"]) for v in versions] == [(2, None), (1, ym(this_month()))]
    # This month still pays 100, next month 150.
    now = get(client, "programmes").json()[0]["rule"]
    later = get(client, "programmes", month=ym(nxt)).json()[0]["rule"]
    assert (now["version"], later["version"]) == (1, 2)


def test_adopt_rule_validation_writes_nothing(client, world):
    client.force_login(world["roles"]["bureau"])
    bad = {**f.LONGEVITY, "min_age": 80, "bands": [{"min_age": 80, "max_age": 92, "amount": "50"},
                                                   {"min_age": 90, "max_age": 99, "amount": "-1"}]}
    resp = post(client, "programmes/longevity/rules", {"params": bad, "valid_from": ym(this_month()), "note": "x"})
    assert resp.status_code == 422, resp.content
    body = resp.json()
    fields = {e["field"] for e in body["errors"]}
    assert {"params.bands", "params.bands.1"} <= fields, body
    assert body["message"] == "提交的数据有误，请检查标出的字段。"
    assert any("0 至 100000" in e["message"] for e in body["errors"])
    resp = post(client, "programmes/longevity/rules",
                {"params": f.LONGEVITY, "valid_from": "2026/12", "note": "x"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "valid_from"
    resp = post(client, "programmes/longevity/rules",
                {"params": f.LONGEVITY, "valid_from": ym(this_month()), "note": ""})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "note"
    assert post(client, "programmes/nope/rules", {"params": f.LONGEVITY, "valid_from": "2026-12",
                                                  "note": "x"}).status_code == 404
    assert RuleVersion.objects.count() == 1


def test_errors_follow_accept_language(client, world):
    client.force_login(world["roles"]["bureau"])
    resp = post(client, "rolls", {"programme": "longevity", "month": "2026-13"}, HTTP_ACCEPT_LANGUAGE="en")
    assert resp.status_code == 422
    assert resp.json()["message"] == "Some of the data is wrong; please check the fields marked."


def test_simulation_of_a_higher_band(client, world):
    client.force_login(world["roles"]["bureau"])
    params = {**f.LONGEVITY, "bands": [{"min_age": 80, "max_age": 89, "amount": "50"},
                                       {"min_age": 90, "max_age": 99, "amount": "150"},
                                       {"min_age": 100, "max_age": None, "amount": "500"}]}
    resp = post(client, "programmes/longevity/simulate", {"params": params, "month": ym(this_month())})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    t = body["total"]
    # a 100 + b 50 + c 50 + d 100 = 300 today; a and d move to 150 → 400.
    assert (t["current_cost"], t["proposed_cost"], t["change"]) == ("300.00", "400.00", "100.00")
    assert (t["current_count"], t["proposed_count"], t["gaining"], t["losing"], t["joining"], t["leaving"]) == (
        4, 4, 2, 0, 0, 0)
    assert body["annual_change"] == "1200.00" and body["current_rule"]["version"] == 1
    assert {r["code"]: r["change"] for r in body["regions"]} == {"511903001": "100.00", "511903002": "0.00"}
    # Only the change, over the rule in force: the floor raised to 90 loses b and c.
    resp = post(client, "programmes/longevity/simulate",
                {"changes": {"min_age": 90, "bands": [{"min_age": 90, "max_age": 99, "amount": "100"},
                                                      {"min_age": 100, "amount": "500"}]}})
    assert resp.status_code == 200, resp.content
    assert resp.json()["total"]["leaving"] == 2 and resp.json()["total"]["change"] == "-100.00"
    assert Roll.objects.count() == 0 and RollLine.objects.count() == 0


def test_simulation_validation_and_roles(client, world):
    client.force_login(world["roles"]["bureau"])
    resp = post(client, "programmes/longevity/simulate", {"params": {"amount_kind": "bands"}, "month": "2026-1"})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "month"
    resp = post(client, "programmes/longevity/simulate", {"params": {"amount_kind": "bands"}})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "params.amount_kind"
    client.force_login(world["roles"]["street"])
    assert post(client, "programmes/longevity/simulate", {"params": f.LONGEVITY}).status_code == 403
    client.force_login(world["roles"]["family"])
    assert post(client, "programmes/longevity/simulate", {"params": f.LONGEVITY}).status_code == 404


# ------------------------------------------------------------------------------------------------ rolls


def test_create_roll_generates_and_reports(client, world):
    client.force_login(world["roles"]["bureau"])
    resp = post(client, "rolls", {"programme": "longevity", "month": ym(this_month())})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "draft" and body["progress"] == 100 and body["queued"] is False
    assert (body["line_count"], body["total_amount"], body["open_checks"]) == (4, "300.00", 1)
    assert body["check_counts"] == [{"code": "bank_missing", "label": "缺少银行账户", "count": 1, "amount": None}]
    assert {r["code"]: (r["count"], r["amount"]) for r in body["lines_by_status"]} == {"pending": (4, "300.00")}
    # Again: nothing changes.
    again = post(client, "rolls", {"programme": "longevity", "month": ym(this_month())})
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert RollLine.objects.count() == 4 and Roll.objects.count() == 1
    listed = get(client, "rolls", month=ym(this_month()), programme="longevity", status="draft").json()
    assert listed["count"] == 1 and listed["items"][0]["total_amount"] == "300.00"
    assert get(client, "rolls", status="approved").json()["count"] == 0


def test_create_roll_validation_writes_nothing(client, world):
    client.force_login(world["roles"]["bureau"])
    for payload, field in (({"programme": "longevity", "month": "2026-13"}, "month"),
                           ({"programme": "longevity", "month": "11/2026"}, "month"),
                           ({"programme": "longevity", "month": ym(rules.add_months(this_month(), 3))}, "month"),
                           ({"programme": "nope", "month": ym(this_month())}, "programme"),
                           ({"month": ym(this_month())}, "programme")):
        resp = post(client, "rolls", payload)
        assert resp.status_code == 422, (payload, resp.content)
        assert field in {e["field"] for e in resp.json()["errors"]}, resp.json()
        assert resp.json()["errors"][0]["message"]
    assert get(client, "rolls", month="2026-1").status_code == 422
    assert Roll.objects.count() == 0 and RollLine.objects.count() == 0


def test_large_roll_is_queued_with_progress(client, world, django_capture_on_commit_callbacks):
    BenefitSettings.objects.create(jurisdiction_id=f.COUNTY, background_threshold=0)
    client.force_login(world["roles"]["bureau"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resp = post(client, "rolls", {"programme": "longevity", "month": ym(this_month())})
    assert resp.status_code == 202, resp.content
    body = resp.json()
    assert body["queued"] is True and body["status"] == "generating" and body["progress"] == 0
    assert len(callbacks) == 1
    # The worker's job, run here in-process:
    from yiyang.benefits.tasks import generate_roll_task

    generate_roll_task.call(body["id"], world["roles"]["bureau"].pk)
    done = get(client, f"rolls/{body['id']}").json()
    assert (done["status"], done["progress"], done["line_count"]) == ("draft", 100, 4)


def test_lines_explain_themselves_and_mask_accounts(client, world):
    roll = generated(world)
    client.force_login(world["roles"]["bureau"])
    resp = get(client, f"rolls/{roll.pk}/lines")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["count"] == 4
    by_name = {x["elder"]["name"]: x for x in body["items"]}
    a = by_name["老人1"]
    assert a["amount"] == "100.00" and a["kind"] == "regular" and a["band"] == "90-99"
    assert a["explanation"] == f"{this_month().isoformat()} 时 91 岁 → 90–99 岁档 → 100.00 元"
    assert a["bank_account_masked"] == "**** " + luhn_account(1)[-4:]
    assert luhn_account(1) not in resp.content.decode()
    assert "*" in a["elder"]["id_number_masked"]
    assert by_name["老人4"]["checks"][0]["kind"] == "bank_missing"
    # Filters.
    assert get(client, f"rolls/{roll.pk}/lines", region="511903002").json()["count"] == 1
    assert get(client, f"rolls/{roll.pk}/lines", q="老人2").json()["count"] == 1
    assert get(client, f"rolls/{roll.pk}/lines", with_checks="true").json()["count"] == 1
    assert get(client, f"rolls/{roll.pk}/lines", kind="reissue").json()["count"] == 0
    assert get(client, f"rolls/{roll.pk}/lines", status="pending", limit=2).json()["count"] == 4
    assert len(get(client, f"rolls/{roll.pk}/lines", limit=2).json()["items"]) == 2
    assert get(client, f"rolls/{roll.pk}/lines", kind="bogus").status_code == 422


def test_scope(client, world):
    roles = world["roles"]
    roll = generated(world)
    check = RollCheck.objects.get(roll=roll)

    client.force_login(roles["other_bureau"])
    assert get(client, f"rolls/{roll.pk}").status_code == 404
    assert get(client, f"rolls/{roll.pk}/lines").status_code == 404
    assert get(client, f"rolls/{roll.pk}/checks").status_code == 404
    assert post(client, f"rolls/{roll.pk}/approve").status_code == 404
    assert post(client, f"rolls/{roll.pk}/submit").status_code == 404
    assert post(client, f"checks/{check.pk}/resolve", {"resolution": "confirmed"}).status_code == 404
    assert get(client, "rolls").json()["count"] == 0
    assert get(client, f"elders/{world['elders']['a'].pk}/benefits").status_code == 404

    client.force_login(roles["street"])  # 登科街道: a, b, d
    names = {x["elder"]["name"] for x in get(client, f"rolls/{roll.pk}/lines").json()["items"]}
    assert names == {"老人1", "老人2", "老人4"}
    assert get(client, f"rolls/{roll.pk}/checks").json()["count"] == 1
    detail = get(client, f"rolls/{roll.pk}").json()
    assert {r["code"]: r["count"] for r in detail["lines_by_status"]} == {"pending": 3}
    assert post(client, f"rolls/{roll.pk}/approve").status_code == 403
    assert post(client, "rolls", {"programme": "longevity", "month": ym(this_month())}).status_code == 403

    client.force_login(roles["other_street"])  # 文治街道: c only, and not the check
    items = get(client, f"rolls/{roll.pk}/lines").json()["items"]
    assert [x["elder"]["name"] for x in items] == ["老人3"]
    assert get(client, f"rolls/{roll.pk}/checks").json()["count"] == 0
    assert post(client, f"checks/{check.pk}/resolve", {"resolution": "confirmed"}).status_code == 404
    assert get(client, f"rolls/{roll.pk}/lines/").status_code == 404  # no such route either

    client.force_login(roles["community"])  # the community knows its people: it may clear its own checks
    assert get(client, f"rolls/{roll.pk}/lines").json()["count"] == 3
    assert post(client, f"rolls/{roll.pk}/approve").status_code == 403
    assert post(client, f"checks/{check.pk}/resolve", {"resolution": "confirmed"}).status_code == 200

    # Other roles: 403 from the collection routes, 404 from the object routes (like an object out of scope).
    for role in ("family", "provider", "caregiver", "assessor"):
        client.force_login(roles[role])
        for url in ("programmes", "rolls", f"totals?month={ym(this_month())}"):
            assert client.get(BASE + url).status_code == 403, (role, url)
        for url in (f"rolls/{roll.pk}", f"rolls/{roll.pk}/lines", f"rolls/{roll.pk}/checks",
                    "programmes/longevity/rules", f"rolls/{roll.pk}/bank-file"):
            assert client.get(BASE + url).status_code == 404, (role, url)
        assert post(client, f"rolls/{roll.pk}/approve").status_code == 404
    client.force_login(roles["provider"])
    assert get(client, f"elders/{world['elders']['a'].pk}/benefits").status_code == 404
    client.force_login(roles["family"])  # not linked to this elder
    assert get(client, f"elders/{world['elders']['a'].pk}/benefits").status_code == 404
    client.logout()
    assert get(client, "rolls").status_code == 401
    resolved = RollCheck.objects.get(pk=check.pk)
    assert (resolved.resolution, resolved.resolved_by) == ("confirmed", roles["community"])


def test_check_resolution_validation(client, world):
    roll = generated(world)
    check = RollCheck.objects.get(roll=roll)
    client.force_login(world["roles"]["street"])
    resp = post(client, f"checks/{check.pk}/resolve", {"resolution": "withheld"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "note"
    resp = post(client, f"checks/{check.pk}/resolve", {"resolution": "maybe"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "resolution"
    assert RollCheck.objects.get(pk=check.pk).resolution == ""
    resp = post(client, f"checks/{check.pk}/resolve", {"resolution": "confirmed", "note": "已补登账号"})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["resolution"] == "confirmed" and body["resolution_label"] == "核实无误，照常发放"
    assert body["resolved_by"] and body["elder"]["name"] == "老人4" and body["amount"] == "100.00"
    client.force_login(world["roles"]["bureau"])
    assert get(client, f"rolls/{roll.pk}/checks").json()["count"] == 0
    assert get(client, f"rolls/{roll.pk}/checks", all="true").json()["count"] == 1


def test_workflow_order_is_enforced(client, world):
    roll = generated(world)
    client.force_login(world["roles"]["bureau"])
    resp = post(client, f"rolls/{roll.pk}/approve")
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_state"
    assert get(client, f"rolls/{roll.pk}/bank-file").status_code == 409
    assert post(client, f"rolls/{roll.pk}/submit").json()["status"] == "in_review"
    resp = post(client, f"rolls/{roll.pk}/streets/511903001/sign-off", {"note": "ok"})
    assert resp.status_code == 409 and resp.json()["code"] == "open_checks"
    resp = post(client, f"rolls/{roll.pk}/approve")
    assert resp.status_code == 409 and resp.json()["code"] == "open_checks"
    assert post(client, f"rolls/{roll.pk}/streets/511903003/sign-off").status_code == 404
    assert post(client, f"rolls/{roll.pk}/streets/999999999/sign-off").status_code == 404


def results_csv(exported: bytes, failures: dict[str, str], *, encoding="utf-8-sig") -> bytes:
    """The bank's answer to a CSV payment file: every row paid except the named ones (elder name → reason)."""
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(rows[0] + ["结果", "失败原因", "发放日期"])
    for row in rows[1:]:
        failed = row[1] in failures
        w.writerow(row + (["失败", failures[row[1]], ""] if failed else ["成功", "", timezone.localdate().isoformat()]))
    return out.getvalue().encode(encoding)


def test_the_month_from_generation_to_reissue(client, world):
    roles, elders = world["roles"], world["elders"]
    bureau = roles["bureau"]
    client.force_login(bureau)
    month = this_month()
    roll = post(client, "rolls", {"programme": "longevity", "month": ym(month)}).json()
    rid = roll["id"]
    assert roll["open_checks"] == 1

    # The community clears the check: d has no account, withheld this month.
    client.force_login(roles["community"])
    (check,) = get(client, f"rolls/{rid}/checks").json()["items"]
    assert check["kind"] == "bank_missing"
    client.force_login(roles["street"])
    resp = post(client, f"checks/{check['id']}/resolve", {"resolution": "withheld", "note": "待补登银行账户"})
    assert resp.status_code == 200, resp.content

    client.force_login(bureau)
    body = post(client, f"rolls/{rid}/submit").json()
    assert body["status"] == "in_review" and body["open_checks"] == 0
    assert {r["street"]["code"]: (r["line_count"], r["reviewed_at"]) for r in body["street_reviews"]} == {
        "511903001": (3, None), "511903002": (1, None)}

    client.force_login(roles["street"])
    assert post(client, f"rolls/{rid}/streets/511903002/sign-off").status_code == 403  # not its street
    resp = post(client, f"rolls/{rid}/streets/511903001/sign-off", {"note": "已核对"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["reviewed_by"] and resp.json()["total_amount"] == "250.00"
    client.force_login(bureau)
    assert post(client, f"rolls/{rid}/approve").json()["code"] == "unsigned"
    assert post(client, f"rolls/{rid}/streets/511903002/sign-off", {"note": "据纸质签字单"}).status_code == 200
    body = post(client, f"rolls/{rid}/approve").json()
    assert body["status"] == "approved" and body["approved_by"]
    assert {r["code"]: r["count"] for r in body["lines_by_status"]} == {"pending": 3, "withheld": 1}
    resp = post(client, "rolls", {"programme": "longevity", "month": ym(month)})  # locked now
    assert resp.status_code == 409 and resp.json()["code"] == "roll_locked"

    # The bank file is the bureau's alone, with full accounts.
    resp = client.get(BASE + f"rolls/{rid}/bank-file", {"format": "csv"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert resp["Content-Disposition"] == f'attachment; filename="longevity-511903-{month:%Y%m}.csv"'
    exported = resp.content
    assert luhn_account(1) in exported.decode("utf-8-sig")
    assert client.get(BASE + f"rolls/{rid}/bank-file").status_code == 200  # xlsx
    assert client.get(BASE + f"rolls/{rid}/bank-file", {"format": "pdf"}).status_code == 422
    for role in ("street", "community"):
        client.force_login(roles[role])
        refused = client.get(BASE + f"rolls/{rid}/bank-file", {"format": "csv"})
        assert refused.status_code == 403 and luhn_account(1) not in refused.content.decode()

    # The bank's results: a and c failed.
    client.force_login(bureau)
    content = results_csv(exported, {"老人1": "账户已销户", "老人3": "户名不符"})
    upload = SimpleUploadedFile("回盘.csv", content, content_type="text/csv")
    resp = client.post(BASE + f"rolls/{rid}/bank-results", {"file": upload})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["paid"], body["failed"], body["unchanged"], body["already_imported"]) == (1, 2, 0, False)
    assert body["roll"]["status"] == "closed"
    detail = get(client, f"rolls/{rid}").json()
    assert {r["code"]: (r["count"], r["amount"]) for r in detail["lines_by_status"]} == {
        "paid": (1, "50.00"), "failed": (2, "150.00"), "withheld": (1, "100.00")}
    assert len(detail["result_imports"]) == 1
    failed = get(client, f"rolls/{rid}/lines", status="failed").json()["items"]
    assert {x["elder"]["name"]: x["failure_reason"] for x in failed} == {"老人1": "账户已销户", "老人3": "户名不符"}

    # The same file again changes nothing.
    before = dict(RollLine.objects.filter(roll_id=rid).values_list("id", "status"))
    resp = client.post(BASE + f"rolls/{rid}/bank-results",
                       {"file": SimpleUploadedFile("回盘（重传）.csv", content, content_type="text/csv")})
    assert resp.status_code == 200, resp.content
    assert resp.json()["already_imported"] is True and resp.json()["failed"] == 2
    assert dict(RollLine.objects.filter(roll_id=rid).values_list("id", "status")) == before
    assert BankResultImport.objects.filter(roll_id=rid).count() == 1

    # Next month's roll re-issues the two failures.
    nxt = f.generate(bureau, world["programme"], ym(rules.add_months(month, 1)))
    reissues = get(client, f"rolls/{nxt.pk}/lines", kind="reissue").json()["items"]
    assert {(x["elder"]["id"], x["for_month"], x["amount"]) for x in reissues} == {
        (elders["a"].pk, ym(month), "100.00"), (elders["c"].pk, ym(month), "50.00")}
    assert all("重发" in x["explanation"] for x in reissues)

    # The elder's history shows both.
    history = get(client, f"elders/{elders['a'].pk}/benefits").json()
    assert [(x["kind"], x["status"], x["for_month"]) for x in history["lines"]] == [
        ("regular", "pending", ym(rules.add_months(month, 1))), ("reissue", "pending", ym(month)),
        ("regular", "failed", ym(month))]
    assert history["paid_total"] == "0.00"
    assert get(client, f"elders/{elders['b'].pk}/benefits").json()["paid_total"] == "50.00"


def test_bank_results_errors_name_the_rows(client, world):
    roll = approved(world)
    bureau = world["roles"]["bureau"]
    _name, exported, _mime = services.export_bank_file(actor=bureau, roll=roll, fmt="csv")
    text = results_csv(exported, {"老人1": ""}).decode("utf-8-sig")  # a failure without a reason
    client.force_login(bureau)
    resp = client.post(BASE + f"rolls/{roll.pk}/bank-results",
                       {"file": SimpleUploadedFile("r.csv", text.encode("utf-8"), content_type="text/csv")})
    assert resp.status_code == 422, resp.content
    errors = resp.json()["errors"]
    assert len(errors) == 1 and errors[0]["field"].startswith("row ") and "失败须注明原因" in errors[0]["message"]
    assert BankResultImport.objects.count() == 0
    assert set(RollLine.objects.filter(roll=roll).values_list("status", flat=True)) == {"pending"}
    resp = client.post(BASE + f"rolls/{roll.pk}/bank-results", {})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"].startswith("file")
    client.force_login(world["roles"]["street"])
    resp = client.post(BASE + f"rolls/{roll.pk}/bank-results",
                       {"file": SimpleUploadedFile("r.csv", text.encode("utf-8"), content_type="text/csv")})
    assert resp.status_code == 403


def test_recovery_line_marked_recovered(client, world):
    bureau, elders = world["roles"]["bureau"], world["elders"]
    month = this_month()
    approved(world, month)
    # A death before the 1st registered late: this month was paid wrongly.
    registry_services.record_status_event(actor=bureau, elder=elders["b"], kind="death",
                                          effective_date=month - datetime.timedelta(days=3))
    nxt = approved(world, rules.add_months(month, 1))
    recovery = RollLine.objects.get(roll=nxt, kind=LineKind.RECOVERY)
    assert recovery.elder_id == elders["b"].pk and recovery.amount == Decimal("-50.00")
    client.force_login(bureau)
    lines = get(client, f"rolls/{nxt.pk}/lines", kind="recovery").json()["items"]
    assert lines[0]["amount"] == "-50.00" and "追回 50.00 元" in lines[0]["explanation"]
    regular = RollLine.objects.filter(roll=nxt, kind="regular").first()
    assert post(client, f"lines/{regular.pk}/recovered").status_code == 409
    client.force_login(world["roles"]["street"])
    assert post(client, f"lines/{recovery.pk}/recovered").status_code == 403
    client.force_login(world["roles"]["other_bureau"])
    assert post(client, f"lines/{recovery.pk}/recovered").status_code == 404
    client.force_login(bureau)
    resp = post(client, f"lines/{recovery.pk}/recovered", {"note": "已从社保卡扣回"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == LineStatus.RECOVERED and resp.json()["status_label"] == "已追回"


def test_totals_by_region_and_programme(client, world):
    generated(world)
    client.force_login(world["roles"]["bureau"])
    resp = get(client, "totals", month=ym(this_month()))
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert (body["lines"], body["amount"], body["level"]) == (4, "300.00", 9)
    assert {(r["region"], r["region_name"], r["programme"], r["amount"]) for r in body["rows"]} == {
        ("511903001", "登科街道", "高龄津贴", "250.00"), ("511903002", "文治街道", "高龄津贴", "50.00")}
    county = get(client, "totals", month=ym(this_month()), level=6).json()
    assert [(r["region"], r["lines"]) for r in county["rows"]] == [("511903", 4)]
    client.force_login(world["roles"]["other_street"])
    assert get(client, "totals", month=ym(this_month())).json()["amount"] == "50.00"
    assert get(client, "totals").status_code == 422
    assert get(client, "totals", month="2026-00").status_code == 422
    assert get(client, "totals", month=ym(this_month()), level=7).status_code == 422


def test_elder_history_for_family(client, world):
    from yiyang.core.tests.factories import make_user
    from yiyang.registry.models import FamilyLink

    generated(world)
    elder = world["elders"]["a"]
    relative = make_user("relative", "family")
    FamilyLink.objects.create(user=relative, elder=elder, relationship="child")
    client.force_login(relative)
    resp = get(client, f"elders/{elder.pk}/benefits")
    assert resp.status_code == 200, resp.content
    (line,) = resp.json()["lines"]
    assert line["amount"] == "100.00" and line["bank_account_masked"].startswith("**** ")


def test_openapi_lists_the_benefits_endpoints(client, world):
    client.force_login(world["roles"]["bureau"])
    paths = client.get("/api/openapi.json").json()["paths"]
    for p in ("programmes", "programmes/{code}/rules", "programmes/{code}/simulate", "rolls", "rolls/{roll_id}",
              "rolls/{roll_id}/lines", "rolls/{roll_id}/checks", "checks/{check_id}/resolve",
              "rolls/{roll_id}/submit", "rolls/{roll_id}/streets/{street_code}/sign-off", "rolls/{roll_id}/approve",
              "rolls/{roll_id}/bank-file", "rolls/{roll_id}/bank-results", "lines/{line_id}/recovered",
              "elders/{elder_id}/benefits", "totals"):
        assert "/api/v1/benefits/" + p in paths, p
    assert Region.objects.filter(code=OTHER_STREET_COMMUNITY).exists()
