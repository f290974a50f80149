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
        active = current_path == url if url == "/" else current_path.startswith(url)
        out.append({"label": item.label, "url": url, "active": active})
    return out


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
