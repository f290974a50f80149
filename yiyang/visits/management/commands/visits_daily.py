"""`manage.py visits_daily`: the visits' daily run (cron or a systemd timer), safe to repeat."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Generate this month's visit tasks (windows not yet over), mark reminders and escalate "
            "overdue tasks to the street; running it again adds nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="Queue it as a background task instead.")

    def handle(self, *args, enqueue, **options):
        if enqueue:
            from yiyang.visits.tasks import visits_daily_task

            result = visits_daily_task.enqueue()
            self.stdout.write(f"queued {result.id}")
            return
        from yiyang.visits.services import daily_run

        counts = daily_run()
        self.stdout.write("visit tasks: {made} made, {reminded} reminded, {escalated} escalated".format(**counts))
