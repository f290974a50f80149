"""Care institutions (养老机构): homes, their beds as a tree and a state machine, residents' stays, and the
deposit escrow account (押金专户) with its append-only ledger and circuit breaker (DESIGN §3.5, issue 17).

Who sees what: the bureau its jurisdiction's homes; street and community workers (view only) the homes of their
area, never the escrow; a home's own accounts (its operator organisation's provider and caregiver accounts)
their home. Beds, stays, accounts and withdrawals are scoped through their institution (`institution_q`): a bed by a
join, the others by copies of its region code and operator on the row.
Building, floor and room, bed history, stay events and ledger postings are read through their parent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Region, Role
from yiyang.core.scope import ScopedQuerySet
from yiyang.core.validators import organisation_name, single_line_text
from yiyang.registry.models import Elder, Facility, Organisation

from . import rules

MONEY = {"max_digits": 12, "decimal_places": 2}


def institution_q(user, action: str, *, region: str = "region_code", operator: str = "organisation_id",
                  escrow: bool = False) -> Q | None:
    """The rows of the institutions a user may see; `region` and `operator` name the row's copies (or paths) of
    its institution's region code and operator organisation.

    The bureau: its jurisdiction. Street and community: view only, and not the escrow. A home's own accounts
    (the operator organisation's provider and caregiver accounts): their home; caregivers view only and not
    the escrow."""
    code = user.scope_code
    if user.role == Role.BUREAU:
        return Q(**{f"{region}__startswith": code}) if code else None
    if user.role in {Role.STREET, Role.COMMUNITY}:
        if action != "view" or escrow or not code:
            return None
        return Q(**{f"{region}__startswith": code})
    if user.role in {Role.PROVIDER, Role.CAREGIVER} and user.organisation_id:
        if user.role == Role.CAREGIVER and (action != "view" or escrow):
            return None
        return Q(**{operator: user.organisation_id})
    return None


class InstitutionKind(models.TextChoices):
    CARE_HOME = "care_home", _("养老院")
    DESTITUTE_HOME = "destitute_home", _("敬老院（特困供养服务设施）")
    REGIONAL_CENTRE = "regional_centre", _("区域养老服务中心")


class Ownership(models.TextChoices):
    PUBLIC = "public", _("公办")
    PUBLIC_PRIVATE = "public_private", _("公建民营")
    PRIVATE = "private", _("民办")


PUBLIC_OWNERSHIPS = frozenset({Ownership.PUBLIC, Ownership.PUBLIC_PRIVATE})


class Institution(models.Model):
    """A care home, 敬老院 or regional centre, run by an organisation of the register."""

    name = models.CharField(_("名称"), max_length=128, validators=[organisation_name])
    kind = models.CharField(_("类型"), max_length=20, choices=InstitutionKind.choices)
    ownership = models.CharField(_("性质"), max_length=16, choices=Ownership.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("运营机构"), on_delete=models.PROTECT,
                                     related_name="institutions")
    facility = models.OneToOneField(Facility, verbose_name=_("登记设施"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="institution")
    region = models.ForeignKey(Region, verbose_name=_("所在区域"), on_delete=models.PROTECT, related_name="+")
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    address = models.CharField(_("地址"), max_length=200, blank=True, validators=[single_line_text])
    opened_on = models.DateField(_("开业日期"), null=True, blank=True)
    is_active = models.BooleanField(_("在营"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("养老机构")
        verbose_name_plural = _("养老机构")
        ordering = ["region_code", "name"]
        constraints = [models.UniqueConstraint(fields=["name", "region"], name="institution_name_region_unique")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.region_code = self.region_id or ""
        super().save(*args, **kwargs)

    @property
    def is_public(self) -> bool:
        return self.ownership in PUBLIC_OWNERSHIPS

    @classmethod
    def scope_filter(cls, user, action):
        return institution_q(user, action)


class Building(models.Model):
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="buildings")
    name = models.CharField(_("楼栋"), max_length=64, validators=[single_line_text])

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["institution_id", "name"]
        constraints = [models.UniqueConstraint(fields=["institution", "name"], name="building_name_unique")]

    def __str__(self):
        return self.name


class Floor(models.Model):
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="floors")
    number = models.SmallIntegerField(_("楼层"))

    class Meta:
        verbose_name = _("楼层")
        verbose_name_plural = _("楼层")
        ordering = ["building_id", "number"]
        constraints = [models.UniqueConstraint(fields=["building", "number"], name="floor_number_unique")]

    def __str__(self):
        return f"{self.building} {self.number}F"


class Room(models.Model):
    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="rooms")
    number = models.CharField(_("房间号"), max_length=16, validators=[single_line_text])

    class Meta:
        verbose_name = _("房间")
        verbose_name_plural = _("房间")
        ordering = ["floor_id", "number"]
        constraints = [models.UniqueConstraint(fields=["floor", "number"], name="room_number_unique")]

    def __str__(self):
        return f"{self.floor.building} {self.number}"


class BedStatus(models.TextChoices):
    FREE = rules.FREE, _("空闲")
    RESERVED = rules.RESERVED, _("已预订")
    OCCUPIED = rules.OCCUPIED, _("已入住")
    OUT_OF_SERVICE = rules.OUT_OF_SERVICE, _("停用")


class Bed(models.Model):
    """A bed. Its status changes only through the services, each change a `BedStatusChange` row."""

    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="beds")
    # The room's institution, on the row for scope and counts without joins.
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="beds", editable=False)
    label = models.CharField(_("床号"), max_length=16, validators=[single_line_text])
    nursing = models.BooleanField(_("护理型床位"), default=False)
    # A 敬老院's spare bed opened to residents who are not 特困 (区域养老服务中心 转型).
    open_to_others = models.BooleanField(_("向社会开放"), default=False)
    status = models.CharField(_("状态"), max_length=16, choices=BedStatus.choices, default=BedStatus.FREE,
                              editable=False)
    status_since = models.DateField(_("状态起始日期"), editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("床位")
        verbose_name_plural = _("床位")
        ordering = ["institution_id", "room_id", "label"]
        constraints = [models.UniqueConstraint(fields=["room", "label"], name="bed_label_unique")]
        indexes = [models.Index(fields=["institution", "status"])]

    def __str__(self):
        return f"{self.room}-{self.label}"

    def save(self, *args, **kwargs):
        if not self.institution_id:
            self.institution_id = self.room.floor.building.institution_id
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        return institution_q(user, action, region="institution__region_code",
                             operator="institution__organisation_id")


class BedStatusChange(models.Model):
    """The bed's history: each change with the day it took effect. The status on a day is that of the last
    change effective on or before it (ties by `id`), so occupancy on any past day is a query."""

    bed = models.ForeignKey(Bed, on_delete=models.CASCADE, related_name="status_changes")
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+", editable=False)
    from_status = models.CharField(max_length=16, choices=BedStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=BedStatus.choices)
    effective_date = models.DateField(_("生效日期"))
    recorded_at = models.DateTimeField(default=timezone.now)
    stay = models.ForeignKey("Stay", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("床位状态变更")
        verbose_name_plural = _("床位状态变更")
        ordering = ["bed_id", "effective_date", "id"]
        indexes = [models.Index(fields=["bed", "effective_date", "id"]),
                   models.Index(fields=["institution", "effective_date"])]

    def __str__(self):
        return f"{self.bed_id}: {self.from_status} → {self.to_status} {self.effective_date}"


class StayStatus(models.TextChoices):
    RESIDENT = "resident", _("在住")
    ON_LEAVE = "on_leave", _("请假")
    DISCHARGE_ORDERED = "discharge_ordered", _("待出院")
    DISCHARGED = "discharged", _("已出院")


OPEN_STAY_STATUSES = (StayStatus.RESIDENT, StayStatus.ON_LEAVE, StayStatus.DISCHARGE_ORDERED)


class DischargeReason(models.TextChoices):
    HOME = "home", _("回家")
    TRANSFER = "transfer", _("转院/转机构")
    DEATH = "death", _("死亡")


class Stay(models.Model):
    """A resident's stay (入住), from admission to the final discharge. The bed is held throughout: on leave
    and after a discharge is ordered; only the final discharge frees it."""

    elder = models.ForeignKey(Elder, on_delete=models.PROTECT, related_name="institution_stays")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="stays")
    bed = models.ForeignKey(Bed, verbose_name=_("床位"), on_delete=models.PROTECT, related_name="stays")
    status = models.CharField(_("状态"), max_length=20, choices=StayStatus.choices, default=StayStatus.RESIDENT)
    admitted_on = models.DateField(_("入住日期"))
    # The care grade is the elder's assessment level at admission (assessment.CurrentLevel).
    care_level = models.PositiveSmallIntegerField(_("照护等级"))
    care_level_name = models.CharField(_("能力等级"), max_length=32)
    assessment_id = models.PositiveBigIntegerField(_("评估记录"))
    destitute = models.BooleanField(_("特困集中供养"), default=False)
    monthly_fee = models.DecimalField(_("月服务费"), **MONEY)
    previous_living_situation = models.CharField(max_length=16, blank=True, editable=False)
    discharge_reason = models.CharField(_("出院原因"), max_length=12, choices=DischargeReason.choices, blank=True)
    discharge_ordered_on = models.DateField(_("出院通知日期"), null=True, blank=True)
    discharged_on = models.DateField(_("出院日期"), null=True, blank=True)
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    operator_id = models.PositiveBigIntegerField(editable=False, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("入住")
        verbose_name_plural = _("入住")
        ordering = ["institution_id", "-admitted_on", "id"]
        constraints = [
            # One open stay per elder, one per bed: the database's guard behind the services' row locks.
            models.UniqueConstraint(fields=["elder"], condition=~Q(status="discharged"),
                                    name="stay_one_open_per_elder"),
            models.UniqueConstraint(fields=["bed"], condition=~Q(status="discharged"), name="stay_one_open_per_bed"),
            models.CheckConstraint(condition=Q(monthly_fee__gt=0), name="stay_monthly_fee_positive"),
            models.CheckConstraint(condition=Q(discharged_on__isnull=True)
                                   | Q(discharged_on__gte=models.F("admitted_on")),
                                   name="stay_discharge_after_admission"),
            models.CheckConstraint(condition=(Q(status="discharged") & Q(discharged_on__isnull=False))
                                   | (~Q(status="discharged") & Q(discharged_on__isnull=True)),
                                   name="stay_discharged_has_date"),
        ]
        indexes = [models.Index(fields=["institution", "status"])]

    def __str__(self):
        return f"{self.elder} @ {self.institution}"

    def save(self, *args, **kwargs):
        self.institution_id = self.bed.institution_id if self.bed_id else self.institution_id
        self.region_code = self.institution.region_code
        self.operator_id = self.institution.organisation_id
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status != StayStatus.DISCHARGED

    @classmethod
    def scope_filter(cls, user, action):
        # The stay carries copies of its institution's region and operator (no join).
        return institution_q(user, action, operator="operator_id")


class StayEventKind(models.TextChoices):
    ADMIT = "admit", _("入住")
    MOVE = "move", _("调床")
    LEAVE = "leave", _("请假")
    RETURN = "return", _("销假")
    DISCHARGE_ORDERED = "discharge_ordered", _("出院通知")
    DISCHARGE_CANCELLED = "discharge_cancelled", _("撤销出院")
    DISCHARGED = "discharged", _("出院")


class LeaveKind(models.TextChoices):
    HOSPITAL = "hospital", _("住院")
    HOME_VISIT = "home_visit", _("回家探亲")
    OTHER = "other", _("其他")


class StayEvent(models.Model):
    """The stay's timeline: admission, bed moves, leave and return, discharge ordered, cancelled, final."""

    stay = models.ForeignKey(Stay, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=StayEventKind.choices)
    effective_date = models.DateField(_("日期"))
    from_bed = models.ForeignKey(Bed, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_bed = models.ForeignKey(Bed, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    leave_kind = models.CharField(max_length=12, choices=LeaveKind.choices, blank=True)
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("入住事件")
        verbose_name_plural = _("入住事件")
        ordering = ["stay_id", "effective_date", "id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.effective_date}"


class PrepaymentKind(models.TextChoices):
    SERVICE_FEE = "service_fee", _("预收服务费")
    DEPOSIT = "deposit", _("押金")
    MEMBERSHIP = "membership", _("会员费")


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    FROZEN = "frozen", _("已熔断冻结")
    CLOSED = "closed", _("已销户")


class EscrowAccount(models.Model):
    """The supervised account (专户) of one home at its custodian bank. Its balance is the ledger's running
    total (`EscrowPosting.balance_after` of the last posting), never an editable number."""

    institution = models.OneToOneField(Institution, on_delete=models.PROTECT, related_name="escrow_account")
    bank_name = models.CharField(_("存管银行"), max_length=64, validators=[organisation_name])
    account_number = models.CharField(_("专户账号"), max_length=32, validators=[single_line_text])
    status = models.CharField(_("状态"), max_length=10, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    frozen_at = models.DateTimeField(_("冻结时间"), null=True, blank=True)
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    operator_id = models.PositiveBigIntegerField(editable=False, db_index=True)
    opened_on = models.DateField(_("开户日期"))
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("押金监管专户")
        verbose_name_plural = _("押金监管专户")
        ordering = ["region_code", "institution_id"]
        constraints = [models.UniqueConstraint(fields=["bank_name", "account_number"], name="escrow_account_unique")]

    def __str__(self):
        return f"{self.bank_name} {self.account_number[-4:]}"

    def save(self, *args, **kwargs):
        self.region_code = self.institution.region_code
        self.operator_id = self.institution.organisation_id
        super().save(*args, **kwargs)

    @classmethod
    def scope_filter(cls, user, action):
        return institution_q(user, action, operator="operator_id", escrow=True)


class PostingKind(models.TextChoices):
    DEPOSIT_IN = "deposit_in", _("押金存入")
    REFUND_OUT = "refund_out", _("押金退还")
    WITHDRAWAL_OUT = "withdrawal_out", _("机构支取")


OUT_KINDS = frozenset({PostingKind.REFUND_OUT, PostingKind.WITHDRAWAL_OUT})


class AppendOnly(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk changes are refused like single ones: a ledger line is never updated or deleted."""

    def update(self, **kwargs):
        raise AppendOnly("escrow postings are append-only")

    def delete(self):
        raise AppendOnly("escrow postings are append-only")


class EscrowPosting(models.Model):
    """One line of the account's ledger. Append-only: a row is never changed or deleted (a mistake is put right
    by a posting the other way). `amount` is positive; the kind says the direction; `balance_after` is the
    running total, written under the account's row lock; `key` makes a retried posting a no-op."""

    account = models.ForeignKey(EscrowAccount, on_delete=models.PROTECT, related_name="postings")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=PostingKind.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    balance_after = models.DecimalField(_("余额"), **MONEY)
    stay = models.ForeignKey(Stay, null=True, blank=True, on_delete=models.PROTECT, related_name="postings")
    withdrawal = models.OneToOneField("Withdrawal", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="posting")
    key = models.CharField(max_length=64)
    booked_on = models.DateField(_("记账日期"))
    posted_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("专户记账")
        verbose_name_plural = _("专户记账")
        ordering = ["account_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="posting_seq_unique"),
            models.UniqueConstraint(fields=["account", "key"], name="posting_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="posting_amount_positive"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="posting_balance_not_negative"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnly("escrow postings are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("escrow postings are append-only")

    @property
    def signed_amount(self):
        return -self.amount if self.kind in OUT_KINDS else self.amount


class Prepayment(models.Model):
    """Money a home took in advance from a resident: a prepaid service fee, a deposit (held in escrow), or a
    membership fee (private homes only)."""

    stay = models.ForeignKey(Stay, on_delete=models.PROTECT, related_name="prepayments")
    kind = models.CharField(_("类型"), max_length=12, choices=PrepaymentKind.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    received_on = models.DateField(_("收取日期"))
    posting = models.OneToOneField(EscrowPosting, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("预收费")
        verbose_name_plural = _("预收费")
        ordering = ["stay_id", "received_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="prepayment_amount_positive"),
            models.UniqueConstraint(fields=["stay", "key"], name="prepayment_key_unique"),
            models.CheckConstraint(condition=~Q(kind="deposit") | Q(posting__isnull=False),
                                   name="prepayment_deposit_in_escrow"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class WithdrawalStatus(models.TextChoices):
    PAID = "paid", _("已支取")
    HELD = "held", _("熔断待审")
    RELEASED = "released", _("审核放行")
    REJECTED = "rejected", _("审核驳回")


class Withdrawal(models.Model):
    """A home's request to take money out of its account for a stated use. Paid at once when within the
    breaker's share; otherwise held, the account frozen, until the bureau releases or rejects it."""

    account = models.ForeignKey(EscrowAccount, on_delete=models.PROTECT, related_name="withdrawals")
    amount = models.DecimalField(_("金额"), **MONEY)
    reason = models.CharField(_("用途"), max_length=200, validators=[single_line_text])
    status = models.CharField(_("状态"), max_length=10, choices=WithdrawalStatus.choices)
    balance_before = models.DecimalField(_("支取前余额"), **MONEY)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=300, blank=True, validators=[single_line_text])
    region_code = models.CharField(max_length=12, db_index=True, editable=False)
    operator_id = models.PositiveBigIntegerField(editable=False, db_index=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("专户支取")
        verbose_name_plural = _("专户支取")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            # At most one withdrawal waits for review per account: the frozen account's.
            models.UniqueConstraint(fields=["account"], condition=Q(status="held"), name="withdrawal_one_held"),
        ]

    def __str__(self):
        return f"{self.account} −{self.amount}"

    def save(self, *args, **kwargs):
        self.region_code = self.account.region_code
        self.operator_id = self.account.operator_id
        super().save(*args, **kwargs)

    def clean(self):
        if self.amount is not None and self.amount <= 0:
            raise ValidationError({"amount": _("金额必须大于零。")})

    @classmethod
    def scope_filter(cls, user, action):
        return EscrowAccount.scope_filter(user, action)
