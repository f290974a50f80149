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
    """The elder page's section (the page itself gets it through core.registry's elder_panels)."""
    from ..extensions import elder_benefits_panel

    request = context.get("request")
    return dict(elder_benefits_panel(request, elder), request=request)
