"""Background work of the services app (Django's tasks API, database queue)."""

import datetime

from django_tasks import task


@task()
def services_daily_task(days_ahead: int = 7) -> dict:
    """The daily run: place the orders of the standing orders (周期服务) for the coming days."""
    from django.utils import timezone

    from .services import generate_recurring_orders

    today = timezone.localdate()
    return generate_recurring_orders(until=today + datetime.timedelta(days=days_ahead), today=today)
