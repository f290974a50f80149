"""`manage.py services_daily`: the services' daily run (cron or a systemd timer), safe to repeat."""

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from yiyang.services.services import RECURRING_AHEAD_DAYS, generate_recurring_orders


class Command(BaseCommand):
    help = "Place the orders of standing orders (周期服务) for the coming days; running it again adds nothing."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=RECURRING_AHEAD_DAYS,
                            help="How many days ahead (default %(default)s).")
        parser.add_argument("--enqueue", action="store_true", help="Queue it as a background task instead.")

    def handle(self, *args, days, enqueue, **options):
        if enqueue:
            from yiyang.services.tasks import services_daily_task

            result = services_daily_task.enqueue(days)
            self.stdout.write(f"queued {result.id}")
            return
        today = timezone.localdate()
        counts = generate_recurring_orders(until=today + datetime.timedelta(days=days), today=today)
        self.stdout.write(f"recurring orders up to {today + datetime.timedelta(days=days)}: "
                          f"{counts['placed']} placed, {counts['existing']} already there, "
                          f"{counts['skipped']} skipped")
