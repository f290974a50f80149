from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    name = "yiyang.benefits"
    label = "benefits"
    verbose_name = _("补贴发放")

    def ready(self):
        from yiyang.core.registry import register

        from .extensions import elder_benefits_panel
        from .views import benefits_home_panel, family_home_panel

        for panel in (benefits_home_panel, family_home_panel):
            register("home_panels", panel)
        register("elder_panels", elder_benefits_panel)

        from yiyang.core.models import Role
        from yiyang.core.navigation import REGION_STAFF, NavItem, register_nav

        register_nav(NavItem(_("补贴发放"), "benefits:rolls", REGION_STAFF, "benefits"),
                     NavItem(_("补贴明细"), "benefits:mine", frozenset({Role.FAMILY, Role.ELDER}), "benefits"))
