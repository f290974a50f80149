"""Who may plan, lock and publish a provider's routes (see yiyang.core.policy): one function per rule, called by
the service (`.require()`), by the page to draw its buttons, and by the API through the service."""

from django.utils.translation import gettext_lazy as _

from yiyang.core.models import Role
from yiyang.core.policy import ALLOW, Decision, deny, has_role, is_superuser, within

NOT_DISPATCHER = _("只有本机构的调度人员可以排线和发布。")


def _own_dispatcher(actor, provider) -> bool:
    return (has_role(actor, Role.PROVIDER) and not is_superuser(actor)
            and getattr(actor, "organisation_id", None) == getattr(provider, "pk", provider))


def may_plan_routes(actor, provider) -> Decision:
    """Plan a day: the provider's own dispatcher, the bureau whose jurisdiction holds the provider, a superuser."""
    if (is_superuser(actor) and has_role(actor)) or _own_dispatcher(actor, provider):
        return ALLOW
    if within(actor, getattr(provider, "region_id", ""), roles=(Role.BUREAU,)):
        return ALLOW
    return deny(NOT_DISPATCHER)


def may_dispatch_routes(actor, provider) -> Decision:
    """Lock a visit to a caregiver, publish a plan: the provider's own dispatcher or a superuser (the bureau
    reads the plans and may plan for a look, but sending caregivers is the provider's)."""
    if (is_superuser(actor) and has_role(actor)) or _own_dispatcher(actor, provider):
        return ALLOW
    return deny(NOT_DISPATCHER)
