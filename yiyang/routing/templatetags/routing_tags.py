from django import template

register = template.Library()


@register.simple_tag
def locked_to(locks: dict, order_id: int):
    """The caregiver id the order is locked to now (None when it is not locked)."""
    return locks.get(order_id)
