"""Test helpers that build real objects through the real services (no mocks of our own components)."""

from yiyang.core.models import Role, User
from yiyang.registry.models import Organisation, OrganisationKind

PASSWORD = "Str0ng-pass!"


def make_user(username: str, role: str, *, region: str | None = None, organisation=None, **extra) -> User:
    user = User(username=username, role=role, region_id=region, organisation=organisation, **extra)
    user.set_password(PASSWORD)
    user.full_clean(exclude=["password", "id_number"])
    user.save()
    return user


def make_org(name: str = "颐康居家养老服务有限公司", *, region: str = "511903002",
             kind: str = OrganisationKind.PROVIDER, credit_code: str = "") -> Organisation:
    return Organisation.objects.create(name=name, kind=kind, region_id=region, credit_code=credit_code)


def demo_roles():
    """One account per role, scoped like the demo city: 恩阳区 / 登科街道 / 登科寺社区, and two organisations."""
    agency = make_org("评估中心", kind=OrganisationKind.ASSESSMENT, region="511903001")
    provider = make_org("颐康", region="511903002")
    return {
        "bureau": make_user("bureau", Role.BUREAU, region="511903"),
        "street": make_user("street", Role.STREET, region="511903001"),
        "community": make_user("community", Role.COMMUNITY, region="511903001002"),
        "assessor": make_user("assessor", Role.ASSESSOR, organisation=agency),
        "provider": make_user("provider", Role.PROVIDER, organisation=provider),
        "caregiver": make_user("caregiver", Role.CAREGIVER, organisation=provider),
        "family": make_user("family", Role.FAMILY),
        # Someone else's jurisdiction: 巴州区, the neighbouring district.
        "other_bureau": make_user("other_bureau", Role.BUREAU, region="511902"),
        "other_street": make_user("other_street", Role.STREET, region="511903002"),
    }
