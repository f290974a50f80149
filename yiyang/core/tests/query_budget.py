"""Query budgets for list pages and list API endpoints: a list must not run a query per row, and must not
quietly start running more queries than it does today.

Each app's tests/test_query_budgets.py declares its lists as `Budget` rows (a new list adds a line):

    Budget("/registry/elders/", "community", add_elders, ceiling=12)

`add(world, n)` makes n more rows that the role's account sees in the list. `check` adds N rows, reads the list
once to warm what a process caches, counts the queries of one GET, adds N more rows and counts again: the count
must be the same (no N+1); the answer must show the N new rows (an API's `count` or the length of its list, a
page's `shows` text of each row), so a builder that adds nothing visible fails; and the count must stay within
the ceiling, the count measured when the budget was set (lower it when a list gets cheaper; a regression fails).
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

N = 3


@dataclass(frozen=True)
class Budget:
    url: str | Callable[[dict], str]
    role: str
    add: Callable[[dict, int], list]
    ceiling: int
    params: dict | Callable[[], dict] = field(default_factory=dict)  # a callable when they depend on the clock
    # For a page: the text a row shows (given what `add` returned for it); an API answer is counted instead.
    shows: Callable[[Any], str] | None = None

    def __str__(self) -> str:
        url = self.url if isinstance(self.url, str) else self.url.__name__
        if callable(self.params):
            url += f"?{self.params.__name__}"
        elif self.params:
            url += "?" + "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{url}@{self.role}"


def ids(budgets) -> list[str]:
    return [str(b) for b in budgets]


def seq(world) -> int:
    """A fresh sequence number for the builders' ID numbers and names."""
    return next(world.setdefault("_seq", itertools.count(100)))


def _get(client, world, budget: Budget):
    url = budget.url(world) if callable(budget.url) else budget.url
    client.force_login(world[budget.role])
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, budget.params() if callable(budget.params) else budget.params)
    assert response.status_code == 200, (str(budget), response.status_code)
    return len(ctx.captured_queries), response, ctx


def listed(response) -> int:
    """Rows in an API answer: a paginated list's `count`, or the length of a plain list."""
    data = response.json()
    return data["count"] if isinstance(data, dict) else len(data)


def check(client, world, budget: Budget) -> int:
    """Assert the budget; returns the measured count."""
    made = list(budget.add(world, N))
    _get(client, world, budget)
    first, before, _ = _get(client, world, budget)
    made_more = list(budget.add(world, N))
    second, after, ctx = _get(client, world, budget)
    if budget.shows is None:
        assert listed(after) == listed(before) + N, f"{budget}: the {N} new rows are not listed"
    else:
        page = after.content.decode()
        missing = [budget.shows(row) for row in made + made_more if budget.shows(row) not in page]
        assert not missing, f"{budget}: rows not shown: {missing}"
    queries = "\n".join(q["sql"][:200] for q in ctx.captured_queries)
    assert second == first, f"{budget}: {first} queries with {N} rows, {second} with {2 * N}:\n{queries}"
    assert first <= budget.ceiling, f"{budget}: {first} queries, over its budget of {budget.ceiling}:\n{queries}"
    return first
