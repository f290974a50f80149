"""What a new user tripped over on the register's pages (issue 13 §6): the list's first page and the status form."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.core.tests.factories import demo_roles
from yiyang.registry import selectors
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


@pytest.fixture
def mixed(roles):
    """Three people registered (户籍) in 恩阳区: two living there, one in 巴州区 (code 511902, sorting first)."""
    away = make_elder(roles["bureau"], name="外地居住", seq=1, residence="511903001002")
    # Moved away to 巴州区 (the bureau still answers for them: it pays their benefits); the code sorts first.
    Elder.objects.filter(pk=away.pk).update(residence_region_id="511902001001", county_code="511902",
                                            hukou_region_id="511903001002")
    return {"away": away, "here": [make_elder(roles["bureau"], name="本地甲", seq=2, residence="511903002001"),
                                   make_elder(roles["bureau"], name="本地乙", seq=3, residence="511903001002")]}


def test_the_bureau_list_opens_on_its_own_residents(client, roles, mixed):
    names = list(selectors.elders_for(user=roles["bureau"]).values_list("name", flat=True))
    assert names == ["本地乙", "本地甲", "外地居住"]  # residents by region code, then those living elsewhere
    client.force_login(roles["bureau"])
    body = client.get(reverse("registry:elder_list")).content.decode()
    assert body.index("本地乙") < body.index("本地甲") < body.index("外地居住")
    assert "户籍在本辖区、居住在辖区外的老年人排在后面" in body
    assert body.count('data-testid="lives-elsewhere"') == 1
    # Sorting by name is what it says, residents or not.
    names = list(selectors.elders_for(user=roles["bureau"], filters=selectors.ElderFilters(sort="-name"))
                 .values_list("name", flat=True))
    assert names == ["外地居住", "本地乙", "本地甲"]


def test_a_street_list_has_no_such_note(client, roles, mixed):
    client.force_login(roles["street"])
    body = client.get(reverse("registry:elder_list")).content.decode()
    assert "本地乙" in body and "外地居住" not in body and "居住在辖区外" not in body


def test_the_status_form_starts_with_nothing_chosen_and_requires_a_choice(client, roles):
    elder = make_elder(roles["community"], seq=5)
    client.force_login(roles["community"])
    page = client.get(reverse("registry:elder_detail", args=[elder.pk]))
    form = page.context["status_form"]
    assert form["kind"].value() in (None, "")
    html = page.content.decode()
    kind_select = html[html.index('name="kind"', html.index('id="status-action"')):]
    first_option = kind_select[kind_select.index("<option"):kind_select.index("</option>")]
    assert 'value=""' in first_option and "selected" in first_option
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    resp = client.post(reverse("registry:elder_status_event", args=[elder.pk]), {"effective_date": yesterday})
    assert resp.status_code == 422
    assert resp.context["status_form"].errors["kind"] == ["请选择要登记的事件。"]
    elder.refresh_from_db()
    assert elder.status == "active" and not elder.status_events.exists()
