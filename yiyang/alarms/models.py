"""Emergency alarms (紧急呼叫与应急救援): devices in older people's homes, their events, the alarms a person
must acknowledge within a service level, the duty rota, and the notifications sent about them.

Whatever a vendor sends is normalised (`events.NormalisedEvent`, an adapter per vendor format in `adapters.py`)
and stored once per vendor event id (`DeviceEvent`, idempotent). Heartbeats update the device; alarm events open
an alarm or fold into the open one of the same device and kind (a count, never a second alarm); an event of an
unknown device is quarantined for the vendor to fix. An alarm's life cycle is raised → acknowledged →
dispatched → on site → resolved → closed, each step timed (`AlarmStep`); not acknowledged within the service
level, it escalates along its jurisdiction's chain (`ServiceLevel`), run by the task worker.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.fields import EncryptedTextField
from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet
from yiyang.core.validators import multiline_text, person_name, single_line_text
from yiyang.registry.models import Elder, Organisation

AREA_ROLES = {Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.OPERATOR}


def _area_q(user, field: str) -> Q | None:
    """Bureau, street, community and duty-desk users see the rows of their area (a region-code prefix)."""
    if user.role in AREA_ROLES and user.scope_code:
        return Q(**{f"{field}__startswith": user.scope_code})
    return None


class VendorFormat(models.TextChoices):
    YIYANG_JSON = "yiyang_json", _("颐养标准 JSON")
    SCAIP_XML = "scaip_xml", _("SCAIP 风格 XML")


class Vendor(models.Model):
    """A device vendor (设备厂商) and its integration credentials: a shared secret that signs every webhook and
    MQTT message. Rotating keeps the previous secret valid for a grace period so devices in the field can
    follow."""

    code = models.SlugField(_("厂商代码"), max_length=32, unique=True)
    name = models.CharField(_("厂商名称"), max_length=128, validators=[single_line_text])
    format = models.CharField(_("报文格式"), max_length=16, choices=VendorFormat.choices,
                              default=VendorFormat.YIYANG_JSON)
    jurisdiction = models.ForeignKey(Region, verbose_name=_("接入辖区"), on_delete=models.PROTECT, related_name="+")
    jurisdiction_code = models.CharField(max_length=12, db_index=True, editable=False)
    maintainer = models.ForeignKey(Organisation, verbose_name=_("运维服务机构"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    secret = EncryptedTextField(_("签名密钥"))
    previous_secret = EncryptedTextField(_("上一签名密钥"), blank=True, default="")
    previous_valid_until = models.DateTimeField(_("上一密钥有效至"), null=True, blank=True)
    secret_rotated_at = models.DateTimeField(_("密钥轮换时间"), null=True, blank=True)
    heartbeat_hours = models.PositiveSmallIntegerField(_("心跳超时（小时）"), default=24)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("设备厂商")
        verbose_name_plural = _("设备厂商")
        ordering = ["code"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.jurisdiction_code = self.jurisdiction_id or ""
        super().save(*args, **kwargs)

    def secrets_valid_at(self, at) -> list[str]:
        """The secrets a signature may be made with at `at`: the current one, and the previous one during its
        grace period."""
        found = [self.secret]
        if self.previous_secret and self.previous_valid_until and at <= self.previous_valid_until:
            found.append(self.previous_secret)
        return found

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            return Q(jurisdiction_code__startswith=user.scope_code)
        if action == "view" and user.role in {Role.OPERATOR, Role.STREET} and user.scope_code:
            return Q(jurisdiction_code=user.scope_code[:6])
        return None


class DeviceKind(models.TextChoices):
    SOS_BUTTON = "sos_button", _("一键呼叫器")
    SMARTWATCH = "smartwatch", _("智能手表")
    FALL_SENSOR = "fall_sensor", _("跌倒探测器")
    SMOKE = "smoke", _("烟感报警器")
    GAS = "gas", _("燃气报警器")
    WATER_LEAK = "water_leak", _("水浸探测器")
    DOOR = "door", _("门磁")
    ACTIVITY = "activity", _("人体活动探测器")
    BED = "bed", _("床垫传感器")
    VIDEO_INTERCOM = "video_intercom", _("可视对讲（爱的眼睛）")


# Sensors whose silence in the home of someone living alone is itself a warning (issue 16: 24 hours).
ACTIVITY_KINDS = {DeviceKind.DOOR, DeviceKind.ACTIVITY, DeviceKind.WATER_LEAK, DeviceKind.BED}


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("在用")
    RETIRED = "retired", _("已拆除")


class Device(models.Model):
    """A device installed in an elder's home (居家安全设备), known to its vendor by `serial`."""

    vendor = models.ForeignKey(Vendor, verbose_name=_("厂商"), on_delete=models.PROTECT, related_name="devices")
    serial = models.CharField(_("设备编号"), max_length=64, validators=[single_line_text])
    kind = models.CharField(_("设备类型"), max_length=16, choices=DeviceKind.choices)
    elder = models.ForeignKey(Elder, verbose_name=_("使用老人"), on_delete=models.PROTECT, related_name="devices")
    address = models.CharField(_("安装地址"), max_length=200, validators=[single_line_text])
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    maintainer = models.ForeignKey(Organisation, verbose_name=_("运维服务机构"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    installed_on = models.DateField(_("安装日期"))
    status = models.CharField(_("状态"), max_length=10, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE)
    battery_pct = models.PositiveSmallIntegerField(_("电量（%）"), null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("最近活动"), null=True, blank=True)
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("居家安全设备")
        verbose_name_plural = _("居家安全设备")
        ordering = ["region_code", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "serial"], name="alarm_device_serial_unique"),
            models.CheckConstraint(condition=Q(battery_pct__isnull=True) | Q(battery_pct__lte=100),
                                   name="alarm_device_battery_range"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.serial}"

    def save(self, *args, **kwargs):
        if self.elder_id and not self.region_code:
            self.region_code = self.elder.residence_region_id
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id:
            return Q(maintainer_id=user.organisation_id)
        if user.role in {Role.FAMILY, Role.ELDER} and action == "view":
            return Q(elder__family_links__user=user)
        return _area_q(user, "region_code")


class EventKind(models.TextChoices):
    ALARM = "alarm", _("报警")
    HEARTBEAT = "heartbeat", _("心跳")
    ACTIVITY = "activity", _("活动")
    RESTORE = "restore", _("恢复")


class AlarmKind(models.TextChoices):
    SOS = "sos", _("一键呼叫")
    FALL = "fall", _("跌倒")
    SMOKE = "smoke", _("烟雾")
    GAS = "gas", _("燃气泄漏")
    WATER = "water", _("漏水")
    INTRUSION = "intrusion", _("门窗异常")
    BED_EXIT = "bed_exit", _("离床未归")
    VITALS = "vitals", _("体征异常")
    LOW_BATTERY = "low_battery", _("电量不足")
    TAMPER = "tamper", _("设备被拆")


# The kinds a person must go to at once; the others are technical and wait for the maintainer.
EMERGENCY_KINDS = {AlarmKind.SOS, AlarmKind.FALL, AlarmKind.SMOKE, AlarmKind.GAS, AlarmKind.WATER,
                   AlarmKind.INTRUSION, AlarmKind.BED_EXIT, AlarmKind.VITALS}


class Channel(models.TextChoices):
    WEBHOOK = "webhook", _("HTTP 推送")
    MQTT = "mqtt", _("MQTT")
    MANUAL = "manual", _("人工登记")


class DeviceEvent(models.Model):
    """One normalised event as a vendor sent it, stored once per (vendor, vendor event id). An event whose
    device is unknown stays here quarantined (`device` empty) until the vendor fixes it."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(_("厂商事件编号"), max_length=64)
    device_serial = models.CharField(_("设备编号"), max_length=64)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("事件类型"), max_length=10, choices=EventKind.choices)
    alarm_kind = models.CharField(_("报警类型"), max_length=12, choices=AlarmKind.choices, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    channel = models.CharField(_("接入方式"), max_length=8, choices=Channel.choices)
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    region_code = models.CharField(max_length=12, db_index=True, default="")
    alarm = models.ForeignKey("Alarm", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    quarantined = models.BooleanField(_("待厂商处理"), default=False)
    payload = models.JSONField(_("原始报文"), default=dict)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("设备事件")
        verbose_name_plural = _("设备事件")
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["vendor", "event_id"], name="alarm_event_once")]
        indexes = [
            models.Index(fields=["processed_at"], name="alarm_event_unprocessed",
                         condition=Q(processed_at__isnull=True)),
            models.Index(fields=["vendor", "quarantined"], name="alarm_event_quarantine",
                         condition=Q(quarantined=True)),
        ]

    def __str__(self):
        return f"{self.vendor_id}:{self.event_id}"

    @classmethod
    def scope_filter(cls, user, action):
        if action != "view":
            return None
        return _area_q(user, "region_code")


class AlarmStatus(models.TextChoices):
    RAISED = "raised", _("待响应")
    ACKNOWLEDGED = "acknowledged", _("已接警")
    DISPATCHED = "dispatched", _("已派单")
    ON_SITE = "on_site", _("已到场")
    RESOLVED = "resolved", _("已处置")
    CLOSED = "closed", _("已归档")


OPEN_STATUSES = (AlarmStatus.RAISED, AlarmStatus.ACKNOWLEDGED, AlarmStatus.DISPATCHED, AlarmStatus.ON_SITE)


class Responder(models.TextChoices):
    FAMILY = "family", _("家属")
    NEIGHBOUR = "neighbour", _("邻里志愿者")
    COMMUNITY = "community", _("社区工作人员")
    CAREGIVER = "caregiver", _("服务机构护理员")
    AMBULANCE = "ambulance", _("转 120 急救")
    FIRE = "fire", _("转 119 消防")


class AlarmOutcome(models.TextChoices):
    FALSE_ALARM = "false_alarm", _("误报")
    HANDLED_AT_HOME = "handled_at_home", _("居家处置")
    TO_HOSPITAL = "to_hospital", _("送医")
    DECEASED = "deceased", _("死亡")


class AlarmQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)


class Alarm(models.Model):
    """An alarm (紧急呼叫): raised by a device's event (or by hand), acknowledged by a person, dispatched,
    attended, resolved with an outcome, closed. At most one open alarm per device and kind: repeated events
    fold into it (`event_count`)."""

    elder = models.ForeignKey(Elder, verbose_name=_("老人"), on_delete=models.PROTECT, related_name="alarms")
    device = models.ForeignKey(Device, verbose_name=_("设备"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="alarms")
    kind = models.CharField(_("报警类型"), max_length=12, choices=AlarmKind.choices)
    emergency = models.BooleanField(_("紧急"), default=True)
    status = models.CharField(_("状态"), max_length=12, choices=AlarmStatus.choices, default=AlarmStatus.RAISED)
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    raised_at = models.DateTimeField(_("报警时间"))
    event_count = models.PositiveIntegerField(_("事件次数"), default=1)
    last_event_at = models.DateTimeField(_("最近事件"))
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("接警时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", verbose_name=_("接警人"))
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    responder = models.CharField(_("处置人类型"), max_length=12, choices=Responder.choices, blank=True)
    responder_name = models.CharField(_("处置人"), max_length=64, blank=True, validators=[person_name])
    responder_phone = models.CharField(_("处置人电话"), max_length=20, blank=True, validators=[single_line_text])
    responder_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", verbose_name=_("处置人账号"))
    on_site_at = models.DateTimeField(_("到场时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处置时间"), null=True, blank=True)
    outcome = models.CharField(_("处置结果"), max_length=16, choices=AlarmOutcome.choices, blank=True)
    closed_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("升级级数"), default=0)
    next_escalation_at = models.DateTimeField(_("下次升级时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = AlarmQuerySet.as_manager()

    class Meta:
        verbose_name = _("紧急呼叫")
        verbose_name_plural = _("紧急呼叫")
        ordering = ["-raised_at"]
        constraints = [
            # Folding: one open alarm per device and kind; the database keeps it so under concurrent events.
            models.UniqueConstraint(fields=["device", "kind"], name="alarm_one_open_per_device_kind",
                                    condition=Q(status__in=OPEN_STATUSES) & Q(device__isnull=False)),
            models.CheckConstraint(condition=Q(outcome="") | Q(resolved_at__isnull=False),
                                   name="alarm_outcome_when_resolved"),
        ]
        indexes = [
            models.Index(fields=["region_code", "status", "raised_at"], name="alarm_queue"),
            models.Index(fields=["next_escalation_at"], name="alarm_escalation_due",
                         condition=Q(next_escalation_at__isnull=False)),
            models.Index(fields=["raised_at", "region_code"], name="alarm_stats"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.elder.name}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.CAREGIVER, Role.VISITOR} and action == "view":
            return Q(responder_user=user)
        if user.role == Role.PROVIDER and user.organisation_id and action == "view":
            return Q(device__maintainer_id=user.organisation_id)
        if user.role in {Role.FAMILY, Role.ELDER} and action == "view":
            return Q(elder__family_links__user=user)
        return _area_q(user, "region_code")


class StepKind(models.TextChoices):
    RAISED = "raised", _("报警")
    FOLDED = "folded", _("重复事件合并")
    ACKNOWLEDGED = "acknowledged", _("接警")
    ESCALATED = "escalated", _("超时升级")
    DISPATCHED = "dispatched", _("派单")
    ON_SITE = "on_site", _("到场")
    RESOLVED = "resolved", _("处置完毕")
    CLOSED = "closed", _("归档")
    NOTE = "note", _("通话记录")


class AlarmStep(models.Model):
    """The timeline of an alarm: each step, who took it and when, and call notes."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(_("环节"), max_length=12, choices=StepKind.choices)
    at = models.DateTimeField(_("时间"), default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=64, blank=True)
    note = models.TextField(_("说明"), max_length=1000, blank=True, validators=[multiline_text])

    class Meta:
        verbose_name = _("处置记录")
        verbose_name_plural = _("处置记录")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.alarm_id} {self.kind}"


class ServiceLevel(models.Model):
    """A jurisdiction's service level for alarms (响应时限) and its escalation chain: not acknowledged within
    `ack_seconds`, the alarm escalates to each step of `chain` in turn, each after its own delay. A county's
    row applies to its streets unless a street has its own."""

    jurisdiction = models.OneToOneField(Region, verbose_name=_("辖区"), on_delete=models.PROTECT,
                                        related_name="+")
    ack_seconds = models.PositiveIntegerField(_("接警时限（秒）"), default=60)
    arrive_minutes = models.PositiveIntegerField(_("到场时限（分钟）"), default=45)
    chain = models.JSONField(_("升级链"), default=list,
                             help_text=_("依次升级的对象及各自等待秒数"))
    silence_hours = models.PositiveSmallIntegerField(_("独居无活动判定（小时）"), default=24)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("响应时限与升级规则")
        verbose_name_plural = _("响应时限与升级规则")

    def __str__(self):
        return str(self.jurisdiction)

    @classmethod
    def scope_filter(cls, user, action):
        code = user.scope_code
        if not code:
            return None
        if user.role == Role.BUREAU:
            return Q(jurisdiction__code__startswith=code)  # (a foreign key column takes no __startswith)
        if action == "view" and user.role in AREA_ROLES:
            return Q(jurisdiction_id__in=[code[:n] for n in (6, 9) if n <= len(code)])
        return None


class DutyRole(models.TextChoices):
    OPERATOR = "operator", _("接警员")
    BACKUP = "backup", _("备班接警员")
    DUTY_OFFICER = "duty_officer", _("值班领导")


class DutyShift(models.Model):
    """One shift of the duty rota (值班表) of a street's duty desk or the county's call centre."""

    region = models.ForeignKey(Region, verbose_name=_("值班区域"), on_delete=models.PROTECT, related_name="+")
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("值班人"), on_delete=models.PROTECT,
                             related_name="duty_shifts")
    duty_role = models.CharField(_("值班岗位"), max_length=14, choices=DutyRole.choices, default=DutyRole.OPERATOR)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("值班班次")
        verbose_name_plural = _("值班表")
        ordering = ["region_code", "starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="alarm_shift_positive")]
        indexes = [models.Index(fields=["region_code", "starts_at", "ends_at"], name="alarm_shift_now")]

    def __str__(self):
        return f"{self.user} {self.get_duty_role_display()}"

    def save(self, *args, **kwargs):
        self.region_code = self.region_id or ""
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.OPERATOR and action == "view":
            return _area_q(user, "region_code") | Q(user=user)
        if user.role in {Role.BUREAU, Role.STREET}:
            return _area_q(user, "region_code")
        return None


class MaintenanceKind(models.TextChoices):
    OFFLINE = "offline", _("设备离线")
    LOW_BATTERY = "low_battery", _("电量不足")
    QUARANTINE = "quarantine", _("未登记设备上报")
    RETRIEVE = "retrieve", _("设备回收或移装")


class MaintenanceStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已处理")


class MaintenanceTask(models.Model):
    """A task for the device's maintainer (设备运维任务): a device gone silent, a battery running low."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="maintenance_tasks")
    kind = models.CharField(_("类型"), max_length=12, choices=MaintenanceKind.choices)
    status = models.CharField(_("状态"), max_length=6, choices=MaintenanceStatus.choices,
                              default=MaintenanceStatus.OPEN)
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    raised_at = models.DateTimeField(_("发现时间"), default=timezone.now)
    done_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True, validators=[single_line_text])

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("设备运维任务")
        verbose_name_plural = _("设备运维任务")
        ordering = ["-raised_at"]
        constraints = [models.UniqueConstraint(fields=["device", "kind"], name="alarm_maintenance_one_open",
                                               condition=Q(status="open"))]

    def __str__(self):
        return f"{self.device} {self.get_kind_display()}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id:
            return Q(device__maintainer_id=user.organisation_id)
        return _area_q(user, "region_code")


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("站内消息")
    SMS = "sms", _("短信")
    VOICE = "voice", _("语音电话")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class Notification(models.Model):
    """The outbox (通知发件箱): written in the transaction of the change it tells about, sent afterwards by the
    task worker through a channel adapter, retried, every attempt recorded."""

    channel = models.CharField(_("渠道"), max_length=8, choices=NotificationChannel.choices,
                               default=NotificationChannel.IN_APP)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="alarm_notifications", verbose_name=_("接收人"))
    phone = models.CharField(_("接收号码"), max_length=20, blank=True, validators=[single_line_text])
    alarm = models.ForeignKey(Alarm, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    region_code = models.CharField(max_length=12, db_index=True, default="")
    subject = models.CharField(_("标题"), max_length=120)
    body = models.TextField(_("内容"), max_length=1000)
    status = models.CharField(_("状态"), max_length=8, choices=NotificationStatus.choices,
                              default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["next_attempt_at"], name="alarm_outbox_due",
                                condition=Q(status="pending"))]

    def __str__(self):
        return self.subject

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU:
            return _area_q(user, "region_code")
        return Q(recipient=user) if action in {"view", "change"} else None


class NotificationAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]
