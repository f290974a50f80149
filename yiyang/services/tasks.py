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


@task()
def mark_orders_settled_task(settlement_id: int, actor_id: int | None = None) -> int:
    """After a large statement is approved: its orders become 已结算, in batches."""
    from .services import mark_orders_settled

    return mark_orders_settled(settlement_id=settlement_id, actor_id=actor_id)
