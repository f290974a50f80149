"""The API fuzzed from its own OpenAPI document with schemathesis, in-process (the WSGI app on the test
database), as the bureau and as a street worker with a bearer token: no input gives a 5xx, and every answer is
one the document declares (status code, content type, body schema).

Path, query and body ids are drawn most of the time from the objects of a small county (world.py), so that the
generated requests reach the services and not only the 404s. The number of examples is bounded so that the
whole run stays well under a minute and a half; YIYANG_FUZZ_EXAMPLES raises it for a deeper run, e.g.
`YIYANG_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest -p no:cacheprovider -m fuzz`.
"""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from yiyang.alarms.models import Alarm, DutyShift, MaintenanceTask, Notification
from yiyang.assessment.models import Assessment
from yiyang.benefits.models import RollCheck, RollLine
from yiyang.core.tests.factories import PASSWORD
from yiyang.services.models import FollowUpCall, Order, RecurringOrder
from yiyang.visits.models import FollowUp, Pairing, TierRuleSet, VisitRecord, VisitTask

from .world import api_world

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

EXAMPLES = int(os.environ.get("YIYANG_FUZZ_EXAMPLES", "5"))  # per operation, role and mode (valid, invalid)


def _content_type_of_api_answers(ctx, response, case):
    # A URL the API's routes do not match at all (e.g. a negative id where the route takes digits) is answered by
    # Django's URL resolver, not by an API operation; the JSON 404 for those is handled apart from this test.
    if response.status_code == 404 and _not_an_api_route(case.formatted_path):
        return None
    return content_type_conformance(ctx, response, case)


def _not_an_api_route(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return True
    return False


CHECKS = [not_a_server_error, status_code_conformance, _content_type_of_api_answers, response_schema_conformance]


@pytest.mark.parametrize("role", ["bureau", "street"])
def test_no_input_gives_a_5xx_and_every_answer_is_documented(client, settings, role):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    world = api_world()
    token = client.post("/api/v1/auth/token", json.dumps({"username": role, "password": PASSWORD}),
                        content_type="application/json").json()["token"]
    failures = {}
    # As Django's test client does: the app must not close the test's connection after each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler(), config=_config(world))
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, token, failures)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def _fuzz(operation, mode, token, failures) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate])
    def run(case):
        if operation.label in failures:
            return
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        except (AssertionError, FailureGroup) as exc:
            failures[operation.label] = str(exc)[:3000]

    run()


def _config(world) -> schemathesis.Config:
    """Ids drawn from the world's objects most of the time (else generated), so that requests reach services."""
    ids = {
        "elder": [e.pk for e in world["elders"]],
        "facility": [f.pk for f in world["facilities"]],
        "organisation": [world["org"].pk, world["assessor"].organisation_id],
        "staff": [world["carer"].pk],
        "account": [world["bureau"].pk, world["street"].pk],
        "assessment": list(Assessment.objects.values_list("pk", flat=True)),
        "roll": [world["roll"].pk],
        "line": list(RollLine.objects.values_list("pk", flat=True)),
        "check": list(RollCheck.objects.values_list("pk", flat=True)),
        "order": list(Order.objects.values_list("pk", flat=True)),
        "call": list(FollowUpCall.objects.values_list("pk", flat=True)),
        "recurring": list(RecurringOrder.objects.values_list("pk", flat=True)),
        "rule_set": list(TierRuleSet.objects.values_list("pk", flat=True)),
        "visitor": [v.pk for v in world["visitors"]],
        "pairing": list(Pairing.objects.values_list("pk", flat=True)),
        # The visits' tasks and the alarms' maintenance tasks share the parameter name `task_id`.
        "task": list(VisitTask.objects.values_list("pk", flat=True))
        + list(MaintenanceTask.objects.values_list("pk", flat=True)),
        "record": list(VisitRecord.objects.values_list("pk", flat=True)),
        "follow_up": list(FollowUp.objects.values_list("pk", flat=True)),
        "alarm": list(Alarm.objects.values_list("pk", flat=True)),
        "device": [d.pk for d in world["devices"]],
        "vendor": [world["vendor"].pk],
        "shift": list(DutyShift.objects.values_list("pk", flat=True)),
        "notification": list(Notification.objects.values_list("pk", flat=True)),
        "home": [world["home"].pk],
        "jurisdiction": ["511903", "511903001"],
        "code": ["longevity"],
        "street": ["511903001", "511903002"],
    }
    bindings = {
        "path.elder_id": "elder", "path.facility_id": "facility", "path.org_id": "organisation",
        "path.staff_id": "staff", "path.account_id": "account", "path.assessment_id": "assessment",
        "path.roll_id": "roll", "path.line_id": "line", "path.check_id": "check", "path.order_id": "order",
        "path.call_id": "call", "path.recurring_id": "recurring", "path.code": "code",
        "path.street_code": "street", "body.elder": "elder", "body.provider": "organisation",
        "body.provider_id": "organisation", "body.order_id": "order", "query.elder": "elder",
        "path.rule_set_id": "rule_set", "path.visitor_id": "visitor", "path.pairing_id": "pairing",
        "path.task_id": "task", "path.record_id": "record", "path.follow_up_id": "follow_up",
        "body.visitor": "visitor", "body.backup": "visitor", "body.successor": "visitor", "body.task": "task",
        "query.visitor": "visitor",
        "path.alarm_id": "alarm", "path.device_id": "device", "path.vendor_id": "vendor", "path.shift_id": "shift",
        "path.notification_id": "notification", "path.region": "jurisdiction", "body.vendor": "vendor",
        "body.user": "account", "body.responder_user": "account", "body.maintainer": "organisation",
        "path.home_id": "home",
    }
    return schemathesis.Config.from_dict({
        "dictionaries": {name: {"values": values} for name, values in ids.items() if values},
        "parameters": {key: {"dictionary": name, "probability": 0.8} for key, name in bindings.items()
                       if ids[name]},
    })
