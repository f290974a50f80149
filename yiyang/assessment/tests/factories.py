"""Assessment test helpers: real objects through the real services."""

import datetime

from django.utils import timezone

from yiyang.assessment import services
from yiyang.assessment.models import Reason
from yiyang.core.models import Role
from yiyang.core.tests.factories import demo_roles, make_user
from yiyang.registry.tests.factories import make_elder

# Every GB/T 42195-2022 item at its maximum: 32 + 15 + 28 + 15 = 90 (能力完好).
FULL = {
    "B.1.1": 4, "B.1.2": 4, "B.1.3": 4, "B.1.4": 4, "B.1.5": 4, "B.1.6": 4, "B.1.7": 4, "B.1.8": 4,
    "B.2.1": 4, "B.2.2": 4, "B.2.3": 4, "B.2.4": 3,
    "B.3.1": 4, "B.3.2": 4, "B.3.3": 4, "B.3.4": 4, "B.3.5": 4, "B.3.6": 4, "B.3.7": 1, "B.3.8": 1, "B.3.9": 2,
    "B.4.1": 2, "B.4.2": 2, "B.4.3": 4, "B.4.4": 3, "B.4.5": 4,
}
# B.1: 4+4+3+4+3+4+3+4 = 29; B.2: 4+3+3+2 = 12; B.3: 3+4+4+3+4+4+1+0+2 = 25; B.4: 1+1+3+2+3 = 10
# total 76 → 轻度失能 (1)
MILD = {
    "B.1.1": 4, "B.1.2": 4, "B.1.3": 3, "B.1.4": 4, "B.1.5": 3, "B.1.6": 4, "B.1.7": 3, "B.1.8": 4,
    "B.2.1": 4, "B.2.2": 3, "B.2.3": 3, "B.2.4": 2,
    "B.3.1": 3, "B.3.2": 4, "B.3.3": 4, "B.3.4": 3, "B.3.5": 4, "B.3.6": 4, "B.3.7": 1, "B.3.8": 0, "B.3.9": 2,
    "B.4.1": 1, "B.4.2": 1, "B.4.3": 3, "B.4.4": 2, "B.4.5": 3,
}
MILD_SUBTOTALS = {"B.1": 29, "B.2": 12, "B.3": 25, "B.4": 10}
# B.1: 8×2 = 16; B.2: 2+2+2+1 = 7; B.3: 6×2+0+0+1 = 13; B.4: 1+1+1+1+1 = 5 → total 41 → 重度失能 (3)
SEVERE = {code: 2 for code in FULL}
SEVERE.update({"B.2.4": 1, "B.3.7": 0, "B.3.8": 0, "B.3.9": 1, "B.4.1": 1, "B.4.2": 1, "B.4.3": 1, "B.4.4": 1,
               "B.4.5": 1})
INFO = {"informant_name": "杨志强", "informant_relationship": "child"}


def assessment_world():
    """The demo roles plus a second and third assessor in the agency (two assess, the third reviews)."""
    roles = demo_roles()
    agency = roles["assessor"].organisation
    roles["assessor2"] = make_user("assessor2", Role.ASSESSOR, organisation=agency, display_name="评估员 何静")
    roles["reviewer"] = make_user("reviewer", Role.ASSESSOR, organisation=agency, display_name="审核员 罗军")
    roles["agency"] = agency
    return roles


def elder(roles, seq=1, *, by="community", **kwargs):
    kwargs.setdefault("birth", datetime.date(1938, 6, 1))
    return make_elder(roles[by], seq=seq, **kwargs)


def assigned(roles, person, *, reason=Reason.FIRST, day=None, by="community"):
    a = services.request_assessment(actor=roles[by], elder=person, reason=reason)
    return services.assign(actor=roles["assessor"], assessment=a, assessor_1=roles["assessor"],
                           assessor_2=roles["assessor2"], scheduled_for=day or timezone.localdate())


def submitted(roles, person, items=None, info=None, **kwargs):
    a = assigned(roles, person, **kwargs)
    services.save_answers(actor=roles["assessor"], assessment=a, items=items or MILD, info={**INFO, **(info or {})})
    return services.submit(actor=roles["assessor"], assessment=a)


def published(roles, person, items=None, info=None, **kwargs):
    a = submitted(roles, person, items, info, **kwargs)
    return services.publish(actor=roles["reviewer"], assessment=a)
