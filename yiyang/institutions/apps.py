from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


class InstitutionsConfig(AppConfig):
    name = "yiyang.institutions"
    label = "institutions"
    verbose_name = _("养老机构")

    def ready(self):
        from yiyang.core.registry import register
        from yiyang.registry.signals import elder_status_changed

        # A death or a move out of the platform recorded in the register orders the resident's discharge; the
        # home makes it final (the bed stays held until then).
        elder_status_changed.connect(_status_changed, dispatch_uid="institutions.elder_status_changed")

        from .selectors import elder_scope_for_home

        # A home's accounts see the elders who live or lived there (registry.Elder asks the scope hooks).
        register("scope_hooks", elder_scope_for_home)
