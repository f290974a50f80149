"""Excel import of the register: elders, organisations, facilities and practitioners (issue #4, part 5).

The flow, for every kind and every file size:

1. upload → `start_import`: the bytes are sniffed (empty, too large, CSV/HTML/.xls under an .xlsx name, not a
   workbook, a zip bomb) and stored sealed on an `ImportJob`. Workbooks small once uncompressed are validated in
   the request, larger ones by a background task (`run_import_step`) that records its progress on the job.
2. `analyse`: read the sheet (`import_xlsx.read_sheet`), find the header row, normalise every cell, validate
   every row (reusing the register's own validation), find duplicates inside the file, and compare each good
   row with the register: **new**, **changed** (with exactly which fields) or **unchanged**. The result is a
   preview (counts, every bad cell with its reason, a sample of the changes), an error report (xlsx: the bad
   rows with their cells highlighted and an 错误 column) and a *plan*: the rows to write, exactly as previewed.
3. nothing is written until the person confirms; `write_job` then writes the plan in one transaction,
   set-based (bulk inserts and updates), with one audit event per record and one for the import. If a record
   changed after the preview (someone else registered the same person, edited the elder...), the whole write
   rolls back and says which rows: all good rows or none.

Re-importing the same file finds every row unchanged and writes nothing (upsert by ID number). Empty cells never
clear what the register already holds; categories and contacts are added or updated, never removed.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import re
import time
import unicodedata
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks import task
from pypinyin.constants import PINYIN_DICT
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin

from yiyang.core import audit, pii, validators
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditAction, AuditEvent, Region, Role
from yiyang.core.selectors import region_paths
from yiyang.core.validators import normalise_text

from .import_xlsx import MAX_UNCOMPRESSED, CellError, Sheet, WorkbookError, column_letter, read_sheet, sniff
from .models import (
    CategoryKind,
    CertificateLevel,
    Contact,
    Elder,
    ElderCategory,
    Facility,
    FacilityKind,
    ImportJob,
    ImportKind,
    ImportStatus,
    LivingSituation,
    Organisation,
    OrganisationKind,
    Practitioner,
    PractitionerRole,
    Relationship,
)
from .services import Errors, parse_coordinates, validate_elder_fields

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


# ------------------------------------------------------------------------------------------- column specs

@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the file format's header: always Chinese, whatever the UI language
    required: bool = False
    aliases: tuple[str, ...] = ()
    width: int = 14
    text: bool = False  # format the template column as text (IDs, phones, accounts)
    date: bool = False
    help: str = ""  # shown on the instructions sheet (translated)
    choices: object = None  # a TextChoices class for a dropdown
    sensitive: str = ""  # "id" or "account": masked in the preview


def _h(text):
    return gettext_lazy(text)


ELDER_COLUMNS = [
    Column("name", "姓名", True, ("老人姓名", "老年人姓名"), 10,
           help=_h("与身份证一致。")),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码", "身份证"), 21, text=True, sensitive="id",
           help=_h("18位；末位 x 自动转为大写 X；全角数字和空格自动去除。同一身份证号已登记时更新该人的信息。")),
    Column("phone", "联系电话", False, ("电话", "手机", "手机号", "手机号码", "联系方式"), 14, text=True,
           help=_h("手机号11位，或固话“区号-号码”。")),
    Column("hukou_region", "户籍地", True, ("户籍地代码", "户籍所在地", "户籍"), 24,
           help=_h("区划代码（如 511903），或名称路径（如 恩阳区/登科街道）。可在本辖区之外。")),
    Column("residence_region", "居住地(社区)", True, ("居住地代码", "居住社区", "所在社区", "居住地", "社区"), 30,
           help=_h("须为本人辖区内的街道或社区：区划代码，或名称路径（如 登科街道/登科寺社区）。")),
    Column("address", "居住地址", False, ("地址", "详细地址", "现住址", "家庭住址"), 28),
    Column("latitude", "纬度", False, (), 10, help=_h("十进制度数，如 31.8123；与经度同时填写。")),
    Column("longitude", "经度", False, (), 10, help=_h("十进制度数，如 106.6345。")),
    Column("living_situation", "居住状况", False, ("居住情况",), 12, choices=LivingSituation),
    Column("categories", "人员类别", False, ("类别", "人员类型", "困难类别"), 26,
           help=_h("可填多个，用顿号“、”或逗号分隔；重残须注明等级，写在括号里；某一类别的起始日期不同时，"
                   "用冒号写在类别后。例：特困、重残（二级）：2019-05-10、低保")),
    Column("category_start", "类别起始日期", False, ("起始日期", "类别开始日期"), 14, date=True,
           help=_h("“人员类别”中没有单独写日期的类别，都从这一天开始。新登记的类别必须有起始日期。")),
    Column("contact_name", "紧急联系人", False, ("联系人", "联系人姓名", "监护人"), 10),
    Column("contact_relationship", "联系人关系", False, ("与老人关系", "关系"), 12, choices=Relationship),
    Column("contact_phone", "联系人电话", False, ("紧急联系人电话", "监护人电话"), 14, text=True),
    Column("bank_name", "开户银行", False, ("银行", "开户行"), 14),
    Column("bank_account", "银行账号", False, ("银行卡号", "账号", "社保卡号"), 24, text=True, sensitive="account",
           help=_h("12–30位数字，用于发放补贴。")),
    Column("bank_account_holder", "账户名", False, ("户名", "开户人", "开户名"), 10),
    Column("notes", "备注", False, (), 20),
]

ORGANISATION_COLUMNS = [
    Column("name", "机构名称", True, ("名称", "单位名称"), 28),
    Column("kind", "机构类型", True, ("类型",), 22, choices=OrganisationKind),
    Column("credit_code", "统一社会信用代码", False, ("信用代码", "社会信用代码"), 22, text=True,
           help=_h("18位；已填写时按此代码识别同一机构，否则按“名称 + 所在区域”。")),
    Column("region", "所在区域", True, ("所在地", "区域", "区划代码"), 24,
           help=_h("区划代码或名称路径，须在本辖区内。")),
    Column("address", "地址", False, ("详细地址",), 28),
    Column("phone", "联系电话", False, ("电话",), 14, text=True),
    Column("legal_representative", "法定代表人", False, ("法人", "法人代表"), 10),
    Column("contact_person", "联系人", False, (), 10),
]

FACILITY_COLUMNS = [
    Column("name", "设施名称", True, ("名称",), 28, help=_h("与“所在区域”一起识别同一设施。")),
    Column("kind", "设施类型", True, ("类型",), 26, choices=FacilityKind),
    Column("region", "所在区域", True, ("所在地", "区域", "区划代码"), 24,
           help=_h("区划代码或名称路径，须在本辖区内。")),
    Column("operator", "运营机构", False, ("运营单位", "机构"), 24,
           help=_h("已登记机构的名称或统一社会信用代码。")),
    Column("address", "地址", False, ("详细地址",), 28),
    Column("latitude", "纬度", False, (), 10),
    Column("longitude", "经度", False, (), 10),
    Column("floor_area", "建筑面积(㎡)", False, ("建筑面积", "面积", "建筑面积(平方米)"), 12),
    Column("beds_total", "床位数", False, ("床位", "总床位数"), 8),
    Column("beds_nursing", "护理型床位数", False, ("护理型床位",), 10),
    Column("opening_hours", "开放时间", False, ("营业时间",), 16),
    Column("is_inclusive", "普惠", False, ("是否普惠", "普惠型"), 8, help=_h("是 / 否")),
]

STAFF_COLUMNS = [
    Column("name", "姓名", True, (), 10),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码"), 21, text=True, sensitive="id"),
    Column("phone", "手机号", True, ("联系电话", "电话", "手机号码"), 14, text=True),
    Column("organisation", "所属机构", False, ("机构", "工作单位", "单位"), 26,
           help=_h("机构名称或统一社会信用代码。服务机构账号导入时固定为本机构，可不填。")),
    Column("role", "岗位", True, ("岗位类别", "职务"), 14, choices=PractitionerRole),
    Column("certificate_level", "职业技能等级", False, ("技能等级", "证书等级"), 14, choices=CertificateLevel),
    Column("certificate_number", "证书编号", False, (), 18, text=True),
    Column("skills", "技能", False, ("专长",), 18, help=_h("多项用逗号或顿号分隔，如 助浴、康复。")),
    Column("start_date", "入职日期", True, ("入职时间",), 12, date=True),
    Column("end_date", "离职日期", False, ("离职时间",), 12, date=True),
]


# ------------------------------------------------------------------------------------------- rows

@dataclass(slots=True)
class Row:
    number: int  # the row number Excel shows
    raw: list  # values by the kind's column order (None when the file has no such column)
    errors: dict = field(default_factory=dict)  # column key ("" = the row) → messages
    clean: dict = field(default_factory=dict)
    key: object = None  # identity inside the file (duplicates)
    status: str = ""  # new / changed / unchanged / error
    changes: list = field(default_factory=list)  # (column key, old, new) for the preview
    plan: dict | None = None
    texts: list | None = None  # the cells as text, computed once

    def add(self, key: str, message) -> None:
        self.errors.setdefault(key, []).append(printable(str(message)))


@dataclass
class Context:
    actor: object
    kind: Kind
    today: datetime.date
    organisation: Organisation | None = None
    resolver: RegionResolver | None = None
    organisations: OrganisationResolver | None = None
    job: ImportJob | None = None
    org_regions: dict = field(default_factory=dict)
    detail: str = ""  # the audit detail, translated once: "Excel 导入（任务 #12，第 %(row)s 行）"
    cache: dict = field(default_factory=dict)  # per-import memo (e.g. parsed category cells)


# ------------------------------------------------------------------------------------------- regions

_SUFFIX_ALIASES = (
    ("社区居民委员会", ("社区", "社区居委会")),
    ("居民委员会", ("社区", "居委会")),
    ("村民委员会", ("村", "村委会")),
    ("街道办事处", ("街道",)),
    ("街道", ("街道办事处", "街道办")),
)


def name_aliases(name: str) -> set[str]:
    """A region's official name and the short forms people write (登科寺社区居民委员会 → 登科寺社区)."""
    out = {name}
    for suffix, replacements in _SUFFIX_ALIASES:
        if name.endswith(suffix) and len(name) > len(suffix):
            base = name[: -len(suffix)]
            out.update(base + r for r in replacements)
            break
    return out


_PATH_SPLIT = re.compile(r"\s*[/\\>|]\s*|\s+")


class RegionResolver:
    """Region by code or by name path, for many rows: the jurisdiction's regions are loaded once into
    dictionaries, other values (户籍 elsewhere in China) are looked up once per distinct value.

    A path is a list of names from any level down to the region, levels may be skipped (恩阳区/登科街道/登科寺社区,
    登科寺社区, 四川省/巴中市/恩阳区); names may be written short (…社区 for …社区居民委员会, …村 for …村民委员会).
    A path that fits more than one region is reported as ambiguous, never guessed.
    """

    def __init__(self, root_code: str):
        root_code = root_code or ""
        rows = list(Region.objects.filter(code__startswith=root_code).values_list("code", "name", "level"))
        ancestors = [root_code[:n] for n in (2, 4, 6, 9) if n < len(root_code)]
        rows += list(Region.objects.filter(code__in=ancestors).values_list("code", "name", "level"))
        self.root = root_code
        self.regions = {code: (name, level) for code, name, level in rows}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for code, (name, _level) in self.regions.items():
            for alias in name_aliases(name):
                self.by_name[alias].append(code)
        self.cache: dict[str, tuple[Region | None, str]] = {}

    @staticmethod
    def _chain(code: str) -> list[str]:
        return [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]

    def resolve(self, raw: str) -> tuple[Region | None, str]:
        """(region, "") or (None, message)."""
        hit = self.cache.get(raw)
        if hit is None:
            hit = self.cache[raw] = self._resolve(raw)
        return hit

    def _region(self, code: str, name: str, level: str) -> Region:
        return Region(code=code, name=name, level=level, parent_id=None)

    def _resolve(self, raw: str) -> tuple[Region | None, str]:
        text = narrow(raw).strip().strip("/\\")
        compact = re.sub(r"\s+", "", text)
        if pii.is_ascii_digits(compact):
            return self._by_code(compact)
        parts = [p for p in _PATH_SPLIT.split(text) if p]
        if not parts:
            return None, _("此项为必填项。")
        matches = self._match(parts, self.by_name.get(parts[-1], []), self.regions)
        if not matches:
            matches = self._match_elsewhere(parts)
        if len(matches) == 1:
            code, name, level = matches[0]
            return self._region(code, name, level), ""
        if len(matches) > 1:
            paths = region_paths([self._region(c, n, lv) for c, n, lv in matches[:3]])
            return None, _("“%(value)s”对应多个区划（%(paths)s），请写出上级名称，如 街道/社区，或填写区划代码。") % {
                "value": raw, "paths": "；".join(paths.values())}
        return None, _("找不到区划“%(value)s”。请填写区划代码，或 区县/街道/社区 这样的名称路径。") % {"value": raw}

    def _by_code(self, code: str) -> tuple[Region | None, str]:
        candidates = [code]
        if len(code) == 12:  # the statistical 12-digit form of a county or street code
            if code.endswith("000000"):
                candidates.append(code[:6])
            elif code.endswith("000"):
                candidates.append(code[:9])
        for c in candidates:
            if c in self.regions:
                name, level = self.regions[c]
                return self._region(c, name, level), ""
        found = Region.objects.filter(code__in=candidates).order_by("-code").first()
        if found is not None:
            return found, ""
        return None, _("区划代码 %(code)s 不存在。") % {"code": code}

    def _match(self, parts: list[str], codes: list[str], names: dict) -> list[tuple[str, str, str]]:
        out = []
        for code in codes:
            chain = [names[c][0] for c in self._chain(code)[:-1] if c in names]
            it = iter(chain)
            if all(any(p in name_aliases(n) for n in it) for p in parts[:-1]):
                name, level = names[code]
                out.append((code, name, level))
        return out

    def _match_elsewhere(self, parts: list[str]) -> list[tuple[str, str, str]]:
        last = parts[-1]
        wanted = {last}
        for suffix, replacements in _SUFFIX_ALIASES:  # 登科寺社区 → 登科寺社区居民委员会
            for r in replacements:
                if last.endswith(r) and len(last) > len(r):
                    wanted.add(last[: -len(r)] + suffix)
        candidates = list(Region.objects.filter(name__in=wanted).values_list("code", "name", "level")[:200])
        if not candidates:
            return []
        prefixes = {p for code, _n, _l in candidates for p in self._chain(code)}
        names = {c: (n, lv) for c, n, lv in Region.objects.filter(code__in=prefixes).values_list("code", "name",
                                                                                                 "level")}
        return self._match(parts, [c for c, _n, _l in candidates], names)


class OrganisationResolver:
    """An organisation by credit code or exact name, among those the actor may change."""

    def __init__(self, actor):
        self.by_code = {}
        self.by_name = defaultdict(list)
        for pk, name, code in Organisation.objects.restrict(actor, "change").values_list("pk", "name",
                                                                                          "credit_code"):
            if code:
                self.by_code[code] = pk
            self.by_name[choice_key(name)].append(pk)

    def resolve(self, raw: str) -> tuple[int | None, str]:
        text = narrow(raw).strip()
        code = text.replace(" ", "").upper()
        if code in self.by_code:
            return self.by_code[code], ""
        pks = self.by_name.get(choice_key(text), [])
        if len(pks) == 1:
            return pks[0], ""
        if len(pks) > 1:
            return None, _("有多个名为“%(name)s”的机构，请填写统一社会信用代码。") % {"name": text}
        return None, _("找不到机构“%(name)s”（须是您辖区内已登记的机构）。") % {"name": text}


# ------------------------------------------------------------------------------------------- pinyin

class _MemoConverter(DefaultConverter):
    """pypinyin's own converter with the tone-mark → plain conversion memoised (the costly part): the same
    result as `services.name_pinyin`, at half the cost."""

    _memo: dict = {}

    def convert_style(self, han, orig_pinyin, style, strict, **kwargs):
        key = (orig_pinyin, style, strict)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = super().convert_style(han, orig_pinyin, style, strict, **kwargs)
        return value


_PINYIN = Pinyin(_MemoConverter())
_PINYIN_CACHE: dict[str, tuple[str, str]] = {}


_CHAR_READING: dict[str, str | None] = {}


def _char_reading(ch: str) -> str | None:
    """The plain reading of a character with a single reading (None for several readings or none). For such a
    character no phrase can give another toneless reading (checked against pypinyin's whole phrase list), so a
    name made only of them needs no segmentation."""
    reading = _CHAR_READING.get(ch, "")
    if reading == "":
        raw = PINYIN_DICT.get(ord(ch))
        reading = None if raw is None or "," in raw else (_PINYIN.lazy_pinyin(ch, errors="ignore") or [None])[0]
        _CHAR_READING[ch] = reading
    return reading


def fast_name_pinyin(name: str) -> tuple[str, str]:
    """(full pinyin, initials) exactly like services.name_pinyin (FIRST_LETTER is the first letter of NORMAL)."""
    hit = _PINYIN_CACHE.get(name)
    if hit is None:
        syllables = [_char_reading(ch) for ch in name]
        if not syllables or None in syllables:
            syllables = _PINYIN.lazy_pinyin(name, errors="ignore")
        hit = ("".join(syllables).lower()[:128], "".join(s[0] for s in syllables if s).lower()[:32])
        if len(_PINYIN_CACHE) < 200_000:
            _PINYIN_CACHE[name] = hit
    return hit


# ------------------------------------------------------------------------------------------- kinds

def _json(value):
    if isinstance(value, datetime.date | Decimal):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def printable(text: str) -> str:
    """Text for the preview (stored as JSON: PostgreSQL's jsonb refuses NUL) and the page: what cannot be shown
    becomes U+FFFD (a message may quote the cell it is about)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else "\ufffd" for ch in text)


def _mask(column: Column | None, value) -> str:
    text = printable(text_of(value))
    if column is not None and column.sensitive == "id" and len(text) >= 8:
        return pii.mask_id_number(text)
    if column is not None and column.sensitive == "account" and text:
        return pii.mask_account(text)
    return text[:200]


class Kind:
    key: str
    max_lengths: dict[str, int] = {}  # column key → the model field's max_length (checked for every row)
    # column key → the core.validators rule its text follows (checked for every row, like the forms and the API)
    text_rules: dict = {}
    label = ""
    sheet_name = ""
    columns: list[Column] = []
    roles: set = set()
    model = None
    name_key = "name"

    def __init__(self):
        self.index = {c.key: i for i, c in enumerate(self.columns)}
        self.by_key = {c.key: c for c in self.columns}

    def required(self, ctx: Context) -> set[str]:
        return {c.key for c in self.columns if c.required}

    def prepare(self, ctx: Context) -> None:
        ctx.resolver = RegionResolver(jurisdiction_root(ctx.actor))

    def value(self, row: Row, key: str):
        return row.raw[self.index[key]]

    def text(self, row: Row, key: str) -> str:
        texts = row.texts
        if texts is None:
            texts = row.texts = [text_of(v) for v in row.raw]
        return texts[self.index[key]]

    def validate(self, row: Row, ctx: Context) -> None:
        raise NotImplementedError

    def classify(self, rows: list[Row], ctx: Context, progress) -> None:
        raise NotImplementedError

    def write(self, plan: list[dict], ctx: Context) -> dict:
        raise NotImplementedError

    def conflicts(self, plan: list[dict]) -> list[int]:
        return []

    def example_row(self, ctx: Context) -> list:
        raise NotImplementedError


def jurisdiction_root(actor) -> str:
    """Regions preloaded for name lookups: the actor's county (or their whole scope when larger)."""
    code = getattr(actor, "scope_code", "") or ""
    if actor.is_superuser and not code:
        return settings.DEFAULT_JURISDICTION_CODE
    return code[:6] if len(code) > 6 else code


def _in_scope(actor, code: str) -> bool:
    return actor.is_superuser or bool(actor.scope_code) and code.startswith(actor.scope_code)


# -- shared per-cell helpers

def _required(kind: Kind, row: Row, key: str) -> str:
    text = kind.text(row, key)
    if not text:
        row.add(key, _("此项为必填项。"))
    return text


def _choice(kind: Kind, row: Row, key: str, mapping: dict, *, what: str) -> str | None:
    text = kind.text(row, key)
    if not text:
        return None
    value = mapping.get(text)
    if value is None:
        value = mapping.get(choice_key(text))
    if value is None:
        options = "、".join(sorted({zh_label(kind.by_key[key].choices, v) for v in mapping.values() if v}))
        row.add(key, _("%(what)s“%(value)s”不在可选范围内（%(options)s）。") % {
            "what": what, "value": text, "options": options})
    return value


def _cell(row: Row, key: str, func, *args):
    try:
        return func(*args)
    except CellProblem as exc:
        row.add(key, exc.message)
    except ValidationError as exc:
        for m in exc.messages:
            row.add(key, m)
    return None


def _identity(row: Row, key: str, value, today=None) -> pii.IdentityInfo | None:
    try:
        text = digits_cell(value, WHAT_ID)
        if not text:
            row.add(key, _("此项为必填项。"))
            return None
        return pii.parse_id_number(text, today=today)
    except CellProblem as exc:
        row.add(key, exc.message)
    except ValidationError as exc:
        for m in exc.messages:
            row.add(key, m)
    return None


def _phone(row: Row, key: str, value) -> str:
    text = _cell(row, key, digits_cell, value, WHAT_PHONE)
    if not text:
        return ""
    try:
        return pii.validate_phone(text)
    except ValidationError as exc:
        hint = ""
        if isinstance(value, int | float) and not text.startswith("1"):
            hint = _("（号码被存成了数字，开头的 0 可能已丢失；请把该列设为“文本”格式）")
        for m in exc.messages:
            row.add(key, m + hint)
    return ""


class ElderKind(Kind):
    key = ImportKind.ELDERS
    max_lengths = {"name": 64, "address": 200, "bank_name": 64, "bank_account_holder": 64, "contact_name": 64}
    # Name, address, bank and notes are checked by the register's own validate_elder_fields; the contact's name
    # is the import's own column.
    text_rules = {"contact_name": validators.clean_person_name}
    label = gettext_lazy("老年人")
    sheet_name = "老年人"
    columns = ELDER_COLUMNS
    roles = {Role.BUREAU, Role.STREET, Role.COMMUNITY}
    model = Elder
    FIELDS = ("name", "phone", "hukou_region_id", "residence_region_id", "address", "latitude", "longitude",
              "living_situation", "bank_name", "bank_account", "bank_account_holder", "notes")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.living = _choice_map(LivingSituation, LIVING_ALIASES)
        self.relationships = _choice_map(Relationship, RELATIONSHIP_ALIASES)
        self.categories = _choice_map(CategoryKind, CATEGORY_ALIASES)

    def validate(self, row: Row, ctx: Context) -> None:
        data = {}
        own = set()  # fields whose errors this module reported itself
        name = _required(self, row, "name")
        if name and all("\u4e00" <= ch <= "\u9fff" or ch.isspace() for ch in name):
            name = re.sub(r"\s+", "", name)  # 张 三 → 张三 (spaces used to align two-character names)
        data["name"] = name
        if not name:
            own.add("name")
        info = _identity(row, "id_number", self.value(row, "id_number"), ctx.today)
        phone = _phone(row, "phone", self.value(row, "phone"))  # validated here with pii.validate_phone
        for key in ("hukou_region", "residence_region"):
            text = self.text(row, key)
            if not text:
                row.add(key, _("此项为必填项。"))
                own.add(key)
                continue
            region, message = ctx.resolver.resolve(text)
            if region is None:
                row.add(key, message)
                own.add(key)
            else:
                data[key] = region
        lat, lon = self.text(row, "latitude"), self.text(row, "longitude")
        if lat or lon:
            if not (lat and lon):
                row.add("latitude" if not lat else "longitude", _("经度和纬度须同时填写。"))
            else:
                data["latitude"], data["longitude"] = narrow(lat), narrow(lon)
        living = _choice(self, row, "living_situation", self.living, what=WHAT_LIVING)
        account = _cell(row, "bank_account", digits_cell, self.value(row, "bank_account"), WHAT_ACCOUNT)
        if account:
            data["bank_account"] = account
        for key in ("address", "bank_name", "bank_account_holder", "notes"):
            text = self.text(row, key)
            if text:
                data[key] = text
        errors = Errors()
        clean = validate_elder_fields(actor=ctx.actor, data=data, errors=errors)
        for service_field, messages in errors.items():
            key = service_field if service_field in self.index else "latitude"
            if key in own or service_field in own:
                continue
            for m in messages:
                row.add(key, m)
        cats = self._categories(row, info, ctx)
        contact = self._contact(row)
        if row.errors or info is None:
            row.key = ("id", pii.id_number_hash(info.number)) if info is not None else None
            return
        fields = {"name": clean["name"], "hukou_region_id": clean["hukou_region"].code,
                  "residence_region_id": clean["residence_region"].code}
        clean["phone"], clean["living_situation"] = phone, living
        for f in ("phone", "address", "latitude", "longitude", "living_situation", "bank_name", "bank_account",
                  "bank_account_holder", "notes"):
            if clean.get(f) not in (None, ""):
                fields[f] = clean[f]
        row.key = ("id", pii.id_number_hash(info.number))
        row.clean = {"info": info, "fields": fields, "categories": cats, "contact": contact}

    def _categories(self, row: Row, info, ctx) -> list:
        text = self.text(row, "categories")
        default_start = None
        if self.text(row, "category_start"):
            default_start = _cell(row, "category_start", date_cell, self.value(row, "category_start"))
        if not text:
            return []
        parsed = ctx.cache.get(("categories", text))
        if parsed is None:
            parsed = ctx.cache[("categories", text)] = self._parse_categories(text)
        items, messages = parsed
        for m in messages:
            row.add("categories", m)
        out = []
        for kind, grade, start, label in items:
            start = start or default_start
            if info is not None and start is not None and start < info.birth_date:
                row.add("categories", _("“%(item)s”的起始日期早于出生日期。") % {"item": label})
                continue
            out.append((kind, grade, start))
        return out

    def _parse_categories(self, text: str) -> tuple[list, list]:
        """The category cell's syntax, once per distinct text: [(kind, grade, own start date, label)], messages."""
        out, messages, seen = [], [], set()
        for item in re.split(r"[、,，;；\n]+", text):
            item = item.strip()
            if not item:
                continue
            m = re.fullmatch(r"(?P<name>[^()（）:：]+?)\s*(?:[(（]\s*(?P<grade>[^)）]*?)\s*[)）])?\s*"
                             r"(?:[:：]\s*(?P<date>.+))?", item)
            if m is None:
                messages.append(_("无法识别“%(item)s”，格式为 类别（等级）：起始日期，如 重残（二级）：2019-05-10。")
                                % {"item": item})
                continue
            label = re.sub(r"\s+", "", narrow(m.group("name")))
            grade = m.group("grade") or ""
            if label in DERIVED_CATEGORIES:
                continue
            if label in LIVING_WORDS:
                messages.append(_("“%(item)s”属于居住状况，请填在“居住状况”列。") % {"item": label})
                continue
            if not grade:  # 重残二级 written without brackets
                g = re.fullmatch(r"(.+?)([一二三四1-4])级?", label)
                if g and self.categories.get(choice_key(g.group(1))) == CategoryKind.SEVERE_DISABILITY:
                    label, grade = g.group(1), g.group(2)
            kind = self.categories.get(choice_key(label))
            if kind is None:
                options = "、".join(zh_label(CategoryKind, v) for v in CategoryKind.values)
                messages.append(_("人员类别“%(item)s”无效，可选：%(options)s。") % {"item": label, "options": options})
                continue
            if grade:
                grade = GRADES.get(narrow(grade).replace("级", "").strip())
                if grade is None:
                    messages.append(_("残疾等级“%(grade)s”无效，应为 一级 至 四级。") % {"grade": m.group("grade")})
                    continue
            if kind == CategoryKind.SEVERE_DISABILITY and not grade:
                messages.append(_("重残须注明残疾等级，如 重残（二级）。"))
                continue
            start = None
            if m.group("date"):
                try:
                    start = date_cell(m.group("date"))
                except CellProblem as exc:
                    messages.append(exc.message)
                    continue
            if kind in seen:
                messages.append(_("类别“%(item)s”重复填写。") % {"item": label})
                continue
            seen.add(kind)
            out.append((kind, grade, start, label))
        return out, messages

    def _contact(self, row: Row):
        name = self.text(row, "contact_name")
        relationship = self.text(row, "contact_relationship")
        raw_phone = self.value(row, "contact_phone")
        if not (name or relationship or text_of(raw_phone)):
            return None
        if not name:
            row.add("contact_name", _("填写了联系人关系或电话时，须填写联系人姓名。"))
        phone = _phone(row, "contact_phone", raw_phone)
        if not text_of(raw_phone):
            row.add("contact_phone", _("请填写联系人电话。"))
        rel = _choice(self, row, "contact_relationship", self.relationships, what=WHAT_RELATIONSHIP) or "other"
        return (name, rel, phone) if name and phone else None

    def classify(self, rows, ctx, progress):
        good = [r for r in rows if r.clean]
        hashes = [r.key[1] for r in good]
        existing = {}
        for chunk in key_sets(hashes):
            for e in Elder.objects.filter(id_number_hash__in=chunk).values("pk", "id_number_hash", "updated_at",
                                                                           "birth_date", *self.FIELDS):
                existing[e["id_number_hash"]] = e
        if progress:
            progress(len(hashes))
        pks = [e["pk"] for e in existing.values()]
        visible, categories, contacts = set(), defaultdict(list), defaultdict(list)
        for chunk in key_sets(pks, integer=True):
            visible.update(Elder.objects.restrict(ctx.actor, "change").filter(pk__in=chunk)
                           .values_list("pk", flat=True))
            for c in ElderCategory.objects.filter(elder_id__in=chunk).values("pk", "elder_id", "kind", "grade",
                                                                              "start_date", "end_date"):
                categories[c["elder_id"]].append(c)
            for c in Contact.objects.filter(elder_id__in=chunk).values("pk", "elder_id", "name", "relationship",
                                                                        "phone"):
                contacts[c["elder_id"]].append(c)
        for row in good:
            info, fields = row.clean["info"], row.clean["fields"]
            current = existing.get(row.key[1])
            if current is None:
                missing = [k for k, _g, s in row.clean["categories"] if s is None]
                if missing:
                    row.add("category_start", _("新登记的类别须有起始日期：请填写“类别起始日期”，"
                                                "或在类别后写“：日期”。"))
                    continue
                row.status = "new"
                row.plan = {"r": row.number, "op": "c",
                            "id": [info.number, row.key[1], pii.mask_id_number(info.number),
                                   info.birth_date.isoformat(), info.sex],
                            "f": {k: _json(v) for k, v in fields.items()},
                            "cats": [[k, g, s.isoformat()] for k, g, s in row.clean["categories"]],
                            "contact": list(row.clean["contact"]) if row.clean["contact"] else None}
                continue
            if current["pk"] not in visible:
                row.add("id_number", _("该身份证号已在其他辖区登记，不能通过导入修改；如需迁入请办理迁居。"))
                continue
            changed = {k: v for k, v in fields.items() if current[k] != v}
            plan = {"r": row.number, "op": "u", "pk": current["pk"], "stamp": current["updated_at"].isoformat(),
                    "f": {k: _json(v) for k, v in changed.items()},
                    "before": {k: _json(current[k]) for k in changed}}
            for k, v in changed.items():
                row.changes.append((k, current[k], v))
            self._merge_categories(row, plan, categories[current["pk"]], ctx.today)
            self._merge_contact(row, plan, contacts[current["pk"]])
            if row.errors:
                continue
            if row.changes:
                row.status = "changed"
                row.plan = plan
            else:
                row.status = "unchanged"

    def _merge_categories(self, row, plan, existing, today):
        add, update = [], []
        for kind, grade, start in row.clean["categories"]:
            same = [c for c in existing if c["kind"] == kind]
            active = [c for c in same if c["end_date"] is None or c["end_date"] >= today]
            label = zh_label(CategoryKind, kind)
            if active:
                c = max(active, key=lambda c: c["start_date"])
                new_grade = grade or c["grade"]
                new_start = start or c["start_date"]
                if new_grade != c["grade"] or new_start != c["start_date"]:
                    update.append([c["pk"], new_grade, new_start.isoformat()])
                    row.changes.append(("categories", _category_text(label, c["grade"], c["start_date"]),
                                        _category_text(label, new_grade, new_start)))
                continue
            if start is None:
                row.add("categories", _("新增类别“%(item)s”须有起始日期。") % {"item": label})
                continue
            last_end = max((c["end_date"] for c in same if c["end_date"]), default=None)
            if last_end is not None and start <= last_end:
                row.add("categories", _("类别“%(item)s”在 %(date)s 之前已登记过，新的起始日期须晚于该日期。")
                        % {"item": label, "date": last_end.isoformat()})
                continue
            add.append([kind, grade, start.isoformat()])
            row.changes.append(("categories", "", _category_text(label, grade, start)))
        plan["cats_add"], plan["cats_upd"] = add, update

    def _merge_contact(self, row, plan, existing):
        plan["contact_add"] = plan["contact_upd"] = None
        contact = row.clean["contact"]
        if not contact:
            return
        name, rel, phone = contact
        match = next((c for c in existing if c["name"] == name), None)
        if match is None:
            plan["contact_add"] = [name, rel, phone]
            row.changes.append(("contact_name", "", f"{name} {phone}"))
        elif match["relationship"] != rel or match["phone"] != phone:
            plan["contact_upd"] = [match["pk"], rel, phone]
            row.changes.append(("contact_name", f"{name} {match['phone']}", f"{name} {phone}"))

    # -- writing

    def write(self, plan, ctx):
        now = timezone.now()
        events = []
        updates = [p for p in plan if p["op"] == "u"]
        creates = [p for p in plan if p["op"] == "c"]
        cat_objs, contact_objs, cat_updates, contact_updates = [], [], [], []
        # 1. Changed elders: lock them and check nobody changed them since the preview.
        instances = {}
        pks = [p["pk"] for p in updates]
        for i in range(0, len(pks), 2000):
            instances.update(Elder.objects.select_for_update().in_bulk(pks[i:i + 2000]))
        stale = [p["r"] for p in updates
                 if p["pk"] not in instances or instances[p["pk"]].updated_at.isoformat() != p["stamp"]]
        if stale:
            raise ImportConflict(stale, _("预览之后，第 %(rows)s 行的老年人信息已被修改或删除。为避免覆盖他人的修改，"
                                          "本次导入没有写入任何数据，请重新上传文件。") % {"rows": _row_list(stale)})
        changed_fields = set()
        for p in updates:
            elder = instances[p["pk"]]
            for k, v in p["f"].items():
                setattr(elder, k, Elder._meta.get_field(k).to_python(v))
                changed_fields.add(k)
            if "name" in p["f"]:
                elder.name_pinyin, elder.name_initials = fast_name_pinyin(elder.name)
                changed_fields.update({"name_pinyin", "name_initials"})
            if "residence_region_id" in p["f"]:
                elder.county_code = elder.residence_region_id[:6]
                changed_fields.add("county_code")
            elder.updated_at = now
            for kind, grade, start in p["cats_add"]:
                cat_objs.append(ElderCategory(elder_id=elder.pk, kind=kind, grade=grade, start_date=start,
                                              county_code=elder.county_code))
            for pk, grade, start in p["cats_upd"]:
                cat_updates.append(ElderCategory(pk=pk, grade=grade, start_date=datetime.date.fromisoformat(start)))
            if p["contact_add"]:
                name, rel, phone = p["contact_add"]
                contact_objs.append(Contact(elder_id=elder.pk, name=name, relationship=rel, phone=phone))
            if p["contact_upd"]:
                pk, rel, phone = p["contact_upd"]
                contact_updates.append(Contact(pk=pk, relationship=rel, phone=phone))
            events.append(self._event(ctx, AuditAction.UPDATE, elder, p, before=_masked(p["before"]),
                                      after=_masked(p["f"]) | _extra_after(p)))
        if instances and (changed_fields or updates):
            Elder.objects.bulk_update(list(instances.values()), sorted(changed_fields | {"updated_at"}),
                                      batch_size=500)
        # 2. New elders, in file order (the unique ID-number constraint is the last word on duplicates). Plain
        # values, not model instances: at 100,000 rows the instances alone would cost more than the database.
        rows = []
        for p in creates:
            number, digest, masked, birth, sex = p["id"]
            values = dict(p["f"])
            values.update(id_number=number, id_number_hash=digest, id_number_masked=masked,
                          birth_date=datetime.date.fromisoformat(birth), sex=sex, created_at=now, updated_at=now,
                          county_code=values["residence_region_id"][:6])
            for k in ("latitude", "longitude"):
                if values.get(k) is not None:
                    values[k] = Decimal(values[k])
            values["name_pinyin"], values["name_initials"] = fast_name_pinyin(values["name"])
            rows.append(values)
        ids = insert_rows(Elder, rows)
        cat_rows, contact_rows, event_rows = [], [], []
        for p, values, pk in zip(creates, rows, ids, strict=True):
            values["id"] = pk
            for kind, grade, start in p["cats"]:
                cat_rows.append({"elder_id": pk, "kind": kind, "grade": grade, "start_date": start,
                                 "county_code": values["county_code"]})
            if p["contact"]:
                name, rel, phone = p["contact"]
                contact_rows.append({"elder_id": pk, "name": name, "relationship": rel, "phone": phone})
            event_rows.append(_audit_row(ctx, AuditAction.CREATE, "registry.elder", pk, values["name"],
                                         values["residence_region_id"], p["r"], None,
                                         snapshot_values(Elder, values) | _extra_after(p), now))
        insert_rows(ElderCategory, cat_rows)
        insert_rows(Contact, contact_rows)
        insert_rows(AuditEvent, event_rows)
        insert_many(ElderCategory, cat_objs)
        insert_many(Contact, contact_objs)
        cat_count = len(cat_objs) + len(cat_rows)
        contact_count = len(contact_objs) + len(contact_rows)
        if cat_updates:
            ElderCategory.objects.bulk_update(cat_updates, ["grade", "start_date"], batch_size=500)
        if contact_updates:
            Contact.objects.bulk_update(contact_updates, ["relationship", "phone"], batch_size=500)
        insert_many(AuditEvent, events)
        return {"created": len(creates), "updated": len(updates), "categories": cat_count + len(cat_updates),
                "contacts": contact_count + len(contact_updates)}

    def _event(self, ctx, action, elder, p, before=None, after=None):
        return _audit_event(ctx, action, "registry.elder", elder.pk, elder.name, elder.residence_region_id,
                            p["r"], before, after)

    def conflicts(self, plan):
        by_hash = {p["id"][1]: p["r"] for p in plan if p["op"] == "c"}
        found = set()
        for chunk in key_sets(list(by_hash)):
            found.update(Elder.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", flat=True))
        return sorted(by_hash[h] for h in found)

    def example_row(self, ctx):
        number = "51190319450312" + "002"
        number += pii.id_check_char(number)
        residence = _example_region(ctx.actor, levels=("community", "street"))
        return ["张秀英" + EXAMPLE_MARKERS[1], number, "13812345678", "511903", residence, "登科街道某某路 12 号",
                31.8123, 106.6345, "独居", "特困、重残（二级）：2019-05-10", "2020-01-01", "李明", "儿子",
                "13912345678", "中国农业银行", "6228480012345678901", "张秀英", ""]


def insert_rows(model, rows: list[dict]) -> list[int]:
    """Insert many new rows (attname → value; missing fields take their defaults) in the current transaction and
    return their primary keys, in order.

    Django's bulk_create is the portable way, but it builds a model instance per row, and on PostgreSQL (Django 5.2
    inserts through UNNEST arrays, which psycopg quotes client-side in Python) it costs ~20 µs per value. Here:
    ids are reserved first (the identity sequence on PostgreSQL; past MAX(id) and sqlite_sequence under SQLite's
    write lock), then the rows go in with COPY (PostgreSQL) or one executemany (SQLite). Values are prepared as
    Django would: encrypted fields encrypted, JSON dumped, auto_now timestamps set, dates and decimals adapted.
    Constraint violations surface as django.db.IntegrityError.
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    if connection.vendor not in ("postgresql", "sqlite"):
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=WRITE_BATCH)
        return [o.pk for o in objs]
    table = connection.ops.quote_name(meta.db_table)
    pk_column = meta.pk.column
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    # Fields whose values pass unchanged first (no call per value), then those that need converting.
    converters = {f.attname: _converter(f, connection, now) for f in fields}
    plain = [(f.attname, f.get_default()) for f in fields if converters[f.attname] is None]
    converted = [(f.attname, f.get_default(), converters[f.attname]) for f in fields if converters[f.attname]]
    order = [f for f in fields if converters[f.attname] is None] + [f for f in fields if converters[f.attname]]
    columns = ", ".join(connection.ops.quote_name(c) for c in [pk_column] + [f.column for f in order])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [meta.db_table, pk_column, len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
        else:
            cursor.execute(f"SELECT MAX({connection.ops.quote_name(pk_column)}) FROM {table}")
            start = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [meta.db_table])
            seq = cursor.fetchone()
            start = max(start, seq[0] if seq else 0)
            ids = list(range(start + 1, start + 1 + len(rows)))
        values = ([pk, *[row.get(a, d) for a, d in plain], *[c(row.get(a, d)) for a, d, c in converted]]
                  for pk, row in zip(ids, rows, strict=True))
        if connection.vendor == "postgresql":
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * (len(fields) + 1))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", values)
    return ids


def insert_many(model, objs: list) -> None:
    """`insert_rows` for model instances: sets their primary keys and auto_now timestamps."""
    if not objs:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for obj in objs:
        for f in fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                setattr(obj, f.attname, now)
    ids = insert_rows(model, [{f.attname: getattr(obj, f.attname) for f in fields} for obj in objs])
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = router.db_for_write(model)


def _converter(field, connection, now):
    """value → what the database driver takes, per field (decided once, applied per row)."""
    from yiyang.core.fields import EncryptedTextField

    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        if connection.vendor == "postgresql":
            return lambda value: value or now
        return lambda value: field.get_db_prep_save(value or now, connection)
    if isinstance(field, EncryptedTextField):
        return lambda value: pii.encrypt(value) if value else value
    internal = field.get_internal_type()
    if internal == "JSONField":
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    if connection.vendor == "sqlite" and internal in ("DateTimeField", "DateField", "DecimalField", "TimeField"):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def snapshot_values(model, values: dict) -> dict:
    """What `audit.snapshot` gives for an instance, computed from the values just inserted (no instance)."""
    from yiyang.core.fields import EncryptedTextField

    spec = _SNAPSHOT_SPECS.get(model)
    if spec is None:
        fields = [f for f in model._meta.concrete_fields if f.name not in audit.SECRET_FIELDS]
        spec = _SNAPSHOT_SPECS[model] = (
            [(f.attname, f.get_default()) for f in fields],
            [(f.attname, f.name == "id_number") for f in fields if isinstance(f, EncryptedTextField)],
            [f.attname for f in fields if f.get_internal_type() in ("DateField", "DateTimeField", "DecimalField")],
        )
    plain, secret, typed = spec
    out = {attname: values.get(attname, default) for attname, default in plain}
    for attname, is_id in secret:
        if out[attname]:
            out[attname] = pii.mask_id_number(out[attname]) if is_id else pii.mask_account(out[attname])
    for attname in typed:
        value = out[attname]
        if isinstance(value, datetime.date):
            out[attname] = value.isoformat()
        elif isinstance(value, Decimal):
            out[attname] = str(value)
    return out


_SNAPSHOT_SPECS: dict = {}


def key_sets(keys: list, *, integer: bool = False, chunk: int = 2000):
    """Operands for `field__in=` covering many keys. On PostgreSQL a large set goes into a temporary table with
    COPY and is used as one subquery (quoting 100,000 parameters client-side costs seconds); elsewhere the keys
    come in chunks that stay under SQLite's parameter limit."""
    if not keys:
        return
    connection = connections["default"]
    if connection.vendor != "postgresql" or len(keys) <= chunk:
        for i in range(0, len(keys), chunk):
            yield keys[i:i + chunk]
        return
    table = "yiyang_import_ids" if integer else "yiyang_import_keys"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} (k {'bigint' if integer else 'text'}) "
                       f"ON COMMIT DROP")
        cursor.execute(f"TRUNCATE {table}")
        with cursor.cursor.copy(f"COPY {table} (k) FROM STDIN") as copy:
            for k in keys:
                copy.write_row((k,))
        cursor.execute(f"ANALYZE {table}")
        yield RawSQL(f"SELECT k FROM {table}", [])


def _category_text(label, grade, start) -> str:
    return f"{label}{f'（{grade}）' if grade else ''}：{start.isoformat() if start else ''}"


def _extra_after(p) -> dict:
    extra = {}
    cats = p.get("cats") or p.get("cats_add")
    if cats:
        extra["categories_added"] = cats
    if p.get("cats_upd"):
        extra["categories_updated"] = p["cats_upd"]
    contact = p.get("contact") or p.get("contact_add")
    if contact:
        extra["contact_added"] = {"name": contact[0], "relationship": contact[1], "phone": contact[2]}
    if p.get("contact_upd"):
        extra["contact_updated"] = {"id": p["contact_upd"][0], "relationship": p["contact_upd"][1],
                                    "phone": p["contact_upd"][2]}
    return extra


def _masked(values: dict) -> dict:
    out = dict(values)
    if out.get("bank_account"):
        out["bank_account"] = pii.mask_account(out["bank_account"])
    return out


def _audit_event(ctx, action, object_type, pk, name, region, row_number, before, after):
    actor = ctx.actor
    job = ctx.job
    return AuditEvent(
        actor=actor, actor_username=actor.get_username(), action=action, object_type=object_type,
        object_id=str(pk), object_repr=str(name)[:200], region_code=region or "", ip=job.ip if job else None,
        user_agent=job.user_agent if job else "", before=before, after=after,
        detail=ctx.detail % {"row": row_number},
    )


def _audit_row(ctx, action, object_type, pk, name, region, row_number, before, after, now) -> dict:
    """An audit event as plain values for `insert_rows` (same content as `_audit_event`)."""
    actor, job = ctx.actor, ctx.job
    return {"at": now, "actor_id": actor.pk, "actor_username": actor.get_username(), "action": action,
            "object_type": object_type, "object_id": str(pk), "object_repr": str(name)[:200],
            "region_code": region or "", "ip": job.ip if job else None, "user_agent": job.user_agent if job else "",
            "before": before, "after": after, "detail": ctx.detail % {"row": row_number}}


def _row_list(rows: list[int], limit: int = 20) -> str:
    text = "、".join(str(r) for r in rows[:limit])
    return text + ("…" if len(rows) > limit else "")


def _example_region(actor, levels) -> str:
    code = getattr(actor, "scope_code", "") or settings.DEFAULT_JURISDICTION_CODE
    region = Region.objects.filter(code__startswith=code, level__in=levels).order_by("code").first()
    if region is None:
        return code
    path = region_paths([region])[region.code].split("/")
    return "/".join(path[2:]) if len(path) > 2 else "/".join(path)


class _SimpleKind(Kind):
    """Organisations, facilities, practitioners: one model row per file row, fields compared one by one."""

    object_type = ""

    def find_existing(self, rows: list[Row], ctx) -> dict:
        raise NotImplementedError

    def region_of(self, obj_fields: dict, ctx) -> str:
        return obj_fields.get("region_id", "")

    def classify(self, rows, ctx, progress):
        good = [r for r in rows if r.clean]
        existing = self.find_existing(good, ctx)
        pks = [e["pk"] for e in existing.values()]
        visible = set(self.model.objects.restrict(ctx.actor, "change").filter(pk__in=pks)
                      .values_list("pk", flat=True)) if pks else set()
        for row in good:
            fields = row.clean["fields"]
            current = existing.get(row.key)
            if current is None:
                row.status = "new"
                row.plan = {"r": row.number, "op": "c", "f": {k: _json(v) for k, v in fields.items()}}
                if "identity" in row.clean:
                    info = row.clean["identity"]
                    row.plan["id"] = [info.number, pii.id_number_hash(info.number), pii.mask_id_number(info.number),
                                      info.birth_date.isoformat(), info.sex]
                continue
            if current["pk"] not in visible:
                row.add(self.identity_column, _("该记录已登记，但不在您的管理范围内，不能通过导入修改。"))
                continue
            changed = {k: v for k, v in fields.items() if current.get(k) != v}
            self.check_merged(row, current, changed)
            if row.errors:
                continue
            for k, v in changed.items():
                row.changes.append((k, current.get(k), v))
            if changed:
                row.status = "changed"
                row.plan = {"r": row.number, "op": "u", "pk": current["pk"],
                            "stamp": current["updated_at"].isoformat(),
                            "f": {k: _json(v) for k, v in changed.items()},
                            "before": {k: _json(current.get(k)) for k in changed}}
            else:
                row.status = "unchanged"

    identity_column = "name"

    def check_merged(self, row, current, changed) -> None:
        """Checks that need the register's values for the cells left empty."""

    def write(self, plan, ctx):
        model = self.model
        now = timezone.now()
        updates = [p for p in plan if p["op"] == "u"]
        creates = [p for p in plan if p["op"] == "c"]
        instances = {}
        pks = [p["pk"] for p in updates]
        for i in range(0, len(pks), 2000):
            instances.update(model.objects.select_for_update().in_bulk(pks[i:i + 2000]))
        stale = [p["r"] for p in updates
                 if p["pk"] not in instances or instances[p["pk"]].updated_at.isoformat() != p["stamp"]]
        if stale:
            raise ImportConflict(stale, _("预览之后，第 %(rows)s 行对应的记录已被修改或删除。本次导入没有写入任何数据，"
                                          "请重新上传文件。") % {"rows": _row_list(stale)})
        events, fields_changed = [], set()
        for p in updates:
            obj = instances[p["pk"]]
            for k, v in p["f"].items():
                setattr(obj, k, model._meta.get_field(k).to_python(v))
                fields_changed.add(k)
            obj.updated_at = now
            events.append(_audit_event(ctx, AuditAction.UPDATE, self.object_type, obj.pk, str(obj),
                                       self.region_of_obj(obj, ctx), p["r"], p["before"], p["f"]))
        if instances:
            model.objects.bulk_update(list(instances.values()), sorted(fields_changed | {"updated_at"}),
                                      batch_size=500)
        new = []
        for p in creates:
            obj = model(**{k: model._meta.get_field(k).to_python(v) for k, v in p["f"].items()})
            if "id" in p:
                number, digest, masked, birth, sex = p["id"]
                obj.id_number, obj.id_number_hash, obj.id_number_masked = number, digest, masked
                obj.birth_date, obj.sex = datetime.date.fromisoformat(birth), sex
            new.append(obj)
        insert_many(model, new)
        for p, obj in zip(creates, new, strict=True):
            events.append(_audit_event(ctx, AuditAction.CREATE, self.object_type, obj.pk, str(obj),
                                       self.region_of_obj(obj, ctx), p["r"], None, audit.snapshot(obj)))
        insert_many(AuditEvent, events)
        return {"created": len(creates), "updated": len(updates)}

    def region_of_obj(self, obj, ctx) -> str:
        return getattr(obj, "region_id", "") or ""


class OrganisationKindImport(_SimpleKind):
    key = ImportKind.ORGANISATIONS
    max_lengths = {"name": 128, "address": 200, "legal_representative": 64, "contact_person": 64}
    text_rules = {"name": validators.clean_organisation_name, "address": validators.clean_text,
                  "legal_representative": validators.clean_person_name, "contact_person": validators.clean_person_name}
    label = gettext_lazy("机构")
    sheet_name = "机构"
    columns = ORGANISATION_COLUMNS
    roles = {Role.BUREAU}
    model = Organisation
    object_type = "registry.organisation"
    FIELDS = ("name", "kind", "credit_code", "region_id", "address", "phone", "legal_representative",
              "contact_person")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.kinds = _choice_map(OrganisationKind, ORG_KIND_ALIASES)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        if len(name) > 128:
            row.add("name", _("名称过长（最多128字）。"))
        kind = _choice(self, row, "kind", self.kinds, what=_("机构类型"))
        if kind is None and not self.text(row, "kind"):
            row.add("kind", _("此项为必填项。"))
        code = ""
        if self.text(row, "credit_code"):
            code = _cell(row, "credit_code", pii.validate_credit_code, self.text(row, "credit_code")) or ""
        region = _region_in_scope(self, row, "region", ctx)
        phone = _phone(row, "phone", self.value(row, "phone"))
        if row.errors:
            return
        fields = {"name": name, "kind": kind, "region_id": region.code}
        for key, value in (("credit_code", code), ("phone", phone), ("address", self.text(row, "address")),
                           ("legal_representative", self.text(row, "legal_representative")),
                           ("contact_person", self.text(row, "contact_person"))):
            if value:
                fields[key] = value
        row.key = ("cc", code) if code else ("nr", name, region.code)
        row.clean = {"fields": fields}

    identity_column = "credit_code"

    def find_existing(self, rows, ctx):
        codes = [r.key[1] for r in rows if r.key[0] == "cc"]
        names = {r.clean["fields"]["name"] for r in rows}
        out = {}
        qs = Organisation.objects.filter(credit_code__in=codes) if codes else Organisation.objects.none()
        for o in qs.values("pk", "updated_at", *self.FIELDS):
            out[("cc", o["credit_code"])] = o
        if names:
            for o in Organisation.objects.filter(name__in=names).values("pk", "updated_at", *self.FIELDS):
                out.setdefault(("nr", o["name"], o["region_id"]), o)
        # A credit code newly given to an organisation registered without one: the same organisation.
        for r in rows:
            if r.key[0] == "cc" and r.key not in out:
                o = out.get(("nr", r.clean["fields"]["name"], r.clean["fields"]["region_id"]))
                if o is not None and not o["credit_code"]:
                    out[r.key] = o
        return out

    def conflicts(self, plan):
        codes = {p["f"].get("credit_code"): p["r"] for p in plan if p["op"] == "c" and p["f"].get("credit_code")}
        found = Organisation.objects.filter(credit_code__in=list(codes)).values_list("credit_code", flat=True)
        return sorted(codes[c] for c in found)

    def example_row(self, ctx):
        code = "91511903MA6" + "2XY3K4"
        code += pii.credit_code_check_char(code)
        return ["颐康居家养老服务有限公司" + EXAMPLE_MARKERS[1], "居家养老服务企业", code,
                _example_region(ctx.actor, ("street",)), "登科街道某某路 8 号", "0827-5551234", "王建国", "李娟"]


def _region_in_scope(kind: Kind, row: Row, key: str, ctx, levels=("county", "street", "community")):
    text = kind.text(row, key)
    if not text:
        row.add(key, _("此项为必填项。"))
        return None
    region, message = ctx.resolver.resolve(text)
    if region is None:
        row.add(key, message)
        return None
    if region.level not in levels:
        row.add(key, _("%(name)s 的层级不符，请选择到街道或社区。") % {"name": region.name})
        return None
    if not _in_scope(ctx.actor, region.code):
        row.add(key, _("所选区域不在您的辖区内。"))
        return None
    return region


class FacilityKindImport(_SimpleKind):
    key = ImportKind.FACILITIES
    max_lengths = {"name": 128, "address": 200, "opening_hours": 100}
    text_rules = {"name": validators.clean_organisation_name, "address": validators.clean_text,
                  "opening_hours": validators.clean_text}
    label = gettext_lazy("设施")
    sheet_name = "设施"
    columns = FACILITY_COLUMNS
    roles = {Role.BUREAU}
    model = Facility
    object_type = "registry.facility"
    FIELDS = ("name", "kind", "region_id", "operator_id", "address", "latitude", "longitude", "floor_area",
              "beds_total", "beds_nursing", "opening_hours", "is_inclusive")

    def prepare(self, ctx):
        super().prepare(ctx)
        self.kinds = _choice_map(FacilityKind, FACILITY_ALIASES)
        ctx.organisations = OrganisationResolver(ctx.actor)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        kind = _choice(self, row, "kind", self.kinds, what=_("设施类型"))
        if kind is None and not self.text(row, "kind"):
            row.add("kind", _("此项为必填项。"))
        region = _region_in_scope(self, row, "region", ctx)
        fields = {}
        if self.text(row, "operator"):
            pk, message = ctx.organisations.resolve(self.text(row, "operator"))
            if pk is None:
                row.add("operator", message)
            fields["operator_id"] = pk
        lat, lon = self.text(row, "latitude"), self.text(row, "longitude")
        if lat or lon:
            errors = Errors()
            fields["latitude"], fields["longitude"] = parse_coordinates(narrow(lat), narrow(lon), errors)
            for m in errors.get("latitude", []):
                row.add("latitude", m)
        if self.text(row, "floor_area"):
            area = _cell(row, "floor_area", decimal_cell, self.value(row, "floor_area"), _("建筑面积"))
            if area is not None:
                if area <= 0 or area >= 10**8:
                    row.add("floor_area", _("建筑面积应为正数。") if area <= 0 else _("建筑面积过大。"))
                else:
                    fields["floor_area"] = area.quantize(Decimal("0.01"))
        for key in ("beds_total", "beds_nursing"):
            if self.text(row, key):
                value = _cell(row, key, int_cell, self.value(row, key), _("床位数"))
                if value is not None and value > 100_000:
                    row.add(key, _("床位数过大。"))
                elif value is not None:
                    fields[key] = value
        if self.text(row, "is_inclusive"):
            value = _cell(row, "is_inclusive", bool_cell, self.value(row, "is_inclusive"))
            if value is not None:
                fields["is_inclusive"] = value
        for key in ("address", "opening_hours"):
            if self.text(row, key):
                fields[key] = self.text(row, key)
        if fields.get("beds_nursing", 0) > fields.get("beds_total", fields.get("beds_nursing", 0)):
            row.add("beds_nursing", _("护理型床位数不能超过总床位数。"))
        if row.errors:
            return
        fields.update({"name": name, "kind": kind, "region_id": region.code})
        row.key = ("nr", name, region.code)
        row.clean = {"fields": fields}

    def check_merged(self, row, current, changed):
        total = changed.get("beds_total", current["beds_total"])
        nursing = changed.get("beds_nursing", current["beds_nursing"])
        if nursing > total:
            row.add("beds_nursing", _("护理型床位数（%(n)s）不能超过总床位数（%(t)s）。") % {"n": nursing, "t": total})

    def find_existing(self, rows, ctx):
        names = {r.key[1] for r in rows}
        out = {}
        for f in Facility.objects.filter(name__in=names).values("pk", "updated_at", *self.FIELDS):
            out[("nr", f["name"], f["region_id"])] = f
        return out

    def conflicts(self, plan):
        keys = {(p["f"]["name"], p["f"]["region_id"]): p["r"] for p in plan if p["op"] == "c"}
        found = Facility.objects.filter(name__in=[k[0] for k in keys]).values_list("name", "region_id")
        return sorted(keys[k] for k in found if k in keys)

    def example_row(self, ctx):
        return ["登科街道养老服务中心" + EXAMPLE_MARKERS[1], "街道养老服务中心",
                _example_region(ctx.actor, ("street",)), "", "登科街道某某路 20 号", 31.8101, 106.6402, 1600, 60, 40,
                "8:00-18:00", "是"]


class StaffKindImport(_SimpleKind):
    key = ImportKind.STAFF
    max_lengths = {"name": 64, "certificate_number": 64, "skills": 200}
    text_rules = {"name": validators.clean_person_name, "certificate_number": validators.clean_text,
                  "skills": validators.clean_text}
    label = gettext_lazy("从业人员")
    sheet_name = "从业人员"
    columns = STAFF_COLUMNS
    roles = {Role.BUREAU, Role.PROVIDER}
    model = Practitioner
    object_type = "registry.practitioner"
    identity_column = "id_number"
    FIELDS = ("organisation_id", "name", "phone", "role", "certificate_level", "certificate_number", "skills",
              "start_date", "end_date")

    def required(self, ctx):
        keys = super().required(ctx)
        if ctx.organisation is None:
            keys.add("organisation")
        return keys

    def prepare(self, ctx):
        super().prepare(ctx)
        self.roles_map = _choice_map(PractitionerRole, ROLE_ALIASES)
        self.levels = _choice_map(CertificateLevel, LEVEL_ALIASES)
        ctx.organisations = None if ctx.organisation is not None else OrganisationResolver(ctx.actor)

    def validate(self, row, ctx):
        name = _required(self, row, "name")
        info = _identity(row, "id_number", self.value(row, "id_number"), ctx.today)
        phone = _phone(row, "phone", self.value(row, "phone"))
        if not self.text(row, "phone"):
            row.add("phone", _("此项为必填项。"))
        if ctx.organisation is not None:
            org_id = ctx.organisation.pk
            given = self.text(row, "organisation")
            if given and choice_key(given) != choice_key(ctx.organisation.name) and \
                    narrow(given).upper() != ctx.organisation.credit_code:
                row.add("organisation", _("只能导入本机构（%(name)s）的人员。") % {"name": ctx.organisation.name})
        else:
            org_id = None
            if not self.text(row, "organisation"):
                row.add("organisation", _("此项为必填项。"))
            else:
                org_id, message = ctx.organisations.resolve(self.text(row, "organisation"))
                if org_id is None:
                    row.add("organisation", message)
        role = _choice(self, row, "role", self.roles_map, what=_("岗位"))
        if role is None and not self.text(row, "role"):
            row.add("role", _("此项为必填项。"))
        level = _choice(self, row, "certificate_level", self.levels, what=_("职业技能等级"))
        start = None
        if not self.text(row, "start_date"):
            row.add("start_date", _("此项为必填项。"))
        else:
            start = _cell(row, "start_date", date_cell, self.value(row, "start_date"))
        end = _cell(row, "end_date", date_cell, self.value(row, "end_date")) if self.text(row, "end_date") else None
        if start and end and end < start:
            row.add("end_date", _("离职日期不能早于入职日期。"))
        if info is not None and start and start < info.birth_date:
            row.add("start_date", _("入职日期早于出生日期。"))
        if info is not None and org_id:
            row.key = (org_id, pii.id_number_hash(info.number))
        if row.errors:
            return
        fields = {"organisation_id": org_id, "name": name, "phone": phone, "role": role, "start_date": start}
        if level:
            fields["certificate_level"] = level
        if end:
            fields["end_date"] = end
        if self.text(row, "certificate_number"):
            fields["certificate_number"] = narrow(self.text(row, "certificate_number"))
        if self.text(row, "skills"):
            skills = [s.strip() for s in re.split(r"[,，、;；\s]+", self.text(row, "skills")) if s.strip()]
            fields["skills"] = ",".join(skills)
        row.clean = {"fields": fields, "identity": info}

    def find_existing(self, rows, ctx):
        out = {}
        hashes = [r.key[1] for r in rows]
        for i in range(0, len(hashes), 2000):
            for p in Practitioner.objects.filter(id_number_hash__in=hashes[i:i + 2000]).values(
                    "pk", "updated_at", "id_number_hash", *self.FIELDS):
                out[(p["organisation_id"], p["id_number_hash"])] = p
        return out

    def region_of_obj(self, obj, ctx):
        if obj.organisation_id not in ctx.org_regions:
            ctx.org_regions[obj.organisation_id] = Organisation.objects.filter(pk=obj.organisation_id).values_list(
                "region_id", flat=True).first() or ""
        return ctx.org_regions[obj.organisation_id]

    def conflicts(self, plan):
        keys = {(p["f"]["organisation_id"], p["id"][1]): p["r"] for p in plan if p["op"] == "c"}
        found = Practitioner.objects.filter(id_number_hash__in=[k[1] for k in keys]).values_list(
            "organisation_id", "id_number_hash")
        return sorted(keys[k] for k in found if k in keys)

    def example_row(self, ctx):
        number = "51190319800615" + "004"
        number += pii.id_check_char(number)
        org = ctx.organisation or Organisation.objects.restrict(ctx.actor, "change").order_by("name").first()
        org = org.name if org is not None else "颐康居家养老服务有限公司"
        return ["王丽" + EXAMPLE_MARKERS[1], number, "13700001234", org, "养老护理员", "四级/中级工", "S000123",
                "助浴、康复", "2022-03-01", ""]


KINDS: dict[str, Kind] = {k.key: k for k in (ElderKind(), OrganisationKindImport(), FacilityKindImport(),
                                             StaffKindImport())}


def kinds_for(user) -> list[Kind]:
    """The kinds this person may import: bureau all; street and community elders; a provider its own staff."""
    if not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return list(KINDS.values())
    out = [k for k in KINDS.values() if user.role in k.roles]
    if user.role == Role.PROVIDER and not user.organisation_id:
        out = []
    return out


def kind_for(user, key: str) -> Kind:
    for kind in kinds_for(user):
        if kind.key == key:
            return kind
    raise PermissionDenied


def context_for(user, kind: Kind, job: ImportJob | None = None) -> Context:
    organisation = user.organisation if kind.key == ImportKind.STAFF and user.role == Role.PROVIDER else None
    detail = _("Excel 导入（任务 #%(job)s，第 %(row)s 行）").replace("%(job)s", str(job.pk if job else "-"))
    return Context(actor=user, kind=kind, today=timezone.localdate(), organisation=organisation, job=job,
                   detail=detail.replace("%", "%%").replace("%%(row)s", "%(row)s"))


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


def analyse(kind: Kind, ctx: Context, data: bytes, progress=None) -> Analysis:
    """Read, validate and classify every row (nothing is written)."""
    analysis = read_rows(kind, ctx, data, progress)
    total = len(analysis.rows)
    kind.prepare(ctx)
    for i, row in enumerate(analysis.rows):
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
        if progress and i % 2000 == 0:
            progress("validating", i, total)
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


# ------------------------------------------------------------------------------------------- workbooks

def error_report(analysis: Analysis) -> bytes:
    """The bad rows as uploaded, in template column order, each bad cell highlighted, plus 原行号 and 错误.
    The sheet keeps the template's name and headers, so the corrected report can be imported again."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
    from openpyxl.styles import Alignment, Font, PatternFill

    from .exporting import cell_value

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


# ------------------------------------------------------------------------------------------- jobs

def seal(raw: bytes) -> bytes:
    """Compress, then encrypt with the PII keys (uploaded files and plans hold ID numbers and accounts)."""
    if not raw:
        return b""
    return pii.encrypt(base64.b64encode(zlib.compress(raw, 1)).decode("ascii")).encode("ascii")


def unseal(token) -> bytes:
    token = bytes(token or b"")
    if not token:
        return b""
    return zlib.decompress(base64.b64decode(pii.decrypt(token.decode("ascii"))))


class _Progress:
    """Writes progress to the job at most twice a second (autocommit: the polling page sees it at once)."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5 and phase == self.job.phase:
            return
        self.last = now
        self.job.phase = phase
        fields = {"phase": phase, "processed_rows": done}
        if total:
            fields["total_rows"] = total
        ImportJob.objects.filter(pk=self.job.pk).update(**fields)


def start_import(*, actor, kind_key: str, filename: str, data: bytes, ip: str | None = None,
                 user_agent: str = "") -> ImportJob:
    """Accept an upload: check it is a workbook, store it sealed, and validate it now or in the background."""
    kind = kind_for(actor, kind_key)
    try:
        uncompressed = sniff(data, max_bytes=max_file_bytes(), max_uncompressed=max_uncompressed_bytes())
    except WorkbookError as exc:
        raise ImportFileError(exc.code, exc.message) from None
    purge_import_data()  # data minimisation without a scheduler: old uploads go when new ones come
    job = ImportJob.objects.create(
        kind=kind.key, created_by=actor, scope_code=actor.scope_code or "", filename=(filename or "")[:255],
        file_size=len(data), source=seal(data), ip=ip, user_agent=(user_agent or "")[:200],
        organisation=actor.organisation if kind.key == ImportKind.STAFF and actor.role == Role.PROVIDER else None,
    )
    if uncompressed <= inline_max_bytes():
        validate_job(job)
    else:
        result = run_import_step.enqueue(job.pk, "validate")
        ImportJob.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
    job.refresh_from_db()
    return job


def _fail(job: ImportJob, message: str, **extra) -> None:
    job.status = ImportStatus.FAILED
    job.message = message
    job.finished_at = timezone.now()
    job.source = job.plan = b""
    for k, v in extra.items():
        setattr(job, k, v)
    job.save()


def validate_job(job: ImportJob) -> None:
    """Read, validate and classify the job's file; store preview, plan and error report (never raises)."""
    job.status, job.phase = ImportStatus.VALIDATING, "reading"
    job.save(update_fields=["status", "phase"])
    actor = job.created_by
    if actor is None or not actor.is_active:
        _fail(job, _("导入人的账号已停用。"))
        return
    try:
        kind = kind_for(actor, job.kind)
        ctx = context_for(actor, kind, job)
        analysis = analyse(kind, ctx, unseal(job.source), progress=_Progress(job))
        preview = preview_of(analysis)
        report = error_report(analysis) if analysis.counts["error"] else b""
        plan = [row.plan for row in analysis.rows if row.plan]
    except WorkbookError as exc:
        _fail(job, exc.message)
        return
    except PermissionDenied:
        _fail(job, _("您没有导入此类数据的权限。"))
        return
    except Exception:
        log.exception("import job %s: validation failed", job.pk)
        _fail(job, _("文件处理时发生意外错误，已记录。请检查文件后重试，或联系管理员。"))
        return
    job.status = ImportStatus.PREVIEW
    job.phase = ""
    job.counts = analysis.counts
    job.preview = preview
    job.total_rows = job.processed_rows = analysis.counts["rows"]
    job.plan = seal(json.dumps(plan, ensure_ascii=False, separators=(",", ":")).encode())
    job.error_report = seal(report)
    job.source = b""
    job.validated_at = timezone.now()
    job.save()


def confirm_import(*, actor, job: ImportJob) -> ImportJob:
    """The person confirms the preview: write the planned rows (inline, or in the background when many)."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied
    to_write = job.counts.get("new", 0) + job.counts.get("changed", 0)
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEW).update(
        status=ImportStatus.WRITING, phase="writing", confirmed_at=timezone.now(), processed_rows=0,
        total_rows=to_write)
    if not claimed:
        raise DomainError("import_not_pending", _("该导入已经确认、取消或失败，不能再次确认。"))
    job.refresh_from_db()
    if to_write <= inline_max_write_rows():
        write_job(job)
    else:
        result = run_import_step.enqueue(job.pk, "write")
        ImportJob.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
    job.refresh_from_db()
    return job


def write_job(job: ImportJob) -> None:
    """Write the plan in one transaction: every planned row or none (never raises)."""
    actor = job.created_by
    try:
        kind = kind_for(actor, job.kind)
        ctx = context_for(actor, kind, job)
        plan = json.loads(unseal(job.plan) or b"[]")
    except Exception:
        log.exception("import job %s: cannot load the plan", job.pk)
        _fail(job, _("导入计划无法读取，没有写入任何数据。请重新上传文件。"))
        return
    try:
        with transaction.atomic():
            result = kind.write(plan, ctx) if plan else {"created": 0, "updated": 0}
            counts = dict(job.counts, **{"written_" + k: v for k, v in result.items()})
            audit.record(actor=actor, action=AuditAction.IMPORT, instance=job, ip=job.ip,
                         object_repr=f"{kind.label}：{job.filename}"[:200], region_code=actor.scope_code or "",
                         after=counts, detail=(
                             f"kind={kind.key} file={job.filename} rows={job.counts.get('rows')} "
                             f"created={result.get('created')} updated={result.get('updated')} "
                             f"unchanged={job.counts.get('unchanged')} errors={job.counts.get('error')}")[:500])
            job.status = ImportStatus.DONE
            job.phase = ""
            job.counts = counts
            job.processed_rows = len(plan)
            job.plan = b""
            job.finished_at = timezone.now()
            job.save()
    except ImportConflict as exc:
        _fail(job, exc.message, counts=dict(job.counts, conflict_rows=exc.rows))
    except IntegrityError:
        rows = kind.conflicts(plan)
        if rows:
            message = _("预览之后，第 %(rows)s 行的记录已被他人登记。为避免重复，本次导入没有写入任何数据，"
                        "请重新上传文件。") % {"rows": _row_list(rows)}
        else:
            message = _("写入时数据库拒绝了其中的数据，本次导入没有写入任何数据。请重新上传文件。")
        _fail(job, message, counts=dict(job.counts, conflict_rows=rows))
    except Exception:
        log.exception("import job %s: write failed", job.pk)
        _fail(job, _("写入时发生意外错误，已全部撤销，没有写入任何数据。请稍后重试，或联系管理员。"))


def cancel_import(*, actor, job: ImportJob) -> None:
    if job.created_by_id != actor.pk:
        raise PermissionDenied
    if not ImportJob.objects.filter(pk=job.pk, status__in=[ImportStatus.PREVIEW, ImportStatus.QUEUED]).update(
            status=ImportStatus.CANCELLED, source=b"", plan=b"", finished_at=timezone.now()):
        raise DomainError("import_not_pending", _("该导入已经开始写入或已结束，不能取消。"))


def error_report_for(*, actor, job: ImportJob) -> bytes:
    """The error report, logged as an export (it holds the uploaded personal data)."""
    data = unseal(job.error_report)
    if data:
        audit.record(actor=actor, action=AuditAction.EXPORT, instance=job, region_code=actor.scope_code or "",
                     object_repr=f"{job.get_kind_display()}：{job.filename}"[:200],
                     detail=f"import error report, {job.counts.get('error', 0)} rows")
    return data


def purge_import_data(*, older_than_days: int | None = None) -> int:
    """Drop stored files, plans and error reports of jobs older than the given age (data minimisation)."""
    days = older_than_days if older_than_days is not None else int(getattr(settings, "YIYANG_IMPORT_KEEP_DAYS", 7))
    cutoff = timezone.now() - datetime.timedelta(days=days)
    return ImportJob.objects.filter(created_at__lt=cutoff).exclude(
        source=b"", plan=b"", error_report=b"").update(source=b"", plan=b"", error_report=b"")


@task()
def run_import_step(job_id: int, step: str) -> str:
    """Background work of an import (django-tasks; `manage.py db_worker`): "validate" or "write"."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None:
        return "missing"
    if step == "validate" and job.status == ImportStatus.QUEUED:
        validate_job(job)
    elif step == "write" and job.status == ImportStatus.WRITING:
        write_job(job)
    return ImportJob.objects.filter(pk=job_id).values_list("status", flat=True).first() or "missing"
