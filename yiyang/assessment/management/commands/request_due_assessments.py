from django.core.management.base import BaseCommand

from yiyang.assessment.services import request_due_reassessments


class Command(BaseCommand):
    help = ("Open a routine reassessment request for every elder whose result runs out within --lead-days and who "
            "has nothing under way. Idempotent; run it daily (cron), or --enqueue it on the task queue.")

    def add_arguments(self, parser):
        parser.add_argument("--lead-days", type=int, default=30)
        parser.add_argument("--county", default="", help="Only this county (6-digit code)")
        parser.add_argument("--enqueue", action="store_true", help="Queue it for the task worker instead")

    def handle(self, *args, lead_days, county, enqueue, **options):
        if enqueue:
            from yiyang.assessment.tasks import request_due_reassessments as task

            result = task.enqueue(lead_days=lead_days, county_code=county)
            self.stdout.write(f"queued: {result.id}")
            return
        n = request_due_reassessments(lead_days=lead_days, county_code=county)
        self.stdout.write(f"requested {n} reassessments")
