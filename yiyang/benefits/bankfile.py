"""The bank's payment file (代发文件) and its results file (回盘文件). Layout: docs/benefits-bank-files.md.

Payment file, one row per line to pay (regular, back pay, re-issue; recoveries are not sent to the bank and
are listed on their own sheet of the xlsx), columns in this order:

    流水号 | 姓名 | 身份证号 | 开户银行 | 银行账号 | 账户名 | 金额 | 所属月份 | 类型 | 社区代码

CSV is UTF-8 with a byte-order mark (so that Excel opens it as Unicode), comma-separated, amounts with two
decimals, no total row. The xlsx adds a sheet 汇总 (count and total) and a sheet 追回 (recovery lines).

Results file: the payment file with three more columns (结果, 失败原因, 发放日期), xlsx or CSV; only 流水号,
金额 and 结果 are required. 结果 is 成功 / 失败 (also success / failed, 1 / 0).
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

from yiyang.core import pii

from . import selectors
from .models import LineStatus, Roll

MAX_RESULT_BYTES = 20 * 1024 * 1024

PAID_WORDS = {"成功", "已发放", "success", "succeeded", "paid", "ok", "1"}
FAILED_WORDS = {"失败", "发放失败", "fail", "failed", "0"}


def headers() -> list[str]:
    return [_("流水号"), _("姓名"), _("身份证号"), _("开户银行"), _("银行账号"), _("账户名"), _("金额"),
            _("所属月份"), _("类型"), _("社区代码")]


def _rows(roll: Roll, *, actor, full_accounts: bool):
    lines = selectors.payable_lines(actor, roll)
    if not full_accounts:
        lines = lines.defer("elder__id_number")  # the masked account needs its last digits, not the ID
    for line in lines.iterator(chunk_size=2000):
        e = line.elder
        account = e.bank_account or ""
        shown = account if full_accounts else pii.mask_account(account)
        # Banks match 代发 payments on name, ID and account: the bureau's file has the full ID (the export is
        # in the audit log); anyone else's file only the masked one.
        yield [line.pk, e.name, e.id_number if full_accounts else e.id_number_masked, e.bank_name, shown,
               e.bank_account_holder or e.name,
               line.amount, line.for_month.strftime("%Y-%m"),
               str(line.get_kind_display()), line.region_code]


def file_name(roll: Roll, fmt: str) -> str:
    return f"{roll.programme.code}-{roll.jurisdiction_id}-{roll.month:%Y%m}.{fmt}"


def write(roll: Roll, *, actor, fmt: str) -> tuple[str, bytes, str]:
    """The payment file of the lines `actor` may see (selectors: a bureau sees its roll's every line), with full
    account numbers only for the bureau of the roll's jurisdiction. Who may download it is policy.py's."""
    from . import policy

    name = file_name(roll, fmt)
    full_accounts = policy.is_bureau_of(actor, roll.jurisdiction_id)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers())
        for row in _rows(roll, actor=actor, full_accounts=full_accounts):
            writer.writerow([f"{v:.2f}" if isinstance(v, Decimal) else v for v in row])
        return name, ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("代发明细"))
    ws.append(headers())
    count, total = 0, Decimal("0.00")
    for row in _rows(roll, actor=actor, full_accounts=full_accounts):
        # Account numbers stay text: Excel would turn 19 digits into 6.2E+18 and lose the last ones.
        # Amounts are numbers shown with two decimals.
        amount = row[6]
        row[6] = _yuan_cell(ws, amount)
        ws.append(row)
        count += 1
        total += amount
    summary = wb.create_sheet(_("汇总"))
    summary.append([_("项目"), roll.programme.name])
    summary.append([_("辖区"), roll.jurisdiction.name])
    summary.append([_("发放月份"), roll.month.strftime("%Y-%m")])
    summary.append([_("笔数"), count])
    summary.append([_("金额合计（元）"), _yuan_cell(summary, total)])
    summary.append([_("账号"), _("完整") if full_accounts else _("脱敏（无权查看完整账号）")])
    recovery = wb.create_sheet(_("追回"))
    recovery.append([_("流水号"), _("姓名"), _("身份证号"), _("所属月份"), _("追回金额"), _("社区代码")])
    for line in selectors.recovery_lines(actor, roll):
        recovery.append([line.pk, line.elder.name, line.elder.id_number_masked, line.for_month.strftime("%Y-%m"),
                         _yuan_cell(recovery, -line.amount), line.region_code])
    buffer = io.BytesIO()
    wb.save(buffer)
    return name, buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _yuan_cell(ws, amount: Decimal) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=amount)
    cell.number_format = "0.00"
    return cell


@dataclass(frozen=True)
class Result:
    row: int
    line_id: int
    amount: Decimal
    status: str  # LineStatus.PAID or LineStatus.FAILED
    reason: str
    paid_on: datetime.date | None


def _table(file_name: str, content: bytes) -> list[list]:
    if len(content) > MAX_RESULT_BYTES:
        raise ValidationError({"file": [_("文件过大（上限 20 MB）。")]})
    if content[:2] == b"PK":
        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook gets the same answer
            raise ValidationError({"file": [_("无法读取该 Excel 文件。")]}) from None
        ws = wb.worksheets[0]
        return [list(row) for row in ws.iter_rows(values_only=True)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError({"file": [_("无法识别文件编码，请使用 UTF-8 或 GBK 编码的 CSV。")]})
    if "\x00" in text:
        raise ValidationError({"file": [_("文件不是 CSV 或 Excel 文件。")]})
    return [row for row in csv.reader(io.StringIO(text))]


def _date(value) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    if len(text) == 8 and pii.is_ascii_digits(text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return datetime.date.fromisoformat(text)


def read_results(file_name: str, content: bytes) -> list[Result]:
    """Parse a results file; raises ValidationError naming every bad row (nothing is applied then)."""
    table = [r for r in _table(file_name, content) if any(v not in (None, "") for v in r)]
    if not table:
        raise ValidationError({"file": [_("文件是空的。")]})
    head = [str(v or "").strip() for v in table[0]]

    def find(zh: str) -> int | None:
        # The Chinese header always works; the translated one too (a file exported in English).
        for label in (zh, _(zh)):
            if label in head:
                return head.index(label)
        return None

    cols = {}
    for key, zh in (("id", "流水号"), ("amount", "金额"), ("result", "结果")):
        cols[key] = find(zh)
        if cols[key] is None:
            raise ValidationError({"file": [
                _("缺少“%(col)s”列。表头应与导出的代发文件一致，并增加“结果”“失败原因”“发放日期”列。")
                % {"col": zh}]})
    reason_col, date_col = find("失败原因"), find("发放日期")
    errors: dict[str, list] = {}
    out: list[Result] = []
    seen: set[int] = set()
    for n, row in enumerate(table[1:], start=2):
        row = list(row) + [None] * (len(head) - len(row))
        problems = []
        try:
            line_id = int(str(row[cols["id"]]).strip())
        except (TypeError, ValueError):
            line_id = 0
            problems.append(_("流水号无效"))
        if line_id and line_id in seen:
            problems.append(_("流水号重复"))
        seen.add(line_id)
        try:
            amount = Decimal(str(row[cols["amount"]]).strip()).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            amount = Decimal("0")
            problems.append(_("金额无效"))
        word = str(row[cols["result"]] or "").strip().lower()
        if word in PAID_WORDS:
            status = LineStatus.PAID
        elif word in FAILED_WORDS:
            status = LineStatus.FAILED
        else:
            status = ""
            problems.append(_("结果应为“成功”或“失败”"))
        reason = str(row[reason_col] or "").strip() if reason_col is not None else ""
        if status == LineStatus.FAILED and not reason:
            problems.append(_("失败须注明原因"))
        try:
            paid_on = _date(row[date_col]) if date_col is not None else None
        except ValueError:
            paid_on = None
            problems.append(_("发放日期无效"))
        if problems:
            errors[f"row {n}"] = [_("第 %(row)d 行：%(problems)s") % {
                "row": n, "problems": "；".join(map(str, problems))}]
            continue
        out.append(Result(row=n, line_id=line_id, amount=amount, status=status, reason=reason,
                          paid_on=paid_on or (timezone.localdate() if status == LineStatus.PAID else None)))
    if errors:
        raise ValidationError(errors)
    if not out:
        raise ValidationError({"file": [_("文件中没有结果行。")]})
    return out
