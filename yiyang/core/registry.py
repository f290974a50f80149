"""Extension points: where a higher app plugs into a lower one (after NetBox's `netbox.registry`).

Dependencies point one way: core → registry → assessment → benefits → services → routing → the new domains.
A lower app never imports a higher one; when it must show or use something a higher app owns (a panel on the
elder page, an entry in the menu, a filter on the elder list, the order of a caregiver's visits), it reads one
of the stores below, and the higher app adds to it in its `AppConfig.ready()`:

    # yiyang/visits/apps.py
    def ready(self):
        from yiyang.core.registry import register
        register("elder_panels", ElderPanel(key="visits", template="visits/_elder_panel.html", context=...))

Each store is a list, filled once at start-up in app order (INSTALLED_APPS) and only read afterwards. The keys
are fixed here, so a typo fails at start-up instead of registering into nothing.
"""

from collections.abc import Iterable
from typing import Any

STORES = {
    "nav_items": "menu entries (core.navigation.NavItem)",
    "home_panels": "home-page panels: callables (request) -> dict | None with 'template' and its context",
    "landing_pages": "(role, url_name): where a role lands after signing in",
    "elder_panels": "panels on the elder page: callables (request, elder) -> dict | None",
    "elder_list_filters": "extra filters of the elder list (registry.selectors): form field and queryset step",
    "scope_hooks": "callables (model, user, action) -> Q | None widening what a role sees of a lower app's model "
                   "(registry.Elder asks them for organisation roles and visitors)",
    "demo_steps": "demo-city loaders (core.demo.demo_step)",
    "visit_sequences": "callables (caregiver, day) -> list of order ids in the planned order, or None",
    "contact_sources": "callables () -> (sql, params) selecting elder_id, at: a moment someone saw the person (a "
                       "service delivered, a visit made), for benefits' 长期无服务或探访 check",
    "contact_expectations": "callables (since, until) -> (sql, params) selecting elder_id: people someone was "
                            "meant to see in that time (a visit due), whom the 长期无服务或探访 check looks at",
}

_stores: dict[str, list] = {key: [] for key in STORES}


def register(store: str, item: Any) -> Any:
    """Add `item` to `store` once (registering the same object twice, as a reloaded app would, is a no-op)."""
    if store not in _stores:
        raise KeyError(f"no extension point {store!r}; known: {', '.join(STORES)}")
    if item not in _stores[store]:
        _stores[store].append(item)
    return item


def items(store: str) -> Iterable[Any]:
    """What the apps registered in `store`, in registration order."""
    return tuple(_stores[store])
