"""The demo city's visits: everyone a tier places paired, three past months at 94–98 %, the visitor's day, and
tasks that agree with their records (the history is written set-based)."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from yiyang.core.demo import DEMO_COMMUNITY, build_demo_city
from yiyang.visits import generation, rules, selectors
from yiyang.visits.defaults import MODEL_TIERS
from yiyang.visits.models import (
    FollowUp,
    Outcome,
    Pairing,
    TaskKind,
    TaskStatus,
    Trigger,
    Visitor,
    VisitorKind,
    VisitRecord,
    VisitTask,
)

# The whole city, each step committed as `make demo` does (see services/tests/test_demo.py).
pytestmark = [pytest.mark.flushes, pytest.mark.django_db(transaction=True)]


def test_demo_visits():
    ctx = build_demo_city(seed=7, scale=1 / 200, log=lambda *a: None)
    now = timezone.now()
    month = rules.month_start(timezone.localdate())
    bureau, visitor = ctx.accounts["bureau"], ctx.accounts["visitor"]
    assert visitor.role == "visitor" and visitor.region_id == DEMO_COMMUNITY

    # Every community of the county has its four visitors, every street a social worker.
    kinds = set(Visitor.objects.filter(region_code=DEMO_COMMUNITY).values_list("kind", flat=True))
    assert kinds == {VisitorKind.GRID_WORKER, VisitorKind.CADRE, VisitorKind.CARE_HELPER, VisitorKind.VOLUNTEER}
    assert Visitor.objects.filter(kind=VisitorKind.SOCIAL_WORKER, region_code="511903001").exists()

    # Everyone a tier places this month is paired, with a backup who is someone else.
    place = generation.placement(rules.parse(MODEL_TIERS), month=month, area_code="511903")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT f.elder_id FROM ({place.sql}) f WHERE f.tier IS NOT NULL", place.params)
        tiered = {row[0] for row in cursor.fetchall()}
    open_pairings = Pairing.objects.filter(until__isnull=True)
    assert tiered and tiered <= set(open_pairings.values_list("elder_id", flat=True))
    assert not open_pairings.filter(backup__isnull=True).exists()

    # The past months' coverage: 94–98 %, with overdue visits left for the street.
    for k in (3, 2, 1):
        cov = selectors.coverage(bureau, month=rules.add_months(month, -k))["total"]
        assert cov.due > 0 and 0.94 <= cov.rate <= 0.98, (k, cov)
        assert cov.overdue == cov.due - cov.done

    # The visitor's phone: open tasks today, one of them ad hoc and due today, one overdue.
    day = list(selectors.visitor_day(visitor))
    assert day
    tomorrow = generation.day_start(timezone.localdate() + datetime.timedelta(days=1))
    ad_hoc = [t for t in day if t.kind == TaskKind.AD_HOC]
    assert len(ad_hoc) == 1 and now < ad_hoc[0].due_at <= tomorrow
    assert sum(1 for t in day if t.due_at < now) == 1

    # Three visits not finding someone raised a task for the community, which was done.
    raised = VisitTask.objects.filter(trigger=Trigger.FAILED_ATTEMPTS)
    assert raised.exists() and not raised.exclude(status=TaskStatus.DONE).exists()
    assert VisitTask.objects.filter(failed_attempts=3).count() == raised.count()
    # Needs found on visits became service orders and assessment requests; phone visits were made.
    assert FollowUp.objects.filter(order__isnull=False).exists()
    assert FollowUp.objects.filter(assessment__isnull=False).exists()
    assert VisitRecord.objects.filter(method="phone", counts=True).exists()

    # Nothing in the future, and the tasks agree with their records (as record_visit would have left them).
    assert not VisitRecord.objects.filter(visited_at__gt=now).exists()
    for task in VisitTask.objects.filter(status=TaskStatus.DONE).prefetch_related("records"):
        counting = sorted(r.visited_at for r in task.records.all() if r.counts)
        assert counting and task.done_at == counting[0], task.pk
        assert task.failed_attempts == sum(1 for r in task.records.all()
                                           if r.outcome in (Outcome.NOT_HOME, Outcome.REFUSED))
    assert not VisitRecord.objects.filter(counts=True, task__status=TaskStatus.OPEN).exists()
