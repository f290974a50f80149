"""Alarms: who may take which step (the convention: core/policy.py).

The duty desk (值班接警员 of the county's call centre or a street) and the street and community workers of the
elder's area handle alarms: acknowledge, dispatch, resolve, close; the bureau too, as the last step of the
escalation chain. The person an alarm was dispatched to (a caregiver or a visitor with an account) reports
arriving and may resolve it from the phone. Devices are registered by the area's workers and the device's
maintainer (服务机构); vendors, their secrets and the service level belong to the bureau; the rota to the bureau
and the street.
"""

from django.utils.translation import gettext_lazy as _

from yiyang.core import policy as core
from yiyang.core.errors import ErrorCode
from yiyang.core.models import Role

from .models import AlarmStatus

HANDLERS = (Role.OPERATOR, Role.STREET, Role.COMMUNITY, Role.BUREAU)
NOT_YOURS = _("该报警不在您的值守范围内。")


def _invalid_state(reason) -> core.Decision:
    return core.deny(reason, code=ErrorCode.INVALID_STATE, status=409)


def _handler(actor, alarm) -> bool:
    return core.within(actor, alarm.region_code, roles=HANDLERS)


def _responder(actor, alarm) -> bool:
    return (alarm.responder_user_id is not None and getattr(actor, "pk", None) == alarm.responder_user_id
            and core.has_role(actor, Role.CAREGIVER, Role.VISITOR, Role.COMMUNITY, Role.STREET))


def _step(actor, alarm, allowed_from, message, *, responder_may=False) -> core.Decision:
    if not (_handler(actor, alarm) or (responder_may and _responder(actor, alarm))):
        return core.deny(NOT_YOURS)
    if alarm.status not in allowed_from:
        return _invalid_state(message)
    return core.ALLOW


def may_acknowledge(actor, alarm) -> core.Decision:
    return _step(actor, alarm, {AlarmStatus.RAISED}, _("该报警已有人接警。"))


def may_dispatch(actor, alarm) -> core.Decision:
    # Re-dispatching (the first responder cannot go) is allowed until someone is on site.
    return _step(actor, alarm, {AlarmStatus.ACKNOWLEDGED, AlarmStatus.DISPATCHED},
                 _("请先接警；到场后不能再派单。"))


def may_mark_on_site(actor, alarm) -> core.Decision:
    return _step(actor, alarm, {AlarmStatus.DISPATCHED}, _("只有已派单的报警可以登记到场。"), responder_may=True)


def may_resolve(actor, alarm) -> core.Decision:
    return _step(actor, alarm, {AlarmStatus.ACKNOWLEDGED, AlarmStatus.DISPATCHED, AlarmStatus.ON_SITE},
                 _("只有已接警、未处置完毕的报警可以登记处置结果。"), responder_may=True)


def may_close(actor, alarm) -> core.Decision:
    return _step(actor, alarm, {AlarmStatus.RESOLVED}, _("只有已处置的报警可以归档。"))


def may_add_note(actor, alarm) -> core.Decision:
    if not (_handler(actor, alarm) or _responder(actor, alarm)):
        return core.deny(NOT_YOURS)
    if alarm.status == AlarmStatus.CLOSED:
        return _invalid_state(_("该报警已归档。"))
    return core.ALLOW


STEPS = {
    "acknowledge": may_acknowledge,
    "dispatch": may_dispatch,
    "on_site": may_mark_on_site,
    "resolve": may_resolve,
    "close": may_close,
    "note": may_add_note,
}


def next_steps(actor, alarm) -> list[str]:
    """The steps the actor may take on the alarm now, in the life cycle's order (the page draws its buttons
    from this, the services check the same functions)."""
    return [name for name, rule in STEPS.items() if rule(actor, alarm)]


def may_see_elder_summary(actor, alarm) -> core.Decision:
    """What an alarm shows of the elder (address, contacts, ability level, visits: `selectors.alarm_summary`) is
    for whoever handles it or was sent to it, not for everyone who may see the alarm (a family, a maintainer)."""
    return core.allow_if(_handler(actor, alarm) or _responder(actor, alarm), NOT_YOURS)


def may_raise_manual(actor, elder) -> core.Decision:
    """An alarm taken by phone (老人或邻居来电): the duty desk and the area's workers."""
    return core.allow_if(core.within(actor, elder.residence_region_id, roles=HANDLERS),
                         _("只有值班接警员和所在街道、社区工作人员可以登记报警。"))


def may_manage_devices(actor, region_code: str, maintainer_id=None) -> core.Decision:
    if core.within(actor, region_code, roles=(Role.BUREAU, Role.STREET, Role.COMMUNITY)):
        return core.ALLOW
    if (maintainer_id is not None and core.has_role(actor, Role.PROVIDER)
            and getattr(actor, "organisation_id", None) == maintainer_id):
        return core.ALLOW
    return core.deny(_("只有所在区域工作人员或设备运维机构可以登记设备。"))


def may_manage_vendors(actor, jurisdiction_code: str) -> core.Decision:
    return core.allow_if(core.within(actor, jurisdiction_code, roles=(Role.BUREAU,)),
                         _("只有本辖区民政部门可以管理设备厂商和接入密钥。"))


def may_set_service_level(actor, jurisdiction_code: str) -> core.Decision:
    return core.allow_if(core.within(actor, jurisdiction_code, roles=(Role.BUREAU,)),
                         _("只有本辖区民政部门可以设定响应时限和升级规则。"))


def may_manage_rota(actor, region_code: str) -> core.Decision:
    return core.allow_if(core.within(actor, region_code, roles=(Role.BUREAU, Role.STREET)),
                         _("只有民政局和街道可以排班。"))


def may_finish_maintenance(actor, task) -> core.Decision:
    decision = may_manage_devices(actor, task.region_code, task.device.maintainer_id)
    if not decision:
        return decision
    if task.status != "open":
        return _invalid_state(_("该运维任务已处理。"))
    return core.ALLOW
