"""Inline or background is decided by what reading a workbook costs, its uncompressed size, not by the size of
the upload (issue 13 §3: a 103 KB workbook inflating to 100 MB was validated inside the request, 16.8 s)."""

import io
import zipfile

import pytest

from yiyang.core.tests.factories import demo_roles
from yiyang.registry import importing
from yiyang.registry.import_xlsx import MAX_UNCOMPRESSED, sniff
from yiyang.registry.models import Elder, ImportJob
from yiyang.registry.tests.importkit import confirm, elder_row, patch_sheet, run, workbook_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def inflating_workbook(padding: int) -> bytes:
    """A real workbook (it opens in Excel) with two good rows and `padding` bytes of whitespace between its XML
    elements, which deflate to almost nothing."""
    data = workbook_bytes([elder_row(1), elder_row(2)])
    return patch_sheet(data, "<sheetData>", "<sheetData>" + " " * padding)


def uncompressed(data: bytes) -> int:
    return sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())


def test_a_small_upload_that_inflates_is_validated_in_the_background(roles, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    data = inflating_workbook(12 * importing.MiB)
    assert len(data) < 100_000  # smaller than the files the old rule validated inline (300 KB)
    assert uncompressed(data) > importing.inline_max_bytes()
    assert sniff(data, max_bytes=importing.max_file_bytes()) == uncompressed(data)
    job = run(roles["bureau"], data)
    assert job.status == "queued" and job.validated_at is None and job.task_id
    # The worker's step then validates it as any other file.
    importing.run_import_step.call(job.pk, "validate")
    job.refresh_from_db()
    assert job.status == "preview" and job.counts["new"] == 2


def test_an_ordinary_small_workbook_is_still_validated_in_the_request(roles, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    data = workbook_bytes([elder_row(i) for i in range(1, 41)])
    assert uncompressed(data) <= importing.inline_max_bytes()
    job = run(roles["bureau"], data)
    assert job.status == "preview" and job.counts["new"] == 40
    assert confirm(roles["bureau"], job).status == "done" and Elder.objects.count() == 40


def test_the_zip_bomb_limit_still_refuses_before_reading(roles, settings):
    assert MAX_UNCOMPRESSED == 800 * 1024 * 1024 and importing.max_uncompressed_bytes() == MAX_UNCOMPRESSED
    settings.YIYANG_IMPORT_MAX_UNCOMPRESSED = 4 * importing.MiB
    data = inflating_workbook(6 * importing.MiB)
    with pytest.raises(importing.ImportFileError) as exc:
        run(roles["bureau"], data)
    assert exc.value.code == "too_large" and "解压后超过 4.0 MB" in exc.value.message
    assert not ImportJob.objects.exists()
