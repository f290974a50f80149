from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from yiyang.core.demo import DEMO_PASSWORD, build_demo_city


class Command(BaseCommand):
    help = "Set up the demo jurisdiction (恩阳区, Bazhong) with one account per role. Demo mode only."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--scale", type=float, default=1 / 20,
                            help="Share of the real population to generate (default 1/20)")

    def handle(self, *args, seed, scale, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_city creates accounts with a published password: set YIYANG_DEMO=1 to allow it.")
        if not 0 < scale <= 1:
            raise CommandError("--scale must be in (0, 1]")
        ctx = build_demo_city(seed=seed, scale=scale, log=self.stdout.write)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo city ready: 恩阳区 (511903). Sign in at http://127.0.0.1:8000/"))
        for username, user in ctx.accounts.items():
            self.stdout.write(f"  {username:<10} / {DEMO_PASSWORD}   {user.get_role_display()} · {user.display_name}")
