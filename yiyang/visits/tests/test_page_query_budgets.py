"""Query budgets of the visits app's list pages (core/tests/query_budget.py): a line per list page. The world is
the conftest's (the model tiers adopted for 恩阳区, 赵网格 and 钱干部 in 登科寺社区, 王秀英 paired)."""

import pytest

from yiyang.core.models import Region
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import services

from .factories import this_month

pytestmark = pytest.mark.django_db


def new_elder(w, *, paired=False):
    s = seq(w)
    elder = make_elder(w["bureau"], name=f"老人{s}", seq=s, living_situation="alone")
    if paired:
        services.pair(actor=w["community"], elder=elder, visitor=w["zhao"], backup=w["qian"])
    return elder


def ad_hoc(w, n):
    return [services.raise_task(actor=w["community"], elder=new_elder(w, paired=True), trigger="other")[0]
            for _ in range(n)]


def paired(w, n):
    return [new_elder(w, paired=True) for _ in range(n)]


def unpaired(w, n):
    """Elders with this month's task and nobody responsible (the unpaired list)."""
    made = [new_elder(w) for _ in range(n)]
    services.generate_month(month=this_month())
    return made


def visitors(w, n):
    region = Region.objects.get(code="511903001002")
    return [services.add_visitor(actor=w["community"], name=f"访员{seq(w)}", kind="volunteer", region=region)
            for _ in range(n)]


def drafts(w, n):
    base = w["rule_set"]
    return [services.draft_rule_set(actor=w["bureau"], jurisdiction=base.jurisdiction, params=base.params,
                                    valid_from=this_month(), note=f"修订{seq(w)}") for _ in range(n)]


def follow_ups(w, n):
    made = []
    for _ in range(n):
        s = seq(w)
        record, _created = services.record_visit(actor=w["community"], elder=new_elder(w), method="home",
                                                 outcome="seen", follow_ups=[{"kind": "other", "note": f"事项{s}"}])
        made.append(record.follow_ups.get())
    return made


def elder_name(row):
    return getattr(row, "elder", row).name


BUDGETS = [
    Budget("/visits/tasks/", "community", ad_hoc, ceiling=6, shows=elder_name),
    Budget("/visits/pairings/", "community", paired, ceiling=9, shows=elder_name),
    Budget("/visits/pairings/", "street", unpaired, ceiling=9, shows=elder_name),
    Budget("/visits/visitors/", "community", visitors, ceiling=6, shows=lambda v: v.name),
    Budget("/visits/rules/", "bureau", drafts, ceiling=5, shows=lambda r: r.note),
    Budget("/visits/follow-ups/", "community", follow_ups, ceiling=4, shows=lambda f: f.note),
    Budget("/visits/my-day/", "visitor", ad_hoc, ceiling=4, shows=elder_name),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
