from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    name = "yiyang.services"
    label = "services"
    verbose_name = _("居家社区服务")
