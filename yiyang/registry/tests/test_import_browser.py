"""Browser test (DESIGN.md §7): a community worker imports the community's elder list from Excel. The file is
processed as a background job; the page polls its progress (htmx) and reloads into the preview by itself."""

import datetime
import os

import pytest
from django.utils import timezone

from yiyang.browser_testing import sign_in, wait_for_object_page
from yiyang.core.services import load_regions
from yiyang.core.tests.factories import PASSWORD, demo_roles
from yiyang.registry import importing
from yiyang.registry.models import Elder, ImportJob
from yiyang.registry.tests.importkit import elder_row, workbook_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("YIYANG_SCREENSHOTS", "")


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"import-{name}.png"), full_page=True)


@pytest.fixture
def roles():
    load_regions(prefix="5119")
    return demo_roles()


def test_community_worker_imports_an_elder_list_in_the_background(page, roles, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # no worker: we run it
    settings.YIYANG_IMPORT_INLINE_BYTES = 0
    data = workbook_bytes([elder_row(1, 姓名="何淑珍"), elder_row(2, 姓名="蒲国华", 身份证号="5119031945"),
                           elder_row(3, 姓名="文淑芬", 联系电话="13700001111")])
    sign_in(page, "community", PASSWORD)
    page.goto(page.base_url + "/registry/import/?kind=elders")
    shot(page, "home")
    page.set_input_files("#id_file", files=[{"name": "登科寺社区名单.xlsx", "buffer": data,
                                             "mimeType": "application/octet-stream"}])
    page.get_by_role("button", name="上传并校验").click()
    wait_for_object_page(page, "/registry/import/")
    page.locator("#job-progress").wait_for()
    shot(page, "progress")
    job = ImportJob.objects.get()
    assert job.status == "queued"
    importing.run_import_step.call(job.pk, "validate")  # what `manage.py db_worker` does
    # The polling fragment notices the job left the running states and the page reloads into the preview.
    page.get_by_role("button", name="确认导入 2 行（新增 2，修改 0）").wait_for(timeout=10000)
    assert "身份证号应为18位" in page.locator(".import-issues").inner_text()
    shot(page, "preview")
    page.get_by_role("button", name="确认导入 2 行（新增 2，修改 0）").click()
    page.get_by_text("已写入：新增 2 条，修改 0 条。").wait_for()
    shot(page, "done")
    assert set(Elder.objects.values_list("name", flat=True)) == {"何淑珍", "文淑芬"}


def test_community_worker_fixes_a_broken_file_imports_it_finds_an_elder_and_registers_a_death(page, roles):
    """The issue's journey: import a file with an error, fix the row, import again (nothing duplicated), find
    the elder by pinyin initials and register a death."""
    broken = workbook_bytes([elder_row(1, 姓名="何淑珍"), elder_row(2, 姓名="蒲国华", 身份证号="5119031945")])
    sign_in(page, "community", PASSWORD)
    page.goto(page.base_url + "/registry/import/?kind=elders")
    page.set_input_files("#id_file", files=[{"name": "名单.xlsx", "buffer": broken,
                                             "mimeType": "application/octet-stream"}])
    page.get_by_role("button", name="上传并校验").click()
    wait_for_object_page(page, "/registry/import/")
    assert "身份证号应为18位" in page.locator(".import-issues").inner_text()
    page.get_by_role("button", name="确认导入 1 行（新增 1，修改 0）").click()
    page.get_by_text("已写入：新增 1 条，修改 0 条。").wait_for()
    # Fixed file: both rows, the second with its real ID number. The first is unchanged, the second new.
    fixed = workbook_bytes([elder_row(1, 姓名="何淑珍"), elder_row(2, 姓名="蒲国华")])
    page.goto(page.base_url + "/registry/import/?kind=elders")
    page.set_input_files("#id_file", files=[{"name": "名单-改.xlsx", "buffer": fixed,
                                             "mimeType": "application/octet-stream"}])
    page.get_by_role("button", name="上传并校验").click()
    wait_for_object_page(page, "/registry/import/")
    page.get_by_role("button", name="确认导入 1 行（新增 1，修改 0）").click()
    page.get_by_text("已写入：新增 1 条，修改 0 条。").wait_for()
    assert sorted(Elder.objects.values_list("name", flat=True)) == ["何淑珍", "蒲国华"]
    # Find 蒲国华 by pinyin initials and register the death.
    page.goto(page.base_url + "/registry/elders/")
    page.fill("#id_q", "pgh")
    page.wait_for_function("() => document.querySelectorAll('#elder-results tbody tr').length === 1")
    page.locator("#elder-results tbody tr").first.get_by_role("link", name="蒲国华").click()
    wait_for_object_page(page, "/registry/elders/")
    page.select_option("#status-action select[name=kind]", "death")
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page.fill("#status-action input[name=effective_date]", yesterday.isoformat())
    page.get_by_test_id("record-status").click()
    page.get_by_text(f"已登记：死亡（{yesterday}）。").wait_for()
    assert Elder.objects.get(name="蒲国华").status == "deceased"
