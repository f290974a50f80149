"""Care visits (关爱巡访) over REST, mounted at /api/v1/visits: the tier rule sets (draft, simulate, adopt), visitors
and their pairings (包联), the tasks (the visitor's day, ad-hoc visits after a trigger), visit records as the
phone sends them (replayed safely with `client_key`), the follow-ups a visit found, and the month's coverage.

Scoped exactly like the pages (`Model.objects.restrict(user)`, one selector per list): an object outside the
caller's scope answers 404. Who may take which step is decided by the services (403 not yours, 409 not now).
"""

from ninja import Router

from . import coverage, records, rule_sets, tasks, visitors

router = Router(tags=["visits"])
for topic in (rule_sets, visitors, tasks, records, coverage):
    router.add_router("", topic.router)
