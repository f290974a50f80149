"""Query budgets of core's list pages and list API endpoints (accounts, the audit log, API tokens), see
query_budget.py: a line per list."""

import pytest

from yiyang.core import audit, services
from yiyang.core.models import AuditAction, Role
from yiyang.core.tests.factories import demo_roles, make_user
from yiyang.core.tests.query_budget import Budget, check, ids, seq

pytestmark = pytest.mark.django_db


def accounts(w, n):
    """Community staff of 登科寺社区 (in the bureau's county)."""
    return [make_user(f"staff{s}", Role.COMMUNITY, region="511903001002") for s in (seq(w) for _ in range(n))]


def events(w, n):
    """Audit events of the community's own, in 登科寺社区."""
    return [audit.record(actor=w["community"], action=AuditAction.UPDATE, object_type="registry.elder",
                         object_id=str(s), object_repr=f"老人{s}", region_code="511903001002")
            for s in (seq(w) for _ in range(n))]


def tokens(w, n):
    return [services.issue_api_token(user=w["bureau"])[1] for _ in range(n)]


BUDGETS = [
    Budget("/accounts/", "bureau", accounts, ceiling=4, shows=lambda u: u.username),
    Budget("/audit/", "bureau", events, ceiling=4, shows=lambda e: e.object_repr),
    Budget("/api/v1/accounts", "bureau", accounts, ceiling=4),
    Budget("/api/v1/audit", "bureau", events, ceiling=4),
    Budget("/api/v1/me/tokens", "bureau", tokens, ceiling=3),  # a plain list (the newest 100)
]


@pytest.mark.parametrize("budget", BUDGETS, ids=ids(BUDGETS))
def test_list_stays_within_its_query_budget(client, budget):
    check(client, demo_roles(), budget)
