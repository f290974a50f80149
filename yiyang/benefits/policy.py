"""Benefits: who may take which step on which rule, roll, check or line (the convention: core/policy.py).

One function per step. The service calls `.require()` on the decision at the top of its transaction (after
locking the roll when the rule reads its state); the roll page draws a button only when the same decision
allows it; the API goes through the service. Nothing else in this app decides authority.

Roles: the civil-affairs bureau of a roll's jurisdiction runs the month (generate, submit, approve, the bank
files, recoveries) and owns the rules; the street signs off its part; street and community workers clear the
checks of their own people. A jurisdiction the actor can neither act in nor see answers 404, like an object
outside their scope; one they can see (a street of the county, a city above the district) answers 403.
"""

from django.utils.translation import gettext_lazy as _

from yiyang.core import policy as core
from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role

from .models import APPROVED_ROLL_STATUSES, LineKind, LineStatus, RollStatus

ONLY_BUREAU = _("只有本辖区民政部门可以执行此操作。")
NOT_FOUND = _("未找到该辖区。")

PAYABLE_ROLL_STATUSES = APPROVED_ROLL_STATUSES


def _invalid_state(reason) -> core.Decision:
    return core.deny(reason, code=ErrorCode.INVALID_STATE, status=409)


def is_bureau_of(actor, region_code: str) -> bool:
    """The civil-affairs bureau whose jurisdiction holds `region_code` (or a platform superuser)."""
    return core.within(actor, region_code, roles=(Role.BUREAU,))


def is_street_of(actor, street_code: str) -> bool:
    """The street's own worker (not the bureau acting for it)."""
    return core.within(actor, street_code, roles=(Role.STREET,)) and not core.is_superuser(actor)


def _in_jurisdiction(actor, jurisdiction) -> bool:
    """Region staff working inside `jurisdiction` (a street of the county): they see its rules and rolls."""
    scope = getattr(actor, "scope_code", "") or ""
    return core.has_role(actor, *core.REGION_STAFF) and jurisdiction.contains(scope)


def _bureau_step(actor, jurisdiction, reason=ONLY_BUREAU) -> core.Decision:
    """A step only the jurisdiction's bureau takes: 403 for staff who work inside it, 404 for anyone else."""
    if is_bureau_of(actor, jurisdiction.code):
        return core.ALLOW
    if _in_jurisdiction(actor, jurisdiction):
        return core.deny(reason)
    return core.deny(NOT_FOUND, code=ErrorCode.NOT_FOUND, status=404)


# ---------------------------------------------------------------------------------------------------- rules


def may_adopt_rule(actor, jurisdiction) -> core.Decision:
    """A new version of a programme's rule for the jurisdiction: its bureau."""
    return _bureau_step(actor, jurisdiction)


def may_simulate_rule(actor, jurisdiction) -> core.Decision:
    """Costing a changed rule (reads only, but it is the bureau's budget): its bureau."""
    return _bureau_step(actor, jurisdiction, _("只有民政部门可以进行预算测算。"))


def may_change_settings(actor, jurisdiction) -> core.Decision:
    """The jurisdiction's month semantics and workflow settings: its bureau."""
    return _bureau_step(actor, jurisdiction)


# ---------------------------------------------------------------------------------------------------- rolls


def may_generate_roll(actor, jurisdiction, roll=None) -> core.Decision:
    """Generate the month's roll, or generate an existing one again while it is open (a run cut off half-way
    is completed by the next one)."""
    decision = _bureau_step(actor, jurisdiction)
    if not decision:
        return decision
    if roll is not None and not roll.is_open:
        return core.deny(_("该名册已审批，不能重新生成；更正将以补发或追回计入下月名册。"), code="roll_locked",
                         status=409)
    return core.ALLOW


def may_submit_roll(actor, roll) -> core.Decision:
    """Draft → street review: the bureau."""
    decision = _bureau_step(actor, roll.jurisdiction)
    if decision and roll.status != RollStatus.DRAFT:
        return _invalid_state(_("只有草稿名册可以提交审核。"))
    return decision


def may_resolve_check(actor, check) -> core.Decision:
    """Clear a check: the bureau, or the street or community worker of the line's place (they know the
    person), while the roll is open."""
    roll = check.roll
    if not (is_bureau_of(actor, roll.jurisdiction_id)
            or core.within(actor, check.region_code, roles=(Role.STREET, Role.COMMUNITY))):
        return core.deny(_("该疑点不属于您的辖区。"))
    if roll.status not in (RollStatus.DRAFT, RollStatus.IN_REVIEW):
        return core.deny(_("名册已审批或正在生成，不能再处理疑点。"), code="roll_locked", status=409)
    return core.ALLOW


def may_sign_off_street(actor, review, *, open_checks: int | None = None) -> core.Decision:
    """A street's sign-off on its part of the roll: the street itself, or the bureau on its behalf (from a
    signed paper form: the service then wants the note). Not while the street has open checks.

    `open_checks` (the street's open checks) may be given by a page that counted every street at once."""
    roll = review.roll
    if not (is_street_of(actor, review.street_id) or is_bureau_of(actor, roll.jurisdiction_id)):
        return core.deny(_("只能审核本街道的名单。"))
    if roll.status != RollStatus.IN_REVIEW:
        return _invalid_state(_("名册不在街道审核阶段。"))
    if review.reviewed_at is not None:
        return _invalid_state(_("该街道已审核通过。"))
    if open_checks is None:
        from .models import RollCheck

        open_checks = RollCheck.objects.filter(roll_id=roll.pk, resolution="",
                                               region_code__startswith=review.street_id).count()
    if open_checks:
        return core.deny(_("本街道还有 %(n)d 个疑点未处理。") % {"n": open_checks}, code="open_checks", status=409)
    return core.ALLOW


def may_sign_off_remaining_streets(actor, roll) -> core.Decision:
    """The bureau records the sign-off of every street not yet signed (from their signed paper forms)."""
    decision = _bureau_step(actor, roll.jurisdiction)
    if decision and roll.status != RollStatus.IN_REVIEW:
        return _invalid_state(_("名册不在街道审核阶段。"))
    return decision


def may_approve_roll(actor, roll, *, settings=None) -> core.Decision:
    """Bureau approval once every check is cleared and, with street review on, every street has signed."""
    from .models import BenefitSettings, StreetReview

    decision = _bureau_step(actor, roll.jurisdiction)
    if not decision:
        return decision
    settings = settings or BenefitSettings.for_region(roll.jurisdiction)
    allowed = (RollStatus.IN_REVIEW,) if settings.street_review else (RollStatus.DRAFT, RollStatus.IN_REVIEW)
    if roll.status not in allowed:
        return _invalid_state(_("名册须先经街道审核才能审批。") if roll.status == RollStatus.DRAFT
                              else _("该名册当前状态不能审批。"))
    if roll.open_checks:
        return core.deny(_("还有 %(n)d 个疑点未处理，不能审批。") % {"n": roll.open_checks}, code="open_checks",
                         status=409)
    if settings.street_review:
        unsigned = list(StreetReview.objects.filter(roll_id=roll.pk, reviewed_at__isnull=True)
                        .order_by("street_id").values_list("street__name", flat=True))
        if unsigned:
            return core.deny(_("以下街道尚未审核：%(streets)s") % {"streets": "、".join(unsigned)}, code="unsigned",
                             status=409)
    return core.ALLOW


# ---------------------------------------------------------------------------------------------- bank files

VOUCHER_HAS_NO_BANK_FILE = _("本项目以服务补贴计入老年人的服务补贴余额，不发现金，没有银行代发文件和回盘。")


def may_export_bank_file(actor, roll) -> core.Decision:
    """The bank's payment file (every name, ID, account and amount of the roll): the bureau of the roll's
    jurisdiction only, once the roll is approved, and never for a programme paid as a service voucher."""
    decision = _bureau_step(actor, roll.jurisdiction, _("只有本辖区民政部门可以导出银行代发文件。"))
    if not decision:
        return decision
    if not roll.programme.pays_to_bank:
        return _invalid_state(VOUCHER_HAS_NO_BANK_FILE)
    if roll.status not in PAYABLE_ROLL_STATUSES:
        return _invalid_state(_("名册审批后才能导出银行文件。"))
    return core.ALLOW


def may_import_bank_results(actor, roll) -> core.Decision:
    """The bank's results file: the bureau, after the payment file went out."""
    decision = _bureau_step(actor, roll.jurisdiction)
    if not decision:
        return decision
    if not roll.programme.pays_to_bank:
        return _invalid_state(VOUCHER_HAS_NO_BANK_FILE)
    if roll.status not in (RollStatus.EXPORTED, RollStatus.CLOSED):
        return _invalid_state(_("请先导出银行文件，再导入回盘结果。"))
    return core.ALLOW


def may_mark_recovered_line(actor, line) -> core.Decision:
    """Record that a recovery (追回) line's money came back: the bureau, once the roll is approved."""
    roll = line.roll
    decision = _bureau_step(actor, roll.jurisdiction)
    if not decision:
        return decision
    if line.kind != LineKind.RECOVERY or line.status != LineStatus.PENDING:
        return _invalid_state(_("只有待追回的追回明细可以登记为已追回。"))
    if roll.status not in PAYABLE_ROLL_STATUSES:
        return _invalid_state(_("名册审批后才能登记追回。"))
    return core.ALLOW


def may_export_roll_lines(actor, roll) -> core.Decision:
    """The review list (核对名单) of the lines the actor may see, masked: region staff of the roll."""
    if is_bureau_of(actor, roll.jurisdiction_id) or _in_jurisdiction(actor, roll.jurisdiction):
        return core.ALLOW
    return core.deny(NOT_FOUND, code=ErrorCode.NOT_FOUND, status=404)
