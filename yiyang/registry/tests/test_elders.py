import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from yiyang.core.models import AuditEvent
from yiyang.core.tests.factories import demo_roles
from yiyang.registry import selectors, services
from yiyang.registry.models import Elder, ElderStatus
from yiyang.registry.signals import elder_status_changed
from yiyang.registry.tests.factories import id_number, make_elder

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 11, 25)


@pytest.fixture
def roles():
    return demo_roles()


def test_identity_is_derived_and_stored_encrypted(roles):
    elder = make_elder(roles["community"], name="王秀英", birth=datetime.date(1940, 3, 8), male=False,
                       phone="138 0827 1234")
    assert elder.birth_date == datetime.date(1940, 3, 8) and elder.sex == "F"
    assert elder.name_initials == "wxy" and elder.name_pinyin == "wangxiuying"
    assert elder.county_code == "511903" and elder.phone == "13808271234"
    assert elder.id_number_masked.startswith("5119") and "*" * 10 in elder.id_number_masked
    with connection.cursor() as cur:
        cur.execute("SELECT id_number FROM registry_elder WHERE id = %s", [elder.pk])
        stored = cur.fetchone()[0]
    assert elder.id_number not in stored  # ciphertext in the column
    assert Elder.objects.get(pk=elder.pk).id_number == elder.id_number


def test_one_person_one_record(roles):
    make_elder(roles["community"], seq=7)
    with pytest.raises(ValidationError) as exc:
        make_elder(roles["bureau"], seq=7, residence="511903002001", name="另一个名字")
    assert "id_number" in exc.value.message_dict
    assert Elder.objects.count() == 1


def test_lower_case_x_and_full_width_digits_find_the_same_person(roles):
    number = None
    for seq in range(100):  # find a number whose check character is X
        candidate = id_number(datetime.date(1938, 1, 1), seq)
        if candidate.endswith("X"):
            number = candidate
            break
    services.register_elder(actor=roles["community"], id_number=number.lower(), name="李德明",
                            residence_region="511903001002", hukou_region="511903001002")
    with pytest.raises(ValidationError):
        services.register_elder(actor=roles["community"], id_number=number.translate(
            {ord(d): chr(0xFF10 + int(d)) for d in "0123456789"}), name="李德明",
            residence_region="511903001002", hukou_region="511903001002")


def test_community_worker_cannot_register_outside_their_community(roles):
    with pytest.raises(ValidationError) as exc:
        make_elder(roles["community"], residence="511903002001")
    assert "residence_region" in exc.value.message_dict
    assert not Elder.objects.exists()


def test_invalid_fields_are_all_reported_and_nothing_saved(roles):
    with pytest.raises(ValidationError) as exc:
        services.register_elder(actor=roles["bureau"], id_number="511903194003080021", name="",
                                residence_region="511903", hukou_region="999999", phone="123",
                                latitude="200", longitude="106")
    assert set(exc.value.message_dict) >= {"id_number", "name", "residence_region", "hukou_region", "phone",
                                           "latitude"}
    assert not Elder.objects.exists()
    assert not AuditEvent.objects.filter(object_type="registry.elder").exists()


def test_status_event_death_records_event_status_and_signal(roles):
    elder = make_elder(roles["community"])
    received = []

    def listener(sender, elder, event, actor, **kwargs):
        received.append((elder.pk, event.kind, actor.username))

    elder_status_changed.connect(listener)
    try:
        services.record_status_event(actor=roles["community"], elder=elder, kind="death",
                                     effective_date=datetime.date(2026, 11, 2))
    finally:
        elder_status_changed.disconnect(listener)
    elder.refresh_from_db()
    assert elder.status == ElderStatus.DECEASED and elder.status_date == datetime.date(2026, 11, 2)
    assert received == [(elder.pk, "death", "community")]
    # A dead person cannot die again, move or be suspended.
    for kind in ("death", "relocate", "suspend"):
        with pytest.raises(ValidationError):
            services.record_status_event(actor=roles["bureau"], elder=elder, kind=kind,
                                         effective_date=datetime.date(2026, 11, 3), to_region="511903002001")


def test_relocation_moves_residence_and_keeps_the_person_active(roles):
    elder = make_elder(roles["street"], residence="511903001002")
    services.record_status_event(actor=roles["bureau"], elder=elder, kind="relocate",
                                 effective_date=datetime.date(2026, 10, 15), to_region="511903002001")
    elder.refresh_from_db()
    assert elder.residence_region_id == "511903002001" and elder.status == "active"
    event = elder.status_events.get()
    assert event.from_region_id == "511903001002" and event.to_region_id == "511903002001"
    # The 登科街道 worker no longer sees them; the 文治街道 worker does.
    assert not Elder.objects.restrict(roles["street"]).filter(pk=elder.pk).exists()
    assert Elder.objects.restrict(roles["other_street"]).filter(pk=elder.pk).exists()


def test_status_event_date_rules(roles):
    elder = make_elder(roles["community"])
    with pytest.raises(ValidationError) as exc:
        services.record_status_event(actor=roles["community"], elder=elder, kind="death",
                                     effective_date=datetime.date(2999, 1, 1))
    assert "effective_date" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.record_status_event(actor=roles["community"], elder=elder, kind="relocate",
                                     effective_date=datetime.date(2026, 1, 1))  # no destination
    services.record_status_event(actor=roles["community"], elder=elder, kind="suspend",
                                 effective_date=datetime.date(2026, 6, 1))
    with pytest.raises(ValidationError):  # before the previous event
        services.record_status_event(actor=roles["community"], elder=elder, kind="resume",
                                     effective_date=datetime.date(2026, 5, 1))
    services.record_status_event(actor=roles["community"], elder=elder, kind="resume",
                                 effective_date=datetime.date(2026, 7, 1))
    elder.refresh_from_db()
    assert elder.status == "active" and elder.status_events.count() == 2


def test_categories_with_dates_and_overlap(roles):
    elder = make_elder(roles["community"])
    services.add_category(actor=roles["community"], elder=elder, kind="destitute",
                          start_date=datetime.date(2020, 1, 1))
    services.add_category(actor=roles["community"], elder=elder, kind="severe_disability", grade="二级",
                          start_date=datetime.date(2021, 5, 1), end_date=datetime.date(2026, 10, 31))
    with pytest.raises(ValidationError):
        services.add_category(actor=roles["community"], elder=elder, kind="destitute",
                              start_date=datetime.date(2025, 1, 1))
    with pytest.raises(ValidationError) as exc:
        services.add_category(actor=roles["community"], elder=elder, kind="severe_disability",
                              start_date=datetime.date(2026, 11, 5))
    assert "grade" in exc.value.message_dict
    labels = selectors.category_labels([elder.pk], today=TODAY)
    assert labels[elder.pk] == ["特困"]  # 重残 ended on 31 October
    assert selectors.category_labels([elder.pk], today=datetime.date(2026, 10, 31))[elder.pk] == ["特困", "重残"]


def test_age_bands_are_birth_date_ranges_hand_computed(roles):
    # On 2026-11-25: born 1946-11-25 is exactly 80; born 1946-11-26 is still 79.
    eighty = make_elder(roles["bureau"], name="甲", birth=datetime.date(1946, 11, 25), seq=1)
    seventy_nine = make_elder(roles["bureau"], name="乙", birth=datetime.date(1946, 11, 26), seq=2)
    hundred = make_elder(roles["bureau"], name="丙", birth=datetime.date(1926, 11, 25), seq=3)
    ninety_nine = make_elder(roles["bureau"], name="丁", birth=datetime.date(1926, 11, 26), seq=4)

    def band(b):
        f = selectors.ElderFilters(age_band=b)
        return set(selectors.elders_for(user=roles["bureau"], filters=f, today=TODAY).values_list("name", flat=True))

    assert band("80-89") == {eighty.name}
    assert band("70-79") == {seventy_nine.name}
    assert band("100+") == {hundred.name}
    assert band("90-99") == {ninety_nine.name}
    assert band("80+") == {eighty.name, hundred.name, ninety_nine.name}


def test_leap_day_birthday_age_band(roles):
    # Born 1944-02-29: on 2024-02-28 (a leap year) still 79, on 2024-02-29 80.
    make_elder(roles["bureau"], name="闰", birth=datetime.date(1944, 2, 29), seq=9)
    f = selectors.ElderFilters(age_band="80-89")
    assert not selectors.elders_for(user=roles["bureau"], filters=f, today=datetime.date(2024, 2, 28)).exists()
    assert selectors.elders_for(user=roles["bureau"], filters=f, today=datetime.date(2024, 2, 29)).exists()


def test_search_by_pinyin_initials_phone_and_exact_id(roles):
    a = make_elder(roles["community"], name="张桂兰", phone="13912345678", seq=1)
    make_elder(roles["community"], name="李国华", seq=2, male=True)

    def search(q):
        return list(selectors.elders_for(user=roles["community"],
                                         filters=selectors.ElderFilters(q=q)).values_list("name", flat=True))

    assert search("zgl") == ["张桂兰"]
    assert search("zhang") == ["张桂兰"]
    assert search("桂兰") == ["张桂兰"]
    assert search("5678") == ["张桂兰"]
    assert search(a.id_number.lower()) == ["张桂兰"]
    assert search(a.id_number[:-1]) == []  # a partial ID number finds nothing (not a fuzzy search of PII)


def test_list_page_query_count_is_constant(client, roles):
    for i in range(30):
        elder = make_elder(roles["bureau"], name=f"人{i}", seq=i + 1, residence="511903001002")
        services.add_category(actor=roles["bureau"], elder=elder, kind="subsistence",
                              start_date=datetime.date(2020, 1, 1))
    client.force_login(roles["bureau"])

    def count(per_page):
        with CaptureQueriesContext(connection) as ctx:
            resp = client.get(reverse("registry:elder_list"), {"per_page": per_page, "status": "active"})
        assert resp.status_code == 200
        return len(ctx.captured_queries)

    assert count(25) == count(50) == count(100)


def test_detail_page_timeline_and_reveal(client, roles):
    elder = make_elder(roles["community"], name="赵淑珍")
    services.record_status_event(actor=roles["community"], elder=elder, kind="suspend",
                                 effective_date=datetime.date(2026, 11, 1), note="外出就医")
    client.force_login(roles["street"])
    body = client.get(reverse("registry:elder_detail", args=[elder.pk])).content.decode()
    assert "赵淑珍" in body and "外出就医" in body and elder.id_number not in body
    resp = client.post(reverse("registry:elder_reveal_id", args=[elder.pk]))
    assert elder.id_number in resp.content.decode()
    assert AuditEvent.objects.filter(action="view_id", object_id=str(elder.pk), actor=roles["street"]).exists()
    # Community workers see masked numbers only.
    client.force_login(roles["community"])
    assert client.post(reverse("registry:elder_reveal_id", args=[elder.pk])).status_code == 404


def test_register_death_through_the_page(client, roles):
    elder = make_elder(roles["community"], name="钱玉兰")
    client.force_login(roles["community"])
    url = reverse("registry:elder_status_event", args=[elder.pk])
    bad = client.post(url, {"kind": "death", "effective_date": "2999-01-01"})
    assert bad.status_code == 422
    elder.refresh_from_db()
    assert elder.status == "active"
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    ok = client.post(url, {"kind": "death", "effective_date": yesterday.isoformat()})
    assert ok.status_code == 302
    elder.refresh_from_db()
    assert elder.status == "deceased"


def test_create_elder_page_and_inline_id_check(client, roles):
    client.force_login(roles["community"])
    number = id_number(datetime.date(1945, 6, 1), 3)
    check = client.post(reverse("registry:elder_check_id"), {"id_number": number})
    assert "1945-06-01" in check.content.decode()
    wrong = client.post(reverse("registry:elder_check_id"), {"id_number": number[:-1] + ("0" if number[-1] != "0"
                                                                                        else "1")})
    assert "校验码错误" in wrong.content.decode()
    resp = client.post(reverse("registry:elder_create"), {"name": "孙建国", "id_number": number,
                                                          "residence_region": "511903001002"})
    assert resp.status_code == 302
    elder = Elder.objects.get()
    assert elder.hukou_region_id == "511903001002"
    assert AuditEvent.objects.filter(action="create", object_type="registry.elder", actor=roles["community"]).exists()


def test_export_masks_unless_allowed_and_logs_purpose(client, roles):
    import io

    from openpyxl import load_workbook

    elder = make_elder(roles["community"], name="周德明", male=True, seq=3)
    url = reverse("registry:elder_export")
    client.force_login(roles["community"])
    assert client.post(url, {}).status_code == 302  # no purpose: refused
    resp = client.post(url, {"purpose": "11月高龄津贴核对"})
    ws = load_workbook(io.BytesIO(resp.content)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][0] == "周德明" and rows[1][1] == elder.id_number_masked
    event = AuditEvent.objects.get(action="export", actor=roles["community"])
    assert "11月高龄津贴核对" in event.detail and "masked" in event.detail
    client.force_login(roles["street"])
    rows = list(load_workbook(io.BytesIO(client.post(url, {"purpose": "核对"}).content)).worksheets[0].iter_rows(
        values_only=True))
    assert rows[1][1] == elder.id_number


def test_home_summary_counts(client, roles):
    a = make_elder(roles["bureau"], name="甲", birth=datetime.date(1940, 1, 1), seq=1, living_situation="alone")
    make_elder(roles["bureau"], name="乙", birth=datetime.date(1960, 1, 1), seq=2)
    c = make_elder(roles["bureau"], name="丙", birth=datetime.date(1930, 1, 1), seq=3, residence="511903002001")
    services.add_category(actor=roles["bureau"], elder=a, kind="destitute", start_date=datetime.date(2020, 1, 1))
    services.record_status_event(actor=roles["bureau"], elder=c, kind="death", effective_date=datetime.date(2026, 1, 1))
    assert selectors.register_summary(user=roles["bureau"], today=TODAY) == {
        "total": 2, "over_80": 1, "alone": 1, "destitute": 1}
    assert selectors.register_summary(user=roles["other_street"], today=TODAY)["total"] == 0
    client.force_login(roles["community"])
    assert "在册老年人" in client.get("/").content.decode()
    client.force_login(roles["provider"])
    assert "在册老年人" not in client.get("/").content.decode()


def test_sorting_by_age_and_name(roles):
    make_elder(roles["bureau"], name="安", birth=datetime.date(1950, 1, 1), seq=1)
    make_elder(roles["bureau"], name="卞", birth=datetime.date(1930, 1, 1), seq=2)
    make_elder(roles["bureau"], name="曹", birth=datetime.date(1940, 1, 1), seq=3)

    def names(sort):
        f = selectors.ElderFilters(sort=sort)
        return list(selectors.elders_for(user=roles["bureau"], filters=f, today=TODAY).values_list("name", flat=True))

    assert names("-age") == ["卞", "曹", "安"]
    assert names("age") == ["安", "曹", "卞"]
    assert names("name") == ["安", "卞", "曹"]  # an, bian, cao


def test_category_and_contact_forms_on_the_detail_page(client, roles):
    elder = make_elder(roles["community"], name="吴桂兰")
    client.force_login(roles["community"])
    bad = client.post(reverse("registry:elder_add_category", args=[elder.pk]),
                      {"kind": "severe_disability", "start_date": "2024-01-01"})  # 重残 without a grade
    assert bad.status_code == 422 and "重残须填写残疾等级" in bad.content.decode()
    assert not elder.categories.exists()
    ok = client.post(reverse("registry:elder_add_category", args=[elder.pk]),
                     {"kind": "severe_disability", "grade": "二级", "start_date": "2024-01-01"})
    assert ok.status_code == 302 and elder.categories.get().grade == "二级"
    bad_contact = client.post(reverse("registry:elder_add_contact", args=[elder.pk]),
                              {"name": "吴军", "relationship": "son", "phone": "123"})
    assert bad_contact.status_code == 422 and not elder.contacts.exists()
    client.post(reverse("registry:elder_add_contact", args=[elder.pk]),
                {"name": "吴军", "relationship": "son", "phone": "13900001234", "is_guardian": "on"})
    assert elder.contacts.get().is_guardian is True
