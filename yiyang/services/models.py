"""Home and community services (居家社区养老服务): the catalogue, prices per jurisdiction, what each provider
offers where, and the rules that split a price between the government's subsidy and the elder's co-payment.

Money is `Decimal` with two places (yuan to the fen). Prices and rules carry effective dates: an order is
priced by what was in force on the day of the service.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet


class ServiceCategory(models.TextChoices):
    # Enyang's 五助 and Litong's 六助, plus home nursing.
    MEAL = "meal", _("助餐")
    BATH = "bath", _("助浴")
    CLEANING = "cleaning", _("助洁")
    MEDICAL = "medical", _("助医")
    EMERGENCY = "emergency", _("助急")
    MOBILITY = "mobility", _("助行")
    SHOPPING = "shopping", _("助购")
    COMPANION = "companion", _("助心（精神慰藉）")
    FARM = "farm", _("助农")
    NURSING = "nursing", _("上门护理")


class ServiceUnit(models.TextChoices):
    VISIT = "visit", _("次")
    HOUR = "hour", _("小时")
    MEAL = "meal", _("餐")


class ServiceItem(models.Model):
    """One item of the catalogue (e.g. 上门助浴 per visit, 60 minutes, skill 助浴)."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    category = models.CharField(_("类别"), max_length=12, choices=ServiceCategory.choices)
    unit = models.CharField(_("计价单位"), max_length=8, choices=ServiceUnit.choices)
    standard_minutes = models.PositiveSmallIntegerField(_("标准时长（分钟）"))
    required_skill = models.CharField(_("所需技能"), max_length=32, blank=True)
    description = models.TextField(_("服务内容"), blank=True)
    is_active = models.BooleanField(_("在用"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("服务项目")
        verbose_name_plural = _("服务项目")
        ordering = ["position", "code"]
        constraints = [models.CheckConstraint(condition=Q(standard_minutes__gt=0), name="item_minutes_positive")]

    def __str__(self):
        return self.name


class ServicePrice(models.Model):
    """市场价 and 普惠价 of an item in a jurisdiction from a date; the 普惠 price is the ceiling of subsidised
    orders (Chongqing: about half the market price)."""

    item = models.ForeignKey(ServiceItem, verbose_name=_("服务项目"), on_delete=models.PROTECT,
                             related_name="prices")
    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(_("起始日期"))
    valid_until = models.DateField(_("终止日期"), null=True, blank=True)
    market_price = models.DecimalField(_("市场价（元）"), max_digits=8, decimal_places=2)
    inclusive_price = models.DecimalField(_("普惠价（元）"), max_digits=8, decimal_places=2)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务价格")
        verbose_name_plural = _("服务价格")
        ordering = ["item__position", "jurisdiction_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["item", "jurisdiction", "valid_from"], name="price_one_per_start"),
            models.CheckConstraint(condition=Q(inclusive_price__gt=0) & Q(inclusive_price__lte=F("market_price")),
                                   name="price_inclusive_within_market"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                                   name="price_valid_range"),
        ]

    def __str__(self):
        return f"{self.item} {self.inclusive_price}/{self.market_price}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            code = user.scope_code
            q = Q(jurisdiction__code__startswith=code)
            if action == "view":
                q |= Q(jurisdiction__code__in=[code[:n] for n in (2, 4, 6, 9) if n < len(code)])
            return q
        if action == "view" and user.role in {Role.STREET, Role.COMMUNITY, Role.PROVIDER, Role.CAREGIVER}:
            return Q()  # prices are public information (公示)
        return None


class ProviderOffer(models.Model):
    """A provider offers an item in some streets at its own price (never above the 普惠 ceiling for
    subsidised orders: checked when the offer is made and when an order is priced)."""

    provider = models.ForeignKey("registry.Organisation", verbose_name=_("服务机构"), on_delete=models.PROTECT,
                                 related_name="service_offers")
    item = models.ForeignKey(ServiceItem, verbose_name=_("服务项目"), on_delete=models.PROTECT,
                             related_name="offers")
    streets = models.ManyToManyField(Region, verbose_name=_("服务街道"), related_name="+")
    price = models.DecimalField(_("价格（元）"), max_digits=8, decimal_places=2)
    valid_from = models.DateField(_("起始日期"))
    valid_until = models.DateField(_("终止日期"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("机构服务项目")
        verbose_name_plural = _("机构服务项目")
        ordering = ["provider_id", "item__position", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "item", "valid_from"], name="offer_one_per_start"),
            models.CheckConstraint(condition=Q(price__gt=0), name="offer_price_positive"),
        ]

    def __str__(self):
        return f"{self.provider} · {self.item} {self.price}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.PROVIDER, Role.CAREGIVER} and user.organisation_id:
            return Q(provider_id=user.organisation_id) if action == "view" or user.role == Role.PROVIDER else None
        if user.role == Role.BUREAU and user.scope_code:
            return Q(provider__region__code__startswith=user.scope_code) if action != "view" else Q()
        if action == "view" and user.role in {Role.STREET, Role.COMMUNITY}:
            return Q()
        return None


class SubsidyRule(models.Model):
    """Who pays what (rules as data, per jurisdiction, versioned by start date); see pricing.py for `params`."""

    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(_("起始日期"))
    valid_until = models.DateField(_("终止日期"), null=True, blank=True)
    params = models.JSONField(_("规则"))
    note = models.CharField(_("修订说明"), max_length=300, blank=True)
    source = models.CharField(_("政策依据"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务补贴规则")
        verbose_name_plural = _("服务补贴规则")
        ordering = ["jurisdiction_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "valid_from"], name="subsidy_rule_one_per_start"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                                   name="subsidy_rule_valid_range"),
        ]

    def __str__(self):
        return f"{self.jurisdiction_id} {self.valid_from}"

    @classmethod
    def scope_filter(cls, user, action):
        return ServicePrice.scope_filter(user, action)
