"""The one place where "what may this user see?" is decided.

Every person-level model uses `ScopedQuerySet` (or a manager built from it) and defines
`scope_filter(cls, user, action) -> Q | None`. Pages and API call `Model.objects.restrict(user, action)`
(after NetBox's `restrict(user, action)`), and fetch single objects with `get_scoped_or_404`, so an object
outside the user's scope is simply not found (404), never a 403 that confirms it exists.
"""

from django.db import models
from django.http import Http404

ACTIONS = ("view", "change", "delete")


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        if action not in ACTIONS:
            raise ValueError(f"Unknown scope action {action!r}")
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        scope_filter = getattr(self.model, "scope_filter", None)
        if scope_filter is None:
            raise TypeError(f"{self.model.__name__} has no scope_filter(); it cannot be restricted")
        q = scope_filter(user, action)
        if q is None:
            return self.none()
        return self.filter(q)


def region_q(user, field: str) -> models.Q | None:
    """Rows whose region-code field lies inside the user's region scope (codes are prefixes)."""
    code = getattr(user, "scope_code", "")
    if not code:
        return None
    return models.Q(**{f"{field}__startswith": code})


def get_scoped_or_404(queryset, user, action: str = "view", **lookup):
    """Fetch one object the user may act on, or raise Http404 whether it is missing or out of scope."""
    qs = queryset if isinstance(queryset, models.QuerySet) else queryset.all()
    try:
        return qs.restrict(user, action).get(**lookup)
    except qs.model.DoesNotExist:
        raise Http404 from None
