"""The benefits tests' world, built once here; a test file that needs a slightly different one extends it with
a fixture of the same name.

    longevity   the demo roles (also under "roles") and 高龄津贴 in 恩阳区 (80–89: 50, 90–99: 100, 100+: 500)
    world       longevity and three elders with a valid bank account: 老人1 (91) and 老人2 (85) in 登科街道,
                老人3 (82) in 文治街道 (under "elders", keys a, b, c)
"""

import pytest

from yiyang.benefits.tests import factories as f
from yiyang.benefits.tests.test_api import born, luhn_account
from yiyang.core.tests.factories import demo_roles

OTHER_STREET_COMMUNITY = "511903002001"  # 文治街道 文治居民委员会


@pytest.fixture
def longevity(db):
    roles = demo_roles()
    prog = f.programme()
    f.rule(prog, f.LONGEVITY)
    return {**roles, "roles": roles, "prog": prog}


@pytest.fixture
def world(longevity):
    c = longevity["community"]
    elders = {
        "a": f.elder(c, 1, birth=born(91), bank_name="农业银行", bank_account=luhn_account(1)),
        "b": f.elder(c, 2, birth=born(85), bank_name="农业银行", bank_account=luhn_account(2)),
        "c": f.elder(longevity["bureau"], 3, birth=born(82), residence=OTHER_STREET_COMMUNITY, bank_name="农业银行",
                     bank_account=luhn_account(3)),
    }
    return {**longevity, "elders": elders}
