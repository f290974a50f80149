"""Query budget of the routing page (core/tests/query_budget.py): the day's plan, its routes and the visits
left out. The routing API has no list endpoint (one plan by id)."""

import pytest

from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.routing import services

from .factories import carer, day, visit

pytestmark = pytest.mark.django_db


def planned(w, n):
    """n more accepted visits of 颐康 for the day, in a row along the street, and the day planned again (one
    caregiver on duty 8:00–18:00: the visits are on a route or left out, shown either way)."""
    if "west" not in w:
        w["west"] = carer(w, "西护理", lon=106.59)
    made = [visit(w, f"老人{s}", 106.60 + s / 1000) for s in (seq(w) for _ in range(n))]
    services.plan_day(actor=w["provider"], provider=w["org"], day=day(), time_limit_seconds=2,
                      continuity_weight=600, mode="ebike")
    return made


def the_day():
    return {"date": day().isoformat()}


BUDGETS = [
    Budget("/routing/", "provider", planned, ceiling=8, params=the_day, shows=lambda o: o.elder.name),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
