"""Navigation per role. Apps add their entries here as they arrive (DESIGN.md §1 lists who does what)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import registry
from .models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: frozenset  # empty = every signed-in user
    group: str = ""   # a key of GROUPS; "" = a top-level link of its own (首页)
    superuser_only: bool = False
    # The URL name of the entry this one follows in its group, when it belongs between another app's entries
    # (routing's 排线调度 after services' 服务工作台); otherwise entries keep registration (app) order.
    after: str = ""


# The menu is grouped by domain, in this order, so that it stays one row with 25 entries and more: each group
# is a drop-down, and a group holding a single entry for the user is that entry's link.
GROUPS = {
    "registry": pgettext_lazy("menu group", "名册"),
    "assessment": pgettext_lazy("menu group", "评估"),
    "benefits": pgettext_lazy("menu group", "补贴"),
    "services": pgettext_lazy("menu group", "服务"),
    "care": pgettext_lazy("menu group", "关爱"),
    "alarms": pgettext_lazy("menu group", "应急"),
    "institutions": pgettext_lazy("menu group", "机构"),
    "supervision": pgettext_lazy("menu group", "监管"),
    "data": pgettext_lazy("menu group", "数据"),
    "system": pgettext_lazy("menu group", "系统"),
}

STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.ASSESSOR, Role.PROVIDER})
REGION_STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY})

def register_nav(*entries: NavItem) -> None:
    """Add an app's menu entries (call it from AppConfig.ready()); within a group they keep app order, except
    an entry with `after`, which follows the entry it names."""
    for entry in entries:
        registry.register("nav_items", entry)


def core_entries() -> tuple[NavItem, ...]:
    return (
        NavItem(_("首页"), "core:home", frozenset()),
        NavItem(_("账号管理"), "core:account_list", frozenset({Role.BUREAU}), "system"),
        NavItem(_("审计日志"), "core:audit_list", frozenset({Role.BUREAU}), "system"),
        NavItem(_("接口文档"), "api:openapi-view", STAFF, "system"),
    )


def nav() -> tuple[NavItem, ...]:
    """Every registered menu entry, in registration order with each `after` entry moved behind the one it
    names (the menu groups them in GROUPS order). An `after` naming no registered entry keeps its place."""
    entries = list(registry.items("nav_items"))
    names = {e.url_name for e in entries}
    ordered = [e for e in entries if not e.after or e.after not in names]
    placed = {e.url_name for e in ordered}
    pending = [e for e in entries if e not in ordered]
    while pending:  # entries may follow entries that themselves follow others
        progress = [e for e in pending if e.after in placed]
        if not progress:  # a cycle of `after`s: append them as registered rather than lose them
            ordered.extend(pending)
            break
        for e in progress:
            anchor = ordered.index(next(o for o in ordered if o.url_name == e.after))
            while anchor + 1 < len(ordered) and ordered[anchor + 1].after == e.after:
                anchor += 1  # several entries after the same one keep their registration order
            ordered.insert(anchor + 1, e)
            placed.add(e.url_name)
        pending = [e for e in pending if e not in progress]
    return tuple(ordered)


def _visible(item: NavItem, user) -> bool:
    if item.superuser_only:
        return user.is_superuser
    return not item.roles or user.role in item.roles or user.is_superuser


def items_for(user, current_path: str) -> list[dict]:
    """The user's menu: top-level links and groups, each {"label", "url", "active", "items"}, in GROUPS order."""
    links = []
    for item in nav():
        if not _visible(item, user):
            continue
        url = reverse(item.url_name)
        matches = current_path == url if url == "/" else current_path.startswith(url)
        links.append({"label": item.label, "url": url, "active": matches, "group": item.group})
    # Only the most specific entry is current (预约服务 /services/orders/new/ inside 服务订单 /services/orders/).
    longest = max((len(i["url"]) for i in links if i["active"]), default=0)
    for i in links:
        i["active"] = i["active"] and len(i["url"]) == longest
    menu = [dict(link, items=[]) for link in links if not link["group"]]
    for key, label in GROUPS.items():
        members = [link for link in links if link["group"] == key]
        if len(members) == 1:
            menu.append(dict(members[0], items=[]))
        elif members:
            menu.append({"label": label, "url": "", "active": any(m["active"] for m in members),
                         "items": members, "key": key})
    return menu


def flatten(menu: list[dict]) -> list[dict]:
    """Every link of a menu from items_for(), groups opened up, in order."""
    return [link for entry in menu for link in (entry["items"] or [entry])]


# Where a role lands after signing in when no page was asked for (a caregiver on a phone wants today's visits,
# not the dashboard): (role, URL name) pairs in core.registry's "landing_pages".
def landing_page(user) -> str:
    for role, url_name in registry.items("landing_pages"):
        if role == user.role:
            return url_name
    return "core:home"


def home_panels(request) -> list[dict]:
    panels = []
    for panel in registry.items("home_panels"):
        result = panel(request)
        if result:
            panels.append(result)
    return panels
