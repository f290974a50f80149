from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def elder_scope_for_assessors(user, action):
    """Assessors may view (never change) the elders of the assessments assigned to their agency."""
    from django.db.models import Q

    from yiyang.core.models import Role

    from .models import Assessment

    if user.role != Role.ASSESSOR or not user.organisation_id or action != "view":
        return None
    return Q(pk__in=Assessment.objects.filter(agency_id=user.organisation_id).values("elder_id"))


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


class AssessmentConfig(AppConfig):
    name = "yiyang.assessment"
    label = "assessment"
    verbose_name = _("能力评估")

    def ready(self):
        from yiyang.core.navigation import HOME_PANELS
        from yiyang.registry.models import ELDER_SCOPE_HOOKS
        from yiyang.registry.signals import elder_status_changed

        from .selectors import assessment_home_panel

        if elder_scope_for_assessors not in ELDER_SCOPE_HOOKS:
            ELDER_SCOPE_HOOKS.append(elder_scope_for_assessors)
        if assessment_home_panel not in HOME_PANELS:
            HOME_PANELS.append(assessment_home_panel)
        elder_status_changed.connect(_status_changed, dispatch_uid="assessment.elder_status_changed")
