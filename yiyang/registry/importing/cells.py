"""Cell values of an import: limits, errors, the parsing of one cell, the aliases people write."""


from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiyang.core import pii
from yiyang.core.errors import DomainError
from yiyang.core.validators import normalise_text

from ..import_xlsx import MAX_UNCOMPRESSED

log = logging.getLogger(__name__)



MiB = 1024 * 1024


def max_file_bytes() -> int:
    return int(getattr(settings, "YIYANG_IMPORT_MAX_BYTES", 20 * MiB))


def max_rows() -> int:
    return int(getattr(settings, "YIYANG_IMPORT_MAX_ROWS", 200_000))


def inline_max_bytes() -> int:
    """Workbooks up to this size *uncompressed* are validated inside the upload request, larger ones in a
    background task. The uncompressed size is what reading costs: a 103 KB file inflating to 100 MB took 16.8 s
    in the request when the upload's own size decided. 4 MiB is about 5,000 register rows (~280 KB of xlsx)."""
    return int(getattr(settings, "YIYANG_IMPORT_INLINE_BYTES", 4 * MiB))


def max_uncompressed_bytes() -> int:
    """The zip-bomb limit: a workbook inflating beyond this is refused before anything is read."""
    return int(getattr(settings, "YIYANG_IMPORT_MAX_UNCOMPRESSED", MAX_UNCOMPRESSED))


def inline_max_write_rows() -> int:
    return int(getattr(settings, "YIYANG_IMPORT_INLINE_WRITE_ROWS", 5_000))


ISSUES_KEPT = 1000  # bad cells listed in the preview (all of them are in the error report)
CHANGES_KEPT = 50  # changed rows shown in the preview
WRITE_BATCH = 1000
EXAMPLE_MARKERS = ("(示例)", "（示例）")
REPORT_EXTRA = ("原行号", "错误")  # columns the error report adds; ignored when the report is imported again


class ImportFileError(DomainError):
    status = 422


class ImportConflict(Exception):
    """The register changed between the preview and the write; nothing was written."""

    def __init__(self, rows: list[int], message: str):
        super().__init__(message)
        self.rows = rows
        self.message = message


# ------------------------------------------------------------------------------------------- cell values

# Labels used inside messages, translated only when a message is actually produced (not once per row).
WHAT_ID = gettext_lazy("身份证号")
WHAT_PHONE = gettext_lazy("电话号码")
WHAT_ACCOUNT = gettext_lazy("银行账号")
WHAT_LIVING = gettext_lazy("居住状况")
WHAT_RELATIONSHIP = gettext_lazy("联系人关系")

def text_of(value) -> str:
    """Any cell value as trimmed text (numbers without a spurious '.0', dates as YYYY-MM-DD), normalised as the
    pages and the API normalise what is typed (core.validators.normalise_text: invisibles dropped, odd spaces
    and tabs made plain, CRLF → LF)."""
    if value is None:
        return ""
    if type(value) is str:
        text = value.strip()
        if not text.isascii() or "\r" in text or "\t" in text:
            text = normalise_text(text)
        return text
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "是" if value else "否"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(sep=" ")
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    else:
        text = str(value)
    return normalise_text(text)


def narrow(text: str) -> str:
    """Full-width digits, letters and punctuation → half-width (１２３ → 123, （ → ()."""
    return unicodedata.normalize("NFKC", text) if text and not text.isascii() else text


class CellProblem(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


def digits_cell(value, what: str) -> str:
    """ID numbers, phones, bank accounts: text. Numbers are accepted only when Excel kept every digit."""
    if isinstance(value, float):
        if not value.is_integer() or abs(value) >= 2**53:
            raise CellProblem(_("%(what)s被 Excel 存成了数字（科学计数法），末尾几位已经丢失。请把该列设为“文本”格式后"
                                "重新填写。") % {"what": what})
        return str(int(value))
    # Full-width forms only (not NFKC, which would turn ² and ① into 2 and 1): pii refuses other digits.
    text = pii.to_halfwidth(text_of(value))
    return text.lstrip("'‘’`")


DATE_PATTERNS = [
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
EXCEL_EPOCH = datetime.date(1899, 12, 30)


def date_cell(value) -> datetime.date:
    """Dates as Excel dates, Excel serial numbers, or text: 2026-11-01, 2026/11/1, 2026.11.1, 2026年11月1日,
    20261101 (full-width digits too). Raises CellProblem."""
    if isinstance(value, datetime.datetime):
        day = value.date()
    elif isinstance(value, datetime.date):
        day = value
    else:
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = value
        text = narrow(text_of(value))
        if number is None and re.fullmatch(r"\d{5}(\.\d+)?", text):
            number = float(text)  # a serial number pasted as text
        if number is not None and not (19000101 <= number <= 21001231 and float(number).is_integer()):
            if not 1 <= number < 80000:
                raise CellProblem(_("无法识别的日期“%(value)s”，请写成 2026-11-01 这样的格式。") % {"value": text})
            day = EXCEL_EPOCH + datetime.timedelta(days=int(number))
        else:
            for pattern in DATE_PATTERNS:
                m = pattern.match(text)
                if m:
                    try:
                        day = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                    except ValueError:
                        raise CellProblem(_("日期“%(value)s”不存在。") % {"value": text}) from None
                    break
            else:
                if re.fullmatch(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}", text):
                    raise CellProblem(_("日期“%(value)s”的年月日顺序不明确，请按 年-月-日 填写，如 2026-11-01。")
                                      % {"value": text})
                raise CellProblem(_("无法识别的日期“%(value)s”，请写成 2026-11-01 这样的格式。") % {"value": text})
    if not 1900 <= day.year <= 2100:
        raise CellProblem(_("日期 %(value)s 不合理。") % {"value": day.isoformat()})
    return day


def decimal_cell(value, what: str) -> Decimal:
    if isinstance(value, bool):
        raise CellProblem(_("%(what)s应为数字。") % {"what": what})
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = narrow(text_of(value)).replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellProblem(_("%(what)s应为数字。") % {"what": what}) from None


def int_cell(value, what: str) -> int:
    number = decimal_cell(value, what)
    if number != number.to_integral_value() or number < 0:
        raise CellProblem(_("%(what)s应为非负整数。") % {"what": what})
    return int(number)


YES = {"是", "y", "yes", "true", "1", "√", "✓", "对"}
NO = {"否", "n", "no", "false", "0", "×", "✗", "不是"}


def bool_cell(value) -> bool:
    if isinstance(value, bool):
        return value
    text = narrow(text_of(value)).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise CellProblem(_("请填写“是”或“否”。"))


def choice_key(text: str) -> str:
    return re.sub(r"\s+", "", narrow(text)).lower()


def _choice_map(choices, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Accepted spellings → stored value: the Chinese label (whatever the UI language), the English label and
    the code itself, plus aliases people commonly write."""
    out = {}
    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            for value, label in choices.choices:
                if value:
                    out[choice_key(str(label))] = value
    for value in choices.values:
        if value:
            out[choice_key(value)] = value
    for alias, value in (aliases or {}).items():
        out[choice_key(alias)] = value
    return out


def zh_label(choices, value) -> str:
    with translation.override("zh-hans"):
        return str(choices(value).label)


LIVING_ALIASES = {"独自居住": "alone", "独居老人": "alone", "空巢老人": "empty_nest", "与子女共同生活": "with_children",
                  "子女同住": "with_children", "和子女同住": "with_children", "留守老人": "left_behind",
                  "机构": "institution", "养老机构": "institution", "入住养老机构": "institution"}
RELATIONSHIP_ALIASES = {"子": "son", "儿": "son", "女": "daughter", "老伴": "spouse", "妻子": "spouse",
                        "丈夫": "spouse", "妻": "spouse", "夫": "spouse", "孙子": "grandchild", "孙女": "grandchild",
                        "外孙": "grandchild",
                        "外孙女": "grandchild", "兄弟": "sibling", "姐妹": "sibling", "哥哥": "sibling",
                        "弟弟": "sibling", "姐姐": "sibling", "妹妹": "sibling", "亲属": "relative", "亲戚": "relative",
                        "侄子": "relative", "侄女": "relative", "邻里": "neighbour", "村委会": "official",
                        "居委会": "official", "社区": "official", "村干部": "official"}
CATEGORY_ALIASES = {"特困人员": "destitute", "特困供养": "destitute", "特困供养人员": "destitute",
                    "五保": "destitute", "五保户": "destitute", "低保户": "subsistence", "低保对象": "subsistence",
                    "城乡低保": "subsistence",
                    "低保边缘户": "near_subsistence", "重度残疾": "severe_disability", "重残人员": "severe_disability",
                    "残疾": "severe_disability", "失独": "bereaved_family", "计生特殊家庭": "bereaved_family",
                    "失独家庭": "bereaved_family", "优抚": "entitled", "经济困难老人": "low_income"}
# Living situations that people write into the category column: say where they belong.
LIVING_WORDS = {"独居", "空巢", "留守", "独居老人", "空巢老人", "留守老人"}
DERIVED_CATEGORIES = {"高龄", "高龄老人"}  # derived from the birth date, nothing to store
GRADES = {"一": "一级", "二": "二级", "三": "三级", "四": "四级", "1": "一级", "2": "二级", "3": "三级", "4": "四级"}
ORG_KIND_ALIASES = {"居家养老": "provider", "养老服务企业": "provider", "社会组织": "social", "民办非企业": "social",
                    "公办": "public", "事业单位": "public", "评估机构": "assessment", "助餐": "kitchen",
                    "中央厨房": "kitchen", "养老院": "care_home", "敬老院": "care_home"}
FACILITY_ALIASES = {"街道中心": "street_centre", "日间照料中心": "day_care", "社区养老服务站": "day_care",
                    "养老院": "care_home", "敬老院": "destitute_home", "特困供养机构": "destitute_home",
                    "互助养老点": "rural_mutual", "老年食堂": "meal_point"}
ROLE_ALIASES = {"护理员": "caregiver", "助老员": "caregiver", "社工": "social_worker", "厨师": "cook",
                "配餐员": "cook", "管理": "manager", "院长": "manager"}
LEVEL_ALIASES = {"五级": "5", "初级": "5", "初级工": "5", "四级": "4", "中级": "4", "中级工": "4", "三级": "3",
                 "高级": "3", "高级工": "3", "二级": "2", "技师": "2", "一级": "1", "高级技师": "1", "无": "",
                 "5": "5", "4": "4", "3": "3", "2": "2", "1": "1"}


def printable(text: str) -> str:
    """Text for the preview (stored as JSON: PostgreSQL's jsonb refuses NUL) and the page: what cannot be shown
    becomes U+FFFD (a message may quote the cell it is about)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else "\ufffd" for ch in text)
