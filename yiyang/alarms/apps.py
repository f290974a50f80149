from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


class AlarmsConfig(AppConfig):
    name = "yiyang.alarms"
    label = "alarms"
    verbose_name = _("紧急呼叫")

    def ready(self):
        from yiyang.registry.signals import elder_status_changed

        elder_status_changed.connect(_status_changed, dispatch_uid="alarms.elder_status_changed")

        from yiyang.core.models import Role
        from yiyang.core.navigation import NavItem, register_nav
        from yiyang.core.registry import register

        from .views import DEVICE_ROLES, HANDLERS, INBOX_ROLES, elder_panel, home_panel

        # 应急 is the menu group of alarms (core.navigation.GROUPS).
        desk = frozenset({Role.BUREAU, Role.STREET, Role.OPERATOR})
        register_nav(
            NavItem(_("接警台"), "alarms:console", frozenset(HANDLERS), "alarms"),
            NavItem(_("报警记录"), "alarms:list", frozenset({*HANDLERS, Role.PROVIDER}), "alarms"),
            NavItem(_("报警统计"), "alarms:stats", frozenset(HANDLERS), "alarms"),
            NavItem(_("居家安全设备"), "alarms:devices", frozenset(DEVICE_ROLES), "alarms"),
            NavItem(_("设备运维"), "alarms:maintenance",
                    frozenset({Role.BUREAU, Role.STREET, Role.COMMUNITY, Role.PROVIDER}), "alarms"),
            NavItem(_("未登记设备"), "alarms:quarantine", frozenset({Role.BUREAU, Role.OPERATOR}), "alarms"),
            NavItem(_("值班表"), "alarms:rota", desk, "alarms"),
            NavItem(_("时限与接入"), "alarms:settings", desk, "alarms"),
            NavItem(_("报警消息"), "alarms:notifications", frozenset(INBOX_ROLES), "alarms"),
        )
        register("home_panels", home_panel)
        register("elder_panels", elder_panel)
        register("landing_pages", (Role.OPERATOR, "alarms:console"))
