"""The services tests' world, built once here; a test file that needs a slightly different one overrides
`elder_fields` (how the elder is made) or extends `home` / `world` with a fixture of the same name.

    home    the demo roles, 恩阳区's catalogue (factories.catalogue) and the elder (王秀英, born 1940: 80+, in
            登科寺社区 unless `elder_fields` says otherwise), linked to `family`
    world   home and 李护理, the `caregiver` account's practitioner at 颐康 (助浴, 助洁)

Browser tests (marked `flushes`) run against a live server whose database is emptied between tests, so the
world loads 巴中's division tree (5119) first.
"""

import datetime

import pytest

from yiyang.core.services import load_regions
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import services as registry
from yiyang.registry.tests.factories import make_elder

from .factories import catalogue, days_ago, link_family, make_caregiver


@pytest.fixture
def elder_fields():
    """make_elder's keywords for the world's elder; a test file overrides this fixture."""
    return {}


@pytest.fixture
def zhang_fields():
    """张秀英, 70 years old (a file's `elder_fields` starts from these for an elder under 80)."""
    return {"name": "张秀英", "birth": datetime.date(1956, 6, 1), "seq": 2}


@pytest.fixture
def home(request, db, elder_fields):
    if request.node.get_closest_marker("flushes"):
        load_regions(prefix="5119")
    roles = demo_roles()
    cat = catalogue(roles)
    elder = make_elder(roles["bureau"], **elder_fields)
    link_family(roles["family"], elder)
    return {**roles, **cat, "elder": elder}


@pytest.fixture
def world(home):
    return {**home, "carer": make_caregiver(home)}


@pytest.fixture
def subsistence(home):
    """The elder has been on 低保 for the last year: 90 % of the provider's price (under the 普惠 ceiling)."""
    registry.add_category(actor=home["bureau"], elder=home["elder"], kind="subsistence", start_date=days_ago(365))
    return home
