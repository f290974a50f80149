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

        from .selectors import allowance_totals

        if allowance_totals not in BALANCE_READERS:
            BALANCE_READERS.append(allowance_totals)

        from yiyang.core.models import Role
        from yiyang.core.navigation import HOME_PANELS, LANDING_PAGES

        from .views import orders_home_panel
        from .views_caregiver import caregiver_home_panel

        for panel in (orders_home_panel, caregiver_home_panel):
            if panel not in HOME_PANELS:
                HOME_PANELS.append(panel)
        LANDING_PAGES[Role.CAREGIVER] = "services:caregiver_today"
