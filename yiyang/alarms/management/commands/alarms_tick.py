"""The alarms' periodic work: escalations due, events stored but not processed, notifications due; with
--hourly also the silent devices and silent homes. Idempotent. Run it from cron every minute, or --loop it
beside the task worker (the demo does)."""

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--hourly", action="store_true", help="Also check silent devices and silent homes.")
        parser.add_argument("--loop", action="store_true",
                            help="Repeat every --every seconds (silent devices once an hour) until stopped.")
        parser.add_argument("--every", type=float, default=15.0)

    def handle(self, *args, hourly, loop, every, **options):
        from yiyang.alarms.services import check_silent_devices, escalate_due, process_pending, send_due_notifications

        last_hourly = 0.0
        while True:
            done = {"escalated": escalate_due(), "processed": process_pending(), "sent": send_due_notifications()}
            if hourly or (loop and time.monotonic() - last_hourly >= 3600):
                done.update(check_silent_devices())
                last_hourly = time.monotonic()
            if not loop:
                self.stdout.write(" ".join(f"{k}={v}" for k, v in done.items()))
                return
            if any(done.values()):
                self.stdout.write(" ".join(f"{k}={v}" for k, v in done.items()))
            time.sleep(max(every, 1.0))
