"""Small days for the routing tests: 颐康 (the demo provider), its caregivers with homes and shifts, and orders
of elders who live on one east-west line at latitude 31.80 in 恩阳区 (tomorrow unless said otherwise)."""

import datetime

from django.utils import timezone

from yiyang.core.tests.factories import demo_roles
from yiyang.registry.models import Practitioner
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services as order_services
from yiyang.services.models import Order
from yiyang.services.tests.factories import catalogue, make_caregiver, tomorrow_at

LAT = 31.80
FAST = {"time_limit_seconds": 5, "max_iterations": 200}
LEG = 296  # seconds per 0.01° of longitude (see above)


def day():
    return timezone.localdate() + datetime.timedelta(days=1)


def at(hour, minute=0, on=None):
    return timezone.make_aware(datetime.datetime.combine(on or day(), datetime.time(hour, minute)))


def make_world():
    """The demo roles and 恩阳区's catalogue (bath needs 助浴, cleaning no skill, both 60 minutes)."""
    roles = demo_roles()
    cat = catalogue(roles)
    return {**roles, **cat, "seq": [10]}


def carer(world, name, *, lon=None, skills="助浴,助洁", shift=("08:00", "18:00"), account=None):
    world["seq"][0] += 1
    person = make_caregiver(world, account=account, seq=world["seq"][0], name=name, skills=skills)
    if lon is not None:
        Practitioner.objects.filter(pk=person.pk).update(home_latitude=LAT, home_longitude=lon)
        person.refresh_from_db()
    if shift:
        order_services.set_shift(actor=world["provider"], caregiver=person, day=day(), start=shift[0], end=shift[1])
    return person


def visit(world, name, lon, *, item="cleaning", hour=9, window=480, lat=LAT):
    world["seq"][0] += 1
    fields = {"latitude": lat, "longitude": lon} if lon is not None else {}
    elder = make_elder(world["bureau"], name=name, seq=world["seq"][0], **fields)
    order = order_services.place_order(actor=world["bureau"], elder=elder, provider=world["org"], item=world[item],
                                       scheduled_start=tomorrow_at(9), channel="staff")[0]
    Order.objects.filter(pk=order.pk).update(scheduled_start=at(hour), window_minutes=window)
    order.refresh_from_db()
    return order_services.accept_order(actor=world["provider"], order=order)


