"""Excel import of organisations, facilities and practitioners (从业人员): the same engine, other identities."""

import datetime
import io

import pytest
from openpyxl import load_workbook

from yiyang.core import pii
from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import demo_roles, make_org
from yiyang.registry import importing
from yiyang.registry.models import Facility, Organisation, Practitioner
from yiyang.registry.tests.importkit import confirm, issues, person_id, run, workbook_bytes

pytestmark = pytest.mark.django_db

ORG_HEADERS = [c.header for c in importing.ORGANISATION_COLUMNS]
FACILITY_HEADERS = [c.header for c in importing.FACILITY_COLUMNS]
STAFF_HEADERS = [c.header for c in importing.STAFF_COLUMNS]


@pytest.fixture
def roles():
    return demo_roles()


def credit_code(seq: int) -> str:
    first17 = f"91511903MA62XY{seq:03d}"
    return first17 + pii.credit_code_check_char(first17)


def test_organisations_by_credit_code_or_name(roles):
    rows = [
        {"机构名称": "安康居家养老服务有限公司", "机构类型": "居家养老服务企业", "统一社会信用代码": credit_code(1),
         "所在区域": "登科街道", "联系电话": "0827-5551234"},
        {"机构名称": "夕阳红养老院", "机构类型": "养老院", "所在区域": "511903002"},
        {"机构名称": "坏代码", "机构类型": "社会组织", "统一社会信用代码": credit_code(2)[:17] + "0",
         "所在区域": "511903"},
        {"机构名称": "外区机构", "机构类型": "公办机构", "所在区域": "511902"},
        {"机构名称": "无类型", "所在区域": "511903"},
    ]
    job = run(roles["bureau"], workbook_bytes(rows, ORG_HEADERS, sheet="机构"), kind="organisations")
    found = issues(job)
    assert "校验位" in found[(4, "统一社会信用代码")][0]
    assert found[(5, "所在区域")] == ["所选区域不在您的辖区内。"]
    assert found[(6, "机构类型")] == ["此项为必填项。"]
    assert job.counts["new"] == 2
    confirm(roles["bureau"], job)
    assert Organisation.objects.get(credit_code=credit_code(1)).phone == "0827-5551234"
    assert Organisation.objects.get(name="夕阳红养老院").kind == "care_home"
    # Again, with a credit code newly known for the care home: same organisation, updated, not duplicated.
    rows[1]["统一社会信用代码"] = credit_code(3)
    job = run(roles["bureau"], workbook_bytes(rows[:2], ORG_HEADERS, sheet="机构"), kind="organisations")
    assert job.counts["changed"] == 1 and job.counts["unchanged"] == 1
    confirm(roles["bureau"], job)
    assert Organisation.objects.filter(name="夕阳红养老院").count() == 1
    assert Organisation.objects.get(name="夕阳红养老院").credit_code == credit_code(3)


def test_facilities_with_operator_beds_and_inclusive_flag(roles):
    make_org("安康", region="511903001", credit_code=credit_code(5))
    rows = [
        {"设施名称": "登科街道养老服务中心", "设施类型": "街道养老服务中心", "所在区域": "登科街道",
         "运营机构": credit_code(5), "床位数": 60, "护理型床位数": 40, "建筑面积(㎡)": "1,600.5", "普惠": "是",
         "纬度": "31.81", "经度": "106.64"},
        {"设施名称": "某日照中心", "设施类型": "日间照料中心", "所在区域": "登科寺社区", "床位数": 10,
         "护理型床位数": 12},
        {"设施名称": "某助餐点", "设施类型": "助餐点", "所在区域": "文治街道", "运营机构": "不存在的公司",
         "普惠": "也许"},
    ]
    job = run(roles["bureau"], workbook_bytes(rows, FACILITY_HEADERS, sheet="设施"), kind="facilities")
    found = issues(job)
    assert "不能超过" in found[(3, "护理型床位数")][0]
    assert "找不到机构" in found[(4, "运营机构")][0] and "是" in found[(4, "普惠")][0]
    confirm(roles["bureau"], job)
    facility = Facility.objects.get()
    assert (facility.beds_total, facility.beds_nursing, facility.is_inclusive) == (60, 40, True)
    assert str(facility.floor_area) == "1600.50" and facility.operator.name == "安康"
    # Raising nursing beds above the stored total is caught against the register's values.
    job = run(roles["bureau"], workbook_bytes([{"设施名称": "登科街道养老服务中心", "设施类型": "街道养老服务中心",
                                                 "所在区域": "登科街道", "护理型床位数": 70}], FACILITY_HEADERS,
                                                sheet="设施"), kind="facilities")
    assert "不能超过总床位数（60）" in issues(job)[(2, "护理型床位数")][0]


def test_provider_imports_its_own_staff_only(roles):
    provider = roles["provider"]
    rows = [
        {"姓名": "王丽", "身份证号": person_id(1, birth=datetime.date(1980, 6, 15)), "手机号": "13700001234",
         "岗位": "养老护理员", "职业技能等级": "四级", "技能": "助浴，康复 鼻饲", "入职日期": "2022-03-01"},
        {"姓名": "李强", "身份证号": person_id(2, birth=datetime.date(1985, 1, 1)), "手机号": "13700001235",
         "所属机构": "评估中心", "岗位": "社工", "入职日期": 44000},
        {"姓名": "赵敏", "身份证号": person_id(3, birth=datetime.date(1990, 1, 1)), "手机号": "13700001236",
         "岗位": "护士", "入职日期": "2023-01-01", "离职日期": "2022-01-01"},
    ]
    job = run(provider, workbook_bytes(rows, STAFF_HEADERS, sheet="从业人员"), kind="staff")
    found = issues(job)
    assert "只能导入本机构" in found[(3, "所属机构")][0]
    assert "离职日期" in found[(4, "离职日期")][0]
    confirm(provider, job)
    staff = Practitioner.objects.get()
    assert staff.organisation == provider.organisation and staff.skills == "助浴,康复,鼻饲"
    assert staff.certificate_level == "4" and staff.role == "caregiver"
    assert AuditEvent.objects.get(action="create", object_type="registry.practitioner").region_code == "511903002"
    again = run(provider, workbook_bytes(rows[:1], STAFF_HEADERS, sheet="从业人员"), kind="staff")
    assert again.counts["unchanged"] == 1
    # The template for a provider has no organisation to choose.
    wb = load_workbook(io.BytesIO(importing.template_workbook(importing.KINDS["staff"], provider)))
    assert wb["从业人员"]["D1"].value == "所属机构" and wb["从业人员"]["D2"].value == "颐康"


def test_bureau_staff_import_needs_the_organisation(roles):
    rows = [{"姓名": "王丽", "身份证号": person_id(1, birth=datetime.date(1980, 6, 15)), "手机号": "13700001234",
             "岗位": "养老护理员", "入职日期": "2022-03-01"},
            {"姓名": "王丽", "身份证号": person_id(1, birth=datetime.date(1980, 6, 15)), "手机号": "13700001234",
             "所属机构": "颐康", "岗位": "养老护理员", "入职日期": "2022-03-01"}]
    job = run(roles["bureau"], workbook_bytes(rows, STAFF_HEADERS, sheet="从业人员"), kind="staff")
    assert issues(job)[(2, "所属机构")] == ["此项为必填项。"]
    assert job.counts["new"] == 1


def test_every_template_imports_back_with_only_its_example_skipped(roles):
    for kind in importing.kinds_for(roles["bureau"]):
        data = importing.template_workbook(kind, roles["bureau"])
        job = run(roles["bureau"], data, kind=kind.key)
        assert job.status == "failed" and "示例行" in job.message, kind.key
        wb = load_workbook(io.BytesIO(data))
        ws = wb[kind.sheet_name]
        example = [c.value for c in ws[2]]
        example[0] = example[0].replace("（示例）", "")
        ws.append(example)
        buffer = io.BytesIO()
        wb.save(buffer)
        job = run(roles["bureau"], buffer.getvalue(), kind=kind.key)
        assert job.counts["skipped"] == 1 and job.counts["error"] == 0, (kind.key, issues(job))
