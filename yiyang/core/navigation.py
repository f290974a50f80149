"""Navigation per role. Apps add their entries here as they arrive (DESIGN.md §1 lists who does what)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: frozenset  # empty = every signed-in user
    superuser_only: bool = False


STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.ASSESSOR, Role.PROVIDER})
REGION_STAFF = frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY})

NAV = [
    NavItem(_("首页"), "core:home", frozenset()),
    NavItem(_("老年人"), "registry:elder_list", REGION_STAFF),
    NavItem(_("能力评估"), "assessment:list", REGION_STAFF),
    NavItem(_("评估任务"), "assessment:mine", frozenset({Role.ASSESSOR})),
    NavItem(_("补贴发放"), "benefits:rolls", REGION_STAFF),
    NavItem(_("补贴明细"), "benefits:mine", frozenset({Role.FAMILY, Role.ELDER})),
    NavItem(_("服务订单"), "services:order_list", REGION_STAFF | {Role.PROVIDER, Role.FAMILY, Role.ELDER}),
    NavItem(_("预约服务"), "services:order_new", frozenset({Role.FAMILY, Role.ELDER})),
    NavItem(_("服务工作台"), "services:workspace", frozenset({Role.PROVIDER})),
    NavItem(_("排线调度"), "routing:plan", frozenset({Role.PROVIDER})),
    NavItem(_("护理员手机端"), "services:caregiver_today", frozenset({Role.CAREGIVER})),
    NavItem(_("服务目录"), "services:catalogue", frozenset()),
    NavItem(_("服务结算"), "services:settlements", frozenset({Role.BUREAU, Role.PROVIDER})),
    NavItem(_("服务回访"), "services:follow_ups", REGION_STAFF),
    NavItem(_("机构"), "registry:organisation_list", REGION_STAFF),
    NavItem(_("设施"), "registry:facility_list", REGION_STAFF),
    NavItem(_("从业人员"), "registry:practitioner_list", frozenset({Role.BUREAU, Role.PROVIDER})),
    NavItem(_("数据导入"), "registry:import_home", REGION_STAFF | {Role.PROVIDER}),
    NavItem(_("账号管理"), "core:account_list", frozenset({Role.BUREAU})),
    NavItem(_("审计日志"), "core:audit_list", frozenset({Role.BUREAU})),
    NavItem(_("接口文档"), "api:openapi-view", STAFF),
]


def items_for(user, current_path: str) -> list[dict]:
    out = []
    for item in NAV:
        if item.roles and user.role not in item.roles and not user.is_superuser:
            continue
        url = reverse(item.url_name)
        matches = current_path == url if url == "/" else current_path.startswith(url)
        out.append({"label": item.label, "url": url, "active": matches})
    # Only the most specific entry is current (预约服务 /services/orders/new/ inside 服务订单 /services/orders/).
    longest = max((len(i["url"]) for i in out if i["active"]), default=0)
    for i in out:
        i["active"] = i["active"] and len(i["url"]) == longest
    return out


# Where a role lands after signing in when no page was asked for (a caregiver on a phone wants today's visits,
# not the dashboard). Domains register theirs in AppConfig.ready(): role -> URL name.
LANDING_PAGES: dict[str, str] = {}


def landing_page(user) -> str:
    return LANDING_PAGES.get(user.role, "core:home")


# Home-page panels contributed by domains: callables (request) -> dict | None with "template" and its context.
# Each domain registers its own in its AppConfig.ready(), so the home page grows with the issues.
HOME_PANELS: list = []


def home_panels(request) -> list[dict]:
    panels = []
    for panel in HOME_PANELS:
        result = panel(request)
        if result:
            panels.append(result)
    return panels
