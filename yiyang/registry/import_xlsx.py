"""Reading uploaded workbooks for the Excel import: one worksheet, read by calamine (Rust, python-calamine).

Until issue 14 this module held a hand-written reader (compiled regular expressions over the sheet XML). The
cells are now read by calamine, a maintained library that handles shared and inline strings, rich text with
phonetic guides, namespace prefixes, cells without references, date styles (1900 and 1904 epochs) and
escapes. What calamine does not tell, this module finds with a few byte scans of the sheet XML before calamine
runs (nothing per cell unless the sheet has formulas, errors or unreferenced cells):

- formulas: calamine returns the cached value (like openpyxl's ``data_only=True``); the cells holding ``<f>``
  are found in the XML, counted, and those without a cached value are reported per cell;
- Excel error values (``t="e"``: #N/A, #DIV/0! ...), which calamine returns as empty cells;
- the extent of the data: calamine builds a dense grid of the used range, so two cells far apart in a tiny
  file (A1 and XFD1048576) would ask for terabytes; a range of more than `MAX_CELLS` cells is refused;
- merged cells come from calamine's `merged_cell_ranges`.

Before any parsing the bytes are sniffed: empty, too large, CSV or HTML saved under an .xlsx name, legacy .xls or
password-protected files, zip files that are not workbooks, and zip bombs (the parts' declared uncompressed
sizes together, checked on the zip's directory before anything is inflated) each get a clear message.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from xml.etree import ElementTree

from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

from yiyang.core.pii import is_ascii_digits

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Uncompressed size of all parts together: a 200,000-row sheet with inline strings is ~200 MB of XML. The parts'
# declared sizes are a true bound: zipfile stops a part at its declared size (and then fails its CRC check).
MAX_UNCOMPRESSED = 800 * 1024 * 1024
# Cells of the used range (rows × columns) calamine may allocate, ~32 bytes each: 200,000 rows × 80 columns.
MAX_CELLS = 16_000_000
# Integers up to this size are exact in a float: calamine returns every number as a float.
EXACT_FLOAT = 2**53


class WorkbookError(Exception):
    """The file as a whole cannot be read; `message` says why, for the person who uploaded it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CellError:
    """An Excel error value (#N/A, #DIV/0! ...) found in a cell."""

    code: str

    def __str__(self):
        return self.code


@dataclass(frozen=True)
class MergedRange:
    ref: str
    min_row: int
    min_col: int  # 0-based
    max_row: int
    max_col: int


@dataclass
class Sheet:
    name: str
    sheet_names: list[str]
    # Non-empty rows in file order: (row number as Excel shows it, values by 0-based column).
    rows: list[tuple[int, list]] = field(default_factory=list)
    # (row, col) of formula cells: those without a cached value, and the count of all formula cells.
    uncached_formulas: set[tuple[int, int]] = field(default_factory=set)
    formula_count: int = 0
    error_cells: int = 0  # cells holding an Excel error value (#N/A, #DIV/0! ...)
    merged: list[MergedRange] = field(default_factory=list)


def human_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def sniff(data: bytes, *, max_bytes: int, max_uncompressed: int = MAX_UNCOMPRESSED) -> int:
    """Reject what is not an xlsx workbook before parsing anything, with a message that says what it is.

    Returns the workbook's uncompressed size (what reading it costs: 100 KB of zip may inflate to 100 MB)."""
    if not data:
        raise WorkbookError("empty", _("文件是空的（0 字节）。请选择填写好的 Excel 文件。"))
    if len(data) > max_bytes:
        raise WorkbookError("too_large", _("文件大小为 %(size)s，超过上限 %(limit)s。请拆分成几个文件分别导入。")
                            % {"size": human_size(len(data)), "limit": human_size(max_bytes)})
    if data.startswith(OLE2_MAGIC):
        raise WorkbookError("xls", _("这是旧版 Excel（.xls）文件或设置了打开密码的文件。请在 Excel 中取消密码，"
                                     "并“另存为 Excel 工作簿（*.xlsx）”后再上传。"))
    if not data.startswith(ZIP_MAGIC):
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")):
            raise WorkbookError("html", _("这是网页或 XML 文件，只是扩展名为 Excel。请在 Excel 中打开后"
                                          "“另存为 Excel 工作簿（*.xlsx）”。"))
        if _looks_like_text(data[:65536]):
            raise WorkbookError("csv", _("这是 CSV 或文本文件，只是扩展名改成了 .xlsx。请在 Excel 中打开后"
                                         "“另存为 Excel 工作簿（*.xlsx）”，或直接下载导入模板填写。"))
        raise WorkbookError("not_xlsx", _("无法识别的文件格式：不是 Excel 工作簿（.xlsx）。"))
    book = _Workbook(data, max_uncompressed=max_uncompressed)
    book.sheets()  # a readable zip holding a workbook with at least one worksheet
    return book.uncompressed


def _looks_like_text(chunk: bytes) -> bool:
    for encoding in ("utf-8", "gb18030", "utf-16"):
        try:
            text = chunk.decode(encoding)
        except UnicodeDecodeError:
            # A multi-byte character cut at the end of the chunk is not a reason to give up.
            try:
                text = chunk[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
        return bool(text) and printable / len(text) > 0.95
    return False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (r:id, strict OOXML, ...)."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _xml(archive: zipfile.ZipFile, name: str):
    try:
        return ElementTree.fromstring(archive.read(name))
    except KeyError:
        return None
    except ElementTree.ParseError as exc:
        raise WorkbookError("corrupt", _("文件内容已损坏（%(part)s 无法解析）。") % {"part": name}) from exc


def _part_path(target: str, base: str = "xl") -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base, target))


_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")


_COLUMN_CACHE: dict[str, int] = {}


def column_index(letters: str) -> int:
    """'A' → 0, 'AB' → 27."""
    index = _COLUMN_CACHE.get(letters)
    if index is None:
        index = 0
        for ch in letters.upper():
            index = index * 26 + (ord(ch) - 64)
        index -= 1
        _COLUMN_CACHE[letters] = index
    return index


def column_letter(index: int) -> str:
    """0 → 'A', 27 → 'AB'."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _Workbook:
    def __init__(self, data: bytes, *, max_uncompressed: int = MAX_UNCOMPRESSED):
        try:
            self.archive = zipfile.ZipFile(BytesIO(data))
        except (zipfile.BadZipFile, ValueError) as exc:
            raise WorkbookError("corrupt", _("文件已损坏或不完整，无法作为 Excel 工作簿打开。请在 Excel 中打开确认后"
                                             "重新保存再上传。")) from exc
        names = set(self.archive.namelist())
        if "xl/workbook.xml" not in names and not self._workbook_part(names):
            if "word/document.xml" in names:
                raise WorkbookError("docx", _("这是 Word 文档，不是 Excel 工作簿。"))
            raise WorkbookError("not_xlsx", _("这是压缩文件，但不是 Excel 工作簿（.xlsx）。"))
        total = sum(info.file_size for info in self.archive.infolist())
        if total > max_uncompressed:
            raise WorkbookError("too_large", _("文件解压后超过 %(limit)s，无法导入。请拆分后再导入。")
                                % {"limit": human_size(max_uncompressed)})
        self.uncompressed = total
        self.names = names

    def _workbook_part(self, names: set[str]) -> str | None:
        """The workbook part named by the package relationships (usually xl/workbook.xml)."""
        if "_rels/.rels" not in names:
            return None
        root = _xml(self.archive, "_rels/.rels")
        for rel in root if root is not None else []:
            if (rel.get("Type") or "").endswith("/officeDocument"):
                return _part_path(rel.get("Target", ""), "")
        return None

    def sheets(self) -> list[tuple[str, str]]:
        """[(sheet name, part path)] in workbook order (worksheets only)."""
        workbook_path = "xl/workbook.xml" if "xl/workbook.xml" in self.names else self._workbook_part(self.names)
        base = posixpath.dirname(workbook_path)
        root = _xml(self.archive, workbook_path)
        if root is None:
            raise WorkbookError("not_xlsx", _("这是压缩文件，但不是 Excel 工作簿（.xlsx）。"))
        rels_path = posixpath.join(base, "_rels", posixpath.basename(workbook_path) + ".rels")
        rels = _xml(self.archive, rels_path)
        targets = {}
        for rel in rels if rels is not None else []:
            if (rel.get("Type") or "").endswith("/worksheet"):
                targets[rel.get("Id")] = _part_path(rel.get("Target", ""), base)
        out = []
        for element in root.iter():
            tag = _local(element.tag)
            if tag == "sheet":
                target = targets.get(_attr(element, "id"))
                if target and target in self.names:
                    out.append((element.get("name") or "", target))
        if not out:
            raise WorkbookError("no_sheet", _("工作簿中没有工作表。"))
        self.base = base
        return out


_REF = re.compile(rb"([A-Za-z]{1,3})(\d+)$")
_ATTRS = re.compile(rb"([\w:]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_PREFIX = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet\b")


def _prefix_of(xml: bytes) -> bytes:
    """The namespace prefix of the sheet's elements (most writers use none; some write `x:`)."""
    m = _PREFIX.search(xml[:4096])
    return m.group(1) + b":" if m and m.group(1) else b""


def _attributes(text: bytes) -> dict[bytes, bytes]:
    return {k.rsplit(b":", 1)[-1]: a if a or not b else b for k, a, b in _ATTRS.findall(text)}


@dataclass
class _Scan:
    """What the sheet XML says that calamine's values do not."""

    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, 0-based column) of formula cells
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) → Excel error code
    rows: int = 0  # extent of the cells with content: last row number ...
    columns: int = 0  # ... and number of columns


def _scan(xml: bytes) -> _Scan:
    """Formula and error cells and the extent of the data, from the sheet XML.

    The common sheet (every cell with its reference, no formulas, no error values) costs a few byte searches:
    the extent is bounded from the references of more than five digits or more than one letter. Any other sheet
    is walked cell by cell, numbering rows and cells without references the way calamine does."""
    p = _prefix_of(xml)
    has_formulas = any(xml.find(b"<" + p + b"f" + end) >= 0 for end in (b">", b" ", b"/"))
    has_errors = xml.find(b't="e"') >= 0 or xml.find(b"t='e'") >= 0
    cells = sum(xml.count(b"<" + p + b"c" + end) for end in (b" ", b">", b"/"))
    if has_formulas or has_errors or cells != xml.count(b"<" + p + b'c r="'):
        return _walk(xml, p)
    scan = _Scan()
    # Cells with content (not `<c .../>`, which calamine leaves out) in a row numbered 100,000 or more, or in a
    # column past Z.
    cell = b"<" + re.escape(p) + rb'c r="%s"[^>/]*>'
    big = re.findall(cell % rb"[A-Za-z]{1,3}(\d{6,})", xml)
    wide = set(re.findall(cell % rb"([A-Za-z]{2,3})\d+", xml))
    scan.columns = max((column_index(c.decode()) for c in wide), default=25) + 1
    scan.rows = max((int(r) for r in big), default=99_999)
    if not big and scan.rows * scan.columns > MAX_CELLS:  # 99,999 was only a bound: count exactly
        scan.rows = max((int(r) for r in re.findall(cell % rb"[A-Za-z]{1,3}(\d+)", xml)), default=0)
    return scan


def _walk(xml: bytes, p: bytes) -> _Scan:
    q = re.escape(p)
    row_re = re.compile(b"<" + q + rb"row\b([^>]*?)(?:/>|>(.*?)</" + q + b"row>)", re.S)
    cell_re = re.compile(b"<" + q + rb"c\b([^>]*?)(?:/>|>(.*?)</" + q + b"c>)", re.S)
    value_re = re.compile(b"<" + q + rb"v(?:\s[^>]*)?>(.*?)</" + q + b"v>", re.S)
    formula_re = re.compile(b"<" + q + rb"f\b")
    scan = _Scan()
    row_number = 0
    for row in row_re.finditer(xml):
        r = _attributes(row.group(1)).get(b"r") if row.group(1) else None
        row_number = int(r) if r and is_ascii_digits(r.decode("latin-1")) else row_number + 1
        column = -1
        for cell in cell_re.finditer(row.group(2) or b""):
            attrs = _attributes(cell.group(1))
            m = _REF.match(attrs.get(b"r", b""))
            number, column = (int(m.group(2)), column_index(m.group(1).decode())) if m else (row_number, column + 1)
            content = cell.group(2)
            if not content:
                continue
            scan.rows, scan.columns = max(scan.rows, number), max(scan.columns, column + 1)
            if formula_re.search(content):
                scan.formulas.add((number, column))
            if attrs.get(b"t") == b"e":
                v = value_re.search(content)
                scan.errors[(number, column)] = (v.group(1).decode(errors="replace").strip() if v else "") or "#N/A"
    return scan


def _too_many_rows(sheet: Sheet, max_rows: int) -> WorkbookError:
    return WorkbookError("too_many_rows", _("工作表“%(sheet)s”超过 %(n)s 行，请拆分后分批导入。")
                         % {"sheet": sheet.name, "n": f"{max_rows:,}"})


def read_sheet(data: bytes, *, preferred_names: tuple[str, ...] = (), max_rows: int = 200_000,
               max_columns: int = 200, progress=None) -> Sheet:
    """Read the sheet named like one of `preferred_names` (else the first sheet) into values per cell.

    Values: str, int (whole numbers), float, bool, date or datetime (date-formatted numbers), time, CellError,
    or None. Raises WorkbookError.
    """
    book = _Workbook(data)
    sheets = book.sheets()
    wanted = {n.strip() for n in preferred_names}
    name, path = next(((n, p) for n, p in sheets if n.strip() in wanted), sheets[0])
    sheet = Sheet(name=name, sheet_names=[n for n, _p in sheets])
    try:
        xml = book.archive.read(path)  # inflated no further than its declared size (checked in _Workbook)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise _corrupt(path) from exc
    scan = _scan(xml)
    del xml
    if scan.rows * scan.columns > MAX_CELLS:
        raise WorkbookError("too_large", _("工作表“%(sheet)s”的数据范围过大（%(rows)s 行 × %(columns)s 列），"
                                           "请删除表格下方或右侧多余的内容，或拆分后再导入。") % {
            "sheet": name, "rows": f"{scan.rows:,}", "columns": f"{scan.columns:,}"})
    try:
        with CalamineWorkbook.from_filelike(BytesIO(data)) as workbook:
            source = workbook.get_sheet_by_name(name)
            grid = source.to_python(skip_empty_area=False)
            merged = source.merged_cell_ranges or []
    except CalamineError as exc:
        raise _corrupt(path) from exc
    sheet.merged = [_merged_range(first, last) for first, last in merged]
    sheet.formula_count = len(scan.formulas)
    sheet.error_cells = len(scan.errors)
    special = bool(scan.formulas or scan.errors)
    rows = sheet.rows
    for index, cells in enumerate(grid):
        if len(cells) > max_columns:
            cells = cells[:max_columns]
        values = [None if v == "" else int(v) if type(v) is float and v.is_integer() and -EXACT_FLOAT < v < EXACT_FLOAT
                  else v for v in cells]
        number = index + 1
        uncached = False
        if special:
            for column, value in enumerate(values):
                if (number, column) in scan.errors:
                    values[column] = CellError(scan.errors[number, column])
                elif value is None and (number, column) in scan.formulas:
                    sheet.uncached_formulas.add((number, column))
                    uncached = True
        while values and values[-1] is None:
            values.pop()
        if uncached or any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values):
            rows.append((number, values))
            if len(rows) > max_rows + 1:  # + the header row
                raise _too_many_rows(sheet, max_rows)
            if progress is not None and len(rows) % 5000 == 0:
                progress(len(rows))
        grid[index] = None  # let the calamine values go as the rows are built
    return sheet


def _corrupt(part: str) -> WorkbookError:
    return WorkbookError("corrupt", _("文件内容已损坏（%(part)s 无法解析）。") % {"part": part})


def _merged_range(first: tuple[int, int], last: tuple[int, int]) -> MergedRange:
    (r1, c1), (r2, c2) = first, last
    start, end = f"{column_letter(c1)}{r1 + 1}", f"{column_letter(c2)}{r2 + 1}"
    return MergedRange(ref=start if start == end else f"{start}:{end}", min_row=r1 + 1, min_col=c1,
                       max_row=r2 + 1, max_col=c2)
