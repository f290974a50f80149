"""Generated scope tests of the alarms models (core/tests/scope_matrix.py).

The places: `here` (登科寺社区, the home of the family's elder), `next_door` (another community of 登科街道),
`other_street` (文治街道) and `far` (巴州区). Each home has an SOS button: vendor 安心 of 恩阳区 (maintained by
颐康) for the three in 恩阳区, 巴州's own vendor for `far`; the device next door is maintained by 惠民. Besides the
scope world's roles, every check runs as two duty desks: `operator` of 恩阳区's call centre and `other_operator`
of 文治街道's desk. The area's staff and the desk see their area; a maintainer its devices and their alarms; the
responder an alarm was dispatched to that alarm; the family their elder's devices and alarms; nobody else
anything. Out of scope every write answers 404."""

import datetime
import itertools

from django.utils import timezone

from yiyang.alarms import services
from yiyang.alarms.events import NormalisedEvent
from yiyang.alarms.models import (
    Alarm,
    Channel,
    Device,
    DeviceEvent,
    DutyShift,
    MaintenanceTask,
    Notification,
    ServiceLevel,
    Vendor,
)
from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import make_user
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ROLES, ScopeMatrix, Write
from yiyang.registry.tests.factories import make_elder

PLACES = {"here": HERE, "next_door": NEXT_DOOR, "other_street": OTHER_STREET, "far": OTHER_COUNTY}
DESKS = ("operator", "other_operator")
_events = itertools.count(1)


def _event(serial, alarm_kind="sos", **kw) -> NormalisedEvent:
    return NormalisedEvent(event_id=f"scope-{next(_events)}", device_serial=serial, kind="alarm",
                           alarm_kind=alarm_kind, occurred_at=timezone.now(), **kw)


def alarms_world(world) -> dict:
    """The desks' accounts, the two vendors, a home with an SOS button in each place (built once per test)."""
    if "_alarms" in world.users:
        return world.users["_alarms"]
    world.users["operator"] = make_user("operator", Role.OPERATOR, region="511903")
    world.users["other_operator"] = make_user("other_operator", Role.OPERATOR, region="511903002")
    far_bureau = world["other_bureau"]
    county, far_county = Region.objects.get(code="511903"), Region.objects.get(code="511902")
    vendor, _ = services.create_vendor(actor=world["bureau"], code="anxin", name="安心科技", format="yiyang_json",
                                       jurisdiction=county, maintainer=world.organisations["provider"])
    far_vendor, _ = services.create_vendor(actor=far_bureau, code="bazhou", name="巴州物联", format="yiyang_json",
                                           jurisdiction=far_county)
    installers = {"here": world["community"], "next_door": world["other_community"],
                  "other_street": world["other_street"], "far": far_bureau}
    installed = timezone.localdate() - datetime.timedelta(days=30)
    elders, devices = {}, {}
    for i, (place, code) in enumerate(PLACES.items()):
        elders[place] = world.elders["family"] if place == "here" else make_elder(
            far_bureau if place == "far" else world["bureau"], name=f"老人{place[:2]}", seq=60 + i, residence=code)
        devices[place] = services.register_device(
            actor=installers[place], vendor=far_vendor if place == "far" else vendor, serial=f"SOS-{place}",
            kind="sos_button", elder=elders[place], installed_on=installed,
            maintainer=world.organisations["other_provider"] if place == "next_door" else None)
    out = {"vendor": vendor, "far_vendor": far_vendor, "elders": elders, "devices": devices}
    world.users["_alarms"] = out
    return out


def _sos_everywhere(world) -> dict:
    aw = alarms_world(world)
    for device in aw["devices"].values():
        services.ingest(vendor=device.vendor, events=[_event(device.serial)], channel=Channel.WEBHOOK)
    return {place: Alarm.objects.get(device=d) for place, d in aw["devices"].items()}


# Who sees the devices of the four homes (and their maintenance tasks).
AREA = {"bureau": {"here", "next_door", "other_street"}, "other_bureau": {"far"},
        "street": {"here", "next_door"}, "other_street": {"other_street"}, "community": {"here"},
        "other_community": {"next_door"}, "provider": {"here", "other_street"}, "other_provider": {"next_door"},
        "operator": {"here", "next_door", "other_street"}, "other_operator": {"other_street"}}
API = "/api/v1/alarms/"


class TestDeviceScope(ScopeMatrix):
    model = Device
    roles = (*ROLES, *DESKS)
    visible = {**AREA, "family": {"here"}}
    api_list_url = API + "devices"
    writes = (Write("API retire", "post", lambda case, d: f"{API}devices/{d.pk}/retire", {}, as_json=True),)

    def build(self, world):
        return dict(alarms_world(world)["devices"])

    def api_detail_url(self, obj):
        return f"{API}devices/{obj.pk}"


class TestAlarmScope(ScopeMatrix):
    """`here`'s alarm was dispatched to the caregiver (of 颐康), `next_door`'s to the visitor."""

    model = Alarm
    roles = (*ROLES, *DESKS)
    visible = {**AREA, "family": {"here"}, "caregiver": {"here"}, "visitor": {"next_door"}}
    api_list_url = API + "alarms"
    writes = (
        Write("API acknowledge", "post", lambda case, a: f"{API}alarms/{a.pk}/acknowledge", {}, as_json=True),
        Write("API on site", "post", lambda case, a: f"{API}alarms/{a.pk}/on-site", {}, as_json=True),
        Write("API resolve", "post", lambda case, a: f"{API}alarms/{a.pk}/resolve", {"outcome": "false_alarm"},
              as_json=True),
        Write("API note", "post", lambda case, a: f"{API}alarms/{a.pk}/notes", {"note": "来电"}, as_json=True),
    )

    def build(self, world):
        alarms = _sos_everywhere(world)
        for place, responder in (("here", world["caregiver"]), ("next_door", world["visitor"])):
            desk = world["community"] if place == "here" else world["other_community"]
            services.acknowledge(actor=desk, alarm=alarms[place])
            services.dispatch(actor=desk, alarm=alarms[place], responder="caregiver", responder_user=responder)
        return {place: Alarm.objects.get(pk=a.pk) for place, a in alarms.items()}

    def api_detail_url(self, obj):
        return f"{API}alarms/{obj.pk}"


class TestDeviceEventScope(ScopeMatrix):
    """The four homes' events, and an unknown device's event quarantined in 恩阳区 (its vendor's jurisdiction):
    the API lists only the quarantined ones."""

    model = DeviceEvent
    roles = (*ROLES, *DESKS)
    visible = {"bureau": {"here", "next_door", "other_street", "quarantined"}, "other_bureau": {"far"},
               "street": {"here", "next_door"}, "other_street": {"other_street"}, "community": {"here"},
               "other_community": {"next_door"}, "operator": {"here", "next_door", "other_street", "quarantined"},
               "other_operator": {"other_street"}}
    api_visible = {"bureau": {"quarantined"}, "operator": {"quarantined"}}
    api_list_url = API + "quarantine"

    def build(self, world):
        aw = alarms_world(world)
        _sos_everywhere(world)
        services.ingest(vendor=aw["vendor"], events=[_event("GHOST-1")], channel=Channel.WEBHOOK)
        out = {place: DeviceEvent.objects.get(device=d) for place, d in aw["devices"].items()}
        out["quarantined"] = DeviceEvent.objects.get(device_serial="GHOST-1")
        return out


class TestMaintenanceTaskScope(ScopeMatrix):
    model = MaintenanceTask
    roles = (*ROLES, *DESKS)
    visible = AREA
    api_list_url = API + "maintenance"
    writes = (Write("API finish", "post", lambda case, t: f"{API}maintenance/{t.pk}/finish", {}, as_json=True),)

    def build(self, world):
        aw = alarms_world(world)
        for device in aw["devices"].values():
            services.ingest(vendor=device.vendor, events=[_event(device.serial, "low_battery", battery_pct=7)],
                            channel=Channel.WEBHOOK)
        return {place: MaintenanceTask.objects.get(device=d) for place, d in aw["devices"].items()}

    def api_detail_url(self, obj):
        return f"{API}maintenance/{obj.pk}"


class TestDutyShiftScope(ScopeMatrix):
    """The county's call centre (the operator's own shift), 登科街道's duty officer, 文治街道's desk (the other
    operator) and 巴州区's call centre."""

    model = DutyShift
    roles = (*ROLES, *DESKS)
    visible = {"bureau": {"county", "street", "other_street"}, "other_bureau": {"far"}, "street": {"street"},
               "other_street": {"other_street"}, "operator": {"county", "street", "other_street"},
               "other_operator": {"other_street"}}
    api_list_url = API + "rota"
    writes = (Write("API remove", "delete", lambda case, s: f"{API}rota/{s.pk}", {}, as_json=True),)

    def build(self, world):
        alarms_world(world)
        start = timezone.now() - datetime.timedelta(hours=1)
        far_operator = make_user("far_operator", Role.OPERATOR, region="511902")
        rows = {"county": ("bureau", "511903", world["operator"], "operator"),
                "street": ("bureau", "511903001", world["street"], "duty_officer"),
                "other_street": ("other_street", "511903002", world["other_operator"], "operator"),
                "far": ("other_bureau", "511902", far_operator, "operator")}
        return {place: services.add_shift(actor=world[actor], region=Region.objects.get(code=code), user=user,
                                          duty_role=role, starts_at=start,
                                          ends_at=start + datetime.timedelta(hours=12))
                for place, (actor, code, user, role) in rows.items()}


class TestServiceLevelScope(ScopeMatrix):
    """The county's level applies to its streets, so every account of the county sees it, and its street's."""

    model = ServiceLevel
    roles = (*ROLES, *DESKS)
    visible = {"bureau": {"county", "street", "other_street"}, "other_bureau": {"far"},
               "street": {"county", "street"}, "other_street": {"county", "other_street"},
               "community": {"county", "street"}, "other_community": {"county", "street"},
               "operator": {"county"}, "other_operator": {"county", "other_street"}}
    api_list_url = API + "service-levels"
    writes = (Write("API set", "put", lambda case, s: f"{API}service-levels/{s.jurisdiction_id}",
                    {"ack_seconds": 30, "arrive_minutes": 20, "chain": [{"to": "bureau", "wait_seconds": 0}]},
                    as_json=True),)

    def build(self, world):
        alarms_world(world)
        chain = [{"to": "backup", "wait_seconds": 120}, {"to": "bureau", "wait_seconds": 0}]
        rows = {"county": ("bureau", "511903"), "street": ("bureau", "511903001"),
                "other_street": ("bureau", "511903002"), "far": ("other_bureau", "511902")}
        return {place: services.set_service_level(actor=world[actor], jurisdiction=Region.objects.get(code=code),
                                                  ack_seconds=60, arrive_minutes=45, chain=chain)
                for place, (actor, code) in rows.items()}


class TestVendorScope(ScopeMatrix):
    """Vendors belong to a county's bureau; the county's streets and desks see them, never their secrets."""

    model = Vendor
    roles = (*ROLES, *DESKS)
    visible = {"bureau": {"county"}, "other_bureau": {"far"}, "street": {"county"}, "other_street": {"county"},
               "operator": {"county"}, "other_operator": {"county"}}
    api_list_url = API + "vendors"
    writes = (Write("API rotate", "post", lambda case, v: f"{API}vendors/{v.pk}/rotate-secret", {},
                    as_json=True),)

    def build(self, world):
        aw = alarms_world(world)
        return {"county": aw["vendor"], "far": aw["far_vendor"]}

    def api_detail_url(self, obj):
        return f"{API}vendors/{obj.pk}"


class TestNotificationScope(ScopeMatrix):
    """The outbox: each person's own notifications; the bureau also sees its area's (for its pages), while the
    API lists and shows everyone only their own."""

    model = Notification
    roles = (*ROLES, *DESKS)
    visible = {"bureau": {"here", "next_door", "other_street"}, "other_bureau": {"far"}, "operator": {"here"},
               "community": {"next_door"}, "other_operator": {"other_street"}}
    api_visible = {"other_bureau": {"far"}, "operator": {"here"}, "community": {"next_door"},
                   "other_operator": {"other_street"}}
    api_list_url = API + "notifications"
    writes = (Write("API read", "post", lambda case, n: f"{API}notifications/{n.pk}/read", {}, as_json=True),)

    def build(self, world):
        alarms = _sos_everywhere(world)
        recipients = {"here": world["operator"], "next_door": world["community"],
                      "other_street": world["other_operator"], "far": world["other_bureau"]}
        return {place: services._notify([recipients[place]], alarms[place], "报警", "请处理")[0]
                for place in PLACES}

    def api_detail_url(self, obj):
        return f"{API}notifications/{obj.pk}"
