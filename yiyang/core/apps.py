from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "yiyang.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self):
        from .navigation import core_entries, register_nav

        register_nav(*core_entries())
