"""Background work of the visits app (Django's tasks API, database queue)."""

from django_tasks import task


@task()
def visits_daily_task() -> dict:
    """Daily (and safe to repeat): this month's tasks, reminders and escalation."""
    from .services import daily_run

    return daily_run()
