"""The monthly service allowance: credits from approved benefits rolls."""

from __future__ import annotations

from django.db.models import (
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.bulk import insert_select
from yiyang.core.models import AuditAction

from ..models import (
    AllowanceEntry,
    AllowanceKind,
)


def credit_allowance_from_roll(*, roll, actor=None) -> int:
    """Receiver of benefits' `roll_approved`, inside the approval's transaction: the positive, not withheld
    lines of an approved roll of a programme that is not paid to a bank (服务补贴) are credited to each elder's
    allowance for the line's month. One INSERT … SELECT; a line already credited is skipped, so a repeat
    credits nothing. Negative lines (追回) are not taken from a balance: the voucher may already be spent."""
    from yiyang.benefits.models import LineStatus, RollLine

    if roll.programme.pays_to_bank:
        return 0
    lines = (RollLine.objects.filter(roll_id=roll.pk, amount__gt=0).exclude(status=LineStatus.WITHHELD)
             .exclude(Exists(AllowanceEntry.objects.filter(roll_line=OuterRef("pk")))))
    created = insert_select(AllowanceEntry, lines, {
        "elder": F("elder_id"), "month": F("month"), "amount": F("amount"),
        "kind": Value(AllowanceKind.CREDIT.value), "roll_line": F("pk"), "county_code": F("county_code"),
        "region_code": F("region_code"), "created_at": Value(timezone.now(), output_field=DateTimeField())})
    if created:
        audit.record(actor=actor, action=AuditAction.CREATE, object_type="services.allowanceentry",
                     object_id=str(roll.pk), object_repr=str(roll.programme), region_code=roll.jurisdiction_id,
                     detail=_("服务补贴入账：名册 %(roll)s（%(month)s）%(n)d 人次") % {
                         "roll": roll.pk, "month": roll.month.strftime("%Y-%m"), "n": created})
    return created
