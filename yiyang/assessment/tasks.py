"""Background work of the assessment app (Django's tasks API, database queue)."""

from django_tasks import task


@task()
def request_due_reassessments(lead_days: int = 30, county_code: str = "") -> int:
    """Daily: open a 常规评估 for every result running out within `lead_days` (idempotent)."""
    from .services import request_due_reassessments as run

    return run(lead_days=lead_days, county_code=county_code)
