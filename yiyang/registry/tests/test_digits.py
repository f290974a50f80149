"""ID numbers, phones and bank accounts accept ASCII digits only (full-width ones are normalised), everywhere they
are parsed: the register's page, its API, the inline ID check, the Excel import, staff records and staff
accounts (issue 13 §3). ١٢٣ (Arabic-Indic) and १२३ (Devanagari) pass str.isdigit() and used to be stored as
different people; ²³ (superscripts) pass it too and then crashed int() with a 500."""

import datetime
import json
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from yiyang.core import pii
from yiyang.core.models import User
from yiyang.core.services import create_account
from yiyang.core.tests.factories import demo_roles, make_org
from yiyang.registry import services
from yiyang.registry.models import Elder, Practitioner
from yiyang.registry.tests.factories import id_number
from yiyang.registry.tests.importkit import confirm, elder_row, issues, run, workbook_bytes

pytestmark = pytest.mark.django_db

ASCII = "0123456789"
FAMILIES = {
    "arabic_indic": "٠١٢٣٤٥٦٧٨٩",
    "extended_arabic_indic": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹",
    "subscript": "₀₁₂₃₄₅₆₇₈₉",
    "circled": "⓪①②③④⑤⑥⑦⑧⑨",
}
FULL_WIDTH = "０１２３４５６７８９"
BIRTH = datetime.date(1944, 6, 15)


def written(text: str, family: str) -> str:
    return text.translate(str.maketrans(ASCII, FAMILIES[family]))


def some_digits_written(text: str, family: str) -> str:
    """The sequence and sex digits only: region, birth date and check character stay valid ASCII, so only the
    character check stops it (it was stored as a second record of the same person, or crashed int())."""
    return text[:14] + written(text[14:17], family) + text[17:]


@pytest.fixture
def roles():
    return demo_roles()


# ------------------------------------------------------------------------------------ the parsers themselves

@pytest.mark.parametrize("family", FAMILIES)
def test_pii_parsers_refuse_every_digit_family_but_ascii(family):
    number = id_number(BIRTH, 3)
    for raw in (written(number, family), some_digits_written(number, family)):
        with pytest.raises(ValidationError) as exc:
            pii.parse_id_number(raw)
        assert exc.value.code == "id_characters"
        assert "0–9" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        pii.validate_phone("138" + written("12345678", family))
    assert exc.value.code == "phone"
    with pytest.raises(ValidationError) as exc:
        pii.validate_bank_account(written("6228480012345678901", family))
    assert exc.value.code == "bank_account"
    assert not pii.is_ascii_digits(written("123", family))


def test_full_width_digits_are_normalised_to_ascii():
    number = id_number(BIRTH, 3)
    assert pii.parse_id_number(number.translate(str.maketrans(ASCII, FULL_WIDTH))).number == number
    assert pii.validate_phone("１３８１２３４５６７８") == "13812345678"
    assert pii.validate_phone("０８２７－５５５１２３４") == "0827-5551234"
    assert pii.validate_bank_account("６２２８ ４８００ １２３４ ５６７８ ９０１") == "6228480012345678901"
    assert pii.is_ascii_digits("0123456789") and not pii.is_ascii_digits("") and not pii.is_ascii_digits("12a")


# ------------------------------------------------------------------------------------ the service (shared)

@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_person_cannot_be_registered_again_in_another_script(roles, family):
    number = id_number(BIRTH, 4)
    services.register_elder(actor=roles["community"], id_number=number, name="王秀英",
                            residence_region="511903001002", hukou_region="511903001002")
    with pytest.raises(ValidationError) as exc:
        services.register_elder(actor=roles["community"], id_number=some_digits_written(number, family), name="王秀英",
                                residence_region="511903001002", hukou_region="511903001002")
    assert "id_number" in exc.value.message_dict
    assert Elder.objects.count() == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_phone_and_bank_account_in_another_script_are_refused(roles, family):
    with pytest.raises(ValidationError) as exc:
        services.register_elder(actor=roles["community"], id_number=id_number(BIRTH, 5), name="王秀英",
                                residence_region="511903001002", hukou_region="511903001002",
                                phone="138" + written("12345678", family),
                                bank_account=written("6228480012345678901", family))
    assert {"phone", "bank_account"} <= set(exc.value.message_dict)
    assert not Elder.objects.exists()


def test_a_full_width_bank_account_is_stored_in_ascii(roles):
    elder = services.register_elder(actor=roles["community"], id_number=id_number(BIRTH, 6), name="王秀英",
                                    residence_region="511903001002", hukou_region="511903001002",
                                    bank_account="６２２８４８００１２３４５６７８９０１")
    assert Elder.objects.get(pk=elder.pk).bank_account == "6228480012345678901"


# ------------------------------------------------------------------------------------ page, API, inline check

@pytest.mark.parametrize("family", FAMILIES)
def test_register_page_says_why_and_never_500s(client, roles, family):
    client.force_login(roles["community"])
    resp = client.post(reverse("registry:elder_create"), {
        "name": "王秀英", "id_number": some_digits_written(id_number(BIRTH, 7), family),
        "residence_region": "511903001002",
        "phone": "138" + written("12345678", family), "bank_account": written("6228480012345678901", family)})
    assert resp.status_code == 422
    form = resp.context["form"]
    assert {"id_number", "phone", "bank_account"} <= set(form.errors)
    assert "0–9" in form.errors["id_number"][0]
    assert not Elder.objects.exists()


@pytest.mark.parametrize("family", FAMILIES)
def test_api_says_why_and_never_500s(client, roles, family):
    client.force_login(roles["community"])
    resp = client.post("/api/v1/elders", data=json.dumps({
        "id_number": some_digits_written(id_number(BIRTH, 8), family), "name": "王秀英",
        "residence_region": "511903001002",
        "phone": "138" + written("12345678", family), "bank_account": written("6228480012345678901", family),
        "contacts": [{"name": "李娟", "relationship": "daughter", "phone": "139" + written("12345678", family)}]}),
        content_type="application/json")
    assert resp.status_code == 422, resp.content
    errors = {e["field"]: e for e in resp.json()["errors"]}
    assert {"id_number", "phone", "bank_account"} <= set(errors)
    assert errors["id_number"]["code"] == "id_characters"
    assert not Elder.objects.exists()


@pytest.mark.parametrize("family", FAMILIES)
def test_api_patch_refuses_foreign_digits(client, roles, family):
    elder = services.register_elder(actor=roles["community"], id_number=id_number(BIRTH, 9), name="王秀英",
                                    residence_region="511903001002", hukou_region="511903001002")
    client.force_login(roles["community"])
    resp = client.patch(f"/api/v1/elders/{elder.pk}", data=json.dumps({
        "phone": "138" + written("12345678", family), "bank_account": written("6228480012345678901", family)}),
        content_type="application/json")
    assert resp.status_code == 422
    assert {"phone", "bank_account"} <= {e["field"] for e in resp.json()["errors"]}
    elder.refresh_from_db()
    assert elder.phone == "" and elder.bank_account == ""


@pytest.mark.parametrize("family", FAMILIES)
def test_inline_id_check_says_why_and_never_500s(client, roles, family):
    client.force_login(roles["community"])
    resp = client.post(reverse("registry:elder_check_id"),
                       {"id_number": some_digits_written(id_number(BIRTH, 10), family)})
    assert resp.status_code == 200
    assert "0–9" in resp.content.decode()


def test_contact_phone_in_another_script_is_refused_on_the_page(client, roles):
    elder = services.register_elder(actor=roles["community"], id_number=id_number(BIRTH, 11), name="王秀英",
                                    residence_region="511903001002", hukou_region="511903001002")
    client.force_login(roles["community"])
    resp = client.post(reverse("registry:elder_add_contact", args=[elder.pk]), {
        "name": "李娟", "relationship": "daughter", "phone": "139" + written("12345678", "arabic_indic")})
    assert resp.status_code == 422
    assert not elder.contacts.exists()


# ------------------------------------------------------------------------------------ the Excel import

def test_import_reports_every_foreign_digit_per_cell(roles):
    families = list(FAMILIES)
    rows = []
    for i, family in enumerate(families, start=1):
        rows.append(elder_row(i, 身份证号=some_digits_written(id_number(BIRTH, 20 + i), family)))
        rows.append(elder_row(100 + i, 身份证号=id_number(BIRTH, 40 + i), 联系电话="138" + written("12345678", family),
                              联系人电话="139" + written("12345678", family),
                              银行账号=written("6228480012345678901", family)))
    job = run(roles["bureau"], workbook_bytes(rows))
    found = issues(job)
    for i in range(len(families)):
        id_row, other_row = 2 + 2 * i, 3 + 2 * i
        assert "0–9" in found[(id_row, "身份证号")][0], found
        assert {(other_row, "联系电话"), (other_row, "联系人电话"), (other_row, "银行账号")} <= set(found)
    assert job.counts["new"] == 0 and job.counts["error"] == 2 * len(families)
    confirm(roles["bureau"], job)
    assert not Elder.objects.exists()


def test_import_of_staff_refuses_foreign_digits(roles):
    from yiyang.registry.importing import STAFF_COLUMNS

    headers = [c.header for c in STAFF_COLUMNS]
    org = roles["provider"].organisation
    rows = [
        {"姓名": "王丽", "身份证号": some_digits_written(id_number(datetime.date(1980, 6, 15), 1), "devanagari"),
         "手机号": "13700001234", "所属机构": org.name, "岗位": "养老护理员", "入职日期": "2022-03-01"},
        {"姓名": "李娟", "身份证号": id_number(datetime.date(1981, 6, 15), 2),
         "手机号": "137" + written("00001234", "arabic_indic"),
         "所属机构": org.name, "岗位": "养老护理员", "入职日期": "2022-03-01"},
    ]
    job = run(roles["bureau"], workbook_bytes(rows, headers, sheet="从业人员"), kind="staff")
    found = issues(job)
    assert (2, "身份证号") in found and (3, "手机号") in found
    assert job.counts["error"] == 2


# ------------------------------------------------------------------------------------ staff records and accounts

@pytest.mark.parametrize("family", FAMILIES)
def test_practitioners_and_staff_accounts_refuse_foreign_digits(roles, family):
    org = make_org("另一家", region="511903001")
    with pytest.raises(ValidationError) as exc:
        services.save_practitioner(actor=roles["bureau"], id_number=some_digits_written(id_number(BIRTH, 12), family),
                                   name="王丽", phone="137" + written("00001234", family), organisation=org,
                                   role="caregiver", start_date="2022-03-01")
    assert {"id_number", "phone"} <= set(exc.value.message_dict)
    assert not Practitioner.objects.exists()
    with pytest.raises(ValidationError) as exc:
        create_account(actor=roles["bureau"], username="newstaff", password="Str0ng-pass!-long", role="street",
                       region=roles["street"].region, phone="137" + written("00001234", family),
                       id_number=some_digits_written(id_number(BIRTH, 13), family))
    assert {"id_number", "phone"} <= set(exc.value.message_dict)
    assert not User.objects.filter(username="newstaff").exists()


# ------------------------------------------------------------------------------------ the class of bug

UNICODE_DIGIT_TESTS = re.compile(r"\.(isdigit|isdecimal|isnumeric)\(")


def test_no_code_parses_input_with_unicode_digit_tests():
    """str.isdigit()/isdecimal()/isnumeric() accept digits of every script (and int() then accepts or crashes):
    code uses pii.is_ascii_digits instead. The only use allowed is inside that function."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if UNICODE_DIGIT_TESTS.search(line) and "ascii-digits-only" not in line:
                offenders.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert offenders == []
