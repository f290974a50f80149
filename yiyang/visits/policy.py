"""Visits: who may take which step (the convention: core/policy.py).

The bureau owns the tier rules of its jurisdiction. Street and community workers pair their people with
visitors, raise and cancel tasks, and may record a visit for anyone of their area (a cadre covering for a
colleague). A visitor records visits only for the elders paired with them, as responsible visitor or backup.
"""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from yiyang.core import policy as core
from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role

from .models import FollowUpStatus, TaskStatus

ONLY_BUREAU = _("只有本辖区民政部门可以制定巡访规则。")
AREA_STAFF = (Role.BUREAU, Role.STREET, Role.COMMUNITY)


def _invalid_state(reason) -> core.Decision:
    return core.deny(reason, code=ErrorCode.INVALID_STATE, status=409)


def may_draft_rule_set(actor, jurisdiction) -> core.Decision:
    return core.allow_if(core.within(actor, jurisdiction.code, roles=(Role.BUREAU,)), ONLY_BUREAU)


def may_adopt_rule_set(actor, rule_set) -> core.Decision:
    if not core.within(actor, rule_set.jurisdiction.code, roles=(Role.BUREAU,)):
        return core.deny(ONLY_BUREAU)
    if rule_set.status != "draft":
        return _invalid_state(_("只有草稿可以启用。"))
    return core.ALLOW


def may_manage_visitors(actor, region_code: str) -> core.Decision:
    """Adding visitors, pairing and re-pairing in an area: its street or community workers (or the bureau)."""
    return core.allow_if(core.within(actor, region_code, roles=AREA_STAFF),
                         _("只有所在街道、社区工作人员可以安排包联。"))


def may_raise_task(actor, elder) -> core.Decision:
    if core.within(actor, elder.residence_region_id, roles=AREA_STAFF):
        return core.ALLOW
    if core.has_role(actor, Role.FAMILY, Role.ELDER) and elder.family_links.filter(user=actor).exists():
        return core.ALLOW
    return core.deny(_("您无权为该老人安排探访。"))


def may_cancel_task(actor, task) -> core.Decision:
    if not core.within(actor, task.region_code, roles=AREA_STAFF):
        return core.deny(_("只有所在街道、社区工作人员可以取消巡访任务。"))
    if task.status != TaskStatus.OPEN:
        return _invalid_state(_("该任务已结束。"))
    return core.ALLOW


def is_paired_visitor(actor, elder) -> bool:
    """The actor is the elder's responsible visitor or backup today."""
    if not core.has_role(actor, Role.VISITOR) or core.is_superuser(actor):
        return False
    return elder.visit_pairings.filter(Q(visitor__user=actor) | Q(backup__user=actor), until__isnull=True).exists()


def may_record_visit(actor, elder) -> core.Decision:
    """The paired visitor or backup; or a street or community worker covering the elder's area."""
    if is_paired_visitor(actor, elder):
        return core.ALLOW
    if core.within(actor, elder.residence_region_id, roles=(Role.STREET, Role.COMMUNITY)):
        return core.ALLOW
    return core.deny(_("您不是该老人的包联人，也不负责其所在社区，不能登记巡访。"))


def may_close_follow_up(actor, follow_up) -> core.Decision:
    if not core.within(actor, follow_up.region_code, roles=AREA_STAFF):
        return core.deny(_("只有所在街道、社区工作人员可以处理后续事项。"))
    if follow_up.status != FollowUpStatus.OPEN:
        return _invalid_state(_("该事项已处理。"))
    return core.ALLOW
