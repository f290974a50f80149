from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _status_changed(sender, *, elder, event, actor, **kwargs):
    from .services import on_elder_status_changed

    on_elder_status_changed(elder=elder, event=event, actor=actor)


class AssessmentConfig(AppConfig):
    name = "yiyang.assessment"
    label = "assessment"
    verbose_name = _("能力评估")

    def ready(self):
        from yiyang.core.registry import register
        from yiyang.registry.signals import elder_status_changed

        from .extensions import LEVEL_FILTER, elder_levels_panel
        from .selectors import assessment_home_panel

        # Assessors get no view of the register (bank account, ID number, contacts, benefits): what a visit
        # needs comes with the assessment (policy.may_view_visit_assessment, selectors.visit_details).
        register("home_panels", assessment_home_panel)
        register("elder_list_filters", LEVEL_FILTER)
        register("elder_panels", elder_levels_panel)

        from yiyang.core.models import Role
        from yiyang.core.navigation import REGION_STAFF, NavItem, register_nav

        register_nav(NavItem(_("能力评估"), "assessment:list", REGION_STAFF, "assessment"),
                     NavItem(_("评估任务"), "assessment:mine", frozenset({Role.ASSESSOR}), "assessment"))
        elder_status_changed.connect(_status_changed, dispatch_uid="assessment.elder_status_changed")
