"""Who may take which step in home and community services (居家社区服务): one function per rule.

Each rule is `may_<step>_<object>(actor, obj) -> Decision` (core/policy.py). The service calls
`policy.may_x(actor, obj).require()` at the top of its transaction, after locking the object; the page asks the
same function which buttons to draw; the API goes through the service. A rule answers for any actor and any
object, whatever the caller looked up: a service run by a task or from the shell is held to it too. What an
actor may *see* stays in each model's `scope_filter`.

The steps of an order, a statement and a standing order also answer for the object's state (409, e.g. the
life cycle's TRANSITIONS), so that a page never offers a step the object is not ready for. Superusers (the
platform's operators) may take every step.

Family checks read the actor's family links: a page that asks about many rows reads them once
(`linked_elders(actor)`) and passes them as `linked=`.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role
from yiyang.core.policy import (
    ALLOW,
    REGION_STAFF,
    Decision,
    allow_if,
    deny,
    has_role,
    is_superuser,
    role_of,
    within,
)
from yiyang.registry.models import Elder

from .models import TRANSITIONS, OrderStatus, SettlementStatus

FAMILY_ROLES = (Role.FAMILY, Role.ELDER)
LOCAL_STAFF = (Role.STREET, Role.COMMUNITY)
BUREAU_ONLY = (Role.BUREAU,)
# The check-out photo is taken while the caregiver is there or just after, before the family confirms.
PHOTO_STATUSES = (OrderStatus.CHECKED_IN, OrderStatus.CHECKED_OUT)

STEP_NAMES = {
    OrderStatus.ACCEPTED: gettext_lazy("接单"), OrderStatus.DECLINED: gettext_lazy("拒单"),
    OrderStatus.ASSIGNED: gettext_lazy("派单"), OrderStatus.CHECKED_IN: gettext_lazy("签到"),
    OrderStatus.CHECKED_OUT: gettext_lazy("签退"), OrderStatus.CONFIRMED: gettext_lazy("确认完成"),
    OrderStatus.RATED: gettext_lazy("评价"), OrderStatus.CANCELLED: gettext_lazy("取消"),
    OrderStatus.NO_SHOW: gettext_lazy("登记未上门/未在家"),
}

NOT_YOURS = gettext_lazy("您无权对该订单执行此操作。")
BUREAU_OF_JURISDICTION = gettext_lazy("只有本辖区民政部门可以执行此操作。")
REGION_STAFF_OF_AREA = gettext_lazy("只有本辖区民政、街道或社区工作人员可以执行此操作。")


# ------------------------------------------------------------------------------------------------- who


def _operator(actor) -> bool:
    return is_superuser(actor) and has_role(actor)


def _only(actor, role) -> bool:
    """The actor holds exactly this role (a superuser counts as every role in has_role, not here)."""
    return role_of(actor) == role and has_role(actor, role) and not is_superuser(actor)


def _provider_of(actor, provider_id) -> bool:
    return _only(actor, Role.PROVIDER) and bool(actor.organisation_id) and actor.organisation_id == provider_id


def _assigned_caregiver(actor, order) -> bool:
    return (_only(actor, Role.CAREGIVER) and order.caregiver_id is not None
            and order.caregiver.account_id == actor.pk)


def linked_elders(actor) -> frozenset:
    """The elders an elder or family account is linked to (one query; empty for every other role)."""
    from yiyang.registry.models import FamilyLink

    if not any(_only(actor, role) for role in FAMILY_ROLES):
        return frozenset()
    return frozenset(FamilyLink.objects.filter(user_id=actor.pk).values_list("elder_id", flat=True))


def _family_of(actor, elder_id, linked=None) -> bool:
    if not any(_only(actor, role) for role in FAMILY_ROLES):
        return False
    if linked is not None:
        return elder_id in linked
    from yiyang.registry.models import FamilyLink

    return FamilyLink.objects.filter(user_id=actor.pk, elder_id=elder_id).exists()


def _placed_by(actor, obj) -> bool:
    signed_in = getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", True)
    return bool(signed_in) and obj.placed_by_id is not None and obj.placed_by_id == actor.pk


def _then(first: Decision, rest) -> Decision:
    """`first`, and when it allows, what `rest()` says (authority first, then the object's state)."""
    return rest() if first else first


# ------------------------------------------------------------------------------------------- the life cycle


def _next(order, to_status) -> Decision:
    if to_status in TRANSITIONS[OrderStatus(order.status)]:
        return ALLOW
    if to_status == OrderStatus.CHECKED_OUT and order.check_in_at is None:
        message = _("尚未签到，不能签退。")
    else:
        message = _("订单当前为“%(status)s”，不能%(step)s。") % {
            "status": order.get_status_display(), "step": STEP_NAMES[to_status]}
    return deny(message, code=ErrorCode.INVALID_STATE, status=409)


def may_order_for_elder(actor, elder, *, linked=None) -> Decision:
    """Place an order (or set up a standing order) for an elder: the elder or their family, bureau, street
    or community staff of the place the elder lives, or a visitor paired with the elder (who sees them
    through the visits app's scope hook) for a need found on a visit."""
    return allow_if(_operator(actor) or _family_of(actor, elder.pk, linked)
                    or within(actor, elder.residence_region_id) or _visitor_of(actor, elder),
                    _("您无权为该老人下单。"))


def _visitor_of(actor, elder) -> bool:
    return (has_role(actor, Role.VISITOR) and not is_superuser(actor)
            and Elder.objects.restrict(actor).filter(pk=elder.pk).exists())


def elders_orderable_by(actor) -> Q | None:
    """may_order_for_elder as a filter over elders (None: none), for the pages that list whom one may order for."""
    if _operator(actor):
        return Q()
    if any(_only(actor, role) for role in FAMILY_ROLES):
        return Q(family_links__user_id=actor.pk)
    scope = getattr(actor, "scope_code", "") or ""
    if scope and any(_only(actor, role) for role in REGION_STAFF):
        return Q(residence_region__code__startswith=scope)
    return None


def may_set_up_recurring_order(actor, elder, *, linked=None) -> Decision:
    """A standing order (周期服务) is ordering for the elder, one visit after another: the same rule."""
    return may_order_for_elder(actor, elder, linked=linked)


def may_accept_order(actor, order) -> Decision:
    """The provider the order was placed with, while it is requested."""
    return _then(allow_if(_operator(actor) or _provider_of(actor, order.provider_id), NOT_YOURS),
                 lambda: _next(order, OrderStatus.ACCEPTED))


def may_decline_order(actor, order) -> Decision:
    return _then(allow_if(_operator(actor) or _provider_of(actor, order.provider_id), NOT_YOURS),
                 lambda: _next(order, OrderStatus.DECLINED))


def may_assign_order(actor, order) -> Decision:
    """The provider gives the visit to one of its caregivers (again, to re-assign it before the visit)."""
    return _then(allow_if(_operator(actor) or _provider_of(actor, order.provider_id), NOT_YOURS),
                 lambda: _next(order, OrderStatus.ASSIGNED))


def may_check_in_order(actor, order, *, in_status: bool = True) -> Decision:
    """The caregiver the visit is assigned to, while it is assigned. `in_status=False` asks about the person
    only: a check-in replayed from the phone's queue is answered before the status is looked at."""
    person = allow_if(_operator(actor) or _assigned_caregiver(actor, order), _("只有被派单的护理员本人可以签到。"))
    return _then(person, lambda: _next(order, OrderStatus.CHECKED_IN)) if in_status else person


def may_check_out_order(actor, order, *, in_status: bool = True) -> Decision:
    person = allow_if(_operator(actor) or _assigned_caregiver(actor, order), _("只有被派单的护理员本人可以签退。"))
    return _then(person, lambda: _next(order, OrderStatus.CHECKED_OUT)) if in_status else person


def may_confirm_order(actor, order, *, linked=None) -> Decision:
    """The elder or their family, or the street or community on their behalf, once the caregiver left."""
    return _then(allow_if(_operator(actor) or _family_of(actor, order.elder_id, linked)
                          or within(actor, order.region_code, roles=LOCAL_STAFF), NOT_YOURS),
                 lambda: _next(order, OrderStatus.CONFIRMED))


def may_rate_order(actor, order, *, linked=None) -> Decision:
    return _then(allow_if(_operator(actor) or _family_of(actor, order.elder_id, linked),
                          _("只有老人本人或家属可以评价。")),
                 lambda: _next(order, OrderStatus.RATED))


def cancelled_as(actor, order, *, linked=None) -> str:
    """In whose name an order is cancelled ('' when the actor may not cancel it): the timeline says so."""
    if _operator(actor):
        return _("管理员")
    if _placed_by(actor, order) or _family_of(actor, order.elder_id, linked):
        return _("下单人")
    if _provider_of(actor, order.provider_id):
        return _("服务机构")
    if within(actor, order.region_code, roles=LOCAL_STAFF):
        return _("社区/街道")
    return ""


def may_cancel_order(actor, order, *, linked=None) -> Decision:
    """Before the visit starts: whoever placed it (or the family), the provider, or the street or community."""
    return _then(allow_if(bool(cancelled_as(actor, order, linked=linked)), NOT_YOURS),
                 lambda: _next(order, OrderStatus.CANCELLED))


def may_record_no_show_order(actor, order) -> Decision:
    """未上门/未在家, once assigned: the provider or the caregiver the visit is assigned to."""
    return _then(allow_if(_operator(actor) or _provider_of(actor, order.provider_id)
                          or _assigned_caregiver(actor, order), NOT_YOURS),
                 lambda: _next(order, OrderStatus.NO_SHOW))


def may_upload_photo_order(actor, order, *, in_status: bool = True) -> Decision:
    """The assigned caregiver, once checked in and before the family confirms (a new photo replaces the old)."""
    person = allow_if(_operator(actor) or _assigned_caregiver(actor, order),
                      _("只有被派单的护理员本人可以上传服务照片。"))
    if not in_status or not person:
        return person
    return allow_if(order.status in PHOTO_STATUSES, _("订单当前为“%(status)s”，不能上传服务照片。") % {
        "status": order.get_status_display()}, code=ErrorCode.INVALID_STATE, status=409)


def _sees_order(actor, order, linked=None) -> bool:
    # Order.scope_filter, for one order in hand.
    return (_operator(actor) or _provider_of(actor, order.provider_id) or _assigned_caregiver(actor, order)
            or _family_of(actor, order.elder_id, linked) or within(actor, order.region_code))


def may_see_photo_order(actor, order, *, linked=None) -> Decision:
    """Everyone who sees the order sees its photo (404 when there is none)."""
    return _then(allow_if(_sees_order(actor, order, linked), NOT_YOURS),
                 lambda: allow_if(bool(order.check_out_photo), _("该订单没有服务照片。"),
                                  code=ErrorCode.NOT_FOUND, status=404))


# Every step of an order, by the name of its button and API route (pages and tests go through these).
ORDER_STEPS = {
    "accept": may_accept_order, "decline": may_decline_order, "assign": may_assign_order,
    "check_in": may_check_in_order, "check_out": may_check_out_order, "confirm": may_confirm_order,
    "rate": may_rate_order, "cancel": may_cancel_order, "no_show": may_record_no_show_order,
}


_FAMILY_RULES = {may_confirm_order, may_rate_order, may_cancel_order}


def order_steps(actor, order, *, linked=None) -> dict[str, Decision]:
    """Every step's decision for one order (the buttons of its page)."""
    return {name: rule(actor, order, linked=linked) if rule in _FAMILY_RULES else rule(actor, order)
            for name, rule in ORDER_STEPS.items()}


# --------------------------------------------------------------------------------------- provider workspace


def may_view_workspace(actor, provider) -> Decision:
    """The provider's own workspace; the bureau of the provider's area looks at it (read-only)."""
    return allow_if(_operator(actor) or _provider_of(actor, provider.pk)
                    or within(actor, provider.region_id, roles=BUREAU_ONLY),
                    _("只有该服务机构或其所在辖区民政部门可以查看其工作台。"))


def may_run_workspace(actor, provider) -> Decision:
    """Who works in it: the provider itself (accepting, dispatching, shifts)."""
    return allow_if(_operator(actor) or _provider_of(actor, provider.pk), _("只有该服务机构可以办理。"))


def may_set_shift(actor, caregiver) -> Decision:
    """A caregiver's shifts (排班) are set by the provider they work for."""
    return allow_if(_operator(actor) or _provider_of(actor, caregiver.organisation_id),
                    _("只有护理员所在机构可以安排其班次。"))


def may_remove_shift(actor, shift) -> Decision:
    return may_set_shift(actor, shift.caregiver)


# ---------------------------------------------------------------------------------------- catalogue


def may_publish_price(actor, jurisdiction_code: str) -> Decision:
    """市场价 and 普惠价 are published by the jurisdiction's own bureau."""
    return allow_if(_operator(actor) or within(actor, jurisdiction_code, roles=BUREAU_ONLY), BUREAU_OF_JURISDICTION)


def may_adopt_subsidy_rule(actor, jurisdiction_code: str) -> Decision:
    return allow_if(_operator(actor) or within(actor, jurisdiction_code, roles=BUREAU_ONLY), BUREAU_OF_JURISDICTION)


def may_declare_offer(actor, provider) -> Decision:
    """A provider declares what it offers where; the bureau of its area may declare it on its behalf."""
    return allow_if(_operator(actor) or _provider_of(actor, provider.pk)
                    or within(actor, provider.region_id, roles=BUREAU_ONLY),
                    _("只有该机构或其所在辖区民政部门可以申报服务项目。"))


# ---------------------------------------------------------------------------------------- settlement


def _draft(settlement, step) -> Decision:
    return allow_if(settlement.status == SettlementStatus.DRAFT,
                    _("%(month)s 的结算单状态为“%(status)s”，不能%(step)s。") % {
                        "month": settlement.month.strftime("%Y-%m"), "status": settlement.get_status_display(),
                        "step": step}, code="settlement_closed", status=409)


def may_prepare_settlement(actor, jurisdiction_code: str, *, statement=None) -> Decision:
    """The county's bureau prepares a provider's statement, again while it is a draft (`statement`: the one
    already prepared for that provider and month, if any)."""
    bureau = allow_if(_operator(actor) or within(actor, jurisdiction_code, roles=BUREAU_ONLY), BUREAU_OF_JURISDICTION)
    return _then(bureau, lambda: _draft(statement, _("重新生成")) if statement is not None else ALLOW)


def may_approve_settlement(actor, settlement) -> Decision:
    return _then(allow_if(_operator(actor) or within(actor, settlement.jurisdiction_id, roles=BUREAU_ONLY),
                          BUREAU_OF_JURISDICTION),
                 lambda: _draft(settlement, _("审核")))


def may_export_settlement(actor, settlement) -> Decision:
    """The payment file, once approved, by the county's bureau (providers read the statement's page)."""
    return _then(allow_if(_operator(actor) or within(actor, settlement.jurisdiction_id, roles=BUREAU_ONLY),
                          BUREAU_OF_JURISDICTION),
                 lambda: allow_if(settlement.status != SettlementStatus.DRAFT, _("结算单尚未审核，不能导出。"),
                                  code="settlement_not_approved", status=409))


# ---------------------------------------------------------------------------------------- follow-ups


def may_sample_follow_ups(actor, jurisdiction_code: str) -> Decision:
    """Bureau, street or community staff draw the sample of their own area."""
    return allow_if(_operator(actor) or within(actor, jurisdiction_code), REGION_STAFF_OF_AREA)


def may_record_follow_up(actor, call) -> Decision:
    """Bureau, street or community staff of the elder's area call back (providers read the results)."""
    return allow_if(_operator(actor) or within(actor, call.region_code), REGION_STAFF_OF_AREA)


# ---------------------------------------------------------------------------------------- standing orders


def may_stop_recurring_order(actor, recurring, *, linked=None) -> Decision:
    """The elder or their family, whoever set it up, or region staff of the elder's area, while it runs."""
    who = allow_if(_operator(actor) or _family_of(actor, recurring.elder_id, linked) or _placed_by(actor, recurring)
                   or within(actor, recurring.region_code), _("您无权停止该周期服务。"))
    return _then(who, lambda: allow_if(recurring.active, _("该周期服务已停止。"), code=ErrorCode.INVALID_STATE,
                                       status=409))
