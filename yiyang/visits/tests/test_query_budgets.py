"""Query budgets of the visits app's list API endpoints (core/tests/query_budget.py): a line per list. The world
is the conftest's (the model tiers adopted for 恩阳区, 赵网格 responsible for 王秀英, 钱干部 as backup)."""

import datetime

import pytest
from django.utils import timezone

from yiyang.core.models import Region
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import services
from yiyang.visits.defaults import MODEL_TIERS

from .factories import make_visitor, this_month

pytestmark = pytest.mark.django_db


def new_elder(w, **fields):
    s = seq(w)
    return make_elder(w["bureau"], name=f"老人{s}", seq=s, living_situation="alone", **fields)


def drafts(w, n):
    county = Region.objects.get(code="511903")
    return [services.draft_rule_set(actor=w["bureau"], jurisdiction=county, params=MODEL_TIERS,
                                    valid_from=this_month()) for _ in range(n)]


def visitors(w, n):
    return [make_visitor(w["community"], f"巡访员{seq(w)}") for _ in range(n)]


def pairings(w, n):
    return [services.pair(actor=w["community"], elder=new_elder(w), visitor=w["zhao"], backup=w["qian"])
            for _ in range(n)]


def unpaired(w, n):
    made = [new_elder(w) for _ in range(n)]
    services.generate_month(month=this_month())
    return made


def alarms(w, n):
    """Ad-hoc tasks for 王秀英 (responsible: 赵网格, the `visitor` account), one per alarm."""
    return [services.raise_task(actor=w["community"], elder=w["elder"], trigger="alarm",
                                trigger_ref=f"alarm:{seq(w)}")[0] for _ in range(n)]


def visits(w, n, follow_ups=None):
    """Visits of 王秀英 by 赵网格 over the last hours, a minute apart."""
    made = []
    for _ in range(n):
        at = timezone.now() - datetime.timedelta(minutes=seq(w))
        made.append(services.record_visit(actor=w["visitor"], elder=w["elder"], method="phone", outcome="seen",
                                          visited_at=at, follow_ups=follow_ups)[0])
    return made


def follow_ups(w, n):
    return [r.follow_ups.get() for r in visits(w, n, follow_ups=[{"kind": "home_adaptation", "note": "扶手"}])]


BUDGETS = [
    Budget("/api/v1/visits/rule-sets", "bureau", drafts, ceiling=4),
    Budget("/api/v1/visits/visitors", "community", visitors, ceiling=4),
    Budget("/api/v1/visits/pairings", "community", pairings, ceiling=4),
    Budget("/api/v1/visits/unpaired", "community", unpaired, ceiling=4),
    Budget("/api/v1/visits/tasks", "community", alarms, ceiling=4),
    Budget("/api/v1/visits/tasks", "visitor", alarms, ceiling=4),
    Budget("/api/v1/visits/my-day", "visitor", alarms, ceiling=4),
    Budget("/api/v1/visits/records", "community", visits, ceiling=4),
    Budget("/api/v1/visits/records", "visitor", visits, ceiling=4),
    Budget("/api/v1/visits/follow-ups", "community", follow_ups, ceiling=4),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
