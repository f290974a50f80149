"""The family (and the elder) find the linked elder's benefits from their menu and their home page: which
programmes, what each month paid or will pay and why ("… 时 92 岁 → 90–99 岁档 → 100.00 元"), and the service
allowance. Nobody else's, and no page for anyone else."""

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.benefits import allowance, rules, services
from yiyang.benefits.models import LineStatus, Programme, ProgrammeKind, RollLine
from yiyang.benefits.tests import factories as f
from yiyang.benefits.tests.test_api import born, luhn_account
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_user
from yiyang.registry.models import FamilyLink

pytestmark = pytest.mark.django_db


def approve(bureau, roll):
    roll = services.submit_for_review(actor=bureau, roll=roll)
    services.sign_off_remaining_streets(actor=bureau, roll=roll, note="纸质审核表已签字")
    return services.approve_roll(actor=bureau, roll=roll)


@pytest.fixture
def world(longevity):
    """The family's mother, 92, is paid 100 yuan of 高龄津贴: last month's roll paid by the bank, this month's
    in draft. A stranger, 85, lives in the same community."""
    roles, prog = longevity, longevity["prog"]
    bureau, c = roles["bureau"], roles["community"]
    mother = f.elder(c, 1, birth=born(92), name="王秀英", bank_name="农业银行", bank_account=luhn_account(1))
    stranger = f.elder(c, 2, birth=born(85), name="陌生人", bank_name="农业银行", bank_account=luhn_account(2))
    FamilyLink.objects.create(user=roles["family"], elder=mother, relationship="daughter")
    month = timezone.localdate().replace(day=1)
    previous = rules.add_months(month, -1)
    last = approve(bureau, f.generate(bureau, prog, previous.strftime("%Y-%m")))
    _name, content, _mime = services.export_bank_file(actor=bureau, roll=last, fmt="csv")
    paid_on = timezone.localdate().isoformat()
    results = "流水号,金额,结果,发放日期\n" + "".join(
        f"{ln.pk},{ln.amount},成功,{paid_on}\n" for ln in RollLine.objects.filter(roll=last))
    services.import_bank_results(actor=bureau, roll=last, file_name="r.csv", content=results.encode())
    f.generate(bureau, prog, month.strftime("%Y-%m"))
    return {**roles, "mother": mother, "stranger": stranger, "month": month, "previous": previous}


def test_the_family_finds_the_mothers_benefits_from_the_menu_and_the_home_page(client, world):
    client.force_login(world["family"])
    home = client.get(reverse("core:home")).content.decode()
    nav = home.split('class="mainnav"')[1].split("</nav>")[0]
    assert f'href="{reverse("benefits:mine")}"' in nav and "补贴明细" in nav
    panel = home.split('data-testid="family-benefits"')[1].split("</section>")[0]
    assert "王秀英" in panel and "高龄津贴 100.00 元" in panel and 'data-testid="family-benefits-link"' in panel

    page = client.get(reverse("benefits:mine"))
    assert page.status_code == 200
    body = page.content.decode()
    month, previous = world["month"], world["previous"]
    assert f"{month.isoformat()} 时 92 岁 → 90–99 岁档 → 100.00 元" in body
    assert "名册审核中，审批后发放" in body  # this month's roll is a draft
    assert f"已发放（{timezone.localdate().isoformat()}）" in body  # last month's, paid by the bank
    assert 'data-testid="mine-paid">100.00<' in body and 'data-testid="mine-pending">100.00<' in body
    assert f"{month:%Y-%m}" in body and f"{previous:%Y-%m}" in body
    assert "陌生人" not in body and "50.00" not in body


def test_the_page_speaks_english(client, world):
    client.force_login(world["family"])
    client.cookies["django_language"] = "en"
    body = client.get(reverse("benefits:mine")).content.decode()
    assert f"Aged 92 on {world['month'].isoformat()} → 90–99 age band → 100.00 yuan" in body


def test_nobody_else_sees_it(client, world):
    client.force_login(make_user("other_family_member", Role.FAMILY))
    body = client.get(reverse("benefits:mine")).content.decode()
    assert 'data-testid="mine-none"' in body and "王秀英" not in body
    for role in ("bureau", "street", "community", "provider", "caregiver", "assessor"):
        client.force_login(world[role])
        assert client.get(reverse("benefits:mine")).status_code == 404, role
        nav = client.get(reverse("core:home")).content.decode().split('class="mainnav"')[1].split("</nav>")[0]
        assert reverse("benefits:mine") not in nav, role


def test_the_elder_sees_their_own(client, world):
    me = make_user("wang", Role.ELDER)
    FamilyLink.objects.create(user=me, elder=world["stranger"])
    client.force_login(me)
    body = client.get(reverse("benefits:mine")).content.decode()
    assert "陌生人" in body and "80–89 岁档 → 50.00 元" in body and "王秀英" not in body


def test_queries_do_not_grow_with_the_months(client, world, django_assert_max_num_queries):
    client.force_login(world["family"])
    with django_assert_max_num_queries(12):
        assert client.get(reverse("benefits:mine")).status_code == 200


def test_a_service_voucher_shows_what_was_credited_and_the_balance_when_the_ledger_tells(client, world,
                                                                                           monkeypatch):
    from yiyang.services.selectors import allowance_totals_by_elder

    bureau = world["bureau"]
    prog = Programme.objects.create(code="service", kind=ProgrammeKind.SERVICE, name="服务补贴",
                                    pays_to_bank=False)
    f.rule(prog, {"min_age": 80, "basis": "residence", "amount_kind": "fixed", "fixed_amount": "100"})
    approve(bureau, f.generate(bureau, prog, world["month"].strftime("%Y-%m")))
    line = RollLine.objects.get(programme=prog, elder=world["mother"])
    assert line.status == LineStatus.CREDITED
    client.force_login(world["family"])
    # Without a ledger registered, the page says what benefits itself knows: the amount credited.
    monkeypatch.setattr(allowance, "BALANCE_READERS", [])
    body = client.get(reverse("benefits:mine")).content.decode()
    assert 'data-testid="mine-credited">100.00<' in body and "已计入服务补贴余额" in body
    assert "服务补贴不发现金" in body
    # The services app registers its ledger in its AppConfig.ready(): then the balance shows.
    monkeypatch.undo()
    assert allowance_totals_by_elder in allowance.BALANCE_READERS
    body = client.get(reverse("benefits:mine")).content.decode()
    assert 'data-testid="mine-allowance">100.00<' in body and "本月计入 100.00 元，已抵扣 0.00 元" in body
