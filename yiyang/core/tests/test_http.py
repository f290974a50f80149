"""core/http.py: the one place a page turns a service's refusal into messages."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.http import GENERAL, attachment, errors_by_field, is_htmx, run_service


def _request(**headers):
    request = RequestFactory().post("/", headers=headers)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _texts(request):
    return [(m.level_tag, str(m)) for m in get_messages(request)]


def test_a_refusal_is_flashed_and_returned_with_its_fields():
    request = _request()

    def refuse():
        raise ValidationError({"name": ["姓名不能为空。"], "__all__": ["整体有误。"]})

    outcome = run_service(request, refuse, success="不该出现")
    assert not outcome
    assert outcome.errors == {"name": ["姓名不能为空。"], GENERAL: ["整体有误。"]}
    assert sorted(_texts(request)) == [("error", "姓名不能为空。"), ("error", "整体有误。")]


def test_a_domain_error_keeps_its_message_and_can_stay_off_the_messages():
    request = _request()

    def refuse():
        raise DomainError(ErrorCode.INVALID_STATE, "已结算的订单不能取消。", status=409)

    outcome = run_service(request, refuse, flash_errors=False)
    assert outcome.messages == ["已结算的订单不能取消。"]
    assert isinstance(outcome.error, DomainError)
    assert _texts(request) == []


class _NameForm(forms.Form):
    name = forms.CharField()


def _valid_form():
    form = _NameForm({"name": "张三"})
    assert form.is_valid()
    return form


def test_a_refusal_goes_onto_the_form_by_field_and_is_not_flashed():
    request = _request()
    form = _valid_form()

    def refuse():
        raise ValidationError({"name": ["姓名已被占用。"], "phone": ["电话格式不对。"], "__all__": ["整体有误。"]})

    outcome = run_service(request, refuse, success="不该出现", form=form)
    assert not outcome
    assert form.errors["name"] == ["姓名已被占用。"]
    assert form.non_field_errors() == ["电话格式不对。", "整体有误。"]  # the form has no `phone` field
    assert "name" not in form.cleaned_data
    assert _texts(request) == []


def test_a_domain_error_goes_onto_the_form_as_a_non_field_error():
    request = _request()
    form = _valid_form()

    def refuse():
        raise DomainError(ErrorCode.CONFLICT, "该账号已存在。", status=409)

    outcome = run_service(request, refuse, form=form)
    assert not outcome and outcome.error.status == 409
    assert form.non_field_errors() == ["该账号已存在。"]
    assert list(form.errors) == ["__all__"]
    assert _texts(request) == []


def test_a_form_is_left_alone_when_the_service_agrees():
    request = _request()
    form = _valid_form()
    outcome = run_service(request, lambda: "ok", success="已保存", form=form)
    assert outcome.value == "ok" and not form.errors
    assert _texts(request) == [("success", "已保存")]


def test_a_refusal_can_be_flashed_later():
    request = _request()

    def refuse():
        raise ValidationError("格式不对")

    outcome = run_service(request, refuse, flash_errors=False)
    assert _texts(request) == []
    outcome.flash(request)
    assert _texts(request) == [("error", "格式不对")]


def test_success_text_may_depend_on_the_value():
    request = _request()
    outcome = run_service(request, lambda: 7, success=lambda n: f"已处理 {n} 条")
    assert outcome and outcome.value == 7
    assert _texts(request) == [("success", "已处理 7 条")]


def test_anything_else_is_a_bug_and_propagates():
    with pytest.raises(ZeroDivisionError):
        run_service(_request(), lambda: 1 / 0)


def test_errors_by_field_of_a_plain_validation_error():
    assert errors_by_field(ValidationError("格式不对")) == {GENERAL: ["格式不对"]}


def test_attachment_names_a_chinese_file_safely():
    response = attachment(b"x", filename="名册 2026-11.xlsx", content_type="application/octet-stream")
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "%E5%90%8D%E5%86%8C" in response["Content-Disposition"]
    assert attachment(b"x", filename="a.pdf", content_type="application/pdf", inline=True)[
        "Content-Disposition"] == 'inline; filename="a.pdf"'


def test_is_htmx():
    assert is_htmx(_request(**{"HX-Request": "true"}))
    assert not is_htmx(_request())


def test_codes_of_the_shared_vocabulary_are_written_as_error_code_members():
    """A refusal whose code is one of ErrorCode's is raised with the member, not a string that can drift
    (`invalid_transition` and `invalid_state` once meant the same thing)."""
    import pathlib
    import re

    from yiyang.core.errors import ErrorCode

    root = pathlib.Path(__file__).resolve().parents[2]
    literal = re.compile(r"""(?:DomainError\(|deny\(.*code=)\s*["']([a-z_]+)["']""")
    shared = {str(code) for code in ErrorCode}
    found = [(str(path.relative_to(root)), n, m.group(1))
             for path in root.rglob("*.py") if "tests" not in path.parts and "migrations" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), 1)
             for m in [literal.search(line)] if m and m.group(1) in shared]
    assert not found, found


def test_no_view_catches_a_service_refusal_itself():
    """Every page turns a refusal into messages through run_service (the module docstring), never with its own
    `except (ValidationError, DomainError)` around a service call."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    caught = re.compile(r"except\s*\(\s*(ValidationError\s*,\s*DomainError|DomainError\s*,\s*ValidationError)\s*\)")
    views = sorted({*root.glob("*/views*.py"), *root.glob("*/views/*.py")})
    assert root / "services" / "views_workspace.py" in views  # the scan sees the pages
    found = [f"{path.relative_to(root)}:{n}" for path in views
             for n, line in enumerate(path.read_text().splitlines(), 1) if caught.search(line)]
    assert not found, found
