"""Catalogue helpers for the services tests: real objects through the real services.

The demo catalogue used here (恩阳区 511903, from 30 days ago):

    item      unit   minutes  skill  market  普惠   颐康's offer (streets 登科 511903001, 文治 511903002)
    bath      visit  60       助浴    80.00   40.00  33.33
    cleaning  hour   60       —       50.00   30.00  28.88

and the rule: 特困 100 %, 低保 90 %, 80+ the 普惠 price (share 0), anyone else the market price.
"""

import datetime
from decimal import Decimal as D

from django.utils import timezone

from yiyang.registry import services as registry
from yiyang.registry.models import FamilyLink, Organisation
from yiyang.registry.tests.factories import id_number
from yiyang.services import services
from yiyang.services.models import Order, ServiceCategory, ServiceItem, ServiceUnit

COUNTY = "511903"
STREET = "511903001"          # 登科街道, the demo community's street
OTHER_STREET = "511903002"    # 文治街道, where 颐康 sits
RULE = {"rows": [{"category": "destitute", "share": "100"}, {"category": "subsistence", "share": "90"},
                 {"min_age": 80, "share": "0"}], "others": "market"}


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def make_item(code="bath", *, name="上门助浴", category=ServiceCategory.BATH, unit=ServiceUnit.VISIT,
              standard_minutes=60, required_skill="助浴") -> ServiceItem:
    return ServiceItem.objects.create(code=code, name=name, category=category, unit=unit,
                                      standard_minutes=standard_minutes, required_skill=required_skill)


def provider_of(roles) -> Organisation:
    return roles["provider"].organisation


def catalogue(roles, *, start=None):
    """Items, county prices, the subsidy rule and 颐康's offers, all from `start` (default 30 days ago)."""
    start = start or days_ago(30)
    bath = make_item()
    cleaning = make_item("cleaning", name="上门助洁", category=ServiceCategory.CLEANING, unit=ServiceUnit.HOUR,
                         required_skill="")
    bureau, provider = roles["bureau"], provider_of(roles)
    services.set_price(actor=bureau, item=bath, jurisdiction=COUNTY, valid_from=start, market_price="80.00",
                       inclusive_price="40.00", note="2026 年普惠价")
    services.set_price(actor=bureau, item=cleaning, jurisdiction=COUNTY, valid_from=start, market_price="50.00",
                       inclusive_price="30.00")
    rule = services.adopt_subsidy_rule(actor=bureau, jurisdiction=COUNTY, params=RULE, valid_from=start,
                                       note="特困全额、低保九成、80 岁以上普惠价")
    offers = {
        "bath": services.declare_offer(actor=roles["provider"], provider=provider, item=bath,
                                       streets=[STREET, OTHER_STREET], price="33.33", valid_from=start),
        "cleaning": services.declare_offer(actor=roles["provider"], provider=provider, item=cleaning,
                                           streets=[STREET, OTHER_STREET], price="28.88", valid_from=start),
    }
    return {"bath": bath, "cleaning": cleaning, "rule": rule, "offers": offers, "org": provider}


def make_caregiver(roles, *, account="caregiver", skills="助浴,助洁", seq=7, organisation=None, name="李护理",
                   end_date=None):
    fields = {"end_date": end_date} if end_date else {}
    return registry.save_practitioner(
        actor=roles["provider"], id_number=id_number(datetime.date(1980, 5, 1), seq, male=False),
        organisation=organisation or provider_of(roles), name=name, phone="13800000000", role="caregiver",
        skills=skills, start_date=days_ago(400), account=roles[account] if account else None, **fields)


def link_family(user, elder) -> FamilyLink:
    return FamilyLink.objects.create(user=user, elder=elder, relationship="daughter")


def soon(minutes: int = 5) -> datetime.datetime:
    """A scheduled start a few minutes from now (check-ins are allowed from two hours before it)."""
    return timezone.now().replace(microsecond=0) + datetime.timedelta(minutes=minutes)


def tomorrow_at(hour: int = 9) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


MONEY = ("unit_price", "total", "share", "subsidy", "allowance", "copay")


def split(order) -> tuple:
    return tuple(getattr(order, f) for f in MONEY)


__all__ = ["D", "catalogue", "make_caregiver", "link_family", "make_item", "soon", "tomorrow_at", "split"]


def booked_for(order: Order, start: datetime.datetime) -> Order:
    """The order as if it had been booked in advance for `start`: a booking cannot be placed in the past, and
    a visit checked in long before its booked time is flagged, so a test of a visit that already happened
    books it for then."""
    Order.objects.filter(pk=order.pk).update(scheduled_start=start)
    order.refresh_from_db()
    return order


def completed(w, n, *, org=None, boss=None, carer=None, confirm=True):
    """n orders served for an hour (booked for an hour ago, checked in then and out now), confirmed by the
    family unless `confirm` is false."""
    org, boss, carer = org or w["org"], boss or w["provider"], carer or w["carer"]
    orders = []
    for i in range(n):
        order = services.place_order(actor=w["family"], elder=w["elder"], provider=org, item=w["bath"],
                                     scheduled_start=soon(5 + i), channel="portal", allowance_available=0)[0]
        services.accept_order(actor=boss, order=order)
        services.assign_order(actor=boss, order=order, caregiver=carer)
        now = timezone.now()
        booked_for(order, now - datetime.timedelta(minutes=60))
        services.check_in(actor=carer.account, order=order, at=now - datetime.timedelta(minutes=60))
        services.check_out(actor=carer.account, order=order, at=now)
        if confirm:
            services.confirm_order(actor=w["family"], order=order)
        orders.append(order)
    return orders
