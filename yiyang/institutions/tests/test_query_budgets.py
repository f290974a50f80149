"""Query budgets of the institutions' list API endpoints (core/tests/query_budget.py): a line per list. The world
is the conftest's (福寿养老院 with four beds, its manager `carehome`)."""

import pytest

from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.institutions import services

from .factories import make_home, make_room

pytestmark = pytest.mark.django_db


def homes(w, n):
    return [make_home(w["bureau"], name=f"养老院{s}", manager=f"m{s}")[0] for s in (seq(w) for _ in range(n))]


def beds(w, n):
    return make_room(w["manager"], w["home"], room=f"R{seq(w)}", labels=[str(i) for i in range(n)])


def accounts(w, n):
    made = []
    for home in homes(w, n):
        made.append(services.open_escrow_account(actor=w["bureau"], institution=home, bank_name="存管银行",
                                                 account_number=f"6228{seq(w):08d}"))
    return made


def home_url(what):
    """The URL of the world's home (`__name__` keeps the pattern the coverage test matches endpoints with)."""
    def url(w):
        return f"/{what}".replace("<pk>", str(w["home"].pk))
    url.__name__ = what
    return url


BUDGETS = [
    Budget("/api/v1/institutions/homes", "bureau", homes, ceiling=4),
    Budget("/api/v1/institutions/homes", "street", homes, ceiling=4),
    Budget(home_url("api/v1/institutions/homes/<pk>/beds"), "carehome", beds, ceiling=5),
    Budget("/api/v1/institutions/escrow-accounts", "bureau", accounts, ceiling=4),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
