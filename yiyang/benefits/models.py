"""Benefits (补贴): programmes, versioned rules per jurisdiction, monthly rolls and their lines.

Money is `Decimal` with two places (yuan to the fen). A roll's line is never edited once paid: corrections
are new lines of another kind (补发 back pay, 追回 recovery, 重发 re-issue) in a later roll.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet


class ProgrammeKind(models.TextChoices):
    LONGEVITY = "longevity", _("高龄津贴")
    CARE = "care", _("经济困难老年人护理补贴")
    DESTITUTE_CARE = "destitute_care", _("特困人员照护补贴")
    SERVICE = "service", _("服务补贴（购买服务）")


class Programme(models.Model):
    """A cash benefit or service allowance; its rules are set per jurisdiction (see RuleVersion)."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=20, choices=ProgrammeKind.choices)
    # Service allowances are credited to the elder's service balance instead of a bank account.
    pays_to_bank = models.BooleanField(_("银行代发"), default=True)
    description = models.TextField(_("说明"), blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("补贴项目")
        verbose_name_plural = _("补贴项目")
        ordering = ["position", "code"]

    def __str__(self):
        return self.name


class BenefitSettings(models.Model):
    """Month semantics and checks of one jurisdiction (defaults apply where no row exists)."""

    jurisdiction = models.OneToOneField(Region, verbose_name=_("辖区"), on_delete=models.PROTECT,
                                        related_name="+")
    # 次月停发: someone who dies during a month (the 1st included) is paid for that month, not after.
    pay_month_of_death = models.BooleanField(_("死亡当月照发"), default=True)
    lookback_months = models.PositiveSmallIntegerField(_("补发/追回追溯月数"), default=12)
    absence_days = models.PositiveSmallIntegerField(_("长期失联提示天数"), default=90)
    street_review = models.BooleanField(_("须经街道审核"), default=True)
    background_threshold = models.PositiveIntegerField(_("转后台生成的人数阈值"), default=20000)

    class Meta:
        verbose_name = _("补贴发放设置")
        verbose_name_plural = _("补贴发放设置")

    @classmethod
    def for_region(cls, region: Region) -> "BenefitSettings":
        found = cls.objects.filter(jurisdiction=region).first()
        return found or cls(jurisdiction=region)


class RuleStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ADOPTED = "adopted", _("已启用")
    # Adopted for a future month, then replaced before that month came (nothing was paid under it).
    WITHDRAWN = "withdrawn", _("已撤回")


class RuleVersion(models.Model):
    """One version of a programme's rule in a jurisdiction, valid for a range of months.

    `params` is the rule as data (validated by `rules.RuleParams`): eligibility and amount. Adopted versions
    are never changed except for closing `valid_until` when a newer version takes over.
    """

    programme = models.ForeignKey(Programme, verbose_name=_("补贴项目"), on_delete=models.PROTECT,
                                  related_name="rules")
    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(_("状态"), max_length=10, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    valid_from = models.DateField(_("起始月份"), help_text=_("每月 1 日"))
    valid_until = models.DateField(_("终止月份"), null=True, blank=True, help_text=_("最后适用月份的 1 日"))
    params = models.JSONField(_("规则"))
    note = models.CharField(_("修订说明"), max_length=300, blank=True)
    source = models.CharField(_("政策依据"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    adopted_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    adopted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("补贴规则版本")
        verbose_name_plural = _("补贴规则版本")
        ordering = ["programme__position", "jurisdiction__code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "jurisdiction", "version"], name="rule_version_unique"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                                   name="rule_valid_range"),
        ]

    def __str__(self):
        return f"{self.programme} v{self.version}"

    def applies_to(self, month: datetime.date) -> bool:
        return self.valid_from <= month and (self.valid_until is None or month <= self.valid_until)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            # A bureau sees its own rules and those of the jurisdictions above it (a city's rule applies below).
            code = user.scope_code
            above = [code[:n] for n in (2, 4, 6, 9) if n < len(code)]
            q = Q(jurisdiction__code__startswith=code)
            if action == "view" and above:
                q |= Q(jurisdiction__code__in=above)
            return q
        if user.role in {Role.STREET, Role.COMMUNITY} and user.scope_code and action == "view":
            code = user.scope_code
            return Q(jurisdiction__code__in=[code[:n] for n in (2, 4, 6, 9) if n <= len(code)])
        return None


class RollStatus(models.TextChoices):
    GENERATING = "generating", _("生成中")
    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("街道审核中")
    APPROVED = "approved", _("已审批")
    EXPORTED = "exported", _("已导出银行文件")
    CLOSED = "closed", _("已回盘")


# Lines may still be (re)generated, checked and withheld while the roll is in one of these.
OPEN_ROLL_STATUSES = ("generating", "draft", "in_review")
# Approved and locked: what the lines say has been decided (paid, or to be paid, or credited).
APPROVED_ROLL_STATUSES = ("approved", "exported", "closed")


class Roll(models.Model):
    """发放名册: one programme, one jurisdiction, one month."""

    programme = models.ForeignKey(Programme, verbose_name=_("补贴项目"), on_delete=models.PROTECT,
                                  related_name="rolls")
    jurisdiction = models.ForeignKey(Region, verbose_name=_("辖区"), on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("发放月份"))
    status = models.CharField(_("状态"), max_length=12, choices=RollStatus.choices, default=RollStatus.DRAFT,
                              db_index=True)
    line_count = models.PositiveIntegerField(_("人次"), default=0)
    total_amount = models.DecimalField(_("合计金额"), max_digits=14, decimal_places=2, default=0)
    open_checks = models.PositiveIntegerField(_("待处理疑点"), default=0)
    progress = models.PositiveSmallIntegerField(_("进度"), default=100)
    progress_note = models.CharField(max_length=200, blank=True)
    error = models.TextField(_("错误"), blank=True)
    generated_at = models.DateTimeField(_("生成时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    submitted_at = models.DateTimeField(_("提交审核时间"), null=True, blank=True)
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("审批人"))
    exported_at = models.DateTimeField(_("导出时间"), null=True, blank=True)
    results_imported_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("发放名册")
        verbose_name_plural = _("发放名册")
        ordering = ["-month", "programme__position"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "jurisdiction", "month"], name="roll_one_per_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="roll_month_first_day"),
        ]

    def __str__(self):
        return f"{self.programme} {self.month:%Y-%m}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ROLL_STATUSES

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            return Q(jurisdiction__code__startswith=user.scope_code)
        if user.role in {Role.STREET, Role.COMMUNITY} and user.scope_code and action == "view":
            # Streets review their part of their county's rolls.
            return Q(jurisdiction__code=user.scope_code[:6])
        return None


class LineKind(models.TextChoices):
    REGULAR = "regular", _("正常发放")
    BACK_PAY = "back_pay", _("补发")
    RECOVERY = "recovery", _("追回")
    REISSUE = "reissue", _("重发")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("待发放")
    WITHHELD = "withheld", _("暂缓发放")
    PAID = "paid", _("已发放")
    FAILED = "failed", _("发放失败")
    RECOVERED = "recovered", _("已追回")
    # A service voucher (服务补贴) line of an approved roll: the money went to the elder's service allowance.
    CREDITED = "credited", _("已计入服务余额")


class RollLine(models.Model):
    """One elder's line in a roll. `month` is the roll's month, `for_month` the month the money is for.

    The explanation is kept as the facts the rule used (age and level on the 1st, category, band) and is
    rendered in the reader's language by `explain()`.
    """

    roll = models.ForeignKey(Roll, on_delete=models.PROTECT, related_name="lines")
    elder = models.ForeignKey("registry.Elder", verbose_name=_("老年人"), on_delete=models.PROTECT,
                              related_name="benefit_lines")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("发放月份"))
    for_month = models.DateField(_("所属月份"))
    kind = models.CharField(_("类型"), max_length=10, choices=LineKind.choices, default=LineKind.REGULAR)
    amount = models.DecimalField(_("金额（元）"), max_digits=10, decimal_places=2)
    status = models.CharField(_("状态"), max_length=10, choices=LineStatus.choices, default=LineStatus.PENDING)
    rule = models.ForeignKey(RuleVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    age = models.PositiveSmallIntegerField(_("当月 1 日年龄"), null=True, blank=True)
    level = models.PositiveSmallIntegerField(_("当月 1 日能力等级"), null=True, blank=True)
    category = models.CharField(_("适用类别"), max_length=20, blank=True)
    band = models.CharField(_("档次"), max_length=40, blank=True)
    county_code = models.CharField(max_length=6)
    region_code = models.CharField(_("所属社区代码"), max_length=12, db_index=True)
    # For adjustments: what was issued before for `for_month` and what is due now.
    previous_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    failure_reason = models.CharField(_("失败原因"), max_length=200, blank=True)
    withheld_reason = models.CharField(_("暂缓原因"), max_length=200, blank=True)
    paid_on = models.DateField(_("发放日期"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("名册明细")
        verbose_name_plural = _("名册明细")
        ordering = ["region_code", "elder_id"]
        constraints = [
            # One line per elder × programme × roll month × month paid for × kind: re-running a roll, or two
            # jurisdictions generating at once, cannot pay anyone twice.
            models.UniqueConstraint(fields=["elder", "programme", "month", "for_month", "kind"],
                                    name="line_one_per_elder_month_kind"),
        ]
        indexes = [
            models.Index(fields=["roll", "status"]),
            models.Index(fields=["programme", "for_month", "elder"]),
        ]

    def __str__(self):
        return f"{self.roll_id}/{self.pk}"

    def explain(self) -> str:
        """How the line's amount came about, in the reader's language, from the facts kept on the line."""
        if self.kind == LineKind.REGULAR:
            return self.entitlement_text()
        month = self.for_month.strftime("%Y-%m")
        previous = self.previous_amount if self.previous_amount is not None else Decimal("0.00")
        due = previous + self.amount
        due_text = (self.entitlement_text() if self.rule_id and due > 0
                    else _("当月 1 日不符合发放条件，应发 0 元"))
        if self.kind == LineKind.RECOVERY:
            return _("%(month)s：%(due)s；已发 %(previous)s 元 → 追回 %(amount)s 元") % {
                "month": month, "due": due_text, "previous": previous, "amount": -self.amount}
        if self.kind == LineKind.REISSUE:
            return _("%(month)s：%(due)s；上次发放失败 → 重发 %(amount)s 元") % {
                "month": month, "due": due_text, "amount": self.amount}
        return _("%(month)s：%(due)s；已发 %(previous)s 元 → 补发 %(amount)s 元") % {
            "month": month, "due": due_text, "previous": previous, "amount": self.amount}

    def entitlement_text(self) -> str:
        from . import rules

        due = (self.previous_amount or Decimal("0.00")) + self.amount if self.kind != LineKind.REGULAR else self.amount
        parts = [_("%(date)s 时 %(age)s 岁") % {"date": self.for_month.isoformat(), "age": self.age}]
        if self.band:
            parts.append(_("%(band)s 岁档") % {"band": rules.band_label(self.band)})
        if self.category:
            parts.append(rules.category_label(self.category))
        if self.level is not None:
            parts.append(_("能力等级：%(level)s") % {"level": rules.level_label(self.level)})
        parts.append(_("%(amount)s 元") % {"amount": due})
        return " → ".join(parts)

    @classmethod
    def scope_filter(cls, user, action):
        if user.role == Role.BUREAU and user.scope_code:
            return Q(roll__jurisdiction__code__startswith=user.scope_code)
        if user.role in {Role.STREET, Role.COMMUNITY} and user.scope_code:
            return Q(region_code__startswith=user.scope_code)
        if user.role in {Role.FAMILY, Role.ELDER} and action == "view":
            return Q(elder__family_links__user=user)
        return None


class CheckKind(models.TextChoices):
    DECEASED = "deceased", _("已故")
    MOVED_AWAY = "moved_away", _("已迁出或迁居外区")
    SUSPENDED = "suspended", _("已暂停")
    DUPLICATE = "duplicate", _("疑似重复身份")  # the same person twice (name, sex and birth date)
    SHARED_ACCOUNT = "shared_account", _("多人共用银行账户")  # two people paid into one account
    BANK_MISSING = "bank_missing", _("缺少银行账户")
    BANK_INVALID = "bank_invalid", _("银行账号无效")
    AMOUNT = "amount", _("金额超出规则范围")
    ABSENCE = "absence", _("长期无服务或探访记录")


class CheckResolution(models.TextChoices):
    CONFIRMED = "confirmed", _("核实无误，照常发放")
    WITHHELD = "withheld", _("暂缓发放")


class RollCheck(models.Model):
    """A doubt about a line found before approval; the roll cannot be approved while any is open."""

    roll = models.ForeignKey(Roll, on_delete=models.CASCADE, related_name="checks")
    line = models.ForeignKey(RollLine, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(_("疑点"), max_length=16, choices=CheckKind.choices)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    region_code = models.CharField(max_length=12, db_index=True)
    resolution = models.CharField(_("处理结果"), max_length=10, choices=CheckResolution.choices, blank=True)
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("处理人"))
    note = models.CharField(_("处理说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("发放疑点")
        verbose_name_plural = _("发放疑点")
        ordering = ["region_code", "line_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["line", "kind"], name="check_one_per_line_kind")]

    def __str__(self):
        return self.get_kind_display()

    def explain(self) -> str:
        """What is wrong, in the reader's language, from the fact kept in `detail`: each kind says its own
        doubt (CHECK_EXPLANATIONS covers every kind; a test holds it to that)."""
        return str(CHECK_EXPLANATIONS[self.kind](self.detail))


CHECK_EXPLANATIONS = {
    CheckKind.DECEASED: lambda fact: _("死亡日期 %(date)s") % {"date": fact} if fact else _("已登记死亡"),
    CheckKind.SUSPENDED: lambda fact: _("暂停日期 %(date)s") % {"date": fact} if fact else _("已暂停"),
    CheckKind.MOVED_AWAY: lambda fact: _("现居住地区县代码 %(code)s") % {"code": fact} if fact else _("已迁出"),
    CheckKind.DUPLICATE: lambda fact: _("同名、同性别、同出生日期的另一老人也在名册中，是否同一人登记了两次？"),
    CheckKind.SHARED_ACCOUNT: lambda fact: _("与本名册中其他老人共用同一银行账户，请核实账户归属（如夫妻共用）"),
    CheckKind.BANK_MISSING: lambda fact: _("未登记银行账户，请补录后再发放"),
    CheckKind.BANK_INVALID: lambda fact: _("账号格式或校验位不正确"),
    CheckKind.AMOUNT: lambda fact: (_("规则标准为 %(amounts)s 元") % {"amounts": "、".join(fact.split())} if fact
                                    else _("金额与规则标准不符")),
    CheckKind.ABSENCE: lambda fact: (_("已 %(days)s 天没有服务或探访记录") % {"days": fact} if fact
                                     else _("长期没有服务或探访记录")),
}


class StreetReview(models.Model):
    """A street's sign-off on its part of a roll (街道审核)."""

    roll = models.ForeignKey(Roll, on_delete=models.CASCADE, related_name="street_reviews")
    street = models.ForeignKey(Region, verbose_name=_("街道"), on_delete=models.PROTECT, related_name="+")
    line_count = models.PositiveIntegerField(_("人次"), default=0)
    total_amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=0)
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("审核人"))
    note = models.CharField(_("审核意见"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("街道审核")
        verbose_name_plural = _("街道审核")
        ordering = ["street__code"]
        constraints = [models.UniqueConstraint(fields=["roll", "street"], name="street_review_unique")]


class BankResultImport(models.Model):
    """One imported bank results file (回盘文件); the file's digest makes a second import of it a no-op."""

    roll = models.ForeignKey(Roll, on_delete=models.PROTECT, related_name="result_imports")
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    paid = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("银行回盘")
        verbose_name_plural = _("银行回盘")
        constraints = [models.UniqueConstraint(fields=["roll", "sha256"], name="bank_result_once")]
