from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "yiyang.routing"
    label = "routing"
    verbose_name = _("排线调度")
