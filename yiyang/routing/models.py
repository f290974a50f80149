"""Daily route plans of a provider's caregivers (排线方案), their stops, and the dispatcher's locks.

A plan is a snapshot of one solver run: the stops keep the times and order the solver chose, so a plan can be
looked at (and published) later even if the solver would now answer differently. Plans are versioned per
provider and day; publishing one assigns its orders to the caregivers and supersedes the previous one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Role
from yiyang.core.scope import ScopedQuerySet


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已作废")


class RoutePlan(models.Model):
    provider = models.ForeignKey("registry.Organisation", verbose_name=_("服务机构"), on_delete=models.PROTECT,
                                 related_name="route_plans")
    day = models.DateField(_("日期"))
    version = models.PositiveIntegerField(_("版本"))
    status = models.CharField(_("状态"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    options = models.JSONField(_("排线参数"), default=dict)
    summary = models.JSONField(_("汇总"), default=dict)
    created_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("排线方案")
        verbose_name_plural = _("排线方案")
        ordering = ["-day", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "day", "version"], name="route_plan_version_unique"),
        ]

    def __str__(self):
        return f"{self.provider_id} {self.day} v{self.version}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id:
            return Q(provider_id=user.organisation_id)
        # The bureau may look at the plans of the providers of its area, never change them. Street and community
        # staff may not: a plan names every elder the provider visits that day, across the county.
        if user.role == Role.BUREAU and user.scope_code and action == "view":
            return Q(provider__region__code__startswith=user.scope_code)
        return None


class RouteStop(models.Model):
    """One order in a plan: routed (caregiver, position, times) or unassigned (code and reason)."""

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="stops")
    order = models.ForeignKey("services.Order", verbose_name=_("服务订单"), on_delete=models.CASCADE,
                              related_name="+")
    caregiver = models.ForeignKey("registry.Practitioner", verbose_name=_("护理员"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(_("顺序"), null=True, blank=True)
    arrival = models.DateTimeField(_("到达时间"), null=True, blank=True)
    start = models.DateTimeField(_("开始时间"), null=True, blank=True)
    end = models.DateTimeField(_("结束时间"), null=True, blank=True)
    travel_seconds = models.PositiveIntegerField(_("路途（秒）"), default=0)
    locked = models.BooleanField(_("已锁定"), default=False)
    started = models.BooleanField(_("已开始"), default=False)
    unassigned_code = models.CharField(_("未排原因代码"), max_length=32, blank=True)
    unassigned_reason = models.CharField(_("未排原因"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("路线站点")
        verbose_name_plural = _("路线站点")
        ordering = ["plan_id", "caregiver_id", "position", "order_id"]
        constraints = [models.UniqueConstraint(fields=["plan", "order"], name="route_stop_one_per_order")]

    def __str__(self):
        return f"{self.plan_id}/{self.order_id}"


class RouteLock(models.Model):
    """The dispatcher fixed an order to a caregiver: every later plan keeps it there (a hard constraint)."""

    order = models.OneToOneField("services.Order", verbose_name=_("服务订单"), on_delete=models.CASCADE,
                                 related_name="route_lock")
    caregiver = models.ForeignKey("registry.Practitioner", verbose_name=_("护理员"), on_delete=models.CASCADE,
                                  related_name="+")
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    locked_at = models.DateTimeField(_("锁定时间"), default=timezone.now)

    class Meta:
        verbose_name = _("锁定派单")
        verbose_name_plural = _("锁定派单")

    def __str__(self):
        return f"{self.order_id} → {self.caregiver_id}"
