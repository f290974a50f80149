"""A programme paid as a service voucher (服务补贴, pays_to_bank off): approving its roll credits the money to the
elders' service allowances (services' AllowanceEntry, through benefits.signals.roll_approved), so it has no
bank payment file, no bank status and no bank results; its lines say 已计入服务余额 and its roll page says where
the money went, with the total."""

import datetime
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.benefits import rules, services
from yiyang.benefits.models import LineKind, LineStatus, Programme, ProgrammeKind, RollLine, RollStatus
from yiyang.benefits.tests import factories as f
from yiyang.benefits.tests.test_api import born, luhn_account
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditAction, AuditEvent
from yiyang.core.tests.factories import demo_roles

pytestmark = pytest.mark.django_db
API = "/api/v1/benefits/"
VOUCHER = {"min_age": 80, "basis": "residence", "amount_kind": "fixed", "fixed_amount": "100"}


@pytest.fixture
def world():
    """服务补贴 of 100 yuan for everyone 80 and over; 老人1 has a bank account, 老人2 none (no matter here)."""
    roles = demo_roles()
    prog = Programme.objects.create(code="service", kind=ProgrammeKind.SERVICE, name="服务补贴",
                                    pays_to_bank=False)
    f.rule(prog, VOUCHER)
    c = roles["community"]
    people = [f.elder(c, 1, birth=born(91), bank_name="农业银行", bank_account=luhn_account(1)),
              f.elder(c, 2, birth=born(85))]
    return {**roles, "prog": prog, "people": people}


def approved(world, month=None):
    bureau = world["bureau"]
    roll = f.generate(bureau, world["prog"], (month or timezone.localdate()).strftime("%Y-%m"))
    roll = services.submit_for_review(actor=bureau, roll=roll)
    services.sign_off_remaining_streets(actor=bureau, roll=roll, note="纸质审核表已签字")
    return services.approve_roll(actor=bureau, roll=roll)


def test_approval_credits_the_lines_and_there_is_no_bank_file_or_results(client, world):
    from yiyang.services.models import AllowanceEntry

    roll = f.generate(world["bureau"], world["prog"], timezone.localdate().strftime("%Y-%m"))
    assert roll.open_checks == 0  # no bank account needed
    client.force_login(world["bureau"])
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert "审批后计入老年人的服务补贴余额" in body and "下载银行代发文件" not in body

    roll = approved(world)
    assert roll.status == RollStatus.APPROVED
    lines = RollLine.objects.filter(roll=roll)
    assert {(ln.status, ln.paid_on) for ln in lines} == {(LineStatus.CREDITED, timezone.localdate())}
    credited = AllowanceEntry.objects.filter(roll_line__roll=roll, kind="credit")
    assert sum(e.amount for e in credited) == roll.total_amount == Decimal("200.00") and credited.count() == 2

    # No payment file: not in the service, not in the API, not on the page.
    with pytest.raises(DomainError) as refused:
        services.export_bank_file(actor=world["bureau"], roll=roll, fmt="csv")
    assert refused.value.status == 409 and "不发现金" in str(refused.value.message)
    resp = client.get(API + f"rolls/{roll.pk}/bank-file", {"format": "csv"})
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_state" and "不发现金" in resp.json()["message"]
    page = client.post(reverse("benefits:export", args=[roll.pk]), {"format": "csv"}, follow=True).content.decode()
    assert "不发现金" in page
    upload = f"流水号,金额,结果\n{lines[0].pk},{lines[0].amount},成功\n".encode()
    with pytest.raises(DomainError):
        services.import_bank_results(actor=world["bureau"], roll=roll, file_name="r.csv", content=upload)
    roll.refresh_from_db()
    assert (roll.status, roll.exported_at, roll.results_imported_at) == (RollStatus.APPROVED, None, None)
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=str(roll.pk),
                                         object_type="benefits.roll").exists()

    # The page says where the money went, with the total, and links to the credited lines.
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    for testid in ("export-xlsx", "export-csv", "import-results", 'id="bank"'):
        assert testid not in body
    assert 'data-testid="voucher-credited"' in body
    credited_text = body.split('data-testid="voucher-credited"')[1].split("</section>")[0]
    assert "200.00" in credited_text and "2 人次" in credited_text and "服务补贴余额" in credited_text
    assert "?status=credited#lines" in credited_text
    assert body.count("已计入服务余额") >= 2  # each line's status
    detail = client.get(API + f"rolls/{roll.pk}").json()
    assert detail["credited_to_allowance"] == "200.00"
    assert {r["code"]: r["count"] for r in detail["lines_by_status"]} == {"credited": 2}


def test_a_street_sees_its_own_part_of_what_was_credited(client, world):
    world["people"].append(f.elder(world["bureau"], 3, birth=born(88), residence="511903002001"))
    roll = approved(world)
    client.force_login(world["other_street"])  # 文治街道: 老人3 only
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    credited_text = body.split('data-testid="voucher-credited"')[1].split("</section>")[0]
    assert "1 人次" in credited_text and "100.00" in credited_text


def test_credited_months_are_not_paid_again_by_the_next_roll(world):
    month = timezone.localdate().replace(day=1)
    previous = rules.add_months(month, -1)
    approved(world, previous)
    nxt = f.generate(world["bureau"], world["prog"], month.strftime("%Y-%m"))
    # A change after the first roll makes the engine look at last month again: still nothing owed.
    from yiyang.registry.models import Elder

    Elder.objects.filter(pk=world["people"][0].pk).update(updated_at=timezone.now() + datetime.timedelta(seconds=1))
    nxt = services.generate_roll(actor=world["bureau"], roll=nxt)
    kinds = set(RollLine.objects.filter(roll=nxt).values_list("kind", flat=True))
    assert kinds == {LineKind.REGULAR}


def test_the_programmes_api_and_the_roll_api_say_how_it_is_paid(client, world):
    roll = f.generate(world["bureau"], world["prog"], timezone.localdate().strftime("%Y-%m"))
    client.force_login(world["bureau"])
    detail = client.get(API + f"rolls/{roll.pk}").json()
    assert detail["credited_to_allowance"] is None  # nothing credited before approval
    resp = client.post(API + f"rolls/{roll.pk}/bank-results", {})
    assert resp.status_code in (409, 422)
    programmes = json.loads(client.get(API + "programmes").content)
    assert [p["pays_to_bank"] for p in programmes if p["code"] == "service"] == [False]
