"""Query budgets of registry's list pages and list API endpoints (core/tests/query_budget.py): a line per list."""

import datetime

import pytest

from yiyang.core.tests.factories import demo_roles, make_org
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry import services
from yiyang.registry.tests.factories import id_number, make_elder

pytestmark = pytest.mark.django_db


def elders(w, n):
    """Elders in 登科寺社区 (the community's), each with a category and a contact."""
    made = []
    for _ in range(n):
        s = seq(w)
        e = make_elder(w["bureau"], name=f"老人{s}", seq=s)
        services.add_category(actor=w["bureau"], elder=e, kind="subsistence", start_date=datetime.date(2024, 1, 1))
        services.add_contact(actor=w["bureau"], elder=e, name=f"家属{s}", relationship="son", phone="13800000000")
        made.append(e)
    return made


def organisations(w, n):
    return [make_org(f"机构{seq(w)}", region="511903001") for _ in range(n)]


def facilities(w, n):
    return [services.save_facility(actor=w["bureau"], name=f"日间照料中心{s}", kind="day_care", region="511903001002",
                                   address=f"登科寺社区 {s} 号", operator=w["provider"].organisation)
            for s in (seq(w) for _ in range(n))]


def staff(w, n):
    return [services.save_practitioner(
        actor=w["provider"], id_number=id_number(datetime.date(1980, 5, 1), s, male=False),
        organisation=w["provider"].organisation, name=f"护理员{s}", phone="13800000000", role="caregiver",
        skills="助浴,助洁", start_date=datetime.date(2024, 1, 1)) for s in (seq(w) for _ in range(n))]


def name(row):
    return row.name


BUDGETS = [
    Budget("/registry/elders/", "community", elders, ceiling=7, shows=name),
    Budget("/registry/organisations/", "bureau", organisations, ceiling=4, shows=name),
    Budget("/registry/facilities/", "bureau", facilities, ceiling=4, shows=name),
    Budget("/registry/staff/", "provider", staff, ceiling=4, shows=name),
    Budget("/api/v1/elders", "community", elders, ceiling=5),
    Budget("/api/v1/organisations", "bureau", organisations, ceiling=4),
    Budget("/api/v1/facilities", "bureau", facilities, ceiling=4),
    Budget("/api/v1/staff", "provider", staff, ceiling=4),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, budget):
    check(client, demo_roles(), budget)
