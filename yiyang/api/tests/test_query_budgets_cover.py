"""Every list endpoint of the API has a query budget (core/tests/query_budget.py) in its app's
tests/test_query_budgets.py, so a new domain's list cannot be forgotten: add a line to its table."""

import importlib
import re

from yiyang.api.tests.schema_walk import operations
from yiyang.api.tests.test_pagination import _returns_a_list

APPS = ("core", "registry", "assessment", "benefits", "services", "routing", "visits", "alarms", "institutions")
# Lists whose rows are not made by the application's users, so a budget cannot add any.
WITHOUT_BUDGET = {
    "GET /api/v1/regions": "the national division tree, loaded once (a lookup of at most `limit` matches)",
    "GET /api/v1/assessments/templates": "the assessment standards the code ships (two)",
}


def budget_urls() -> list[str]:
    urls = []
    for app in APPS:
        for budget in importlib.import_module(f"yiyang.{app}.tests.test_query_budgets").BUDGETS:
            url = budget.url if isinstance(budget.url, str) else "/" + budget.url.__name__
            urls.append(url)
    return urls


def list_endpoints() -> list[str]:
    return [o.label for o in operations()
            if o.method == "GET" and (getattr(o.op.view_func, "_ninja_is_paginated", False) or _returns_a_list(o.op))]


def test_every_list_endpoint_has_a_query_budget():
    urls = budget_urls()
    missing = []
    for label in list_endpoints():
        if label in WITHOUT_BUDGET:
            continue
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", r"[^/]+", re.escape(label.split(" ", 1)[1])) + "$")
        if not any(pattern.match(re.sub(r"<\w+>", "1", url)) for url in urls):
            missing.append(label)
    assert not missing, f"list endpoints without a query budget (tests/test_query_budgets.py): {missing}"
    assert len(list_endpoints()) >= 20
