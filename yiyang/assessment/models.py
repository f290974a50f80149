"""Ability assessments (老年人能力评估, GB/T 42195-2022): requests, the two-assessor form, review, publication.

One `Assessment` row follows one assessment from the request to the published result:

    requested → assigned → in_progress → submitted → published
                               ↑             │            └→ disputed (a 复评 request is opened beside it)
                               └─ returned ←─┘ (sent back by the reviewer)
    any open state → cancelled

The level is never typed in: `services.submit` computes it with `scoring.score` from the item scores and the
Annex A information. Once published, the result is immutable (`save()` and the queryset refuse to change it);
a correction is a new assessment whose `supersedes` names the old one. `CurrentLevel` is the read model of
each elder's latest published level and when it must be reassessed, kept by the services.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.errors import DomainError
from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet

from . import scoring

CURRENT_TEMPLATE = scoring.GBT_42195_2022


class Reason(models.TextChoices):
    FIRST = "first", _("首次评估")
    ROUTINE = "routine", _("常规评估")
    IMMEDIATE = "immediate", _("即时评估")
    REVIEW = "review", _("复评")


class Source(models.TextChoices):
    STAFF = "staff", _("街道/社区工作人员申请")
    FAMILY = "family", _("老年人或家属申请")
    AUTO = "auto", _("到期或状态变化自动生成")


class Status(models.TextChoices):
    REQUESTED = "requested", _("待派单")
    ASSIGNED = "assigned", _("已派单")
    IN_PROGRESS = "in_progress", _("评估中")
    SUBMITTED = "submitted", _("待审核")
    RETURNED = "returned", _("审核退回")
    PUBLISHED = "published", _("已发布")
    DISPUTED = "disputed", _("有异议")
    CANCELLED = "cancelled", _("已取消")


# Plain strings, so that the constraints below serialise into migrations as literals.
OPEN_STATUSES = ("requested", "assigned", "in_progress", "submitted", "returned")
# A published result stays the elder's result while a dispute about it is being re-assessed.
RESULT_STATUSES = ("published", "disputed")
# Where the assessors still work on the form.
EDITABLE_STATUSES = ("assigned", "in_progress", "returned")
# What any assessor of the agency handles: requests to assign, forms to review (four eyes).
AGENCY_DESK_STATUSES = ("requested", "submitted")

# What may still change on a published row: the dispute record (and its status moving to "disputed").
MUTABLE_AFTER_PUBLICATION = {"status", "disputed_at", "disputed_by_id", "dispute_reason", "updated_at"}


class ImmutableResult(DomainError):
    status = 409

    def __init__(self):
        super().__init__("result_immutable", _("已发布的评估结果不能修改；如需更正，请发起新的评估。"))


class AssessmentPolicy(models.Model):
    """Per-jurisdiction settings (a city's or a county's); the nearest ancestor's policy applies."""

    region = models.OneToOneField(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    stack_adjustments = models.BooleanField(
        _("两条“提高一个等级”规则叠加"), default=False,
        help_text=_("确诊痴呆/精神障碍与近30天照护风险事件同时存在时，是否各提高一级（默认不叠加，最多提高一级）。"))
    validity_months = models.PositiveSmallIntegerField(
        _("结果有效期（月）"), default=6, validators=[MinValueValidator(1), MaxValueValidator(36)],
        help_text=_("发布后满该月数须复评；老年人状态变化时立即复评。"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("评估政策")
        verbose_name_plural = _("评估政策")
        ordering = ["region_id"]

    def __str__(self):
        return f"{self.region}"


class AssessmentQuerySet(ScopedQuerySet):
    def update(self, **kwargs):
        frozen = set(kwargs) - MUTABLE_AFTER_PUBLICATION
        if frozen and self.filter(status__in=RESULT_STATUSES).exists():
            raise ImmutableResult()
        return super().update(**kwargs)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def results(self):
        return self.filter(status__in=RESULT_STATUSES)


class Assessment(models.Model):
    """One ability assessment of one elder, from the request to the published (immutable) result."""

    elder = models.ForeignKey("registry.Elder", verbose_name=_("老年人"), on_delete=models.PROTECT,
                              related_name="assessments")
    # DESIGN.md §5: the county on every person-level row; the community the person lived in when requested.
    county_code = models.CharField(_("区县代码"), max_length=6, db_index=True, editable=False)
    region_code = models.CharField(_("区域代码"), max_length=12, db_index=True, editable=False)
    reason = models.CharField(_("评估原因"), max_length=12, choices=Reason.choices)
    source = models.CharField(_("申请来源"), max_length=8, choices=Source.choices, default=Source.STAFF)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.REQUESTED,
                              db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    request_note = models.CharField(_("申请说明"), max_length=300, blank=True)
    due_on = models.DateField(_("应完成日期"), null=True, blank=True, db_index=True)

    agency = models.ForeignKey("registry.Organisation", verbose_name=_("评估机构"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="assessments")
    assigned_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    assessor_1 = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("评估员（主评）"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    assessor_2 = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("评估员（协评）"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    scheduled_for = models.DateField(_("预约评估日期"), null=True, blank=True, db_index=True)
    location = models.CharField(_("评估地点"), max_length=200, blank=True)

    template_code = models.CharField(_("评估标准"), max_length=32, default=CURRENT_TEMPLATE)
    template_version = models.CharField(_("模板版本"), max_length=16, blank=True)
    # Item code → score, filled in as the assessors go (None never stored: an absent key is "not filled").
    items = models.JSONField(_("评估项目得分"), default=dict, blank=True)
    # Annex A: informant, diagnoses (ICD-10), medication, care-risk events in 30 days, health problems, coma.
    info = models.JSONField(_("基本信息与健康状况"), default=dict, blank=True)

    # The result, computed by scoring.score() at submission; never typed in.
    subtotals = models.JSONField(_("一级指标得分"), default=dict, blank=True)
    total = models.PositiveSmallIntegerField(_("总分"), null=True, blank=True)
    indicator_grades = models.JSONField(_("一级指标分级"), default=dict, blank=True)
    preliminary_level = models.PositiveSmallIntegerField(_("初步等级"), null=True, blank=True)
    final_level = models.PositiveSmallIntegerField(_("能力等级"), null=True, blank=True)
    adjustments = models.JSONField(_("等级变更依据"), default=list, blank=True)
    stack_adjustments = models.BooleanField(_("等级变更规则叠加"), null=True, blank=True)

    started_at = models.DateTimeField(_("开始评估时间"), null=True, blank=True)
    assessed_on = models.DateField(_("评估日期"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    review_note = models.CharField(_("审核意见"), max_length=500, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)

    # The app never deletes results (delete() refuses); SET_NULL only lets an operator tear test data down.
    supersedes = models.ForeignKey("self", verbose_name=_("复评/更正的原评估"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="superseded_by")
    disputed_at = models.DateTimeField(_("提出异议时间"), null=True, blank=True)
    disputed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    dispute_reason = models.CharField(_("异议理由"), max_length=500, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    cancel_reason = models.CharField(_("取消原因"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("能力评估")
        verbose_name_plural = _("能力评估")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["elder", "published_at"]),
            models.Index(fields=["agency", "status"]),
            models.Index(fields=["county_code", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assessor_1__isnull=True) | Q(assessor_2__isnull=True) | ~Q(assessor_1=F("assessor_2")),
                name="assessment_two_distinct_assessors"),
            models.CheckConstraint(
                condition=~Q(status__in=RESULT_STATUSES) | (
                    Q(final_level__isnull=False) & Q(published_at__isnull=False) & Q(valid_until__isnull=False)
                    & Q(assessor_1__isnull=False) & Q(assessor_2__isnull=False) & Q(reviewed_by__isnull=False)),
                name="assessment_result_complete"),
            models.CheckConstraint(condition=Q(final_level__isnull=True) | Q(final_level__lte=4),
                                   name="assessment_level_range"),
            # At most one assessment under way per person: requests are idempotent, also when automatic.
            models.UniqueConstraint(fields=["elder"], condition=Q(status__in=OPEN_STATUSES),
                                    name="assessment_one_open_per_elder"),
        ]

    def __str__(self):
        return f"{self.number} {self.get_reason_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            stored = type(self).objects.filter(pk=self.pk).values().first()
            if stored is not None and stored["status"] in RESULT_STATUSES:
                changed = {f.attname for f in self._meta.concrete_fields
                           if stored[f.attname] != getattr(self, f.attname)}
                if changed - MUTABLE_AFTER_PUBLICATION:
                    raise ImmutableResult()
                if self.status not in RESULT_STATUSES:
                    raise ImmutableResult()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status in RESULT_STATUSES:
            raise ImmutableResult()
        return super().delete(*args, **kwargs)

    @property
    def number(self) -> str:
        """评估编号: county, year of the request, sequence."""
        year = timezone.localtime(self.requested_at).year if self.requested_at else ""
        return f"{self.county_code}-{year}-{self.pk or 0:06d}"

    @property
    def template(self) -> scoring.Template:
        return scoring.get_template(self.template_code)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_result(self) -> bool:
        return self.status in RESULT_STATUSES

    @property
    def level_name(self) -> str:
        if self.final_level is None:
            return ""
        return self.template.level(self.final_level).name_zh

    @property
    def preliminary_level_name(self) -> str:
        if self.preliminary_level is None:
            return ""
        return self.template.level(self.preliminary_level).name_zh

    def assessors(self) -> list:
        return [a for a in (self.assessor_1, self.assessor_2) if a is not None]

    def is_assessor(self, user) -> bool:
        return user is not None and user.pk is not None and user.pk in {self.assessor_1_id, self.assessor_2_id}

    @classmethod
    def scope_filter(cls, user, action):
        """Region staff and families: the assessments of the elders they may see (whoever did them, wherever
        the person lived then). Assessors (DESIGN.md §1: the assessments assigned to them): those they assess,
        and those they assigned, reviewed or requested (a correction), which they follow; and their agency's
        desk, the requests waiting for two assessors and the forms waiting for review, which the workflow
        gives to any assessor of the agency. Not the rest of the agency's work, nothing of another agency's.
        Which step they may take on one is `policy.py`; which parts of it they see is `policy.disclosure`."""
        from yiyang.registry.models import Elder

        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.FAMILY, Role.ELDER}:
            elder_q = Elder.scope_filter(user, "view")
            if elder_q is None:
                return None
            return Q(elder_id__in=Elder.objects.filter(elder_q).values("pk"))
        if user.role == Role.ASSESSOR and user.organisation_id:
            return (Q(assessor_1=user) | Q(assessor_2=user) | Q(assigned_by=user) | Q(reviewed_by=user)
                    | Q(requested_by=user) | Q(agency_id=user.organisation_id, status__in=AGENCY_DESK_STATUSES))
        return None


class CurrentLevel(models.Model):
    """Each elder's latest published level and when it must be reassessed (read model kept by the services).

    `reassess_by` starts as the result's validity and moves to the day of a status change (move, return),
    which makes the reassessment due at once.
    """

    elder = models.OneToOneField("registry.Elder", primary_key=True, on_delete=models.CASCADE,
                                 related_name="current_level")
    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="+")
    template_code = models.CharField(max_length=32)
    level = models.PositiveSmallIntegerField(_("能力等级"), db_index=True)
    published_at = models.DateTimeField(_("发布时间"))
    valid_until = models.DateField(_("有效期至"))
    reassess_by = models.DateField(_("应复评日期"), db_index=True)
    county_code = models.CharField(max_length=6, db_index=True)

    class Meta:
        verbose_name = _("当前能力等级")
        verbose_name_plural = _("当前能力等级")

    def __str__(self):
        return self.level_name

    @property
    def level_name(self) -> str:
        return scoring.get_template(self.template_code).level(self.level).name_zh
