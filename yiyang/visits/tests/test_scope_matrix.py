"""Generated scope tests of the visits models (core/tests/scope_matrix.py).

The places: `here` (登科寺社区) is paired with the world's `visitor`, backed up by `other_visitor`; `next_door`
(another community of 登科街道) with `other_visitor`; `other_street` (文治街道) and `far` (巴州区) with visitors
without an account. Region staff see their area; a visitor what their pairings and their own records grant;
the family their elder's visit records; nobody else anything. Out of scope every write answers 404."""

import datetime

from django.utils import timezone

from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import make_user
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ScopeMatrix, Write
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import services
from yiyang.visits.defaults import MODEL_TIERS
from yiyang.visits.models import FollowUp, Pairing, TierRuleSet, Visitor, VisitRecord, VisitTask

from .factories import this_month

PLACES = {"here": HERE, "next_door": NEXT_DOOR, "other_street": OTHER_STREET, "far": OTHER_COUNTY}


def _staff(world, code: str):
    """An account that may pair and record in `code`'s area (the other county has none in the world)."""
    if code.startswith("511902"):
        if "_far_community" not in world.users:
            world.users["_far_community"] = make_user("far_community", Role.COMMUNITY, region=OTHER_COUNTY)
        return world.users["_far_community"]
    return world["community"] if code == HERE else world["other_community"] if code == NEXT_DOOR \
        else world["other_street"]


def visits_world(world) -> dict:
    """An elder per place, each paired; the visitors of the world's two visitor accounts in 登科寺社区."""
    if "_visits" in world.users:
        return world.users["_visits"]
    here = Region.objects.get(code=HERE)
    mine = services.add_visitor(actor=world["community"], name="赵网格", kind="grid_worker", region=here,
                                user=world["visitor"])
    colleague = services.add_visitor(actor=world["community"], name="钱干部", kind="cadre", region=here,
                                     user=world["other_visitor"])
    visitors = {"mine": mine, "colleague": colleague}
    elders, pairings = {}, {}
    for i, (place, code) in enumerate(PLACES.items()):
        elders[place] = make_elder(world["bureau"] if not code.startswith("511902") else world["other_bureau"],
                                   name=f"老人{place[:2]}", seq=40 + i, residence=code, living_situation="alone")
        if place == "here":
            visitor, backup = mine, colleague
        elif place == "next_door":
            visitor, backup = colleague, None
        else:
            visitor = services.add_visitor(actor=_staff(world, code), name=f"巡访员{i}", kind="volunteer",
                                           region=Region.objects.get(code=code))
            backup = None
        visitors.setdefault(place, visitor)
        pairings[place] = services.pair(actor=_staff(world, code), elder=elders[place], visitor=visitor,
                                        backup=backup)
    out = {"visitors": visitors, "elders": elders, "pairings": pairings}
    world.users["_visits"] = out
    return out


class TestTierRuleSetScope(ScopeMatrix):
    model = TierRuleSet
    visible = {"bureau": {"county", "street", "other_street"}, "other_bureau": {"far"},
               "street": {"county", "street"}, "other_street": {"county", "other_street"},
               "community": {"county", "street"}, "other_community": {"county", "street"}}
    api_list_url = "/api/v1/visits/rule-sets"
    writes = (Write("API adopt", "post", lambda case, rs: f"/api/v1/visits/rule-sets/{rs.pk}/adopt", {},
                    as_json=True),)

    def build(self, world):
        month = this_month()
        out = {}
        for place, code, actor in (("county", "511903", "bureau"), ("street", "511903001", "bureau"),
                                   ("other_street", "511903002", "bureau"), ("far", "511902", "other_bureau")):
            out[place] = services.draft_rule_set(actor=world[actor], jurisdiction=Region.objects.get(code=code),
                                                 params=MODEL_TIERS, valid_from=month)
        return out

    def api_detail_url(self, obj):
        return f"/api/v1/visits/rule-sets/{obj.pk}"


class TestVisitorScope(ScopeMatrix):
    model = Visitor
    visible = {"bureau": {"mine", "colleague", "next_door", "other_street"}, "other_bureau": {"far"},
               "street": {"mine", "colleague", "next_door"}, "other_street": {"other_street"},
               "community": {"mine", "colleague"}, "other_community": {"next_door"},
               "visitor": {"mine"}, "other_visitor": {"colleague"}}
    api_list_url = "/api/v1/visits/visitors"
    writes = (Write("API leave", "post", lambda case, v: f"/api/v1/visits/visitors/{v.pk}/leave", {},
                    as_json=True),)

    def build(self, world):
        visitors = visits_world(world)["visitors"]
        return {"mine": visitors["mine"], "colleague": visitors["colleague"], "next_door": services.add_visitor(
            actor=world["other_community"], name="孙志愿", kind="volunteer", region=Region.objects.get(code=NEXT_DOOR)),
            "other_street": visitors["other_street"], "far": visitors["far"]}

    def api_detail_url(self, obj):
        return f"/api/v1/visits/visitors/{obj.pk}"


# Who sees the pairings, the tasks of the paired elders, and the visitor accounts' view of both.
BY_PAIRING = {"bureau": {"here", "next_door", "other_street"}, "other_bureau": {"far"},
              "street": {"here", "next_door"}, "other_street": {"other_street"}, "community": {"here"},
              "other_community": {"next_door"}, "visitor": {"here"}, "other_visitor": {"here", "next_door"}}


class TestPairingScope(ScopeMatrix):
    model = Pairing
    visible = BY_PAIRING
    api_list_url = "/api/v1/visits/pairings"

    def build(self, world):
        return dict(visits_world(world)["pairings"])

    def api_detail_url(self, obj):
        return f"/api/v1/visits/pairings/{obj.pk}"


class TestVisitTaskScope(ScopeMatrix):
    model = VisitTask
    visible = BY_PAIRING
    api_list_url = "/api/v1/visits/tasks"
    writes = (Write("API cancel", "post", lambda case, t: f"/api/v1/visits/tasks/{t.pk}/cancel",
                    {"reason": "重复"}, as_json=True),)

    def build(self, world):
        elders = visits_world(world)["elders"]
        return {place: services.raise_task(actor=_staff(world, PLACES[place]), elder=e, trigger="alarm",
                                           trigger_ref=f"scope:{place}")[0] for place, e in elders.items()}

    def api_detail_url(self, obj):
        return f"/api/v1/visits/tasks/{obj.pk}"


def _records(world) -> dict:
    """A visit per place, each with a follow-up: by the paired visitor in 登科街道, by staff elsewhere; and one for
    the family's elder (in 登科寺社区) by the community."""
    vw = visits_world(world)
    at = timezone.now() - datetime.timedelta(hours=1)
    recorders = {"here": world["visitor"], "next_door": world["other_visitor"],
                 "other_street": world["other_street"], "far": _staff(world, OTHER_COUNTY)}
    follow = [{"kind": "other", "note": "需要助餐"}]
    out = {place: services.record_visit(actor=recorders[place], elder=e, method="home", outcome="seen",
                                        visited_at=at, follow_ups=follow)[0] for place, e in vw["elders"].items()}
    out["family"] = services.record_visit(actor=world["community"], elder=world.elders["family"], method="phone",
                                          outcome="seen", visited_at=at, follow_ups=follow)[0]
    return out


STAFF_RECORDS = {"bureau": {"here", "next_door", "other_street", "family"}, "other_bureau": {"far"},
                 "street": {"here", "next_door", "family"}, "other_street": {"other_street"},
                 "community": {"here", "family"}, "other_community": {"next_door"}, "visitor": {"here"},
                 "other_visitor": {"next_door"}}


class TestVisitRecordScope(ScopeMatrix):
    model = VisitRecord
    visible = {**STAFF_RECORDS, "family": {"family"}}
    api_list_url = "/api/v1/visits/records"

    def build(self, world):
        return _records(world)

    def api_detail_url(self, obj):
        return f"/api/v1/visits/records/{obj.pk}"


class TestFollowUpScope(ScopeMatrix):
    model = FollowUp
    visible = STAFF_RECORDS  # not the family: the community's desk
    api_list_url = "/api/v1/visits/follow-ups"
    writes = (Write("API close", "post", lambda case, f: f"/api/v1/visits/follow-ups/{f.pk}/close", {},
                    as_json=True),)

    def build(self, world):
        return {place: r.follow_ups.get() for place, r in _records(world).items()}

    def api_detail_url(self, obj):
        return f"/api/v1/visits/follow-ups/{obj.pk}"


class TestElderScopeForVisitors(ScopeMatrix):
    """registry.Elder as the visits app widens it: a visitor sees the elders they are responsible for or back
    up today, not those of a pairing that ended, nor anyone unpaired of their own community."""

    model = Elder
    visible = {"bureau": {"here", "next_door", "other_street", "former", "unpaired"}, "other_bureau": {"far"},
               "street": {"here", "next_door", "former", "unpaired"}, "other_street": {"other_street"},
               "community": {"here", "former", "unpaired"}, "other_community": {"next_door"},
               "visitor": {"here"}, "other_visitor": {"here", "next_door", "former"}}

    def build(self, world):
        vw = visits_world(world)
        former = make_elder(world["bureau"], name="老人前", seq=50, residence=HERE, living_situation="alone")
        services.pair(actor=world["community"], elder=former, visitor=vw["visitors"]["mine"],
                      since=timezone.localdate() - datetime.timedelta(days=60))
        services.pair(actor=world["community"], elder=former, visitor=vw["visitors"]["colleague"])
        unpaired = make_elder(world["bureau"], name="老人未", seq=51, residence=HERE, living_situation="alone")
        return {**vw["elders"], "former": former, "unpaired": unpaired}
