from django import template
from django.utils.html import format_html

from yiyang.assessment import scoring

register = template.Library()


@register.simple_tag
def level_badge(level, template_code: str = scoring.GBT_42195_2022, big: bool = False):
    """A coloured badge for an ability level ("—" when there is none)."""
    if level is None or level == "":
        return "—"
    t = scoring.get_template(template_code or scoring.GBT_42195_2022)
    name = t.level(int(level)).name_zh
    classes = f"level level-{int(level)}" + (" level-legacy" if t.legacy else "") + (" big" if big else "")
    title = f"{t.code} · {int(level)}"
    return format_html('<span class="{}" title="{}">{}</span>', classes, title, name)


@register.inclusion_tag("assessment/_elder_levels.html", takes_context=True)
def elder_levels(context, elder):
    """The elder page's card (the page itself gets it through core.registry's elder_panels)."""
    from yiyang.assessment.extensions import elder_levels_panel

    request = context.get("request")
    return dict(elder_levels_panel(request, elder), request=request)
