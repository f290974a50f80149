"""Institutions: who may take which step (the convention: core/policy.py).

A home is run by its operator organisation: that organisation's provider accounts (the home's manager and
clerks) set up beds, admit, move, grant leave, discharge, take prepayments and ask for withdrawals. The
bureau of the home's jurisdiction registers homes, opens the supervised account (专户), may act for a home on
its residents (a public home the bureau runs itself), and alone reviews a tripped circuit breaker. Street and
community workers see their area's homes and act on none; caregivers see their home's beds and residents.
Money leaves an account only on the operator's request: the bureau never withdraws.
"""

from django.utils.translation import gettext_lazy as _

from yiyang.core import policy as core
from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role

from .models import AccountStatus, StayStatus

ONLY_BUREAU = _("只有本辖区民政部门可以执行此操作。")
ONLY_HOME = _("只有该养老机构（运营机构账号）或本辖区民政部门可以办理。")
ONLY_OPERATOR = _("只有该养老机构的运营机构账号可以办理资金事项。")


def _invalid_state(reason) -> core.Decision:
    return core.deny(reason, code=ErrorCode.INVALID_STATE, status=409)


def is_operator(actor, institution) -> bool:
    """A provider account of the organisation that runs the home."""
    if core.is_superuser(actor) and core.has_role(actor):
        return True
    return (core.has_role(actor, Role.PROVIDER) and bool(getattr(actor, "organisation_id", None))
            and actor.organisation_id == institution.organisation_id)


def _home_or_bureau(actor, institution) -> bool:
    return is_operator(actor, institution) or core.within(actor, institution.region_code, roles=(Role.BUREAU,))


def may_register_institution(actor, region_code: str) -> core.Decision:
    return core.allow_if(core.within(actor, region_code, roles=(Role.BUREAU,)), ONLY_BUREAU)


def may_manage_beds(actor, institution) -> core.Decision:
    """Buildings, rooms and beds; reservations; taking a bed out of service and back."""
    return core.allow_if(_home_or_bureau(actor, institution), ONLY_HOME)


def may_admit(actor, institution) -> core.Decision:
    if not _home_or_bureau(actor, institution):
        return core.deny(ONLY_HOME)
    if not institution.is_active:
        return _invalid_state(_("该机构已停业，不能办理入住。"))
    return core.ALLOW


def _open_stay(actor, stay, *states, message) -> core.Decision:
    if not _home_or_bureau(actor, stay.institution):
        return core.deny(ONLY_HOME)
    if stay.status not in states:
        return _invalid_state(message)
    return core.ALLOW


def may_move_bed(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.RESIDENT, StayStatus.ON_LEAVE,
                      message=_("只有在住或请假中的老人可以调床。"))


def may_start_leave(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.RESIDENT, message=_("只有在住的老人可以请假。"))


def may_end_leave(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.ON_LEAVE, message=_("该老人没有在请假。"))


def may_order_discharge(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.RESIDENT, StayStatus.ON_LEAVE,
                      message=_("该老人已办理出院通知或已出院。"))


def may_cancel_discharge(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.DISCHARGE_ORDERED, message=_("该老人没有待办的出院。"))


def may_finalise_discharge(actor, stay) -> core.Decision:
    return _open_stay(actor, stay, StayStatus.RESIDENT, StayStatus.ON_LEAVE, StayStatus.DISCHARGE_ORDERED,
                      message=_("该老人已出院。"))


def may_open_escrow_account(actor, institution) -> core.Decision:
    return core.allow_if(core.within(actor, institution.region_code, roles=(Role.BUREAU,)),
                         _("监管专户由本辖区民政部门登记。"))


def may_take_prepayment(actor, stay) -> core.Decision:
    """A service fee, deposit or membership fee taken from a resident: the home, for an open stay."""
    if not is_operator(actor, stay.institution):
        return core.deny(ONLY_OPERATOR)
    if not stay.is_open:
        return _invalid_state(_("该老人已出院。"))
    return core.ALLOW


def may_refund_deposit(actor, stay) -> core.Decision:
    return core.allow_if(is_operator(actor, stay.institution), ONLY_OPERATOR)


def may_request_withdrawal(actor, account) -> core.Decision:
    if not is_operator(actor, account.institution):
        return core.deny(ONLY_OPERATOR)
    if account.status != AccountStatus.ACTIVE:
        return _invalid_state(_("该专户已熔断冻结，须经民政部门审核后才能支取。"))
    return core.ALLOW


def may_review_breaker(actor, account) -> core.Decision:
    """Releasing or rejecting the withdrawal that tripped the breaker, which unfreezes the account."""
    if not core.within(actor, account.region_code, roles=(Role.BUREAU,)):
        return core.deny(_("只有本辖区民政部门可以审核熔断。"))
    if account.status != AccountStatus.FROZEN:
        return _invalid_state(_("该专户未被冻结。"))
    return core.ALLOW
