from django.conf import settings

from .navigation import items_for


def shell(request):
    user = getattr(request, "user", None)
    nav = items_for(user, request.path) if user is not None and user.is_authenticated else []
    return {"nav_items": nav, "demo_mode": settings.DEMO_MODE}
