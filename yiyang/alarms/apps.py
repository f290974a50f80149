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
