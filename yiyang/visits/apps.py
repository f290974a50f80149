from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


def _order_unserved(sender, *, order, actor, **kwargs):
    from .services import on_order_unserved

    on_order_unserved(order=order, actor=actor)


def _roll_checked(sender, *, roll, **kwargs):
    from .services import on_roll_checked

    on_roll_checked(roll=roll)


class VisitsConfig(AppConfig):
    name = "yiyang.visits"
    label = "visits"
    verbose_name = _("关爱巡访")

    def ready(self):
        from yiyang.benefits.signals import roll_checked
        from yiyang.core.registry import register
        from yiyang.registry.signals import elder_status_changed
        from yiyang.services.signals import order_unserved

        elder_status_changed.connect(_status_changed, dispatch_uid="visits.elder_status_changed")
        order_unserved.connect(_order_unserved, dispatch_uid="visits.order_unserved")
        roll_checked.connect(_roll_checked, dispatch_uid="visits.roll_checked")

        from .selectors import elder_scope_for_visitor, visit_contacts, visits_expected

        # A visitor sees the elders paired with them (registry.Elder asks the scope hooks).
        register("scope_hooks", elder_scope_for_visitor)
        # A visit that saw the person is a contact for benefits' 长期无服务或探访 check.
        register("contact_sources", visit_contacts)
        register("contact_expectations", visits_expected)

        from yiyang.core.models import Role
        from yiyang.core.navigation import REGION_STAFF, NavItem, register_nav

        from .views import elder_visits_panel, staff_home_panel, visitor_home_panel

        # 关爱 is the menu group of care visits (core.navigation.GROUPS).
        register_nav(
            NavItem(_("巡访覆盖率"), "visits:coverage", REGION_STAFF, "care"),
            NavItem(_("巡访任务"), "visits:tasks", REGION_STAFF, "care"),
            NavItem(_("包联管理"), "visits:pairings", REGION_STAFF, "care"),
            NavItem(_("巡访员"), "visits:visitors", REGION_STAFF, "care"),
            NavItem(_("巡访规则"), "visits:rules", REGION_STAFF, "care"),
            NavItem(_("巡访后续事项"), "visits:follow_ups", REGION_STAFF, "care"),
            NavItem(_("巡访手机端"), "visits:my_day", frozenset({Role.VISITOR}), "care"),
        )
        register("elder_panels", elder_visits_panel)
        register("home_panels", staff_home_panel)
        register("home_panels", visitor_home_panel)
        register("landing_pages", (Role.VISITOR, "visits:my_day"))
