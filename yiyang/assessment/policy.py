"""Authority over assessments: who may take which step, and who sees which part of one (core/policy.py).

One function per rule, `may_<step>_assessment(actor, a) -> Decision`. The services call `.require()` at the top
of their transaction (after locking the row, since most rules read its state); the pages draw a button only
when the same decision allows it; the API goes through the services. Whether an actor can see an assessment at
all is `Assessment.scope_filter` (404 outside it); these rules assume the object came through `restrict()`.

The workflow and who acts in it:

    request (region staff of the elder's jurisdiction, the elder or family)
      → the agency's desk: any assessor of the agency names two assessors (assign)
      → the two fill in the tablet form and submit (answer, submit)
      → another assessor of the agency reviews: publish or return (four eyes)
      → dispute (region staff, the elder or family) / correct (the agency) / cancel (region staff, the requester)

What an assessment shows (`disclosure`), the same in the page, the API and the PDF report:

    part                                                       bureau  street/community  agency*  elder/family
    level, total, indicator subtotals, validity, dates           yes         yes           yes        yes
    the rule that changed the level, without its facts           yes         yes           yes        yes
    the 26 item scores                                           yes          —            yes        yes
    Annex A: diagnoses, medication, risk events, informant;      yes          —            yes        yes
      the adjustments in words ("确诊痴呆（F03）", "跌倒1次")
    visit details: address, phone, a contact (no bank, no ID)    yes         yes       until visited  yes

    * of the agency: the two assessors, the reviewer, and any assessor of the agency while it awaits review.
      An assessor who sees it otherwise (a request on the agency's desk, one they assigned to others or
      whose correction they requested) sees the summary and, until the visit, the visit details.

Street and community workers request assessments and act on the level (benefits, care plans); they see
neither the item scores nor the health record. Every read that shows the health record is audited
(`services.open_record`).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role
from yiyang.core.policy import ALLOW, REGION_STAFF, Decision, allow_if, deny, has_role, is_superuser, within

from .models import EDITABLE_STATUSES, OPEN_STATUSES, Status

# Statuses in which the assessors still have to visit (a submitted form has been filled in at the visit).
VISIT_STATUSES = ("requested", "assigned", "in_progress", "returned")

NOT_ASSIGNED = "not_assigned"      # a tablet tells "not one of your two" apart from other refusals
OWN_ASSESSMENT = "own_assessment"  # the reviewer took part in the assessment (four eyes)


def _state(reason) -> Decision:
    return deny(reason, code=ErrorCode.INVALID_STATE, status=409)


def _signed_in(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", True)


def _of_agency(actor, a) -> bool:
    """An active assessor account of the agency the assessment went to (superusers stand in for any)."""
    if is_superuser(actor) and _signed_in(actor):
        return True
    return (has_role(actor, Role.ASSESSOR) and bool(actor.organisation_id) and a.agency_id is not None
            and actor.organisation_id == a.agency_id)


def _named(actor, a) -> bool:
    return _signed_in(actor) and a.is_assessor(actor)


def acts_for_elder(actor, elder) -> bool:
    """Region staff whose jurisdiction holds the elder, or the elder/family linked to them."""
    from yiyang.registry.models import Elder

    if not _signed_in(actor):
        return False
    if is_superuser(actor):
        return True
    if has_role(actor, *REGION_STAFF):
        return Elder.objects.restrict(actor, "change").filter(pk=elder.pk).exists()
    if has_role(actor, Role.FAMILY, Role.ELDER):
        return Elder.objects.restrict(actor, "view").filter(pk=elder.pk).exists()
    return False


def _is_current(a) -> bool:
    from .models import CurrentLevel

    return CurrentLevel.objects.filter(elder_id=a.elder_id, assessment_id=a.pk).exists()


# ------------------------------------------------------------------------------------------------- steps

def may_set_policy(actor, region) -> Decision:
    """The jurisdiction's settings (stacking, validity): the bureau whose jurisdiction holds the region."""
    return allow_if(within(actor, region.code, roles=(Role.BUREAU,)), _("只有本辖区民政部门可以执行此操作。"))


def may_request_assessment(actor, elder) -> Decision:
    if not acts_for_elder(actor, elder):
        return deny(_("您只能为本辖区的老年人（或本人、家属）申请评估。"))
    return ALLOW


def may_change_agency_assessment(actor, a) -> Decision:
    """Region staff of the elder's jurisdiction send a request to another agency before it is assigned."""
    if not (has_role(actor, *REGION_STAFF) and acts_for_elder(actor, a.elder)):
        return deny(_("只有所在辖区工作人员可以更换评估机构。"))
    if a.status != Status.REQUESTED:
        return _state(_("只有待派单的评估可以更换评估机构。"))
    return ALLOW


def may_assign_assessment(actor, a) -> Decision:
    """Any assessor of the agency names the two assessors and the day; again until the form is submitted."""
    if not _of_agency(actor, a):
        return deny(_("只有承接该评估的评估机构可以派单。"))
    if a.status not in (Status.REQUESTED, *EDITABLE_STATUSES):
        return _state(_("当前状态为“%(status)s”，不能派单。") % {"status": a.get_status_display()})
    return ALLOW


def may_answer_assessment(actor, a) -> Decision:
    """Only the two assessors named on it fill in the form, while it is theirs to edit."""
    if not (_named(actor, a) or (is_superuser(actor) and _signed_in(actor))):
        return deny(_("您不是这次评估的评估员，不能填写或提交。"), code=NOT_ASSIGNED)
    if a.is_result:
        return deny(_("已发布的评估结果不能修改；如需更正，请发起新的评估。"), code="result_immutable", status=409)
    if a.status == Status.SUBMITTED:
        return _state(_("评估已提交审核，不能再修改；如需修改请由审核人退回。"))
    if a.status not in EDITABLE_STATUSES:
        return _state(_("当前状态为“%(status)s”，不能填写。") % {"status": a.get_status_display()})
    return ALLOW


def may_submit_assessment(actor, a) -> Decision:
    """Submitting is the last answer: the same two assessors, in the same states."""
    return may_answer_assessment(actor, a)


def _review(actor, a) -> Decision:
    if _named(actor, a):
        return deny(_("评估员不能审核自己参与的评估，请由本机构其他评估员审核。"), code=OWN_ASSESSMENT)
    if not _of_agency(actor, a):
        return deny(_("只有承接该评估的评估机构可以审核。"))
    if a.status != Status.SUBMITTED:
        return _state(_("只有待审核的评估可以审核（当前：%(status)s）。") % {"status": a.get_status_display()})
    return ALLOW


def may_publish_assessment(actor, a) -> Decision:
    """Review: an assessor of the agency other than the two who assessed approves and publishes."""
    return _review(actor, a)


def may_return_assessment(actor, a) -> Decision:
    """Review: the same reviewer may send the form back to the two assessors instead."""
    return _review(actor, a)


def may_dispute_assessment(actor, a) -> Decision:
    """The elder, family or region staff of the elder's jurisdiction dispute the current published result."""
    if not acts_for_elder(actor, a.elder):
        return deny(_("只有老年人本人、家属或所在辖区工作人员可以提出异议。"))
    if a.status != Status.PUBLISHED:
        return _state(_("只能对已发布的评估结果提出异议。"))
    if not _is_current(a):
        return _state(_("只能对老年人当前的评估结果提出异议。"))
    return ALLOW


def may_correct_assessment(actor, a) -> Decision:
    """The agency that did it corrects the current result through a new assessment."""
    if not _of_agency(actor, a):
        return deny(_("只有完成该评估的评估机构可以更正。"))
    if a.status != Status.PUBLISHED or not _is_current(a):
        return _state(_("只能更正老年人当前的、无异议的评估结果。"))
    return ALLOW


def may_cancel_assessment(actor, a) -> Decision:
    """Region staff of the elder's jurisdiction, or whoever requested it, while it is under way."""
    allowed = (is_superuser(actor) and _signed_in(actor)) or (
        has_role(actor, *REGION_STAFF) and acts_for_elder(actor, a.elder)) or (
        _signed_in(actor) and a.requested_by_id is not None and a.requested_by_id == actor.pk)
    if not allowed:
        return deny(_("只有申请人或所在辖区工作人员可以取消评估。"))
    if a.status not in OPEN_STATUSES:
        return _state(_("只有进行中的评估可以取消。"))
    return ALLOW


def may_view_report_assessment(actor, a) -> Decision:
    """The printable report: whoever sees the assessment, once a result has been computed (draft until
    published); what it shows is `disclosure`."""
    if not _signed_in(actor):
        return deny(_("您的角色无权执行此操作。"))
    if a.final_level is None:
        return _state(_("评估尚未提交，还没有报告。"))
    return ALLOW


# --------------------------------------------------------------------------------------- what is shown

def may_view_items_assessment(actor, a) -> Decision:
    """The 26 item scores (how the person manages eating, continence, stairs…)."""
    return _health_reader(actor, a, _("各项得分仅评估机构、民政局和老年人本人/家属可见。"))


def may_view_health_assessment(actor, a) -> Decision:
    """Annex A (diagnoses, medication, care-risk events, health problems, the informant) and the adjustments
    in words, which name them. Each read is audited."""
    return _health_reader(actor, a, _("疾病诊断、用药等健康信息仅评估机构、民政局和老年人本人/家属可见。"))


def _health_reader(actor, a, reason) -> Decision:
    if not _signed_in(actor):
        return deny(reason)
    if is_superuser(actor) or has_role(actor, Role.BUREAU, Role.FAMILY, Role.ELDER):
        return ALLOW
    if has_role(actor, Role.ASSESSOR):
        # The two who assessed, the reviewer, and the agency's reviewers while it awaits review.
        reviewing = a.status == Status.SUBMITTED and _of_agency(actor, a)
        return allow_if(_named(actor, a) or a.reviewed_by_id == actor.pk or reviewing, reason)
    return deny(reason)


def may_view_visit_assessment(actor, a) -> Decision:
    """Address, phone and a contact to arrange the visit. The agency has them while a visit is to be made;
    region staff and the family have them in the register anyway."""
    reason = _("上门信息仅在评估完成前向评估机构提供。")
    if not _signed_in(actor):
        return deny(reason)
    if is_superuser(actor) or has_role(actor, *REGION_STAFF, Role.FAMILY, Role.ELDER):
        return ALLOW
    if has_role(actor, Role.ASSESSOR):
        return allow_if(a.status in VISIT_STATUSES and (_of_agency(actor, a) or _named(actor, a)), reason)
    return deny(reason)


@dataclass(frozen=True)
class Disclosure:
    """Which parts of one assessment an actor is shown; the summary (level, totals) always."""

    items: bool
    health: bool
    visit: bool


def disclosure(actor, a) -> Disclosure:
    return Disclosure(items=bool(may_view_items_assessment(actor, a)),
                      health=bool(may_view_health_assessment(actor, a)),
                      visit=bool(may_view_visit_assessment(actor, a)))


def steps(actor, a) -> dict[str, Decision]:
    """Every step's decision for one assessment, for the page's buttons (`{% if may.publish %}`)."""
    return {
        "change_agency": may_change_agency_assessment(actor, a), "assign": may_assign_assessment(actor, a),
        "answer": may_answer_assessment(actor, a), "publish": may_publish_assessment(actor, a),
        "return": may_return_assessment(actor, a), "dispute": may_dispute_assessment(actor, a),
        "correct": may_correct_assessment(actor, a), "cancel": may_cancel_assessment(actor, a),
        "report": may_view_report_assessment(actor, a),
    }
