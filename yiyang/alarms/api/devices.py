"""Devices in the homes (居家安全设备), their vendors and secrets, the events of unknown devices (quarantine), and
the maintainers' tasks."""

import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region, Role
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import policy, selectors, services
from ..models import Device, DeviceKind, MaintenanceTask, Vendor, VendorFormat
from ._common import (
    DESK,
    DEVICE_VIEWERS,
    MAINTENANCE_VIEWERS,
    VENDOR_VIEWERS,
    AreaRef,
    Ref,
    area,
    elder_in_body,
    label,
    organisation_in_body,
    ref,
    region_of,
)
from .alarms import DeviceRef, device_ref

router = Router()


# ------------------------------------------------------------------------------------------------ devices


class DeviceOut(Schema):
    id: int
    serial: str = Field(..., description="The vendor's device number.")
    kind: str
    kind_label: str
    vendor: Ref
    elder: Ref
    address: str
    region_code: str = Field(..., description="The elder's community.")
    maintainer: Ref | None
    installed_on: datetime.date
    status: str = Field(..., description="`active` or `retired`.")
    status_label: str
    battery_pct: int | None
    last_heartbeat_at: datetime.datetime | None
    last_activity_at: datetime.datetime | None
    created_at: datetime.datetime


def device_out(d: Device) -> dict:
    return {"id": d.pk, "serial": d.serial, "kind": d.kind, "kind_label": label(d, "kind"), "vendor": ref(d.vendor),
            "elder": ref(d.elder), "address": d.address, "region_code": d.region_code,
            "maintainer": ref(d.maintainer), "installed_on": d.installed_on, "status": d.status,
            "status_label": label(d, "status"), "battery_pct": d.battery_pct,
            "last_heartbeat_at": d.last_heartbeat_at, "last_activity_at": d.last_activity_at,
            "created_at": d.created_at}


class DeviceFilters(Schema):
    kind: DeviceKind | Literal[""] = ""
    offline: bool = Field(False, description="Only devices in use with an open 设备离线 maintenance task.")
    q: str = Field("", max_length=40, description="Serial, elder's name or address contains.")
    region: str = Field("", max_length=column(Region, "code"), description="Region code (prefix).")


@router.get("devices", response={200: list[DeviceOut], **ERRORS}, summary="Devices in my scope")
@paginated
def list_devices(request, filters: Query[DeviceFilters]):
    """By community and serial. The desk and the area's staff see their area's devices; a maintainer those it
    maintains; a family their elder's."""
    require_roles(request.user, *DEVICE_VIEWERS)
    return Rows(selectors.devices_for(request.user, kind=filters.kind, offline_only=filters.offline,
                                      q=filters.q.strip(), region_code=filters.region.strip()),
                lambda page: [device_out(d) for d in page])


def _device(request, device_id: int, action: str = "view") -> Device:
    require_roles(request.user, *DEVICE_VIEWERS, on_object=True)
    qs = Device.objects.select_related("vendor", "elder", "maintainer")
    return get_scoped_or_404(qs, request.user, action, pk=device_id)


def _fresh_device(device: Device) -> dict:
    return device_out(Device.objects.select_related("vendor", "elder", "maintainer").get(pk=device.pk))


@router.get("devices/{int:device_id}", response={200: DeviceOut, **ERRORS}, summary="One device")
def get_device(request, device_id: Id):
    return device_out(_device(request, device_id))


class DeviceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    vendor: Id
    serial: str = Field(..., max_length=column(Device, "serial"))
    kind: DeviceKind
    elder: Id
    address: str = Field("", max_length=column(Device, "address"), description="Default the elder's address.")
    installed_on: datetime.date = Field(..., description="Not after today.")
    maintainer: Id | None = Field(None, description="Default the vendor's maintainer (服务机构).")


@router.post("devices", response={201: DeviceOut, **ERRORS}, summary="Register a device")
def register_device(request, payload: DeviceIn):
    """By the area's staff or the maintainer. Events the vendor sent before the device was known (quarantined)
    are released to it: a recent alarm among them is raised."""
    require_roles(request.user, Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER)
    vendor = Vendor.objects.filter(pk=payload.vendor, active=True).select_related("maintainer").first()
    if vendor is None:
        raise ValidationError({"vendor": [_("找不到该设备厂商。")]})
    maintainer = organisation_in_body(payload.maintainer, "maintainer") or vendor.maintainer
    elder = elder_in_body(payload.elder, lambda e: policy.may_manage_devices(
        request.user, e.residence_region_id, maintainer.pk if maintainer else None))
    device = services.register_device(actor=request.user, vendor=vendor, serial=payload.serial, kind=payload.kind,
                                      elder=elder, address=payload.address, installed_on=payload.installed_on,
                                      maintainer=maintainer)
    return Status(201, _fresh_device(device))


@router.post("devices/{int:device_id}/retire", response={200: DeviceOut, **ERRORS},
             summary="Retire a device (拆除)")
def retire_device(request, device_id: Id):
    """Its open maintenance tasks are closed. Idempotent."""
    device = _device(request, device_id, "change")
    return _fresh_device(services.retire_device(actor=request.user, device=device))


# ------------------------------------------------------------------------------------------------ vendors


class VendorOut(Schema):
    id: int
    code: str
    name: str
    format: str = Field(..., description="`yiyang_json` or `scaip_xml`.")
    format_label: str
    jurisdiction: AreaRef
    maintainer: Ref | None
    heartbeat_hours: int
    active: bool
    secret_rotated_at: datetime.datetime | None
    old_secret_valid_until: datetime.datetime | None = Field(..., description="Until when the previous secret "
                                                                              "still signs (the grace period).")
    created_at: datetime.datetime


def vendor_out(v: Vendor) -> dict:
    return {"id": v.pk, "code": v.code, "name": v.name, "format": v.format, "format_label": label(v, "format"),
            "jurisdiction": area(v.jurisdiction), "maintainer": ref(v.maintainer),
            "heartbeat_hours": v.heartbeat_hours, "active": v.active, "secret_rotated_at": v.secret_rotated_at,
            "old_secret_valid_until": v.previous_valid_until, "created_at": v.created_at}


class VendorSecretOut(Schema):
    vendor: VendorOut
    secret: str = Field(..., description="The signing secret: shown this once, never again.")


@router.get("vendors", response={200: list[VendorOut], **ERRORS}, summary="Device vendors")
@paginated
def list_vendors(request):
    """The bureau's vendors (of its jurisdiction); the desk and the streets see their county's. Never the
    secrets."""
    require_roles(request.user, *VENDOR_VIEWERS)
    return Rows(selectors.vendors_for(request.user), lambda page: [vendor_out(v) for v in page])


def _vendor(request, vendor_id: int, action: str = "view") -> Vendor:
    require_roles(request.user, *VENDOR_VIEWERS, on_object=True)
    return get_scoped_or_404(Vendor.objects.select_related("jurisdiction", "maintainer"), request.user, action,
                             pk=vendor_id)


@router.get("vendors/{int:vendor_id}", response={200: VendorOut, **ERRORS}, summary="One vendor")
def get_vendor(request, vendor_id: Id):
    return vendor_out(_vendor(request, vendor_id))


class VendorIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., max_length=column(Vendor, "code"), pattern=r"^[-a-zA-Z0-9_]+$",
                      description="Letters, digits, - and _: the vendor's name in webhook URLs and MQTT topics.")
    name: str = Field(..., max_length=column(Vendor, "name"))
    format: VendorFormat
    jurisdiction: str = Field(..., max_length=column(Region, "code"), description="The bureau's region code.")
    maintainer: Id | None = Field(None, description="The organisation that maintains its devices.")


@router.post("vendors", response={201: VendorSecretOut, **ERRORS}, summary="Add a vendor (returns its secret once)")
def create_vendor(request, payload: VendorIn):
    require_roles(request.user, Role.BUREAU)
    vendor, secret = services.create_vendor(actor=request.user, code=payload.code, name=payload.name,
                                            format=payload.format,
                                            jurisdiction=region_of(payload.jurisdiction, "jurisdiction"),
                                            maintainer=organisation_in_body(payload.maintainer, "maintainer"))
    fresh = Vendor.objects.select_related("jurisdiction", "maintainer").get(pk=vendor.pk)
    return Status(201, {"vendor": vendor_out(fresh), "secret": secret})


class RotateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    grace_hours: int = Field(24, ge=0, le=168, description="How long the old secret still signs (0–168 hours).")


@router.post("vendors/{int:vendor_id}/rotate-secret", response={200: VendorSecretOut, **ERRORS},
             summary="Rotate a vendor's secret (returns the new one once)")
def rotate_secret(request, vendor_id: Id, payload: RotateIn):
    vendor = _vendor(request, vendor_id, "change")
    secret = services.rotate_secret(actor=request.user, vendor=vendor, grace_hours=payload.grace_hours)
    fresh = Vendor.objects.select_related("jurisdiction", "maintainer").get(pk=vendor.pk)
    return {"vendor": vendor_out(fresh), "secret": secret}


# --------------------------------------------------------------------------------------------- quarantine


class QuarantinedOut(Schema):
    id: int
    vendor: Ref
    vendor_code: str
    event_id: str = Field(..., description="The vendor's event id.")
    device_serial: str = Field(..., description="The serial no registered device has.")
    kind: str
    alarm_kind: str
    occurred_at: datetime.datetime
    received_at: datetime.datetime
    channel: str
    region_code: str


@router.get("quarantine", response={200: list[QuarantinedOut], **ERRORS},
            summary="Events of devices nobody registered (待厂商处理)")
@paginated
def list_quarantine(request):
    """Newest first. Registering the device releases them."""
    require_roles(request.user, *DESK)
    return Rows(selectors.quarantine_for(request.user), lambda page: [
        {"id": e.pk, "vendor": ref(e.vendor), "vendor_code": e.vendor.code, "event_id": e.event_id,
         "device_serial": e.device_serial, "kind": e.kind, "alarm_kind": e.alarm_kind, "occurred_at": e.occurred_at,
         "received_at": e.received_at, "channel": e.channel, "region_code": e.region_code} for e in page])


# ------------------------------------------------------------------------------------------- maintenance


class MaintenanceOut(Schema):
    id: int
    device: DeviceRef
    elder: Ref
    address: str
    kind: str = Field(..., description="`offline`, `low_battery`, `quarantine` or `retrieve`.")
    kind_label: str
    status: str = Field(..., description="`open` or `done`.")
    region_code: str
    raised_at: datetime.datetime
    done_at: datetime.datetime | None
    note: str


def maintenance_out(t: MaintenanceTask) -> dict:
    return {"id": t.pk, "device": device_ref(t.device), "elder": ref(t.device.elder), "address": t.device.address,
            "kind": t.kind, "kind_label": label(t, "kind"), "status": t.status, "region_code": t.region_code,
            "raised_at": t.raised_at, "done_at": t.done_at, "note": t.note}


class MaintenanceFilters(Schema):
    status: Literal["open", "all"] = Field("open", description="Open tasks (default), or all.")


@router.get("maintenance", response={200: list[MaintenanceOut], **ERRORS}, summary="Maintenance tasks")
@paginated
def list_maintenance(request, filters: Query[MaintenanceFilters]):
    """Newest first: devices gone silent, batteries running low, devices to collect. A maintainer sees those
    of its devices."""
    require_roles(request.user, *MAINTENANCE_VIEWERS)
    return Rows(selectors.maintenance_for(request.user, open_only=filters.status == "open"),
                lambda page: [maintenance_out(t) for t in page])


def _task(request, task_id: int, action: str = "view") -> MaintenanceTask:
    require_roles(request.user, *MAINTENANCE_VIEWERS, on_object=True)
    return get_scoped_or_404(MaintenanceTask.objects.select_related("device", "device__elder"), request.user,
                             action, pk=task_id)


@router.get("maintenance/{int:task_id}", response={200: MaintenanceOut, **ERRORS}, summary="One maintenance task")
def get_maintenance(request, task_id: Id):
    return maintenance_out(_task(request, task_id))


class FinishIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(MaintenanceTask, "note"))


@router.post("maintenance/{int:task_id}/finish", response={200: MaintenanceOut, **ERRORS},
             summary="Finish a maintenance task")
def finish_maintenance(request, task_id: Id, payload: FinishIn):
    """By the area's staff or the maintainer; a task already done is a 409."""
    task = _task(request, task_id, "change")
    return maintenance_out(services.finish_maintenance(actor=request.user, task=task, note=payload.note))

