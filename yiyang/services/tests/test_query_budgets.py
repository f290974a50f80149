"""Query budgets of the services app's list pages and list API endpoints (core/tests/query_budget.py): a line
per list. The world is the conftest's (恩阳区's catalogue, 颐康, 李护理)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from yiyang.core.tests.factories import make_org
from yiyang.core.tests.query_budget import Budget, check, ids, seq
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services

from .factories import (
    COUNTY,
    STREET,
    booked_for,
    completed,
    days_ago,
    link_family,
    make_caregiver,
    make_item,
    soon,
    tomorrow_at,
)

pytestmark = pytest.mark.django_db


def new_elder(w):
    s = seq(w)
    return make_elder(w["bureau"], name=f"老人{s}", seq=s)


def requested(w, n):
    """Orders by the community for n new elders, tomorrow (one each)."""
    return [services.place_order(actor=w["community"], elder=new_elder(w), provider=w["org"], item=w["bath"],
                                 scheduled_start=tomorrow_at(9), channel="phone")[0] for _ in range(n)]


def accepted(w, n):
    return [services.accept_order(actor=w["provider"], order=o) for o in requested(w, n)]


def mothers_orders(w, n):
    """The family's orders for 王秀英, tomorrow an hour apart."""
    made = []
    for _ in range(n):
        hour = w.setdefault("_hours", [8])
        hour[0] += 1
        made.append(services.place_order(actor=w["family"], elder=w["elder"], provider=w["org"], item=w["bath"],
                                         scheduled_start=tomorrow_at(hour[0]), channel="portal")[0])
    return made


def todays_visits(w, n):
    """Visits of 李护理 today, an hour and a quarter apart, from a few minutes from now (late in the evening
    the day has no room left: then they are booked for earlier today)."""
    now = timezone.localtime()
    last_start = now.replace(hour=23, minute=59, second=0, microsecond=0) - datetime.timedelta(minutes=75 * 7)
    base = min(soon(5), last_start)
    made = []
    for _ in range(n):
        i = w.setdefault("_visits", [0])
        order = services.place_order(actor=w["community"], elder=new_elder(w), provider=w["org"], item=w["bath"],
                                     scheduled_start=soon(5 + 75 * i[0]), channel="phone")[0]
        services.accept_order(actor=w["provider"], order=order)
        services.assign_order(actor=w["provider"], order=order, caregiver=w["carer"])
        made.append(booked_for(order, base + datetime.timedelta(minutes=75 * i[0])))
        i[0] += 1
    return made


def carers(w, n):
    return [make_caregiver(w, account=None, seq=s, name=f"护理员{s}") for s in (seq(w) for _ in range(n))]


def shifts(w, n):
    return [services.set_shift(actor=w["provider"], caregiver=c, day=tomorrow_at(9).date(), start="08:00", end="12:00")
            for c in carers(w, n)]


def offers(w, n):
    """New items with a county price, each offered by 颐康."""
    made = []
    for _ in range(n):
        s = seq(w)
        item = make_item(f"item{s}", name=f"上门服务{s}", required_skill="")
        services.set_price(actor=w["bureau"], item=item, jurisdiction=COUNTY, valid_from=days_ago(30),
                           market_price="50.00", inclusive_price="30.00")
        made.append(services.declare_offer(actor=w["provider"], provider=w["org"], item=item, streets=[STREET],
                                           price="28.00", valid_from=days_ago(30)))
    return made


def standing(w, n):
    """Standing orders (every Monday 9:00) by the community, for n new elders."""
    return [services.create_recurring(actor=w["community"], elder=new_elder(w), provider=w["org"], item=w["bath"],
                                      weekdays=[1], time="09:00", starts_on=timezone.localdate())
            for _ in range(n)]


def calls(w, n):
    """n served and confirmed visits for new elders (family-linked), every one sampled for a call back."""
    for _ in range(n):
        e = new_elder(w)
        link_family(w["family"], e)
        completed({**w, "elder": e}, 1)
    month = timezone.localdate().replace(day=1)
    return services.sample_follow_ups(actor=w["bureau"], jurisdiction=COUNTY, month=month, rate=Decimal("1"))


def settlements(w, n):
    """颐康's statements of earlier months (empty ones: the list is what is counted)."""
    made = []
    for _ in range(n):
        i = w.setdefault("_months", [0])
        i[0] += 1
        month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=31 * i[0])).replace(day=1)
        made.append(services.prepare_settlement(actor=w["bureau"], provider=w["org"], month=month))
    return made


def providers_statements(w, n):
    """New providers of 恩阳区, each with last month's statement (what the bureau's list shows by default)."""
    last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    return [services.prepare_settlement(actor=w["bureau"], provider=make_org(f"服务商{seq(w)}", region=STREET),
                                        month=last_month) for _ in range(n)]


def elders(w, n):
    return [new_elder(w) for _ in range(n)]


def order_link(o):
    return f"/services/orders/{o.pk}/"


def elder_name(row):
    return row.elder.name


def name(row):
    return row.name


def at_nine_tomorrow():
    return {"start": tomorrow_at(9).isoformat()}


def this_month():
    return {"month": timezone.localdate().strftime("%Y-%m")}


BUDGETS = [
    Budget("/services/orders/", "community", requested, ceiling=7, shows=order_link),
    Budget("/services/orders/", "provider", requested, ceiling=6, shows=order_link),
    Budget("/services/workspace/", "provider", requested, ceiling=6, shows=elder_name),
    Budget("/services/workspace/", "provider", accepted, ceiling=10, params={"tab": "dispatch"}, shows=elder_name),
    Budget("/services/workspace/", "provider", todays_visits, ceiling=7, params={"tab": "board"},
           shows=elder_name),
    Budget("/services/workspace/", "provider", shifts, ceiling=7, params={"tab": "shifts"},
           shows=lambda s: s.caregiver.name),
    Budget("/services/m/", "caregiver", todays_visits, ceiling=7, shows=elder_name),
    Budget("/services/catalogue/", "bureau", offers, ceiling=13, shows=lambda o: o.item.name),
    Budget("/services/settlements/", "provider", settlements, ceiling=4,
           shows=lambda s: f"/services/settlements/{s.pk}/"),
    Budget("/services/settlements/", "bureau", providers_statements, ceiling=6,
           shows=lambda s: s.provider.name),
    Budget("/services/orders/new/elders/", "community", elders, ceiling=3, params={"q": "老人"}, shows=name),
    Budget("/services/follow-ups/", "bureau", calls, ceiling=5, params=this_month,
           shows=lambda c: c.order.elder.name),
    Budget("/services/recurring/", "community", standing, ceiling=6, shows=elder_name),
    Budget("/api/v1/services/orders", "provider", requested, ceiling=4),
    Budget("/api/v1/services/orders", "family", mothers_orders, ceiling=4),
    Budget("/api/v1/services/offers", "provider", offers, ceiling=5),
    Budget("/api/v1/services/shifts", "provider", shifts, ceiling=4),
    Budget("/api/v1/services/follow-ups", "bureau", calls, ceiling=4),
    Budget("/api/v1/services/recurring", "community", standing, ceiling=5),
    Budget("/api/v1/services/availability", "provider", carers, ceiling=5, params=at_nine_tomorrow),  # a plain list
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, world, budget):
    check(client, world, budget)
