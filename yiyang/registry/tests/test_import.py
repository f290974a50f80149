"""Excel import of elders: preview then confirm, all-or-nothing writes, idempotent re-import, exactly the changes
in the file, scope, the error report, the template round trip, the pages and the background job."""

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from yiyang.core import audit
from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import importing, services
from yiyang.registry.models import Contact, Elder, ElderCategory, ImportJob
from yiyang.registry.tests.importkit import (
    ELDER_HEADERS,
    confirm,
    elder_row,
    issues,
    person_id,
    report_rows,
    run,
    workbook_bytes,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def register(actor, seq, **fields):
    fields = {"name": f"测试{seq}号", "residence_region": "511903001002", "hukou_region": "511903",
              "phone": "13812345678"} | fields
    return services.register_elder(actor=actor, id_number=person_id(seq), **fields)


def snapshot():
    """Everything an import may touch, as comparable values."""
    return (
        sorted(Elder.objects.values_list("id_number_hash", "name", "phone", "residence_region_id", "address",
                                         "updated_at")),
        sorted(ElderCategory.objects.values_list("elder_id", "kind", "grade", "start_date", "end_date")),
        sorted(Contact.objects.values_list("elder_id", "name", "relationship", "phone")),
        AuditEvent.objects.count(),
    )


def test_import_writes_elders_categories_contacts_and_audit(roles):
    rows = [elder_row(1, 人员类别="特困、重残（二级）：2019-05-10", 纬度=31.8123, 经度=106.6345,
                      银行账号="6228480012345678901", 开户银行="农业银行", 账户名="测试1号"),
            elder_row(2, 紧急联系人="", 联系人关系="", 联系人电话="", 人员类别="")]
    job = run(roles["community"], workbook_bytes(rows))
    assert job.status == "preview" and job.counts["new"] == 2
    job = confirm(roles["community"], job)
    assert job.status == "done", job.message
    one = Elder.objects.get(name="测试1号")
    assert one.id_number == person_id(1) and one.birth_date == datetime.date(1945, 3, 12) and one.sex == "F"
    assert (one.name_pinyin, one.name_initials) == services.name_pinyin("测试1号")
    assert one.county_code == "511903" and one.living_situation == "alone"
    assert str(one.latitude) == "31.812300" and one.bank_account == "6228480012345678901"
    cats = {(c.kind, c.grade, c.start_date) for c in one.categories.all()}
    assert cats == {("destitute", "", datetime.date(2020, 1, 1)), ("severe_disability", "二级",
                                                                     datetime.date(2019, 5, 10))}
    assert list(one.contacts.values_list("name", "relationship", "phone")) == [("联系人1", "son", "13912345678")]
    assert not Elder.objects.get(name="测试2号").contacts.exists()
    created = AuditEvent.objects.filter(action="create", object_type="registry.elder")
    assert created.count() == 2
    event = created.get(object_id=str(one.pk))
    assert event.actor == roles["community"] and event.after["id_number"] == one.id_number_masked
    assert "6228480012345678901" not in str(event.after) and event.after["categories_added"]
    snapshot_now = audit.snapshot(one)  # the bulk write logs what the ordinary services would log
    assert {k: event.after[k] for k in snapshot_now} == snapshot_now
    assert set(event.after) - set(snapshot_now) == {"categories_added", "contact_added"}  # nothing else (updated_at)
    imported = AuditEvent.objects.get(action="import")
    assert imported.after["written_created"] == 2 and imported.object_id == str(job.pk)
    assert job.plan == b"" and job.source == b""  # sealed copies dropped once done


def test_reimporting_the_same_file_changes_nothing(roles):
    rows = [elder_row(i, 人员类别="特困、重残（二级）：2019-05-10" if i == 1 else "低保",
                      银行账号="6228480012345678901" if i == 2 else None, 纬度=31.81, 经度=106.63)
            for i in range(1, 6)]
    data = workbook_bytes(rows)
    confirm(roles["bureau"], run(roles["bureau"], data))
    before = snapshot()
    again = run(roles["bureau"], data)
    assert again.counts == {"rows": 5, "new": 0, "changed": 0, "unchanged": 5, "error": 0, "skipped": 0}
    assert again.preview["changes"] == []
    events = AuditEvent.objects.count()
    confirm(roles["bureau"], again)
    after = snapshot()
    assert after[:3] == before[:3]
    # Only the import itself is logged; no record was touched.
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.exclude(action="import").count() == before[3] - 1


def test_one_changed_row_shows_and_writes_exactly_that_change(roles):
    rows = [elder_row(i) for i in range(1, 4)]
    confirm(roles["bureau"], run(roles["bureau"], workbook_bytes(rows)))
    before = {e.pk: (e.phone, e.address, e.updated_at) for e in Elder.objects.all()}
    rows[1]["联系电话"] = "13700001111"
    job = run(roles["bureau"], workbook_bytes(rows))
    assert job.counts["changed"] == 1 and job.counts["unchanged"] == 2
    assert job.preview["changes"] == [{"row": 3, "label": "测试2号 " + person_id(2)[:4] + "*" * 10 + person_id(2)[-4:],
                                       "fields": [["联系电话", "13812345678", "13700001111"]]}]
    confirm(roles["bureau"], job)
    changed = Elder.objects.get(name="测试2号")
    assert changed.phone == "13700001111"
    for e in Elder.objects.exclude(pk=changed.pk):
        assert (e.phone, e.address, e.updated_at) == before[e.pk]
    update = AuditEvent.objects.get(action="update", object_type="registry.elder")
    assert update.object_id == str(changed.pk)
    assert update.before == {"phone": "13812345678"} and update.after == {"phone": "13700001111"}


def test_empty_cells_keep_values_and_categories_and_contacts_merge(roles):
    elder = register(roles["bureau"], 1, address="老地址", categories=[{"kind": "subsistence", "start_date":
                                                                       "2018-01-01"}],
                     contacts=[{"name": "联系人1", "relationship": "son", "phone": "13912345678"}])
    row = elder_row(1, 居住地址=None, 人员类别="低保、特困：2024-01-01", 类别起始日期=None, 联系人电话="13900000000")
    job = run(roles["bureau"], workbook_bytes([row]))
    assert job.counts["changed"] == 1, issues(job)
    fields = job.preview["changes"][0]["fields"]
    assert ["居住状况", "", "独居"] in fields
    assert ["人员类别", "", "特困：2024-01-01"] in fields
    assert ["紧急联系人", "联系人1 13912345678", "联系人1 13900000000"] in fields
    confirm(roles["bureau"], job)
    elder.refresh_from_db()
    assert elder.address == "老地址" and elder.living_situation == "alone"
    assert set(elder.categories.values_list("kind", "start_date")) == {
        ("subsistence", datetime.date(2018, 1, 1)), ("destitute", datetime.date(2024, 1, 1))}
    assert list(elder.contacts.values_list("name", "phone")) == [("联系人1", "13900000000")]


def test_new_category_without_a_start_date_is_an_error(roles):
    job = run(roles["bureau"], workbook_bytes([elder_row(1, 类别起始日期=None)]))
    assert "起始日期" in issues(job)[(2, "类别起始日期")][0]
    assert job.counts["error"] == 1


def test_failure_in_the_last_row_leaves_the_database_unchanged(roles):
    """A real failure at write time: after the preview, someone registers the person of the file's last row.
    The earlier rows (an update, then new people) must not survive the failed write."""
    existing = register(roles["bureau"], 1)
    rows = [elder_row(1, 联系电话="13700001111"), elder_row(2), elder_row(3), elder_row(4)]
    job = run(roles["bureau"], workbook_bytes(rows))
    assert job.counts == {"rows": 4, "new": 3, "changed": 1, "unchanged": 0, "error": 0, "skipped": 0}
    register(roles["street"], 4)  # concurrently, through the ordinary form
    before = snapshot()
    job = confirm(roles["bureau"], job)
    assert job.status == "failed"
    assert "第 5 行" in job.message and "没有写入任何数据" in job.message
    assert job.counts["conflict_rows"] == [5]
    assert snapshot() == before
    existing.refresh_from_db()
    assert existing.phone == "13812345678"
    assert not AuditEvent.objects.filter(action="import").exists()


def test_an_elder_edited_after_the_preview_is_not_overwritten(roles):
    elder = register(roles["bureau"], 1)
    job = run(roles["bureau"], workbook_bytes([elder_row(2), elder_row(1, 联系电话="13700001111")]))
    services.update_elder(actor=roles["street"], elder=elder, address="刚改的地址")
    before = snapshot()
    job = confirm(roles["bureau"], job)
    assert job.status == "failed" and "第 3 行" in job.message
    assert snapshot() == before


def test_confirm_twice_or_after_cancel_writes_once(roles):
    job = run(roles["bureau"], workbook_bytes([elder_row(1)]))
    confirm(roles["bureau"], job)
    with pytest.raises(importing.DomainError):
        confirm(roles["bureau"], job)
    assert Elder.objects.count() == 1
    job = run(roles["bureau"], workbook_bytes([elder_row(2)]))
    importing.cancel_import(actor=roles["bureau"], job=job)
    with pytest.raises(importing.DomainError):
        confirm(roles["bureau"], job)
    assert Elder.objects.count() == 1


def test_community_worker_imports_only_inside_their_community(roles):
    outsider = register(roles["bureau"], 9, residence_region="511903001001")  # 新场, another community
    rows = [elder_row(1), elder_row(2, **{"居住地(社区)": "登科街道/新场社区"}), elder_row(9)]
    job = run(roles["community"], workbook_bytes(rows))
    found = issues(job)
    assert found[(3, "居住地(社区)")] == ["所选区域不在您的辖区内。"]
    assert "其他辖区登记" in found[(4, "身份证号")][0]
    assert job.counts["new"] == 1 and job.counts["error"] == 2
    confirm(roles["community"], job)
    outsider.refresh_from_db()
    assert outsider.residence_region_id == "511903001001" and outsider.name == "测试9号"


def test_error_report_points_at_the_right_cells(roles):
    bad_id = person_id(3)[:17] + ("1" if person_id(3)[17] != "1" else "2")
    rows = [elder_row(1), elder_row(2), elder_row(3, 身份证号=bad_id), elder_row(4),
            elder_row(5, 类别起始日期="2026-13-01", 联系电话="12345")]
    job = run(roles["bureau"], workbook_bytes(rows))
    header, report, ws = report_rows(job)
    assert header == ["*" + h if h in ("姓名", "身份证号", "户籍地", "居住地(社区)") else h
                      for h in ELDER_HEADERS if h in job.preview["columns"]] + ["原行号", "错误"]
    assert [r["原行号"] for r in report] == [4, 6]
    assert report[0]["*身份证号"] == bad_id
    assert report[0]["错误"].startswith("B列 身份证号：身份证号校验码错误")
    assert "C列 联系电话：电话号码 12345 无效" in report[1]["错误"]
    assert "K列 类别起始日期：日期“2026-13-01”不存在" in report[1]["错误"]

    def red(cell):
        return cell.fill.fgColor.rgb.endswith("FFC7CE")

    highlighted = {(c.row, header[c.column - 1]) for row in ws.iter_rows(min_row=2) for c in row if red(c)}
    assert highlighted == {(2, "*身份证号"), (3, "联系电话"), (3, "类别起始日期")}
    # Fix the report and import it as it is: the extra columns are ignored, the two people are added.
    wb = load_workbook(io.BytesIO(importing.unseal(job.error_report)))
    sheet = wb.worksheets[0]
    sheet["B2"] = person_id(3)
    sheet["C3"] = "13812345678"
    sheet["K3"] = "2026-11-01"
    buffer = io.BytesIO()
    wb.save(buffer)
    confirm(roles["bureau"], job)
    again = run(roles["bureau"], buffer.getvalue(), filename="错误报告.xlsx")
    assert again.counts["new"] == 2 and again.counts["error"] == 0, issues(again)


def test_template_round_trip_with_one_changed_row(roles, client):
    client.force_login(roles["bureau"])
    resp = client.get("/registry/import/templates/elders.xlsx")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames[:2] == ["老年人", "填写说明"]
    ws = wb["老年人"]
    assert [c.value for c in ws[1]][:5] == ["*姓名", "*身份证号", "联系电话", "*户籍地", "*居住地(社区)"]
    assert ws["A2"].value.endswith("（示例）")
    assert {str(dv.sqref).split(":")[0] for dv in ws.data_validations.dataValidation} >= {"E2", "I2", "M2"}
    for i in range(1, 4):
        ws.append([elder_row(i).get(h) for h in ELDER_HEADERS])

    def save():
        buffer = io.BytesIO()
        wb.save(buffer)
        return buffer.getvalue()

    job = run(roles["bureau"], save())
    assert job.counts == {"rows": 3, "new": 3, "changed": 0, "unchanged": 0, "error": 0, "skipped": 1}
    confirm(roles["bureau"], job)
    ws["F4"] = "登科街道某某路 99 号"  # row 4 is the second person
    job = run(roles["bureau"], save())
    assert job.counts == {"rows": 3, "new": 0, "changed": 1, "unchanged": 2, "error": 0, "skipped": 1}
    assert job.preview["changes"][0]["fields"] == [["居住地址", "登科街道某某路2号", "登科街道某某路 99 号"]]
    confirm(roles["bureau"], job)
    assert Elder.objects.get(name="测试2号").address == "登科街道某某路 99 号"


def test_pages_upload_preview_confirm(roles, client):
    client.force_login(roles["street"])
    home = client.get("/registry/import/?kind=elders")
    assert home.status_code == 200 and "老年人导入模板" in home.content.decode()
    data = workbook_bytes([elder_row(1), elder_row(2, 身份证号="123")])
    resp = client.post("/registry/import/upload/", {"kind": "elders", "file": SimpleUploadedFile("名单.xlsx", data)})
    assert resp.status_code == 302
    page = client.get(resp["Location"]).content.decode()
    assert "确认导入 1 行" in page and "身份证号应为18位" in page and "下载错误报告" in page
    job = ImportJob.objects.get()
    report = client.get(f"/registry/import/{job.pk}/errors.xlsx")
    assert report.status_code == 200 and "filename" in report["Content-Disposition"]
    assert AuditEvent.objects.filter(action="export", object_id=str(job.pk)).exists()
    done = client.post(f"/registry/import/{job.pk}/confirm/", follow=True).content.decode()
    assert "已写入：新增 1 条" in done
    assert Elder.objects.count() == 1
    # Errors on upload come back on the form with the reason.
    resp = client.post("/registry/import/upload/", {"kind": "elders", "file": SimpleUploadedFile("a.xlsx", b"a,b\n")})
    assert resp.status_code == 422 and "CSV" in resp.content.decode()


def test_who_may_import_what(roles, client):
    job = run(roles["bureau"], workbook_bytes([elder_row(1)]))
    expectations = {
        "bureau": {"elders": 200, "organisations": 200, "facilities": 200, "staff": 200},
        "street": {"elders": 200, "organisations": 404, "facilities": 404, "staff": 404},
        "community": {"elders": 200, "organisations": 404, "facilities": 404, "staff": 404},
        "provider": {"elders": 404, "organisations": 404, "facilities": 404, "staff": 200},
        "assessor": {"elders": 404, "staff": 404},
        "caregiver": {"elders": 404},
        "family": {"elders": 404},
    }
    for name, kinds in expectations.items():
        client.force_login(roles[name])
        home = client.get("/registry/import/")
        assert home.status_code == (404 if name in ("assessor", "caregiver", "family") else 200), name
        for kind, status in kinds.items():
            assert client.get(f"/registry/import/templates/{kind}.xlsx").status_code == status, (name, kind)
            if status == 404 and home.status_code == 200:
                data = workbook_bytes([elder_row(1)])
                resp = client.post("/registry/import/upload/", {"kind": kind, "file": SimpleUploadedFile("a.xlsx",
                                                                                                         data)})
                assert resp.status_code == 422 and not ImportJob.objects.exclude(pk=job.pk).exists()
        # Someone else's job is not found, whatever the role.
        if name != "bureau":
            for url in ("", "status/", "errors.xlsx"):
                assert client.get(f"/registry/import/{job.pk}/{url}").status_code == 404
            assert client.post(f"/registry/import/{job.pk}/confirm/").status_code == 404
    assert ImportJob.objects.get(pk=job.pk).status == "preview"


def test_large_file_runs_as_a_background_task_with_progress(roles, client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.YIYANG_IMPORT_INLINE_BYTES = 0  # every file counts as large
    settings.YIYANG_IMPORT_INLINE_WRITE_ROWS = 0
    client.force_login(roles["bureau"])
    data = workbook_bytes([elder_row(i) for i in range(1, 30)])
    resp = client.post("/registry/import/upload/", {"kind": "elders", "file": SimpleUploadedFile("big.xlsx", data)})
    job = ImportJob.objects.get()
    assert job.status == "queued" and job.task_id
    page = client.get(resp["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page
    status = client.get(f"/registry/import/{job.pk}/status/")
    assert "HX-Refresh" not in status and "every 1s" in status.content.decode()
    # The worker (db_worker) runs the queued step; here the task function is called as the worker would.
    progress = []
    original = importing._Progress.__call__

    def spy(self, phase, done, total):
        progress.append(phase)
        return original(self, phase, done, total)

    importing._Progress.__call__ = spy
    try:
        importing.run_import_step.call(job.pk, "validate")
    finally:
        importing._Progress.__call__ = original
    assert {"validating", "comparing"} <= set(progress)
    job.refresh_from_db()
    assert job.status == "preview" and job.counts["new"] == 29 and job.total_rows == 29
    assert client.get(f"/registry/import/{job.pk}/status/")["HX-Refresh"] == "true"
    # Confirming enqueues the write; with the immediate backend it runs at once, as a worker would.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client.post(f"/registry/import/{job.pk}/confirm/")
    job.refresh_from_db()
    assert job.status == "done" and Elder.objects.count() == 29


def test_background_validation_with_the_immediate_backend(roles, client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.YIYANG_IMPORT_INLINE_BYTES = 0
    client.force_login(roles["community"])
    data = workbook_bytes([elder_row(1), elder_row(2, 联系电话="1")])
    resp = client.post("/registry/import/upload/", {"kind": "elders", "file": SimpleUploadedFile("a.xlsx", data)})
    job = ImportJob.objects.get()
    assert job.status == "preview" and job.counts["error"] == 1
    assert "确认导入 1 行" in client.get(resp["Location"]).content.decode()


def test_key_sets_select_the_same_rows_as_plain_lists(roles):
    """The large-set lookup (a COPY-filled temporary table on PostgreSQL, chunks elsewhere) used by classify."""
    elders = [register(roles["bureau"], i) for i in range(1, 6)]
    hashes = [e.id_number_hash for e in elders[:3]] + ["0" * 64]
    for _ in range(2):  # twice: the temporary table is reused within a transaction
        found = {h for ks in importing.key_sets(hashes, chunk=2)
                 for h in Elder.objects.filter(id_number_hash__in=ks).values_list("id_number_hash", flat=True)}
        assert found == set(hashes[:3])
        pks = {pk for ks in importing.key_sets([e.pk for e in elders[1:4]], integer=True, chunk=2)
               for pk in Elder.objects.filter(pk__in=ks).values_list("pk", flat=True)}
        assert pks == {e.pk for e in elders[1:4]}


def test_stored_files_and_reports_are_sealed_and_purged(roles):
    data = workbook_bytes([elder_row(1), elder_row(2, 身份证号="1")])
    job = run(roles["bureau"], data)
    raw = bytes(ImportJob.objects.filter(pk=job.pk).values_list("error_report", flat=True).get())
    assert raw and b"PK" not in raw[:4] and person_id(1).encode() not in raw  # encrypted at rest
    plan = bytes(ImportJob.objects.filter(pk=job.pk).values_list("plan", flat=True).get())
    assert person_id(1).encode() not in plan
    ImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at - datetime.timedelta(days=8))
    run(roles["bureau"], workbook_bytes([elder_row(3)]))  # a new upload purges what is older than 7 days
    old = ImportJob.objects.get(pk=job.pk)
    assert bytes(old.plan) == b"" and bytes(old.error_report) == b"" and old.counts["new"] == 1


def test_two_process_validation_finds_exactly_what_one_process_finds(roles, settings, caplog):
    # Good rows, bad rows of every kind, a duplicate pair across the two halves, a region outside the
    # jurisdiction (looked up in the database) and one that does not exist.
    rows = [elder_row(i) for i in range(1, 9)]
    rows[1]["身份证号"] = person_id(2)[:16]
    rows[2]["联系电话"] = "1381234"
    rows[3]["户籍地"] = "110105"
    rows[4]["居住地(社区)"] = "恩阳区/不存在社区"
    rows[5]["人员类别"] = "重残"
    rows[6]["身份证号"] = person_id(1)
    rows.append(elder_row(9, 类别起始日期="2024-02-30", 户籍地="北京市/朝阳区"))
    data = workbook_bytes(rows)
    settings.YIYANG_IMPORT_PARALLEL_ROWS = 0
    one = run(roles["bureau"], data)
    settings.YIYANG_IMPORT_PARALLEL_ROWS = 2
    two = run(roles["bureau"], data)
    assert "validating" not in caplog.text  # the second process did its half (it says so when it cannot)
    assert two.counts == one.counts and one.counts["error"] >= 6 and one.counts["new"] >= 1
    # The sheet rows of elders 1-3, 5-7 and 9 (the header is row 1).
    assert two.preview == one.preview and {r for r, _h in issues(two)} >= {2, 3, 4, 6, 7, 8, 10}
    assert importing.unseal(two.plan) == importing.unseal(one.plan)
    assert confirm(roles["bureau"], two).status == "done"
    assert set(Elder.objects.values_list("name", flat=True)) == {"测试8号"} | (
        {"测试4号"} if one.counts["new"] == 2 else set())
