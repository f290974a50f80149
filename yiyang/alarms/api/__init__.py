"""Emergency alarms (紧急呼叫) over REST, mounted at /api/v1/alarms: the alarms and their life cycle (acknowledge,
dispatch, on site, resolve, close, call notes; an alarm taken by phone), the devices, their vendors and secrets,
the quarantined events of unknown devices, the maintainers' tasks, the duty rota and who is on duty now, the
service levels, the caller's notifications, and the statistics of an area's month.

Scoped exactly like the pages (`Model.objects.restrict(user)`, one selector per list): an object outside the
caller's scope answers 404. Who may take which step is decided by policy.py through the services (403 not
yours, 409 not now). The vendors' webhook is not here (the ingest's own module, signed by the vendor).
"""

from ninja import Router

from . import alarms, devices, notifications, rota, stats

router = Router(tags=["alarms"])
for topic in (alarms, devices, rota, notifications, stats):
    router.add_router("", topic.router)
