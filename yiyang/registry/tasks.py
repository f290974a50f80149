"""Background tasks of the register (django-tasks; `manage.py db_worker`)."""

from __future__ import annotations

from django_tasks import task

from .importing.jobs import validate_job, write_job
from .models import ImportJob, ImportStatus


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
