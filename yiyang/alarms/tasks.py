"""Background work of the alarms app (Django's tasks API, database queue).

Escalation is queued at each alarm's deadline (`run_after`), so it fires within the worker's poll interval of
the deadline with nobody looking at a page; `alarms_minutely_task` is the safety net (escalations whose queued
task was lost, events stored but not processed, notifications due), `alarms_hourly_task` the silent devices.
"""

from django_tasks import task


@task()
def escalate_alarms_task() -> int:
    from .services import escalate_due

    return escalate_due()


@task()
def send_notifications_task() -> int:
    from .services import send_due_notifications

    return send_due_notifications()


@task()
def alarms_minutely_task() -> dict:
    from .services import escalate_due, process_pending, send_due_notifications

    return {"escalated": escalate_due(), "processed": process_pending(), "sent": send_due_notifications()}


@task()
def alarms_hourly_task() -> dict:
    from .services import check_silent_devices

    return check_silent_devices()
