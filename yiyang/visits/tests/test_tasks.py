"""Ad-hoc tasks within 24 hours of a trigger, reminders and escalation, re-pairing when a visitor leaves."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiyang.core.errors import DomainError
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services as orders
from yiyang.services.tests.factories import catalogue, tomorrow_at
from yiyang.visits import generation, selectors, services
from yiyang.visits.models import TaskKind, TaskStatus, Trigger, VisitTask

from .factories import make_visitor, this_month

DAY = datetime.timedelta(hours=24)


def test_an_ad_hoc_task_is_due_24_hours_after_its_trigger_and_raised_once(world):
    at = timezone.now() - datetime.timedelta(hours=3)
    task, created = services.raise_task(actor=world["community"], elder=world["elder"], trigger=Trigger.DISCHARGE,
                                        at=at, note="县医院出院", trigger_ref="his:778")
    assert created and task.due_at == at + DAY and task.visitor == world["zhao"] and task.kind == TaskKind.AD_HOC
    again, created = services.raise_task(actor=world["community"], elder=world["elder"],
                                         trigger=Trigger.DISCHARGE, at=at, trigger_ref="his:778")
    assert not created and again.pk == task.pk


def test_a_family_may_ask_for_a_visit_and_a_stranger_may_not(world):
    from yiyang.services.tests.factories import link_family

    link_family(world["family"], world["elder"])
    task, _ = services.raise_task(actor=world["family"], elder=world["elder"], trigger=Trigger.FAMILY_REQUEST)
    assert task.trigger == "family_request"
    with pytest.raises(DomainError):
        services.raise_task(actor=world["other_street"], elder=world["elder"], trigger=Trigger.OTHER)
    with pytest.raises(ValidationError):
        services.raise_task(actor=world["community"], elder=world["elder"], trigger="gossip")


def test_a_declined_order_raises_a_visit(world):
    cat = catalogue(world)
    order, _ = orders.place_order(actor=world["community"], elder=world["elder"], provider=cat["org"],
                                  item=cat["bath"], scheduled_start=tomorrow_at(9), channel="phone")
    orders.decline_order(actor=world["provider"], order=order, reason="本周助浴员已排满")
    [task] = VisitTask.objects.filter(elder=world["elder"], trigger=Trigger.ORDER_UNSERVED)
    assert task.trigger_ref == f"order:{order.pk}" and task.due_at - task.window_start == DAY
    assert "上门助浴" in task.trigger_note


def test_death_cancels_open_tasks_and_ends_the_pairing(world):
    services.generate_month(month=this_month())
    registry.record_status_event(actor=world["bureau"], elder=world["elder"], kind="death",
                                 effective_date=timezone.localdate())
    assert set(VisitTask.objects.filter(elder=world["elder"]).values_list("status", flat=True)) == {"cancelled"}
    assert not world["elder"].visit_pairings.filter(until__isnull=True).exists()
    world["elder"].refresh_from_db()
    with pytest.raises(DomainError):
        services.raise_task(actor=world["community"], elder=world["elder"], trigger=Trigger.OTHER)


def test_reminder_a_day_before_and_escalation_three_days_after(world, frozen_clock):
    at = timezone.now()
    task, _ = services.raise_task(actor=world["community"], elder=world["elder"], trigger=Trigger.ALARM, at=at)
    # Due at +24 h; reminded from due − 24 h (at once), escalated from due + 72 h.
    assert services.remind_and_escalate(now=at) == (1, 0)
    assert services.remind_and_escalate(now=at + DAY + datetime.timedelta(hours=71, minutes=59)) == (0, 0)
    assert services.remind_and_escalate(now=at + DAY + datetime.timedelta(hours=72)) == (0, 1)
    task.refresh_from_db()
    assert task.escalated_at == at + DAY + datetime.timedelta(hours=72)
    frozen_clock.move_to(at + DAY * 5)
    assert [t.pk for t in selectors.tasks_for(world["street"], escalated=True)] == [task.pk]
    assert [t.pk for t in selectors.tasks_for(world["other_street"], escalated=True)] == []


def test_a_scheduled_task_uses_the_rule_sets_delays(world):
    m = this_month()
    services.generate_month(month=m, now=generation.day_start(m))
    [task] = VisitTask.objects.filter(elder=world["elder"])
    assert services.remind_and_escalate(now=task.due_at - datetime.timedelta(hours=25)) == (0, 0)
    assert services.remind_and_escalate(now=task.due_at - datetime.timedelta(hours=24)) == (1, 0)


def test_three_visits_without_seeing_the_person_raise_a_task_for_the_community(world):
    services.generate_month(month=this_month())
    [task] = VisitTask.objects.filter(elder=world["elder"])
    for i, outcome in enumerate(("not_home", "refused", "not_home")):
        record, _ = services.record_visit(actor=world["visitor"], elder=world["elder"], method="home",
                                          outcome=outcome, client_key=f"try{i}")
        assert not record.counts
    task.refresh_from_db()
    assert (task.status, task.failed_attempts) == (TaskStatus.OPEN, 3)
    [alert] = VisitTask.objects.filter(elder=world["elder"], trigger=Trigger.FAILED_ATTEMPTS)
    assert alert.trigger_ref == f"task:{task.pk}" and "3 次" in alert.trigger_note


def test_visitor_leaves_successor_takes_everyone_and_backup_stays(world):
    other = make_elder(world["bureau"], living_situation="empty_nest", birth=datetime.date(1950, 1, 1), seq=2)
    services.pair(actor=world["community"], elder=other, visitor=world["zhao"])
    sun = make_visitor(world["community"], "孙护老", kind="care_helper")
    services.generate_month(month=this_month())
    result = services.visitor_leaves(actor=world["community"], visitor=world["zhao"], successor=sun)
    assert result == {"moved": 2, "promoted": 0, "unpaired": 0, "backups_cleared": 0}
    assert set(VisitTask.objects.filter(status="open").values_list("visitor__name", flat=True)) == {"孙护老"}
    pairing = world["elder"].visit_pairings.get(until__isnull=True)
    assert (pairing.visitor, pairing.backup) == (sun, world["qian"])


def test_visitor_leaves_without_successor_backup_steps_up_or_the_person_is_listed_unpaired(world):
    other = make_elder(world["bureau"], living_situation="empty_nest", birth=datetime.date(1950, 1, 1), seq=2)
    services.pair(actor=world["community"], elder=other, visitor=world["zhao"])
    services.generate_month(month=this_month())
    assert services.visitor_leaves(actor=world["community"], visitor=world["zhao"]) == {
        "moved": 0, "promoted": 1, "unpaired": 1, "backups_cleared": 0}
    assert world["elder"].visit_pairings.get(until__isnull=True).visitor == world["qian"]
    assert [e.pk for e in selectors.unpaired_for(world["community"])] == [other.pk]
    assert [e.pk for e in selectors.unpaired_for(world["other_street"])] == []


def test_pairing_refuses_a_visitor_of_another_street_and_the_same_backup(world):
    far = make_visitor(world["other_street"], "周干部", region="511903002001", kind="cadre")
    with pytest.raises(ValidationError) as e:
        services.pair(actor=world["community"], elder=world["elder"], visitor=far)
    assert "不在该老人所在街道" in str(e.value)
    with pytest.raises(ValidationError) as e:
        services.pair(actor=world["community"], elder=world["elder"], visitor=world["qian"], backup=world["qian"])
    assert "备岗人不能与责任人相同" in str(e.value)


def test_the_daily_run_makes_reminds_and_escalates_once(world):
    from django.core.management import call_command

    first = services.daily_run()
    assert first["made"] == 1 and services.daily_run() == {"made": 0, "reminded": 0, "escalated": 0}
    from io import StringIO

    out = StringIO()
    call_command("visits_daily", stdout=out)
    assert out.getvalue().strip() == "visit tasks: 0 made, 0 reminded, 0 escalated"


def test_the_bureau_creates_a_visitor_account_placed_in_a_community(home):
    from yiyang.core.models import Region
    from yiyang.core.services import create_account

    user = create_account(actor=home["bureau"], username="grid2", password="Str0ng-pass!-long", role="visitor",
                          region=Region.objects.get(code="511903001001"), display_name="吴网格")
    assert (user.role, user.scope_code) == ("visitor", "511903001001")
    with pytest.raises(ValidationError) as e:
        create_account(actor=home["bureau"], username="grid3", password="Str0ng-pass!-long", role="visitor",
                       region=Region.objects.get(code="511903"))
    assert "巡访员的所在区域须为街道或社区" in str(e.value)
