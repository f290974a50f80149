"""Prepayments and the supervised deposit account (押金专户): deposits in, refunds and withdrawals out.

Every movement is an `EscrowPosting` appended under the account's row lock (select_for_update), carrying the
running balance; the balance is never an editable number. A posting's `key` makes a retry a no-op (the same key
with another amount is a conflict). Money leaves only an active account. A home's withdrawal of more than 30%
of the balance before it (rules.breaker_trips) is not paid: it is held, the account freezes (熔断), and only
the bureau's review (release or reject, with a reason) unfreezes it. Two withdrawals racing are serialised by
the lock, so the second is measured against the balance the first left.

Refunds of a resident's own deposit (up to what that stay holds) go back to the resident, not to the home; they
are not "机构支取" and do not trip the breaker (a design choice: see the note in the report of issue 17).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, DecimalField, F, Sum, When
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit, pii, validators
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction

from .. import policy, rules
from ..models import (
    OUT_KINDS,
    AccountStatus,
    EscrowAccount,
    EscrowPosting,
    Institution,
    PostingKind,
    Prepayment,
    PrepaymentKind,
    Stay,
    Withdrawal,
    WithdrawalStatus,
)
from ._common import Errors, parse_amount, parse_day, record, today
from .beds import _user

ZERO = Decimal("0.00")


class BreakerTripped(DomainError):
    """The withdrawal was held and the account frozen (the transaction that did so has committed)."""

    def __init__(self, message, *, withdrawal: Withdrawal):
        super().__init__(ErrorCode.CIRCUIT_BREAKER, message, status=409)
        self.withdrawal = withdrawal


@transaction.atomic
def open_escrow_account(*, actor, institution: Institution, bank_name: str, account_number: str,
                        opened_on=None) -> EscrowAccount:
    policy.may_open_escrow_account(actor, institution).require()
    errors = Errors()
    bank_name = errors.text("bank_name", bank_name, validators.clean_organisation_name, required=_("请填写存管银行。"))
    # The register's rule for bank accounts: 12–30 ASCII digits (full-width normalised, other scripts refused).
    number = errors.check("account_number", pii.validate_bank_account, account_number) or ""
    day = parse_day(opened_on or today(), "opened_on", errors)
    if EscrowAccount.objects.filter(institution=institution).exists():
        errors.add("institution", _("该机构已登记监管专户。"))
    elif number and EscrowAccount.objects.filter(bank_name=bank_name, account_number=number).exists():
        errors.add("account_number", _("该账号已登记为其他机构的专户。"))
    errors.raise_if_any()
    account = EscrowAccount.objects.create(institution=institution, bank_name=bank_name, account_number=number,
                                           opened_on=day)
    record(actor=actor, action=AuditAction.CREATE, instance=account, region_code=account.region_code)
    return account


def _lock_account(account: EscrowAccount) -> EscrowAccount:
    return EscrowAccount.objects.select_for_update().select_related("institution").get(pk=account.pk)


def _last(account: EscrowAccount) -> EscrowPosting | None:
    return account.postings.order_by("-seq").first()


def _post(account: EscrowAccount, *, kind: str, amount: Decimal, key: str, day, actor, stay=None,
          withdrawal=None, note: str = "") -> EscrowPosting:
    """Append a posting to a locked account (the caller has checked the amount)."""
    last = _last(account)
    balance = last.balance_after if last else ZERO
    balance_after = balance - amount if kind in OUT_KINDS else balance + amount
    if balance_after < 0:
        raise DomainError(ErrorCode.INVALID_STATE, _("专户余额不足。"), status=409)
    return EscrowPosting.objects.create(
        account=account, seq=(last.seq + 1) if last else 1, kind=kind, amount=amount, balance_after=balance_after,
        stay=stay, withdrawal=withdrawal, key=key, booked_on=day, actor=_user(actor), note=note[:200])


def _replayed(account: EscrowAccount, key: str, kind: str, amount) -> EscrowPosting | None:
    """The posting a retry with `key` already made, or None; the key reused for something else is refused."""
    found = account.postings.filter(key=key).first()
    if found is None:
        return None
    if found.kind != kind or found.amount != amount:
        raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一笔记账。"), status=409)
    return found


def _key(key) -> str:
    key = str(key or "").strip()
    if len(key) > 64:
        raise DomainError(ErrorCode.VALIDATION, _("提交编号过长。"), status=422, fields={"key": [_("提交编号过长。")]})
    return key or uuid.uuid4().hex


def deposit_held(stay: Stay) -> Decimal:
    """What the account holds for a stay: its deposits in less its refunds out."""
    total = stay.postings.aggregate(total=Sum(Case(
        When(kind=PostingKind.DEPOSIT_IN, then=F("amount")),
        When(kind=PostingKind.REFUND_OUT, then=-F("amount")),
        default=ZERO, output_field=DecimalField(max_digits=14, decimal_places=2))))["total"]
    return (total or ZERO).quantize(rules.FEN)


@transaction.atomic
def take_prepayment(*, actor, stay: Stay, kind: str, amount, received_on=None, key: str = ""
                    ) -> tuple[Prepayment, bool]:
    """A prepaid service fee (at most 12 months' fee), a deposit (at most 6× the monthly fee, into the
    supervised account) or a membership fee (never for a public home). Returns (prepayment, created)."""
    stay = Stay.objects.select_for_update().select_related("institution").get(pk=stay.pk)
    policy.may_take_prepayment(actor, stay).require()
    errors = Errors()
    if kind not in PrepaymentKind.values:
        errors.add("kind", _("预收费类型无效。"))
        errors.raise_if_any()
    value = parse_amount(amount, "amount", errors)
    day = parse_day(received_on or today(), "received_on", errors)
    if day and day < stay.admitted_on:
        errors.add("received_on", _("收取日期早于入住日期。"))
    errors.raise_if_any()
    key = _key(key)
    if kind == PrepaymentKind.MEMBERSHIP:
        if not rules.membership_fee_allowed(stay.institution.is_public):
            errors.add("kind", _("公办（含公建民营）养老机构不得收取会员费。"))
    elif kind == PrepaymentKind.SERVICE_FEE:
        cap = rules.service_fee_prepay_cap(stay.monthly_fee)
        if value > cap:
            errors.add("amount", _("预收服务费最多 %(months)d 个月，即 %(cap)s 元。") % {
                "months": rules.SERVICE_FEE_PREPAY_MONTHS, "cap": cap})
    errors.raise_if_any()
    found = Prepayment.objects.filter(stay=stay, key=key).first()
    if found is not None:
        if found.kind != kind or found.amount != value:
            raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一笔预收费。"), status=409)
        return found, False
    if kind != PrepaymentKind.DEPOSIT:
        prepayment = Prepayment.objects.create(stay=stay, kind=kind, amount=value, received_on=day,
                                               actor=_user(actor), key=key)
        record(actor=actor, action=AuditAction.CREATE, instance=prepayment, region_code=stay.region_code)
        return prepayment, True
    try:
        account = _lock_account(stay.institution.escrow_account)
    except EscrowAccount.DoesNotExist:
        raise DomainError(ErrorCode.INVALID_STATE, _("该机构尚未登记押金监管专户，不能收取押金。"),
                          status=409) from None
    held = deposit_held(stay)
    if not rules.deposit_allowed(stay.monthly_fee, held, value):
        cap = rules.deposit_cap(stay.monthly_fee)
        errors.add("amount", _("押金不得超过月服务费的 %(multiple)s 倍（%(cap)s 元）；已收 %(held)s 元，最多还可收 "
                               "%(room)s 元。") % {"multiple": rules.DEPOSIT_MULTIPLE, "cap": cap, "held": held,
                                                  "room": rules.deposit_room(stay.monthly_fee, held)})
        errors.raise_if_any()
    posting = _post(account, kind=PostingKind.DEPOSIT_IN, amount=value, key=f"deposit:{stay.pk}:{key}", day=day,
                    actor=actor, stay=stay)
    prepayment = Prepayment.objects.create(stay=stay, kind=kind, amount=value, received_on=day, posting=posting,
                                           actor=_user(actor), key=key)
    record(actor=actor, action=AuditAction.CREATE, instance=prepayment, region_code=stay.region_code,
           detail=_("押金存入专户，余额 %(balance)s") % {"balance": posting.balance_after})
    return prepayment, True


@transaction.atomic
def refund_deposit(*, actor, stay: Stay, amount, refunded_on=None, key: str = "") -> tuple[EscrowPosting, bool]:
    """Pay a resident's deposit back out of the account, at most what the stay holds."""
    stay = Stay.objects.select_for_update().select_related("institution").get(pk=stay.pk)
    policy.may_refund_deposit(actor, stay).require()
    errors = Errors()
    value = parse_amount(amount, "amount", errors)
    day = parse_day(refunded_on or today(), "refunded_on", errors)
    errors.raise_if_any()
    key = _key(key)
    try:
        account = _lock_account(stay.institution.escrow_account)
    except EscrowAccount.DoesNotExist:
        raise DomainError(ErrorCode.INVALID_STATE, _("该机构没有押金监管专户。"), status=409) from None
    replayed = _replayed(account, key, PostingKind.REFUND_OUT, value)
    if replayed is not None:
        return replayed, False
    if account.status != AccountStatus.ACTIVE:
        raise DomainError(ErrorCode.INVALID_STATE, _("该专户已熔断冻结，须经民政部门审核后才能退款。"), status=409)
    held = deposit_held(stay)
    if value > held:
        errors.add("amount", _("退款 %(amount)s 元超过该老人在专户中的押金 %(held)s 元。") % {
            "amount": value, "held": held})
        errors.raise_if_any()
    posting = _post(account, kind=PostingKind.REFUND_OUT, amount=value, key=key, day=day, actor=actor, stay=stay,
                    note="refund")
    record(actor=actor, action=AuditAction.CREATE, instance=posting, region_code=account.region_code,
           detail=_("押金退还 %(amount)s，余额 %(balance)s") % {"amount": value, "balance": posting.balance_after})
    return posting, True


def request_withdrawal(*, actor, account: EscrowAccount, amount, reason: str) -> Withdrawal:
    """The home takes money out for a stated use. Within 30% of the balance it is paid at once; above, it is
    held and the account frozen (committed), and `BreakerTripped` (409) says so.

    The freeze is committed by this function's own transaction before the exception is raised; a caller that
    wraps it in an outer `atomic` block must catch `BreakerTripped` inside that block, or the freeze is rolled
    back with it (the pages and the API call services outside any transaction: no ATOMIC_REQUESTS)."""
    with transaction.atomic():
        account = _lock_account(account)
        policy.may_request_withdrawal(actor, account).require()
        errors = Errors()
        value = parse_amount(amount, "amount", errors)
        reason = errors.text("reason", reason, required=_("请填写支取用途。"))
        last = _last(account)
        balance = last.balance_after if last else ZERO
        if value is not None and value > balance:
            errors.add("amount", _("支取金额 %(amount)s 元超过专户余额 %(balance)s 元。") % {
                "amount": value, "balance": balance})
        errors.raise_if_any()
        trips = rules.breaker_trips(balance, value)
        withdrawal = Withdrawal.objects.create(
            account=account, amount=value, reason=reason, balance_before=balance, requested_by=_user(actor),
            status=WithdrawalStatus.HELD if trips else WithdrawalStatus.PAID)
        share = rules.share_of_balance(balance, value)
        if not trips:
            posting = _post(account, kind=PostingKind.WITHDRAWAL_OUT, amount=value, key=f"withdrawal:{withdrawal.pk}",
                            day=today(), actor=actor, withdrawal=withdrawal, note=reason)
            record(actor=actor, action=AuditAction.CREATE, instance=withdrawal, region_code=account.region_code,
                   detail=_("支取 %(amount)s（余额的 %(share)s%%），余额 %(balance)s") % {
                       "amount": value, "share": share, "balance": posting.balance_after})
            return withdrawal
        before = audit.snapshot(account)
        account.status, account.frozen_at = AccountStatus.FROZEN, timezone.now()
        account.save(update_fields=["status", "frozen_at"])
        record(actor=actor, action=AuditAction.CREATE, instance=withdrawal, region_code=account.region_code,
               detail=_("熔断：单笔支取 %(amount)s 元，占余额 %(balance)s 元的 %(share)s%%，超过 %(limit)s%%") % {
                   "amount": value, "balance": balance, "share": share, "limit": rules.BREAKER_SHARE * 100})
        record(actor=actor, action=AuditAction.UPDATE, instance=account, before=before,
               region_code=account.region_code, detail=_("专户熔断冻结"))
    raise BreakerTripped(_("单笔支取 %(amount)s 元占专户余额的 %(share)s%%，超过 30%%：支取未执行，专户已熔断冻结，"
                           "须经民政部门审核。") % {"amount": value, "share": share}, withdrawal=withdrawal)


@transaction.atomic
def review_breaker(*, actor, account: EscrowAccount, release: bool, note: str) -> Withdrawal:
    """The bureau's review of a tripped breaker: release (the held withdrawal is paid) or reject it; either
    way the account is active again. A reason is required."""
    account = _lock_account(account)
    policy.may_review_breaker(actor, account).require()
    errors = Errors()
    note = errors.text("note", note, required=_("请填写审核意见。"))
    errors.raise_if_any()
    withdrawal = Withdrawal.objects.select_for_update().get(account=account, status=WithdrawalStatus.HELD)
    before_account, before = audit.snapshot(account), audit.snapshot(withdrawal)
    if release:
        last = _last(account)
        balance = last.balance_after if last else ZERO
        if withdrawal.amount > balance:
            raise DomainError(ErrorCode.INVALID_STATE, _("专户余额已不足以支付该笔支取，只能驳回。"), status=409)
        _post(account, kind=PostingKind.WITHDRAWAL_OUT, amount=withdrawal.amount, key=f"withdrawal:{withdrawal.pk}",
              day=today(), actor=actor, withdrawal=withdrawal, note=withdrawal.reason)
    withdrawal.status = WithdrawalStatus.RELEASED if release else WithdrawalStatus.REJECTED
    withdrawal.reviewed_by, withdrawal.reviewed_at, withdrawal.review_note = _user(actor), timezone.now(), note
    withdrawal.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    account.status, account.frozen_at = AccountStatus.ACTIVE, None
    account.save(update_fields=["status", "frozen_at"])
    record(actor=actor, action=AuditAction.UPDATE, instance=withdrawal, before=before,
           region_code=account.region_code, detail=(_("熔断审核放行：%(note)s") if release
                                                   else _("熔断审核驳回：%(note)s")) % {"note": note})
    record(actor=actor, action=AuditAction.UPDATE, instance=account, before=before_account,
           region_code=account.region_code, detail=_("解除熔断"))
    return withdrawal
