"""The alarms pages' tabs are the 应急 menu group's entries for this user (core.navigation): one list of who sees
which page, the menu's, instead of role checks written again in the template."""

from django import template

from yiyang.core.navigation import flatten, items_for

register = template.Library()


@register.inclusion_tag("alarms/_tabs.html", takes_context=True)
def alarm_tabs(context):
    request = context["request"]
    links = [link for link in flatten(items_for(request.user, request.path)) if link.get("group") == "alarms"]
    return {"tabs": links}
