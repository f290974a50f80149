"""Excel import, bad input: every case from issue #4, each built as a real file. Each is either normalised or
reported per cell (or, for whole-file problems, rejected with a clear message); nothing partial is written."""

import datetime
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from yiyang.core.tests.factories import demo_roles
from yiyang.registry import importing
from yiyang.registry.import_xlsx import CellError, read_sheet
from yiyang.registry.models import Contact, Elder, ElderCategory, ImportJob
from yiyang.registry.services import name_pinyin
from yiyang.registry.tests.importkit import (
    ELDER_HEADERS,
    confirm,
    elder_row,
    issues,
    patch_sheet,
    person_id,
    run,
    workbook_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def file_error(actor, data: bytes) -> importing.ImportFileError:
    with pytest.raises(importing.ImportFileError) as exc:
        run(actor, data)
    assert not ImportJob.objects.exists()
    return exc.value


# ------------------------------------------------------------------------------------ the file as a whole

def test_empty_file(roles):
    assert file_error(roles["bureau"], b"").code == "empty"


def test_csv_saved_as_xlsx_is_recognised(roles):
    csv = "姓名,身份证号,居住地(社区)\n张三,511903194503120021,511903001002\n"
    for encoding in ("utf-8-sig", "gb18030"):
        err = file_error(roles["bureau"], csv.encode(encoding))
        assert err.code == "csv"
        assert "CSV" in err.message and "另存为" in err.message


def test_html_and_legacy_xls_and_other_zips(roles):
    assert file_error(roles["bureau"], b"<html><table><tr><td>1</td></tr></table></html>").code == "html"
    assert file_error(roles["bureau"], b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600).code == "xls"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("readme.txt", "hello")
    assert file_error(roles["bureau"], buffer.getvalue()).code == "not_xlsx"
    assert file_error(roles["bureau"], bytes(range(256)) * 10).code == "not_xlsx"


def test_malformed_xlsx(roles):
    data = workbook_bytes([elder_row(1)])
    err = file_error(roles["bureau"], data[: len(data) // 2])  # a truncated download
    assert err.code == "corrupt"
    # A zip whose sheet XML is garbage: the reader must not crash either.
    broken = patch_sheet(data, r"<sheetData>", "<sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>999</v></c>")
    job = run(roles["bureau"], broken)
    assert job.status in {"failed", "preview"}


def test_file_over_the_size_limit_is_refused_before_reading(roles, client, settings):
    # The 50 MB case, scaled: a real 21 MB upload against the real 20 MB limit.
    client.force_login(roles["bureau"])
    blob = b"PK\x03\x04" + b"\0" * (21 * 1024 * 1024)
    resp = client.post("/registry/import/upload/", {"kind": "elders", "file": SimpleUploadedFile("big.xlsx", blob)})
    assert resp.status_code == 422
    assert "超过上限 20.0 MB" in resp.content.decode()
    assert not ImportJob.objects.exists()
    settings.YIYANG_IMPORT_MAX_BYTES = 1000
    assert file_error(roles["bureau"], workbook_bytes([elder_row(1)])).code == "too_large"


def test_wrong_template_says_which_template_it_is(roles):
    org = workbook_bytes([["颐康", "居家养老服务企业", "", "511903001"]],
                         ["机构名称", "机构类型", "统一社会信用代码", "所在区域"], sheet="机构")
    job = run(roles["bureau"], org)
    assert job.status == "failed"
    assert "缺少必填列" in job.message and "身份证号" in job.message
    assert "“机构”" in job.message  # the hint: choose the organisations import
    unrelated = workbook_bytes([["a", "b"]], ["产品", "数量"], sheet="Sheet1")
    job = run(roles["bureau"], unrelated)
    assert job.status == "failed" and "下载导入模板" in job.message


def test_header_only_and_blank_sheets(roles):
    job = run(roles["bureau"], workbook_bytes([]))
    assert job.status == "failed" and "没有数据行" in job.message
    wb = Workbook()
    buffer = io.BytesIO()
    wb.save(buffer)
    job = run(roles["bureau"], buffer.getvalue())
    assert job.status == "failed" and "空的" in job.message


def test_too_many_rows(roles, settings):
    settings.YIYANG_IMPORT_MAX_ROWS = 2
    job = run(roles["bureau"], workbook_bytes([elder_row(i) for i in range(1, 4)]))
    assert job.status == "failed" and "超过 2 行" in job.message


# ------------------------------------------------------------------------------------ cells

def test_formulas_use_cached_values_and_uncached_ones_are_reported(roles):
    rows = [elder_row(1, 联系电话="x"), elder_row(2), elder_row(3)]
    data = workbook_bytes(rows, setup=lambda ws: ws.__setitem__("C3", '="139"&"00001111"'))
    # Row 2: a formula Excel has calculated (cached value in <v>), as Excel writes it.
    data = patch_sheet(data, r'<c r="C2"[^>]*>.*?</c>',
                       '<c r="C2" t="str"><f>"138"&amp;"00002222"</f><v>13800002222</v></c>')
    # Row 4: a formula whose result is an Excel error.
    data = patch_sheet(data, r'<c r="B4"[^>]*>.*?</c>', '<c r="B4" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    job = run(roles["bureau"], data)
    found = issues(job)
    assert job.counts["new"] == 1
    assert "没有保存计算结果" in found[(3, "联系电话")][0]  # openpyxl writes formulas without results
    assert "#DIV/0!" in found[(4, "身份证号")][0]
    assert any("公式单元格" in w for w in job.preview["warnings"])
    confirm(roles["bureau"], job)
    assert Elder.objects.get().phone == "13800002222"


def test_merged_cells_are_reported_on_every_row_they_cover(roles):
    data = workbook_bytes([elder_row(1), elder_row(2), elder_row(3)], setup=lambda ws: ws.merge_cells("E3:E4"))
    job = run(roles["bureau"], data)
    found = issues(job)
    assert "合并单元格 E3:E4" in found[(3, "居住地(社区)")][0]
    assert "合并单元格 E3:E4" in found[(4, "居住地(社区)")][0]
    assert job.counts == {"rows": 3, "new": 1, "changed": 0, "unchanged": 0, "error": 2, "skipped": 0}


def test_dates_as_text_serials_and_dates(roles):
    rows = [
        elder_row(1, 类别起始日期="2026-11-01"),
        elder_row(2, 类别起始日期="2026/11/1"),
        elder_row(3, 类别起始日期="2026年11月1日"),
        elder_row(4, 类别起始日期="20261101"),
        elder_row(5, 类别起始日期=46327),  # an Excel serial number in a General cell
        elder_row(6, 类别起始日期=datetime.datetime(2026, 11, 1)),  # a real date cell
        elder_row(7, 类别起始日期="２０２６－１１－０１"),  # full width
        elder_row(8, 类别起始日期=" 2026.11.01 "),
        elder_row(9, 类别起始日期="2026-02-30"),
        elder_row(10, 类别起始日期="11/1/2026"),
        elder_row(11, 类别起始日期="去年"),
        elder_row(12, 人员类别="特困：2019年5月10日、低保：43466"),
    ]
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    assert "不存在" in found[(10, "类别起始日期")][0]
    assert "年-月-日" in found[(11, "类别起始日期")][0]
    assert "无法识别的日期" in found[(12, "类别起始日期")][0]
    assert job.counts["new"] == 9
    confirm(roles["bureau"], job)
    starts = set(ElderCategory.objects.exclude(elder__name="测试12号").values_list("start_date", flat=True))
    assert starts == {datetime.date(2026, 11, 1)}
    per_category = dict(ElderCategory.objects.filter(elder__name="测试12号").values_list("kind", "start_date"))
    assert per_category == {"destitute": datetime.date(2019, 5, 10), "subsistence": datetime.date(2019, 1, 1)}


def test_id_numbers_phones_and_spaces_are_normalised(roles):
    rows = [
        elder_row(1, 身份证号=person_id(1).translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
        elder_row(2, 身份证号="  " + person_id(2) + "  ", 姓名=" 测试2号\u3000", 居住地址="某某路 2 号  "),
        elder_row(3, 联系电话=13812345678),  # a number, as typed into a General cell
        elder_row(4, 联系电话=1.3812345678e10),  # the same, stored in scientific notation
        elder_row(5, 联系电话="１３８１２３４５６７８", 居住地址="\t某某路5号\n"),
        elder_row(6, 身份证号=float(person_id(6)[:17] + "0")),  # Excel kept 15 digits of it
        elder_row(7, 联系电话="+86 138 1234 5678"),
    ]
    x_id = next(person_id(s) for s in range(8, 200) if person_id(s).endswith("X"))
    rows.append(elder_row(8, 身份证号=x_id.lower()))
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    assert list(found) == [(7, "身份证号")]
    assert "科学计数法" in found[(7, "身份证号")][0]
    confirm(roles["bureau"], job)
    elders = {e.name: e for e in Elder.objects.all()}
    assert elders["测试1号"].id_number == person_id(1)
    assert elders["测试2号"].id_number == person_id(2) and elders["测试2号"].address == "某某路 2 号"
    assert {elders[f"测试{i}号"].phone for i in (3, 4, 5, 7)} == {"13812345678"}
    assert elders["测试5号"].address == "某某路5号"
    assert elders["测试8号"].id_number == x_id


def test_bad_values_are_reported_per_cell(roles):
    rows = [
        elder_row(1, 身份证号=person_id(1)[:17] + ("0" if person_id(1)[17] != "0" else "1")),
        elder_row(2, 身份证号="51190319451312002X"),
        elder_row(3, 联系电话="1381234"),
        elder_row(4, 居住状况="住院"),
        elder_row(5, 人员类别="独居"),
        elder_row(6, 人员类别="重残"),
        elder_row(7, 人员类别="贫困户"),
        elder_row(8, 纬度=31.8),
        elder_row(9, 纬度=106.6, 经度=31.8),
        elder_row(10, 银行账号="6228-4800"),
        elder_row(11, 紧急联系人="", 联系人关系="儿子", 联系人电话="13912345678"),
        elder_row(12, 姓名=""),
        elder_row(13, 人员类别="高龄、低保"),  # 高龄 is derived from age: accepted, nothing stored
        elder_row(14, 居住地址="某" * 201),  # longer than the column: reported, not a failed write
    ]
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    assert "校验码错误" in found[(2, "身份证号")][0]
    assert "出生日期" in found[(3, "身份证号")][0]
    assert "电话号码" in found[(4, "联系电话")][0]
    assert "住院" in found[(5, "居住状况")][0]
    assert "居住状况" in found[(6, "人员类别")][0]
    assert "等级" in found[(7, "人员类别")][0]
    assert "贫困户" in found[(8, "人员类别")][0]
    assert "同时填写" in found[(9, "经度")][0]
    assert "填反" in found[(10, "纬度")][0]
    assert "12–30位" in found[(11, "银行账号")][0]
    assert "联系人姓名" in found[(12, "紧急联系人")][0]
    assert found[(13, "姓名")] == ["此项为必填项。"]
    assert "最多 200 个字" in found[(15, "居住地址")][0]
    assert job.counts["error"] == 13 and job.counts["new"] == 1
    confirm(roles["bureau"], job)
    assert list(ElderCategory.objects.values_list("kind", flat=True)) == ["subsistence"]


def test_regions_by_code_path_and_short_name(roles):
    rows = [
        elder_row(1, **{"居住地(社区)": "511903001002"}),
        elder_row(2, **{"居住地(社区)": "恩阳区/登科街道/登科寺社区居民委员会"}),
        elder_row(3, **{"居住地(社区)": "登科寺社区"}),
        elder_row(4, **{"居住地(社区)": "四川省 巴中市 恩阳区 登科街道"}),
        elder_row(5, **{"居住地(社区)": "511903001000"}),  # the 12-digit statistical form of the street
        elder_row(6, 户籍地="四川省/成都市/武侯区"),  # 户籍 outside the jurisdiction is fine
        elder_row(7, **{"居住地(社区)": "恩阳区/不存在社区"}),
        elder_row(8, **{"居住地(社区)": "511903"}),  # a county: too coarse for a residence
        elder_row(9, 户籍地="999999"),
        elder_row(10, **{"居住地(社区)": "巴州区/江北街道"}),  # exists, but outside the bureau's jurisdiction
    ]
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    assert "找不到区划" in found[(8, "居住地(社区)")][0]
    assert "层级不符" in found[(9, "居住地(社区)")][0]
    assert "不存在" in found[(10, "户籍地")][0]
    assert "辖区" in found[(11, "居住地(社区)")][0]
    assert job.counts["new"] == 6
    confirm(roles["bureau"], job)
    residence = dict(Elder.objects.values_list("name", "residence_region_id"))
    assert {residence[f"测试{i}号"] for i in (1, 2, 3)} == {"511903001002"}
    assert residence["测试4号"] == residence["测试5号"] == "511903001"
    assert Elder.objects.get(name="测试6号").hukou_region_id == "510107"


def test_ambiguous_region_names_are_not_guessed(roles):
    from yiyang.registry.importing import RegionResolver

    city = RegionResolver("5119")  # 巴中市: three villages called 莲花村
    region, message = city.resolve("莲花村")
    assert region is None and "多个区划" in message and "关公镇" in message
    assert city.resolve("关公镇/莲花村")[0].code == "511903112212"
    assert city.resolve("恩阳区 莲花村民委员会")[0].code == "511903112212"
    assert RegionResolver("511903").resolve("莲花村")[0].code == "511903112212"  # unique inside 恩阳区


def test_duplicates_inside_the_file(roles):
    rows = [elder_row(1), elder_row(2), elder_row(3, 身份证号=person_id(1).lower())]
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    assert "第 2、4 行" in found[(2, "身份证号")][0]
    assert "第 2、4 行" in found[(4, "身份证号")][0]
    assert job.counts["new"] == 1 and job.counts["error"] == 2


def test_example_row_extra_columns_and_header_not_on_the_first_row(roles):
    def title(ws):
        ws.insert_rows(1)
        ws["A1"] = "恩阳区老年人名单（2026年11月）"
        ws.merge_cells("A1:F1")  # a merged title above the header is fine

    headers = ELDER_HEADERS + ["性别", "年龄"]
    rows = [dict(elder_row(0, 姓名="张秀英（示例）"), 性别="女"), dict(elder_row(1), 年龄=81)]
    job = run(roles["bureau"], workbook_bytes(rows, headers, setup=title))
    assert job.status == "preview", job.message
    assert job.counts["skipped"] == 1 and job.counts["new"] == 1
    assert job.preview["header_row"] == 2
    assert any("性别" in w and "年龄" in w for w in job.preview["warnings"])


def test_reader_handles_prefixed_xml_cells_without_references_and_phonetic_runs():
    """Files from other writers: namespace prefixes, no `r` attributes, rich text with 拼音 guides, 1904 dates."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="r1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<x:workbook xmlns:x="{ns}" xmlns:r="{rel}"><x:workbookPr date1904="1"/>'
                   f'<x:sheets><x:sheet name="名单" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="/xl/worksheets/s.xml"/></Relationships>')
        z.writestr("xl/sharedStrings.xml", f'<x:sst xmlns:x="{ns}"><x:si><x:r><x:t>张</x:t></x:r><x:r><x:t>三'
                   f'</x:t></x:r><x:rPh sb="0" eb="1"><x:t>ZHANG</x:t></x:rPh></x:si><x:si><x:t>A&amp;B_x000D_'
                   f'</x:t></x:si></x:sst>')
        z.writestr("xl/styles.xml", f'<x:styleSheet xmlns:x="{ns}"><x:cellXfs count="2"><x:xf numFmtId="0"/>'
                   f'<x:xf numFmtId="14"/></x:cellXfs></x:styleSheet>')
        z.writestr("xl/worksheets/s.xml", f'<x:worksheet xmlns:x="{ns}"><x:sheetData><x:row><x:c t="s"><x:v>0'
                   f'</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c><x:c s="1"><x:v>1</x:v></x:c></x:row><x:row>'
                   f'<x:c t="inlineStr"><x:is><x:t xml:space="preserve"> 李四 </x:t></x:is></x:c></x:row>'
                   f'</x:sheetData><x:mergeCells><x:mergeCell ref="A2:B2"/></x:mergeCells></x:worksheet>')
    sheet = read_sheet(buffer.getvalue())
    assert sheet.name == "名单"
    assert sheet.rows[0] == (1, ["张三", "A&B\r", datetime.date(1904, 1, 2)])
    assert sheet.rows[1] == (2, [" 李四 "])
    assert [m.ref for m in sheet.merged] == ["A2:B2"]


def test_a_tiny_file_whose_cells_are_far_apart_is_refused_before_the_grid_is_built(roles):
    """calamine builds a dense grid of the used range: A1 and XFD1048576 would ask for terabytes."""
    data = workbook_bytes([elder_row(1)])
    for far in ('<c r="XFD1048576" t="n"><v>1</v></c>', '<c r="AZ400000" t="n"><v>1</v></c>'):
        job = run(roles["bureau"], patch_sheet(data, r"</row></sheetData>", f"{far}</row></sheetData>"))
        assert job.status == "failed" and "数据范围过大" in job.message, job.message
    # An empty styled cell far away holds no value: calamine leaves it out of the grid, and so does the check.
    job = run(roles["bureau"], patch_sheet(data, r"</row></sheetData>", '<c r="XFD1048576" s="0"/></row></sheetData>'))
    assert job.status == "preview" and job.counts["new"] == 1


def test_error_values_without_formulas_and_rows_without_references():
    data = workbook_bytes([elder_row(1), elder_row(2)])
    data = patch_sheet(data, r'<c r="B2"[^>]*>.*?</c>', '<c r="B2" t="e"><v>#N/A</v></c>')
    sheet = read_sheet(data)
    assert sheet.error_cells == 1 and sheet.formula_count == 0
    assert sheet.rows[1][1][1] == CellError("#N/A") and sheet.rows[2][1][0] == "测试2号"
    # Rows and cells without references are numbered one after the other, as Excel would.
    plain = patch_sheet(data, r' r="[A-Z]*\d+"', "")
    sheet = read_sheet(plain)
    assert [n for n, _v in sheet.rows] == [1, 2, 3] and sheet.rows[1][1][1] == CellError("#N/A")


def test_fast_pinyin_matches_the_register():
    import random

    names = ["王秀英", "单田芳", "曾国藩", "长孙无忌", "阿依古丽·买买提", "乐嘉", "Tom王", "欧阳娜娜", "解放", "朴槿惠",
             ""]
    rng = random.Random(3)
    chars = "王李张刘陈杨黄赵曾单解乐朴区仇秀英桂兰玉凤珍淑芳华明国强建军德福贵荣春长重行和朝都调"
    names += ["".join(rng.choice(chars) for _ in range(rng.randint(2, 4))) for _ in range(300)]
    # Parts that are phrases (长城, 重庆, 行长, 朝阳) change the reading of a character read alone otherwise.
    names += ["长城", "王长城", "重庆", "李行长", "朝阳", "张朝阳", "〇", "王〇", "调和", "李都"]
    assert [importing.fast_name_pinyin(n) for n in names] == [name_pinyin(n) for n in names]


def test_nothing_is_written_before_confirmation(roles):
    job = run(roles["bureau"], workbook_bytes([elder_row(1), elder_row(2)]))
    assert job.status == "preview" and job.counts["new"] == 2
    assert not Elder.objects.exists() and not Contact.objects.exists()
