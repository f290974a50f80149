"""Every date input of every form renders its value as ISO YYYY-MM-DD, whatever the language: an
<input type="date"> given the Chinese format (2026/12/02) shows an empty field (issue 13 §6)."""

import datetime
import importlib
import pkgutil
import re

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone, translation

import yiyang
from yiyang.core.tests.factories import demo_roles
from yiyang.registry.tests.factories import make_elder


def _form_classes() -> list[type]:
    for module in pkgutil.walk_packages(yiyang.__path__, "yiyang."):
        last = module.name.rsplit(".", 1)[-1]
        if ".tests" not in module.name and (last.startswith("forms") or last.startswith("views")):
            importlib.import_module(module.name)
    found, todo = [], [forms.BaseForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("yiyang."):
            found.append(cls)
    return found


def _date_fields():
    out = []
    for cls in _form_classes():
        for name, field in cls.base_fields.items():
            if isinstance(field, forms.DateField | forms.DateTimeField | forms.TimeField):
                out.append(pytest.param(field, id=f"{cls.__module__}.{cls.__name__}.{name}"))
    return out


def test_the_forms_with_date_inputs_are_found():
    ids = {p.id for p in _date_fields()}
    assert {"yiyang.registry.forms.StatusEventForm.effective_date", "yiyang.core.forms.AuditFilterForm.date_from",
            "yiyang.services.forms.OrderFilterForm.date_to", "yiyang.assessment.forms.AssignForm.scheduled_for",
            } <= ids, sorted(ids)


@pytest.mark.parametrize("field", _date_fields())
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_date_and_time_input_renders_iso(field, language):
    widget = field.widget
    kind = getattr(widget, "input_type", "")
    if kind not in {"date", "time", "datetime-local"}:
        pytest.skip(f"a {kind} input, not a browser date/time picker")
    value = {"date": datetime.date(2026, 12, 2), "time": datetime.time(9, 5),
             "datetime-local": datetime.datetime(2026, 12, 2, 9, 5)}[kind]
    expected = {"date": "2026-12-02", "time": "09:05", "datetime-local": "2026-12-02T09:05"}[kind]
    with translation.override(language):
        html = widget.render("x", value)
    assert re.search(rf'value="{expected}(:00)?"', html), html


@pytest.mark.django_db
def test_the_elder_page_in_chinese_fills_its_date_inputs(client):
    roles = demo_roles()
    elder = make_elder(roles["community"])
    client.force_login(roles["community"])
    html = client.get(reverse("registry:elder_detail", args=[elder.pk])).content.decode()
    today = timezone.localdate().isoformat()
    assert f'type="date" name="effective_date" value="{today}"' in html
    assert f'type="date" name="start_date" value="{today}"' in html
    assert "/" not in re.search(r'name="effective_date" value="([^"]*)"', html).group(1)
