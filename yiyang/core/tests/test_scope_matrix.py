"""Generated scope tests of accounts and of the audit log (core/tests/scope_matrix.py).

A bureau manages the accounts of its own district (by the account's region, or its organisation's); every
other role sees only its own account. The audit log follows the same line: a bureau reads the log of its
district; anyone else reads only what they did themselves (their own sign-ins, their own changes)."""

from yiyang.core.audit import record
from yiyang.core.models import AuditAction, AuditEvent, Role, User
from yiyang.core.tests.factories import make_user
from yiyang.core.tests.scope_matrix import HERE, OTHER_COUNTY, OTHER_STREET, ScopeMatrix, Write

BUREAUS = {"bureau", "other_bureau"}


class TestAccountScope(ScopeMatrix):
    model = User
    # "provider_staff" belongs to an organisation of 文治街道: its scope is its organisation's region.
    visible = {"bureau": {"community_here", "provider_staff"}, "other_bureau": {"community_far"}}
    list_url = "/accounts/"
    list_roles = BUREAUS
    api_list_url = "/api/v1/accounts"
    writes = (
        Write("deactivate", "post", lambda case, u: f"/accounts/{u.pk}/active/", {"active": "0"}),
        Write("reveal ID", "post", lambda case, u: f"/accounts/{u.pk}/reveal-id/", {}),
    )

    def build(self, world):
        return {
            "community_here": make_user("scope_acct_here", Role.COMMUNITY, region=HERE),
            "community_far": make_user("scope_acct_far", Role.COMMUNITY, region=OTHER_COUNTY),
            "provider_staff": make_user("scope_acct_org", Role.PROVIDER,
                                        organisation=world.organisations["provider"]),
        }

    def marker(self, obj):
        return obj.username

    def detail_url(self, obj):
        return f"/accounts/{obj.pk}/"

    def api_detail_url(self, obj):
        return f"/api/v1/accounts/{obj.pk}"


class TestAuditEventScope(ScopeMatrix):
    model = AuditEvent
    visible = {
        "bureau": {"street_here", "system_other_street"},
        "other_bureau": {"provider_far"},
        "street": {"street_here"},
        "provider": {"provider_far"},
    }
    # The audit page is the bureau's; the API gives everyone the log of their own actions.
    list_url = "/audit/"
    list_roles = BUREAUS
    page_visible = {role: places for role, places in visible.items() if role in BUREAUS}
    api_list_url = "/api/v1/audit"

    def build(self, world):
        def event(actor, region, repr_):
            return record(actor=actor, action=AuditAction.UPDATE, object_type="test.thing", object_id="1",
                          object_repr=repr_, region_code=region)

        return {
            "street_here": event(world["street"], HERE, "scope-audit-street-here"),
            # What the provider did to an object of another county (its elder moved away, say).
            "provider_far": event(world["provider"], OTHER_COUNTY, "scope-audit-provider-far"),
            "system_other_street": event(None, OTHER_STREET, "scope-audit-system"),
        }

    def marker(self, obj):
        return obj.object_repr
