"""Setting up: the service level, vendors and their secrets, devices, the duty rota."""

from __future__ import annotations

import datetime
import secrets as secrets_module

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region, RegionLevel, Role, User
from yiyang.registry.models import Elder, Organisation

from .. import policy
from ..models import (
    Device,
    DeviceEvent,
    DeviceKind,
    DeviceStatus,
    DutyRole,
    DutyShift,
    MaintenanceStatus,
    MaintenanceTask,
    ServiceLevel,
    Vendor,
    VendorFormat,
)
from ._common import DEFAULT_SILENCE_HOURS, _text, parse_chain
from .ingest import process_events


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
    if not vendor.active or not elder.residence_region_id.startswith(vendor.jurisdiction_code):
        # A vendor is connected by a bureau for its jurisdiction's homes; its events are not looked at elsewhere.
        raise ValidationError({"vendor": [_("该厂商未接入老人所在辖区，或已停用。")]})
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
