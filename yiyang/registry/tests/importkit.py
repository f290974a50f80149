"""Helpers for the import tests: real xlsx files built with openpyxl (and patched XML where openpyxl cannot
write what Excel writes, such as cached formula values)."""

import datetime
import io
import re
import zipfile

from openpyxl import Workbook, load_workbook

from yiyang.registry import importing
from yiyang.registry.models import ImportJob
from yiyang.registry.tests.factories import id_number

ELDER_HEADERS = [c.header for c in importing.ELDER_COLUMNS]


def person_id(seq: int, *, birth=datetime.date(1945, 3, 12), male: bool = False) -> str:
    return id_number(birth, seq, male=male)


def elder_row(seq: int = 1, **values) -> dict:
    """One elder as {header: value}; defaults make a valid row living in 登科寺社区 (the demo community)."""
    row = {
        "姓名": f"测试{seq}号", "身份证号": person_id(seq), "联系电话": "13812345678", "户籍地": "511903",
        "居住地(社区)": "登科街道/登科寺社区", "居住地址": f"登科街道某某路{seq}号", "居住状况": "独居",
        "人员类别": "低保", "类别起始日期": "2020-01-01", "紧急联系人": f"联系人{seq}", "联系人关系": "儿子",
        "联系人电话": "13912345678",
    }
    row.update(values)
    return row


def workbook_bytes(rows: list, headers: list | None = None, *, sheet: str = "老年人", setup=None) -> bytes:
    """rows: dicts by header, or plain lists in header order. `setup(ws)` may merge cells, add formulas..."""
    headers = headers if headers is not None else ELDER_HEADERS
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h) for h in headers] if isinstance(row, dict) else list(row))
    if setup is not None:
        setup(ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def patch_sheet(data: bytes, pattern: str, replacement: str, *, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """Rewrite one part of an xlsx (regex substitution on its XML), keeping everything else."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == part:
                text, n = re.subn(pattern, replacement, content.decode("utf-8"))
                assert n, f"pattern {pattern!r} not found in {part}"
                content = text.encode("utf-8")
            target.writestr(info.filename, content)
    return out.getvalue()


def run(actor, data: bytes, kind: str = "elders", filename: str = "名单.xlsx") -> ImportJob:
    return importing.start_import(actor=actor, kind_key=kind, filename=filename, data=data)


def confirm(actor, job: ImportJob) -> ImportJob:
    return importing.confirm_import(actor=actor, job=job)


def issues(job: ImportJob) -> dict:
    """{(row, header): [messages]} of the preview."""
    out = {}
    for i in job.preview.get("issues", []):
        out.setdefault((i["row"], i["header"]), []).append(i["message"])
    return out


def report_rows(job: ImportJob):
    """The error report as (header, rows as dicts, worksheet)."""
    wb = load_workbook(io.BytesIO(importing.unseal(job.error_report)))
    ws = wb.worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    header = list(values[0])
    return header, [dict(zip(header, r, strict=False)) for r in values[1:]], ws
