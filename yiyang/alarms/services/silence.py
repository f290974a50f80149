"""Silent devices and silent homes; devices to collect when the person dies or moves."""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core.errors import DomainError
from yiyang.registry.models import Elder, ElderStatus, LivingSituation

from ..models import (
    ACTIVITY_KINDS,
    Device,
    DeviceStatus,
    MaintenanceKind,
    MaintenanceStatus,
    MaintenanceTask,
    Vendor,
)
from ._common import service_level_for

log = logging.getLogger("yiyang.alarms")


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
