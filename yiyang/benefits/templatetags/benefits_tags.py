from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def yuan(value) -> str:
    """An amount in yuan with thousands separators and two decimals: 1,234.50."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


@register.filter
def signed_yuan(value) -> str:
    """A change in yuan with its sign: +1,200.00, −50.00, 0.00."""
    try:
        amount = Decimal(str(value or 0))
    except (InvalidOperation, ValueError):
        return str(value)
    if amount > 0:
        return f"+{amount:,.2f}"
    if amount < 0:
        return f"−{-amount:,.2f}"
    return f"{amount:,.2f}"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.inclusion_tag("benefits/_elder_benefits.html", takes_context=True)
def elder_benefits(context, elder):
    """The elder page's section: every benefit line of the person, newest first.

    Usage in registry/elder_detail.html: {% load benefits_tags %}{% elder_benefits elder %}
    """
    from ..models import Roll
    from ..selectors import elder_history

    request = context.get("request")
    user = getattr(request, "user", None)
    lines = elder_history(user, elder) if user is not None else []
    # A month links to its roll when the reader may open that roll (region staff, not the family).
    rolls = set(Roll.objects.restrict(user).filter(pk__in={ln.roll_id for ln in lines}).values_list("pk", flat=True)
                ) if lines else set()
    return {"elder": elder, "request": request,
            "lines": [{"line": ln, "explanation": ln.explain(), "roll_link": ln.roll_id in rolls} for ln in lines]}
