from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "yiyang.registry"
    label = "registry"
    verbose_name = _("登记")

    def ready(self):
        from yiyang.core.navigation import HOME_PANELS

        from .selectors import register_home_panel

        HOME_PANELS.append(register_home_panel)
