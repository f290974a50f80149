"""Ingest: a vendor's events stored once each, then processed (reports together, alarms per device); alarms
raised by hand come in here too."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction
from yiyang.registry.models import Elder, ElderStatus

from .. import policy
from ..events import NormalisedEvent
from ..models import (
    EMERGENCY_KINDS,
    OPEN_STATUSES,
    Alarm,
    AlarmKind,
    Channel,
    Device,
    DeviceEvent,
    DeviceStatus,
    DutyRole,
    EventKind,
    MaintenanceKind,
    StepKind,
    Vendor,
)
from ._common import MAX_EVENT_AGE, MAX_EVENT_AHEAD, _step, _text, service_level_for
from .escalation import _schedule_escalation, on_duty_users
from .outbox import _notify
from .silence import _open_maintenance

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
    if result.duplicates:
        # At least once: a message redelivered after a crash between storing and processing (the MQTT listener
        # killed, the webhook's worker restarted) finishes the processing now rather than at the next sweep.
        ids += list(DeviceEvent.objects.filter(vendor=vendor, event_id__in=list(seen), processed_at__isnull=True,
                                               quarantined=False).exclude(pk__in=ids).values_list("pk", flat=True))
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
            # Holding the device: only what nobody processed meanwhile (a redelivery and the sweeper may race).
            still = set(DeviceEvent.objects.filter(pk__in=[e.pk for e in device_events], processed_at__isnull=True)
                        .values_list("pk", flat=True))
            device_events = [e for e in device_events if e.pk in still]
            if not device_events:
                continue
            r, f = _apply(device, device_events, stale_alarms_as_history)
            raised, folded = raised + r, folded + f
    return raised, folded


@transaction.atomic
def _apply_reports(by_device: dict) -> None:
    """One UPDATE … FROM a list of values for every reporting device: the later of the stored and the new time
    (a late, older event never moves a device's time back), the last battery reading. Written in SQL because
    the ORM's CASE … WHEN per device costs more to build than the database takes to run it."""
    rows = []
    for pk, evs in by_device.items():
        moved = [e.occurred_at for e in evs if e.kind == EventKind.ACTIVITY]
        battery = [e.battery_pct for e in evs if e.battery_pct is not None]
        rows.append((pk, max(e.occurred_at for e in evs), max(moved) if moved else None,
                     battery[-1] if battery else None))
    stamp = Device._meta.get_field("last_heartbeat_at")
    pg = connection.vendor == "postgresql"
    later = "GREATEST" if pg else "MAX"  # both NULL-safe below, with COALESCE
    ts, num = ("CAST(%s AS timestamp with time zone)", "CAST(%s AS integer)") if pg else ("%s", "%s")
    first = f"SELECT CAST(%s AS bigint) AS did, {ts} AS heard, {ts} AS moved, {num} AS battery" if pg \
        else "SELECT %s AS did, %s AS heard, %s AS moved, %s AS battery"
    table = connection.ops.quote_name(Device._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            values = " UNION ALL ".join([first] + ["SELECT %s, %s, %s, %s"] * (len(chunk) - 1))
            params = [v for pk, heard, moved, battery in chunk
                      for v in (pk, stamp.get_db_prep_value(heard, connection),
                                stamp.get_db_prep_value(moved, connection), battery)]
            cursor.execute(
                f"UPDATE {table} SET "
                f"last_heartbeat_at = {later}(COALESCE(last_heartbeat_at, v.heard), v.heard), "
                f"last_activity_at = CASE WHEN v.moved IS NULL THEN last_activity_at "
                f"ELSE {later}(COALESCE(last_activity_at, v.moved), v.moved) END, "
                f"battery_pct = COALESCE(v.battery, battery_pct) "
                f"FROM ({values}) AS v WHERE {table}.id = v.did", params)
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
