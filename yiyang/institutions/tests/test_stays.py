"""Admissions, bed moves, leave and discharge; the register following; who may take each step."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.institutions import selectors, services
from yiyang.institutions.models import BedStatus, Stay, StayStatus
from yiyang.registry import services as registry
from yiyang.registry.models import ElderStatus
from yiyang.registry.tests.factories import make_elder

from .conftest import SINCE
from .factories import assessed_elder, make_home, make_room

NOV1 = datetime.date(2026, 11, 1)


def admit(world, elder=None, bed=None, day=NOV1, fee="3000.00", actor="manager"):
    return services.admit(actor=world[actor], elder=elder or world["elder"], bed=bed or world["beds"][0],
                          admitted_on=day, monthly_fee=fee)


def test_admission(world):
    stay = admit(world)
    assert (stay.status, stay.admitted_on, str(stay.monthly_fee)) == (StayStatus.RESIDENT, NOV1, "3000.00")
    # The care grade is the published assessment's level: 轻度失能 (1).
    assert (stay.care_level, stay.care_level_name) == (1, "轻度失能")
    assert not stay.destitute
    bed = world["beds"][0]
    bed.refresh_from_db()
    assert (bed.status, bed.status_since) == (BedStatus.OCCUPIED, NOV1)
    elder = world["elder"]
    elder.refresh_from_db()
    assert elder.living_situation == "institution" and stay.previous_living_situation == "alone"
    assert AuditEvent.objects.filter(object_type="institutions.stay", object_id=str(stay.pk), action="create").exists()
    assert [e.kind for e in stay.events.all()] == ["admit"]


def _refused(world, field, **kwargs):
    with pytest.raises(ValidationError) as exc:
        admit(world, **kwargs)
    assert field in exc.value.message_dict, exc.value.message_dict
    return exc.value.message_dict[field]


def test_a_second_occupant_in_a_bed_is_refused(world):
    admit(world)
    messages = _refused(world, "bed", elder=world["elder2"])
    assert "已入住" in messages[0]
    assert Stay.objects.count() == 1


def test_one_elder_lives_in_one_home_at_a_time(world):
    admit(world)
    _refused(world, "elder", bed=world["beds"][1])


def test_admission_needs_a_published_assessment(world):
    unassessed = make_elder(world["community"], seq=9, name="未评估")
    assert "评估" in _refused(world, "elder", elder=unassessed)[0]


def test_admission_dates(world):
    _refused(world, "admitted_on", day=datetime.date(2026, 11, 19))  # tomorrow
    _refused(world, "admitted_on", day=datetime.date(2025, 12, 31))  # before the bed existed
    _refused(world, "admitted_on", day="2026-13-01")


@pytest.mark.parametrize("fee", [0, "-5", "abc", 3000.0, "3000.005"])
def test_admission_fee_must_be_money(world, fee):
    _refused(world, "monthly_fee", fee=fee)


def test_a_deceased_elder_is_not_admitted(world):
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="death",
                                 effective_date="2026-11-10")
    _refused(world, "elder")


def test_admit_to_a_reserved_bed_but_not_to_one_out_of_service(world):
    services.set_bed_status(actor=world["manager"], bed=world["beds"][0], status="reserved")  # today
    _refused(world, "admitted_on")  # 1 November: before the reservation began
    admit(world, day="2026-11-18")
    services.set_bed_status(actor=world["manager"], bed=world["beds"][1], status="out_of_service")
    _refused(world, "bed", elder=world["elder2"], bed=world["beds"][1], day="2026-11-18")


def test_a_destitute_home_takes_others_only_in_beds_opened_to_them(roles):
    home, manager = make_home(roles["bureau"], name="登科镇敬老院", kind="destitute_home", ownership="public",
                              manager="jly")
    closed = make_room(manager, home, labels=("1",), day=SINCE)
    opened = make_room(manager, home, room="102", labels=("1",), open_to_others=True, day=SINCE)
    destitute = assessed_elder(roles, 5, name="特困老人")
    registry.add_category(actor=roles["community"], elder=destitute, kind="destitute", start_date="2020-01-01")
    other = assessed_elder(roles, 6, name="社会老人")
    with pytest.raises(ValidationError) as exc:
        services.admit(actor=manager, elder=other, bed=closed[0], admitted_on=NOV1, monthly_fee="1800")
    assert "特困" in exc.value.message_dict["bed"][0]
    taken = services.admit(actor=manager, elder=other, bed=opened[0], admitted_on=NOV1, monthly_fee="1800")
    assert not taken.destitute
    stay = services.admit(actor=manager, elder=destitute, bed=closed[0], admitted_on=NOV1, monthly_fee="1200")
    assert stay.destitute
    # The spare beds opened to others are visible as such.
    assert [b.pk for b in selectors.beds_for(roles["bureau"], institution=home, open_to_others=True)] == [opened[0].pk]


def test_who_may_admit(world):
    for who in ("street", "community", "caregiver", "provider", "other_bureau", "family", "assessor"):
        with pytest.raises(DomainError) as exc:
            admit(world, actor=who)
        assert exc.value.status == 403, who
    assert admit(world, actor="bureau").status == StayStatus.RESIDENT


def test_bed_move(world):
    stay = admit(world)
    services.move_bed(actor=world["manager"], stay=stay, to_bed=world["beds"][2], effective_date="2026-11-10")
    old, new = world["beds"][0], world["beds"][2]
    old.refresh_from_db()
    new.refresh_from_db()
    stay.refresh_from_db()
    assert (old.status, new.status, stay.bed_id) == (BedStatus.FREE, BedStatus.OCCUPIED, new.pk)
    assert [(e.kind, e.from_bed_id, e.to_bed_id) for e in stay.events.all()] == [
        ("admit", None, old.pk), ("move", old.pk, new.pk)]


def test_bed_move_refusals(world):
    stay = admit(world)
    admit(world, elder=world["elder2"], bed=world["beds"][1])
    with pytest.raises(ValidationError):  # occupied
        services.move_bed(actor=world["manager"], stay=stay, to_bed=world["beds"][1], effective_date="2026-11-10")
    with pytest.raises(ValidationError):  # before the admission
        services.move_bed(actor=world["manager"], stay=stay, to_bed=world["beds"][2], effective_date="2026-10-31")
    other, other_manager = make_home(world["bureau"], name="另一养老院", manager="other_home")
    elsewhere = make_room(other_manager, other)[0]
    with pytest.raises(ValidationError) as exc:
        services.move_bed(actor=world["manager"], stay=stay, to_bed=elsewhere, effective_date="2026-11-10")
    assert "本机构" in exc.value.message_dict["to_bed"][0]
    with pytest.raises(DomainError):
        services.move_bed(actor=other_manager, stay=stay, to_bed=world["beds"][2], effective_date="2026-11-10")


def test_leave_holds_the_bed(world):
    stay = admit(world)
    services.start_leave(actor=world["manager"], stay=stay, kind="hospital", start_date="2026-11-05")
    stay.refresh_from_db()
    bed = world["beds"][0]
    bed.refresh_from_db()
    assert (stay.status, bed.status) == (StayStatus.ON_LEAVE, BedStatus.OCCUPIED)
    # Nobody else gets the bed while its resident is in hospital.
    _refused(world, "bed", elder=world["elder2"])
    with pytest.raises(DomainError):
        services.start_leave(actor=world["manager"], stay=stay, kind="home_visit", start_date="2026-11-06")
    with pytest.raises(ValidationError):
        services.end_leave(actor=world["manager"], stay=stay, return_date="2026-11-04")
    services.end_leave(actor=world["manager"], stay=stay, return_date="2026-11-12")
    stay.refresh_from_db()
    assert stay.status == StayStatus.RESIDENT


def test_the_bed_is_free_only_when_the_discharge_is_final(world):
    stay = admit(world)
    bed = world["beds"][0]
    services.order_discharge(actor=world["manager"], stay=stay, reason="home", ordered_on="2026-11-10")
    bed.refresh_from_db()
    stay.refresh_from_db()
    assert (stay.status, bed.status) == (StayStatus.DISCHARGE_ORDERED, BedStatus.OCCUPIED)
    # An ordered discharge does not free the bed: a second admission is refused.
    _refused(world, "bed", elder=world["elder2"])
    services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-12")
    bed.refresh_from_db()
    stay.refresh_from_db()
    assert (stay.status, stay.discharged_on, stay.discharge_reason) == (
        StayStatus.DISCHARGED, datetime.date(2026, 11, 12), "home")
    assert (bed.status, bed.status_since) == (BedStatus.FREE, datetime.date(2026, 11, 12))
    elder = world["elder"]
    elder.refresh_from_db()
    assert elder.living_situation == "alone"  # put back from 入住机构
    assert admit(world, elder=world["elder2"], day="2026-11-12").bed_id == bed.pk


def test_discharge_dated_before_admission_is_refused(world):
    stay = admit(world)
    with pytest.raises(ValidationError) as exc:
        services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-10-31", reason="home")
    assert "入住日期" in exc.value.message_dict["discharged_on"][0]
    with pytest.raises(ValidationError):
        services.order_discharge(actor=world["manager"], stay=stay, reason="home", ordered_on="2026-10-31")
    stay.refresh_from_db()
    assert stay.status == StayStatus.RESIDENT


def test_discharge_needs_a_reason_and_ends_once(world):
    stay = admit(world)
    with pytest.raises(ValidationError):
        services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-10")
    services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-10", reason="transfer")
    with pytest.raises(DomainError) as exc:
        services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-11", reason="home")
    assert exc.value.status == 409
    elder = world["elder"]
    elder.refresh_from_db()
    assert elder.living_situation == "institution"  # transferred to another home


def test_cancel_an_ordered_discharge(world):
    stay = admit(world)
    services.order_discharge(actor=world["manager"], stay=stay, reason="home", ordered_on="2026-11-10")
    services.cancel_discharge(actor=world["manager"], stay=stay, note="家属改变主意")
    stay.refresh_from_db()
    assert (stay.status, stay.discharge_reason, stay.discharge_ordered_on) == (StayStatus.RESIDENT, "", None)


def test_death_in_the_home_is_recorded_in_the_register(world):
    stay = admit(world)
    services.start_leave(actor=world["manager"], stay=stay, kind="hospital", start_date="2026-11-08")
    services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-15", reason="death")
    elder = world["elder"]
    elder.refresh_from_db()
    assert (elder.status, elder.status_date) == (ElderStatus.DECEASED, datetime.date(2026, 11, 15))
    assert elder.status_events.get().kind == "death"


def test_a_death_recorded_in_the_register_orders_the_discharge_and_holds_the_bed(world):
    stay = admit(world)
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="death",
                                 effective_date="2026-11-14")
    stay.refresh_from_db()
    bed = world["beds"][0]
    bed.refresh_from_db()
    assert (stay.status, stay.discharge_reason, stay.discharge_ordered_on) == (
        StayStatus.DISCHARGE_ORDERED, "death", datetime.date(2026, 11, 14))
    assert bed.status == BedStatus.OCCUPIED
    with pytest.raises(DomainError):
        services.cancel_discharge(actor=world["manager"], stay=stay)
    services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-15")
    elder = world["elder"]
    elder.refresh_from_db()
    assert elder.status_events.count() == 1  # not recorded twice
    bed.refresh_from_db()
    assert bed.status == BedStatus.FREE


def test_stays_are_listed_for_the_home_and_the_bureau(world):
    stay = admit(world)
    assert list(selectors.stays_for(world["manager"])) == [stay]
    assert list(selectors.stays_for(world["bureau"])) == [stay]
    assert list(selectors.stays_for(world["provider"])) == []
    # The home's accounts see their residents in the register (the scope hook), nobody else's.
    from yiyang.registry.models import Elder

    assert list(Elder.objects.restrict(world["manager"]).values_list("pk", flat=True)) == [world["elder"].pk]


def test_a_move_off_the_platform_orders_a_transfer_and_other_events_change_nothing(world):
    stay = admit(world)
    other = admit(world, elder=world["elder2"], bed=world["beds"][1])
    registry.record_status_event(actor=world["community"], elder=world["elder2"], kind="suspend",
                                 effective_date="2026-11-05")
    other.refresh_from_db()
    assert other.status == StayStatus.RESIDENT
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="move_out",
                                 effective_date="2026-11-06")
    stay.refresh_from_db()
    assert (stay.status, stay.discharge_reason, stay.discharge_ordered_on) == (
        StayStatus.DISCHARGE_ORDERED, "transfer", datetime.date(2026, 11, 6))
    assert AuditEvent.objects.filter(object_type="institutions.stay", object_id=str(stay.pk),
                                     detail__contains="出院通知").exists()


def test_a_death_after_a_discharge_home_was_ordered_makes_it_a_death(world):
    stay = admit(world)
    services.order_discharge(actor=world["manager"], stay=stay, reason="home", ordered_on="2026-11-10")
    registry.record_status_event(actor=world["community"], elder=world["elder"], kind="death",
                                 effective_date="2026-11-12")
    stay.refresh_from_db()
    assert (stay.status, stay.discharge_reason, stay.discharge_ordered_on) == (
        StayStatus.DISCHARGE_ORDERED, "death", datetime.date(2026, 11, 12))
    services.finalise_discharge(actor=world["manager"], stay=stay, discharged_on="2026-11-13")
    elder = world["elder"]
    elder.refresh_from_db()
    assert (elder.status, elder.living_situation) == (ElderStatus.DECEASED, "institution")
