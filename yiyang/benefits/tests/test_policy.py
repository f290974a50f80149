"""Authority in the benefits app lives in policy.py: one decision per step, taken by the services, the roll
page's buttons and the API alike. The bank payment file is the bureau's alone and holds only the lines the
exporter may see; validation (the note of a sign-off on a street's behalf) is the service's, so page and API
cannot differ; and the page offers exactly the steps the services accept, for every role and state."""

import csv
import inspect
import io
import json
import pathlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from yiyang.benefits import bankfile, policy, services
from yiyang.benefits.models import Roll, RollCheck, RollStatus, StreetReview
from yiyang.benefits.tests import factories as f
from yiyang.benefits.tests.test_api import born
from yiyang.core.errors import DomainError
from yiyang.core.models import AuditAction, AuditEvent, Region

pytestmark = pytest.mark.django_db
API = "/api/v1/benefits/"
OTHER_STREET_COMMUNITY = "511903002001"  # 文治街道


def generated(world):
    return f.generate(world["bureau"], world["prog"], timezone.localdate().strftime("%Y-%m"))


def in_review(world):
    roll = generated(world)
    return services.submit_for_review(actor=world["bureau"], roll=roll)


def approved(world):
    roll = in_review(world)
    services.sign_off_remaining_streets(actor=world["bureau"], roll=roll, note="纸质审核表已签字")
    return services.approve_roll(actor=world["bureau"], roll=roll)


def api_post(client, url, data=None):
    return client.post(API + url, data=json.dumps(data or {}), content_type="application/json")


def exports_of(roll):
    return AuditEvent.objects.filter(action=AuditAction.EXPORT, object_type="benefits.roll", object_id=str(roll.pk))


def csv_names(content: bytes) -> set[str]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return {r[1] for r in rows[1:]}


# --------------------------------------------------------------------------------------------- bank file


def test_a_street_cannot_download_the_payment_file_and_the_roll_stays_approved(client, world):
    roll = approved(world)
    client.force_login(world["street"])
    resp = client.get(API + f"rolls/{roll.pk}/bank-file", {"format": "csv"})
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden", resp.content
    assert "只有本辖区民政部门可以导出银行代发文件" in resp.json()["message"]
    page = client.post(reverse("benefits:export", args=[roll.pk]), {"format": "csv"}, follow=True)
    assert "只有本辖区民政部门可以导出银行代发文件" in page.content.decode()
    assert page.get("Content-Disposition") is None
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert 'data-testid="export-xlsx"' not in body and 'data-testid="export-csv"' not in body
    roll.refresh_from_db()
    assert (roll.status, roll.exported_at) == (RollStatus.APPROVED, None)
    assert not exports_of(roll).exists()

    client.force_login(world["other_bureau"])  # the neighbouring district does not even see the roll
    assert client.get(API + f"rolls/{roll.pk}/bank-file").status_code == 404

    client.force_login(world["bureau"])
    resp = client.get(API + f"rolls/{roll.pk}/bank-file", {"format": "csv"})
    assert resp.status_code == 200 and csv_names(resp.content) == {"老人1", "老人2", "老人3"}
    roll.refresh_from_db()
    assert roll.status == RollStatus.EXPORTED and exports_of(roll).count() == 1


def test_the_payment_file_reads_its_lines_through_the_exporters_scope(world):
    """Even called directly, the writer only ever sees the lines its actor may see."""
    roll = approved(world)
    _name, content, _mime = bankfile.write(roll, actor=world["street"], fmt="csv")
    assert csv_names(content) == {"老人1", "老人2"}
    _name, content, _mime = bankfile.write(roll, actor=world["other_bureau"], fmt="csv")
    assert csv_names(content) == set()
    _name, content, _mime = bankfile.write(roll, actor=world["bureau"], fmt="csv")
    assert csv_names(content) == {"老人1", "老人2", "老人3"}


# ------------------------------------------------------------------------------------------ street sign-off


def test_a_sign_off_on_a_streets_behalf_needs_its_note_in_the_api_as_on_the_page(client, world):
    roll = in_review(world)
    review = StreetReview.objects.get(roll=roll, street_id="511903001")
    client.force_login(world["bureau"])
    for payload in ({}, {"note": "   "}):
        resp = api_post(client, f"rolls/{roll.pk}/streets/511903001/sign-off", payload)
        assert resp.status_code == 422, resp.content
        (error,) = resp.json()["errors"]
        assert error["field"] == "note" and "代街道审核须注明依据" in error["message"]
    page = client.post(reverse("benefits:sign", args=[roll.pk]), {"street": "511903001"}, follow=True)
    assert "代街道审核须注明依据" in page.content.decode()
    review.refresh_from_db()
    assert review.reviewed_at is None
    # The street signs its own part; a note is its choice.
    client.force_login(world["street"])
    resp = api_post(client, f"rolls/{roll.pk}/streets/511903001/sign-off")
    assert resp.status_code == 200, resp.content
    review.refresh_from_db()
    assert review.reviewed_by == world["street"]
    # Signed once: the page shows no button, the API refuses a second signature.
    resp = api_post(client, f"rolls/{roll.pk}/streets/511903001/sign-off", {"note": "again"})
    assert resp.status_code == 409 and resp.json()["code"] == "invalid_state"
    # Another street's part is not the street's to sign.
    resp = api_post(client, f"rolls/{roll.pk}/streets/511903002/sign-off")
    assert resp.status_code == 403 and "只能审核本街道的名单" in resp.json()["message"]


# ------------------------------------------------------------------------------- page buttons = services


class _Undo(Exception):
    pass


def _accepted(call) -> bool:
    """Run a service call for real and undo it: did the service accept the step?"""
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except DomainError:
        return False


def _results_file(roll) -> bytes:
    line = roll.lines.filter(amount__gt=0).first()
    return f"流水号,金额,结果\n{line.pk},{line.amount},成功\n".encode()


STEPS = {
    # data-testid of the button → the service call it stands for
    "regenerate": lambda actor, roll: services.request_roll(actor=actor, programme=roll.programme,
                                                            jurisdiction=roll.jurisdiction, month=roll.month),
    "submit-review": lambda actor, roll: services.submit_for_review(actor=actor, roll=roll),
    "approve": lambda actor, roll: services.approve_roll(actor=actor, roll=roll),
    "sign-all": lambda actor, roll: services.sign_off_remaining_streets(actor=actor, roll=roll, note="纸质"),
    "export-xlsx": lambda actor, roll: services.export_bank_file(actor=actor, roll=roll, fmt="xlsx"),
    "import-results": lambda actor, roll: services.import_bank_results(
        actor=actor, roll=roll, file_name="r.csv", content=_results_file(roll)),
    "sign-511903001": lambda actor, roll: services.sign_off_street(
        actor=actor, roll=roll, street=Region.objects.get(code="511903001"), note="纸质"),
}


@pytest.mark.parametrize("state", ["draft", "in_review", "in_review_signed", "approved", "exported"])
def test_the_roll_page_offers_exactly_the_steps_the_services_accept(client, world, state):
    roll = generated(world)
    if state != "draft":
        roll = services.submit_for_review(actor=world["bureau"], roll=roll)
    if state == "in_review_signed":
        services.sign_off_street(actor=world["street"], roll=roll, street=Region.objects.get(code="511903001"))
    if state in ("approved", "exported"):
        services.sign_off_remaining_streets(actor=world["bureau"], roll=roll, note="纸质审核表已签字")
        roll = services.approve_roll(actor=world["bureau"], roll=roll)
    if state == "exported":
        services.export_bank_file(actor=world["bureau"], roll=roll, fmt="csv")
    wrong = []
    for role in ("bureau", "street", "other_street", "community"):
        client.force_login(world[role])
        body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
        for testid, call in STEPS.items():
            roll = Roll.objects.select_related("programme", "jurisdiction").get(pk=roll.pk)
            shown = f'data-testid="{testid}"' in body
            accepted = _accepted(lambda: call(world[role], roll))  # noqa: B023 - called at once
            if shown != accepted:
                wrong.append((role, testid, "shown" if shown else "hidden",
                              "accepted" if accepted else "refused"))
    assert not wrong, f"{state}: (role, button, page, service) {wrong}"


def test_a_check_button_is_shown_exactly_to_who_may_clear_it(client, world):
    f.elder(world["community"], 7, birth=born(88), name="无账户")  # a bank_missing check in 登科寺社区
    roll = generated(world)
    check = RollCheck.objects.get(roll=roll)
    for role in ("bureau", "street", "community"):
        client.force_login(world[role])
        body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
        assert (f'data-testid="confirm-{check.pk}"' in body) == bool(policy.may_resolve_check(world[role], check))
        assert f'data-testid="confirm-{check.pk}"' in body, role
    client.force_login(world["other_street"])
    body = client.get(reverse("benefits:roll", args=[roll.pk])).content.decode()
    assert f'data-testid="confirm-{check.pk}"' not in body
    assert not policy.may_resolve_check(world["other_street"], check)


# --------------------------------------------------------------------------------------------- structure


APP = pathlib.Path(services.__file__).parent


def _sources():
    for path in sorted(APP.rglob("*.py")):
        if "tests" in path.parts or "migrations" in path.parts or path.name == "policy.py":
            continue
        yield path, path.read_text()


def test_authority_is_decided_in_policy_py_only():
    for path, text in _sources():
        assert not re.search(r"def _require", text), f"{path.name}: a hand-written _require helper"
        assert not re.search(r"scope_code[^\n]*\.startswith\(|\.startswith\([^)\n]*scope", text), (
            f"{path.name}: a hand-written scope prefix check (use core.policy.within)")
        assert "has_role(" not in text, f"{path.name}: a role check outside policy.py"


SERVICE_STEPS = {
    "adopt_rule": "may_adopt_rule", "update_settings": "may_change_settings", "create_roll": "may_generate_roll",
    "simulate": "may_simulate_rule", "resolve_check": "may_resolve_check", "submit_for_review": "may_submit_roll",
    "sign_off_street": "may_sign_off_street", "sign_off_remaining_streets": "may_sign_off_remaining_streets",
    "approve_roll": "may_approve_roll", "export_bank_file": "may_export_bank_file",
    "import_bank_results": "may_import_bank_results", "mark_recovered": "may_mark_recovered_line",
    "export_review_list": "may_export_roll_lines",
}


def test_every_service_step_requires_its_policy_decision():
    rules = {name for name, fn in inspect.getmembers(policy, inspect.isfunction) if name.startswith("may_")}
    assert set(SERVICE_STEPS.values()) <= rules
    for step, rule in SERVICE_STEPS.items():
        assert f"policy.{rule}(" in inspect.getsource(getattr(services, step)), step
    # Every rule is used by a service or a page (no rule that nobody asks).
    views = (APP / "views.py").read_text()
    for rule in rules:
        assert f"policy.{rule}(" in (APP / "services.py").read_text() + views, rule


# ------------------------------------------------------------------------------ validation in the services


def test_a_note_too_long_is_refused_alike_by_page_and_api_with_what_is_wrong(client, world):
    f.elder(world["community"], 7, birth=born(88), name="无账户")
    roll = generated(world)
    check = RollCheck.objects.get(roll=roll)
    client.force_login(world["bureau"])
    long_note = "核" * 301
    resp = api_post(client, f"checks/{check.pk}/resolve", {"resolution": "withheld", "note": long_note})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "note"
    page = client.post(reverse("benefits:resolve", args=[roll.pk, check.pk]),
                       {"resolution": "withheld", "note": long_note}, follow=True).content.decode()
    assert "不能超过 300 个字" in page and "请选择处理结果" not in page
    check.refresh_from_db()
    assert check.resolution == ""
    # The service says it too, whoever calls it.
    with pytest.raises(ValidationError) as refused:
        services.resolve_check(actor=world["bureau"], check=check, resolution="withheld", note=long_note)
    assert "不能超过 300 个字" in str(refused.value.message_dict["note"])


def test_a_sign_off_note_longer_than_its_column_is_refused_not_cut(world):
    roll = in_review(world)
    with pytest.raises(ValidationError) as refused:
        services.sign_off_street(actor=world["street"], roll=roll, street=Region.objects.get(code="511903001"),
                                 note="审" * 301)
    assert "不能超过 300 个字" in str(refused.value.message_dict["note"])
    assert StreetReview.objects.get(roll=roll, street_id="511903001").reviewed_at is None
