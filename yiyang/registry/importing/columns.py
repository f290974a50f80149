"""The columns of each kind's workbook and the row/context records an import passes around."""


from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy

from ..models import (
    CertificateLevel,
    FacilityKind,
    ImportJob,
    LivingSituation,
    Organisation,
    OrganisationKind,
    PractitionerRole,
    Relationship,
)
from .cells import printable

if TYPE_CHECKING:
    from .kinds import Kind
    from .resolvers import OrganisationResolver, RegionResolver

log = logging.getLogger(__name__)


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
