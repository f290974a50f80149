"""The scope matrix: for each role, what it sees and what answers 404, in pages and API alike."""

import datetime
import json

import pytest
from django.urls import reverse

from yiyang.core.tests.factories import demo_roles
from yiyang.registry import services
from yiyang.registry.models import Elder, FamilyLink
from yiyang.registry.tests.factories import make_elder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    roles = demo_roles()
    bureau = roles["bureau"]
    elders = {
        # 登科街道 / 登科寺社区: inside community, street and bureau scope.
        "dengkesi": make_elder(bureau, name="登科寺老人", seq=1, residence="511903001002"),
        # 登科街道, another community: street and bureau, not community.
        "dengke_other": make_elder(bureau, name="新场老人", seq=2, residence="511903001001"),
        # 文治街道: bureau (and other_street), not street/community.
        "wenzhi": make_elder(bureau, name="文治老人", seq=3, residence="511903002001"),
    }
    # Registered (户籍) in 恩阳区 but living in 巴州区: the 恩阳 bureau pays them, so it sees them.
    elders["hukou_only"] = services.register_elder(
        actor=None, id_number=_id(4), name="户籍在恩阳", residence_region="511902001001",
        hukou_region="511903001002")
    # Entirely in 巴州区.
    elders["bazhou"] = services.register_elder(
        actor=None, id_number=_id(5), name="巴州老人", residence_region="511902001001",
        hukou_region="511902001001")
    FamilyLink.objects.create(user=roles["family"], elder=elders["dengkesi"], relationship="son")
    return roles, elders


def _id(seq):
    from yiyang.registry.tests.factories import id_number

    return id_number(datetime.date(1941, 5, 5), seq)


EXPECTED = {
    "bureau": {"dengkesi", "dengke_other", "wenzhi", "hukou_only"},
    "street": {"dengkesi", "dengke_other"},
    "community": {"dengkesi"},
    "other_street": {"wenzhi"},
    "other_bureau": {"hukou_only", "bazhou"},
    "assessor": set(),
    "provider": set(),
    "caregiver": set(),
    "family": {"dengkesi"},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_queryset_scope(world, role):
    roles, elders = world
    visible = set(Elder.objects.restrict(roles[role]).values_list("pk", flat=True))
    assert visible == {elders[k].pk for k in EXPECTED[role]}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_detail_page_and_api_answer_404_outside_scope(client, world, role):
    roles, elders = world
    client.force_login(roles[role])
    for key, elder in elders.items():
        page = client.get(reverse("registry:elder_detail", args=[elder.pk]))
        api = client.get(f"/api/v1/elders/{elder.pk}")
        expected = 200 if key in EXPECTED[role] else 404
        assert (page.status_code, api.status_code) == (expected, expected), (role, key)


@pytest.mark.parametrize("role", ["bureau", "street", "community", "other_street"])
def test_list_page_and_api_list_show_exactly_the_scope(client, world, role):
    roles, elders = world
    client.force_login(roles[role])
    body = client.get(reverse("registry:elder_list")).content.decode()
    items = client.get("/api/v1/elders", {"limit": 100}).json()["items"]
    for key, elder in elders.items():
        assert (elder.name in body) == (key in EXPECTED[role]), (role, key)
    assert {i["id"] for i in items} == {elders[k].pk for k in EXPECTED[role]}


@pytest.mark.parametrize("role", ["assessor", "provider", "caregiver", "family"])
def test_roles_without_a_register_get_404_for_the_list(client, world, role):
    roles, _ = world
    client.force_login(roles[role])
    assert client.get(reverse("registry:elder_list")).status_code == 404
    assert client.get("/api/v1/elders").status_code == 403


def test_changes_outside_scope_are_404(client, world):
    roles, elders = world
    client.force_login(roles["community"])
    url = reverse("registry:elder_status_event", args=[elders["wenzhi"].pk])
    assert client.post(url, {"kind": "death", "effective_date": "2026-11-01"}).status_code == 404
    resp = client.patch(f"/api/v1/elders/{elders['wenzhi'].pk}", data=json.dumps({"phone": "13800000000"}),
                        content_type="application/json")
    assert resp.status_code == 404
    elders["wenzhi"].refresh_from_db()
    assert elders["wenzhi"].status == "active" and elders["wenzhi"].phone == ""


def test_family_sees_the_linked_elder_but_cannot_change_it(client, world):
    roles, elders = world
    client.force_login(roles["family"])
    assert client.get(reverse("registry:elder_detail", args=[elders["dengkesi"].pk])).status_code == 200
    url = reverse("registry:elder_status_event", args=[elders["dengkesi"].pk])
    assert client.post(url, {"kind": "death", "effective_date": "2026-11-01"}).status_code == 404


def test_api_create_validates_like_the_page(client, world):
    roles, _ = world
    client.force_login(roles["community"])
    resp = client.post("/api/v1/elders", data=json.dumps({
        "id_number": "511903194105050021", "name": "测试", "residence_region": "511903002001"}),
        content_type="application/json")
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"id_number", "residence_region"} <= fields
    messages = " ".join(e["message"] for e in resp.json()["errors"])
    assert "校验码" in messages or "身份证号" in messages


def test_api_create_and_status_event(client, world):
    roles, _ = world
    client.force_login(roles["community"])
    resp = client.post("/api/v1/elders", data=json.dumps({
        "id_number": _id(11), "name": "新登记", "residence_region": "511903001002", "phone": "13800001111",
        "categories": [{"kind": "subsistence", "start_date": "2025-01-01"}],
        "contacts": [{"name": "儿子", "relationship": "son", "phone": "13900002222", "is_guardian": True}]}),
        content_type="application/json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["categories"][0]["kind"] == "subsistence" and body["contacts"][0]["is_guardian"] is True
    event = client.post(f"/api/v1/elders/{body['id']}/status-events",
                        data=json.dumps({"kind": "death", "effective_date": "2026-11-10"}),
                        content_type="application/json")
    assert event.status_code == 201 and event.json()["elder_status"] == "deceased"


def test_organisations_facilities_staff_scope(client, world):
    from yiyang.registry.models import Facility, Practitioner

    roles, _ = world
    provider_org = roles["provider"].organisation
    ours = services.save_facility(actor=roles["bureau"], name="登科街道日间照料中心", kind="day_care",
                                  region="511903001002", operator=provider_org, beds_total=12, beds_nursing=4)
    theirs = Facility.objects.create(name="巴州某中心", kind="day_care", region_id="511902001001")
    person = services.save_practitioner(actor=roles["provider"], organisation=provider_org, name="赵桂兰",
                                        id_number=_id(21), phone="13700001234", role="caregiver",
                                        start_date=datetime.date(2024, 3, 1))
    client.force_login(roles["bureau"])
    assert client.get(f"/api/v1/facilities/{ours.pk}").status_code == 200
    assert client.get(f"/api/v1/facilities/{theirs.pk}").status_code == 404
    client.force_login(roles["community"])
    assert client.get(reverse("registry:facility_detail", args=[ours.pk])).status_code == 200
    assert client.get(reverse("registry:facility_detail", args=[theirs.pk])).status_code == 404
    client.force_login(roles["provider"])
    assert client.get(f"/api/v1/staff/{person.pk}").status_code == 200
    assert client.get(reverse("registry:facility_detail", args=[ours.pk])).status_code == 200
    client.force_login(roles["other_bureau"])
    assert client.get(f"/api/v1/staff/{person.pk}").status_code == 404
    assert Practitioner.objects.restrict(roles["caregiver"]).count() == 0  # not linked to this account


def test_facility_rules(world):
    roles, _ = world
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.save_facility(actor=roles["bureau"], name="X", kind="day_care", region="511903001002",
                               beds_total=10, beds_nursing=11, floor_area="-5")
    assert {"beds_nursing", "floor_area"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError) as exc:
        services.save_organisation(actor=roles["bureau"], name="某公司", kind="provider",
                                   credit_code="91511903MA0000002C", region="511903001")
    assert "credit_code" in exc.value.message_dict


def test_practitioner_edit_page_sets_the_route_start_and_stays_in_scope(client, world):
    from decimal import Decimal

    from yiyang.core.tests.factories import make_org, make_user
    from yiyang.registry.models import Practitioner

    roles, _ = world
    person = services.save_practitioner(actor=roles["provider"], organisation=roles["provider"].organisation,
                                        name="赵桂兰", id_number=_id(21), phone="13700001234", role="caregiver",
                                        skills="助洁", start_date=datetime.date(2024, 3, 1))
    url = reverse("registry:practitioner_edit", args=[person.pk])
    client.force_login(roles["provider"])
    detail = client.get(reverse("registry:practitioner_detail", args=[person.pk])).content.decode()
    assert 'data-testid="edit"' in detail
    form = {"name": "赵桂兰", "id_number": "", "phone": "13700001234", "organisation": person.organisation_id,
            "role": "caregiver", "certificate_level": "4", "certificate_number": "", "skills": "助洁,助浴",
            "start_date": "2024-03-01", "end_date": "", "home_latitude": "106.6", "home_longitude": "31.8"}
    bad = client.post(url, form)  # latitude and longitude swapped
    assert bad.status_code == 422 and "经纬度不在中国境内" in bad.content.decode()
    assert Practitioner.objects.get(pk=person.pk).home_latitude is None
    form.update(home_latitude="31.801234", home_longitude="106.601234")
    assert client.post(url, form).status_code == 302
    person.refresh_from_db()
    assert (person.home_latitude, person.home_longitude) == (Decimal("31.801234"), Decimal("106.601234"))
    assert person.skill_list == ["助洁", "助浴"] and person.certificate_level == "4"
    assert person.id_number == _id(21)  # left blank: unchanged
    # Another provider, and the caregiver themself, may not edit.
    client.force_login(make_user("other_provider", "provider", organisation=make_org("别家", credit_code="X1")))
    assert client.get(url).status_code == 404
    client.force_login(roles["caregiver"])
    assert client.get(url).status_code == 404  # role_required hides pages a role has no business with
