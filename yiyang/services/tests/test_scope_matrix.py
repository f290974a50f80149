"""Generated scope tests of the services app (core/tests/scope_matrix.py): who sees which price, offer, rule,
order, statement, shift, allowance entry, follow-up call and standing order, in the queryset, pages, API and
exports, for the 14 roles of the scope world; out of scope every write answers 404 and changes nothing.

The world (scope_world.py): 颐康 (provider, in 文治街道) and 惠民 (other_provider, in 登科街道) both serve 登科 and
文治; 巴州颐养 serves 巴州区. Places: here = 登科寺社区, next_door = another community of 登科街道, other_street = a
community of 文治街道, far = 巴州区; the family's mother lives here."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from yiyang.core.tests.scope_matrix import ROLES, ScopeMatrix, Write
from yiyang.services import services
from yiyang.services.models import (
    AllowanceEntry,
    AllowanceKind,
    CaregiverShift,
    FollowUpCall,
    Order,
    ProviderOffer,
    RecurringOrder,
    ServiceItem,
    ServicePrice,
    Settlement,
    SubsidyRule,
)

from .scope_world import FAR_COUNTY, build_services_world, days_ago, elder_in, order_for

# Visitors (the visits app) have no part in services' catalogue or order lists: they order only from a visit.
VISITORS = {"visitor", "other_visitor"}
ALL = set(ROLES) - VISITORS
EVERYONE_BUT_ASSESSORS = ALL - {"assessor", "other_assessor"}
REGION_ROLES = {"bureau", "other_bureau", "street", "other_street", "community", "other_community"}
FAMILIES = {"family", "other_family"}


def last_month() -> datetime.date:
    return (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def _item(code, name):
    return ServiceItem.objects.create(code=code, name=name, category="bath", unit="visit", standard_minutes=60)


# ------------------------------------------------------------------------------------------- catalogue


class TestServicePriceScope(ScopeMatrix):
    """Prices are public (公示) to everyone with a role in services; a bureau sees its jurisdiction's and those
    above it. The catalogue page and API show what is in force where the user is (a street-level price only
    there)."""

    model = ServicePrice
    visible = {
        "bureau": {"county", "street"}, "other_bureau": {"far"},
        **{role: {"county", "street", "far"} for role in EVERYONE_BUT_ASSESSORS - {"bureau", "other_bureau"}},
    }
    # Where each role is priced: 文治街道 (other_street, 颐康 and its caregiver) also has the street's own price.
    page_visible = {
        **{role: {"county"} for role in ALL - {"assessor", "other_assessor"}},
        "other_bureau": {"far"},
        **{role: {"county", "street"} for role in ("other_street", "provider", "caregiver")},
    }
    api_visible = page_visible
    list_url = "/services/catalogue/"
    list_roles = ALL
    api_list_url = "/api/v1/services/catalogue"
    api_list_roles = ALL

    def build(self, world):
        bath, cleaning = _item("bath", "上门助浴"), _item("cleaning", "上门助洁")
        start = days_ago(10)
        return {
            "county": services.set_price(actor=world["bureau"], item=bath, jurisdiction="511903", valid_from=start,
                                         market_price="81.11", inclusive_price="40.00"),
            "street": services.set_price(actor=world["bureau"], item=cleaning, jurisdiction="511903002",
                                         valid_from=start, market_price="52.22", inclusive_price="26.00"),
            "far": services.set_price(actor=world["other_bureau"], item=bath, jurisdiction=FAR_COUNTY,
                                      valid_from=start, market_price="83.33", inclusive_price="41.00"),
        }

    def marker(self, obj):
        return str(obj.market_price)

    def api_ids(self, body):
        shown = [(body["region"]["code"], i["code"], i["price"]) for i in body["items"] if i["price"]]
        return {ServicePrice.objects.get(item__code=code, jurisdiction_id=price["jurisdiction"]["code"],
                                         valid_from=price["valid_from"]).pk for _where, code, price in shown}


class TestSubsidyRuleScope(ScopeMatrix):
    """Rules are public like prices; the catalogue page shows the one in force where the user is (the nearest
    up the region tree), and the bureau its own history."""

    model = SubsidyRule
    visible = TestServicePriceScope.visible
    page_visible = {
        **{role: {"county"} for role in ALL - {"assessor", "other_assessor"}},
        "other_bureau": {"far"},
        **{role: {"street"} for role in ("other_street", "provider", "caregiver")},
    }
    list_url = "/services/catalogue/"
    list_roles = ALL

    def build(self, world):
        start = days_ago(10)
        adopt = services.adopt_subsidy_rule
        params = {"rows": [{"category": "subsistence", "share": "90"}], "others": "market"}
        return {
            "county": adopt(actor=world["bureau"], jurisdiction="511903", params=params, valid_from=start,
                            note="区级规则", source="恩民政函〔2026〕1号"),
            "street": adopt(actor=world["bureau"], jurisdiction="511903002", params=params, valid_from=start,
                            note="街道规则", source="文治街办〔2026〕2号"),
            "far": adopt(actor=world["other_bureau"], jurisdiction=FAR_COUNTY, params=params, valid_from=start,
                         note="巴州规则", source="巴民政函〔2026〕3号"),
        }

    def marker(self, obj):
        return obj.source


class TestProviderOfferScope(ScopeMatrix):
    """Who offers what where is public (families choose a provider from it); a provider and its caregivers
    see their own. The catalogue page lists the provider's own offers."""

    model = ProviderOffer
    visible = {
        **{role: {"mine", "theirs", "far"} for role in REGION_ROLES | FAMILIES},
        "provider": {"mine"}, "caregiver": {"mine"}, "other_provider": {"theirs"}, "other_caregiver": {"theirs"},
    }
    page_visible = {"provider": {"mine"}, "other_provider": {"theirs"}}
    list_url = "/services/catalogue/"
    list_roles = ALL
    api_list_url = "/api/v1/services/offers?limit=100"
    api_list_roles = ALL

    def build(self, world):
        sw = build_services_world(world)
        return {"mine": sw.offers["provider"], "theirs": sw.offers["other_provider"], "far": sw.offers["far"]}

    def marker(self, obj):
        return f">{obj.price}<"


# ---------------------------------------------------------------------------------------------- orders

ORDER_PLACES = {"here_mine": ("here", "provider", "assigned"), "here_theirs": ("here", "other_provider", "assigned"),
                "next_door": ("next_door", "provider", "requested"),
                "other_street": ("other_street", "other_provider", "requested"),
                "family_mother": ("family_mother", "provider", "requested"), "far": ("far", "far", "requested")}


def build_orders(world) -> dict:
    sw = build_services_world(world)
    out = {}
    for seq, (key, (place, provider, step)) in enumerate(ORDER_PLACES.items(), start=11):
        elder = elder_in(sw, place, name=f"订单老人{key}", seq=seq)
        out[key] = order_for(sw, elder, provider, step=step)
    return out


def _photo(case, order):
    return {"photo": SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64, content_type="image/jpeg")}


def _caregiver_of(case, order):
    # A well-formed body (a real caregiver's id): the answer outside scope must be 404, not a validation error.
    from yiyang.registry.models import Practitioner

    return {"caregiver": order.caregiver_id or Practitioner.objects.order_by("pk").values_list("pk", flat=True)[0]}


def _page_action(action):
    return lambda case, o: reverse("services:order_action", args=[o.pk, action])


def _workspace_action(action):
    return lambda case, o: reverse(f"services:workspace_{action}", args=[o.pk])


def _api_action(action):
    return lambda case, o: f"/api/v1/services/orders/{o.pk}/{action}"


ORDER_WRITES = (
    *(Write(f"page {a}", "post", _page_action(a), {"reason": "不需要", "rating": "5", "caregiver": "1"})
      for a in ("accept", "decline", "assign", "no_show", "cancel", "confirm", "rate")),
    *(Write(f"workspace {a}", "post", _workspace_action(a), {"reason": "人手不足", "caregiver": "1"})
      for a in ("accept", "decline", "assign")),
    *(Write(f"API {a}", "post", _api_action(a), data, as_json=True)
      for a, data in (("accept", {}), ("decline", {"reason": "x"}), ("assign", _caregiver_of),
                      ("check-in", {}), ("check-out", {}), ("confirm", {}), ("rate", {"rating": 5}),
                      ("cancel", {"reason": "x"}), ("no-show", {"reason": "x"}))),
    Write("API photo", "post", _api_action("photo"), _photo),
)


class TestOrderScope(ScopeMatrix):
    """The provider sees its orders, a caregiver the visits assigned to them, the family their elder's, region
    staff those of the people living in their area."""

    model = Order
    visible = {
        "bureau": {"here_mine", "here_theirs", "next_door", "other_street", "family_mother"},
        "other_bureau": {"far"},
        "street": {"here_mine", "here_theirs", "next_door", "family_mother"},
        "other_street": {"other_street"},
        "community": {"here_mine", "here_theirs", "family_mother"},
        "other_community": {"next_door"},
        "provider": {"here_mine", "next_door", "family_mother"},
        "other_provider": {"here_theirs", "other_street"},
        "caregiver": {"here_mine"}, "other_caregiver": {"here_theirs"},
        "family": {"family_mother"},
    }
    list_url = "/services/orders/"
    list_roles = EVERYONE_BUT_ASSESSORS - {"caregiver", "other_caregiver"}
    api_list_url = "/api/v1/services/orders?limit=100"
    api_list_roles = EVERYONE_BUT_ASSESSORS
    writes = ORDER_WRITES

    def build(self, world):
        return build_orders(world)

    def marker(self, obj):
        return obj.elder.name

    def detail_url(self, obj):
        return reverse("services:order_detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/services/orders/{obj.pk}"

    def test_list_page(self, client, scope_world):
        """The order list; caregivers are sent to their phone app instead (which lists only their visits)."""
        objects = self._objects(scope_world)
        wrong = []
        for role in ROLES:
            self._client(client, scope_world, role)
            resp = client.get(self.list_url)
            if role in ("caregiver", "other_caregiver"):
                if resp.status_code != 302 or resp.url != reverse("services:caregiver_today"):
                    wrong.append((role, "not sent to the app", resp.status_code))
                continue
            if role not in self.list_roles:
                if resp.status_code not in (403, 404):
                    wrong.append((role, "list open to a role without one", resp.status_code))
                continue
            body = resp.content.decode()
            got = {place for place, o in objects.items() if self.marker(o) in body}
            if got != set(self.visible.get(role, set())):
                wrong.append((role, sorted(got), sorted(self.visible.get(role, set()))))
        assert not wrong, f"list page: {wrong}"


# ------------------------------------------------------------------------------------------ settlement


class TestSettlementScope(ScopeMatrix):
    """The county's bureau prepares, approves and exports a provider's statement; the provider reads its own."""

    model = Settlement
    visible = {"bureau": {"mine", "theirs"}, "other_bureau": {"far"}, "provider": {"mine"},
               "other_provider": {"theirs"}}
    list_roles = {"bureau", "other_bureau", "provider", "other_provider"}
    writes = (
        Write("approve", "post", lambda case, s: reverse("services:settlement_approve", args=[s.pk])),
        Write("export (xlsx)", "post", lambda case, s: reverse("services:settlement_export", args=[s.pk])),
        Write("prepare again", "post", lambda case, s: reverse("services:settlement_prepare"),
              lambda case, s: {"provider": s.provider_id, "month": s.month.strftime("%Y-%m"),
                               "jurisdiction": s.jurisdiction_id}),
    )

    @property
    def list_url(self):
        return f"/services/settlements/?month={last_month():%Y-%m}"

    def build(self, world):
        sw = build_services_world(world)
        month = last_month()

        def statement(org, county, total):
            total = Decimal(total)
            return Settlement.objects.create(provider=sw.orgs[org], jurisdiction_id=county, month=month,
                                             order_count=1, total=total, subsidy=total)

        return {"mine": statement("provider", "511903", "111.11"), "theirs": statement("other_provider", "511903",
                                                                                      "222.22"),
                "far": statement("far", FAR_COUNTY, "333.33")}

    def marker(self, obj):
        return str(obj.total)

    def detail_url(self, obj):
        return reverse("services:settlement", args=[obj.pk])


# --------------------------------------------------------------------------------------------- shifts


class TestCaregiverShiftScope(ScopeMatrix):
    """A provider sets its caregivers' shifts; a caregiver sees their own; the bureau of the area looks."""

    model = CaregiverShift
    visible = {"provider": {"mine"}, "caregiver": {"mine"}, "other_provider": {"theirs"},
               "other_caregiver": {"theirs"}, "bureau": {"mine", "theirs"}, "other_bureau": {"far"}}
    # The week grid is the provider's workspace; the bureau first picks a provider there.
    page_visible = {"provider": {"mine"}, "other_provider": {"theirs"}}
    list_url = "/services/workspace/?tab=shifts"
    list_roles = {"bureau", "other_bureau", "provider", "other_provider"}
    api_list_url = "/api/v1/services/shifts"
    api_list_roles = {"bureau", "other_bureau", "provider", "other_provider", "caregiver", "other_caregiver"}
    writes = (
        Write("page remove", "post", lambda case, s: reverse("services:workspace_shift_remove", args=[s.pk])),
        Write("API delete", "delete", lambda case, s: f"/api/v1/services/shifts/{s.pk}"),
    )

    def build(self, world):
        sw = build_services_world(world)
        day = timezone.localdate()
        out = {}
        for key, org, minute in (("mine", "provider", 13), ("theirs", "other_provider", 23), ("far", "far", 33)):
            boss = sw.users["far_provider" if org == "far" else org]
            out[key] = services.set_shift(actor=boss, caregiver=sw.carers[org], day=day,
                                          start=datetime.time(7, minute), end=datetime.time(8, minute))
        return out

    def marker(self, obj):
        return f"{obj.start:%H:%M}–{obj.end:%H:%M}"


# ------------------------------------------------------------------------------------------ allowance


class TestAllowanceEntryScope(ScopeMatrix):
    """The service allowance (服务补贴余额) is benefits data: region staff of the elder's area and the family see
    it (API: the elder's month), providers and caregivers do not."""

    model = AllowanceEntry
    visible = {
        "bureau": {"here", "next_door", "other_street", "family_mother"}, "other_bureau": {"far"},
        "street": {"here", "next_door", "family_mother"}, "other_street": {"other_street"},
        "community": {"here", "family_mother"}, "other_community": {"next_door"}, "family": {"family_mother"},
    }

    def build(self, world):
        sw = build_services_world(world)
        out = {}
        for seq, place in enumerate(("here", "next_door", "other_street", "far", "family_mother"), start=31):
            elder = elder_in(sw, place, name=f"补贴老人{place}", seq=seq)
            out[place] = AllowanceEntry.objects.create(
                elder=elder, month=timezone.localdate().replace(day=1), amount=Decimal("50.00"),
                kind=AllowanceKind.CREDIT, county_code=elder.county_code, region_code=elder.residence_region_id)
        return out

    def api_detail_url(self, obj):
        return f"/api/v1/services/elders/{obj.elder_id}/allowance"


# ----------------------------------------------------------------------------------------- follow-ups


class TestFollowUpCallScope(ScopeMatrix):
    """Region staff of the elder's area call back; the provider reads its results."""

    model = FollowUpCall
    visible = {
        "bureau": {"here_mine", "next_door", "other_street"}, "other_bureau": {"far"},
        "street": {"here_mine", "next_door"}, "other_street": {"other_street"}, "community": {"here_mine"},
        "other_community": {"next_door"}, "provider": {"here_mine", "next_door"}, "other_provider": {"other_street"},
    }
    list_roles = REGION_ROLES | {"provider", "other_provider"}
    api_list_roles = list_roles
    writes = (
        Write("page record", "post", lambda case, c: reverse("services:follow_up_record", args=[c.pk]),
              {"outcome": "refused"}),
        Write("API record", "post", lambda case, c: f"/api/v1/services/follow-ups/{c.pk}", {"outcome": "refused"},
              as_json=True),
    )

    @property
    def list_url(self):
        return f"/services/follow-ups/?month={last_month():%Y-%m}"

    @property
    def api_list_url(self):
        return f"/api/v1/services/follow-ups?month={last_month():%Y-%m}&limit=100"

    def build(self, world):
        orders = build_orders(world)
        return {key: FollowUpCall.objects.create(order=orders[key], month=last_month(),
                                                 region_code=orders[key].region_code)
                for key in ("here_mine", "next_door", "other_street", "far")}

    def marker(self, obj):
        return obj.order.elder.name


# ----------------------------------------------------------------------------------------- standing orders


class TestRecurringOrderScope(ScopeMatrix):
    """Standing orders: the family and region staff of the elder's area (who may stop them), the provider that
    serves them (to read)."""

    model = RecurringOrder
    visible = {
        "bureau": {"here_mine", "next_door", "other_street", "family_mother"}, "other_bureau": {"far"},
        "street": {"here_mine", "next_door", "family_mother"}, "other_street": {"other_street"},
        "community": {"here_mine", "family_mother"}, "other_community": {"next_door"},
        "provider": {"here_mine", "next_door", "family_mother"}, "other_provider": {"other_street"},
        "family": {"family_mother"},
    }
    list_url = "/services/recurring/"
    list_roles = REGION_ROLES | FAMILIES | {"provider", "other_provider"}
    api_list_url = "/api/v1/services/recurring?limit=100"
    api_list_roles = list_roles
    writes = (
        Write("page stop", "post", lambda case, r: reverse("services:recurring_stop", args=[r.pk])),
        Write("API stop", "post", lambda case, r: f"/api/v1/services/recurring/{r.pk}/stop", {}, as_json=True),
    )

    def build(self, world):
        from .scope_world import placer_for

        sw = build_services_world(world)
        out = {}
        places = {"here_mine": ("here", "provider"), "next_door": ("next_door", "provider"),
                  "other_street": ("other_street", "other_provider"), "far": ("far", "far"),
                  "family_mother": ("family_mother", "provider")}
        start = timezone.localdate() + datetime.timedelta(days=1)
        for seq, (key, (place, provider)) in enumerate(places.items(), start=41):
            elder = elder_in(sw, place, name=f"周期老人{key}", seq=seq)
            actor, channel = placer_for(sw, elder)
            out[key] = services.create_recurring(actor=actor, elder=elder, provider=sw.orgs[provider], item=sw.bath,
                                                 weekdays=[start.isoweekday()], time="09:00", starts_on=start,
                                                 channel=channel)
        return out

    def marker(self, obj):
        return obj.elder.name


@pytest.mark.django_db
def test_the_settlement_xlsx_holds_only_the_statement_it_was_asked_for(client, scope_world):
    """The export is per statement: the bureau's file for 颐康 names no other provider's orders."""
    import openpyxl

    sw = build_services_world(scope_world)
    mine = order_for(sw, elder_in(sw, "here", name="颐康的老人", seq=51), "provider", step="confirmed")
    theirs = order_for(sw, elder_in(sw, "here", name="惠民的老人", seq=52), "other_provider", step="confirmed")
    month = timezone.localdate().replace(day=1)
    statement = services.prepare_settlement(actor=scope_world["bureau"], provider=sw.orgs["provider"], month=month)
    services.approve_settlement(actor=scope_world["bureau"], settlement=statement)
    client.force_login(scope_world["bureau"])
    resp = client.post(reverse("services:settlement_export", args=[statement.pk]))
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.content), read_only=True)
    text = "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c)
    assert mine.elder.name in text and theirs.elder.name not in text
