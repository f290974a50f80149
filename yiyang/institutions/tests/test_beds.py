"""The bed tree, the bed state machine through the services, and occupancy on any past day."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent
from yiyang.institutions import selectors, services
from yiyang.institutions.models import Bed, BedStatus, BedStatusChange

from .conftest import SINCE


def test_beds_make_the_tree_and_start_free(world):
    bed = world["beds"][0]
    assert str(bed) == "1号楼 101-1"
    assert bed.room.floor.building.institution == world["home"]
    assert bed.status == BedStatus.FREE and bed.status_since == SINCE
    assert list(bed.status_changes.values_list("from_status", "to_status", "effective_date")) == [("", "free", SINCE)]
    assert AuditEvent.objects.filter(object_type="institutions.room", detail__contains="2").exists()


def test_a_bed_label_is_unique_in_its_room(world):
    with pytest.raises(ValidationError) as exc:
        services.add_beds(actor=world["manager"], institution=world["home"], building="1号楼", floor=1, room="101",
                          labels=["2", "3"])
    assert "labels" in exc.value.message_dict
    assert Bed.objects.filter(room__number="101").count() == 2


@pytest.mark.parametrize("path", [
    ["reserved", "free"], ["reserved", "free", "out_of_service", "free"], ["out_of_service", "free", "reserved"],
])
def test_allowed_manual_moves(world, path):
    bed = world["beds"][2]
    for status in path:
        services.set_bed_status(actor=world["manager"], bed=bed, status=status)
    bed.refresh_from_db()
    assert bed.status == path[-1]
    assert list(bed.status_changes.values_list("to_status", flat=True)) == ["free", *path]


@pytest.mark.parametrize("path, refused", [
    (["reserved"], "out_of_service"),       # release the reservation first
    (["out_of_service"], "reserved"),       # back in service first
    ([], "free"),                           # already free
])
def test_forbidden_manual_moves(world, path, refused):
    bed = world["beds"][2]
    for status in path:
        services.set_bed_status(actor=world["manager"], bed=bed, status=status)
    with pytest.raises(DomainError) as exc:
        services.set_bed_status(actor=world["manager"], bed=bed, status=refused)
    assert exc.value.status == 409
    assert bed.status_changes.count() == 1 + len(path)


def test_occupancy_is_not_a_manual_status(world):
    with pytest.raises(ValidationError):
        services.set_bed_status(actor=world["manager"], bed=world["beds"][0], status="occupied")


def test_an_occupied_bed_cannot_go_out_of_service(world):
    services.admit(actor=world["manager"], elder=world["elder"], bed=world["beds"][0],
                   admitted_on=datetime.date(2026, 11, 1), monthly_fee="3000")
    with pytest.raises(DomainError) as exc:
        services.set_bed_status(actor=world["manager"], bed=world["beds"][0], status="out_of_service")
    assert exc.value.status == 409


def test_a_change_dated_before_the_last_one_is_refused(world):
    bed = world["beds"][2]
    services.set_bed_status(actor=world["manager"], bed=bed, status="reserved", effective_date="2026-06-01")
    with pytest.raises(DomainError):
        services.set_bed_status(actor=world["manager"], bed=bed, status="free", effective_date="2026-05-31")


def test_someone_else_may_not_manage_the_beds(world):
    for who in ("street", "community", "caregiver", "provider", "other_bureau"):
        with pytest.raises(DomainError) as exc:
            services.set_bed_status(actor=world[who], bed=world["beds"][2], status="reserved")
        assert exc.value.status == 403, who
    # The bureau of the home's jurisdiction may (a home it runs itself).
    services.set_bed_status(actor=world["bureau"], bed=world["beds"][2], status="reserved")


def test_occupancy_on_past_days(world):
    """Beds 101-1, 101-2 (护理型), 102-1, 102-2, free since 2026-01-01:
    2026-03-01 老人1 into 101-1; 2026-05-01 老人2 into 102-1; 2026-08-01 老人1 discharged (final);
    2026-09-01 102-2 out of service; 2026-10-10 101-2 reserved; 2026-10-20 老人2 moves to 101-2."""
    m, (b1, b2, b3, b4) = world["manager"], world["beds"]
    first = services.admit(actor=m, elder=world["elder"], bed=b1, admitted_on="2026-03-01", monthly_fee="3000")
    second = services.admit(actor=m, elder=world["elder2"], bed=b3, admitted_on="2026-05-01", monthly_fee="2500")
    services.finalise_discharge(actor=m, stay=first, discharged_on="2026-08-01", reason="home")
    services.set_bed_status(actor=m, bed=b4, status="out_of_service", effective_date="2026-09-01")
    services.set_bed_status(actor=m, bed=b2, status="reserved", effective_date="2026-10-10")
    services.move_bed(actor=m, stay=second, to_bed=b2, effective_date="2026-10-20")

    def on(day):
        return selectors.occupancy_on(world["bureau"], datetime.date.fromisoformat(day)).get(world["home"].pk)

    assert on("2025-12-31") is None  # no bed existed yet
    jan = on("2026-01-01")
    assert (jan["beds"], jan["free"], jan["occupied"], jan["occupancy"], jan["nursing_share"]) == (
        4, 4, 0, D("0.00"), D("50.00"))
    assert on("2026-02-28")["occupied"] == 0
    assert on("2026-03-01")["occupied"] == 1                     # admitted that day
    june = on("2026-06-15")
    assert (june["occupied"], june["free"], june["occupancy"]) == (2, 2, D("50.00"))
    assert on("2026-07-31")["occupied"] == 2                     # the last night of 老人1
    assert on("2026-08-01")["occupied"] == 1                     # free from the day of the final discharge
    sept = on("2026-09-15")
    assert (sept["occupied"], sept["out_of_service"], sept["free"], sept["occupancy"]) == (1, 1, 2, D("25.00"))
    october = on("2026-10-15")
    assert (october["reserved"], october["occupied"]) == (1, 1)
    moved = on("2026-10-20")
    assert (moved["occupied"], moved["reserved"], moved["free"]) == (1, 0, 2)
    statuses = selectors.bed_statuses_on
    assert statuses(world["bureau"], datetime.date(2026, 10, 20)).get(pk=b2.pk).status_on == "occupied"
    assert statuses(world["bureau"], datetime.date(2026, 10, 19)).get(pk=b3.pk).status_on == "occupied"
    assert statuses(world["bureau"], datetime.date(2026, 10, 20)).get(pk=b3.pk).status_on == "free"
    # Today agrees with the beds' current status.
    today = on("2026-11-18")
    assert {s: today[s] for s in BedStatus.values} == {
        s: Bed.objects.filter(institution=world["home"], status=s).count() for s in BedStatus.values}
    # 4 new beds; 2 admissions, 1 discharge, out of service, reserved, and a move (out of one, into another).
    assert BedStatusChange.objects.filter(institution=world["home"]).count() == 4 + 2 + 1 + 1 + 1 + 2


def test_occupancy_is_scoped(world):
    assert selectors.occupancy_on(world["other_bureau"]) == {}
    assert selectors.occupancy_on(world["provider"]) == {}
    assert selectors.occupancy_on(world["street"])[world["home"].pk]["beds"] == 4


def test_nursing_bed_share(world):
    # 2 nursing of 4 beds
    assert selectors.nursing_bed_share(world["bureau"]) == {"beds": 4, "nursing": 2, "share": D("50.00")}
    services.add_beds(actor=world["manager"], institution=world["home"], building="1号楼", floor=2, room="201",
                      labels=["1", "2", "3"], nursing=True)
    # 5 of 7 = 71.428…% → 71.43
    assert selectors.nursing_bed_share(world["bureau"])["share"] == D("71.43")
    assert selectors.nursing_bed_share(world["other_bureau"]) == {"beds": 0, "nursing": 0, "share": None}


def test_beds_by_status(world):
    services.set_bed_status(actor=world["manager"], bed=world["beds"][3], status="out_of_service")
    assert [b.pk for b in selectors.beds_for(world["manager"], status="out_of_service")] == [world["beds"][3].pk]
    assert selectors.beds_for(world["manager"], status="free").count() == 3
    assert selectors.beds_for(world["manager"], nursing=True).count() == 2
