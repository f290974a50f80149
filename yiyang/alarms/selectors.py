"""Alarms: the reads (scoped, paged in the database by the caller; one selector per list, shared by page, export
and API)."""

from __future__ import annotations

import datetime

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from yiyang.assessment.selectors import current_levels
from yiyang.visits.models import VisitRecord

from .models import (
    OPEN_STATUSES,
    Alarm,
    AlarmStatus,
    Device,
    DeviceEvent,
    DeviceStatus,
    DutyRole,
    DutyShift,
    MaintenanceStatus,
    MaintenanceTask,
    Notification,
    ServiceLevel,
    Vendor,
)
from .services import on_duty_users


def alarms_for(user, *, status: str = "", open_only: bool = False, kind: str = "", region_code: str = "",
               since: datetime.datetime | None = None, until: datetime.datetime | None = None,
               elder_id: int | None = None):
    qs = Alarm.objects.restrict(user, "view").select_related("elder", "device", "acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=OPEN_STATUSES)
    if kind:
        qs = qs.filter(kind=kind)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    if since:
        qs = qs.filter(raised_at__gte=since)
    if until:
        qs = qs.filter(raised_at__lt=until)
    if elder_id:
        qs = qs.filter(elder_id=elder_id)
    return qs.order_by("-raised_at", "-pk")


def console_queue(user, *, limit: int = 100):
    """The open alarms of the user's area: unacknowledged emergencies first, the oldest first within each
    group, then the rest by age."""
    urgency = Case(
        When(status=AlarmStatus.RAISED, emergency=True, then=Value(0)),
        When(status=AlarmStatus.RAISED, then=Value(1)),
        When(emergency=True, then=Value(2)),
        default=Value(3), output_field=IntegerField())
    return (Alarm.objects.restrict(user, "view").filter(status__in=OPEN_STATUSES)
            .select_related("elder", "device").annotate(urgency=urgency)
            .order_by("urgency", "raised_at", "pk")[:limit])


def alarm_summary(alarm: Alarm) -> dict:
    """What the person handling an alarm needs to see of the elder, read through the alarm (an operator has no
    access to the register): address and position, contacts, ability level, living situation, the last visits,
    the devices of the home. Health records are not part of it."""
    elder = alarm.elder
    level = current_levels([elder.pk]).get(elder.pk)
    visits = list(VisitRecord.objects.filter(elder=elder).select_related("visitor").order_by("-visited_at")[:3])
    pairing = elder.visit_pairings.filter(until__isnull=True).select_related("visitor", "backup").first()
    return {
        "elder": elder,
        "address": alarm.device.address if alarm.device else elder.address,
        "latitude": alarm.latitude or elder.latitude,
        "longitude": alarm.longitude or elder.longitude,
        "age": elder.age,
        "phone": elder.phone,
        "living_situation": elder.get_living_situation_display(),
        "contacts": list(elder.contacts.order_by("-is_guardian", "pk")),
        "level": level,
        "visits": visits,
        "pairing": pairing,
        "devices": list(Device.objects.filter(elder=elder, status=DeviceStatus.ACTIVE).order_by("kind")),
        "previous": list(Alarm.objects.filter(elder=elder).exclude(pk=alarm.pk).order_by("-raised_at")[:5]),
    }


def devices_for(user, *, kind: str = "", offline_only: bool = False, q: str = "", region_code: str = "",
                now: datetime.datetime | None = None):
    qs = Device.objects.restrict(user, "view").select_related("vendor", "elder", "maintainer")
    if kind:
        qs = qs.filter(kind=kind)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    if offline_only:
        qs = qs.filter(status=DeviceStatus.ACTIVE, maintenance_tasks__kind="offline",
                       maintenance_tasks__status=MaintenanceStatus.OPEN)
    if q:
        qs = qs.filter(Q(serial__icontains=q) | Q(elder__name__contains=q) | Q(address__contains=q))
    return qs.order_by("region_code", "serial", "pk")


def quarantine_for(user):
    """Events of devices the vendor has not registered (bureau: of its jurisdiction's vendors)."""
    return (DeviceEvent.objects.restrict(user, "view").filter(quarantined=True).select_related("vendor")
            .order_by("-received_at", "-pk"))


def on_duty_now(region_code: str, *, at: datetime.datetime | None = None) -> dict:
    return {role: on_duty_users(region_code, role, at) for role in DutyRole.values}


def shifts_for(user, *, day: datetime.date | None = None, region_code: str = ""):
    qs = DutyShift.objects.restrict(user, "view").select_related("user", "region")
    if day:
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(day, datetime.time(), tzinfo=tz)
        qs = qs.filter(starts_at__lt=start + datetime.timedelta(days=1), ends_at__gt=start)
    if region_code:
        qs = qs.filter(region_code__startswith=region_code)
    return qs.order_by("starts_at", "region_code", "pk")


def notifications_for(user, *, unread_only: bool = False):
    """The caller's own (the bureau's scope also holds its area's outbox; the list is what the person was told)."""
    qs = Notification.objects.restrict(user, "view").filter(recipient=user).select_related("alarm")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-pk")


def maintenance_for(user, *, open_only: bool = True):
    qs = MaintenanceTask.objects.restrict(user, "view").select_related("device", "device__elder")
    if open_only:
        qs = qs.filter(status=MaintenanceStatus.OPEN)
    return qs.order_by("-raised_at", "-pk")


def vendors_for(user):
    return Vendor.objects.restrict(user, "view").select_related("jurisdiction", "maintainer").order_by("code", "pk")


def service_levels_for(user):
    """The county's row and its streets' own rows (a street sees its county's and its own)."""
    return (ServiceLevel.objects.restrict(user, "view").select_related("jurisdiction", "updated_by")
            .order_by("jurisdiction_id", "pk"))
