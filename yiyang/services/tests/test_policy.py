"""Authority in one place (policy.py): for every rule, every role of the scope world and every state that
matters, the page shows the button exactly when the API (or the page's own form, where there is no API) lets
the step through, and the rule says the same with the same refusal. The steps come from policy.py itself:
a rule without a probe here fails `test_every_rule_has_a_probe`.

Each step is tried for real inside a savepoint that is rolled back, so one world serves all roles."""

import datetime
import inspect
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from yiyang.core.tests.scope_matrix import ROLES
from yiyang.registry.models import Elder, Practitioner
from yiyang.services import policy, services
from yiyang.services.models import FollowUpCall, Order, RecurringOrder, ServicePrice, Settlement

from .scope_world import build_services_world, days_ago, elder_in, order_for, soon

pytestmark = pytest.mark.django_db

API = "/api/v1/services/"
# The rules probed below, by name; policy.py may hold helpers, but every may_* function must be probed.
PROBED = {
    *(rule.__name__ for rule in policy.ORDER_STEPS.values()),
    "may_order_for_elder", "may_set_up_recurring_order", "may_upload_photo_order", "may_see_photo_order",
    "may_view_workspace", "may_run_workspace", "may_set_shift", "may_remove_shift", "may_publish_price",
    "may_adopt_subsidy_rule", "may_declare_offer", "may_prepare_settlement", "may_approve_settlement",
    "may_export_settlement", "may_sample_follow_ups", "may_record_follow_up", "may_stop_recurring_order",
}


class _Undo(Exception):
    pass


def tried(call):
    """The response of `call()` with everything it wrote rolled back."""
    box = {}
    try:
        with transaction.atomic():
            box["resp"] = call()
            raise _Undo
    except _Undo:
        pass
    return box["resp"]


def as_role(client, world, role):
    client.logout()
    client.force_login(world[role])
    return client


def post_json(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def agrees(wrong, what, role, shown: bool, status: int, decision, ok=(200, 201, 204, 302), same_status=True):
    """Page, attempt and rule must tell the same story: shown ⇔ let through ⇔ allowed; a refusal the rule
    words (403/409) is the one the API gave (page forms show a state refusal as a message instead:
    `same_status=False`); outside the scope everything says 404 / no."""
    allowed = status in ok
    if shown != allowed or bool(decision) != allowed:
        wrong.append((what, role, f"shown={shown}", f"status={status}", f"rule={bool(decision)}"))
    elif same_status and not allowed and status != 404 and status != decision.status:
        wrong.append((what, role, f"status={status}", f"rule says {decision.status}"))


def test_every_rule_has_a_probe():
    rules = {name for name, fn in inspect.getmembers(policy, inspect.isfunction)
             if name.startswith("may_") and fn.__module__ == policy.__name__}
    assert rules == PROBED, f"rules without a probe: {sorted(rules - PROBED)}; probes of no rule: {PROBED - rules}"


# ----------------------------------------------------------------------------------------- order steps

API_ROUTE = {"check_in": "check-in", "check_out": "check-out", "no_show": "no-show"}
STATES = ("requested", "accepted", "assigned", "checked_in", "checked_out", "confirmed", "rated", "cancelled")


def _body(step, order):
    if step in ("decline", "cancel", "no_show"):
        return {"reason": "测试原因"}
    if step == "assign":
        return {"caregiver": order.caregiver_id or Practitioner.objects.filter(
            organisation_id=order.provider_id, role="caregiver").order_by("pk").first().pk}
    if step == "rate":
        return {"rating": 5}
    return {}


def _caregiver_page_shows(html: str, step: str) -> bool:
    if step == "check_in":
        return 'data-testid="check-in-step">' in html
    if step == "check_out":
        return 'data-testid="check-out-step">' in html
    # The photo goes with the check-out form, or on its own once checked out.
    return 'data-testid="check-out-step">' in html or 'data-testid="upload-photo"' in html


@pytest.mark.parametrize("state", STATES)
def test_each_order_step_is_offered_exactly_when_it_is_allowed(client, scope_world, state):
    sw = build_services_world(scope_world)
    # The family's mother (ordered by the family), and a neighbour the community ordered for from 惠民.
    orders = [order_for(sw, elder_in(sw, "family_mother"), "provider", step=state),
              order_for(sw, elder_in(sw, "here", name="邻居老人", seq=21), "other_provider", step=state)]
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        for order in orders:
            order = Order.objects.select_related("caregiver", "elder", "provider").get(pk=order.pk)
            page = client.get(reverse("services:order_detail", args=[order.pk]))
            html = page.content.decode() if page.status_code == 200 else ""
            app = ""
            if role in ("caregiver", "other_caregiver"):
                visit = client.get(reverse("services:caregiver_visit", args=[order.pk]))
                app = visit.content.decode() if visit.status_code == 200 else ""
            desk = ""
            if role in ("provider", "other_provider"):
                desk = client.get(reverse("services:workspace")).content.decode()
            for step, rule in policy.ORDER_STEPS.items():
                if step in ("check_in", "check_out"):
                    shown = _caregiver_page_shows(app, step)
                else:
                    shown = f'data-testid="action-{step}"' in html
                    if step in ("accept", "decline") and role in ("provider", "other_provider"):
                        # The workspace's 待接单 row offers the same two steps.
                        in_desk = f'data-testid="{step}-{order.pk}"' in desk
                        if in_desk != shown:
                            wrong.append((f"workspace {step} {order.pk}", role, in_desk, shown))
                url = f"{API}orders/{order.pk}/{API_ROUTE.get(step, step)}"
                resp = tried(lambda: post_json(client, url, _body(step, order)))  # noqa: B023
                agrees(wrong, f"{step} {order.pk}", role, shown, resp.status_code, rule(user, order))
            photo = tried(lambda: client.post(f"{API}orders/{order.pk}/photo", {  # noqa: B023
                "photo": SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64)}))
            agrees(wrong, f"photo {order.pk}", role, _caregiver_page_shows(app, "photo"), photo.status_code,
                   policy.may_upload_photo_order(user, order))
    assert not wrong, f"(step, role, …) where page, API and rule disagree in state {state}: {wrong}"


def test_a_provider_may_cancel_and_its_page_says_so(client, scope_world):
    """The case the issue found: services.cancel_order lets the provider cancel; its page now offers it."""
    sw = build_services_world(scope_world)
    order = order_for(sw, elder_in(sw, "here", seq=22), "provider")
    as_role(client, scope_world, "provider")
    page = client.get(reverse("services:order_detail", args=[order.pk])).content.decode()
    assert 'data-testid="action-cancel"' in page
    resp = client.post(reverse("services:order_action", args=[order.pk, "cancel"]), {"reason": "护理员生病"})
    assert resp.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.end_reason) == ("cancelled", "护理员生病")
    assert order.events.last().note == "服务机构：护理员生病"


def test_the_photo_link_is_shown_exactly_to_those_who_may_fetch_it(client, scope_world):
    sw = build_services_world(scope_world)
    with_photo = order_for(sw, elder_in(sw, "family_mother"), "provider", step="checked_in")
    services.attach_photo(actor=sw.users["caregiver"], order=with_photo,
                          photo=SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\xe0" + b"1" * 64))
    without = order_for(sw, elder_in(sw, "here", seq=23), "provider", step="checked_in")
    wrong = []
    for role in ROLES:
        as_role(client, scope_world, role)
        for order in (with_photo, without):
            order = Order.objects.select_related("caregiver").get(pk=order.pk)
            page = client.get(reverse("services:order_detail", args=[order.pk]))
            shown = page.status_code == 200 and 'data-testid="photo"' in page.content.decode()
            status = client.get(f"{API}orders/{order.pk}/photo").status_code
            agrees(wrong, f"photo {order.pk}", role, shown, status,
                   policy.may_see_photo_order(scope_world[role], order))
    assert not wrong, wrong


# -------------------------------------------------------------------------------- ordering for an elder


def _provider_for(sw, elder):
    """A provider that serves where the elder lives (颐康 in 恩阳区, 巴州颐养 in 巴州区)."""
    return sw.orgs["far" if elder.residence_region_id.startswith("511902") else "provider"]


def _new_order_form(elder, sw, *, repeat=False):
    day = timezone.localdate() + datetime.timedelta(days=1)
    data = {"elder": elder.pk, "item": "bath", "provider": _provider_for(sw, elder).pk, "date": day.isoformat(),
            "time": "09:00", "quantity": "1"}
    if repeat:
        data.update(repeat="on", weekdays=str(day.isoweekday()))
    return data


@pytest.mark.parametrize("repeat", [False, True], ids=["order", "standing order"])
def test_ordering_for_an_elder_is_offered_exactly_when_allowed(client, scope_world, repeat):
    sw = build_services_world(scope_world)
    elders = [elder_in(sw, place, name=f"下单{place}", seq=seq)
              for seq, place in enumerate(("here", "other_street", "far", "family_mother"), start=24)]
    # A bureau sees people registered (户籍) here who live elsewhere; it may not order for them.
    elders.append(services_elder_registered_here_living_far(sw))
    day = timezone.localdate() + datetime.timedelta(days=1)
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        for elder in elders:
            page = client.get(reverse("services:order_new"), _new_order_form(elder, sw, repeat=repeat))
            shown = page.status_code == 200 and 'data-testid="confirm-order"' in page.content.decode()
            if repeat:
                body = {"elder": elder.pk, "provider": _provider_for(sw, elder).pk, "item": "bath",
                        "weekdays": [day.isoweekday()], "time": "09:00", "starts_on": day.isoformat()}
                resp = tried(lambda: post_json(client, f"{API}recurring", body))  # noqa: B023
                rule = policy.may_set_up_recurring_order(user, elder)
            else:
                body = {"elder": elder.pk, "provider": _provider_for(sw, elder).pk, "item": "bath",
                        "scheduled_start": timezone.make_aware(datetime.datetime.combine(
                            day, datetime.time(9))).isoformat()}
                resp = tried(lambda: post_json(client, f"{API}orders", body))  # noqa: B023
                rule = policy.may_order_for_elder(user, elder)
            agrees(wrong, f"{'recurring' if repeat else 'order'} {elder.name}", role, shown, resp.status_code, rule)
    assert not wrong, wrong


def services_elder_registered_here_living_far(sw):
    from yiyang.registry import services as registry
    from yiyang.registry.tests.factories import id_number

    return registry.register_elder(actor=None, id_number=id_number(datetime.date(1941, 5, 5), 29),
                                   name="户籍在此", residence_region="511902001001", hukou_region="511903001002")


def test_the_elder_search_offers_only_those_one_may_order_for(client, scope_world):
    sw = build_services_world(scope_world)
    here = elder_in(sw, "here", name="查找甲", seq=25)
    away = services_elder_registered_here_living_far(sw)
    Elder.objects.filter(pk=away.pk).update(name="查找乙")
    as_role(client, scope_world, "bureau")
    found = client.get(reverse("services:order_elders"), {"q": "查找"}).context["found"]
    assert [e.pk for e in found] == [here.pk]
    assert policy.may_order_for_elder(scope_world["bureau"], Elder.objects.get(pk=away.pk)).allowed is False
    for role in ROLES:
        q = policy.elders_orderable_by(scope_world[role])
        orderable = set(Elder.objects.filter(q).values_list("pk", flat=True)) if q is not None else set()
        for elder in Elder.objects.all():
            assert (elder.pk in orderable) == bool(policy.may_order_for_elder(scope_world[role], elder)), (role, elder)


# ---------------------------------------------------------------------------------- workspace and shifts


def test_the_workspace_and_its_shifts_follow_the_rules(client, scope_world):
    sw = build_services_world(scope_world)
    day = timezone.localdate()
    shift = services.set_shift(actor=sw.users["provider"], caregiver=sw.carers["provider"], day=day,
                               start="07:00", end="08:00")
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        # A provider always works in its own workspace (?provider= is for the bureau and operators).
        key = role if role in ("provider", "other_provider") else "provider"
        org, carer = sw.orgs[key], sw.carers[key]
        resp = client.get(reverse("services:workspace"), {"provider": org.pk, "tab": "shifts"})
        html = resp.content.decode() if resp.status_code == 200 else ""
        agrees(wrong, "view workspace", role, resp.status_code == 200, resp.status_code,
               policy.may_view_workspace(user, org))
        if resp.status_code == 200:
            agrees(wrong, "run workspace", role, 'data-testid="read-only"' not in html,
                   200 if 'data-testid="read-only"' not in html else 403, policy.may_run_workspace(user, org))
        body = {"caregiver": carer.pk, "day": day.isoformat(), "start": "09:00", "end": "10:00"}
        added = tried(lambda: post_json(client, f"{API}shifts", body))  # noqa: B023
        agrees(wrong, "set shift", role, 'data-testid="shift-form"' in html, added.status_code,
               policy.may_set_shift(user, carer))
        removed = tried(lambda: client.delete(f"{API}shifts/{shift.pk}"))  # noqa: B023
        agrees(wrong, "remove shift", role, f'data-testid="remove-shift-{shift.pk}"' in html, removed.status_code,
               policy.may_remove_shift(user, shift))
    assert not wrong, wrong


# ------------------------------------------------------------------------------------------- catalogue


def test_publishing_prices_and_declaring_offers_follow_the_rules(client, scope_world):
    sw = build_services_world(scope_world)
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        # A provider declares its own offers; the bureau chooses one of its area (?provider=).
        org = sw.orgs[role if role in ("provider", "other_provider") else "provider"]
        html = client.get(reverse("services:catalogue"), {"provider": org.pk}).content.decode()
        price = {"item": sw.bath.pk, "valid_from": (timezone.localdate() + datetime.timedelta(days=2)).isoformat(),
                 "market_price": "90.00", "inclusive_price": "45.00"}
        before = ServicePrice.objects.count()
        resp = tried(lambda: (client.post(reverse("services:catalogue_set_price"), price),  # noqa: B023
                              ServicePrice.objects.count()))
        published = resp[0].status_code if resp[1] > before else max(resp[0].status_code, 403)
        # The form publishes for the user's own jurisdiction.
        agrees(wrong, "publish price", role, 'data-testid="set-price"' in html, published,
               policy.may_publish_price(user, user.scope_code) if user.scope_code else policy.deny(""),
               same_status=False)
        offer = {"provider": org.pk, "item": sw.bath.pk, "streets": ["511903001"], "price": "32.00",
                 "valid_from": (timezone.localdate() + datetime.timedelta(days=2)).isoformat()}
        before = org.service_offers.count()
        resp = tried(lambda: (client.post(reverse("services:catalogue_declare_offer"), offer),  # noqa: B023
                              org.service_offers.count()))  # noqa: B023
        declared = resp[0].status_code if resp[1] > before else max(resp[0].status_code, 403)
        agrees(wrong, "declare offer", role, 'data-testid="offer-form"' in html, declared,
               policy.may_declare_offer(user, org), same_status=False)
    assert not wrong, wrong


def test_subsidy_rules_are_adopted_by_the_jurisdictions_bureau_only(scope_world):
    """No page adopts a rule (the catalogue only shows it): the service alone, held to the same rule."""
    from yiyang.core.errors import DomainError

    params = {"rows": [{"category": "subsistence", "share": "90"}], "others": "market"}
    for role in ROLES:
        user = scope_world[role]
        allowed = True
        try:
            tried(lambda: services.adopt_subsidy_rule(actor=user, jurisdiction="511903", params=params,  # noqa: B023
                                                      valid_from=days_ago(1), note="测试"))
        except DomainError as exc:
            allowed = False
            assert exc.status == 403
        assert allowed == bool(policy.may_adopt_subsidy_rule(user, "511903")) == (role == "bureau"), role


# ------------------------------------------------------------------------------------------ settlement


def test_settlement_steps_are_offered_exactly_when_allowed(client, scope_world):
    sw = build_services_world(scope_world)
    order_for(sw, elder_in(sw, "here", seq=26), "provider", step="confirmed")
    month = timezone.localdate().replace(day=1)
    draft = services.prepare_settlement(actor=scope_world["bureau"], provider=sw.orgs["provider"], month=month)
    approved = services.prepare_settlement(actor=scope_world["bureau"], provider=sw.orgs["other_provider"],
                                           month=month)
    services.approve_settlement(actor=scope_world["bureau"], settlement=approved)
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        listing = client.get(reverse("services:settlements"), {"month": month.strftime("%Y-%m")})
        rows = listing.content.decode() if listing.status_code == 200 else ""
        for statement in (draft, approved):
            statement = Settlement.objects.get(pk=statement.pk)
            page = client.get(reverse("services:settlement", args=[statement.pk]))
            html = page.content.decode() if page.status_code == 200 else ""

            def status_of(resp, *, became):
                fresh = Settlement.objects.get(pk=statement.pk)  # noqa: B023
                return resp.status_code if became(fresh) else max(resp.status_code, 403)

            resp = tried(lambda: (r := client.post(reverse("services:settlement_approve", args=[statement.pk])),  # noqa: B023
                                  status_of(r, became=lambda s: s.approved_at != statement.approved_at))[1])  # noqa: B023
            agrees(wrong, f"approve {statement.pk}", role, 'data-testid="approve"' in html, resp,
                   policy.may_approve_settlement(user, statement), same_status=False)
            resp = tried(lambda: (r := client.post(reverse("services:settlement_export", args=[statement.pk])),  # noqa: B023
                                  r.status_code if r.get("Content-Type", "").endswith(".sheet") else
                                  max(r.status_code, 403))[1])
            agrees(wrong, f"export {statement.pk}", role, 'data-testid="export"' in html, resp,
                   policy.may_export_settlement(user, statement), same_status=False)
            body = {"provider": statement.provider_id, "month": month.strftime("%Y-%m"),
                    "jurisdiction": statement.jurisdiction_id}
            resp = tried(lambda: (r := client.post(reverse("services:settlement_prepare"), body),  # noqa: B023
                                  status_of(r, became=lambda s: s.prepared_at != statement.prepared_at))[1])  # noqa: B023
            shown = f'data-testid="prepare-{statement.provider_id}"' in rows
            agrees(wrong, f"prepare {statement.pk}", role, shown, resp,
                   policy.may_prepare_settlement(user, statement.jurisdiction_id, statement=statement),
                   same_status=False)
    assert not wrong, wrong


# --------------------------------------------------------------------------- follow-ups, standing orders


def test_follow_up_steps_are_offered_exactly_when_allowed(client, scope_world):
    sw = build_services_world(scope_world)
    order = order_for(sw, elder_in(sw, "here", seq=27), "provider", step="confirmed")
    month = timezone.localdate().replace(day=1)
    call = FollowUpCall.objects.create(order=order, month=month, region_code=order.region_code)
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        page = client.get(reverse("services:follow_ups"), {"month": month.strftime("%Y-%m")})
        html = page.content.decode() if page.status_code == 200 else ""
        resp = tried(lambda: post_json(client, f"{API}follow-ups/{call.pk}", {"outcome": "refused"}))  # noqa: B023
        agrees(wrong, "record", role, f'data-testid="record-{call.pk}"' in html, resp.status_code,
               policy.may_record_follow_up(user, call))
        resp = tried(lambda: post_json(client, f"{API}follow-ups/sample", {"month": month.strftime("%Y-%m")}))  # noqa: B023
        rule = policy.may_sample_follow_ups(user, user.scope_code) if user.scope_code else policy.deny("")
        agrees(wrong, "sample", role, 'data-testid="sample-button"' in html, resp.status_code, rule)
    assert not wrong, wrong


def test_stopping_a_standing_order_is_offered_exactly_when_allowed(client, scope_world):
    sw = build_services_world(scope_world)
    start = timezone.localdate() + datetime.timedelta(days=1)
    rules = []
    for elder, actor, channel in ((elder_in(sw, "family_mother"), "family", "portal"),
                                  (elder_in(sw, "here", seq=28), "community", "phone")):
        rules.append(services.create_recurring(actor=scope_world[actor], elder=elder, provider=sw.orgs["provider"],
                                               item=sw.bath, weekdays=[start.isoweekday()], time="09:00",
                                               starts_on=start, channel=channel))
    services.stop_recurring(actor=scope_world["community"], recurring=rules[1])
    wrong = []
    for role in ROLES:
        user = scope_world[role]
        as_role(client, scope_world, role)
        page = client.get(reverse("services:recurring_list"))
        html = page.content.decode() if page.status_code == 200 else ""
        for rule in rules:
            rule = RecurringOrder.objects.get(pk=rule.pk)
            resp = tried(lambda: post_json(client, f"{API}recurring/{rule.pk}/stop"))  # noqa: B023
            agrees(wrong, f"stop {rule.pk}", role, f'data-testid="stop-{rule.pk}"' in html, resp.status_code,
                   policy.may_stop_recurring_order(user, rule))
    assert not wrong, wrong


def test_soon_is_within_the_check_in_window():
    # The probes above check in at once: the visit must be less than two hours away.
    assert datetime.timedelta(0) < soon() - timezone.now() < services.EARLY_CHECK_IN


def test_no_hand_written_scope_checks_are_left():
    """Scope prefixes are compared in one place (core/policy.within); the services app keeps none."""
    import pathlib

    root = pathlib.Path(policy.__file__).parent
    files = [*(root / "services").glob("*.py"), *(root / "api").glob("*.py"), *root.glob("views*.py")]
    found = [(path.name, n) for path in files for n, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"startswith\(.*scope_code|__startswith=.*scope_code|_is_super|_in_region_scope|"
                          r"def _require", line)]
    assert not found, found
