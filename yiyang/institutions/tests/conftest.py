"""The institutions tests' world.

    roles   the assessment world (demo roles, two assessors and a reviewer of the agency)
    world   roles, and 福寿养老院 (民办, 登科街道) with its manager `carehome`: room 101 with beds 1 and 2 (护理型)
            and room 102 with beds 1 and 2 (not), all free since 2026-01-01; the elder 老人1 (独居, assessed
            轻度失能) and 老人2 (assessed too)

Tests marked `flushes` (real concurrent transactions, test_concurrency.py) load 巴中's division tree first.
"""

import datetime

import pytest

from yiyang.assessment.tests.factories import assessment_world
from yiyang.core.services import load_regions

from .factories import assessed_elder, make_home, make_room

SINCE = datetime.date(2026, 1, 1)


@pytest.fixture
def roles(request, db):
    if request.node.get_closest_marker("flushes"):
        # Tests on real concurrent transactions empty the database between tests: load 巴中's division tree.
        load_regions(prefix="5119")
    return assessment_world()


@pytest.fixture
def world(roles):
    home, manager = make_home(roles["bureau"])
    nursing = make_room(manager, home, room="101", nursing=True, day=SINCE)
    plain = make_room(manager, home, room="102", day=SINCE)
    return {**roles, "home": home, "manager": manager, "carehome": manager, "beds": nursing + plain,
            "elder": assessed_elder(roles, 1), "elder2": assessed_elder(roles, 2)}
