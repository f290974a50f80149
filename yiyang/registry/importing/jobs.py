"""Import jobs: start, validate, confirm, write, cancel, purge."""


from __future__ import annotations

import base64
import datetime
import json
import logging
import time
import zlib

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit, pii
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditAction, Role

from ..import_xlsx import WorkbookError, sniff
from ..models import (
    ImportJob,
    ImportKind,
    ImportStatus,
)
from .analysis import analyse, preview_of
from .cells import (
    ImportConflict,
    ImportFileError,
    inline_max_bytes,
    inline_max_write_rows,
    max_file_bytes,
    max_uncompressed_bytes,
)
from .simple import context_for, kind_for
from .workbooks import error_report
from .writes import _row_list

log = logging.getLogger(__name__)


log = logging.getLogger(__name__)

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
        from ..tasks import run_import_step  # the task module imports this one

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
        from ..tasks import run_import_step  # the task module imports this one

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
