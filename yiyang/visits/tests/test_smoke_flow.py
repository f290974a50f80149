"""One walk through the domain's core: generate, visit, coverage (the detailed rules have their own files)."""

from yiyang.visits import selectors, services
from yiyang.visits.models import TaskStatus, VisitTask

from .factories import this_month


def test_generate_visit_and_coverage(world):
    month = this_month()
    made = services.generate_month(month=month)
    tasks = list(VisitTask.objects.filter(elder=world["elder"]))
    # 王秀英 lives alone and is 80+ (key tier: monthly), no ability level → one task this month.
    assert made == 1 and [t.tier for t in tasks] == ["key"]
    assert services.generate_month(month=month) == 0  # idempotent
    record, created = services.record_visit(actor=world["visitor"], elder=world["elder"], method="home",
                                            outcome="seen", latitude="31.940100", longitude="106.640000",
                                            client_key="k1")
    assert created and record.counts and record.distance_m == 11
    tasks[0].refresh_from_db()
    assert tasks[0].status == TaskStatus.DONE
    again, created = services.record_visit(actor=world["visitor"], elder=world["elder"], method="home",
                                           outcome="seen", client_key="k1")
    assert not created and again.pk == record.pk
    cov = selectors.coverage(world["street"], month=month)
    assert (cov["total"].due, cov["total"].done, cov["total"].rate) == (1, 1, 1.0)
