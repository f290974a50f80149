"""routing.policy: who may plan, lock and publish; the caregiver app gets the route order through the registry."""

from pathlib import Path

import pytest

from yiyang.core import registry
from yiyang.core.tests.factories import make_org, make_user
from yiyang.routing import policy
from yiyang.routing.selectors import visit_sequence

pytestmark = pytest.mark.django_db


def test_who_may_plan_and_dispatch(world):
    org = world["org"]
    other = make_org("其他服务机构", region=org.region_id, credit_code="91511900MA0000002X")
    own, bureau = world["provider"], world["bureau"]
    stranger = make_user("other_dispatcher", "provider", organisation=other)
    assert policy.may_plan_routes(own, org) and policy.may_dispatch_routes(own, org)
    assert policy.may_plan_routes(bureau, org) and not policy.may_dispatch_routes(bureau, org)
    refused = policy.may_dispatch_routes(stranger, org)
    assert not refused and str(refused.reason) == "只有本机构的调度人员可以排线和发布。"
    assert not policy.may_plan_routes(stranger, org) and not policy.may_plan_routes(world["caregiver"], org)


def test_routing_fills_the_visit_sequences_extension_point():
    assert visit_sequence in registry.items("visit_sequences")
    import yiyang.services.views_caregiver as caregiver_app

    assert "yiyang.routing" not in Path(caregiver_app.__file__).read_text(encoding="utf-8")
