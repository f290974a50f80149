"""Home and community services (居家社区养老服务) over REST, mounted at /api/v1/services: the catalogue with the
prices in force, providers' offers, the price split before ordering (quote), and orders through their whole
life cycle (place → accept/decline → assign → check in → check out → confirm → rate; cancel and no-show).

Scoped exactly like the pages (`Model.objects.restrict(user)`): a provider sees its own orders, a caregiver only
the visits assigned to them, the family their linked elder's, bureau, street and community staff those of their
region; an order outside the caller's scope answers 404. Who may take which step is decided by the services
(403 not yours, 409 not now). Money is a string with two decimals ("33.33"), never a float.
"""

from ninja import Router

from . import allowance, catalogue, follow_ups, orders, recurring, shifts

# One sub-router per topic, mounted in the order the operations were documented in.
router = Router(tags=["services"])
for topic in (catalogue, orders, shifts, allowance, follow_ups, recurring):
    router.add_router("", topic.router)
