from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


def _roll_approved(sender, *, roll, actor, **kwargs):
    from .services import credit_allowance_from_roll

    credit_allowance_from_roll(roll=roll, actor=actor)


class ServicesConfig(AppConfig):
    name = "yiyang.services"
    label = "services"
    verbose_name = _("居家社区服务")

    def ready(self):
        from yiyang.registry.signals import elder_status_changed

        elder_status_changed.connect(_status_changed, dispatch_uid="services.elder_status_changed")

        from yiyang.benefits.signals import roll_approved

        roll_approved.connect(_roll_approved, dispatch_uid="services.roll_approved")

        # The family's benefits page shows what is left of a voucher month: this app keeps that ledger.
        from yiyang.benefits.allowance import BALANCE_READERS

        from .selectors import allowance_totals_by_elder

        if allowance_totals_by_elder not in BALANCE_READERS:
            BALANCE_READERS.append(allowance_totals_by_elder)

        from yiyang.core.models import Role
        from yiyang.core.navigation import REGION_STAFF, NavItem, register_nav
        from yiyang.core.registry import register

        from .views import orders_home_panel
        from .views_caregiver import caregiver_home_panel

        everyone = REGION_STAFF | {Role.PROVIDER, Role.FAMILY, Role.ELDER}
        register_nav(
            NavItem(_("服务订单"), "services:order_list", everyone, "services"),
            NavItem(_("预约服务"), "services:order_new", frozenset({Role.FAMILY, Role.ELDER}), "services"),
            NavItem(_("服务工作台"), "services:workspace", frozenset({Role.PROVIDER}), "services"),
            NavItem(_("护理员手机端"), "services:caregiver_today", frozenset({Role.CAREGIVER}), "services"),
            NavItem(_("服务目录"), "services:catalogue", frozenset(), "services"),
            NavItem(_("服务结算"), "services:settlements", frozenset({Role.BUREAU, Role.PROVIDER}), "services"),
            NavItem(_("服务回访"), "services:follow_ups", REGION_STAFF, "services"),
        )
        register("home_panels", orders_home_panel)
        # A service delivered is a moment someone saw the person (benefits' 长期无服务或探访 check).
        from .selectors import service_contacts

        register("contact_sources", service_contacts)
        register("home_panels", caregiver_home_panel)
        register("landing_pages", (Role.CAREGIVER, "services:caregiver_today"))
