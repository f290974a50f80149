"""The visits tests' world.

    home    the demo roles (core.tests.factories.demo_roles), the model tiers adopted for 恩阳区 a year ago, and a
            `visitor` account (赵网格, 网格员 of 登科寺社区) with a second visitor (钱干部) as backup
    world   home and the elder 王秀英 (born 1940, 独居, in 登科寺社区) paired with 赵网格, backed up by 钱干部

Browser tests (marked `flushes`) run against a live server whose database is emptied between tests, so the
world loads 巴中's division tree (5119) first.
"""

import datetime

import pytest

from yiyang.core.services import load_regions
from yiyang.core.tests.factories import demo_roles
from yiyang.registry.tests.factories import make_elder

from .. import services
from .factories import adopt_model_rules, make_visitor


@pytest.fixture
def home(request, db):
    if request.node.get_closest_marker("flushes"):
        load_regions(prefix="5119")
    roles = demo_roles()
    rule_set = adopt_model_rules(roles["bureau"])
    zhao = make_visitor(roles["community"], "赵网格", username="visitor")
    qian = make_visitor(roles["community"], "钱干部", kind="cadre")
    return {**roles, "rule_set": rule_set, "zhao": zhao, "qian": qian, "visitor": zhao.user}


@pytest.fixture
def world(home):
    elder = make_elder(home["bureau"], living_situation="alone", birth=datetime.date(1940, 3, 8),
                       latitude="31.940000", longitude="106.640000")
    services.pair(actor=home["community"], elder=elder, visitor=home["zhao"], backup=home["qian"])
    return {**home, "elder": elder}
