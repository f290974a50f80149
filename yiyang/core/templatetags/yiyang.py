from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    if not mapping:
        return None
    return mapping.get(key)


@register.inclusion_tag("core/_group_tabs.html", takes_context=True)
def group_tabs(context, group):
    """A domain's pages' tabs are its menu group's entries for this user (core.navigation): one list of who sees
    which page, the menu's, instead of role checks written again in each template."""
    from yiyang.core.navigation import GROUPS, flatten, items_for

    request = context["request"]
    links = [link for link in flatten(items_for(request.user, request.path)) if link.get("group") == group]
    return {"tabs": links, "label": GROUPS.get(group, "")}
