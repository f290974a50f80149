"""Query budgets of the assessment app's list pages and list API endpoints (core/tests/query_budget.py): a line
per list."""

import pytest
from django.utils import timezone

from yiyang.assessment import services
from yiyang.assessment.models import CurrentLevel
from yiyang.assessment.tests.factories import assessment_world, assigned, elder, published
from yiyang.core.tests.query_budget import Budget, check, ids, seq

pytestmark = pytest.mark.django_db


def new_elder(w):
    s = seq(w)
    return elder(w, s, name=f"老人{s}")


def requested(w, n):
    return [services.request_assessment(actor=w["community"], elder=new_elder(w), reason="first") for _ in range(n)]


def in_hand(w, n):
    """Assigned to 评估员 (assessor) and 何静 for today."""
    return [assigned(w, new_elder(w)) for _ in range(n)]


def done(w, n):
    return [published(w, new_elder(w)) for _ in range(n)]


def due(w, n):
    """Published results whose reassessment falls due today."""
    made = done(w, n)
    CurrentLevel.objects.filter(assessment__in=made).update(reassess_by=timezone.localdate())
    return made


def elder_name(a):
    return a.elder.name


BUDGETS = [
    Budget("/assessment/", "community", requested, ceiling=4, shows=elder_name),
    Budget("/assessment/", "bureau", done, ceiling=4, shows=elder_name),
    Budget("/assessment/mine/", "assessor", in_hand, ceiling=3, shows=elder_name),
    Budget("/assessment/inbox/", "assessor", requested, ceiling=7, shows=elder_name),
    Budget("/assessment/due/", "community", due, ceiling=5, shows=elder_name),
    Budget("/api/v1/assessments", "community", requested, ceiling=4),
    Budget("/api/v1/assessments", "bureau", done, ceiling=4),
    Budget("/api/v1/assessments", "assessor", in_hand, ceiling=4),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, budget):
    check(client, assessment_world(), budget)
