from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "yiyang.routing"
    label = "routing"
    verbose_name = _("排线调度")

    def ready(self):
        from yiyang.core.registry import register

        from .selectors import visit_sequence

        # The caregiver app (services, a lower app) orders a caregiver's day by the published route.
        register("visit_sequences", visit_sequence)

        from yiyang.core.models import Role
        from yiyang.core.navigation import NavItem, register_nav

        # In the services group, beside the provider's other daily page.
        register_nav(NavItem(_("排线调度"), "routing:plan", frozenset({Role.PROVIDER}), "services",
                             after="services:workspace"))
