import time

from django.core.management.base import BaseCommand

from yiyang.core.services import load_regions


class Command(BaseCommand):
    help = "Load the administrative-division tree (2023 statistical codes) from the shipped data file."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", default="", help="Only this code's subtree and its ancestors (e.g. 5119)")

    def handle(self, *args, prefix, **options):
        started = time.perf_counter()
        n = load_regions(prefix=prefix)
        self.stdout.write(f"loaded {n} new regions in {time.perf_counter() - started:.1f} s")
