"""The demo city: a real county (恩阳区, Bazhong, 511903) with its real streets and communities.

Each domain adds its demo data through a function registered in DEMO_STEPS (in order), so `demo_city`
stays one command. Everything is deterministic for a given seed.
"""

import datetime
import random
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from django.db import transaction
from django.utils import timezone

from .models import Region, Role, User
from .services import load_regions

DEMO_PASSWORD = "demo12345"
DEMO_SOURCE = "demo_city"  # the audit log's name for what the demo loader wrote
DEMO_COUNTY = "511903"  # 恩阳区
DEMO_STREET = "511903001"  # 登科街道
DEMO_COMMUNITY = "511903001002"  # 登科寺社区居民委员会


@dataclass
class DemoContext:
    seed: int
    scale: float
    rng: random.Random
    county: Region
    accounts: dict


DEMO_STEPS: list = []


def demo_step(func):
    DEMO_STEPS.append(func)
    return func


@demo_step
def organisations_and_accounts(ctx: DemoContext, log) -> None:
    from yiyang.registry.models import Organisation, OrganisationKind

    def org(name, kind, region, credit_code, address, phone):
        obj, _ = Organisation.objects.update_or_create(
            credit_code=credit_code,
            defaults={"name": name, "kind": kind, "region_id": region, "address": address, "phone": phone},
        )
        return obj

    agency = org("巴中市恩阳区康寿老年人能力评估中心", OrganisationKind.ASSESSMENT, DEMO_STREET,
                 "52511903MJ00000017", "恩阳区登科街道义阳路18号", "0827-3361201")
    provider = org("恩阳区颐康居家养老服务有限公司", OrganisationKind.PROVIDER, "511903002",
                   "91511903MA0000002Q", "恩阳区文治街道恩阳大道66号", "0827-3362202")
    accounts = [
        ("bureau", Role.BUREAU, "恩阳区民政局 李建华", {"region_id": DEMO_COUNTY}),
        ("street", Role.STREET, "登科街道 王秀英", {"region_id": DEMO_STREET}),
        ("community", Role.COMMUNITY, "登科寺社区 张丽", {"region_id": DEMO_COMMUNITY}),
        ("assessor", Role.ASSESSOR, "评估员 陈明", {"organisation": agency}),
        ("provider", Role.PROVIDER, "颐康调度 刘洋", {"organisation": provider}),
        ("caregiver", Role.CAREGIVER, "护理员 赵桂兰", {"organisation": provider}),
        ("family", Role.FAMILY, "家属 杨志强", {}),
    ]
    for username, role, name, scope in accounts:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.role = role
        user.display_name = name
        user.region_id = scope.get("region_id")
        user.organisation = scope.get("organisation")
        user.set_password(DEMO_PASSWORD)
        user.full_clean(exclude=["password", "id_number"])
        user.save()
        ctx.accounts[username] = user
    log(f"accounts: {', '.join(ctx.accounts)} (password {DEMO_PASSWORD})")


def _discover_demo_modules() -> None:
    """Import `<app>.demo` of every installed Yiyang app so its @demo_step functions register, in app order."""
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    for config in apps.get_app_configs():
        if config.name.startswith("yiyang.") and config.name != "yiyang.core":
            module = f"{config.name}.demo"
            if find_spec(module) is not None:
                import_module(module)


def build_demo_city(*, seed: int = 2026, scale: float = 1 / 20, log=print, upto: str | None = None) -> DemoContext:
    """The demo city, step by step, each step one transaction. `upto` (an app name such as "yiyang.registry")
    stops after that app's steps: a test of one domain builds only what that domain stands on."""
    _discover_demo_modules()
    n = load_regions()
    log(f"regions: {n} new, {Region.objects.count()} in all")
    county = Region.objects.get(code=DEMO_COUNTY)
    ctx = DemoContext(seed=seed, scale=scale, rng=random.Random(seed), county=county, accounts={})
    steps = ordered_steps()
    if upto is not None:
        from django.apps import apps

        names = [config.name for config in apps.get_app_configs()]
        if upto not in names:
            raise ValueError(f"no installed app {upto!r}")
        allowed = set(names[:names.index(upto) + 1])
        steps = [s for s in steps if _app_of(s, names) in allowed]
    from .audit import recorded_as

    # The loader writes through the services under the demo accounts' authority; the log says it was the loader.
    with recorded_as(DEMO_SOURCE):
        for step in steps:
            with transaction.atomic():
                step(ctx, log)
    return ctx


def _app_of(step, names: list[str]) -> str:
    module = step.__module__
    return max((n for n in names if module == n or module.startswith(n + ".")), key=len, default="")


def ordered_steps() -> list:
    """Steps in INSTALLED_APPS order (an app's demo builds on the apps before it), then in registration
    order within an app — whatever order a test happened to import the demo modules in."""
    from django.apps import apps

    names = [config.name for config in apps.get_app_configs()]

    def app_index(step) -> int:
        module = step.__module__
        return next((i for i, name in enumerate(names) if module == name or module.startswith(name + ".")),
                    len(names))

    return sorted(DEMO_STEPS, key=app_index)


@contextmanager
def clock_at(moment: datetime.datetime):
    """The services stamp "now": while a demo step writes the past through them (a visit, an alarm's step), now
    is its moment (never after the real now). Demo building only."""
    real = timezone.now()
    with mock.patch("django.utils.timezone.now", lambda: min(moment, real)):
        yield
