"""What the planner says to people, in one place: the reasons a visit was not routed and the notes on a plan.

The solver (pure Python, English) returns stable codes (`solver.Reason`); a plan stores each code with the
few facts the sentence needs (times, skill, caregiver name), and the sentence is rendered here in the reader's
language when the page or the API shows it. `NO_LOCATION` is decided before the solver runs.
"""

from django.utils.translation import gettext_lazy as _

from .solver import Reason

NO_LOCATION = "no_location"

REASONS = {
    NO_LOCATION: _("老人住址没有经纬度，无法排线"),
    Reason.INVALID_WINDOW: _("时间窗无效：最晚开始 %(latest)s 早于最早开始 %(earliest)s"),
    Reason.WINDOW_CLOSED: _("时间窗已过（最晚开始 %(latest)s，现在 %(now)s），请改约时间"),
    Reason.OUTSIDE_AREA: _("老人住址的经纬度在本区县范围之外，请核对住址坐标"),
    Reason.NO_CAREGIVERS: _("当天没有可排线的护理员（无人在职或无人排班）"),
    Reason.NO_SKILL: _("当天排线的护理员都不具备“%(skill)s”技能"),
    Reason.LOCKED_UNAVAILABLE: _("锁定的护理员 %(caregiver)s 当天不在班"),
    Reason.LOCKED_LACKS_SKILL: _("锁定的护理员 %(caregiver)s 不具备“%(skill)s”技能"),
    Reason.STARTED_WITHOUT_CAREGIVER: _("订单已签到，但没有护理员"),
    Reason.DUPLICATE_STARTED: _("护理员 %(caregiver)s 同时还有另一单正在服务"),
    Reason.UNREACHABLE: _("时间窗 %(earliest)s–%(latest)s 在任何护理员的班次内都赶不到"),
    "unreachable_locked": _("时间窗 %(earliest)s–%(latest)s 在锁定护理员 %(caregiver)s 的班次内赶不到"),
    Reason.DROPPED: _("护理员的工作时间不够，未能排入（可增加排班或改约时间）"),
    Reason.SOLVER_INFEASIBLE: _("在时间限制内没有找到护理员 %(caregiver)s 的可行路线，请延长排线时间后重试"),
}
UNKNOWN_REASON = _("未能排入（%(code)s）")

NOTES = {
    "default_shift": _("当天没有任何排班，按 08:00–18:00 为全部在职护理员排线。"),
    "unscheduled": _("当天没有排班、未参与排线的护理员：%(names)s。"),
    "centroid_start": _("未登记住址经纬度的护理员以当天服务点的中心为起点和终点：%(names)s。"),
    "replan_now": _("按当前时间 %(now)s 重新排线：已签到的服务保持原护理员，时间窗已过的订单单独列出。"),
    "time_limit": _("搜索在 %(seconds)s 秒时间限制处停止，再次排线的结果可能略有不同。"),
    "no_caregivers": _("当天没有在职的护理员。"),
    "no_orders": _("当天没有待排线的订单（已接单、已派单或服务中）。"),
}


def _render(template, params: dict | None) -> str:
    text = str(template)
    return text % (params or {}) if "%(" in text else text


def reason_text(code: str, params: dict | None = None) -> str:
    params = params or {}
    if code == Reason.UNREACHABLE and params.get("caregiver"):
        code = "unreachable_locked"
    template = REASONS.get(code)
    if template is None:
        return _render(UNKNOWN_REASON, {"code": code})
    try:
        return _render(template, params)
    except (KeyError, TypeError, ValueError):  # a stored plan from an older wording: the bare sentence
        return str(template).split("%(")[0].rstrip("：:（(， ")


def note_text(note: dict) -> str:
    template = NOTES.get(note.get("code", ""))
    if template is None:
        return ""
    try:
        return _render(template, note.get("params"))
    except (KeyError, TypeError, ValueError):
        return ""
