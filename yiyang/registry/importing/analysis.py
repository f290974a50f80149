"""Reading and analysing a workbook: header, rows, validation, the preview."""


from __future__ import annotations

import gc
import logging
import multiprocessing
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils.translation import gettext as _

from yiyang.core import pii

from ..import_xlsx import CellError, Sheet, WorkbookError, column_letter, read_sheet
from ..models import (
    ImportKind,
)
from .cells import CHANGES_KEPT, EXAMPLE_MARKERS, ISSUES_KEPT, REPORT_EXTRA, max_rows, narrow, text_of, zh_label
from .columns import Context, Row
from .kinds import Kind, _mask, printable
from .simple import KINDS, context_for

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- analysis

def header_key(text: str) -> str:
    text = narrow(text_of(text))
    text = re.sub(r"\s+", "", text).strip("*").replace("(必填)", "").replace("必填", "")
    return text.lower()


@dataclass
class Analysis:
    kind: Kind
    sheet_name: str = ""
    header_row: int = 0
    mapping: dict = field(default_factory=dict)  # column key → 0-based column in the file
    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    counts: dict = field(default_factory=dict)

    def letter(self, key: str) -> str:
        return column_letter(self.mapping[key]) if key in self.mapping else ""


def _map_headers(kind: Kind, cells: list) -> tuple[dict, list[str], int]:
    """Column key → file column, unknown headers, and how many headers matched."""
    lookup = {}
    for priority, column in enumerate(kind.columns):
        for rank, name in enumerate((column.header, *column.aliases)):
            lookup.setdefault(header_key(name), (rank, priority, column.key))
    mapping, ranks, unknown = {}, {}, []
    report = {header_key(x) for x in REPORT_EXTRA}
    for index, cell in enumerate(cells):
        k = header_key(cell) if cell is not None else ""
        if not k:
            continue
        hit = lookup.get(k)
        if hit is None:
            if k not in report:
                unknown.append(text_of(cell))
            continue
        rank, _p, key = hit
        if key not in mapping or rank < ranks[key]:
            if key in mapping:
                unknown.append(text_of(cells[mapping[key]]))
            mapping[key], ranks[key] = index, rank
        else:
            unknown.append(text_of(cell))
    return mapping, unknown, len(mapping)


def _find_header(kind: Kind, sheet: Sheet) -> tuple[int, dict, list[str]]:
    best = (0, -1, {}, [])
    for position, (_number, values) in enumerate(sheet.rows[:10]):
        mapping, unknown, matched = _map_headers(kind, values)
        if matched > best[0]:
            best = (matched, position, mapping, unknown)
    return best[1], best[2], best[3]


def read_rows(kind: Kind, ctx: Context, data: bytes, progress=None) -> Analysis:
    """Read the file and turn its data rows into Rows (raw values in the kind's column order), with the
    file-level problems (merged cells, formulas without values, Excel error values) recorded per cell."""
    names = (kind.sheet_name, str(kind.label))
    sheet = read_sheet(data, preferred_names=names, max_rows=max_rows(),
                       progress=(lambda n: progress("reading", n, 0)) if progress else None)
    analysis = Analysis(kind=kind, sheet_name=sheet.name)
    if not sheet.rows:
        raise WorkbookError("empty_sheet", _("工作表“%(sheet)s”是空的，没有任何数据。") % {"sheet": sheet.name})
    position, mapping, unknown = _find_header(kind, sheet)
    missing = [kind.by_key[k].header for k in sorted(kind.required(ctx), key=kind.index.get) if k not in mapping]
    if position < 0 or missing:
        hint = ""
        for other in KINDS.values():
            if other is not kind:
                p, m, _u = _find_header(other, sheet)
                if p >= 0 and all(k in m for k in other.required(context_for(ctx.actor, other))):
                    hint = _("这似乎是“%(kind)s”的导入文件，请在导入页面选择“%(kind)s”。") % {"kind": other.label}
                    break
        raise WorkbookError("wrong_template", (_("这不是“%(kind)s”导入模板：缺少必填列 %(columns)s。") % {
            "kind": kind.label, "columns": "、".join(missing or [c.header for c in kind.columns if c.required])}
        ) + (" " + hint if hint else " " + _("请下载导入模板，按模板的列填写。")))
    analysis.header_row = sheet.rows[position][0]
    analysis.mapping = mapping
    if unknown:
        analysis.warnings.append(_("以下列无法识别，已忽略：%(columns)s。") % {"columns": "、".join(unknown[:20])})
    if sheet.formula_count:
        analysis.warnings.append(_("文件中有 %(n)d 个公式单元格，已使用 Excel 保存的计算结果。")
                                 % {"n": sheet.formula_count})
    order = [(key, mapping.get(key)) for key in (c.key for c in kind.columns)]
    file_column_key = {col: key for key, col in order if col is not None}
    merged_cells = defaultdict(list)
    for m in sheet.merged:
        if m.max_row <= analysis.header_row:
            continue
        for r in range(max(m.min_row, analysis.header_row + 1), m.max_row + 1):
            for c in range(m.min_col, m.max_col + 1):
                if c in file_column_key:
                    merged_cells[r].append((file_column_key[c], m.ref))
    name_index = mapping.get(kind.name_key)
    check_cells = bool(sheet.error_cells or sheet.uncached_formulas)
    for number, values in sheet.rows[position + 1:]:
        raw = [values[col] if col is not None and col < len(values) else None for _key, col in order]
        if name_index is not None and name_index < len(values) and isinstance(values[name_index], str) and \
                narrow(values[name_index].strip()).endswith(EXAMPLE_MARKERS[0]):
            analysis.skipped += 1
            continue
        row = Row(number=number, raw=raw)
        for key, col in (order if check_cells else ()):
            if col is None:
                continue
            value = raw[kind.index[key]]
            if isinstance(value, CellError):
                row.add(key, _("单元格是 Excel 错误值 %(code)s（公式出错），请改为实际内容。") % {"code": value.code})
                raw[kind.index[key]] = None
            elif (number, col) in sheet.uncached_formulas:
                row.add(key, _("这是公式，但文件中没有保存计算结果（可能由程序生成、未在 Excel 中打开保存）。"
                               "请在 Excel 中打开后保存，或把公式粘贴为数值。"))
        done = set()
        for key, ref in merged_cells.get(number, []):
            if key not in done:
                done.add(key)
                row.add(key, _("合并单元格 %(ref)s：请取消合并，并在每一行分别填写。") % {"ref": ref})
        analysis.rows.append(row)
    if not analysis.rows:
        raise WorkbookError("no_rows", _("文件中只有表头，没有数据行。") if not analysis.skipped
                            else _("文件中只有表头和示例行，没有要导入的数据。"))
    return analysis


def _check_row(kind: Kind, ctx: Context, row: Row) -> None:
    """Validate one row: the kind's rules, the field lengths and text rules, then the file's own problems."""
    file_errors = dict(row.errors)
    row.errors = {}
    kind.validate(row, ctx)
    for key, limit in kind.max_lengths.items():
        if len(kind.text(row, key)) > limit:
            row.add(key, _("内容过长：最多 %(n)d 个字。") % {"n": limit})
    for key, rule in kind.text_rules.items():
        text = kind.text(row, key)
        if text and key not in row.errors:
            try:
                rule(text)
            except ValidationError as exc:
                for m in exc.messages:
                    row.add(key, m)
    for key, messages in file_errors.items():
        row.errors[key] = messages  # a merged or formula cell's own value is not to be trusted
    if file_errors:
        row.clean = {}


def parallel_min_rows() -> int:
    """Files with at least this many rows are validated by two processes (the background task's), when the
    kind allows it and the platform can fork; 0 never."""
    return int(getattr(settings, "YIYANG_IMPORT_PARALLEL_ROWS", 20_000))


CHILD_TIMEOUT = 600  # seconds: the second half of 200,000 rows takes well under a minute


def _refuse_queries(execute, sql, params, many, context):
    raise RuntimeError("no database access while validating in a forked process")


def _validate_part(kind: Kind, ctx: Context, rows: list[Row], start: int, conn) -> None:
    """In the forked process: validate rows[start:] and send back what validation sets on each row. The
    database connection is the parent's: any query is refused (and the parent then does these rows itself)."""
    try:
        with connections["default"].execute_wrapper(_refuse_queries):
            for row in rows[start:]:
                _check_row(kind, ctx, row)
        conn.send_bytes(pickle.dumps([(r.errors, r.key, r.clean) for r in rows[start:]],
                                     protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException:  # noqa: BLE001 - whatever went wrong, the parent validates these rows again
        conn.send_bytes(b"")
    finally:
        conn.close()


def _validate_rows(kind: Kind, ctx: Context, rows: list[Row], progress=None) -> None:
    total = len(rows)
    start = 0
    child = reader = None
    limit = parallel_min_rows()
    if kind.parallel and limit and total >= limit and "fork" in multiprocessing.get_all_start_methods():
        # The second half in a forked process, which sees the rows and the prepared kind without copying; the
        # lookups that may query (regions outside the jurisdiction) are made here first, once per value.
        kind.warm(rows, ctx)
        mp = multiprocessing.get_context("fork")
        reader, writer = mp.Pipe(duplex=False)
        child = mp.Process(target=_validate_part, args=(kind, ctx, rows, total // 2, writer), daemon=True)
        # Objects alive now are left out of garbage collection until the child is done: a collection walks
        # every object, and after a fork that copies every page in both processes (copy-on-write).
        gc.freeze()
        try:
            child.start()
            start = total // 2
        except Exception:  # e.g. a daemonic worker may not have children: then one process does it all
            log.warning("import: cannot start a validating process", exc_info=True)
            child = None
            reader.close()
            gc.unfreeze()
        writer.close()
    for i, row in enumerate(rows[:start] if child else rows):
        _check_row(kind, ctx, row)
        if progress and i % 2000 == 0:
            progress("validating", i * 2 if child else i, total)  # with two processes, both at this pace
    if child is None:
        return
    try:
        # A child that hangs (forked while another thread held a lock it needs) is given up on, not waited for.
        data = reader.recv_bytes() if reader.poll(CHILD_TIMEOUT) else b""
    except EOFError:
        data = b""
    reader.close()
    if child.is_alive() and not data:
        child.kill()
    child.join()
    gc.unfreeze()
    if not data:
        log.warning("import: the validating process failed; validating its rows here")
        for row in rows[start:]:
            _check_row(kind, ctx, row)
        return
    for row, (errors, key, clean) in zip(rows[start:], pickle.loads(data), strict=True):
        row.errors, row.key, row.clean = errors, key, clean


def analyse(kind: Kind, ctx: Context, data: bytes, progress=None) -> Analysis:
    """Read, validate and classify every row (nothing is written)."""
    analysis = read_rows(kind, ctx, data, progress)
    total = len(analysis.rows)
    kind.prepare(ctx)
    _validate_rows(kind, ctx, analysis.rows, progress)
    # Duplicates inside the file: every row sharing an identity is an error until the file says which is right.
    groups = defaultdict(list)
    for row in analysis.rows:
        if row.key is not None:
            groups[row.key].append(row)
    for key, rows in groups.items():
        if len(rows) > 1:
            if "id_number" in kind.index:
                column = "id_number"
            else:
                column = "credit_code" if key[0] == "cc" else kind.name_key
            numbers = "、".join(str(r.number) for r in rows)
            for r in rows:
                r.add(column, _("与文件中其他行重复（第 %(rows)s 行是同一%(what)s）。") % {
                    "rows": numbers, "what": _("人") if kind.key in (ImportKind.ELDERS, ImportKind.STAFF) else
                    _("记录")})
                r.clean = {}
    for row in analysis.rows:
        if row.errors:
            row.clean = {}
    kind.classify([r for r in analysis.rows if r.clean],
                  ctx, (lambda n: progress("comparing", n, total)) if progress else None)
    counts = {"rows": total, "new": 0, "changed": 0, "unchanged": 0, "error": 0, "skipped": analysis.skipped}
    for row in analysis.rows:
        if row.errors:
            row.status = "error"
            row.plan = None
        counts[row.status or "error"] += 1
    analysis.counts = counts
    return analysis


def preview_of(analysis: Analysis) -> dict:
    kind = analysis.kind
    issues, total = [], 0
    for row in analysis.rows:
        for key, messages in row.errors.items():
            column = kind.by_key.get(key)
            for message in messages:
                total += 1
                if len(issues) < ISSUES_KEPT:
                    issues.append({"row": row.number, "col": analysis.letter(key),
                                   "header": column.header if column else "", "message": message,
                                   "value": _mask(column, row.raw[kind.index[key]]) if column else ""})
    changes = []
    for row in analysis.rows:
        if row.status == "changed" and len(changes) < CHANGES_KEPT:
            label = printable(text_of(kind.value(row, kind.name_key)))
            if "id_number" in kind.index:
                label += " " + _mask(kind.by_key["id_number"], kind.value(row, "id_number"))
            changes.append({"row": row.number, "label": label, "fields": [
                [_field_header(kind, k), _show(kind, k, old), _show(kind, k, new)] for k, old, new in row.changes]})
    return {"sheet": analysis.sheet_name, "header_row": analysis.header_row, "warnings": analysis.warnings,
            "issues": issues, "issues_total": total, "changes": changes,
            "columns": {c.header: analysis.letter(c.key) for c in kind.columns if c.key in analysis.mapping}}


_FIELD_COLUMN = {"hukou_region_id": "hukou_region", "residence_region_id": "residence_region",
                 "region_id": "region", "operator_id": "operator", "organisation_id": "organisation"}


def _field_header(kind: Kind, key: str) -> str:
    column = kind.by_key.get(_FIELD_COLUMN.get(key, key))
    return column.header if column else key


def _show(kind: Kind, key: str, value) -> str:
    if value is None or value == "":
        return ""
    column = kind.by_key.get(_FIELD_COLUMN.get(key, key))
    if column is not None and column.choices is not None and value in column.choices.values:
        return zh_label(column.choices, value)
    if key == "bank_account":
        return pii.mask_account(str(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    return printable(text_of(value))
