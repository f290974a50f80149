"""Query budgets of the benefits app's list pages and list API endpoints (core/tests/query_budget.py): a line
per list. The world is the conftest's `longevity` (the demo roles and 高龄津贴 in 恩阳区)."""

import datetime

import pytest
from django.utils import timezone

from yiyang.benefits import rules, services
from yiyang.benefits.models import ProgrammeKind
from yiyang.benefits.tests import factories as f
from yiyang.benefits.tests.test_api import born, luhn_account
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry.models import FamilyLink

pytestmark = pytest.mark.django_db


def this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def rolls(w, n):
    """高龄津贴 rolls of earlier months (each month its own roll)."""
    made = []
    for _ in range(n):
        back = w.setdefault("_months", [0])
        back[0] += 1
        month = rules.add_months(timezone.localdate().replace(day=1), -back[0])
        made.append(f.generate(w["bureau"], w["prog"], month.strftime("%Y-%m")))
    return made


def elders(w, n, *, account=True):
    made = []
    for _ in range(n):
        s = seq(w)
        bank = {"bank_name": "农业银行", "bank_account": luhn_account(s)} if account else {}
        made.append(f.elder(w["community"], s, birth=born(85), name=f"老人{s}", **bank))
    return made


def roll(w):
    """This month's roll, generated again with whoever is registered now."""
    if "roll" not in w:
        w["roll"] = services.create_roll(actor=w["bureau"], programme=w["prog"], jurisdiction=w["bureau"].region,
                                         month=this_month())
    return services.generate_roll(actor=w["bureau"], roll=w["roll"])


def lines(w, n):
    made = elders(w, n)
    roll(w)
    return made


def checks(w, n):
    """Elders without a bank account: a check each."""
    made = elders(w, n, account=False)
    roll(w)
    return made


def mothers(w, n):
    made = elders(w, n)
    for e in made:
        FamilyLink.objects.create(user=w["family"], elder=e, relationship="daughter")
    roll(w)
    return made


def programmes(w, n):
    made = []
    for _ in range(n):
        s = seq(w)
        prog = f.programme(f"service{s}", kind=ProgrammeKind.SERVICE, name=f"服务补贴{s}")
        f.rule(prog, f.LONGEVITY)
        made.append(prog)
    return made


def rule_versions(w, n):
    return [f.rule(w["prog"], f.LONGEVITY, valid_from=datetime.date(2020, 1, 1) + datetime.timedelta(days=seq(w)))
            for _ in range(n)]


def roll_url(what):
    def url(w):
        return f"/{what}".replace("<pk>", str(w["roll"].pk))
    url.__name__ = what
    return url


def name(row):
    return row.name


BUDGETS = [
    Budget("/benefits/", "bureau", rolls, ceiling=8, shows=lambda r: f"/benefits/rolls/{r.pk}/"),
    Budget("/benefits/programmes/", "bureau", programmes, ceiling=6, shows=name),
    Budget(roll_url("benefits/rolls/<pk>/lines/"), "bureau", lines, ceiling=8, shows=name),
    Budget(roll_url("benefits/rolls/<pk>/"), "bureau", checks, ceiling=16, shows=name),
    Budget("/benefits/mine/", "family", mothers, ceiling=5, shows=name),
    Budget("/api/v1/benefits/rolls", "bureau", rolls, ceiling=4),
    Budget("/api/v1/benefits/programmes/longevity/rules", "bureau", rule_versions, ceiling=5),
    Budget(roll_url("api/v1/benefits/rolls/<pk>/lines"), "bureau", lines, ceiling=6),
    Budget(roll_url("api/v1/benefits/rolls/<pk>/checks"), "bureau", checks, ceiling=6),
    Budget("/api/v1/benefits/programmes", "bureau", programmes, ceiling=5),  # a plain list: every programme
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, longevity, budget):
    check(client, longevity, budget)

