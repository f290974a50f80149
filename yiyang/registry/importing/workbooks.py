"""The workbooks an import hands out: the error report and the template."""


from __future__ import annotations

import datetime
import io
import logging

from django.conf import settings
from django.utils.translation import gettext as _

from yiyang.core.models import Region
from yiyang.core.selectors import region_paths

from ..import_xlsx import CellError, column_letter
from ..models import (
    ImportKind,
)
from .analysis import Analysis
from .cells import REPORT_EXTRA, MiB, max_file_bytes, max_rows, zh_label
from .kinds import Kind
from .simple import context_for

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- workbooks

def error_report(analysis: Analysis) -> bytes:
    """The bad rows as uploaded, in template column order, each bad cell highlighted, plus 原行号 and 错误.
    The sheet keeps the template's name and headers, so the corrected report can be imported again."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
    from openpyxl.styles import Alignment, Font, PatternFill

    from ..exporting import cell_value

    kind = analysis.kind
    columns = [c for c in kind.columns if c.key in analysis.mapping]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(kind.sheet_name)
    for i, c in enumerate(columns):
        ws.column_dimensions[column_letter(i)].width = c.width
    ws.column_dimensions[column_letter(len(columns))].width = 8
    ws.column_dimensions[column_letter(len(columns) + 1)].width = 60
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="EEF2F7")
    bad_fill = PatternFill("solid", fgColor="FFC7CE")
    bad_font = Font(color="9C0006")
    wrap = Alignment(wrap_text=True, vertical="top")
    header = []
    for title in [("*" if c.required else "") + c.header for c in columns] + list(REPORT_EXTRA):
        cell = WriteOnlyCell(ws, value=title)
        cell.font, cell.fill = bold, head_fill
        header.append(cell)
    ws.append(header)
    for row in analysis.rows:
        if not row.errors:
            continue
        cells = []
        for c in columns:
            value = row.raw[kind.index[c.key]]
            if isinstance(value, CellError):
                value = value.code
            cell = cell_value(ws, value)
            if not isinstance(cell, Cell):
                cell = WriteOnlyCell(ws, value=cell)
            if isinstance(value, datetime.datetime | datetime.date):
                cell.number_format = "yyyy-mm-dd"
            elif c.text and isinstance(value, str):
                cell.number_format = "@"
            if c.key in row.errors:
                cell.fill, cell.font = bad_fill, bad_font
            cells.append(cell)
        cells.append(WriteOnlyCell(ws, value=row.number))
        text = "\n".join(
            f"{analysis.letter(key) + _('列') + ' ' if key in analysis.mapping else ''}"
            f"{kind.by_key[key].header if key in kind.by_key else ''}：{m}"
            for key, messages in row.errors.items() for m in messages)
        message = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", text))
        message.alignment, message.font = wrap, bad_font
        cells.append(message)
        ws.append(cells)
    info = wb.create_sheet(_("说明"))
    info.append([_("错误报告：以下各行没有导入。修改标红的单元格后，可以直接把本文件再次导入（“原行号”和“错误”两列会被忽略）。")])
    info.append([_("原工作表"), analysis.sheet_name])
    info.append([_("数据行"), analysis.counts.get("rows", 0)])
    info.append([_("有错误的行"), analysis.counts.get("error", 0)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def template_workbook(kind: Kind, user) -> bytes:
    """The import template: headers (required ones marked *), an example row that the import skips, text
    format for IDs, phones and accounts, dropdowns for choices and for the regions of the person's scope, and an
    instructions sheet."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    ctx = context_for(user, kind)
    wb = Workbook()
    ws = wb.active
    ws.title = kind.sheet_name
    options = wb.create_sheet("选项")
    guide = wb.create_sheet(_("填写说明"))
    wb.move_sheet(guide, offset=-1)
    required_font = Font(bold=True, color="B3261E")
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEF2F7")
    example_font = Font(italic=True, color="7B8794")
    example = kind.example_row(ctx)
    option_column = 0
    for i, c in enumerate(kind.columns):
        letter = column_letter(i)
        head = ws.cell(row=1, column=i + 1, value=("*" if c.key in kind.required(ctx) else "") + c.header)
        head.font = required_font if c.key in kind.required(ctx) else bold
        head.fill = fill
        if c.help:
            head.comment = Comment(str(c.help), "颐养")
        ws.column_dimensions[letter].width = c.width
        cell = ws.cell(row=2, column=i + 1, value=example[i] if example[i] != "" else None)
        cell.font = example_font
        if c.text:
            ws.column_dimensions[letter].number_format = "@"
            cell.number_format = "@"
        if c.date:
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        values = None
        if c.choices is not None:
            values = [zh_label(c.choices, v) for v in c.choices.values if v]
        elif c.key in ("residence_region", "region") and (ctx.actor.scope_code or ctx.actor.is_superuser):
            values = _region_options(user, kind)
        elif c.key == "is_inclusive":
            values = ["是", "否"]
        if values:
            option_column += 1
            ol = column_letter(option_column - 1)
            options.cell(row=1, column=option_column, value=c.header).font = bold
            for j, v in enumerate(values, start=2):
                options.cell(row=j, column=option_column, value=v)
            strict = c.choices is not None or c.key == "is_inclusive"
            dv = DataValidation(type="list", formula1=f"'选项'!${ol}$2:${ol}${len(values) + 1}", allow_blank=True,
                                showErrorMessage=strict, errorStyle="stop" if strict else "information",
                                error=str(_("请从下拉列表中选择。")))
            dv.add(f"{letter}2:{letter}{max_rows() + 1}")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"
    options.sheet_state = "hidden"
    guide.column_dimensions["A"].width = 18
    guide.column_dimensions["B"].width = 8
    guide.column_dimensions["C"].width = 90
    guide.append([_("%(kind)s导入模板：填写说明") % {"kind": kind.label}])
    guide["A1"].font = Font(bold=True, size=14)
    for line in _general_notes(kind):
        guide.append([str(line)])
    guide.append([])
    guide.append([_("列"), _("必填"), _("说明")])
    for cell in guide[guide.max_row]:
        cell.font, cell.fill = bold, fill
    for c in kind.columns:
        text = str(c.help) if c.help else ""
        if c.choices is not None:
            text = (text + " " if text else "") + _("可选：%(options)s") % {
                "options": "、".join(zh_label(c.choices, v) for v in c.choices.values if v)}
        guide.append([c.header, _("是") if c.key in kind.required(ctx) else "", text])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _general_notes(kind: Kind) -> list:
    notes = [
        _("1. 在“%(sheet)s”工作表中每行填写一条记录；第 2 行是示例（姓名/名称带“（示例）”），"
          "导入时自动跳过，可以删除。")
        % {"sheet": kind.sheet_name},
        _("2. 带 * 的列必须填写。其他列留空时，不会清除系统中已有的信息。"),
        _("3. 日期可写成 2026-11-01、2026/11/1、2026年11月1日 或 20261101，也可以是 Excel 日期。"),
        _("4. 身份证号、电话、银行账号请保持“文本”格式，否则 Excel 会把长数字改成科学计数法并丢失末几位。"),
        _("5. 不要合并单元格；公式会使用其计算结果。全角数字、首尾空格、身份证号末位小写 x 会自动纠正。"),
        _("6. 上传后先显示预览：哪些行新增、哪些行修改、哪些行有错误。确认后才会写入，有错误的行不写入，"
          "可下载错误报告修改后再导入。再次导入同一文件不会产生重复数据。"),
        _("7. 单个文件不超过 %(size)s、%(rows)s 行；数据较多时在后台处理，页面会显示进度。")
        % {"size": f"{max_file_bytes() // MiB} MB", "rows": f"{max_rows():,}"},
    ]
    if kind.key == ImportKind.ELDERS:
        notes += [
            _("8. 同一身份证号已登记时，按本文件更新此人的信息；导入只新增或更新人员类别和联系人，不会删除。"
              "终止某个类别请在老年人详情页办理。"),
            _("9. 人员类别：可选 特困、低保、低保边缘、重残、失独/计生特殊家庭、优抚对象、经济困难；多个用“、”分隔；"
              "重残写等级：重残（二级）；某类别起始日期与“类别起始日期”列不同时写在冒号后：低保：2021-07-01。"
              "独居、空巢、留守请填在“居住状况”列；高龄按年龄自动判断，无需填写。"),
            _("10. 户籍地、居住地：填区划代码（如 511903001002），或名称路径（如 登科街道/登科寺社区）；"
              "社区、村可用简称（登科寺社区、某某村）。名称有重名时请写上级名称。"),
        ]
    return notes


def _region_options(user, kind: Kind) -> list[str]:
    code = user.scope_code or settings.DEFAULT_JURISDICTION_CODE
    levels = ("street", "community") if kind.key == ImportKind.ELDERS else ("county", "street", "community")
    regions = list(Region.objects.filter(code__startswith=code, level__in=levels).order_by("code")[:5000])
    paths = region_paths(regions)
    depth = {"province": 0, "city": 1, "county": 2, "street": 3, "community": 4}
    scope_depth = depth.get(Region.objects.filter(code=code).values_list("level", flat=True).first(), 2)
    out = []
    for r in regions:
        parts = paths[r.code].split("/")
        out.append("/".join(parts[max(0, min(scope_depth, 2)):]))
    return out
