"""Demo data of the alarms app (紧急呼叫, issue 16): two vendors, 200 devices in the homes of 恩阳区's elders, the
duty rota of the county's call centre and of every street around now, the service levels, three past months of
alarms through every outcome, and today's state: a few open alarms, quarantined events, devices offline and
batteries running low.

The vendors are 安心 (`anxin`, JSON over the webhook) and 华夏 (`huaxia`, its devices publish over MQTT). Their
secrets are demo-only and derived, not stored anywhere else: `demo_vendor_secret(code)` (an HMAC of the code
under the deployment's SECRET_KEY), so that the device simulator signs what the demo accepts without the secret
being printed or written to a file. A real vendor's secret is random and shown once (`services.create_vendor`).

The history (thousands of rows: a service call per step would take minutes and could not be dated) is written
set-based: the alarms with every time of their life cycle, their timeline steps and the events that raised or
folded into them, drawn so that about 97 % are acknowledged within the service level's 60 s and nearly everyone
someone went to has a person on site within 45 minutes (the target is 90 %); about half are false alarms (误按,
cooking smoke). History is not sent to the outbox and raises no visits. Today's alarms go through the services
(ingest, the life cycle at its moments, the escalation), so the `operator` login (接警员 of the county's call
centre, on duty now) finds them in the queue with their notifications. Nothing is dated after the real now.
"""

from __future__ import annotations

import datetime
import math
import random

from django.contrib.auth.hashers import make_password
from django.db.models import F
from django.utils import timezone

from yiyang.core import audit
from yiyang.core.demo import DEMO_COMMUNITY, DEMO_COUNTY, DEMO_PASSWORD, DEMO_STREET, clock_at, demo_step
from yiyang.core.models import AuditAction, Region, RegionLevel, Role, User
from yiyang.registry.models import Elder, ElderStatus, LivingSituation

from . import services
from .demo_secrets import demo_vendor_secret
from .events import NormalisedEvent
from .models import (
    Alarm,
    AlarmOutcome,
    AlarmStatus,
    AlarmStep,
    Channel,
    Device,
    DeviceEvent,
    DeviceKind,
    DutyRole,
    DutyShift,
    EventKind,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceTask,
    Responder,
    StepKind,
    Vendor,
    VendorFormat,
)

OPERATOR_ACCOUNT = "operator"
OPERATOR_NAME = "周敏"
DEVICES = 200
HISTORY_DAYS = 91                 # three months
ALARMS_PER_DAY = 3.0              # across the county's 200 devices
OFFLINE = 6                       # devices silent for more than a day now
VENDORS = (
    # code, name, format, channel of its devices' messages
    ("anxin", "安心居家科技有限公司", VendorFormat.YIYANG_JSON, Channel.WEBHOOK),
    ("huaxia", "华夏物联网络有限公司", VendorFormat.YIYANG_JSON, Channel.MQTT),
)
# How many of the 200 devices of each kind, and which vendor makes them.
KINDS = [
    (DeviceKind.SOS_BUTTON, 60, "anxin"), (DeviceKind.SMARTWATCH, 30, "huaxia"),
    (DeviceKind.FALL_SENSOR, 25, "anxin"), (DeviceKind.SMOKE, 25, "anxin"), (DeviceKind.GAS, 15, "anxin"),
    (DeviceKind.DOOR, 20, "huaxia"), (DeviceKind.ACTIVITY, 10, "huaxia"), (DeviceKind.WATER_LEAK, 5, "anxin"),
    (DeviceKind.BED, 5, "huaxia"), (DeviceKind.VIDEO_INTERCOM, 5, "huaxia"),
]
# What each kind of device raises, and how often a device of that kind raises anything (relative weights).
ALARM_KINDS = {
    DeviceKind.SOS_BUTTON: (3.0, [("sos", 1.0)]),
    DeviceKind.SMARTWATCH: (2.0, [("sos", 0.5), ("fall", 0.35), ("vitals", 0.15)]),
    DeviceKind.FALL_SENSOR: (1.5, [("fall", 1.0)]),
    DeviceKind.SMOKE: (0.8, [("smoke", 1.0)]),
    DeviceKind.GAS: (0.4, [("gas", 1.0)]),
    DeviceKind.DOOR: (0.3, [("intrusion", 1.0)]),
    DeviceKind.WATER_LEAK: (0.4, [("water", 1.0)]),
    DeviceKind.BED: (0.6, [("bed_exit", 1.0)]),
    DeviceKind.VIDEO_INTERCOM: (0.5, [("sos", 1.0)]),
}
# Outcome shares: a pressed button is most often a mistake, smoke most often cooking.
OUTCOMES = {
    "default": [(AlarmOutcome.FALSE_ALARM, 0.50), (AlarmOutcome.HANDLED_AT_HOME, 0.36),
                (AlarmOutcome.TO_HOSPITAL, 0.14)],
    "smoke": [(AlarmOutcome.FALSE_ALARM, 0.75), (AlarmOutcome.HANDLED_AT_HOME, 0.25)],
    "gas": [(AlarmOutcome.FALSE_ALARM, 0.55), (AlarmOutcome.HANDLED_AT_HOME, 0.45)],
    "water": [(AlarmOutcome.FALSE_ALARM, 0.3), (AlarmOutcome.HANDLED_AT_HOME, 0.7)],
}
FALSE_NOTES = ["老人误按，电话确认无事", "手表误触，本人接听电话说明", "做饭油烟触发，已开窗", "老人在院坝，门磁误报",
               "起夜上厕所，已回床"]
HOME_NOTES = ["摔倒后无法起身，扶起后检查无明显外伤", "血压偏高，协助服药后平稳", "燃气阀未关，已关闭并通风",
              "水管漏水，已关闭总阀并联系维修", "老人情绪紧张，陪伴安抚后好转"]
HOSPITAL_NOTES = ["疑似骨折，120 送往恩阳区人民医院", "胸闷气短，送医观察", "摔倒头部出血，送医缝合"]
DECEASED_NOTE = "120 到场确认已无生命体征，已通知家属和辖区派出所"


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _bulk_users(specs, region_of) -> list[User]:
    """Desk accounts without a password of their own (the demo signs in only as `operator`), set-based."""
    unusable = make_password(None)
    users = [User(username=username, role=role, region_id=region_of[username], scope_code=region_of[username],
                  display_name=name, password=unusable) for username, role, name in specs
             if not User.objects.filter(username=username).exists()]
    User.objects.bulk_create(users)
    return list(User.objects.filter(username__in=[s[0] for s in specs]).order_by("username"))


# ------------------------------------------------------------------------------------------------- setup


@demo_step
def alarms_setup(ctx, log) -> None:
    bureau = ctx.accounts.get("bureau")
    if bureau is None:
        log("alarms: no demo bureau account, skipped")
        return
    if Vendor.objects.filter(code="anxin").exists():
        existing = User.objects.filter(username=OPERATOR_ACCOUNT, role=Role.OPERATOR).first()
        if existing is not None:
            ctx.accounts[OPERATOR_ACCOUNT] = existing
        log("alarms: the demo vendors exist, left as they are")
        return
    rng = random.Random(f"yiyang.alarms.demo:{ctx.seed}:setup")
    now = timezone.now()
    county = ctx.county

    # The `operator` login: 接警员 of the county's call centre.
    user = User.objects.filter(username=OPERATOR_ACCOUNT).first() or User(username=OPERATOR_ACCOUNT)
    user.role, user.region, user.organisation = Role.OPERATOR, county, None
    user.display_name = f"恩阳区呼叫中心 接警员 {OPERATOR_NAME}"
    user.set_password(DEMO_PASSWORD)
    user.full_clean(exclude=["password", "id_number"])
    user.save()
    ctx.accounts[OPERATOR_ACCOUNT] = user

    # Vendors, maintained by the demo provider, with their derived demo secrets.
    provider = ctx.accounts["provider"].organisation if "provider" in ctx.accounts else None
    vendors = {}
    for code, name, fmt, _channel in VENDORS:
        vendor, _secret = services.create_vendor(actor=bureau, code=code, name=name, format=fmt, jurisdiction=county,
                                                 maintainer=provider)
        vendor.secret = demo_vendor_secret(code)
        vendor.secret_rotated_at = now - datetime.timedelta(days=HISTORY_DAYS + 30)
        vendor.save(update_fields=["secret", "secret_rotated_at"])
        Vendor.objects.filter(pk=vendor.pk).update(created_at=now - datetime.timedelta(days=HISTORY_DAYS + 40))
        vendors[code] = vendor

    # The service levels: the county's (the TSA code's 60 s, on site within 45 minutes), and 登科街道's own,
    # stricter, with its duty officer first in the chain.
    services.set_service_level(actor=bureau, jurisdiction=county, ack_seconds=60, arrive_minutes=45,
                               chain=services.DEFAULT_CHAIN)
    services.set_service_level(actor=bureau, jurisdiction=Region.objects.get(code=DEMO_STREET), ack_seconds=45,
                               arrive_minutes=30, chain=[{"to": "duty_officer", "wait_seconds": 120},
                                                         {"to": "backup", "wait_seconds": 180},
                                                         {"to": "bureau", "wait_seconds": 0}])

    _rota(ctx, rng, user, now)
    devices = _devices(ctx, rng, vendors, provider, now)
    audit.record(actor=bureau, action=AuditAction.IMPORT, object_type="alarms.device", object_repr="演示城市",
                 region_code=DEMO_COUNTY, detail=f"演示数据：居家安全设备 {devices} 台")
    log(f"alarms: vendors {', '.join(vendors)} (demo secrets: alarms.demo_secrets.demo_vendor_secret(code)); "
        f"{devices} devices; the rota of the call centre and every street; `operator` is {OPERATOR_NAME} "
        f"(接警员, 恩阳区呼叫中心, on duty now, password {DEMO_PASSWORD})")


def _rota(ctx, rng, operator: User, now: datetime.datetime) -> None:
    """Twelve-hour shifts of the county's call centre (an operator and a backup each) from yesterday evening to
    tomorrow morning, `operator` on the one running now; a duty officer (值班领导) for the county and for every
    street in 24-hour shifts, 登科街道's `street` account among them."""
    from yiyang.registry.demo import younger_name

    bureau = ctx.accounts["bureau"]
    today = timezone.localdate(now)
    slots = [_at(today - datetime.timedelta(days=1), 20), _at(today, 8), _at(today, 20),
             _at(today + datetime.timedelta(days=1), 8)]
    current = max(i for i, start in enumerate(slots[:3]) if start <= now) if now >= slots[0] else 0
    specs = [(f"operator-{DEMO_COUNTY}-{i}", Role.OPERATOR, f"接警员 {younger_name(rng, rng.choice('FM'))}")
             for i in range(1, 6)]
    desk = _bulk_users(specs, {s[0]: DEMO_COUNTY for s in specs})
    # Slot k has desk[2k % 6] as operator and desk[2k+1 % 6] as backup; `operator` takes the running slot's.
    desk.insert(2 * current % 6, operator)
    shifts = []
    for k, start in enumerate(slots):
        for offset, role in ((0, DutyRole.OPERATOR), (1, DutyRole.BACKUP)):
            shifts.append(DutyShift(region=ctx.county, region_code=DEMO_COUNTY, user=desk[(2 * k + offset) % 6],
                                    duty_role=role, starts_at=start, ends_at=start + datetime.timedelta(hours=12),
                                    created_by=bureau))
    streets = list(Region.objects.filter(code__startswith=DEMO_COUNTY, level=RegionLevel.STREET).order_by("code"))
    # The county's own duty officers (民政局值班领导): the chain's step where a street has none on duty.
    specs = [(f"duty-{DEMO_COUNTY}-{i}", Role.BUREAU, f"恩阳区民政局 值班领导 {younger_name(rng, 'M')}")
             for i in (1, 2)]
    for street in streets:
        if street.code != DEMO_STREET:
            specs += [(f"duty-{street.code}-{i}", Role.STREET, f"{street.name} 值班领导 {younger_name(rng, 'M')}")
                      for i in (1, 2)]
    officers = _bulk_users(specs, {s[0]: s[0].split("-")[1] for s in specs})
    by_street = {}
    for u in officers:
        by_street.setdefault(u.region_id, []).append(u)
    by_street[DEMO_STREET] = [ctx.accounts["street"]]
    for street in [ctx.county, *streets]:
        people = by_street.get(street.code, [])
        for k, day in enumerate((today - datetime.timedelta(days=1), today)):
            if people:
                shifts.append(DutyShift(region=street, region_code=street.code, user=people[k % len(people)],
                                        duty_role=DutyRole.DUTY_OFFICER,
                                        starts_at=_at(day, 8), ends_at=_at(day, 8) + datetime.timedelta(hours=24),
                                        created_by=bureau))
    # 登科街道's one account holds yesterday's and today's: they follow each other, never overlap.
    DutyShift.objects.bulk_create(shifts)


def _devices(ctx, rng, vendors: dict, provider, now: datetime.datetime) -> int:
    """200 devices in the homes of the county's elders: people living alone and the oldest first, one to three
    devices a home; the family's elder and someone in 登科寺社区 among them."""
    elders = list(Elder.objects.filter(residence_region__code__startswith=DEMO_COUNTY, status=ElderStatus.ACTIVE)
                  .order_by("pk").values_list("pk", "residence_region_id", "address", "latitude", "longitude",
                                              "living_situation"))
    if not elders:
        return 0
    alone = [e for e in elders if e[5] == LivingSituation.ALONE]
    others = [e for e in elders if e[5] != LivingSituation.ALONE]
    rng.shuffle(alone)
    rng.shuffle(others)
    family_elder = Elder.objects.filter(family_links__user=ctx.accounts.get("family")).values_list(
        "pk", flat=True).first()
    first = [e for e in elders if e[0] == family_elder] + [e for e in alone if e[1] == DEMO_COMMUNITY][:3]
    homes = first + [e for e in alone + others if e not in first]
    kinds = [kind for kind, n, _vendor in KINDS for _ in range(n)]
    vendor_of = {kind: vendors[code] for kind, _n, code in KINDS}
    # The emergency kinds first, so that each home has a button or a watch before its sensors.
    kinds.sort(key=lambda k: 0 if k in (DeviceKind.SOS_BUTTON, DeviceKind.SMARTWATCH) else 1)
    plan: dict[int, list] = {}
    h = 0
    for kind in kinds:
        # Walk the homes, one device each, skipping a home that already has this kind.
        for _ in range(len(homes)):
            home = homes[h % min(len(homes), 120)]
            h += 1
            if kind not in plan.setdefault(home[0], []):
                plan[home[0]].append(kind)
                break
    by_pk = {e[0]: e for e in homes}
    rows, n = [], 0
    for elder_id, home_kinds in plan.items():
        _pk, region, address, lat, lon, _living = by_pk[elder_id]
        for kind in home_kinds:
            n += 1
            vendor = vendor_of[kind]
            prefix = "AX" if vendor.code == "anxin" else "HX"
            installed = timezone.localdate(now) - datetime.timedelta(days=rng.randint(HISTORY_DAYS + 10, 400))
            rows.append(Device(
                vendor=vendor, serial=f"{prefix}{kind[:2].upper()}{n:05d}", kind=kind, elder_id=elder_id,
                address=address or "", region_code=region, maintainer=provider, installed_on=installed,
                battery_pct=rng.randint(35, 100), latitude=lat, longitude=lon,
                last_heartbeat_at=now - datetime.timedelta(minutes=rng.randint(1, 300)),
                last_activity_at=now - datetime.timedelta(minutes=rng.randint(5, 600)),
                created_at=_at(installed, 10)))
    Device.objects.bulk_create(rows)
    return len(rows)


# ----------------------------------------------------------------------------------------------- history


@demo_step
def alarms_history(ctx, log) -> None:
    if OPERATOR_ACCOUNT not in ctx.accounts or not Device.objects.filter(region_code__startswith=DEMO_COUNTY).exists():
        log("alarms history: no demo devices, skipped")
        return
    if Alarm.objects.filter(region_code__startswith=DEMO_COUNTY).exists():
        log("alarms history: alarms already recorded, left as they are")
        return
    h = _History(ctx)
    h.past()
    h.maintenance_history()
    h.today()
    log(h.report())


class _History:
    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = random.Random(f"yiyang.alarms.demo:{ctx.seed}:history")
        self.now = timezone.now()
        self.devices = list(Device.objects.filter(region_code__startswith=DEMO_COUNTY).select_related("vendor")
                            .order_by("pk"))
        self.desk = list(User.objects.filter(role=Role.OPERATOR, scope_code=DEMO_COUNTY).order_by("pk"))
        self.channel = {code: channel for code, _n, _f, channel in VENDORS}
        self.made = {"alarms": 0, "events": 0, "steps": 0}

    # ------------------------------------------------------------------------------------ three months, bulk

    def past(self) -> None:
        rng = self.rng
        weighted = [(d, ALARM_KINDS[d.kind][0]) for d in self.devices if d.kind in ALARM_KINDS]
        start = self.now - datetime.timedelta(days=HISTORY_DAYS)
        plans = []
        for day in range(HISTORY_DAYS):
            for _ in range(_poisson(rng, ALARMS_PER_DAY)):
                raised = start + datetime.timedelta(days=day, seconds=rng.randint(0, 86399))
                if raised > self.now - datetime.timedelta(hours=6):
                    continue  # today's alarms go through the services
                device = _pick(rng, weighted)
                plans.append(self._plan(device, raised))
        plans.sort(key=lambda p: p["alarm"].raised_at)
        death = self._one_death(plans)
        Alarm.objects.bulk_create([p["alarm"] for p in plans], batch_size=500)
        steps, events = [], []
        for p in plans:
            for step in p["steps"]:
                step.alarm_id = p["alarm"].pk
            for ev in p["events"]:
                ev.alarm_id = p["alarm"].pk
            steps += p["steps"]
            events += p["events"]
        AlarmStep.objects.bulk_create(steps, batch_size=1000)
        DeviceEvent.objects.bulk_create(events, batch_size=1000)
        self.made = {"alarms": len(plans), "events": len(events), "steps": len(steps)}
        if death is not None:
            # The register learns of it as the street would record it: the person's tasks and pairings end (the
            # visits app), the maintainer is asked to collect the home's devices (this app).
            from yiyang.registry.services import record_status_event

            record_status_event(actor=self.ctx.accounts["bureau"], elder=Elder.objects.get(pk=death.elder_id),
                                kind="death", effective_date=timezone.localdate(death.resolved_at),
                                note="紧急呼叫处置中确认死亡")
            self.devices = [d for d in self.devices if d.elder_id != death.elder_id]

    def _plan(self, device: Device, raised: datetime.datetime) -> dict:
        rng = self.rng
        kind = _pick(rng, ALARM_KINDS[device.kind][1])
        outcome = _pick(rng, OUTCOMES.get(kind, OUTCOMES["default"]))
        operator = rng.choice(self.desk)
        # Acknowledged: a median of about 22 s, some 2–3 % after the minute (those escalated first).
        ack_s = min(900.0, max(4.0, rng.lognormvariate(math.log(22), 0.5)))
        acked = raised + datetime.timedelta(seconds=ack_s)
        level = (ack_s > 60) + (ack_s > 180)
        sent = there = None
        responder = responder_name = responder_phone = ""
        if outcome != AlarmOutcome.FALSE_ALARM or rng.random() < 0.25:
            sent = acked + datetime.timedelta(seconds=rng.uniform(40, 240))
            responder = (Responder.AMBULANCE if outcome in (AlarmOutcome.TO_HOSPITAL, AlarmOutcome.DECEASED)
                         and rng.random() < 0.7 else Responder.FIRE if kind == "smoke" and rng.random() < 0.1
                         else _pick(rng, [(Responder.COMMUNITY, 0.4), (Responder.FAMILY, 0.3),
                                          (Responder.NEIGHBOUR, 0.2), (Responder.CAREGIVER, 0.1)]))
            if responder not in (Responder.AMBULANCE, Responder.FIRE):
                from yiyang.registry.demo import mobile, younger_name

                responder_name, responder_phone = younger_name(rng, rng.choice("FM")), mobile(rng)
            minutes = min(120.0, max(3.0, rng.lognormvariate(math.log(14), 0.55)))
            there = sent + datetime.timedelta(minutes=minutes)
            resolved = there + datetime.timedelta(minutes=rng.uniform(10, 50))
        else:
            resolved = acked + datetime.timedelta(seconds=rng.uniform(60, 300))
        closed = resolved + datetime.timedelta(hours=rng.uniform(1, 20))
        if closed > self.now:
            closed = None
        note = rng.choice({AlarmOutcome.FALSE_ALARM: FALSE_NOTES, AlarmOutcome.HANDLED_AT_HOME: HOME_NOTES,
                           AlarmOutcome.TO_HOSPITAL: HOSPITAL_NOTES}[outcome])
        count = 1 if rng.random() < 0.85 else rng.randint(2, 4)
        last_event = raised + datetime.timedelta(seconds=rng.randint(5, 40) * (count - 1))
        alarm = Alarm(elder_id=device.elder_id, device=device, kind=kind, emergency=True,
                      status=AlarmStatus.CLOSED if closed else AlarmStatus.RESOLVED, region_code=device.region_code,
                      raised_at=raised, event_count=count, last_event_at=last_event, latitude=device.latitude,
                      longitude=device.longitude, acknowledged_at=acked, acknowledged_by=operator,
                      dispatched_at=sent, responder=responder, responder_name=responder_name,
                      responder_phone=responder_phone, on_site_at=there, resolved_at=resolved, outcome=outcome,
                      closed_at=closed, escalation_level=level)
        name = str(operator)
        steps = [AlarmStep(kind=StepKind.RAISED, at=raised, actor_name="系统", note="设备报警")]
        for k, wait in enumerate((60, 180)[:level]):
            steps.append(AlarmStep(kind=StepKind.ESCALATED, at=raised + datetime.timedelta(seconds=wait),
                                   actor_name="系统", note=("备班接警员", "值班领导")[k]))
        steps.append(AlarmStep(kind=StepKind.ACKNOWLEDGED, at=acked, actor=operator, actor_name=name))
        if sent:
            steps.append(AlarmStep(kind=StepKind.DISPATCHED, at=sent, actor=operator, actor_name=name,
                                   note=" · ".join(x for x in (str(Responder(responder).label), responder_name,
                                                               responder_phone) if x)))
            steps.append(AlarmStep(kind=StepKind.ON_SITE, at=there, actor_name=responder_name or name))
        steps.append(AlarmStep(kind=StepKind.RESOLVED, at=resolved, actor=operator, actor_name=name,
                               note=f"{AlarmOutcome(outcome).label} · {note}"))
        if closed:
            steps.append(AlarmStep(kind=StepKind.CLOSED, at=closed, actor=operator, actor_name=name))
        vendor = device.vendor
        events = [DeviceEvent(vendor=vendor, event_id=f"demo-{device.serial}-{int(raised.timestamp())}-{i}",
                              device_serial=device.serial, device=device, kind=EventKind.ALARM, alarm_kind=kind,
                              occurred_at=raised + (last_event - raised) * (i / max(1, count - 1)),
                              received_at=raised + datetime.timedelta(seconds=1 + i),
                              processed_at=raised + datetime.timedelta(seconds=2 + i),
                              channel=self.channel[vendor.code], region_code=device.region_code)
                  for i in range(count)]
        return {"alarm": alarm, "steps": steps, "events": events, "resolved_step": steps[-2 if closed else -1]}

    def _one_death(self, plans: list[dict]):
        """One of the last fortnight's falls or SOS calls taken to hospital ended in death instead: someone with
        no later alarm, outside 登科寺社区 (the visitor's and the family's demo stays as it is)."""
        family = set(Elder.objects.filter(family_links__user=self.ctx.accounts.get("family"))
                     .values_list("pk", flat=True))
        last = {}
        for p in plans:
            last[p["alarm"].elder_id] = p
        lo, hi = self.now - datetime.timedelta(days=14), self.now - datetime.timedelta(days=3)
        for p in reversed(plans):
            a = p["alarm"]
            if (a.outcome == AlarmOutcome.TO_HOSPITAL and a.kind in ("fall", "sos") and lo <= a.raised_at <= hi
                    and last[a.elder_id] is p and a.region_code != DEMO_COMMUNITY and a.elder_id not in family):
                a.outcome = AlarmOutcome.DECEASED
                p["resolved_step"].note = f"{AlarmOutcome.DECEASED.label} · {DECEASED_NOTE}"
                return a
        return None

    def maintenance_history(self) -> None:
        """Past tasks the maintainer finished: devices back after a silence, batteries replaced."""
        rng, rows = self.rng, []
        for device in rng.sample(self.devices, min(12, len(self.devices))):
            raised = self.now - datetime.timedelta(days=rng.randint(7, HISTORY_DAYS), hours=rng.randint(0, 23))
            kind = rng.choice([MaintenanceKind.OFFLINE, MaintenanceKind.LOW_BATTERY])
            rows.append(MaintenanceTask(device=device, kind=kind, status=MaintenanceStatus.DONE,
                                        region_code=device.region_code, raised_at=raised,
                                        done_at=raised + datetime.timedelta(hours=rng.randint(3, 40)),
                                        note="已更换电池" if kind == MaintenanceKind.LOW_BATTERY else "重新配网后恢复"))
        MaintenanceTask.objects.bulk_create(rows)

    # ------------------------------------------------------------------------------- today, through services

    def _device(self, kind: str, skip=()) -> Device | None:
        return next((d for d in self.devices if d.kind == kind and d.pk not in skip), None)

    def _event(self, device, n: int, *, kind="alarm", alarm_kind="", minutes_ago=0.0, battery=None, serial=None):
        return NormalisedEvent(event_id=f"demo-today-{n}", device_serial=serial or device.serial, kind=kind,
                               alarm_kind=alarm_kind if kind == "alarm" else "",
                               occurred_at=self.now - datetime.timedelta(minutes=minutes_ago), battery_pct=battery)

    def today(self) -> None:
        ctx, rng = self.ctx, self.rng
        operator = ctx.accounts[OPERATOR_ACCOUNT]
        vendors = {v.code: v for v in Vendor.objects.filter(code__in=[c for c, *_ in VENDORS])}
        used: set[int] = set()
        # A fall five minutes ago nobody has acknowledged yet: it has escalated along the chain.
        fall = self._device(DeviceKind.FALL_SENSOR)
        # An SOS a quarter of an hour ago, acknowledged and dispatched to the community worker.
        sos = self._device(DeviceKind.SOS_BUTTON)
        # Smoke twenty minutes ago, acknowledged; the neighbour is there.
        smoke = self._device(DeviceKind.SMOKE)
        # A watch's SOS just now, in the queue.
        watch = self._device(DeviceKind.SMARTWATCH)
        n = 0
        raised = {}
        for device, alarm_kind, minutes in ((fall, "fall", 5), (sos, "sos", 15), (smoke, "smoke", 20),
                                            (watch, "sos", 0.3)):
            if device is None:
                continue
            used.add(device.pk)
            n += 1
            at = self.now - datetime.timedelta(minutes=minutes)
            with clock_at(at + datetime.timedelta(seconds=1)):
                services.ingest(vendor=device.vendor, events=[self._event(device, n, alarm_kind=alarm_kind,
                                                                          minutes_ago=minutes)],
                                channel=self.channel[device.vendor.code])
            raised[device.pk] = at

        def step(device, seconds, service, **kwargs):
            alarm = Alarm.objects.filter(device=device).open().get()
            with clock_at(raised[device.pk] + datetime.timedelta(seconds=seconds)):
                service(actor=operator, alarm=alarm, **kwargs)

        if sos is not None:
            step(sos, 24, services.acknowledge, note="老人说胸口不舒服")
            step(sos, 150, services.dispatch, responder=Responder.COMMUNITY,
                 responder_user=ctx.accounts.get("community"), note="请社区先上门查看")
        if smoke is not None:
            step(smoke, 31, services.acknowledge, note="电话无人接听")
            step(smoke, 190, services.dispatch, responder=Responder.NEIGHBOUR, responder_name="邻居王大姐",
                 responder_phone="13890000123")
            step(smoke, 14 * 60, services.mark_on_site, note="邻居已到，厨房烧水干锅")
        # Nobody has acknowledged the fall: it has escalated along the chain.
        services.escalate_due(now=self.now)
        # A call taken by phone: a neighbour rang about the family's elder, or anyone in 登科寺社区.
        caller = (Elder.objects.filter(family_links__user=ctx.accounts.get("family")).first()
                  or Elder.objects.filter(residence_region_id=DEMO_COMMUNITY, status=ElderStatus.ACTIVE).first())
        if caller is not None:
            services.raise_manual_alarm(actor=operator, elder=caller, kind="fall", note="邻居来电：听到屋里有人喊")

        # Two messages of devices nobody registered: an alarm over the webhook and a heartbeat over MQTT.
        anxin, huaxia = vendors["anxin"], vendors["huaxia"]
        services.ingest(vendor=anxin, events=[self._event(None, 90, alarm_kind="sos", minutes_ago=40,
                                                          serial="AXSO99001")], channel=Channel.WEBHOOK)
        services.ingest(vendor=huaxia, events=[self._event(None, 91, kind="heartbeat", minutes_ago=25,
                                                           serial="HXSM99002")], channel=Channel.MQTT)
        # Batteries running low: a maintenance task each, not an alarm.
        low = [d for d in self.devices if d.pk not in used and d.kind in (DeviceKind.SMOKE, DeviceKind.DOOR)][:2]
        for i, device in enumerate(low):
            services.ingest(vendor=device.vendor, events=[self._event(device, 100 + i, alarm_kind="low_battery",
                                                                      minutes_ago=90, battery=7 + i)],
                            channel=self.channel[device.vendor.code])
        # Devices silent for more than a day (the vendors' heartbeat hours): the hourly check opens their tasks.
        quiet = [d.pk for d in self.devices if d.pk not in used and d.kind not in
                 (DeviceKind.DOOR, DeviceKind.ACTIVITY, DeviceKind.WATER_LEAK, DeviceKind.BED)]
        for pk in rng.sample(quiet, min(OFFLINE, len(quiet))):
            Device.objects.filter(pk=pk).update(
                last_heartbeat_at=self.now - datetime.timedelta(hours=rng.randint(26, 120)))
        services.check_silent_devices(now=self.now)

    def report(self) -> str:
        done = Alarm.objects.filter(region_code__startswith=DEMO_COUNTY, resolved_at__isnull=False)
        within = done.filter(acknowledged_at__lte=F("raised_at") + datetime.timedelta(seconds=60)).count()
        open_now = Alarm.objects.filter(region_code__startswith=DEMO_COUNTY).open().count()
        offline = MaintenanceTask.objects.filter(kind=MaintenanceKind.OFFLINE, status=MaintenanceStatus.OPEN).count()
        return (f"alarms history: {self.made['alarms']} alarms over {HISTORY_DAYS} days "
                f"({within / max(1, done.count()):.1%} acknowledged within 60 s), {self.made['events']} events, "
                f"{self.made['steps']} steps; today {open_now} open, "
                f"{DeviceEvent.objects.filter(quarantined=True).count()} quarantined events, {offline} devices offline")


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for a mean of a few.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
