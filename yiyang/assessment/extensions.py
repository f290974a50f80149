"""What this app adds to the register's pages (through yiyang.core.registry; the register never imports us)."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiyang.registry.selectors import ElderListFilter

from . import selectors


def _level_field():
    return forms.ChoiceField(label=_("能力等级"), required=False,
                             choices=[("", _("全部"))] + selectors.level_filter_choices())


def _level_cells(elder_ids) -> dict[int, str]:
    from .templatetags.assessment_tags import level_badge

    return {pk: level_badge(row["level"], row["template_code"])
            for pk, row in selectors.current_levels(elder_ids).items()}


# The elder list's filter by current ability level ("0"–"4", "none" never assessed, "due" reassessment due)
# and its 能力等级 column, between 居住状况 and 人员类别 / 状态 as before.
LEVEL_FILTER = ElderListFilter(name="level", form_field=_level_field, apply=selectors.filter_elders_by_level,
                               after="living_situation", column=gettext_lazy("能力等级"), cells=_level_cells)


def elder_levels_panel(request, elder) -> dict:
    """The elder page's card: current level, validity, the assessment under way, and the history of levels."""
    from . import policy

    user = getattr(request, "user", None)
    return {"template": "assessment/_elder_levels.html", "elder": elder, "levels": selectors.level_history(elder),
            "may_request": elder.status == "active" and bool(policy.may_request_assessment(user, elder))}
