"""The demo city's register: proportions of the real county, valid identifiers, places inside 恩阳区, the
facilities the seed names, linked demo accounts, determinism."""

import datetime
import random

import pytest
from django.db.models import F, Sum
from django.utils import timezone

from yiyang.core import pii
from yiyang.core.demo import DEMO_COMMUNITY, DEMO_COUNTY, build_demo_city
from yiyang.core.models import Region
from yiyang.registry import demo
from yiyang.registry.models import (
    CategoryKind,
    Contact,
    Elder,
    ElderCategory,
    ElderStatus,
    ElderStatusEvent,
    Facility,
    FacilityKind,
    FamilyLink,
    LivingSituation,
    Organisation,
    OrganisationKind,
    OrganisationLicence,
    Practitioner,
    PractitionerRole,
)

SCALE = 1 / 200
SEED = 7


def quiet(*args):
    pass


@pytest.fixture
def city(db):
    return build_demo_city(seed=SEED, scale=SCALE, log=quiet, upto="yiyang.registry")


def in_box(lat, lon) -> bool:
    (lat_min, lat_max), (lon_min, lon_max) = demo.COUNTY_BOX
    return lat_min <= float(lat) <= lat_max and lon_min <= float(lon) <= lon_max


def test_population_has_the_county_proportions(city):
    today = timezone.localdate()
    elders = list(Elder.objects.all())
    assert len(elders) == round(demo.ELDERS_60 * SCALE)
    ages = [e.age_on(today) for e in elders]
    assert min(ages) >= 60
    share_80 = sum(a >= 80 for a in ages) / len(ages)
    assert share_80 == pytest.approx(demo.ELDERS_80 / demo.ELDERS_60, abs=0.005)
    assert sum(a >= 100 for a in ages) == round(demo.CENTENARIANS * SCALE)
    # Fewer people in each older decade; more women than men at high ages.
    decades = [sum(lo <= a < lo + 10 for a in ages) for lo in (60, 70, 80, 90)]
    assert decades == sorted(decades, reverse=True)
    old = [e for e, a in zip(elders, ages, strict=True) if a >= 80]
    assert sum(e.sex == "F" for e in old) > sum(e.sex == "M" for e in old)

    destitute = Elder.objects.filter(categories__kind=CategoryKind.DESTITUTE).distinct()
    total = round(demo.DESTITUTE * SCALE)
    assert destitute.count() == total
    central = round(total * demo.DESTITUTE_CENTRAL / demo.DESTITUTE)
    assert destitute.filter(living_situation=LivingSituation.INSTITUTION).count() == central
    assert ElderCategory.objects.filter(kind=CategoryKind.SUBSISTENCE).count() < 0.1 * len(elders)
    assert ElderCategory.objects.filter(kind=CategoryKind.SEVERE_DISABILITY).exclude(grade="").exists()
    assert not ElderCategory.objects.filter(kind=CategoryKind.SEVERE_DISABILITY, grade="").exists()
    living = {e.living_situation for e in elders}
    assert {LivingSituation.ALONE, LivingSituation.EMPTY_NEST, LivingSituation.WITH_CHILDREN,
            LivingSituation.LEFT_BEHIND, LivingSituation.INSTITUTION} <= living
    assert Contact.objects.filter(elder__in=elders).count() >= len(elders)
    # A year of events went through the service: deaths, moves, a suspension.
    assert Elder.objects.filter(status=ElderStatus.DECEASED).count() >= 1
    assert ElderStatusEvent.objects.filter(kind="relocate").count() >= 1
    assert Elder.objects.filter(status=ElderStatus.SUSPENDED).count() >= 1
    for event in ElderStatusEvent.objects.all():
        assert today - datetime.timedelta(days=366) <= event.effective_date <= today


def test_identity_numbers_are_valid_unique_and_consistent(city):
    elders = list(Elder.objects.all())
    numbers = [e.id_number for e in elders]
    assert len(set(numbers)) == len(numbers)
    assert len({e.id_number_hash for e in elders}) == len(elders)
    for e in elders:
        info = pii.parse_id_number(e.id_number)
        assert info.birth_date == e.birth_date
        assert info.sex == e.sex
        assert e.id_number_hash == pii.id_number_hash(e.id_number)
        assert e.id_number_masked == pii.mask_id_number(e.id_number)
        assert e.name_pinyin and e.name_initials
        if e.phone:
            assert pii.validate_phone(e.phone) == e.phone
        if e.bank_account:
            assert 16 <= len(e.bank_account) <= 19 and e.bank_account.isdigit()
    # The benefits demo mistypes a couple of accounts on purpose (its pre-payment checks must find them).
    mistyped = [e for e in elders if e.bank_account and e.bank_account != demo.luhn_complete(e.bank_account[:-1])]
    assert len(mistyped) <= 3
    assert sum(n.startswith(DEMO_COUNTY) for n in numbers) / len(numbers) > 0.7
    for c in Contact.objects.all():
        assert pii.validate_phone(c.phone)


def test_residences_are_communities_of_the_real_streets(city):
    streets = set(Region.objects.filter(parent_id=DEMO_COUNTY, level="street").values_list("code", flat=True))
    assert len(streets) == 18
    for e in Elder.objects.select_related("residence_region"):
        region = e.residence_region
        assert region.level == "community"
        assert e.county_code == region.code[:6]
        if e.county_code == DEMO_COUNTY:
            assert region.parent_id in streets
            assert in_box(e.latitude, e.longitude)
            assert e.address.startswith("恩阳区")
        else:
            # Registered in 恩阳区, living with family in the city proper.
            assert e.county_code == "511902"
            assert e.hukou_region_id.startswith(DEMO_COUNTY)
    residence_streets = set(Elder.objects.filter(county_code=DEMO_COUNTY).values_list(
        "residence_region__parent_id", flat=True))
    assert residence_streets == streets
    assert Elder.objects.exclude(hukou_region=F("residence_region")).exists()  # some live away from their 户籍


def test_facilities_are_the_ones_the_county_reports(city):
    county = Facility.objects.filter(region__code__startswith=DEMO_COUNTY)
    assert county.filter(kind=FacilityKind.DAY_CARE).count() == 42
    public = county.filter(operator__kind=OrganisationKind.PUBLIC, is_active=True)
    assert public.count() == 10
    assert public.aggregate(beds=Sum("beds_total"))["beds"] == 1200
    private = county.filter(operator__kind=OrganisationKind.CARE_HOME)
    assert private.count() == 4
    assert private.aggregate(beds=Sum("beds_total"))["beds"] == 1450
    assert not private.filter(is_active=True).exists()
    building = county.filter(operator__isnull=True, kind=FacilityKind.CARE_HOME, is_active=False)
    assert set(building.values_list("name", "beds_total")) == {("雪山区域性养老中心", 150), ("明阳区域性养老中心", 300)}
    yushan = county.get(name="玉山镇区域养老服务中心")
    assert yushan.beds_total == 120 and yushan.region_id.startswith("511903101")
    complex_ = county.get(kind=FacilityKind.STREET_CENTRE, region_id="511903001008")
    assert (complex_.floor_area, complex_.beds_total) == (600, 13)
    assert county.filter(kind=FacilityKind.MEAL_POINT).count() >= 8
    assert county.filter(kind=FacilityKind.CENTRAL_KITCHEN).count() == 1
    assert county.filter(name="观音井敬老院", region_id="511903107004").exists()  # 观音井 is now in 下八庙镇
    for f in county:
        assert f.beds_nursing <= f.beds_total
        assert in_box(f.latitude, f.longitude)
        assert Region.objects.get(code=f.region_id).level == "community"
    homes = county.filter(kind__in=[FacilityKind.CARE_HOME, FacilityKind.DESTITUTE_HOME], beds_total__gt=0)
    for home in homes:
        assert 0.3 <= home.beds_nursing / home.beds_total <= 0.55
    day_care = county.filter(kind=FacilityKind.DAY_CARE)
    assert day_care.filter(floor_area__gte=200, beds_total__gte=10).count() > 21  # most meet the norm …
    assert day_care.exclude(floor_area__gte=200, beds_total__gte=10).exists()  # … not all
    # Every organisation the demo registers has a valid credit code (GB 32100).
    demo_orgs = Organisation.objects.all()
    assert demo_orgs.count() >= 19
    for org in demo_orgs:
        assert pii.validate_credit_code(org.credit_code) == org.credit_code
    soon = timezone.localdate() + datetime.timedelta(days=60)
    assert OrganisationLicence.objects.filter(expires_on__lte=soon).count() >= 3


def test_demo_accounts_are_linked(city):
    link = FamilyLink.objects.get(user=city.accounts["family"])
    mother = link.elder
    assert mother.name == demo.FAMILY_ELDER_NAME
    assert mother.residence_region_id == DEMO_COMMUNITY
    assert mother.age >= 80 and mother.sex == "F"
    assert mother.contacts.filter(name="杨志强", is_guardian=True).exists()
    caregiver = Practitioner.objects.get(account=city.accounts["caregiver"])
    provider = city.accounts["provider"].organisation
    assert caregiver.organisation == provider
    caregivers = Practitioner.objects.filter(organisation=provider, role=PractitionerRole.CAREGIVER)
    assert caregivers.count() >= 12
    assert all(p.skill_list for p in caregivers)
    assert caregivers.exclude(certificate_level="").exists()
    assert Practitioner.objects.filter(role=PractitionerRole.SOCIAL_WORKER).exists()
    assert Practitioner.objects.filter(role=PractitionerRole.NURSE).exists()
    for p in Practitioner.objects.all():
        assert pii.parse_id_number(p.id_number).birth_date == p.birth_date


def _snapshot():
    return sorted(Elder.objects.values_list("id_number_hash", "name", "residence_region_id", "birth_date",
                                            "living_situation", "status"))


def test_same_seed_same_city_and_rerun_is_harmless(city):
    first = _snapshot()
    facilities = sorted(Facility.objects.values_list("name", "region_id", "beds_total"))
    build_demo_city(seed=SEED, scale=SCALE, log=quiet, upto="yiyang.registry")  # a second run changes nothing
    assert _snapshot() == first
    assert sorted(Facility.objects.values_list("name", "region_id", "beds_total")) == facilities
    _delete_demo_elders()
    build_demo_city(seed=SEED, scale=SCALE, log=quiet, upto="yiyang.registry")
    assert _snapshot() == first


@pytest.mark.django_db
def test_generator_is_deterministic_and_scales():
    today = timezone.localdate()
    places = demo.load_places()
    assert len(places) == 309

    def run(seed, scale):
        return [(s.name, s.id_number, s.place.code, s.living, s.address)
                for s in demo.generate_elders(seed=seed, scale=scale, today=today, places=places)]

    assert run(1, SCALE) == run(1, SCALE)
    assert run(1, SCALE) != run(2, SCALE)
    assert len(run(1, SCALE * 4)) == round(demo.ELDERS_60 * SCALE * 4)


def test_identifier_helpers():
    assert demo.short_name("登科寺社区居民委员会") == "登科寺社区"
    assert demo.short_name("新场居民委员会") == "新场社区"
    assert demo.short_name("团包垭村民委员会") == "团包垭村"
    assert demo.short_name("石龙村村民委员会") == "石龙村"
    assert demo.luhn_complete("7992739871") == "79927398713"
    rng = random.Random(1)
    used: set[str] = set()
    codes = [demo.credit_code(rng, kind, used) for kind in ("91", "52", "12") for _ in range(20)]
    assert len(set(codes)) == 60
    for code in codes:
        assert pii.validate_credit_code(code) == code and code[2:8] == DEMO_COUNTY
    ids = demo.IdNumbers(rng)
    number = ids.make("511903", datetime.date(1940, 2, 29), "F")
    info = pii.parse_id_number(number)
    assert (info.birth_date, info.sex, info.region_code) == (datetime.date(1940, 2, 29), "F", "511903")


def _delete_demo_elders():
    # Assessments and benefit payments protect their elders (health and money records never vanish with a
    # register row): remove them first.
    from yiyang.assessment.models import Assessment, CurrentLevel
    from yiyang.benefits.models import BankResultImport, Roll, RollLine, StreetReview
    from yiyang.routing.models import RouteLock, RoutePlan
    from yiyang.services.models import AllowanceEntry, Order, RecurringOrder, Settlement, SettlementItem

    RoutePlan.objects.all().delete()  # stops go with their plans
    RouteLock.objects.all().delete()
    SettlementItem.objects.all().delete()
    Settlement.objects.all().delete()
    AllowanceEntry.objects.all().delete()
    RecurringOrder.objects.all().delete()  # skipped days go with them
    Order.objects.all().delete()  # events, flags and follow-up calls go with their orders
    RollLine.objects.all().delete()  # checks go with their lines
    StreetReview.objects.all().delete()
    BankResultImport.objects.all().delete()
    Roll.objects.all().delete()
    CurrentLevel.objects.all().delete()
    Assessment.objects.all().delete()
    Elder.objects.all().delete()


def test_the_log_says_the_demo_loader_wrote_the_demo_not_the_director(city, client):
    from yiyang.core.demo import DEMO_SOURCE
    from yiyang.core.models import AuditEvent

    director = city.accounts["bureau"]
    written = AuditEvent.objects.exclude(action__in=["login", "logout"])
    assert written.exists()
    assert not written.filter(actor=director).exists()
    assert set(written.values_list("actor_username", flat=True)) <= {DEMO_SOURCE, ""}
    # Writes made under an account's authority say whose it was.
    assert written.filter(actor_username=DEMO_SOURCE, detail__startswith=f"[{DEMO_SOURCE} · bureau]").exists()
    client.force_login(director)
    recent = client.get("/").context["recent_events"]
    assert recent and all(e.actor_id is None and e.actor_username == DEMO_SOURCE for e in recent)
