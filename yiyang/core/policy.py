"""Authority: who may do which step on which object.

Each app keeps its rules in its own `policy.py`, one function per rule, named `may_<step>_<object>`:

    def may_cancel_order(actor, order) -> Decision: ...

A rule answers with a `Decision`: truthy when allowed, else falsy with the reason a person reads. The same
function is called by the service (`policy.may_cancel_order(actor, order).require()`, which raises a 403
`DomainError` with that reason), by the page to decide which buttons to draw (`{% if may.cancel %}`), and by
the API through the service. Nothing else decides authority: a view or API route never checks roles for a
step itself, and a page never offers a button whose step the service would refuse.

Data scope (what a user may *see*) stays in `Model.scope_filter` and `restrict()` (scope.py); a policy
function decides what they may *do* with an object they can see. State rules ("a settled order can't be
cancelled") are the service's, answered with 409; a rule may fold them in (`deny(..., status=409)`) when the
page must not show the button in that state either.
"""

from dataclasses import dataclass

from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .errors import DomainError, ErrorCode
from .models import Role

REGION_STAFF = (Role.BUREAU, Role.STREET, Role.COMMUNITY)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | Promise = ""
    code: str = ErrorCode.FORBIDDEN
    status: int = 403

    def __bool__(self) -> bool:
        return self.allowed

    def require(self) -> None:
        """Raise the refusal (a `DomainError`, 403 unless the rule said otherwise) when not allowed."""
        if not self.allowed:
            raise DomainError(self.code, self.reason or _("您的角色无权执行此操作。"), status=self.status)


ALLOW = Decision(True)


def deny(reason, *, code: str = ErrorCode.FORBIDDEN, status: int = 403) -> Decision:
    return Decision(False, reason, code, status)


def allow_if(condition: bool, reason, **kwargs) -> Decision:
    return ALLOW if condition else deny(reason, **kwargs)


def role_of(actor) -> str:
    return getattr(actor, "role", None) or ""


def is_superuser(actor) -> bool:
    return bool(getattr(actor, "is_superuser", False))


def has_role(actor, *roles) -> bool:
    """An active, signed-in account of one of `roles` (superusers count as every role)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        return False
    return is_superuser(actor) or role_of(actor) in roles


def within(actor, region_code: str, roles=REGION_STAFF) -> bool:
    """The actor holds one of `roles` and `region_code` lies inside their region scope (codes are prefixes).

    The only prefix check of scope codes outside scope filters: an empty scope or an empty code never matches.
    """
    if is_superuser(actor) and has_role(actor):
        return True
    scope = getattr(actor, "scope_code", "") or ""
    return has_role(actor, *roles) and bool(scope) and bool(region_code) and str(region_code).startswith(scope)


def require_within(actor, region_code: str, roles=REGION_STAFF, message=None) -> None:
    """Refuse (403) unless `within(actor, region_code, roles)`."""
    allow_if(within(actor, region_code, roles), message or _("该对象不在您的管辖范围内。")).require()


def require_bureau_of(actor, region_code: str, message=None) -> None:
    """Only the civil-affairs bureau whose jurisdiction holds `region_code`."""
    require_within(actor, region_code, roles=(Role.BUREAU,),
                   message=message or _("只有本辖区民政部门可以执行此操作。"))


def require_roles(actor, *roles, on_object: bool = False) -> None:
    """The role gate of a page or API route, before any object is looked at.

    Collection routes (`GET /elders`, `POST /orders`) answer a role that may not use them with 403: that says
    nothing about any object. Object routes (`/elders/{id}/…`, `on_object=True`) answer 404, exactly like an
    object outside the caller's scope, so an id never tells whether it exists. Which *step* a role may take on
    an object it can see is the app's policy function, checked by the service.
    """
    if has_role(actor, *roles):
        return
    if on_object:
        raise Http404
    raise DomainError(ErrorCode.FORBIDDEN, _("您的角色无权执行此操作。"), status=403)


def may_revoke_api_tokens_of(actor, user) -> Decision:
    """A person revokes their own tokens (the bureau cuts an account off by deactivating it)."""
    return allow_if(actor.is_superuser or actor.pk == user.pk, _("只能撤销自己的 API 令牌。"))


def may_revoke_api_token(actor, token) -> Decision:
    return may_revoke_api_tokens_of(actor, token.user)
