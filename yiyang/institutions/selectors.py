"""Reads of the institutions app: each list starts from `restrict(user)`; callers page them.

Occupancy on a day comes from the beds' history (`BedStatusChange`): a bed's status on a day is that of its
last change effective on or before the day, so any past day is answered by the same query as today.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from yiyang.core.models import Role
from yiyang.registry.models import Elder

from . import rules
from .models import (
    OPEN_STAY_STATUSES,
    AccountStatus,
    Bed,
    BedStatus,
    BedStatusChange,
    EscrowAccount,
    EscrowPosting,
    Institution,
    Stay,
    Withdrawal,
)


def institutions_for(user, *, kind: str = "", ownership: str = ""):
    qs = Institution.objects.restrict(user).select_related("region", "organisation")
    if kind:
        qs = qs.filter(kind=kind)
    if ownership:
        qs = qs.filter(ownership=ownership)
    return qs.order_by("region_code", "name", "pk")


def beds_for(user, *, institution: Institution | None = None, status: str = "", nursing: bool | None = None,
             open_to_others: bool | None = None):
    qs = Bed.objects.restrict(user).select_related("room__floor__building")
    if institution is not None:
        qs = qs.filter(institution=institution)
    if status:
        qs = qs.filter(status=status)
    if nursing is not None:
        qs = qs.filter(nursing=nursing)
    if open_to_others is not None:
        qs = qs.filter(open_to_others=open_to_others)
    return qs.order_by("institution_id", "room__floor__building__name", "room__floor__number", "room__number",
                       "label", "pk")


def stays_for(user, *, institution: Institution | None = None, open_only: bool = True):
    qs = Stay.objects.restrict(user).select_related("elder", "bed__room__floor__building", "institution")
    if institution is not None:
        qs = qs.filter(institution=institution)
    if open_only:
        qs = qs.filter(status__in=OPEN_STAY_STATUSES)
    return qs.order_by("institution_id", "-admitted_on", "pk")


def accounts_for(user, *, frozen_only: bool = False, with_balance: bool = False):
    """The supervised accounts; `with_balance` annotates each with `balance` (its last posting's running total,
    0.00 without postings) in the same query."""
    qs = EscrowAccount.objects.restrict(user).select_related("institution")
    if frozen_only:
        qs = qs.filter(status=AccountStatus.FROZEN)
    if with_balance:
        last = EscrowPosting.objects.filter(account=OuterRef("pk")).order_by("-seq").values("balance_after")[:1]
        qs = qs.annotate(balance=Coalesce(Subquery(last), Value(Decimal("0.00")),
                                          output_field=DecimalField(max_digits=12, decimal_places=2)))
    return qs.order_by("region_code", "institution__name", "pk")


def withdrawals_for(user, *, account: EscrowAccount | None = None, status: str = ""):
    qs = Withdrawal.objects.restrict(user).select_related("account__institution")
    if account is not None:
        qs = qs.filter(account=account)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-requested_at", "-pk")


def postings_for(user, account: EscrowAccount):
    """An account's ledger, for those who may see the account (else nothing)."""
    if not EscrowAccount.objects.restrict(user).filter(pk=account.pk).exists():
        return EscrowPosting.objects.none()
    return EscrowPosting.objects.filter(account=account).order_by("seq")


def balance(account: EscrowAccount) -> Decimal:
    """The account's balance: the running total of its last posting (one indexed row)."""
    last = (EscrowPosting.objects.filter(account=account).order_by("-seq")
            .values_list("balance_after", flat=True).first())
    return last if last is not None else Decimal("0.00")


def _status_on(day: datetime.date):
    return Subquery(BedStatusChange.objects.filter(bed=OuterRef("pk"), effective_date__lte=day)
                    .order_by("-effective_date", "-id").values("to_status")[:1])


def bed_statuses_on(user, day: datetime.date, *, institution: Institution | None = None):
    """The beds that existed on `day`, each with `status_on` (its status at the end of that day)."""
    qs = Bed.objects.restrict(user)
    if institution is not None:
        qs = qs.filter(institution=institution)
    return qs.annotate(status_on=_status_on(day)).filter(status_on__isnull=False)


def occupancy_on(user, day: datetime.date | None = None, *, institution: Institution | None = None) -> dict:
    """Institution id → bed counts on `day` (default today): beds, by status, nursing beds, occupancy and
    nursing-bed share in percent. One grouped query over the beds' history."""
    day = day or timezone.localdate()
    rows = (bed_statuses_on(user, day, institution=institution).order_by()
            .values("institution_id", "status_on").annotate(n=Count("id"), nursing=Count("id", filter=Q(nursing=True))))
    out: dict[int, dict] = {}
    for row in rows:
        counts = out.setdefault(row["institution_id"], {"beds": 0, "nursing": 0, **{s: 0 for s in BedStatus.values}})
        counts[row["status_on"]] += row["n"]
        counts["beds"] += row["n"]
        counts["nursing"] += row["nursing"]
    for counts in out.values():
        counts["occupancy"] = rules.ratio_percent(counts[BedStatus.OCCUPIED], counts["beds"])
        counts["nursing_share"] = rules.ratio_percent(counts["nursing"], counts["beds"])
    return out


def nursing_bed_share(user, *, institution: Institution | None = None) -> dict:
    """Beds, nursing-type beds and the nursing share (percent) of the homes the user sees, today."""
    qs = Bed.objects.restrict(user)
    if institution is not None:
        qs = qs.filter(institution=institution)
    totals = qs.aggregate(beds=Count("id"), nursing=Count("id", filter=Q(nursing=True)))
    return {**totals, "share": rules.ratio_percent(totals["nursing"], totals["beds"])}


def elder_scope_for_home(model, user, action):
    """registry.Elder's scope hook: a home's accounts see (only) the elders who live or lived there."""
    if model is not Elder or action != "view" or user.role not in {Role.PROVIDER, Role.CAREGIVER}:
        return None
    if not user.organisation_id:
        return None
    return Q(pk__in=Stay.objects.filter(operator_id=user.organisation_id).values("elder_id"))
