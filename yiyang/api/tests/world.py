"""A small county with something in every list of the API, built through the real services: the demo roles
(恩阳区 bureau, 登科街道 street, 登科寺社区 community, 颐康 provider and its caregiver), elders in the street
and in another one, facilities, staff, assessments, a generated benefit roll with lines and checks, orders
(some served, confirmed and sampled for follow-up calls), standing orders and shifts, and care visits (the model
tiers adopted, a visitor paired with the street's elders, this month's tasks, a visit with a follow-up), and
emergency alarms (an operator on duty, a vendor, devices in three homes, an alarm open and one resolved, a
quarantined event, a low battery's maintenance task, the street's service level)."""

import datetime

from django.utils import timezone

from yiyang.alarms import services as alarms
from yiyang.alarms.events import NormalisedEvent
from yiyang.assessment import services as assessment_services
from yiyang.benefits.tests import factories as benefits
from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import demo_roles, make_org, make_user
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder
from yiyang.services import services
from yiyang.services.tests.factories import catalogue, make_caregiver, soon, tomorrow_at
from yiyang.visits import services as visits
from yiyang.visits.tests.factories import adopt_model_rules, make_visitor, this_month

COMMUNITY = "511903001002"    # 登科寺社区, in the street user's 登科街道
OTHER_COMMUNITY = "511903002001"  # in 文治街道


def api_world() -> dict:
    roles = demo_roles()
    cat = catalogue(roles)
    bureau, provider = roles["bureau"], roles["provider"]
    carer = make_caregiver(roles)
    make_caregiver(roles, account=None, seq=8, name="张护理")
    make_caregiver(roles, account=None, seq=9, name="王护理")
    make_org("夕阳红", region="511903001")

    today = timezone.localdate()
    elders = [make_elder(bureau, seq=i, name=f"老人{i}", birth=datetime.date(1938 + i, 3, 8), residence=COMMUNITY,
                         categories=[{"kind": "destitute", "start_date": today - datetime.timedelta(days=400)}]
                         if i == 1 else ())
              for i in range(1, 5)]
    elders.append(make_elder(bureau, seq=9, name="别街老人", residence=OTHER_COMMUNITY))
    facilities = [registry.save_facility(actor=bureau, name=f"日间照料中心{i}", kind="day_care",
                                         region=COMMUNITY if i < 3 else OTHER_COMMUNITY) for i in range(1, 4)]

    for e in elders[:3]:
        assessment_services.request_assessment(actor=roles["community"], elder=e, reason="first")

    prog = benefits.programme()
    benefits.rule(prog, benefits.LONGEVITY)
    roll = benefits.generate(bureau, prog, today.replace(day=1))

    for i, e in enumerate(elders[:3]):
        services.place_order(actor=bureau, elder=e, provider=cat["org"], item=cat["bath"],
                             scheduled_start=tomorrow_at(9 + i), channel="staff")[0]
    served = []
    for i, e in enumerate(elders[:3]):
        order = services.place_order(actor=bureau, elder=e, provider=cat["org"], item=cat["bath"],
                                     scheduled_start=soon(5 + i), channel="staff")[0]
        services.accept_order(actor=provider, order=order)
        services.assign_order(actor=provider, order=order, caregiver=carer)
        now = timezone.now()
        services.check_in(actor=carer.account, order=order, at=now - datetime.timedelta(minutes=60))
        services.check_out(actor=carer.account, order=order, at=now)
        services.confirm_order(actor=roles["community"], order=order)
        served.append(order)
    services.sample_follow_ups(actor=bureau, jurisdiction="511903", month=today.strftime("%Y-%m"), rate=1)
    for e in elders[:3]:
        services.create_recurring(actor=bureau, elder=e, provider=cat["org"], item=cat["cleaning"], weekdays=[2],
                                  time="15:00", starts_on=today + datetime.timedelta(days=1))
    for d in range(1, 4):
        services.set_shift(actor=provider, caregiver=carer, day=today + datetime.timedelta(days=d), start="08:00",
                           end="17:00")
    rule_set = adopt_model_rules(bureau)
    visitor = make_visitor(roles["community"], "赵网格", username="visitor")
    backup = make_visitor(roles["community"], "钱干部", kind="cadre")
    for e in elders[:3]:
        visits.pair(actor=roles["community"], elder=e, visitor=visitor, backup=backup)
    # Alarms: on the visitor's day for 老人2 and 老人3; 老人4 has nobody responsible (the unpaired list).
    for e in elders[1:4]:
        visits.raise_task(actor=roles["community"], elder=e, trigger="alarm", trigger_ref=f"world:{e.pk}")
    visits.generate_month(month=this_month())
    visits.record_visit(actor=visitor.user, elder=elders[0], method="home", outcome="seen", client_key="api-world",
                        checklist={"gas": "concern"}, follow_ups=[{"kind": "home_adaptation", "note": "燃气灶老化"}])
    alarm_world = _alarms(roles, elders)
    home = _institutions(roles)
    return {**roles, **cat, **alarm_world, "home": home, "carer": carer, "elders": elders, "facilities": facilities,
            "roll": roll, "programme": prog, "served": served, "rule_set": rule_set, "visitors": [visitor, backup],
            "visitor": visitor.user}


def _alarms(roles, elders) -> dict:
    """An operator of the county's call centre on duty, the street's duty officer, a vendor maintained by 颐康,
    an SOS button and a door sensor in the homes of 老人1–3; an SOS of 老人1 open, one of 老人2 resolved as a
    false alarm, an unknown device's event quarantined, 老人3's door sensor low on battery."""
    bureau, county = roles["bureau"], Region.objects.get(code="511903")
    operator = make_user("operator", Role.OPERATOR, region="511903", display_name="接警员小周")
    now = timezone.now()
    alarms.add_shift(actor=bureau, region=county, user=operator, duty_role="operator",
                     starts_at=now - datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=11))
    alarms.add_shift(actor=bureau, region=Region.objects.get(code="511903001"), user=roles["street"],
                     duty_role="duty_officer", starts_at=now - datetime.timedelta(hours=1),
                     ends_at=now + datetime.timedelta(hours=11))
    alarms.set_service_level(actor=bureau, jurisdiction=Region.objects.get(code="511903001"), ack_seconds=60,
                             arrive_minutes=30, chain=[{"to": "duty_officer", "wait_seconds": 120},
                                                       {"to": "bureau", "wait_seconds": 0}])
    vendor, _secret = alarms.create_vendor(actor=bureau, code="anxin", name="安心科技", format="yiyang_json",
                                           jurisdiction=county, maintainer=roles["provider"].organisation)
    install = timezone.localdate() - datetime.timedelta(days=30)
    devices = []
    for i, e in enumerate(elders[:3], start=1):
        for kind, prefix in (("sos_button", "SOS"), ("door", "DOOR")):
            devices.append(alarms.register_device(actor=roles["community"], vendor=vendor, serial=f"{prefix}-{i}",
                                                  kind=kind, elder=e, installed_on=install))

    def ev(serial, n, alarm_kind="sos", battery=None):
        return NormalisedEvent(event_id=f"world-{n}", device_serial=serial, kind="alarm", alarm_kind=alarm_kind,
                               occurred_at=timezone.now(), battery_pct=battery)

    alarms.ingest(vendor=vendor, events=[ev("SOS-1", 1), ev("SOS-2", 2), ev("GHOST-1", 3),
                                         ev("DOOR-3", 4, "low_battery", 9)], channel="webhook")
    settled = alarms.acknowledge(actor=operator, alarm=devices[2].alarms.get())
    alarms.resolve(actor=operator, alarm=settled, outcome="false_alarm", note="误按")
    return {"operator": operator, "vendor": vendor, "devices": devices}


def _institutions(roles):
    """A private home of 登科街道 with three beds (one 护理型) and its supervised account (no postings yet)."""
    from yiyang.core.models import Role
    from yiyang.institutions import services as institutions
    from yiyang.registry.models import OrganisationKind

    org = make_org("福寿养老院运营方", kind=OrganisationKind.CARE_HOME, region="511903001")
    manager = make_user("carehome", Role.PROVIDER, organisation=org)
    home = institutions.register_institution(actor=roles["bureau"], name="福寿养老院", kind="care_home",
                                             ownership="private", organisation=org, region="511903001")
    institutions.add_beds(actor=manager, institution=home, building="1号楼", floor=1, room="101", labels=["1"],
                          nursing=True)
    institutions.add_beds(actor=manager, institution=home, building="1号楼", floor=1, room="102", labels=["1", "2"])
    institutions.open_escrow_account(actor=roles["bureau"], institution=home, bank_name="存管银行",
                                     account_number="622800009999")
    return home
