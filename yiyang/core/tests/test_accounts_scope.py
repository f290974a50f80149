import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from yiyang.core import services
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent, Region, Role, User
from yiyang.core.tests.factories import demo_roles, make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


def visible_usernames(user):
    return set(User.objects.restrict(user).values_list("username", flat=True))


def test_bureau_sees_accounts_of_its_jurisdiction_only(roles):
    seen = visible_usernames(roles["bureau"])
    assert {"bureau", "street", "community", "assessor", "provider", "caregiver", "other_street"} <= seen
    assert "other_bureau" not in seen  # 巴州区 is not 恩阳区
    assert "family" not in seen  # no scope code: not in any jurisdiction


def test_other_roles_see_only_themselves(roles):
    for name in ["street", "community", "assessor", "provider", "caregiver", "family"]:
        assert visible_usernames(roles[name]) == {name}


def test_anonymous_and_inactive_users_see_nothing(roles):
    from django.contrib.auth.models import AnonymousUser

    assert not User.objects.restrict(AnonymousUser()).exists()
    roles["bureau"].is_active = False
    assert not User.objects.restrict(roles["bureau"]).exists()


def test_scope_code_follows_region_or_organisation(roles):
    assert roles["community"].scope_code == "511903001002"
    assert roles["provider"].scope_code == "511903002"  # the organisation's region


@pytest.mark.parametrize(
    "role, region, field",
    [(Role.STREET, "511903", "region"), (Role.COMMUNITY, "511903001", "region"), (Role.BUREAU, "511903001", "region"),
     (Role.BUREAU, None, "region"), (Role.PROVIDER, None, "organisation")],
)
def test_role_scope_must_match_level(roles, role, region, field):
    with pytest.raises(ValidationError) as exc:
        services.create_account(actor=roles["bureau"], username="new1", password="Gd7#kLmn2pq",
                                role=role, region=Region.objects.filter(code=region).first())
    assert field in exc.value.message_dict
    assert not User.objects.filter(username="new1").exists()


def test_bureau_creates_account_in_jurisdiction_and_it_is_audited(roles):
    user = services.create_account(
        actor=roles["bureau"], username="wenzhi", password="Gd7#kLmn2pq", role=Role.STREET,
        region=Region.objects.get(code="511903002"), display_name="文治街道 周敏", phone="138 1234 5678",
        id_number="11010519491231002x",
    )
    assert user.scope_code == "511903002" and user.phone == "13812345678"
    assert user.id_number == "11010519491231002X"
    event = AuditEvent.objects.get(action="create", object_id=str(user.pk))
    assert event.actor == roles["bureau"] and event.region_code == "511903002"
    assert event.after["id_number"] == "1101**********002X"  # masked in the log
    assert "password" not in event.after and "id_number_hash" not in event.after


def test_bureau_cannot_create_accounts_outside_its_jurisdiction(roles):
    with pytest.raises(ValidationError):
        services.create_account(actor=roles["bureau"], username="x", password="Gd7#kLmn2pq", role=Role.STREET,
                                region=Region.objects.get(code="511902001"))
    assert not User.objects.filter(username="x").exists()


def test_only_bureau_manages_accounts(roles):
    with pytest.raises(DomainError):
        services.create_account(actor=roles["street"], username="y", password="Gd7#kLmn2pq", role=Role.COMMUNITY,
                                region=Region.objects.get(code="511903001002"))


@pytest.mark.parametrize("password", ["short1A!", "alllowercaseletters", "1234567890123", "password1234"])
def test_weak_passwords_are_refused(roles, password):
    with pytest.raises(ValidationError) as exc:
        services.create_account(actor=roles["bureau"], username="weak", password=password, role=Role.FAMILY)
    assert "password" in exc.value.message_dict
    assert not User.objects.filter(username="weak").exists()


def test_invalid_id_number_and_phone_are_reported_per_field(roles):
    with pytest.raises(ValidationError) as exc:
        services.create_account(actor=roles["bureau"], username="z", password="Gd7#kLmn2pq", role=Role.FAMILY,
                                phone="12345", id_number="110105194912310021")
    assert set(exc.value.message_dict) == {"phone", "id_number"}


def test_duplicate_username_case_insensitive(roles):
    with pytest.raises(ValidationError) as exc:
        services.create_account(actor=roles["bureau"], username="Street", password="Gd7#kLmn2pq", role=Role.FAMILY)
    assert "username" in exc.value.message_dict


def test_account_pages_answer_404_outside_scope(client, roles):
    client.force_login(roles["bureau"])
    assert client.get(reverse("core:account_detail", args=[roles["street"].pk])).status_code == 200
    assert client.get(reverse("core:account_detail", args=[roles["other_bureau"].pk])).status_code == 404
    client.force_login(roles["street"])
    # Account management is the bureau's: other roles get 404 for the page itself.
    assert client.get(reverse("core:account_list")).status_code == 404
    assert client.get(reverse("core:account_detail", args=[roles["community"].pk])).status_code == 404


def test_account_list_filters_and_scope(client, roles):
    client.force_login(roles["bureau"])
    body = client.get(reverse("core:account_list"), {"role": "street"}).content.decode()
    assert "other_street" in body and "other_bureau" not in body and ">community<" not in body


def test_reveal_full_id_is_logged(client, roles):
    target = make_user("realname", Role.STREET, region="511903003", id_number="11010519491231002X")
    client.force_login(roles["bureau"])
    page = client.get(reverse("core:account_detail", args=[target.pk])).content.decode()
    assert "1101**********002X" in page and "11010519491231002X" not in page
    resp = client.post(reverse("core:account_reveal_id", args=[target.pk]))
    assert "11010519491231002X" in resp.content.decode()
    assert AuditEvent.objects.filter(action="view_id", object_id=str(target.pk), actor=roles["bureau"]).count() == 1


def test_create_account_page_validates_and_creates(client, roles):
    client.force_login(roles["bureau"])
    url = reverse("core:account_create")
    bad = client.post(url, {"username": "dk2", "role": "community", "region": "511902001001",
                            "password": "Gd7#kLmn2pq"})
    assert bad.status_code == 422
    assert not User.objects.filter(username="dk2").exists()
    ok = client.post(url, {"username": "dk2", "role": "community", "region": "511903001002",
                           "password": "Gd7#kLmn2pq", "display_name": "社区干部"})
    assert ok.status_code == 302
    assert User.objects.get(username="dk2").region_id == "511903001002"


def test_deactivate_account(client, roles):
    client.force_login(roles["bureau"])
    client.post(reverse("core:account_set_active", args=[roles["street"].pk]), {"active": "0"})
    roles["street"].refresh_from_db()
    assert roles["street"].is_active is False
    assert AuditEvent.objects.filter(action="update", object_id=str(roles["street"].pk)).exists()
    # One cannot lock oneself out.
    client.post(reverse("core:account_set_active", args=[roles["bureau"].pk]), {"active": "0"})
    roles["bureau"].refresh_from_db()
    assert roles["bureau"].is_active is True


def test_organisation_scope(roles):
    from yiyang.registry.models import Organisation

    make_org("巴州区某机构", region="511902001")
    assert set(Organisation.objects.restrict(roles["provider"]).values_list("name", flat=True)) == {"颐康"}
    bureau_sees = set(Organisation.objects.restrict(roles["bureau"]).values_list("name", flat=True))
    assert bureau_sees == {"颐康", "评估中心"}


def test_only_the_most_specific_menu_entry_is_current(roles):
    from yiyang.core.navigation import flatten, items_for

    current = [i["label"] for i in flatten(items_for(roles["family"], "/services/orders/new/")) if i["active"]]
    assert [str(label) for label in current] == ["预约服务"]
    current = [i["label"] for i in flatten(items_for(roles["family"], "/services/orders/12/")) if i["active"]]
    assert [str(label) for label in current] == ["服务订单"]
