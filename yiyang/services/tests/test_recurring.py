"""Standing orders (周期服务, e.g. every Tuesday 9:00): checked like an order when set up, the first week placed
at once, the daily run places the rest without duplicates (client_key recurring:<id>:<date>), an occurrence
that cannot be placed is skipped and recorded without stopping the others, and stopping ends it."""

import datetime
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.core.tests.factories import make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.models import Order, OrderChannel, OrderStatus, RecurringOrder, RecurringSkip
from yiyang.services.tasks import services_daily_task

pytestmark = pytest.mark.django_db
BASE = "/api/v1/services/"


@pytest.fixture
def world(home):
    return {**home, "other": make_elder(home["bureau"], name="李大爷", seq=2, male=True)}


def today():
    return timezone.localdate()


def day(n):
    return today() + datetime.timedelta(days=n)


def weekday(n):
    return day(n).isoweekday()


def standing(w, elder=None, *, days=(1, 3), actor="family", **changes):
    args = {"actor": w[actor], "elder": elder or w["elder"], "provider": w["org"], "item": w["bath"],
            "weekdays": [weekday(n) for n in days], "time": "09:00", "starts_on": today(), "channel": "portal"}
    return services.create_recurring(**{**args, **changes})


def scheduled(rule):
    return [timezone.localtime(o.scheduled_start) for o in
            Order.objects.filter(client_key__startswith=f"recurring:{rule.pk}:").order_by("scheduled_start")]


def at9(n):
    return timezone.make_aware(datetime.datetime.combine(day(n), datetime.time(9)))


def test_the_first_week_is_placed_at_once_and_the_daily_run_never_duplicates(world):
    rule = standing(world)
    # Days +1 and +3 fall within the first 7 days; +8 and +10 do not.
    assert scheduled(rule) == [at9(1), at9(3)]
    first = Order.objects.get(client_key=f"recurring:{rule.pk}:{day(1).isoformat()}")
    assert (first.channel, first.status, first.placed_by) == (OrderChannel.RECURRING, OrderStatus.REQUESTED,
                                                              world["family"])
    counts = services.generate_recurring_orders(until=day(10), today=today())
    assert counts == {"placed": 2, "existing": 2, "skipped": 0}
    assert scheduled(rule) == [at9(1), at9(3), at9(8), at9(10)]
    assert services.generate_recurring_orders(until=day(10)) == {"placed": 0, "existing": 4, "skipped": 0}


def test_an_end_date_and_stopping_end_the_orders(world):
    rule = standing(world, ends_on=day(2))
    assert scheduled(rule) == [at9(1)]
    longer = standing(world, world["other"], actor="bureau", channel="phone", days=(2,))
    services.stop_recurring(actor=world["bureau"], recurring=longer)
    assert services.generate_recurring_orders(until=day(14))["placed"] == 0
    assert not RecurringOrder.objects.get(pk=longer.pk).active
    with pytest.raises(DomainError):
        services.stop_recurring(actor=make_user("x", "family"), recurring=rule)


def test_a_refused_occurrence_is_recorded_and_the_others_go_on(world):
    mine = standing(world, days=(1,))
    theirs = standing(world, world["other"], actor="bureau", channel="phone", days=(1,))
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="death",
                                 effective_date=today())
    counts = services.generate_recurring_orders(until=day(8))
    assert counts == {"placed": 1, "existing": 2, "skipped": 1}  # both day +1 orders exist (hers cancelled)
    assert scheduled(theirs) == [at9(1), at9(8)]
    skip = RecurringSkip.objects.get(recurring=mine)
    assert skip.day == day(8) and "不能下单" in skip.reason
    # Her first order was cancelled by the death (registry signal).
    assert Order.objects.get(client_key=f"recurring:{mine.pk}:{day(1).isoformat()}").status == "cancelled"


@pytest.mark.parametrize("changes,field", [({"weekdays": [8]}, "weekdays"), ({"weekdays": "x"}, "weekdays"),
                                           ({"time": "9点"}, "time"), ({"starts_on": "2020-01-01"}, "starts_on"),
                                           ({"quantity": "0"}, "quantity"),
                                           ({"ends_on": "2020-01-01"}, "ends_on")])
def test_bad_standing_orders_are_refused_and_leave_nothing(world, changes, field):
    with pytest.raises(ValidationError) as err:
        standing(world, **changes)
    assert field in err.value.message_dict
    assert not RecurringOrder.objects.exists() and not Order.objects.exists()


def test_a_provider_not_serving_the_street_is_refused_at_once(world):
    far = make_elder(world["bureau"], name="远方", seq=3, residence="511903003001")
    with pytest.raises(ValidationError) as err:
        standing(world, far, actor="bureau", channel="staff")
    assert "provider" in err.value.message_dict
    assert not RecurringOrder.objects.exists()


def test_the_command_and_the_task_run_the_week(world):
    rule = standing(world, days=(1,))
    Order.objects.filter(client_key__startswith="recurring:").delete()
    out = StringIO()
    call_command("services_daily", stdout=out)
    assert "1 placed" in out.getvalue()
    assert services_daily_task.call(14) == {"placed": 1, "existing": 1, "skipped": 0}
    assert scheduled(rule) == [at9(1), at9(8)]


def test_recurring_api(client, world):
    client.force_login(world["family"])
    body = {"elder": world["elder"].pk, "provider": world["org"].pk, "item": "bath", "weekdays": [weekday(2)],
            "time": "09:00", "starts_on": today().isoformat()}
    resp = client.post(BASE + "recurring", json.dumps(body), content_type="application/json")
    assert resp.status_code == 201, resp.content
    rule = resp.json()
    assert (rule["weekdays"], rule["time"], rule["channel"], rule["active"]) == ([weekday(2)], "09:00", "portal",
                                                                                True)
    assert Order.objects.filter(client_key__startswith=f"recurring:{rule['id']}:").count() == 1
    bad = client.post(BASE + "recurring", json.dumps({**body, "weekdays": [0]}), content_type="application/json")
    assert bad.status_code == 422
    assert client.get(BASE + "recurring").json()["count"] == 1
    client.force_login(world["provider"])
    assert client.get(BASE + "recurring").json()["count"] == 1
    assert client.post(BASE + f"recurring/{rule['id']}/stop").status_code == 404
    client.force_login(make_user("x", "family"))
    assert client.get(BASE + "recurring").json()["count"] == 0
    client.force_login(world["family"])
    stopped = client.post(BASE + f"recurring/{rule['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["active"] is False
