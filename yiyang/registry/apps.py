from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "yiyang.registry"
    label = "registry"
    verbose_name = _("登记")

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from yiyang.core.models import Role
        from yiyang.core.navigation import REGION_STAFF, NavItem, register_nav
        from yiyang.core.registry import register

        from .selectors import register_home_panel

        register("home_panels", register_home_panel)
        register_nav(
            NavItem(_("老年人"), "registry:elder_list", REGION_STAFF, "registry"),
            NavItem(_("机构名录"), "registry:organisation_list", REGION_STAFF, "registry"),
            NavItem(_("设施"), "registry:facility_list", REGION_STAFF, "registry"),
            NavItem(_("从业人员"), "registry:practitioner_list", frozenset({Role.BUREAU, Role.PROVIDER}), "registry"),
            NavItem(_("数据导入"), "registry:import_home", REGION_STAFF | {Role.PROVIDER}, "registry"),
        )
