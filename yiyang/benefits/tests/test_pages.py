"""The benefits pages: programmes and rules, the rule editor with simulation and adoption, roll list and
detail (checks, street sign-off, approval, bank file, bank results), progress of a queued roll, totals, the
elder page's section and the home panel; scope (404) and bounded query counts. Real services, no mocks."""

import csv
import datetime
import io
import re
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from yiyang.benefits import rules, services
from yiyang.benefits.models import BenefitSettings, LineStatus, Roll, RollCheck, RollLine, RuleVersion
from yiyang.benefits.tests import factories as f
from yiyang.core.models import Region, User

pytestmark = pytest.mark.django_db

OTHER_COMMUNITY = "511903002001"  # 文治街道 文治居民委员会


def _month():
    return timezone.localdate().replace(day=1)


def _birth(age: int, month: int = 1) -> datetime.date:
    """Born on the 15th of `month`, `age` or `age + 1` years before this month: inside one age band."""
    return datetime.date(_month().year - age - 1, month, 15)


@pytest.fixture
def world(longevity):
    roles, prog = longevity, longevity["prog"]
    c = roles["community"]
    people = {
        "old": f.elder(c, 1, birth=_birth(92), name="赵德明", bank_name="农商银行", bank_account="955880123456789012"),
        "mid": f.elder(c, 2, birth=_birth(84), name="钱秀兰"),  # no bank account: a check
        "far": f.elder(roles["bureau"], 3, birth=_birth(86), name="孙桂芳", residence=OTHER_COMMUNITY,
                       bank_name="农商银行", bank_account="955880123456789099"),
        "young": f.elder(c, 4, birth=_birth(70), name="李建国"),
    }
    return {**roles, "prog": prog, "people": people}


def _generate(world, month=None):
    return f.generate(world["bureau"], world["prog"], month or _month())


def _messages(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]] if resp.context else []


def _follow_messages(client, resp) -> str:
    assert resp.status_code == 302, resp.status_code
    return client.get(resp.url).content.decode()


# ------------------------------------------------------------------------------------------------ pages

def test_pages_render_for_bureau_street_and_community(client, world):
    roll = _generate(world)
    for who in ("bureau", "street", "community"):
        client.force_login(world[who])
        for url in (reverse("benefits:rolls"), reverse("benefits:programmes"), reverse("benefits:totals"),
                    reverse("benefits:roll", args=[roll.pk]), reverse("core:home")):
            resp = client.get(url)
            assert resp.status_code == 200, (who, url)
        body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
        assert "赵德明" in body and "90–99 岁档" in body
        # Streets and communities see their own people only; the bureau sees the whole county.
        assert ("孙桂芳" in body) == (who == "bureau")
        nav = client.get(reverse("core:home")).content.decode()
        assert ">补贴发放</a>" in nav and 'data-testid="benefits-summary"' in nav
    client.force_login(world["bureau"])
    body = client.get(reverse("benefits:programmes")).content.decode()
    assert "90–99 岁档：100.00 元/月" in body and "调整标准并测算" in body
    assert client.get(reverse("benefits:rule_edit", args=["longevity"])).status_code == 200
    client.force_login(world["street"])
    assert "调整标准并测算" not in client.get(reverse("benefits:programmes")).content.decode()
    assert client.get(reverse("benefits:rule_edit", args=["longevity"])).status_code == 404
    client.force_login(world["assessor"])
    assert client.get(reverse("benefits:rolls")).status_code == 404
    # Platform operators see every jurisdiction's rolls and rules (they act for none).
    client.force_login(User.objects.create_superuser("root", password="x"))
    for url in (reverse("benefits:rolls"), reverse("benefits:programmes"), reverse("benefits:roll", args=[roll.pk])):
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("benefits:rule_edit", args=["longevity"])).status_code == 404


def test_out_of_scope_is_404(client, world):
    roll = _generate(world)
    check = RollCheck.objects.filter(roll=roll).first()
    client.force_login(world["other_bureau"])
    assert client.get(reverse("benefits:roll", args=[roll.pk])).status_code == 404
    assert client.get(reverse("benefits:roll_lines", args=[roll.pk])).status_code == 404
    assert client.post(reverse("benefits:approve", args=[roll.pk])).status_code == 404
    assert client.post(reverse("benefits:resolve", args=[roll.pk, check.pk]),
                       {"resolution": "confirmed"}).status_code == 404
    assert "赵德明" not in client.get(reverse("benefits:rolls")).content.decode()
    # A street of the same county sees the roll, but not the other street's people or checks.
    client.force_login(world["other_street"])
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert "孙桂芳" in body and "赵德明" not in body and "钱秀兰" not in body
    assert client.post(reverse("benefits:resolve", args=[roll.pk, check.pk]),
                       {"resolution": "confirmed"}).status_code == 404
    check.refresh_from_db()
    assert check.resolution == ""


def test_list_and_detail_queries_do_not_grow_with_lines(client, world):
    c = world["community"]
    roll = _generate(world)
    client.force_login(world["bureau"])

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    urls = [reverse("benefits:rolls"), reverse("benefits:roll", args=[roll.pk]),
            reverse("benefits:roll_lines", args=[roll.pk]), reverse("benefits:totals")]
    few = {u: count(u) for u in urls}
    for i in range(5, 12):  # more people, more lines and more checks of the same kind
        f.elder(c, i, birth=_birth(81 + i), name=f"周{i}")
    roll = _generate(world)
    assert roll.line_count == 3 + 7
    for url, n in few.items():
        assert count(url) == n, url
    assert few[reverse("benefits:roll", args=[roll.pk])] <= 25


# ------------------------------------------------------------------------------------------ rule editor

def _rule_post(editor_overrides=None, **extra):
    data = {"min_age": "80", "max_age": "", "basis": "residence", "amount_kind": "age_bands",
            "band_min_age": ["80", "90", "100", ""], "band_max_age": ["89", "99", "", ""],
            "band_amount": ["50.00", "150", "500.00", ""],
            "row_level": [""], "row_category": [""], "row_amount": [""], "fixed_amount": ""}
    data.update(editor_overrides or {})
    data.update(extra)
    return data


def test_rule_form_simulates_then_adopts_from_next_month(client, world):
    client.force_login(world["bureau"])
    url = reverse("benefits:rule_edit", args=["longevity"])
    body = client.get(url).content.decode()
    assert 'value="100.00"' in body and 'aria-label="90 岁档金额"' in body
    versions = RuleVersion.objects.count()
    resp = client.post(reverse("benefits:simulate", args=["longevity"]), _rule_post(), HTTP_HX_REQUEST="true")
    html = resp.content.decode()
    assert resp.status_code == 200 and 'id="rule-editor"' in html and "<html" not in html
    # One person aged 9x: +50 a month, +600 a year; nothing written.
    assert 'data-testid="sim-change" class="bf-up">+50.00' in html and "+600.00" in html
    assert "登科街道" in html and "增发 1 人" in html
    assert RuleVersion.objects.count() == versions
    # Validation errors per field, in Chinese, in the form.
    bad = _rule_post({"band_amount": ["50", "abc", "500", ""], "max_age": "70"})
    html = client.post(reverse("benefits:simulate", args=["longevity"]), bad, HTTP_HX_REQUEST="true").content.decode()
    assert "金额须为数字" in html and "最高年龄不能小于最低年龄" in html and 'data-testid="sim-change"' not in html
    # Adoption needs a note.
    resp = client.post(url, _rule_post())
    assert resp.status_code == 422 and "请填写修订说明" in resp.content.decode()
    assert RuleVersion.objects.count() == versions
    resp = client.post(url, _rule_post(note="90–99 岁档提至 150 元", source="恩民发〔2026〕1号"))
    assert resp.status_code == 302
    new = RuleVersion.objects.order_by("-pk").first()
    nxt = rules.add_months(_month(), 1)
    assert (new.version, new.valid_from, new.note) == (2, nxt, "90–99 岁档提至 150 元")
    assert new.params["bands"][1]["amount"] == "150.00"
    page = client.get(resp.url).content.decode()
    assert "90–99 岁档提至 150 元" in page and "恩民发〔2026〕1号" in page and "已启用" in page
    assert "90–99 岁档：150.00 元/月" in page  # shown as the upcoming version
    # A second version from the same (future) month replaces the first one, which is kept as withdrawn.
    resp = client.post(url, _rule_post(note="再调一次"))
    assert resp.status_code == 302
    new.refresh_from_db()
    assert new.status == "withdrawn"
    assert RuleVersion.objects.order_by("-pk").first().version == 3


def test_simulate_without_htmx_renders_the_whole_page(client, world):
    client.force_login(world["bureau"])
    resp = client.post(reverse("benefits:simulate", args=["longevity"]), _rule_post())
    assert resp.status_code == 200 and "<html" in resp.content.decode() and "测算结果" in resp.content.decode()


# ------------------------------------------------------------------------------------------------ rolls

def _generate_through_page(client, world, month=None):
    client.force_login(world["bureau"])
    resp = client.post(reverse("benefits:generate"), {"programme": "longevity",
                                                      "month": (month or _month()).strftime("%Y-%m")})
    assert resp.status_code == 302
    roll = Roll.objects.get(programme=world["prog"], month=month or _month())
    assert resp.url == reverse("benefits:roll", args=[roll.pk])
    return roll


def test_the_whole_workflow_through_the_pages(client, world):
    roll = _generate_through_page(client, world)
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert "已生成高龄津贴" in body and roll.line_count == 3 and roll.open_checks == 1
    assert 'data-testid="check-group-bank_missing"' in body and "钱秀兰" in body
    assert "955880123456789012" not in body and "**** 9012" in body  # accounts masked on pages
    # Approving with an open check: refused with the reason.
    client.post(reverse("benefits:submit", args=[roll.pk]))
    roll.refresh_from_db()
    assert roll.status == "in_review"
    page = _follow_messages(client, client.post(reverse("benefits:approve", args=[roll.pk])))
    assert "还有 1 个疑点未处理，不能审批" in page
    # The community worker who knows 钱秀兰 clears her check; the other street cannot even see it.
    check = RollCheck.objects.get(roll=roll)
    client.force_login(world["other_street"])
    assert client.post(reverse("benefits:resolve", args=[roll.pk, check.pk]),
                       {"resolution": "confirmed"}).status_code == 404
    client.force_login(world["community"])
    page = _follow_messages(client, client.post(reverse("benefits:resolve", args=[roll.pk, check.pk]),
                                                {"resolution": "confirmed", "note": "已电话核实，现金代领"}))
    assert "已核实无误：钱秀兰" in page
    client.force_login(world["street"])
    # The street signs its own street; the bureau signs the other one on its behalf (with a note).
    page = _follow_messages(client, client.post(reverse("benefits:sign", args=[roll.pk]), {"street": "511903002"}))
    assert "只能审核本街道的名单" in page
    page = _follow_messages(client, client.post(reverse("benefits:sign", args=[roll.pk]), {"street": "511903001"}))
    assert "登科街道 已审核通过" in page
    client.force_login(world["bureau"])
    page = _follow_messages(client, client.post(reverse("benefits:approve", args=[roll.pk])))
    assert "以下街道尚未审核：文治街道" in page
    page = _follow_messages(client, client.post(reverse("benefits:sign", args=[roll.pk]), {"street": "511903002"}))
    assert "代街道审核须注明依据" in page
    assert 'data-testid="sign-all"' in page
    page = _follow_messages(client, client.post(reverse("benefits:sign", args=[roll.pk]),
                                                {"street": "*", "note": "纸质审核表已签字"}))
    assert "已代 1 个街道审核通过" in page
    page = _follow_messages(client, client.post(reverse("benefits:approve", args=[roll.pk])))
    roll.refresh_from_db()
    assert roll.status == "approved" and "名册已审批" in page and "下载银行文件（xlsx）" in page
    # Bank file: xlsx opens and adds up to the roll's total; full accounts for the bureau.
    resp = client.post(reverse("benefits:export", args=[roll.pk]), {"format": "xlsx"})
    assert resp.status_code == 200 and "attachment" in resp["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    amount_col = rows[0].index("金额")
    assert sum(Decimal(str(r[amount_col])) for r in rows[1:]) == roll.total_amount == Decimal("200.00")
    assert "955880123456789012" in [r[rows[0].index("银行账号")] for r in rows[1:]]
    resp = client.post(reverse("benefits:export", args=[roll.pk]), {"format": "csv"})
    table = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    # Bank results: two failures.
    head = table[0] + ["结果", "失败原因", "发放日期"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for i, row in enumerate(table[1:]):
        writer.writerow(row + (["失败", "账户已销户", ""] if i < 2 else ["成功", "", timezone.localdate().isoformat()]))
    content = out.getvalue().encode("utf-8")
    upload = io.BytesIO(content)
    upload.name = "results.csv"
    page = _follow_messages(client, client.post(reverse("benefits:import", args=[roll.pk]), {"file": upload}))
    assert "成功 1 笔，失败 2 笔" in page and "下月名册自动重发" in page
    assert RollLine.objects.filter(roll=roll, status=LineStatus.FAILED, failure_reason="账户已销户").count() == 2
    roll.refresh_from_db()
    assert roll.status == "closed"
    body = client.get(reverse("benefits:roll", args=[roll.pk]), {"status": "failed"}).content.decode()
    assert body.count("账户已销户") == 2 and "共 2 条明细" in body
    # The same file again changes nothing.
    upload = io.BytesIO(content)
    upload.name = "results.csv"
    page = _follow_messages(client, client.post(reverse("benefits:import", args=[roll.pk]), {"file": upload}))
    assert "该文件已导入过" in page
    # The street may not download the payment file; its review list holds its own people, masked.
    client.force_login(world["street"])
    page = _follow_messages(client, client.post(reverse("benefits:export", args=[roll.pk]), {"format": "csv"}))
    assert "只有本辖区民政部门可以导出银行代发文件" in page
    resp = client.post(reverse("benefits:export_lines", args=[roll.pk]))
    assert resp.status_code == 200 and "attachment" in resp["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert {r[1] for r in rows[1:]} == {"赵德明", "钱秀兰"}
    assert "955880123456789012" not in str(rows) and "**** 9012" in str(rows)


def test_bad_results_file_lists_every_row_error(client, world):
    roll = _generate(world)
    for check in RollCheck.objects.filter(roll=roll):
        services.resolve_check(actor=world["bureau"], check=check, resolution="confirmed")
    BenefitSettings.objects.create(jurisdiction_id=f.COUNTY, street_review=False)
    bureau = world["bureau"]
    roll = services.approve_roll(actor=bureau, roll=roll)
    services.export_bank_file(actor=bureau, roll=roll, fmt="csv")
    client.force_login(bureau)
    upload = io.BytesIO("流水号,金额,结果\n999999,50,成功\nabc,50,失败\n".encode())
    upload.name = "bad.csv"
    resp = client.post(reverse("benefits:import", args=[roll.pk]), {"file": upload})
    body = resp.content.decode()
    assert resp.status_code == 422 and 'data-testid="import-errors"' in body
    assert "第 3 行" in body and "流水号无效" in body and "失败须注明原因" in body
    assert not RollLine.objects.filter(roll=roll).exclude(status=LineStatus.PENDING).exists()


def test_withholding_needs_a_reason_and_bulk_confirm(client, world):
    c = world["community"]
    for i in range(5, 8):
        f.elder(c, i, birth=_birth(88), name=f"吴{i}")
    roll = _generate(world)
    checks = list(RollCheck.objects.filter(roll=roll).order_by("pk"))
    assert len(checks) == 4
    client.force_login(world["bureau"])
    url = reverse("benefits:resolve", args=[roll.pk, checks[0].pk])
    assert "暂缓发放须写明原因" in _follow_messages(client, client.post(url, {"resolution": "withheld"}))
    page = _follow_messages(client, client.post(url, {"resolution": "withheld", "note": "本人已住院，待家属领取"}))
    assert "已暂缓发放" in page
    line = RollLine.objects.get(pk=checks[0].line_id)
    assert line.status == LineStatus.WITHHELD and line.withheld_reason == "本人已住院，待家属领取"
    page = _follow_messages(client, client.post(reverse("benefits:confirm_kind", args=[roll.pk]),
                                                {"kind": "bank_missing"}))
    assert "已将 3 个“缺少银行账户”疑点核实无误" in page and 'data-testid="no-checks"' in page
    roll.refresh_from_db()
    assert roll.open_checks == 0


def test_generate_errors_are_messages(client, world):
    client.force_login(world["bureau"])
    far = rules.add_months(_month(), 3).strftime("%Y-%m")
    page = _follow_messages(client, client.post(reverse("benefits:generate"), {"programme": "longevity",
                                                                                "month": far}))
    assert "只能生成本月或下月的名册" in page
    page = _follow_messages(client, client.post(reverse("benefits:generate"), {"programme": "longevity",
                                                                                "month": "11/2026"}))
    assert "月份格式应为 YYYY-MM" in page
    roll = _generate(world)
    services.submit_for_review(actor=world["bureau"], roll=roll)
    for check in RollCheck.objects.filter(roll=roll):
        services.resolve_check(actor=world["bureau"], check=check, resolution="confirmed")
    for street in ("511903001", "511903002"):
        services.sign_off_street(actor=world["bureau"], roll=roll, street=Region.objects.get(code=street), note="x")
    services.approve_roll(actor=world["bureau"], roll=roll)
    page = _follow_messages(client, client.post(reverse("benefits:generate"), {
        "programme": "longevity", "month": _month().strftime("%Y-%m")}))
    assert "该名册已审批，不能重新生成" in page


def test_a_queued_roll_shows_its_progress(client, world):
    BenefitSettings.objects.create(jurisdiction_id=f.COUNTY, background_threshold=0)
    roll = _generate_through_page(client, world)
    assert roll.status == "generating"
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert "已转入后台生成" in body and 'hx-trigger="every 2s"' in body and 'data-testid="progress"' in body
    progress = reverse("benefits:roll_progress", args=[roll.pk])
    part = client.get(progress, HTTP_HX_REQUEST="true")
    assert part.status_code == 200 and "0%" in part.content.decode() and "HX-Refresh" not in part
    Roll.objects.filter(pk=roll.pk).update(error="磁盘已满")
    part = client.get(progress, HTTP_HX_REQUEST="true").content.decode()
    assert "磁盘已满" in part and "every 2s" not in part
    assert 'data-testid="regenerate"' in client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    services.generate_roll(actor=world["bureau"], roll=roll)
    part = client.get(progress, HTTP_HX_REQUEST="true")
    assert part["HX-Refresh"] == "true"
    assert "赵德明" in client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()


def test_lines_filters_and_pages(client, world):
    c = world["community"]
    for i in range(5, 60):
        f.elder(c, i, birth=_birth(85), name=f"郑{i}")
    roll = _generate(world)
    client.force_login(world["bureau"])
    url = reverse("benefits:roll_lines", args=[roll.pk])
    part = client.get(url).content.decode()
    assert "共 58 条明细" in part and part.count('<tr data-testid="line-') == 50
    assert "赵德明" in client.get(url, {"q": "赵德"}).content.decode()
    assert "共 1 条明细" in client.get(url, {"region": "511903002"}).content.decode()
    assert "共 56 条明细" in client.get(url, {"with_checks": "on"}).content.decode()
    page2 = client.get(reverse("benefits:roll", args=[roll.pk]), {"page": 2}).content.decode()
    assert "第 2 / 2 页" in page2


def test_totals_elder_section_and_home_panel(client, world):
    _generate(world)
    client.force_login(world["bureau"])
    body = client.get(reverse("benefits:totals")).content.decode()
    assert "登科街道" in body and "文治街道" in body and 'data-testid="grand-total">200.00' in body
    body = client.get(reverse("benefits:totals"), {"level": "12"}).content.decode()
    assert "文治居民委员会" in body
    page = client.get(reverse("registry:elder_detail", args=[world["people"]["old"].pk])).content.decode()
    assert 'data-testid="elder-benefits"' in page and "90–99 岁档 → 100.00 元" in page
    young = client.get(reverse("registry:elder_detail", args=[world["people"]["young"].pk])).content.decode()
    assert "暂无补贴发放记录" in young
    home = client.get(reverse("core:home")).content.decode()
    assert 'data-testid="benefits-summary"' in home and "高龄津贴" in home


def test_bureau_changes_the_settings_and_bad_values_are_refused(client, world):
    from yiyang.benefits.models import BenefitSettings
    from yiyang.core.models import AuditEvent

    client.force_login(world["bureau"])
    page = client.get(reverse("benefits:programmes")).content.decode()
    assert "补发、追回追溯 12 个月" in page and 'data-testid="edit-settings"' in page
    url = reverse("benefits:settings")
    resp = client.post(url, {"pay_month_of_death": "on", "lookback_months": "99", "absence_days": "90",
                             "background_threshold": "20000"})
    assert resp.status_code == 422 and "应在 0 至 36 之间" in resp.content.decode()
    assert not BenefitSettings.objects.exists()
    resp = client.post(url, {"lookback_months": "6", "absence_days": "60", "background_threshold": "5000"})
    assert resp.status_code == 302
    saved = BenefitSettings.objects.get(jurisdiction_id="511903")
    assert (saved.pay_month_of_death, saved.lookback_months, saved.street_review) == (False, 6, False)
    assert AuditEvent.objects.filter(object_type="benefits.benefitsettings").exists()
    assert "1 日死亡的当月不发" in client.get(reverse("benefits:programmes")).content.decode()
    client.force_login(world["street"])
    assert client.get(url).status_code == 404  # role_required answers 404 to other roles


def _segment(body: str, testid: str, end: str) -> str:
    return body.split(f'data-testid="{testid}"')[1].split(end)[0]


def test_each_user_sees_the_totals_of_their_own_scope(client, world):
    """登科街道 has 赵德明 (100) and 钱秀兰 (50), both of 登科寺社区; 文治街道 has 孙桂芳 (50): the county 200."""
    roll = _generate(world)
    expected = {"bureau": ("3", "200.00", "1"), "street": ("2", "150.00", "1"), "community": ("2", "150.00", "1"),
                "other_street": ("1", "50.00", "0")}
    for who, (n, total, checks) in expected.items():
        client.force_login(world[who])
        panel = _segment(client.get(reverse("core:home")).content.decode(), "benefits-summary", "</section>")
        home = _segment(panel, f"home-roll-{roll.pk}", "</li>")
        assert f"{n} 人次 · {total} 元" in home, (who, home)
        rows = _segment(client.get(reverse("benefits:rolls")).content.decode(), f"roll-row-{roll.pk}", "</tr>")
        assert f'<td class="num">{n}</td>' in rows and f'<td class="num">{total}</td>' in rows, (who, rows)
        page = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
        assert f'data-testid="line-count">{n}<' in page and f'data-testid="total-amount">{total}<' in page, who
        assert re.search(f'data-testid="open-checks"( class="overdue")?>{checks}<', page), who
        # Workers below the bureau are told whose figures they see, and the roll's own total apart.
        assert ("本辖区" in panel) == (who != "bureau") and ('data-testid="roll-whole"' in page) == (who != "bureau")
