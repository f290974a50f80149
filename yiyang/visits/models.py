"""Care visits (关爱巡访): who must be visited how often, who visits them, the tasks and the visit records.

The national target (民发〔2022〕73号) is a monthly visit rate of 100% for 特殊困难老年人; the service norm is
MZ/T 237-2024. A jurisdiction's tiers are rules as data (`TierRuleSet.params`, validated by `rules.TierParams`),
versioned with effective months like the benefit rules. Tasks are generated set-based each month for everyone a
tier makes due (`generation.py`), or raised ad hoc within 24 hours of a trigger; a visit record closes a task.
Coverage is counted from the tasks, never by looping over people.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet
from yiyang.core.validators import multiline_text, person_name, single_line_text
from yiyang.registry.models import Elder


def _region_roles_q(user, field: str) -> Q | None:
    """Bureau, street and community users see the rows of their area (the row's community code)."""
    if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY} and user.scope_code:
        return Q(**{f"{field}__startswith": user.scope_code})
    return None


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ADOPTED = "adopted", _("已启用")
    RETIRED = "retired", _("已停用")


class TierRuleSet(models.Model):
    """One version of a jurisdiction's visit tiers (巡访分级规则), valid for a range of months.

    Adopted versions are never changed except for closing `valid_until` when a newer version takes over; a
    county's version applies to its streets and communities."""

    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(_("状态"), max_length=10, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    valid_from = models.DateField(_("起始月份"), help_text=_("每月 1 日"))
    valid_until = models.DateField(_("终止月份"), null=True, blank=True, help_text=_("最后适用月份的 1 日"))
    params = models.JSONField(_("规则"))
    note = models.CharField(_("修订说明"), max_length=300, blank=True, validators=[single_line_text])
    source = models.CharField(_("政策依据"), max_length=300, blank=True, validators=[single_line_text])
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    adopted_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡访分级规则")
        verbose_name_plural = _("巡访分级规则")
        ordering = ["jurisdiction__code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "version"], name="visit_rule_version_unique"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                                   name="visit_rule_valid_range"),
        ]

    def __str__(self):
        return f"{self.jurisdiction} v{self.version}"

    @classmethod
    def scope_filter(cls, user, action):
        code = user.scope_code
        if not code:
            return None
        if user.role == Role.BUREAU:
            q = Q(jurisdiction__code__startswith=code)
            above = [code[:n] for n in (2, 4) if n < len(code)]
            if action == "view" and above:
                q |= Q(jurisdiction__code__in=above)
            return q
        if user.role in {Role.STREET, Role.COMMUNITY} and action == "view":
            return Q(jurisdiction__code__in=[code[:n] for n in (2, 4, 6, 9) if n <= len(code)])
        return None


class VisitorKind(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    CADRE = "cadre", _("村/社区干部")
    CARE_HELPER = "care_helper", _("护老员")
    SOCIAL_WORKER = "social_worker", _("社会工作者")
    VOLUNTEER = "volunteer", _("志愿者")


class Visitor(models.Model):
    """A person who visits (包联责任人): placed in a community, with or without an account of their own."""

    name = models.CharField(_("姓名"), max_length=64, validators=[person_name])
    kind = models.CharField(_("身份"), max_length=16, choices=VisitorKind.choices)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True, validators=[single_line_text])
    region = models.ForeignKey(Region, verbose_name=_("所在社区/村"), on_delete=models.PROTECT, related_name="+")
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("登录账号"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="visitor")
    active = models.BooleanField(_("在岗"), default=True)
    left_on = models.DateField(_("离岗日期"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡访员")
        verbose_name_plural = _("巡访员")
        ordering = ["region_code", "name"]

    def __str__(self):
        return f"{self.name}（{self.get_kind_display()}）"

    def save(self, *args, **kwargs):
        self.region_code = self.region_id or ""
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.VISITOR:
            return Q(user=user) if action == "view" else None
        return _region_roles_q(user, "region_code")


class Pairing(models.Model):
    """包联: the visitor responsible for an elder, and a backup, from a date. One open pairing per elder."""

    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="visit_pairings")
    visitor = models.ForeignKey(Visitor, verbose_name=_("包联责任人"), on_delete=models.PROTECT,
                                related_name="pairings")
    backup = models.ForeignKey(Visitor, verbose_name=_("备岗人"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="backup_pairings")
    since = models.DateField(_("起始日期"))
    until = models.DateField(_("终止日期"), null=True, blank=True)
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    county_code = models.CharField(max_length=6, db_index=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("包联关系")
        verbose_name_plural = _("包联关系")
        ordering = ["region_code", "elder_id"]
        constraints = [
            models.UniqueConstraint(fields=["elder"], condition=Q(until__isnull=True), name="pairing_one_open"),
            models.CheckConstraint(condition=~Q(backup=models.F("visitor")), name="pairing_backup_differs"),
        ]
        indexes = [models.Index(fields=["visitor", "until"]), models.Index(fields=["backup", "until"])]

    def __str__(self):
        return f"{self.elder_id} → {self.visitor}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.VISITOR:
            return (Q(visitor__user=user) | Q(backup__user=user)) if action == "view" else None
        return _region_roles_q(user, "region_code")


class VisitMethod(models.TextChoices):
    HOME = "home", _("上门")
    PHONE = "phone", _("电话")
    VIDEO = "video", _("视频")


class TaskKind(models.TextChoices):
    SCHEDULED = "scheduled", _("定期巡访")
    AD_HOC = "ad_hoc", _("临时探访")


class Trigger(models.TextChoices):
    DISCHARGE = "discharge", _("出院")
    BEREAVEMENT = "bereavement", _("配偶或照护人去世")
    ALARM = "alarm", _("紧急呼叫")
    ORDER_UNSERVED = "order_unserved", _("服务未完成")
    BENEFIT_ABSENCE = "benefit_absence", _("长期无服务或探访")
    FAMILY_REQUEST = "family_request", _("家属申请")
    FAILED_ATTEMPTS = "failed_attempts", _("多次未见到本人")
    INACTIVITY = "inactivity", _("居家长时间无活动")
    OTHER = "other", _("其他")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待巡访")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class VisitTaskQuerySet(ScopedQuerySet):
    def overdue(self, now=None):
        return self.filter(status=TaskStatus.OPEN, due_at__lt=now or timezone.now())


class VisitTask(models.Model):
    """One visit that is due: a tier's visit for a period (its window), or an ad-hoc visit after a trigger."""

    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="visit_tasks")
    kind = models.CharField(_("类型"), max_length=10, choices=TaskKind.choices)
    tier = models.CharField(_("巡访等级"), max_length=32, blank=True)
    rule_set = models.ForeignKey(TierRuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(_("触发原因"), max_length=16, choices=Trigger.choices, blank=True)
    # What raised an ad-hoc task ("order:123", "check:45"), so that the same trigger raises it once.
    trigger_ref = models.CharField(max_length=64, blank=True)
    trigger_note = models.CharField(_("说明"), max_length=300, blank=True, validators=[single_line_text])
    period_month = models.DateField(_("所属月份"), help_text=_("每月 1 日：窗口结束所在月份，按月统计覆盖率"))
    window_start = models.DateTimeField(_("窗口开始"))
    due_at = models.DateTimeField(_("应完成时间"))
    # Whether a phone or video call closes this task (the tier's rule, copied when the task is made).
    remote_counts = models.BooleanField(_("电话/视频计入"), default=False)
    visitor = models.ForeignKey(Visitor, verbose_name=_("责任人"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="tasks")
    status = models.CharField(_("状态"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("未见到次数"), default=0)
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("上报街道时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    region_code = models.CharField(max_length=12, db_index=True)
    county_code = models.CharField(max_length=6)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = VisitTaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡访任务")
        verbose_name_plural = _("巡访任务")
        ordering = ["due_at", "id"]
        constraints = [
            # Generation is idempotent: one scheduled task per person per window.
            models.UniqueConstraint(fields=["elder", "window_start"], condition=Q(kind="scheduled"),
                                    name="visit_task_one_per_window"),
            models.UniqueConstraint(fields=["elder", "trigger", "trigger_ref"],
                                    condition=Q(kind="ad_hoc") & ~Q(trigger_ref=""), name="visit_task_one_per_trigger"),
            models.CheckConstraint(condition=Q(due_at__gt=models.F("window_start")), name="visit_task_window"),
            models.CheckConstraint(condition=Q(kind="scheduled", trigger="") | Q(kind="ad_hoc") & ~Q(trigger=""),
                                   name="visit_task_trigger_for_ad_hoc"),
        ]
        indexes = [
            # Coverage: a month's tasks by area.
            models.Index(fields=["county_code", "period_month", "region_code", "status"], name="visit_task_cov"),
            models.Index(fields=["visitor", "status", "due_at"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self):
        return f"{self.elder_id} {self.get_kind_display()} {self.due_at:%Y-%m-%d}"

    @property
    def overdue(self) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at < timezone.now()

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.VISITOR:
            # Their own tasks, and those of the people they back up (a colleague's absence).
            return (Q(visitor__user=user) | Q(elder__visit_pairings__until__isnull=True,
                                             elder__visit_pairings__backup__user=user))
        return _region_roles_q(user, "region_code")


class Outcome(models.TextChoices):
    SEEN = "seen", _("已见到本人")
    NOT_HOME = "not_home", _("不在家")
    REFUSED = "refused", _("拒绝探访")


class VisitRecord(models.Model):
    """What a visitor found: arrival, who was seen, the checklist, photo and notes. Append-only."""

    elder = models.ForeignKey(Elder, on_delete=models.PROTECT, related_name="visit_records")
    task = models.ForeignKey(VisitTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="records")
    visitor = models.ForeignKey(Visitor, null=True, blank=True, on_delete=models.PROTECT, related_name="records")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("方式"), max_length=8, choices=VisitMethod.choices)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    visited_at = models.DateTimeField(_("巡访时间"))
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    distance_m = models.PositiveIntegerField(_("距住址（米）"), null=True, blank=True)
    far_from_home = models.BooleanField(_("远离住址"), default=False)
    seen = models.CharField(_("见到何人"), max_length=100, blank=True, validators=[single_line_text])
    # {item code: "ok" | "concern" | "na"}; the items are data (`rules.CHECKLIST`).
    checklist = models.JSONField(_("巡访清单"), default=dict, blank=True)
    concerns = models.PositiveSmallIntegerField(_("发现问题数"), default=0)
    notes = models.TextField(_("情况记录"), max_length=2000, blank=True, validators=[multiline_text])
    photo = models.ImageField(_("照片"), upload_to="visits/%Y/%m/", blank=True)
    counts = models.BooleanField(_("计入巡访"), default=False)
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    region_code = models.CharField(max_length=12, db_index=True)
    county_code = models.CharField(max_length=6)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡访记录")
        verbose_name_plural = _("巡访记录")
        ordering = ["-visited_at", "-id"]
        indexes = [models.Index(fields=["elder", "visited_at"])]

    def __str__(self):
        return f"{self.elder_id} {self.get_outcome_display()} {self.visited_at:%Y-%m-%d}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.VISITOR:
            return Q(recorded_by=user) if action == "view" else None
        if user.role in {Role.FAMILY, Role.ELDER}:
            return Q(elder__family_links__user=user) if action == "view" else None
        return _region_roles_q(user, "region_code")


class FollowUpKind(models.TextChoices):
    SERVICE_ORDER = "service_order", _("预约服务")
    ASSESSMENT = "assessment", _("申请能力评估")
    HOME_ADAPTATION = "home_adaptation", _("适老化改造")
    ALARM_DEVICE = "alarm_device", _("安装紧急呼叫设备")
    CATEGORY_CHANGE = "category_change", _("核查人员类别")
    OTHER = "other", _("其他需求")


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已转办")
    CLOSED = "closed", _("已关闭")


class FollowUp(models.Model):
    """A need found on a visit. Orders and assessments are made at once in their own domains (the follow-up
    points at them); the others wait on the community's desk until someone acts."""

    record = models.ForeignKey(VisitRecord, on_delete=models.CASCADE, related_name="follow_ups")
    elder = models.ForeignKey(Elder, on_delete=models.CASCADE, related_name="visit_follow_ups")
    kind = models.CharField(_("后续事项"), max_length=16, choices=FollowUpKind.choices)
    note = models.CharField(_("说明"), max_length=300, blank=True, validators=[single_line_text])
    status = models.CharField(_("状态"), max_length=8, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN)
    order = models.ForeignKey("services.Order", verbose_name=_("服务订单"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    assessment = models.ForeignKey("assessment.Assessment", verbose_name=_("评估申请"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    region_code = models.CharField(max_length=12, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("巡访后续事项")
        verbose_name_plural = _("巡访后续事项")
        ordering = ["status", "-created_at"]

    def __str__(self):
        return self.get_kind_display()

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.VISITOR:
            return Q(record__recorded_by=user) if action == "view" else None
        return _region_roles_q(user, "region_code")
