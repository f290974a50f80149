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
        if action == "view" and user.role in {Role.STREET, Role.COMMUNITY, Role.PROVIDER, Role.CAREGIVER,
                                              Role.FAMILY, Role.ELDER}:
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
        if action == "view" and user.role in {Role.STREET, Role.COMMUNITY, Role.FAMILY, Role.ELDER}:
            return Q()  # who offers what at which price is public too: families choose a provider from it
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


# ---------------------------------------------------------------------------------------------------------
# Orders


class OrderStatus(models.TextChoices):
    REQUESTED = "requested", _("待接单")
    ACCEPTED = "accepted", _("已接单")
    DECLINED = "declined", _("已拒单")
    ASSIGNED = "assigned", _("已派单")
    CHECKED_IN = "checked_in", _("服务中")
    CHECKED_OUT = "checked_out", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    RATED = "rated", _("已评价")
    SETTLED = "settled", _("已结算")
    CANCELLED = "cancelled", _("已取消")
    NO_SHOW = "no_show", _("未上门/未在家")


# The life cycle (DESIGN §3.3): where each status may go next. Cancellation and no-show end it early.
TRANSITIONS = {
    OrderStatus.REQUESTED: {OrderStatus.ACCEPTED, OrderStatus.DECLINED, OrderStatus.CANCELLED},
    OrderStatus.ACCEPTED: {OrderStatus.ASSIGNED, OrderStatus.CANCELLED},
    OrderStatus.ASSIGNED: {OrderStatus.ASSIGNED, OrderStatus.CHECKED_IN, OrderStatus.CANCELLED, OrderStatus.NO_SHOW},
    OrderStatus.CHECKED_IN: {OrderStatus.CHECKED_OUT},
    OrderStatus.CHECKED_OUT: {OrderStatus.CONFIRMED},
    OrderStatus.CONFIRMED: {OrderStatus.RATED, OrderStatus.SETTLED},
    OrderStatus.RATED: {OrderStatus.SETTLED},
    OrderStatus.DECLINED: set(),
    OrderStatus.SETTLED: set(),
    OrderStatus.CANCELLED: set(),
    OrderStatus.NO_SHOW: set(),
}


class OrderChannel(models.TextChoices):
    PORTAL = "portal", _("老人或家属自助下单")
    PHONE = "phone", _("社区代下单（电话）")
    STAFF = "staff", _("工作人员代下单")
    RECURRING = "recurring", _("周期服务自动生成")
    VISIT = "visit", _("巡访发现需求")


class Order(models.Model):
    """One service order for one elder. The price split is fixed when the order is placed (the person saw and
    agreed to it) and kept with the rule and price it came from."""

    elder = models.ForeignKey("registry.Elder", verbose_name=_("老年人"), on_delete=models.PROTECT,
                              related_name="service_orders")
    # Index discipline: settlement rewrites a month of orders at once, and every index is rewritten with each
    # row, so only what pages and settlement look up is indexed (the provider by the composite index below;
    # item, offer, price, rule and who placed it are only ever read through the order).
    provider = models.ForeignKey("registry.Organisation", verbose_name=_("服务机构"), on_delete=models.PROTECT,
                                 db_index=False, related_name="service_orders")
    item = models.ForeignKey(ServiceItem, verbose_name=_("服务项目"), on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    offer = models.ForeignKey(ProviderOffer, on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(_("状态"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.REQUESTED)
    channel = models.CharField(_("下单方式"), max_length=10, choices=OrderChannel.choices)
    scheduled_start = models.DateTimeField(_("预约时间"), db_index=True)
    window_minutes = models.PositiveSmallIntegerField(_("时间窗（分钟）"), default=60)
    quantity = models.DecimalField(_("数量"), max_digits=6, decimal_places=2, default=1)
    note = models.CharField(_("需求说明"), max_length=300, blank=True)
    # The split, fixed at placement (pricing.quote).
    unit_price = models.DecimalField(_("单价（元）"), max_digits=8, decimal_places=2)
    total = models.DecimalField(_("金额（元）"), max_digits=10, decimal_places=2)
    share = models.DecimalField(_("补贴比例（%）"), max_digits=5, decimal_places=2)
    subsidy = models.DecimalField(_("政府补贴（元）"), max_digits=10, decimal_places=2)
    allowance = models.DecimalField(_("服务补贴余额抵扣（元）"), max_digits=10, decimal_places=2)
    copay = models.DecimalField(_("本人自付（元）"), max_digits=10, decimal_places=2)
    price_basis = models.CharField(max_length=10)
    price_explanation = models.CharField(_("计价说明"), max_length=400)
    price = models.ForeignKey(ServicePrice, on_delete=models.PROTECT, related_name="+", db_index=False)
    subsidy_rule = models.ForeignKey(SubsidyRule, null=True, blank=True, on_delete=models.PROTECT, db_index=False,
                                     related_name="+")
    # Where the person lives when the order is placed (scope and settlement by region).
    county_code = models.CharField(max_length=6, db_index=True)
    region_code = models.CharField(max_length=12, db_index=True)
    caregiver = models.ForeignKey("registry.Practitioner", verbose_name=_("护理员"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="service_orders")
    check_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    check_in_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_in_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_out_at = models.DateTimeField(_("签退时间"), null=True, blank=True)
    check_out_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    check_out_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    service_notes = models.CharField(_("服务记录"), max_length=500, blank=True)
    check_out_photo = models.FileField(_("服务照片"), upload_to="services/photos/%Y/%m/", blank=True)
    # The phone's key of the queued photo upload: replaying it stores nothing twice.
    photo_client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    rating = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    rating_comment = models.CharField(_("评价"), max_length=300, blank=True)
    end_reason = models.CharField(_("取消/拒单/未上门原因"), max_length=300, blank=True)
    # A phone that lost its signal replays its queue: the same key never makes a second order or visit.
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务订单")
        verbose_name_plural = _("服务订单")
        ordering = ["-scheduled_start", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("subsidy") + F("allowance") + F("copay")),
                                   name="order_parts_add_up"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(rating__isnull=True) | (Q(rating__gte=1) & Q(rating__lte=5)),
                                   name="order_rating_1_to_5"),
            models.CheckConstraint(condition=Q(check_out_at__isnull=True) | Q(check_in_at__isnull=False)
                                   & Q(check_out_at__gte=F("check_in_at")), name="order_check_out_after_in"),
        ]
        indexes = [models.Index(fields=["provider", "status", "scheduled_start"])]

    def __str__(self):
        return f"{self.item} {self.scheduled_start:%Y-%m-%d %H:%M}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id:
            return Q(provider_id=user.organisation_id)
        if user.role == Role.CAREGIVER:
            return Q(caregiver__account=user)
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY} and user.scope_code:
            return Q(region_code__startswith=user.scope_code)
        if user.role in {Role.FAMILY, Role.ELDER}:
            return Q(elder__family_links__user=user)
        return None


class OrderEvent(models.Model):
    """Every step of an order's life: who moved it, when, from where (the order's own timeline)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    note = models.CharField(max_length=300, blank=True)
    # The phone's key of a queued check-in or check-out: replaying it never records the step twice.
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("订单记录")
        verbose_name_plural = _("订单记录")
        ordering = ["at", "pk"]


class FlagKind(models.TextChoices):
    FAR_CHECK_IN = "far_check_in", _("签到地点远离老人住址")
    EARLY_CHECK_IN = "early_check_in", _("提前签到")
    OVERLAP = "overlap", _("同一护理员服务时间重叠")
    DURATION = "duration", _("服务时长与标准相差过大")
    ELDER_INACTIVE = "elder_inactive", _("老人已故或已迁出")
    FOLLOW_UP = "follow_up", _("回访满意度低")


class OrderFlag(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(_("异常"), max_length=16, choices=FlagKind.choices)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("订单异常")
        verbose_name_plural = _("订单异常")
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="order_flag_once")]


# ---------------------------------------------------------------------------------------------------------
# Monthly settlement (月度结算)


class SettlementStatus(models.TextChoices):
    DRAFT = "draft", _("待审核")
    APPROVED = "approved", _("已审核")
    EXPORTED = "exported", _("已导出")


# Orders with one of these flags are held back from the month's settlement until someone looks at them.
HOLD_FLAG_KINDS = (FlagKind.FAR_CHECK_IN, FlagKind.OVERLAP, FlagKind.DURATION, FlagKind.FOLLOW_UP)


class Settlement(models.Model):
    """One provider's statement for one county and one month: the confirmed (and rated) orders checked out in
    the month, with their money as fixed at placement; flagged orders are listed apart and held back. The
    totals are kept with the statement and reconcile to the fen with its items."""

    provider = models.ForeignKey("registry.Organisation", verbose_name=_("服务机构"), on_delete=models.PROTECT,
                                 related_name="service_settlements")
    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("结算月份"))
    status = models.CharField(_("状态"), max_length=10, choices=SettlementStatus.choices,
                              default=SettlementStatus.DRAFT, db_index=True)
    order_count = models.PositiveIntegerField(_("结算订单数"), default=0)
    total = models.DecimalField(_("金额合计（元）"), max_digits=14, decimal_places=2, default=0)
    subsidy = models.DecimalField(_("政府补贴合计（元）"), max_digits=14, decimal_places=2, default=0)
    allowance = models.DecimalField(_("服务补贴抵扣合计（元）"), max_digits=14, decimal_places=2, default=0)
    copay = models.DecimalField(_("本人自付合计（元）"), max_digits=14, decimal_places=2, default=0)
    held_count = models.PositiveIntegerField(_("暂缓结算订单数"), default=0)
    held_total = models.DecimalField(_("暂缓结算金额（元）"), max_digits=14, decimal_places=2, default=0)
    prepared_at = models.DateTimeField(_("生成时间"), default=timezone.now)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    approved_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("审核人"))
    exported_at = models.DateTimeField(_("导出时间"), null=True, blank=True)
    exported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务结算单")
        verbose_name_plural = _("服务结算单")
        ordering = ["-month", "provider_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "jurisdiction", "month"],
                                    name="settlement_one_per_provider_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="settlement_month_first_day"),
            # No CHECK that the totals add up: SQLite would compare sums of thousands of amounts as floating
            # point. approve_settlement checks them, in Decimal, against the items and the orders.
        ]

    def __str__(self):
        return f"{self.provider} {self.month:%Y-%m}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            return Q(jurisdiction__code__startswith=user.scope_code)
        if user.role == Role.PROVIDER and user.organisation_id and action == "view":
            return Q(provider_id=user.organisation_id)
        return None


class SettlementItem(models.Model):
    """One order of a statement, its money copied from the order. An order is settled once: it can be in
    one statement's included items only (a held-back line does not count)."""

    # The (settlement, order) constraint indexes the settlement. The order's database constraint is left out:
    # items are copied by one INSERT … SELECT from the orders themselves, orders are never deleted, and checking
    # the key of a month of orders one by one at commit took half the time of preparing a county's statements.
    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="items", db_index=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="settlement_items",
                              db_constraint=False)
    total = models.DecimalField(_("金额（元）"), max_digits=10, decimal_places=2)
    subsidy = models.DecimalField(_("政府补贴（元）"), max_digits=10, decimal_places=2)
    allowance = models.DecimalField(_("服务补贴余额抵扣（元）"), max_digits=10, decimal_places=2)
    copay = models.DecimalField(_("本人自付（元）"), max_digits=10, decimal_places=2)
    held = models.BooleanField(_("暂缓结算"), default=False)
    hold_reason = models.CharField(_("暂缓原因"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("结算明细")
        verbose_name_plural = _("结算明细")
        ordering = ["settlement_id", "order_id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(held=False), name="settlement_item_order_once"),
            models.UniqueConstraint(fields=["settlement", "order"], name="settlement_item_once_per_statement"),
            models.CheckConstraint(condition=Q(total=F("subsidy") + F("allowance") + F("copay")),
                                   name="settlement_item_parts_add_up"),
        ]

    def __str__(self):
        return f"{self.settlement_id}/{self.order_id}"


# ---------------------------------------------------------------------------------------------------------
# Caregivers' shifts (排班)


class CaregiverShift(models.Model):
    """One caregiver on duty on a day from `start` to `end` (local time). Shifts of one caregiver on a day do
    not overlap (checked by services.set_shift)."""

    caregiver = models.ForeignKey("registry.Practitioner", verbose_name=_("护理员"), on_delete=models.CASCADE,
                                  related_name="shifts")
    day = models.DateField(_("日期"), db_index=True)
    start = models.TimeField(_("上班时间"))
    end = models.TimeField(_("下班时间"))
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("护理员排班")
        verbose_name_plural = _("护理员排班")
        ordering = ["day", "start", "caregiver_id"]
        constraints = [
            models.UniqueConstraint(fields=["caregiver", "day", "start"], name="shift_one_per_start"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="shift_end_after_start"),
        ]

    def __str__(self):
        return f"{self.caregiver_id} {self.day} {self.start:%H:%M}-{self.end:%H:%M}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id:
            return Q(caregiver__organisation_id=user.organisation_id)
        if user.role == Role.CAREGIVER and action == "view":
            return Q(caregiver__account=user)
        if user.role == Role.BUREAU and user.scope_code and action == "view":
            return Q(caregiver__organisation__region__code__startswith=user.scope_code)
        return None


# ---------------------------------------------------------------------------------------------------------
# Monthly service allowance (服务补贴余额): an append-only ledger


class AllowanceKind(models.TextChoices):
    CREDIT = "credit", _("发放")
    DEBIT = "debit", _("抵扣")
    REFUND = "refund", _("退回")


class AllowanceEntry(models.Model):
    """One movement of an elder's service allowance for a month: a credit from an approved benefits roll
    (positive), a debit by an order (negative) or its refund when the order ends unserved (positive). The
    balance of an elder × month is the sum of its entries; rows are never updated or deleted."""

    elder = models.ForeignKey("registry.Elder", verbose_name=_("老年人"), on_delete=models.PROTECT,
                              related_name="allowance_entries")
    month = models.DateField(_("月份"))
    amount = models.DecimalField(_("金额（元）"), max_digits=10, decimal_places=2)
    kind = models.CharField(_("类型"), max_length=8, choices=AllowanceKind.choices)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="allowance_entries")
    roll_line = models.ForeignKey("benefits.RollLine", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    county_code = models.CharField(max_length=6, db_index=True)
    region_code = models.CharField(max_length=12, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务补贴流水")
        verbose_name_plural = _("服务补贴流水")
        ordering = ["elder_id", "month", "pk"]
        indexes = [models.Index(fields=["elder", "month"])]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="allowance_month_first_day"),
            # A replayed order or cancellation never debits or refunds twice; a roll line credits once.
            models.UniqueConstraint(fields=["order", "kind"], condition=Q(order__isnull=False),
                                    name="allowance_once_per_order_kind"),
            models.UniqueConstraint(fields=["roll_line"], condition=Q(roll_line__isnull=False),
                                    name="allowance_once_per_roll_line"),
            models.CheckConstraint(
                condition=(Q(kind="debit", amount__lt=0, order__isnull=False)
                           | Q(kind="refund", amount__gt=0, order__isnull=False)
                           | Q(kind="credit", amount__gt=0)),
                name="allowance_sign_by_kind"),
        ]

    def __str__(self):
        return f"{self.elder_id} {self.month:%Y-%m} {self.amount}"

    @classmethod
    def scope_filter(cls, user, action):
        if action != "view":
            return None
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY} and user.scope_code:
            return Q(region_code__startswith=user.scope_code)
        if user.role in {Role.FAMILY, Role.ELDER}:
            return Q(elder__family_links__user=user)
        return None


# ---------------------------------------------------------------------------------------------------------
# Follow-up calls (回访)


class FollowUpOutcome(models.TextChoices):
    REACHED = "reached", _("已接通")
    UNREACHABLE = "unreachable", _("无法接通")
    REFUSED = "refused", _("拒绝回访")


class FollowUpCall(models.Model):
    """A sampled completed order to call back: how satisfied the person was, and what went wrong."""

    order = models.OneToOneField(Order, verbose_name=_("服务订单"), on_delete=models.CASCADE,
                                 related_name="follow_up")
    month = models.DateField(_("抽样月份"))
    region_code = models.CharField(max_length=12, db_index=True)
    sampled_at = models.DateTimeField(_("抽样时间"), default=timezone.now)
    sampled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    called_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    called_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("回访人"))
    outcome = models.CharField(_("回访结果"), max_length=12, choices=FollowUpOutcome.choices, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True)
    issues = models.TextField(_("反映问题"), max_length=2000, blank=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务回访")
        verbose_name_plural = _("服务回访")
        ordering = ["-month", "called_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(satisfaction__isnull=True)
                                   | (Q(satisfaction__gte=1) & Q(satisfaction__lte=5)),
                                   name="follow_up_satisfaction_1_to_5"),
            models.CheckConstraint(condition=Q(month__day=1), name="follow_up_month_first_day"),
        ]

    def __str__(self):
        return f"{self.order_id} {self.get_outcome_display() or '-'}"

    @classmethod
    def scope_filter(cls, user, action):
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY} and user.scope_code:
            return Q(region_code__startswith=user.scope_code)
        if user.role == Role.PROVIDER and user.organisation_id and action == "view":
            return Q(order__provider_id=user.organisation_id)
        return None


# ---------------------------------------------------------------------------------------------------------
# Recurring orders (周期服务, e.g. every Tuesday 9:00)


class RecurringOrder(models.Model):
    """A standing order: on each ISO weekday listed (1 = Monday … 7 = Sunday) at `time`, from `starts_on`
    (until `ends_on`), an order is placed through place_order (a week ahead, by services_daily)."""

    elder = models.ForeignKey("registry.Elder", verbose_name=_("老年人"), on_delete=models.PROTECT,
                              related_name="recurring_orders")
    provider = models.ForeignKey("registry.Organisation", verbose_name=_("服务机构"), on_delete=models.PROTECT,
                                 related_name="recurring_orders")
    item = models.ForeignKey(ServiceItem, verbose_name=_("服务项目"), on_delete=models.PROTECT, related_name="+")
    weekdays = models.CharField(_("每周几"), max_length=13)
    time = models.TimeField(_("时间"))
    quantity = models.DecimalField(_("数量"), max_digits=6, decimal_places=2, default=1)
    note = models.CharField(_("需求说明"), max_length=300, blank=True)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    channel = models.CharField(_("下单方式"), max_length=10, choices=OrderChannel.choices)
    region_code = models.CharField(max_length=12, db_index=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    active = models.BooleanField(_("有效"), default=True)
    stopped_at = models.DateTimeField(_("停止时间"), null=True, blank=True)
    # The form's or the client's submission key: a double submit gives back the rule it made.
    client_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("周期服务")
        verbose_name_plural = _("周期服务")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                                   name="recurring_valid_range"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="recurring_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.item} {self.weekdays} {self.time:%H:%M}"

    @property
    def weekday_list(self) -> list[int]:
        return [int(d) for d in self.weekdays.split(",") if d.strip()]

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.PROVIDER and user.organisation_id and action == "view":
            return Q(provider_id=user.organisation_id)
        if user.role in {Role.BUREAU, Role.STREET, Role.COMMUNITY} and user.scope_code:
            return Q(region_code__startswith=user.scope_code)
        if user.role in {Role.FAMILY, Role.ELDER}:
            return Q(elder__family_links__user=user)
        return None


class RecurringSkip(models.Model):
    """An occurrence of a standing order that could not be placed (elder died, offer ended …), and why."""

    recurring = models.ForeignKey(RecurringOrder, on_delete=models.CASCADE, related_name="skips")
    day = models.DateField(_("日期"))
    reason = models.CharField(_("原因"), max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("周期服务未生成记录")
        verbose_name_plural = _("周期服务未生成记录")
        ordering = ["recurring_id", "day"]
        constraints = [models.UniqueConstraint(fields=["recurring", "day"], name="recurring_skip_once")]
