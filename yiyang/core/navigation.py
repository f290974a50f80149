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


# The menu is grouped by domain, in this order, so that it stays one row with 25 entries and more: each group
# is a drop-down, and a group holding a single entry for the user is that entry's link.
GROUPS = {
    "registry": pgettext_lazy("menu group", "名册"),
    "assessment": pgettext_lazy("menu group", "评估"),
    "benefits": pgettext_lazy("menu group", "补贴"),
    "services": pgettext_lazy("menu group", "服务"),
    "care": pgettext_lazy("menu group", "关爱"),
    "institutions": pgettext_lazy("menu group", "机构"),
    "supervision": pgettext_lazy("menu group", "监管"),
    "data": pgettext_lazy("menu group", "数据"),
    "system": pgettext_lazy("menu group", "系统"),
}

STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.ASSESSOR, Role.PROVIDER})
REGION_STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY})

def register_nav(*entries: NavItem) -> None:
    """Add an app's menu entries (call it from AppConfig.ready()); within a group they keep app order."""
    for entry in entries:
        registry.register("nav_items", entry)


def core_entries() -> tuple[NavItem, ...]:
    return (
        NavItem(_("首页"), "core:home", frozenset()),
        NavItem(_("账号管理"), "core:account_list", frozenset({Role.BUREAU}), "system"),
        NavItem(_("审计日志"), "core:audit_list", frozenset({Role.BUREAU}), "system"),
        NavItem(_("接口文档"), "api:openapi-view", STAFF, "system"),
    )


def pending_entries() -> tuple[NavItem, ...]:
    """The services group's entries, until yiyang/services/apps.py and yiyang/routing/apps.py register their own
    (they are another change's files); core only names their URLs here, it imports nothing of theirs."""
    everyone = REGION_STAFF | {Role.PROVIDER, Role.FAMILY, Role.ELDER}
    return (
        NavItem(_("服务订单"), "services:order_list", everyone, "services"),
        NavItem(_("预约服务"), "services:order_new", frozenset({Role.FAMILY, Role.ELDER}), "services"),
        NavItem(_("服务工作台"), "services:workspace", frozenset({Role.PROVIDER}), "services"),
        NavItem(_("排线调度"), "routing:plan", frozenset({Role.PROVIDER}), "services"),
        NavItem(_("护理员手机端"), "services:caregiver_today", frozenset({Role.CAREGIVER}), "services"),
        NavItem(_("服务目录"), "services:catalogue", frozenset(), "services"),
        NavItem(_("服务结算"), "services:settlements", frozenset({Role.BUREAU, Role.PROVIDER}), "services"),
        NavItem(_("服务回访"), "services:follow_ups", REGION_STAFF, "services"),
    )


def nav() -> tuple[NavItem, ...]:
    """Every registered menu entry, in registration order (the menu groups them in GROUPS order)."""
    return tuple(registry.items("nav_items"))



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
# not the dashboard): (role, URL name) pairs in core.registry's "landing_pages". The dict is the older spelling,
# kept until every app registers instead (services/apps.py still writes it).
LANDING_PAGES: dict[str, str] = {}


def landing_page(user) -> str:
    for role, url_name in registry.items("landing_pages"):
        if role == user.role:
            return url_name
    return LANDING_PAGES.get(user.role, "core:home")


# Home-page panels contributed by domains: core.registry's "home_panels". HOME_PANELS is that very list, for
# apps that still append to it directly (services/apps.py) until they call register().
HOME_PANELS: list = registry._stores["home_panels"]


def home_panels(request) -> list[dict]:
    panels = []
    for panel in registry.items("home_panels"):
        result = panel(request)
        if result:
            panels.append(result)
    return panels
