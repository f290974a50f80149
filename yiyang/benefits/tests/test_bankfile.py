"""The bank files (layout: docs/benefits-bank-files.md): the payment file opens in Excel with the right totals and
text account numbers, the CSV is UTF-8 with a BOM, and results files in xlsx, UTF-8 CSV and GBK CSV are applied,
while a bad results file is refused with every bad row named and nothing changed."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from yiyang.benefits import bankfile, services
from yiyang.benefits.models import BankResultImport, LineStatus, RollCheck, RollLine
from yiyang.benefits.tests import factories as f
from yiyang.core.errors import DomainError
from yiyang.core.tests.factories import demo_roles

pytestmark = pytest.mark.django_db
LEADING_ZERO = "0123456789012345"  # a valid 16-digit account Excel would turn into 1.23456789012345E+14


def luhn_account(seq: int) -> str:
    base = f"62170000{seq:010d}"
    total = 0
    for i, ch in enumerate(reversed(base)):
        n = int(ch)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return base + str((10 - total % 10) % 10)


def born(age: int) -> datetime.date:
    m = timezone.localdate().replace(day=1)
    return datetime.date(m.year - age - (1 if m.month <= 3 else 0), 3, 15)


@pytest.fixture
def setup():
    """An approved 高龄津贴 roll of this month: four payable lines (100 + 50 + 50 + 500) and one withheld (no
    bank account, 100), exported once as the bureau."""
    roles = demo_roles()
    bureau, c = roles["bureau"], roles["community"]
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    accounts = {1: luhn_account(1), 2: luhn_account(2), 3: LEADING_ZERO, 5: luhn_account(5)}
    f.elder(c, 1, birth=born(91), bank_name="农业银行", bank_account=accounts[1])
    f.elder(c, 2, birth=born(85), bank_name="农业银行", bank_account=accounts[2])
    f.elder(bureau, 3, birth=born(82), residence="511903002001", bank_name="巴中农商银行",
            bank_account=accounts[3], bank_account_holder="王小明")
    f.elder(c, 4, birth=born(95))  # no account → withheld
    f.elder(c, 5, birth=born(101), bank_name="农业银行", bank_account=accounts[5])
    roll = f.generate(bureau, prog, timezone.localdate().strftime("%Y-%m"))
    for check in RollCheck.objects.filter(roll=roll, resolution=""):
        services.resolve_check(actor=bureau, check=check, resolution="withheld", note="待补登账号")
    services.submit_for_review(actor=bureau, roll=roll)
    for review in roll.street_reviews.select_related("street"):
        services.sign_off_street(actor=bureau, roll=roll, street=review.street, note="纸质审核表已签字")
    roll = services.approve_roll(actor=bureau, roll=roll)
    _n, csv_bytes, _m = services.export_bank_file(actor=bureau, roll=roll, fmt="csv")
    _n, xlsx_bytes, _m = services.export_bank_file(actor=bureau, roll=roll, fmt="xlsx")
    roll.refresh_from_db()
    return {"roles": roles, "roll": roll, "csv": csv_bytes, "xlsx": xlsx_bytes, "accounts": accounts}


def payable(roll):
    return RollLine.objects.filter(roll=roll, status=LineStatus.PENDING, amount__gt=0)


# ------------------------------------------------------------------------------------------- payment file


def test_xlsx_opens_and_adds_up(setup):
    roll = setup["roll"]
    wb = load_workbook(io.BytesIO(setup["xlsx"]))
    assert wb.sheetnames == ["代发明细", "汇总", "追回"]
    rows = list(wb["代发明细"].iter_rows(values_only=True))
    assert list(rows[0]) == bankfile.headers()
    assert {wb["代发明细"].cell(row=n, column=7).number_format for n in range(2, len(rows) + 1)} == {"0.00"}
    assert list(rows[0]) == ["流水号", "姓名", "身份证号", "开户银行", "银行账号", "账户名", "金额", "所属月份", "类型",
                             "社区代码"]
    data = rows[1:]
    total = sum((Decimal(str(r[6])) for r in data), Decimal("0"))
    want = sum(payable(roll).values_list("amount", flat=True), Decimal("0"))
    assert len(data) == payable(roll).count() == 4
    assert total == want == Decimal("700.00")
    # The roll's total includes the withheld line; the bank file only what is to be paid.
    assert roll.total_amount == Decimal("800.00")
    assert {r[0] for r in data} == set(payable(roll).values_list("id", flat=True))
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}
    assert summary["笔数"] == 4 and Decimal(str(summary["金额合计（元）"])) == total
    assert summary["发放月份"] == roll.month.strftime("%Y-%m") and summary["账号"] == "完整"
    # The bureau's file carries full ID numbers (banks match on name, ID and account); the export is audited.
    assert all(len(r[2]) == 18 and "*" not in r[2] for r in data)


def test_xlsx_accounts_are_text_full_for_the_bureau(setup):
    ws = load_workbook(io.BytesIO(setup["xlsx"]))["代发明细"]
    cells = [row[4] for row in ws.iter_rows(min_row=2)]
    assert all(c.data_type == "s" and c.value.isdigit() for c in cells)
    assert {c.value for c in cells} == set(setup["accounts"].values())
    assert LEADING_ZERO in {c.value for c in cells}
    holder = {row[4].value: row[5].value for row in ws.iter_rows(min_row=2)}
    assert holder[LEADING_ZERO] == "王小明" and holder[setup["accounts"][1]] == "老人1"


def test_only_the_bureau_downloads_it_and_anyone_else_would_get_masked_numbers_of_their_own_lines(setup):
    street = setup["roles"]["street"]
    with pytest.raises(DomainError) as refused:
        services.export_bank_file(actor=street, roll=setup["roll"], fmt="xlsx")
    assert refused.value.status == 403
    # The writer itself reads through the street's scope (登科街道: 老人1, 2 and 5) and masks what it writes.
    _n, content, _m = bankfile.write(setup["roll"], actor=street, fmt="xlsx")
    wb = load_workbook(io.BytesIO(content))
    rows = list(wb["代发明细"].iter_rows(min_row=2))
    assert {r[1].value for r in rows} == {"老人1", "老人2", "老人5"}
    cells = [row[4] for row in rows]
    assert {c.value for c in cells} == {"**** " + setup["accounts"][n][-4:] for n in (1, 2, 5)}
    assert all(c.data_type == "s" for c in cells) and all("*" in r[2].value for r in rows)
    assert {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}["账号"].startswith("脱敏")
    _n, content, _m = bankfile.write(setup["roll"], actor=street, fmt="csv")
    text = content.decode("utf-8-sig")
    assert not any(a in text for a in setup["accounts"].values())


def test_csv_has_a_bom_and_parses(setup):
    content = setup["csv"]
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == bankfile.headers()
    data = rows[1:]
    assert len(data) == 4
    assert all(len(r[6].split(".")[1]) == 2 for r in data)
    assert sum(Decimal(r[6]) for r in data) == Decimal("700.00")
    assert {r[4] for r in data} == set(setup["accounts"].values())
    assert {r[8] for r in data} == {"正常发放"}


# ------------------------------------------------------------------------------------------- results file


def result_rows(setup, failures: dict[str, str]) -> list[list]:
    """The exported CSV rows with 结果/失败原因/发放日期: paid except the named elders (name → reason)."""
    rows = list(csv.reader(io.StringIO(setup["csv"].decode("utf-8-sig"))))
    out = [rows[0] + ["结果", "失败原因", "发放日期"]]
    for row in rows[1:]:
        if row[1] in failures:
            out.append(row + ["失败", failures[row[1]], ""])
        else:
            out.append(row + ["成功", "", "2026/11/20"])
    return out


def as_csv(rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def as_xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def statuses(roll):
    return dict(RollLine.objects.filter(roll=roll).values_list("id", "status"))


def test_xlsx_results_are_applied(setup):
    roll, bureau = setup["roll"], setup["roles"]["bureau"]
    # The bank fills in the payment file itself: numbers stay numbers, the date is a date cell.
    wb = load_workbook(io.BytesIO(setup["xlsx"]))
    ws = wb["代发明细"]
    ws.cell(row=1, column=11, value="结果")
    ws.cell(row=1, column=12, value="失败原因")
    ws.cell(row=1, column=13, value="发放日期")
    for r in range(2, ws.max_row + 1):
        failed = ws.cell(row=r, column=2).value == "老人2"
        ws.cell(row=r, column=11, value="失败" if failed else "成功")
        ws.cell(row=r, column=12, value="账户冻结" if failed else None)
        ws.cell(row=r, column=13, value=None if failed else datetime.datetime(2026, 11, 20))
    buffer = io.BytesIO()
    wb.save(buffer)
    record = services.import_bank_results(actor=bureau, roll=roll, file_name="回盘.xlsx", content=buffer.getvalue())
    assert (record.paid, record.failed, record.unchanged) == (3, 1, 0)
    failed = RollLine.objects.get(roll=roll, status=LineStatus.FAILED)
    assert failed.elder.name == "老人2" and failed.failure_reason == "账户冻结"
    assert set(RollLine.objects.filter(roll=roll, status=LineStatus.PAID).values_list("paid_on", flat=True)) == {
        datetime.date(2026, 11, 20)}
    roll.refresh_from_db()
    assert roll.status == "closed" and roll.results_imported_at is not None


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_results_in_utf8_and_gbk(setup, encoding):
    roll = setup["roll"]
    content = as_csv(result_rows(setup, {"老人1": "账户已销户", "老人3": "户名不符"}), encoding)
    record = services.import_bank_results(actor=setup["roles"]["bureau"], roll=roll, file_name="回盘.csv",
                                          content=content)
    assert (record.paid, record.failed) == (2, 2)
    reasons = dict(RollLine.objects.filter(roll=roll, status=LineStatus.FAILED)
                   .values_list("elder__name", "failure_reason"))
    assert reasons == {"老人1": "账户已销户", "老人3": "户名不符"}
    # The same file again: nothing changes, no second record.
    before = statuses(roll)
    again = services.import_bank_results(actor=setup["roles"]["bureau"], roll=roll, file_name="回盘.csv",
                                         content=content)
    assert again.pk == record.pk and statuses(roll) == before
    assert BankResultImport.objects.count() == 1


def test_results_accept_the_other_words(setup):
    rows = result_rows(setup, {"老人1": "户名不符"})
    for row in rows[1:]:
        row[-3] = {"成功": "1", "失败": "0"}[row[-3]]
    record = services.import_bank_results(actor=setup["roles"]["bureau"], roll=setup["roll"], file_name="r.csv",
                                          content=as_csv(rows))
    assert (record.paid, record.failed) == (3, 1)


def _missing_result_column(setup):
    return as_csv([r[:-3] + r[-2:] for r in result_rows(setup, {})])


def _unknown_id(setup):
    rows = result_rows(setup, {})
    rows[2][0] = "99999999"
    return as_csv(rows)


def _wrong_amount(setup):
    rows = result_rows(setup, {})
    rows[3][6] = str(Decimal(rows[3][6]) + 1)
    return as_csv(rows)


def _failure_without_reason(setup):
    return as_csv(result_rows(setup, {"老人2": ""}))


def _duplicate_id(setup):
    rows = result_rows(setup, {})
    return as_csv(rows + [rows[1]])


def _two_more_bad_rows(setup) -> tuple[bytes, dict[str, str]]:
    """老人2 failed without a reason, another row has no valid id, a third an unknown result word."""
    rows = result_rows(setup, {"老人2": ""})
    failing = next(i for i, r in enumerate(rows) if r[1] == "老人2")
    bad_id, bad_word = [i for i in range(1, len(rows)) if i != failing][:2]
    rows[bad_id][0] = "abc"
    rows[bad_word][-3] = "也许"
    # Row numbers count the header as row 1.
    return as_xlsx(rows), {f"row {failing + 1}": "失败须注明原因", f"row {bad_id + 1}": "流水号无效",
                           f"row {bad_word + 1}": "结果应为"}


BAD_FILES = [
    ("missing 结果 column", _missing_result_column, "file", ["缺少“结果”列"]),
    ("unknown line id", _unknown_id, "row 3", ["第 3 行", "不在本名册中"]),
    ("wrong amount", _wrong_amount, "row 4", ["第 4 行", "不符"]),
    ("failure without a reason", _failure_without_reason, None, ["失败须注明原因"]),
    ("duplicate line id", _duplicate_id, "row 6", ["第 6 行", "流水号重复"]),
    ("binary junk", lambda s: bytes(range(256)) * 8, "file", []),
    ("a zip that is no workbook", lambda s: b"PK\x03\x04" + bytes(range(256)) * 4, "file", ["Excel"]),
    ("empty", lambda s: b"", "file", ["空"]),
]


@pytest.mark.parametrize("build, key, words", [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_bad_results_files_change_nothing(setup, build, key, words):
    roll = setup["roll"]
    before = statuses(roll)
    with pytest.raises(ValidationError) as info:
        services.import_bank_results(actor=setup["roles"]["bureau"], roll=roll, file_name="bad", content=build(setup))
    errors = info.value.message_dict
    if key is not None:
        assert key in errors, errors
    text = " ".join(m for ms in errors.values() for m in ms)
    for word in words:
        assert word in text, errors
    if key and key.startswith("row"):
        assert list(errors) == [key]
    assert statuses(roll) == before
    assert BankResultImport.objects.count() == 0
    roll.refresh_from_db()
    assert roll.status == "exported" and roll.results_imported_at is None


def test_every_bad_row_is_named(setup):
    content, expected = _two_more_bad_rows(setup)
    with pytest.raises(ValidationError) as info:
        services.import_bank_results(actor=setup["roles"]["bureau"], roll=setup["roll"], file_name="bad.xlsx",
                                     content=content)
    errors = info.value.message_dict
    assert set(errors) == set(expected), errors
    for key, word in expected.items():
        assert word in errors[key][0] and key.replace("row ", "第 ") + " 行" in errors[key][0]
    assert BankResultImport.objects.count() == 0
    assert set(RollLine.objects.filter(roll=setup["roll"]).values_list("status", flat=True)) == {"pending",
                                                                                                "withheld"}


def test_two_invalid_ids_are_not_reported_as_duplicates(setup):
    rows = result_rows(setup, {})
    rows[1][0], rows[2][0] = "abc", ""
    with pytest.raises(ValidationError) as info:
        services.import_bank_results(actor=setup["roles"]["bureau"], roll=setup["roll"], file_name="bad.csv",
                                     content=as_csv(rows))
    errors = info.value.message_dict
    assert set(errors) == {"row 2", "row 3"}
    assert all("流水号无效" in m[0] and "重复" not in m[0] for m in errors.values()), errors
