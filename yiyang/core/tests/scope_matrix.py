"""Generated scope tests: for every scoped model, who sees which object, in the queryset, pages, API and exports.

After NetBox's `ViewTestCases`: a test class declares a model, how to build a few objects in different places
of the world, which roles see which of them, and the URLs that show or change one; it inherits the tests.

    class TestElderScope(ScopeMatrix):
        model = Elder
        visible = {"bureau": {"here", "next_door"}, "street": {"here", "next_door"}, "community": {"here"}}
        list_url = "/registry/elders/"

        def build(self, world):
            return {"here": make_elder(...), "next_door": make_elder(...), "far": make_elder(...)}

        def detail_url(self, obj):
            return reverse("registry:elder_detail", args=[obj.pk])

Every check runs for every role of `roles` (`ROLES`, and any a case adds) against every place, and reports the
whole mismatch at once: an object a role may not see answers 404 in its page, API detail and every write, and
never appears in its lists or exports. `tests/test_scope_meta.py` fails when a model with a `scope_filter` has
no such class.
"""

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

# The accounts of the scope world (`scope_world`), each scoped like the demo city (恩阳区, 511903).
ROLES = (
    "bureau",            # 恩阳区 民政局
    "other_bureau",      # 巴州区 民政局 (the neighbouring district)
    "street",            # 登科街道 511903001
    "other_street",      # 文治街道 511903002
    "community",         # 登科寺社区 511903001002
    "other_community",   # another community of 登科街道, 511903001001
    "assessor",          # 评估中心 (agency in 登科街道)
    "other_assessor",    # another agency
    "provider",          # 颐康 (provider in 文治街道)
    "other_provider",    # 惠民 (provider in 登科街道)
    "caregiver",         # a caregiver of 颐康
    "other_caregiver",   # a caregiver of 惠民
    "family",            # a relative of the elder `world.elder_here`
    "other_family",      # a relative of nobody in particular
    "visitor",           # a visitor (巡访员) of 登科寺社区: sees what their pairings (visits app) grant, else nothing
    "other_visitor",     # another visitor of 登科寺社区
)

# Places the objects of a case are usually built in (cases may use their own names).
HERE = "511903001002"             # 登科寺社区, 登科街道
NEXT_DOOR = "511903001001"        # another community of the same street
OTHER_STREET = "511903002001"     # a community of 文治街道
OTHER_COUNTY = "511902001001"     # a community of 巴州区


@dataclass
class ScopeWorld:
    users: dict
    organisations: dict
    practitioners: dict
    elders: dict = field(default_factory=dict)

    def __getitem__(self, role):
        return self.users[role]


def build_scope_world() -> ScopeWorld:
    from yiyang.core.models import Role
    from yiyang.core.tests.factories import make_org, make_user
    from yiyang.registry import services as registry
    from yiyang.registry.models import FamilyLink, OrganisationKind
    from yiyang.registry.tests.factories import id_number, make_elder

    orgs = {
        "agency": make_org("评估中心", kind=OrganisationKind.ASSESSMENT, region="511903001"),
        "other_agency": make_org("第二评估中心", kind=OrganisationKind.ASSESSMENT, region="511903002"),
        "provider": make_org("颐康", region="511903002"),
        "other_provider": make_org("惠民", region="511903001"),
    }
    users = {
        "bureau": make_user("bureau", Role.BUREAU, region="511903"),
        "other_bureau": make_user("other_bureau", Role.BUREAU, region="511902"),
        "street": make_user("street", Role.STREET, region="511903001"),
        "other_street": make_user("other_street", Role.STREET, region="511903002"),
        "community": make_user("community", Role.COMMUNITY, region=HERE),
        "other_community": make_user("other_community", Role.COMMUNITY, region=NEXT_DOOR),
        "assessor": make_user("assessor", Role.ASSESSOR, organisation=orgs["agency"]),
        "other_assessor": make_user("other_assessor", Role.ASSESSOR, organisation=orgs["other_agency"]),
        "provider": make_user("provider", Role.PROVIDER, organisation=orgs["provider"]),
        "other_provider": make_user("other_provider", Role.PROVIDER, organisation=orgs["other_provider"]),
        "caregiver": make_user("caregiver", Role.CAREGIVER, organisation=orgs["provider"]),
        "other_caregiver": make_user("other_caregiver", Role.CAREGIVER, organisation=orgs["other_provider"]),
        "family": make_user("family", Role.FAMILY),
        "other_family": make_user("other_family", Role.FAMILY),
        "visitor": make_user("visitor", Role.VISITOR, region=HERE),
        "other_visitor": make_user("other_visitor", Role.VISITOR, region=HERE),
    }
    from django.utils import timezone

    start = timezone.localdate() - datetime.timedelta(days=400)
    practitioners = {}
    for key, seq in (("caregiver", 71), ("other_caregiver", 72)):
        org = orgs["provider" if key == "caregiver" else "other_provider"]
        actor = users["provider" if key == "caregiver" else "other_provider"]
        practitioners[key] = registry.save_practitioner(
            actor=actor, id_number=id_number(datetime.date(1980, 5, 1), seq, male=False), organisation=org,
            name=f"护理员{seq}", phone="13800000000", role="caregiver", skills="助浴,助洁", start_date=start,
            account=users[key])
    world = ScopeWorld(users=users, organisations=orgs, practitioners=practitioners)
    # The family's elder lives HERE; cases that need an elder in each place build their own.
    world.elders["family"] = make_elder(users["bureau"], name="家属的母亲", seq=90, residence=HERE)
    FamilyLink.objects.create(user=users["family"], elder=world.elders["family"], relationship="daughter")
    return world


@pytest.fixture
def scope_world(db):
    return build_scope_world()


@dataclass
class Write:
    """A request that changes an object. Outside the role's scope it must answer 404 and change nothing."""

    label: str
    method: str                 # "post", "patch", "put", "delete"
    url: Any                    # callable(case, obj) -> str
    data: Any = None            # dict, or callable(case, obj) -> dict
    as_json: bool = False       # API calls send JSON


class ScopeMatrix:
    """Inherit, set `model`, `visible` and `build`, and the URLs the model has. See the module docstring."""

    model = None
    # The accounts every check runs as: the scope world's, and those of a role only one app has (the alarms'
    # duty desk), which its `build` adds to `world.users`.
    roles: tuple[str, ...] = ROLES
    # role -> the places whose object the role may see; roles left out see none.
    visible: dict[str, set[str]] = {}
    # Where the page or API shows less than the queryset (a role with no page of its own): role -> places.
    page_visible: dict[str, set[str]] | None = None
    api_visible: dict[str, set[str]] | None = None
    list_url: str | None = None            # the list page
    list_roles: set[str] | None = None     # roles that may open it (default: those in `visible`)
    api_list_url: str | None = None        # the API list
    api_list_roles: set[str] | None = None
    export_url: str | None = None          # an export (xlsx or csv) of the list
    export_data: dict | None = None        # when set, the export is a POST of this form (e.g. its purpose)
    export_roles: set[str] | None = None
    writes: tuple[Write, ...] = ()

    # --- what a case fills in ---------------------------------------------------------------------------------
    def build(self, world: ScopeWorld) -> dict:
        raise NotImplementedError

    def detail_url(self, obj) -> str | None:
        return None

    def api_detail_url(self, obj) -> str | None:
        return None

    def marker(self, obj) -> str:
        """Text that tells the object apart in a list page or export (its name, a number)."""
        return str(obj)

    def api_ids(self, body) -> set:
        items = body["items"] if isinstance(body, dict) else body
        return {item["id"] for item in items}

    def export_text(self, response) -> str:
        """The export's content as text (xlsx cells joined), to look for markers in."""
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if content[:2] == b"PK":
            import io

            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
            return "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                             for c in row if c is not None)
        return content.decode("utf-8-sig", errors="replace")

    # --- the generated tests -------------------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Checks a model has no surface for are not generated (rather than skipped by the dozen).
        absent = {
            "test_detail_page": cls.detail_url is ScopeMatrix.detail_url,
            "test_api_detail": cls.api_detail_url is ScopeMatrix.api_detail_url,
            "test_list_page": cls.list_url is None,
            "test_api_list": cls.api_list_url is None,
            "test_export": cls.export_url is None,
            "test_writes_outside_scope_are_404_and_change_nothing": not cls.writes,
        }
        for name, missing in absent.items():
            if missing:
                setattr(cls, name, None)

    def _objects(self, world):
        objects = self.build(world)
        assert objects and all(isinstance(o, self.model) for o in objects.values()), (
            f"{type(self).__name__}.build must return {self.model.__name__} objects by place")
        unknown = {p for places in self.visible.values() for p in places} - set(objects)
        assert not unknown, f"visible names places that build() does not make: {unknown}"
        return objects

    @staticmethod
    def _expect(table, role) -> set:
        return set((table or {}).get(role, set()))

    def _client(self, client, world, role):
        client.logout()
        client.force_login(world[role])
        return client

    def test_queryset(self, scope_world):
        objects = self._objects(scope_world)
        wrong = []
        for role in self.roles:
            seen = set(self.model.objects.restrict(scope_world[role]).filter(
                pk__in=[o.pk for o in objects.values()]).values_list("pk", flat=True))
            got = {place for place, o in objects.items() if o.pk in seen}
            if got != self._expect(self.visible, role):
                wrong.append((role, sorted(got), sorted(self._expect(self.visible, role))))
        assert not wrong, f"restrict(): (role, sees, should see) {wrong}"

    def _status_matrix(self, client, world, objects, url_of, table):
        wrong = []
        for role in self.roles:
            self._client(client, world, role)
            for place, obj in objects.items():
                status = client.get(url_of(obj)).status_code
                expected = 200 if place in self._expect(table, role) else 404
                if status != expected:
                    wrong.append((role, place, status, expected))
        return wrong

    def test_detail_page(self, client, scope_world):
        objects = self._objects(scope_world)
        table = self.page_visible if self.page_visible is not None else self.visible
        wrong = self._status_matrix(client, scope_world, objects, self.detail_url, table)
        assert not wrong, f"detail page: (role, place, status, expected) {wrong}"

    def test_api_detail(self, client, scope_world):
        objects = self._objects(scope_world)
        table = self.api_visible if self.api_visible is not None else self.visible
        wrong = self._status_matrix(client, scope_world, objects, self.api_detail_url, table)
        assert not wrong, f"API detail: (role, place, status, expected) {wrong}"

    def _list_matrix(self, client, world, objects, url, roles, table, read, post=None):
        wrong = []
        roles = set(roles) if roles is not None else {r for r, places in (table or {}).items() if places}
        for role in self.roles:
            self._client(client, world, role)
            resp = client.post(url, post) if post is not None else client.get(url)
            if role not in roles:
                # A role without the list is refused, or (APIs that filter rather than refuse) sees nothing.
                if resp.status_code == 200 and read(resp, objects):
                    wrong.append((role, "a role without the list sees", sorted(read(resp, objects))))
                elif resp.status_code not in (200, 403, 404):
                    wrong.append((role, "status", resp.status_code))
                continue
            if resp.status_code != 200:
                wrong.append((role, "status", resp.status_code))
                continue
            got = read(resp, objects)
            if got != self._expect(table, role):
                wrong.append((role, sorted(got), sorted(self._expect(table, role))))
        return wrong

    def test_list_page(self, client, scope_world):
        objects = self._objects(scope_world)
        table = self.page_visible if self.page_visible is not None else self.visible

        def read(resp, objects):
            body = resp.content.decode()
            return {place for place, o in objects.items() if self.marker(o) in body}

        wrong = self._list_matrix(client, scope_world, objects, self.list_url, self.list_roles, table, read)
        assert not wrong, f"list page: {wrong}"

    def test_api_list(self, client, scope_world):
        objects = self._objects(scope_world)
        table = self.api_visible if self.api_visible is not None else self.visible

        def read(resp, objects):
            ids = self.api_ids(resp.json())
            return {place for place, o in objects.items() if o.pk in ids}

        wrong = self._list_matrix(client, scope_world, objects, self.api_list_url, self.api_list_roles, table, read)
        assert not wrong, f"API list: {wrong}"

    def test_export(self, client, scope_world):
        objects = self._objects(scope_world)
        table = self.page_visible if self.page_visible is not None else self.visible

        def read(resp, objects):
            text = self.export_text(resp)
            return {place for place, o in objects.items() if self.marker(o) in text}

        wrong = self._list_matrix(client, scope_world, objects, self.export_url, self.export_roles, table, read,
                                  post=self.export_data)
        assert not wrong, f"export: {wrong}"

    def test_writes_outside_scope_are_404_and_change_nothing(self, client, scope_world):
        from yiyang.core.audit import snapshot

        objects = self._objects(scope_world)
        wrong = []
        for role in self.roles:
            self._client(client, scope_world, role)
            for place, obj in objects.items():
                if place in self._expect(self.visible, role):
                    continue
                before = snapshot(self.model.objects.get(pk=obj.pk))
                for write in self.writes:
                    data = write.data(self, obj) if callable(write.data) else (write.data or {})
                    kwargs = {"data": json.dumps(data), "content_type": "application/json"} if write.as_json \
                        else {"data": data}
                    status = getattr(client, write.method)(write.url(self, obj), **kwargs).status_code
                    if status != 404:
                        wrong.append((role, place, write.label, status))
                if snapshot(self.model.objects.get(pk=obj.pk)) != before:
                    wrong.append((role, place, "the object changed"))
        assert not wrong, f"writes outside scope: (role, place, write, status) {wrong}"
