"""Role checks for pages. Data scope is `restrict()` (scope.py); these say which roles may use a page at all."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from .models import Role
from .policy import has_role

# Who may see a full ID number (always logged). Community workers and organisations see masked numbers.
FULL_ID_ROLES = {Role.BUREAU, Role.STREET}
REGION_STAFF = {Role.BUREAU, Role.STREET, Role.COMMUNITY}

__all__ = ["FULL_ID_ROLES", "REGION_STAFF", "has_role", "may_view_full_id", "role_required"]


def may_view_full_id(user) -> bool:
    return has_role(user, *FULL_ID_ROLES)


def role_required(*roles):
    """Pages outside a role's remit answer 404, like objects outside the scope: nothing is advertised."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
