"""Alarms: the write operations (keyword-only, one transaction each, audited; the convention:
docs/architecture.md).

Ingest stores a vendor's events once each (vendor, event id), then processes them per device, each device in
its own transaction holding the device's row: heartbeats update the device, alarm events raise an alarm or fold
into the open one of that device and kind. Raising notifies whoever is on duty and sets the acknowledgement
deadline; `escalate_due` (the task worker, at each deadline) walks the jurisdiction's chain while nobody has
acknowledged. The life-cycle steps check `policy.py`; each is timed in `AlarmStep`.
"""

from __future__ import annotations

import datetime
import logging
import secrets as secrets_module
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region, RegionLevel, Role, User
from yiyang.registry.models import Elder, ElderStatus, LivingSituation, Organisation

from . import policy
from .events import NormalisedEvent
from .models import (
    ACTIVITY_KINDS,
    EMERGENCY_KINDS,
    OPEN_STATUSES,
    Alarm,
    AlarmKind,
    AlarmOutcome,
    AlarmStatus,
    AlarmStep,
    Channel,
    Device,
    DeviceEvent,
    DeviceKind,
    DeviceStatus,
    DutyRole,
    DutyShift,
    EventKind,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceTask,
    Notification,
    NotificationAttempt,
    NotificationChannel,
    NotificationStatus,
    Responder,
    ServiceLevel,
    StepKind,
    Vendor,
    VendorFormat,
)

log = logging.getLogger("yiyang.alarms")

DEFAULT_ACK_SECONDS = 60        # the TSA code: calls answered within 60 s
DEFAULT_ARRIVE_MINUTES = 45     # responders on site within 45 minutes
DEFAULT_SILENCE_HOURS = 24      # issue 16: no activity for 24 h in the home of someone living alone
# Not acknowledged: the backup operators, then the duty officer, then the bureau; each waits before the next.
DEFAULT_CHAIN = [
    {"to": "backup", "wait_seconds": 120},
    {"to": "duty_officer", "wait_seconds": 300},
    {"to": "bureau", "wait_seconds": 0},
]
CHAIN_TARGETS = {"backup", "duty_officer", "bureau"}
NOTIFY_RETRIES = 5
MAX_EVENT_AGE = datetime.timedelta(days=7)     # a device's buffered events may arrive late, not a month later
MAX_EVENT_AHEAD = datetime.timedelta(minutes=5)
KIND_OF_DEVICE_ALARM = {
    DeviceKind.SMOKE: AlarmKind.SMOKE, DeviceKind.GAS: AlarmKind.GAS, DeviceKind.WATER_LEAK: AlarmKind.WATER,
}


def _text(value, limit: int) -> str:
    return str(value or "").strip()[:limit]


def _actor_name(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return _("系统")
    return str(actor)[:64]


def _step(alarm: Alarm, kind: str, *, actor=None, at=None, note: str = "") -> AlarmStep:
    return AlarmStep.objects.create(alarm=alarm, kind=kind, at=at or timezone.now(),
                                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                                    actor_name=_actor_name(actor), note=_text(note, 1000))


# ------------------------------------------------------------------------------------------- service level


@dataclass(frozen=True)
class Level:
    ack_seconds: int
    arrive_minutes: int
    chain: list
    silence_hours: int


def service_level_for(region_code: str) -> Level:
    """The street's own service level, else its county's, else the defaults."""
    codes = [region_code[:n] for n in (9, 6) if len(region_code) >= n]
    rows = {row.jurisdiction_id: row for row in ServiceLevel.objects.filter(jurisdiction_id__in=codes)}
    for code in codes:
        if code in rows:
            row = rows[code]
            return Level(row.ack_seconds, row.arrive_minutes, list(row.chain or []), row.silence_hours)
    return Level(DEFAULT_ACK_SECONDS, DEFAULT_ARRIVE_MINUTES, list(DEFAULT_CHAIN), DEFAULT_SILENCE_HOURS)


def parse_chain(chain) -> list[dict]:
    if not isinstance(chain, list) or not chain or len(chain) > 6:
        raise ValidationError({"chain": [_("升级链须为 1 至 6 个环节。")]})
    parsed = []
    for i, step in enumerate(chain, start=1):
        if not isinstance(step, dict) or step.get("to") not in CHAIN_TARGETS:
            raise ValidationError({"chain": [_("第 %(n)d 个环节的升级对象无效（backup、duty_officer 或 bureau）。")
                                             % {"n": i}]})
        wait = step.get("wait_seconds", 0)
        if isinstance(wait, bool) or not isinstance(wait, int) or not 0 <= wait <= 86400:
            raise ValidationError({"chain": [_("第 %(n)d 个环节的等待秒数须为 0 至 86400 的整数。") % {"n": i}]})
        parsed.append({"to": step["to"], "wait_seconds": wait})
    return parsed


@transaction.atomic
def set_service_level(*, actor, jurisdiction: Region, ack_seconds: int, arrive_minutes: int, chain,
                      silence_hours: int = DEFAULT_SILENCE_HOURS) -> ServiceLevel:
    policy.may_set_service_level(actor, jurisdiction.code).require()
    if jurisdiction.level not in {RegionLevel.COUNTY, RegionLevel.STREET}:
        raise ValidationError({"jurisdiction": [_("响应时限按区县或街道设定。")]})
    errors = {}
    if not isinstance(ack_seconds, int) or not 10 <= ack_seconds <= 3600:
        errors["ack_seconds"] = [_("接警时限须为 10 至 3600 秒。")]
    if not isinstance(arrive_minutes, int) or not 5 <= arrive_minutes <= 480:
        errors["arrive_minutes"] = [_("到场时限须为 5 至 480 分钟。")]
    if not isinstance(silence_hours, int) or not 6 <= silence_hours <= 168:
        errors["silence_hours"] = [_("无活动判定须为 6 至 168 小时。")]
    if errors:
        raise ValidationError(errors)
    chain = parse_chain(chain)
    row = ServiceLevel.objects.filter(jurisdiction=jurisdiction).first()
    before = audit.snapshot(row) if row else None
    row = row or ServiceLevel(jurisdiction=jurisdiction)
    row.ack_seconds, row.arrive_minutes, row.chain = ack_seconds, arrive_minutes, chain
    row.silence_hours = silence_hours
    row.updated_at, row.updated_by = timezone.now(), actor
    row.save()
    audit.record(actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, instance=row,
                 region_code=jurisdiction.code, before=before, after=audit.snapshot(row))
    return row


# ------------------------------------------------------------------------------------------------ vendors


def _new_secret() -> str:
    return secrets_module.token_urlsafe(32)


@transaction.atomic
def create_vendor(*, actor, code: str, name: str, format: str, jurisdiction: Region,
                  maintainer: Organisation | None = None) -> tuple[Vendor, str]:
    """A vendor and its first secret, shown once to the person who creates it."""
    policy.may_manage_vendors(actor, jurisdiction.code).require()
    if format not in VendorFormat.values:
        raise ValidationError({"format": [_("报文格式无效。")]})
    code = _text(code, 32).lower()
    if Vendor.objects.filter(code=code).exists():
        raise ValidationError({"code": [_("厂商代码已存在。")]})
    secret = _new_secret()
    vendor = Vendor(code=code, name=_text(name, 128), format=format, jurisdiction=jurisdiction,
                    maintainer=maintainer, secret=secret)
    vendor.full_clean()
    vendor.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=vendor, region_code=jurisdiction.code,
                 after=audit.snapshot(vendor))
    return vendor, secret


@transaction.atomic
def rotate_secret(*, actor, vendor: Vendor, grace_hours: int = 24) -> str:
    """A new secret; the old one stays valid for `grace_hours` so devices in the field can follow."""
    policy.may_manage_vendors(actor, vendor.jurisdiction_code).require()
    if not isinstance(grace_hours, int) or not 0 <= grace_hours <= 168:
        raise ValidationError({"grace_hours": [_("过渡期须为 0 至 168 小时。")]})
    vendor = Vendor.objects.select_for_update().get(pk=vendor.pk)
    now = timezone.now()
    secret = _new_secret()
    vendor.previous_secret, vendor.previous_valid_until = vendor.secret, now + datetime.timedelta(hours=grace_hours)
    vendor.secret, vendor.secret_rotated_at = secret, now
    vendor.save()
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=vendor, region_code=vendor.jurisdiction_code,
                 detail=_("轮换接入密钥，旧密钥有效至 %(until)s") % {
                     "until": timezone.localtime(vendor.previous_valid_until).strftime("%Y-%m-%d %H:%M")})
    return secret


# ------------------------------------------------------------------------------------------------ devices


@transaction.atomic
def register_device(*, actor, vendor: Vendor, serial: str, kind: str, elder: Elder, address: str = "",
                    installed_on: datetime.date, maintainer: Organisation | None = None) -> Device:
    maintainer = maintainer or vendor.maintainer
    policy.may_manage_devices(actor, elder.residence_region_id, maintainer.pk if maintainer else None).require()
    if kind not in DeviceKind.values:
        raise ValidationError({"kind": [_("设备类型无效。")]})
    serial = _text(serial, 64)
    if not serial:
        raise ValidationError({"serial": [_("请填写设备编号。")]})
    if installed_on > timezone.localdate():
        raise ValidationError({"installed_on": [_("安装日期不能晚于今天。")]})
    if Device.objects.filter(vendor=vendor, serial=serial).exists():
        raise ValidationError({"serial": [_("该厂商下已有此设备编号。")]})
    device = Device(vendor=vendor, serial=serial, kind=kind, elder=elder,
                    address=_text(address, 200) or elder.address or str(elder.residence_region),
                    region_code=elder.residence_region_id, maintainer=maintainer, installed_on=installed_on,
                    latitude=elder.latitude, longitude=elder.longitude)
    device.full_clean()
    device.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=device, region_code=device.region_code,
                 after=audit.snapshot(device))
    # Events the vendor sent before the device was registered were quarantined: they belong to it now.
    held = list(DeviceEvent.objects.filter(vendor=vendor, device_serial=serial, quarantined=True)
                .values_list("pk", flat=True))
    if held:
        DeviceEvent.objects.filter(pk__in=held).update(device=device, quarantined=False,
                                                       region_code=device.region_code)
        transaction.on_commit(lambda: process_events(held, stale_alarms_as_history=True))
    return device


@transaction.atomic
def retire_device(*, actor, device: Device) -> Device:
    policy.may_manage_devices(actor, device.region_code, device.maintainer_id).require()
    if device.status == DeviceStatus.RETIRED:
        return device
    before = audit.snapshot(device)
    device.status = DeviceStatus.RETIRED
    device.save(update_fields=["status"])
    MaintenanceTask.objects.filter(device=device, status=MaintenanceStatus.OPEN).update(
        status=MaintenanceStatus.DONE, done_at=timezone.now(), note=_("设备已拆除"))
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=device, region_code=device.region_code,
                 before=before, after=audit.snapshot(device))
    return device


@transaction.atomic
def finish_maintenance(*, actor, task: MaintenanceTask, note: str = "") -> MaintenanceTask:
    policy.may_finish_maintenance(actor, task).require()
    task.status, task.done_at, task.note = MaintenanceStatus.DONE, timezone.now(), _text(note, 300)
    task.save(update_fields=["status", "done_at", "note"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=task, region_code=task.region_code,
                 detail=task.note)
    return task


# ------------------------------------------------------------------------------------------------- ingest


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    alarms_raised: int = 0
    alarms_folded: int = 0


_EVENT_COLUMNS = ("vendor_id", "event_id", "device_serial", "device_id", "kind", "alarm_kind", "occurred_at",
                  "received_at", "channel", "battery_pct", "latitude", "longitude", "region_code", "quarantined",
                  "payload")


def _check_event(event: NormalisedEvent, now) -> None:
    if not event.event_id or len(event.event_id) > 64 or not event.device_serial or len(event.device_serial) > 64:
        raise ValidationError({"event_id": [_("事件编号和设备编号须为 1 至 64 个字符。")]})
    if event.kind not in EventKind.values:
        raise ValidationError({"type": [_("事件类型无效：%(kind)s") % {"kind": event.kind}]})
    if event.kind == EventKind.ALARM and event.alarm_kind not in AlarmKind.values:
        raise ValidationError({"alarm": [_("报警类型无效：%(kind)s") % {"kind": event.alarm_kind}]})
    if event.occurred_at.tzinfo is None:
        raise ValidationError({"occurred_at": [_("发生时间须带时区。")]})
    if not now - MAX_EVENT_AGE <= event.occurred_at <= now + MAX_EVENT_AHEAD:
        raise ValidationError({"occurred_at": [_("发生时间超出允许范围（7 天内）。")]})
    if event.battery_pct is not None and not 0 <= event.battery_pct <= 100:
        raise ValidationError({"battery": [_("电量须为 0 至 100。")]})


def _store(vendor: Vendor, events: list[NormalisedEvent], channel: str, now) -> tuple[list[int], int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new events' ids, and how many were quarantined. A
    replayed event id inserts nothing, so it is processed once however often it arrives."""
    serials = {e.device_serial for e in events}
    found = list(Device.objects.filter(vendor=vendor, serial__in=serials).values_list("serial", "pk", "region_code"))
    devices = {serial: pk for serial, pk, _code in found}
    regions = {serial: code for serial, _pk, code in found}
    fields = [DeviceEvent._meta.get_field(name.removesuffix("_id") if name in {"vendor_id", "device_id"} else name)
              for name in _EVENT_COLUMNS]
    rows, quarantined = [], 0
    for e in events:
        known = e.device_serial in devices
        quarantined += not known
        values = (vendor.pk, e.event_id, e.device_serial, devices.get(e.device_serial), e.kind, e.alarm_kind or "",
                  e.occurred_at, now, channel, e.battery_pct, e.latitude, e.longitude,
                  regions.get(e.device_serial, vendor.jurisdiction_code), not known, e.raw or {})
        rows.append([f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)])
    table = connection.ops.quote_name(DeviceEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _EVENT_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "
                           f"ON CONFLICT (vendor_id, event_id) DO NOTHING RETURNING id",
                           [v for row in chunk for v in row])
            ids.extend(r[0] for r in cursor.fetchall())
    return ids, quarantined


def ingest(*, vendor: Vendor, events: list[NormalisedEvent], channel: str) -> IngestResult:
    """Store a vendor's events (all or none), then process the new ones. Duplicates (a replayed event id) are
    counted and skipped; events of unknown devices are kept quarantined for the vendor to fix."""
    if channel not in Channel.values:
        raise ValidationError({"channel": [_("接入方式无效。")]})
    if not vendor.active:
        raise DomainError(ErrorCode.FORBIDDEN, _("该厂商已停用。"), status=403)
    now = timezone.now()
    seen, unique = set(), []
    for event in events:
        _check_event(event, now)
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    with transaction.atomic():
        ids, quarantined_sent = _store(vendor, unique, channel, now) if unique else ([], 0)
    result = IngestResult(accepted=len(ids), duplicates=len(events) - len(ids))
    if ids:
        result.quarantined = DeviceEvent.objects.filter(pk__in=ids, quarantined=True).count() if quarantined_sent \
            else 0
        raised, folded = process_events(ids)
        result.alarms_raised, result.alarms_folded = raised, folded
    return result


def process_pending(*, limit: int = 1000, older_than_seconds: int = 30) -> int:
    """The sweeper: events stored but never processed (a crash between the two transactions)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    ids = list(DeviceEvent.objects.filter(processed_at__isnull=True, quarantined=False, received_at__lt=cutoff)
               .order_by("received_at").values_list("pk", flat=True)[:limit])
    if ids:
        process_events(ids)
    return len(ids)


def process_events(ids: list[int], *, stale_alarms_as_history: bool = False) -> tuple[int, int]:
    """Apply stored events. Devices that only report (heartbeats, activity) are updated together in one
    statement; a device with an alarm event gets its own transaction holding its row, so two deliveries racing
    on one device cannot open two alarms. Returns (alarms raised, events folded into an open alarm)."""
    by_device = defaultdict(list)
    for event in (DeviceEvent.objects.filter(pk__in=ids, processed_at__isnull=True, quarantined=False)
                  .only("pk", "device_id", "kind", "alarm_kind", "occurred_at", "battery_pct", "latitude",
                        "longitude")
                  .order_by("occurred_at", "pk")):
        by_device[event.device_id].append(event)
    plain = {pk: evs for pk, evs in by_device.items() if not any(e.kind == EventKind.ALARM for e in evs)}
    if plain:
        _apply_reports(plain)
    raised = folded = 0
    for device_id, device_events in by_device.items():
        if device_id in plain:
            continue
        with transaction.atomic():
            device = Device.objects.select_for_update(of=("self",)).select_related("elder").get(pk=device_id)
            r, f = _apply(device, device_events, stale_alarms_as_history)
            raised, folded = raised + r, folded + f
    return raised, folded


def _later(field: str, values: dict):
    """CASE pk WHEN … THEN the later of the stored value and the new one (a late, older event never moves a
    device's time back)."""
    out = Device._meta.get_field(field)
    return Case(*[When(pk=pk, then=Greatest(Coalesce(F(field), Value(v, output_field=out)), Value(v, output_field=out)))
                  for pk, v in values.items()], default=F(field), output_field=out)


@transaction.atomic
def _apply_reports(by_device: dict) -> None:
    heard = {pk: max(e.occurred_at for e in evs) for pk, evs in by_device.items()}
    moved = {pk: max(e.occurred_at for e in evs if e.kind == EventKind.ACTIVITY)
             for pk, evs in by_device.items() if any(e.kind == EventKind.ACTIVITY for e in evs)}
    battery = {pk: [e.battery_pct for e in evs if e.battery_pct is not None][-1]
               for pk, evs in by_device.items() if any(e.battery_pct is not None for e in evs)}
    updates = {"last_heartbeat_at": _later("last_heartbeat_at", heard)}
    if moved:
        updates["last_activity_at"] = _later("last_activity_at", moved)
    if battery:
        updates["battery_pct"] = Case(*[When(pk=pk, then=Value(v)) for pk, v in battery.items()],
                                      default=F("battery_pct"), output_field=Device._meta.get_field("battery_pct"))
    Device.objects.filter(pk__in=list(by_device)).update(**updates)
    DeviceEvent.objects.filter(pk__in=[e.pk for evs in by_device.values() for e in evs]).update(
        processed_at=timezone.now())


def _apply(device: Device, device_events: list[DeviceEvent], stale_alarms_as_history: bool) -> tuple[int, int]:
    now = timezone.now()
    latest = max(e.occurred_at for e in device_events)
    changed = []
    if device.last_heartbeat_at is None or latest > device.last_heartbeat_at:
        device.last_heartbeat_at = latest  # any message proves the device alive
        changed.append("last_heartbeat_at")
    with_battery = [e for e in device_events if e.battery_pct is not None]
    if with_battery:
        device.battery_pct = with_battery[-1].battery_pct
        changed.append("battery_pct")
    # A person moved: an activity, or any alarm but a technical one.
    moved = [e.occurred_at for e in device_events
             if e.kind == EventKind.ACTIVITY or (e.kind == EventKind.ALARM and e.alarm_kind in EMERGENCY_KINDS)]
    if moved and (device.last_activity_at is None or max(moved) > device.last_activity_at):
        device.last_activity_at = max(moved)
        changed.append("last_activity_at")
    if changed:
        device.save(update_fields=changed)

    raised = folded = 0
    alarm_of = {}
    by_kind = defaultdict(list)
    for e in device_events:
        if e.kind == EventKind.ALARM:
            by_kind[e.alarm_kind].append(e)
    for kind, kind_events in by_kind.items():
        if kind == AlarmKind.LOW_BATTERY:
            _open_maintenance(device, MaintenanceKind.LOW_BATTERY,
                              _("电量 %(pct)s%%") % {"pct": kind_events[-1].battery_pct or "?"})
            continue
        if device.status != DeviceStatus.ACTIVE:
            continue
        if stale_alarms_as_history and kind_events[-1].occurred_at < now - datetime.timedelta(hours=1):
            continue  # a quarantined alarm released a day later is history, not an emergency now
        alarm, created = _raise_or_fold(device, kind, kind_events)
        raised += created
        folded += len(kind_events) - created
        for e in kind_events:
            alarm_of[e.pk] = alarm.pk
    for alarm_pk in set(alarm_of.values()):
        DeviceEvent.objects.filter(pk__in=[k for k, v in alarm_of.items() if v == alarm_pk]).update(
            processed_at=now, alarm_id=alarm_pk)
    DeviceEvent.objects.filter(pk__in=[e.pk for e in device_events if e.pk not in alarm_of]).update(
        processed_at=now)
    return raised, folded


def _raise_or_fold(device: Device, kind: str, kind_events: list[DeviceEvent]) -> tuple[Alarm, bool]:
    last = kind_events[-1]
    open_alarm = Alarm.objects.filter(device=device, kind=kind, status__in=OPEN_STATUSES).first()
    if open_alarm is not None:
        Alarm.objects.filter(pk=open_alarm.pk).update(event_count=F("event_count") + len(kind_events),
                                                      last_event_at=max(open_alarm.last_event_at, last.occurred_at))
        return open_alarm, False
    first = kind_events[0]
    alarm = _open_alarm(elder=device.elder, device=device, kind=kind, raised_at=first.occurred_at,
                        count=len(kind_events), last_event_at=last.occurred_at,
                        latitude=last.latitude or device.latitude, longitude=last.longitude or device.longitude)
    return alarm, True


def _open_alarm(*, elder: Elder, device: Device | None, kind: str, raised_at, count: int = 1, last_event_at=None,
                latitude=None, longitude=None, actor=None, note: str = "") -> Alarm:
    level = service_level_for(elder.residence_region_id)
    region_code = elder.residence_region_id
    on_duty = on_duty_users(region_code, DutyRole.OPERATOR)
    # Nobody on duty: the chain starts at once rather than an alarm waiting for a desk that is empty.
    deadline = raised_at + datetime.timedelta(seconds=level.ack_seconds) if on_duty else timezone.now()
    alarm = Alarm.objects.create(
        elder=elder, device=device, kind=kind, emergency=kind in EMERGENCY_KINDS, region_code=region_code,
        raised_at=raised_at, event_count=count, last_event_at=last_event_at or raised_at,
        latitude=latitude, longitude=longitude, next_escalation_at=deadline,
        created_by=actor if getattr(actor, "is_authenticated", False) else None)
    _step(alarm, StepKind.RAISED, actor=actor, at=raised_at,
          note=note or (_("设备 %(device)s 上报") % {"device": device} if device else ""))
    _notify(on_duty, alarm, _("新报警：%(alarm)s") % {"alarm": alarm},
            _("%(address)s，请在 %(seconds)d 秒内接警。") % {
                "address": device.address if device else elder.address, "seconds": level.ack_seconds})
    _schedule_escalation(alarm.pk, deadline)
    return alarm


@transaction.atomic
def raise_manual_alarm(*, actor, elder: Elder, kind: str, note: str = "") -> Alarm:
    """An alarm taken by phone (老人、邻居来电) or seen on a visit: the same life cycle as a device's."""
    policy.may_raise_manual(actor, elder).require()
    if kind not in AlarmKind.values:
        raise ValidationError({"kind": [_("报警类型无效。")]})
    if elder.status != ElderStatus.ACTIVE:
        raise DomainError(ErrorCode.INVALID_STATE, _("该老人已不在册。"), status=409)
    alarm = _open_alarm(elder=elder, device=None, kind=kind, raised_at=timezone.now(), actor=actor,
                        note=_text(note, 1000) or _("电话报警"))
    audit.record(actor=actor, action=AuditAction.CREATE, instance=alarm, region_code=alarm.region_code)
    return alarm


# ------------------------------------------------------------------------------------------- life cycle


def _locked(alarm: Alarm) -> Alarm:
    return Alarm.objects.select_for_update(of=("self",)).select_related("elder", "device").get(pk=alarm.pk)


def _changed(actor, alarm: Alarm, detail: str) -> None:
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=alarm, region_code=alarm.region_code,
                 detail=detail)


@transaction.atomic
def acknowledge(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_acknowledge(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.acknowledged_at, alarm.acknowledged_by = AlarmStatus.ACKNOWLEDGED, now, actor
    alarm.next_escalation_at = None
    alarm.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "next_escalation_at"])
    _step(alarm, StepKind.ACKNOWLEDGED, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("接警"))
    return alarm


@transaction.atomic
def dispatch(*, actor, alarm: Alarm, responder: str, responder_name: str = "", responder_phone: str = "",
             responder_user: User | None = None, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_dispatch(actor, alarm).require()
    if responder not in Responder.values:
        raise ValidationError({"responder": [_("请选择处置人类型。")]})
    name, phone = _text(responder_name, 64), _text(responder_phone, 20)
    if responder_user is not None:
        if not responder_user.is_active or responder_user.role not in {Role.CAREGIVER, Role.VISITOR, Role.COMMUNITY,
                                                                       Role.STREET}:
            raise ValidationError({"responder_user": [_("该账号不能接收派单。")]})
        name = name or str(responder_user)
        phone = phone or responder_user.phone
    if responder not in {Responder.AMBULANCE, Responder.FIRE} and not name:
        raise ValidationError({"responder_name": [_("请填写处置人姓名。")]})
    now = timezone.now()
    first = alarm.dispatched_at is None
    alarm.status, alarm.responder, alarm.responder_name = AlarmStatus.DISPATCHED, responder, name
    alarm.responder_phone, alarm.responder_user = phone, responder_user
    alarm.dispatched_at = alarm.dispatched_at or now
    alarm.save(update_fields=["status", "responder", "responder_name", "responder_phone", "responder_user",
                              "dispatched_at"])
    label = Responder(responder).label
    _step(alarm, StepKind.DISPATCHED, actor=actor, at=now,
          note=" · ".join(x for x in [str(label), name, phone, _text(note, 500)] if x)
          + ("" if first else " " + _("（改派）")))
    if responder_user is not None:
        _notify([responder_user], alarm, _("派单：%(alarm)s") % {"alarm": alarm},
                _("请尽快前往 %(address)s。") % {"address": alarm.device.address if alarm.device else
                                                 alarm.elder.address})
    _changed(actor, alarm, _("派单给 %(who)s") % {"who": name or label})
    return alarm


@transaction.atomic
def mark_on_site(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_mark_on_site(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.on_site_at = AlarmStatus.ON_SITE, now
    alarm.save(update_fields=["status", "on_site_at"])
    _step(alarm, StepKind.ON_SITE, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("到场"))
    return alarm


@transaction.atomic
def resolve(*, actor, alarm: Alarm, outcome: str, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_resolve(actor, alarm).require()
    if outcome not in AlarmOutcome.values:
        raise ValidationError({"outcome": [_("请选择处置结果。")]})
    if outcome == AlarmOutcome.DECEASED and not _text(note, 1000):
        raise ValidationError({"note": [_("老人死亡须填写处置说明。")]})
    now = timezone.now()
    alarm.status, alarm.resolved_at, alarm.outcome = AlarmStatus.RESOLVED, now, outcome
    alarm.next_escalation_at = None
    alarm.save(update_fields=["status", "resolved_at", "outcome", "next_escalation_at"])
    _step(alarm, StepKind.RESOLVED, actor=actor, at=now,
          note=" · ".join(x for x in [str(AlarmOutcome(outcome).label), _text(note, 900)] if x))
    _changed(actor, alarm, _("处置结果：%(outcome)s") % {"outcome": AlarmOutcome(outcome).label})
    if outcome in {AlarmOutcome.HANDLED_AT_HOME, AlarmOutcome.TO_HOSPITAL}:
        # Someone needed help: the visits app sees them within 24 hours (issue 15's trigger).
        from yiyang.visits.models import Trigger
        from yiyang.visits.services import raise_task

        transaction.on_commit(lambda: _raise_visit(alarm.elder_id, Trigger.ALARM, f"alarm:{alarm.pk}",
                                                   _("紧急呼叫后回访：%(alarm)s") % {"alarm": alarm}, raise_task))
    return alarm


def _raise_visit(elder_id, trigger, ref, note, raise_task) -> None:
    elder = Elder.objects.get(pk=elder_id)
    if elder.status != ElderStatus.ACTIVE:
        return
    raise_task(actor=None, elder=elder, trigger=trigger, note=note, trigger_ref=ref, authorised=True)


@transaction.atomic
def close(*, actor, alarm: Alarm, note: str = "") -> Alarm:
    alarm = _locked(alarm)
    policy.may_close(actor, alarm).require()
    now = timezone.now()
    alarm.status, alarm.closed_at = AlarmStatus.CLOSED, now
    alarm.save(update_fields=["status", "closed_at"])
    _step(alarm, StepKind.CLOSED, actor=actor, at=now, note=note)
    _changed(actor, alarm, _("归档"))
    return alarm


@transaction.atomic
def add_note(*, actor, alarm: Alarm, note: str) -> AlarmStep:
    alarm = _locked(alarm)
    policy.may_add_note(actor, alarm).require()
    note = _text(note, 1000)
    if not note:
        raise ValidationError({"note": [_("请填写通话记录。")]})
    return _step(alarm, StepKind.NOTE, actor=actor, note=note)


# ------------------------------------------------------------------------------------------- escalation


def on_duty_users(region_code: str, duty_role: str, at=None) -> list[User]:
    """Who holds `duty_role` now for an area: the street's desk first, else the county's call centre."""
    at = at or timezone.now()
    codes = [region_code[:n] for n in (9, 6) if len(region_code) >= n]
    shifts = (DutyShift.objects.filter(region_code__in=codes, duty_role=duty_role, starts_at__lte=at,
                                       ends_at__gt=at, user__is_active=True)
              .select_related("user").order_by("starts_at"))
    by_code = defaultdict(list)
    for shift in shifts:
        by_code[shift.region_code].append(shift.user)
    if duty_role == DutyRole.OPERATOR:
        # Both desks watch the queue: the street's operators and the county's call centre.
        return list({u.pk: u for code in codes for u in by_code.get(code, [])}.values())
    for code in codes:
        if by_code.get(code):
            return list({u.pk: u for u in by_code[code]}.values())
    return []


def _chain_targets(alarm: Alarm, target: str) -> list[User]:
    code = alarm.region_code
    if target == "backup":
        return on_duty_users(code, DutyRole.BACKUP) or on_duty_users(code, DutyRole.OPERATOR)
    if target == "duty_officer":
        return on_duty_users(code, DutyRole.DUTY_OFFICER)
    return list(User.objects.filter(role=Role.BUREAU, is_active=True,
                                    scope_code__in=[code[:n] for n in (2, 4, 6)]))


def escalate_due(*, now=None) -> int:
    """Walk the chain of every alarm still unacknowledged past its deadline (idempotent: a second run at the
    same moment finds nothing due). Returns how many escalation steps fired."""
    now = now or timezone.now()
    fired = 0
    due = list(Alarm.objects.filter(status=AlarmStatus.RAISED, next_escalation_at__lte=now)
               .order_by("next_escalation_at").values_list("pk", flat=True)[:1000])
    for pk in due:
        with transaction.atomic():
            alarm = (Alarm.objects.select_for_update(of=("self",), **_skip_locked()).select_related("elder", "device")
                     .filter(pk=pk, status=AlarmStatus.RAISED, next_escalation_at__lte=now).first())
            if alarm is None:
                continue
            chain = service_level_for(alarm.region_code).chain
            deadline = alarm.next_escalation_at
            if alarm.escalation_level >= len(chain):
                alarm.next_escalation_at = None
                alarm.save(update_fields=["next_escalation_at"])
                continue
            step = chain[alarm.escalation_level]
            targets = _chain_targets(alarm, step["to"])
            alarm.escalation_level += 1
            last = alarm.escalation_level >= len(chain)
            alarm.next_escalation_at = None if last else deadline + datetime.timedelta(seconds=step["wait_seconds"])
            alarm.save(update_fields=["escalation_level", "next_escalation_at"])
            names = "、".join(str(u) for u in targets) or _("（无人值班）")
            _step(alarm, StepKind.ESCALATED, at=now, note=_("第 %(n)d 级：%(to)s %(names)s") % {
                "n": alarm.escalation_level, "to": CHAIN_LABELS()[step["to"]], "names": names})
            waited = int((now - alarm.raised_at).total_seconds())
            _notify(targets, alarm, _("报警超时未接警：%(alarm)s") % {"alarm": alarm},
                    _("已等待 %(s)d 秒，请立即处理。") % {"s": waited})
            if alarm.next_escalation_at is not None:
                _schedule_escalation(alarm.pk, alarm.next_escalation_at)
            fired += 1
    return fired


def CHAIN_LABELS() -> dict:  # noqa: N802 - a table, translated when read
    return {"backup": _("备班接警员"), "duty_officer": _("值班领导"), "bureau": _("民政局")}


def _skip_locked() -> dict:
    return {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}


def _schedule_escalation(alarm_pk: int, at) -> None:
    from .tasks import escalate_alarms_task

    def enqueue():
        try:
            escalate_alarms_task.using(run_after=at).enqueue()
        except Exception:  # the queue down must not lose the alarm: the minutely sweep escalates it
            log.exception("could not queue the escalation of alarm %s", alarm_pk)

    transaction.on_commit(enqueue)


# -------------------------------------------------------------------------------------- silent devices


def _open_maintenance(device: Device, kind: str, note: str = "") -> bool:
    if MaintenanceTask.objects.filter(device=device, kind=kind, status=MaintenanceStatus.OPEN).exists():
        return False
    try:
        with transaction.atomic():
            MaintenanceTask.objects.create(device=device, kind=kind, region_code=device.region_code, note=note)
    except IntegrityError:
        return False
    return True


def check_silent_devices(*, now=None) -> dict:
    """Devices with no heartbeat within their vendor's hours get a maintenance task (and lose it when they
    speak again); a door, activity, water or bed sensor silent for the service level's hours in the home of
    someone living alone raises a welfare visit (the visits app)."""
    now = now or timezone.now()
    active = Device.objects.filter(status=DeviceStatus.ACTIVE)
    offline_new = 0
    silent = []
    hours_by_vendor = dict(Vendor.objects.values_list("pk", "heartbeat_hours"))
    for vendor_id, hours in hours_by_vendor.items():
        cutoff = now - datetime.timedelta(hours=hours)
        stale = active.filter(vendor_id=vendor_id).filter(
            Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True, created_at__lt=cutoff))
        have = set(MaintenanceTask.objects.filter(kind=MaintenanceKind.OFFLINE, status=MaintenanceStatus.OPEN,
                                                  device__vendor_id=vendor_id).values_list("device_id", flat=True))
        rows = [MaintenanceTask(device_id=pk, kind=MaintenanceKind.OFFLINE, region_code=code, raised_at=now,
                                note=_("超过 %(h)d 小时无心跳") % {"h": hours})
                for pk, code in stale.values_list("pk", "region_code") if pk not in have]
        MaintenanceTask.objects.bulk_create(rows, ignore_conflicts=True)
        offline_new += len(rows)
        MaintenanceTask.objects.filter(kind=MaintenanceKind.OFFLINE, status=MaintenanceStatus.OPEN,
                                       device__vendor_id=vendor_id, device__last_heartbeat_at__gte=cutoff).update(
            status=MaintenanceStatus.DONE, done_at=now, note=_("设备已恢复心跳"))
    levels = {}
    candidates = (active.filter(kind__in=ACTIVITY_KINDS, elder__living_situation=LivingSituation.ALONE,
                                elder__status=ElderStatus.ACTIVE)
                  .select_related("elder").order_by("pk"))
    for device in candidates:
        street = device.region_code[:9]
        if street not in levels:
            levels[street] = service_level_for(device.region_code).silence_hours
        since = device.last_activity_at or datetime.datetime.combine(
            device.installed_on, datetime.time(), tzinfo=timezone.get_current_timezone())
        if since < now - datetime.timedelta(hours=levels[street]):
            silent.append(device)
    raised = 0
    if silent:
        from yiyang.visits.models import Trigger
        from yiyang.visits.services import raise_task

        for device in silent:
            since = device.last_activity_at
            ref = f"silence:{device.pk}:{since.strftime('%Y%m%d%H') if since else 'never'}"
            try:
                _task, created = raise_task(actor=None, elder=device.elder, trigger=Trigger.INACTIVITY, trigger_ref=ref,
                                        authorised=True, note=_("%(device)s 超过 %(h)d 小时未检测到活动") % {
                                            "device": device, "h": levels[device.region_code[:9]]})
            except (ValidationError, DomainError):
                log.warning("no welfare visit for device %s", device.pk, exc_info=True)
                continue
            raised += created
    return {"offline_new": offline_new, "silent": len(silent), "visits_raised": raised}


def on_elder_status_changed(*, elder: Elder, event, **_kwargs) -> int:
    """Death, moving out or moving house: the maintainer collects or moves the devices of the home (one task per
    device); alarms still open stay for a person to resolve, and the devices keep reporting until retired, since
    someone may still live there."""
    from yiyang.registry.models import StatusEventKind

    if event.kind not in {StatusEventKind.DEATH, StatusEventKind.MOVE_OUT, StatusEventKind.RELOCATE}:
        return 0
    opened = 0
    for device in Device.objects.filter(elder=elder, status=DeviceStatus.ACTIVE):
        opened += _open_maintenance(device, MaintenanceKind.RETRIEVE, str(event.get_kind_display()))
    return opened


# ------------------------------------------------------------------------------------------ notifications


def _notify(users, alarm: Alarm | None, subject: str, body: str,
            channel: str = NotificationChannel.IN_APP) -> list[Notification]:
    """Into the outbox, in the caller's transaction; sent after commit by the task worker."""
    rows = [Notification(channel=channel, recipient=u, alarm=alarm, region_code=alarm.region_code if alarm else "",
                         subject=_text(subject, 120), body=_text(body, 1000)) for u in users]
    if rows:
        Notification.objects.bulk_create(rows)
        from .tasks import send_notifications_task

        transaction.on_commit(lambda: _enqueue_quietly(send_notifications_task))
    return rows


def _enqueue_quietly(task) -> None:
    try:
        task.enqueue()
    except Exception:
        log.exception("could not queue %s", task)


class ChannelUnavailable(Exception):
    """No gateway is configured for the channel (SMS and voice adapters are added per deployment)."""


def _send_in_app(notification: Notification) -> None:
    """In-app messages are read from the outbox itself: sending is making them visible."""


CHANNEL_ADAPTERS = {NotificationChannel.IN_APP: _send_in_app}


def send_due_notifications(*, now=None, limit: int = 500) -> int:
    """Send what is due, each attempt recorded; a failure retries after 1, 2, 4, 8 minutes, then fails."""
    now = now or timezone.now()
    sent = 0
    due = list(Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        with transaction.atomic():
            n = Notification.objects.select_for_update(**_skip_locked()).filter(
                pk=pk, status=NotificationStatus.PENDING).first()
            if n is None:
                continue
            n.attempts += 1
            try:
                adapter = CHANNEL_ADAPTERS.get(n.channel)
                if adapter is None:
                    raise ChannelUnavailable(f"no gateway for {n.channel}")
                adapter(n)
            except Exception as exc:  # an adapter's failure of any kind is recorded and retried, never lost
                NotificationAttempt.objects.create(notification=n, at=now, ok=False, error=str(exc)[:300])
                if n.attempts >= NOTIFY_RETRIES:
                    n.status = NotificationStatus.FAILED
                else:
                    n.next_attempt_at = now + datetime.timedelta(minutes=2 ** (n.attempts - 1))
            else:
                NotificationAttempt.objects.create(notification=n, at=now, ok=True)
                n.status, n.sent_at = NotificationStatus.SENT, now
                sent += 1
            n.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
    return sent


@transaction.atomic
def mark_notification_read(*, actor, notification: Notification) -> Notification:
    if notification.recipient_id != getattr(actor, "pk", None):
        raise DomainError(ErrorCode.FORBIDDEN, _("这不是您的通知。"), status=403)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


# ---------------------------------------------------------------------------------------------- duty rota


@transaction.atomic
def add_shift(*, actor, region: Region, user: User, duty_role: str, starts_at, ends_at) -> DutyShift:
    policy.may_manage_rota(actor, region.code).require()
    errors = {}
    if region.level not in {RegionLevel.COUNTY, RegionLevel.STREET}:
        errors["region"] = [_("值班表按区县呼叫中心或街道编排。")]
    if duty_role not in DutyRole.values:
        errors["duty_role"] = [_("值班岗位无效。")]
    if not starts_at or not ends_at or ends_at <= starts_at:
        errors["ends_at"] = [_("结束时间须晚于开始时间。")]
    elif ends_at - starts_at > datetime.timedelta(hours=24):
        errors["ends_at"] = [_("一个班次不超过 24 小时。")]
    if not user.is_active or not (user.scope_code and region.code.startswith(user.scope_code)
                                  or user.scope_code.startswith(region.code)):
        errors["user"] = [_("值班人须为本区域的在岗账号。")]
    elif duty_role in {DutyRole.OPERATOR, DutyRole.BACKUP} and user.role not in {Role.OPERATOR, Role.STREET,
                                                                                  Role.COMMUNITY}:
        errors["user"] = [_("接警岗须由接警员或街道、社区工作人员担任。")]
    if errors:
        raise ValidationError(errors)
    if DutyShift.objects.filter(user=user, starts_at__lt=ends_at, ends_at__gt=starts_at).exists():
        raise ValidationError({"starts_at": [_("该值班人在这段时间已有班次。")]})
    shift = DutyShift.objects.create(region=region, user=user, duty_role=duty_role, starts_at=starts_at,
                                     ends_at=ends_at, created_by=actor)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=shift, region_code=region.code,
                 after=audit.snapshot(shift))
    return shift


@transaction.atomic
def remove_shift(*, actor, shift: DutyShift) -> None:
    policy.may_manage_rota(actor, shift.region_code).require()
    if shift.ends_at <= timezone.now():
        raise DomainError(ErrorCode.INVALID_STATE, _("已结束的班次不能删除。"), status=409)
    audit.record(actor=actor, action=AuditAction.DELETE, instance=shift, region_code=shift.region_code,
                 before=audit.snapshot(shift))
    shift.delete()
