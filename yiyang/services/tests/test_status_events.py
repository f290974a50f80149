"""A death or a move away registered in the register cancels the visits not yet started; a move or a
suspension flags them for the provider."""

import datetime

import pytest
from django.utils import timezone

from yiyang.registry import services as registry
from yiyang.services import services
from yiyang.services.models import OrderEvent, OrderStatus
from yiyang.services.tests.factories import tomorrow_at

pytestmark = pytest.mark.django_db


def place(w, start):
    return services.place_order(actor=w["community"], elder=w["elder"], provider=w["org"], item=w["bath"],
                                scheduled_start=start, channel="phone")[0]


def test_death_cancels_the_visits_not_yet_started_with_the_reason(world):
    tomorrow = place(world, tomorrow_at(9))
    accepted = services.accept_order(actor=world["provider"], order=place(world, tomorrow_at(15)))
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="death",
                                 effective_date=timezone.localdate())
    for order in (tomorrow, accepted):
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert order.end_reason.startswith("老年人状态变更：死亡")
    assert OrderEvent.objects.filter(order=accepted, from_status="accepted", to_status="cancelled").count() == 1


def test_suspension_flags_instead_of_cancelling(world):
    order = place(world, tomorrow_at(9))
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="suspend",
                                 effective_date=timezone.localdate() - datetime.timedelta(days=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.REQUESTED
    assert list(order.flags.values_list("kind", flat=True)) == ["elder_inactive"]
