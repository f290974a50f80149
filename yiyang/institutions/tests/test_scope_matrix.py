"""Generated scope tests of the institutions models (core/tests/scope_matrix.py).

The places: `mine` (a home in 登科寺社区 run by 颐康, the world's `provider`), `theirs` (next door, run by 惠民,
`other_provider`), `other_street` (文治街道, run by a company without accounts in the world) and `far` (巴州区).
The bureau sees its jurisdiction's homes, beds, stays and escrow; street and community workers their area's
homes, beds and stays but no escrow; a home's provider accounts their home and its escrow; its caregivers the
home, beds and stays but no escrow; nobody else anything."""

import datetime

from yiyang.assessment.selectors import assessment_agencies
from yiyang.assessment.tests.factories import published
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_org, make_user
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ScopeMatrix
from yiyang.institutions import services
from yiyang.institutions.models import Bed, EscrowAccount, Institution, Stay, Withdrawal
from yiyang.registry.models import OrganisationKind
from yiyang.registry.tests.factories import make_elder

SINCE = datetime.date(2026, 1, 1)


def _assessors(world, county: str) -> dict:
    """Three assessors of an agency of `county` (two assess, one reviews), made once."""
    key = f"_assessors_{county}"
    if key not in world.users:
        # The agency a request goes to by default (the county's first), or a new one where there is none.
        agency = assessment_agencies(county).first() or make_org(f"评估所{county}", kind=OrganisationKind.ASSESSMENT,
                                                                 region=county + "001")
        world.users[key] = {name: make_user(f"{name}_{county}", Role.ASSESSOR, organisation=agency)
                            for name in ("assessor", "assessor2", "reviewer")}
    return world.users[key]


def institutions_world(world) -> dict:
    """A home per place with two beds, a resident in the first, a supervised account with a deposit and a
    withdrawal (paid)."""
    if "_institutions" in world.users:
        return world.users["_institutions"]
    places = {
        "mine": (HERE, world.organisations["provider"], world["provider"]),
        "theirs": (NEXT_DOOR, world.organisations["other_provider"], world["other_provider"]),
        "other_street": (OTHER_STREET, make_org("文治养老公司", region="511903002"), None),
        "far": (OTHER_COUNTY, make_org("巴州养老公司", region="511902001"), None),
    }
    out = {"homes": {}, "beds": {}, "stays": {}, "accounts": {}, "withdrawals": {}}
    for i, (place, (code, org, manager)) in enumerate(places.items()):
        bureau = world["other_bureau"] if code.startswith("511902") else world["bureau"]
        if manager is None:
            manager = make_user(f"manager_{place}", Role.PROVIDER, organisation=org)
        home = services.register_institution(actor=bureau, name=f"养老院{place}", kind="care_home",
                                             ownership="private", organisation=org, region=code)
        beds = services.add_beds(actor=manager, institution=home, building="A", floor=1, room="101",
                                 labels=["1", "2"], effective_date=SINCE)
        elder = make_elder(bureau, name=f"住户{i}", seq=60 + i, residence=code)
        published({"community": bureau, **_assessors(world, code[:6])}, elder)
        stay = services.admit(actor=manager, elder=elder, bed=beds[0], admitted_on="2026-11-01", monthly_fee="3000")
        account = services.open_escrow_account(actor=bureau, institution=home, bank_name="存管银行",
                                               account_number=f"62280000{i:04d}")
        services.take_prepayment(actor=manager, stay=stay, kind="deposit", amount="10000")
        withdrawal = services.request_withdrawal(actor=manager, account=account, amount="100", reason="日常支出")
        out["homes"][place], out["beds"][place], out["stays"][place] = home, beds[0], stay
        out["accounts"][place], out["withdrawals"][place] = account, withdrawal
    world.users["_institutions"] = out
    return out


HOMES = {"bureau": {"mine", "theirs", "other_street"}, "other_bureau": {"far"},
         "street": {"mine", "theirs"}, "other_street": {"other_street"},
         "community": {"mine"}, "other_community": {"theirs"},
         "provider": {"mine"}, "caregiver": {"mine"}, "other_provider": {"theirs"}, "other_caregiver": {"theirs"}}
ESCROW = {"bureau": {"mine", "theirs", "other_street"}, "other_bureau": {"far"},
          "provider": {"mine"}, "other_provider": {"theirs"}}


class TestInstitutionScope(ScopeMatrix):
    model = Institution
    visible = HOMES
    api_list_url = "/api/v1/institutions/homes"

    def build(self, world):
        return dict(institutions_world(world)["homes"])

    def api_detail_url(self, obj):
        return f"/api/v1/institutions/homes/{obj.pk}"


class TestHomeOccupancyScope(TestInstitutionScope):
    """A home's occupancy and bed list answer 404 outside the caller's scope, like the home."""

    api_list_url = None

    def api_detail_url(self, obj):
        return f"/api/v1/institutions/homes/{obj.pk}/occupancy"


class TestBedScope(ScopeMatrix):
    model = Bed
    visible = HOMES

    def build(self, world):
        return dict(institutions_world(world)["beds"])


class TestStayScope(ScopeMatrix):
    model = Stay
    visible = HOMES

    def build(self, world):
        return dict(institutions_world(world)["stays"])


class TestEscrowAccountScope(ScopeMatrix):
    model = EscrowAccount
    visible = ESCROW
    api_list_url = "/api/v1/institutions/escrow-accounts"

    def build(self, world):
        return dict(institutions_world(world)["accounts"])


class TestWithdrawalScope(ScopeMatrix):
    model = Withdrawal
    visible = ESCROW

    def build(self, world):
        return dict(institutions_world(world)["withdrawals"])


def test_changes_are_scoped_narrower_than_views(scope_world):
    """Street, community and caregivers see homes but may change none; the home's provider may change its own."""
    homes = institutions_world(scope_world)["homes"]
    for role in ("street", "community", "caregiver", "other_street"):
        assert not Institution.objects.restrict(scope_world[role], "change").exists(), role
    assert set(Institution.objects.restrict(scope_world["provider"], "change")) == {homes["mine"]}
