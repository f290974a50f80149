"""The visits API with hand-computed values: a visit from a flaky phone, far from home, in the future, for a
person who died, by a visitor not paired; tasks, pairings, a visitor leaving, the rule sets, and the coverage of
a small county counted by hand."""

import datetime
import json

import pytest
from django.utils import timezone

from yiyang.registry.services import record_status_event
from yiyang.registry.tests.factories import make_elder
from yiyang.visits import rules, services
from yiyang.visits.defaults import MODEL_TIERS
from yiyang.visits.models import FollowUp, TaskStatus, TierRuleSet, VisitRecord, VisitTask

from .factories import make_visitor, this_month

pytestmark = pytest.mark.django_db
API = "/api/v1/visits/"


def post(client, user, url, data):
    client.force_login(user)
    return client.post(API + url, json.dumps(data), content_type="application/json")


def get(client, user, url, params=None):
    client.force_login(user)
    return client.get(API + url, params or {})


def near_home(elder, **extra):
    # 0.0001° of latitude north of the home: 11 m.
    return {"elder": elder.pk, "method": "home", "outcome": "seen", "latitude": "31.940100",
            "longitude": "106.640000", **extra}


@pytest.fixture
def month_task(world):
    services.generate_month(month=this_month())
    return VisitTask.objects.get(elder=world["elder"])


# ------------------------------------------------------------------------------------------------- records


def test_the_same_visit_sent_twice_is_one_record_and_closes_its_task_once(client, world, month_task):
    body = near_home(world["elder"], client_key="phone-1", checklist={"gas": "concern", "mood": "ok"},
                     seen="本人")
    first = post(client, world["visitor"], "records", body)
    again = post(client, world["visitor"], "records", body)
    assert (first.status_code, again.status_code) == (201, 200), first.content
    assert first.json()["id"] == again.json()["id"]
    assert VisitRecord.objects.count() == 1
    out = first.json()
    assert (out["distance_m"], out["far_from_home"], out["counts"], out["concerns"]) == (11, False, True, 1)
    assert out["task"] == month_task.pk and out["visitor"]["name"] == "赵网格"
    month_task.refresh_from_db()
    assert month_task.status == TaskStatus.DONE
    # The same key for another person is refused.
    other = make_elder(world["bureau"], name="李桂兰", seq=7, living_situation="alone")
    services.pair(actor=world["community"], elder=other, visitor=world["zhao"])
    clash = post(client, world["visitor"], "records", near_home(other, client_key="phone-1"))
    assert clash.status_code == 409 and clash.json()["code"] == "client_key_conflict"


def test_a_visit_far_from_home_is_kept_flagged_and_does_not_count(client, world, month_task):
    # 0.01° north: 6 371 008.8 m × 0.01 × π / 180 = 1 111.95 m, over the 500 m allowed.
    resp = post(client, world["visitor"], "records", near_home(world["elder"], latitude="31.950000"))
    assert resp.status_code == 201
    out = resp.json()
    assert (out["distance_m"], out["far_from_home"], out["counts"]) == (1112, True, False)
    month_task.refresh_from_db()
    assert month_task.status == TaskStatus.OPEN


def test_a_visit_in_the_future_is_a_422_on_its_field_and_writes_nothing(client, world, month_task):
    later = (timezone.now() + datetime.timedelta(hours=1)).isoformat()
    resp = post(client, world["visitor"], "records", near_home(world["elder"], visited_at=later))
    assert resp.status_code == 422
    assert [(e["field"], e["message"]) for e in resp.json()["errors"]] == [("visited_at", "巡访时间不能晚于当前时间。")]
    assert VisitRecord.objects.count() == 0


def test_a_visit_for_a_person_who_died_is_refused_with_a_clear_message(client, world, month_task):
    died = timezone.localdate() - datetime.timedelta(days=2)
    record_status_event(actor=world["community"], elder=world["elder"], kind="death", effective_date=died)
    # The pairing ended with the death: to the visitor the person is gone (404, as out of scope).
    gone = post(client, world["visitor"], "records", near_home(world["elder"]))
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    # The community still sees the person: a visit after the death is refused on the elder.
    resp = post(client, world["community"], "records", near_home(world["elder"]))
    assert resp.status_code == 422
    assert resp.json()["errors"] == [{"field": "elder", "code": "invalid",
                                      "message": "该老人的状态为“已故”，不能登记巡访。"}]
    # A visit made the day before the death, synced late, is kept (and closes nothing: the task was cancelled).
    before = timezone.make_aware(datetime.datetime.combine(died - datetime.timedelta(days=1), datetime.time(10)))
    late = post(client, world["community"], "records", near_home(world["elder"], visited_at=before.isoformat()))
    assert late.status_code == 201 and late.json()["counts"] is False
    assert VisitRecord.objects.count() == 1


def test_a_visitor_not_paired_with_the_person_gets_a_404(client, world, month_task):
    stranger = make_visitor(world["community"], "孙志愿", kind="volunteer", username="other_visitor")
    resp = post(client, stranger.user, "records", near_home(world["elder"], client_key="k-stranger"))
    assert resp.status_code == 404
    assert VisitRecord.objects.count() == 0
    # Nor does the stranger see the person's task.
    assert get(client, stranger.user, f"tasks/{month_task.pk}").status_code == 404


def test_a_record_with_follow_ups_and_closing_one(client, world, month_task):
    resp = post(client, world["visitor"], "records", near_home(world["elder"], follow_ups=[
        {"kind": "home_adaptation", "note": "卫生间需要扶手"}, {"kind": "alarm_device"}]))
    assert resp.status_code == 201
    kinds = [(f["kind"], f["status"]) for f in resp.json()["follow_ups"]]
    assert kinds == [("home_adaptation", "open"), ("alarm_device", "open")]
    listed = get(client, world["community"], "follow-ups", {"status": "open"}).json()
    assert listed["count"] == 2
    pk = resp.json()["follow_ups"][0]["id"]
    # The visitor may not close it (their desk is the phone); the community does, once.
    assert post(client, world["visitor"], f"follow-ups/{pk}/close", {}).status_code == 404
    done = post(client, world["community"], f"follow-ups/{pk}/close", {"note": "已联系改造"})
    assert done.status_code == 200 and done.json()["status"] == "closed"
    assert done.json()["note"] == "卫生间需要扶手 / 已联系改造"
    assert post(client, world["community"], f"follow-ups/{pk}/close", {}).status_code == 409
    assert FollowUp.objects.filter(status="open").count() == 1


def test_bad_input_is_a_422_in_the_shared_format(client, world):
    bad = post(client, world["visitor"], "records", {"elder": world["elder"].pk, "method": "teleport",
                                                     "outcome": "seen", "checklist": {"gas": "fine"}})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"method", "checklist.gas"}
    assert get(client, world["community"], "tasks", {"month": "2026-13"}).status_code == 422
    # A time that cannot even be converted to UTC is a 422, not a 500.
    ancient = post(client, world["community"], "tasks", {"elder": world["elder"].pk, "trigger": "alarm",
                                                         "at": "0001-01-01T00:00:00+14:00"})
    assert ancient.status_code == 422 and ancient.json()["errors"][0]["field"] == "at"


# ------------------------------------------------------------------------------------------------- tasks


def test_an_ad_hoc_task_is_due_24_hours_after_its_trigger_and_raised_once(client, world):
    at = (timezone.now() - datetime.timedelta(hours=2)).replace(microsecond=0)
    body = {"elder": world["elder"].pk, "trigger": "discharge", "at": at.isoformat(), "trigger_ref": "hospital-9",
            "note": "髋关节术后出院"}
    first = post(client, world["community"], "tasks", body)
    again = post(client, world["community"], "tasks", body)
    assert (first.status_code, again.status_code) == (201, 200)
    out = first.json()
    assert again.json()["id"] == out["id"]
    assert datetime.datetime.fromisoformat(out["due_at"]) == at + datetime.timedelta(hours=24)
    assert (out["kind"], out["trigger"], out["visitor"]["name"], out["overdue"]) == ("ad_hoc", "discharge", "赵网格",
                                                                                     False)
    # The visitor's day shows it first, before the month's scheduled visit.
    services.generate_month(month=this_month())
    day = get(client, world["visitor"], "my-day").json()
    assert [t["kind"] for t in day["items"]] == ["ad_hoc", "scheduled"]
    # Cancelled by the community with a reason; a second cancel is refused.
    cancel = post(client, world["community"], f"tasks/{out['id']}/cancel", {"reason": "已住院观察"})
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert post(client, world["community"], f"tasks/{out['id']}/cancel", {"reason": "x"}).status_code == 409
    soon = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
    future = post(client, world["community"], "tasks", {**body, "trigger_ref": "h-10", "at": soon})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "at"


def test_task_filters(client, world, month_task):
    services.raise_task(actor=world["community"], elder=world["elder"], trigger="alarm", trigger_ref="a1")
    by = {kind: get(client, world["community"], "tasks", {"kind": kind}).json()["count"]
          for kind in ("scheduled", "ad_hoc")}
    assert by == {"scheduled": 1, "ad_hoc": 1}
    assert get(client, world["community"], "tasks", {"overdue": "true"}).json()["count"] == 0
    assert get(client, world["street"], "tasks", {"region": "511903002"}).json()["count"] == 0


# ------------------------------------------------------------------------------------------------- visitors


def test_a_visitor_leaving_hands_everyone_to_the_successor(client, world):
    sun = make_visitor(world["community"], "孙网格")
    resp = post(client, world["community"], f"visitors/{world['zhao'].pk}/leave", {"successor": sun.pk})
    assert resp.status_code == 200
    assert resp.json() == {"moved": 1, "promoted": 0, "unpaired": 0, "backups_cleared": 0}
    pairings = get(client, world["community"], "pairings").json()["items"]
    assert [(p["visitor"]["name"], p["backup"]["name"]) for p in pairings] == [("孙网格", "钱干部")]
    assert get(client, world["community"], "visitors", {"status": "left"}).json()["items"][0]["name"] == "赵网格"


def test_pairing_and_the_unpaired_list(client, world):
    lone = make_elder(world["bureau"], name="李桂兰", seq=7, living_situation="alone")
    services.generate_month(month=this_month())
    unpaired = get(client, world["community"], "unpaired").json()
    assert [(e["name"], e["community"]["code"]) for e in unpaired["items"]] == [("李桂兰", "511903001002")]
    made = post(client, world["community"], "pairings", {"elder": lone.pk, "visitor": world["qian"].pk,
                                                         "backup": world["zhao"].pk})
    same = post(client, world["community"], "pairings", {"elder": lone.pk, "visitor": world["qian"].pk,
                                                         "backup": world["zhao"].pk})
    assert (made.status_code, same.status_code) == (201, 200) and made.json()["id"] == same.json()["id"]
    assert get(client, world["community"], "unpaired").json()["count"] == 0
    # The open task followed the new visitor.
    assert VisitTask.objects.get(elder=lone).visitor_id == world["qian"].pk
    assert post(client, world["community"], "pairings", {"elder": lone.pk, "visitor": world["qian"].pk,
                                                         "backup": world["qian"].pk}).status_code == 422


# ------------------------------------------------------------------------------------------------- rule sets


def test_a_rule_set_is_drafted_simulated_and_adopted(client, world):
    next_month = rules.add_months(this_month(), 1)
    draft = post(client, world["bureau"], "rule-sets", {"params": MODEL_TIERS, "valid_from": f"{next_month:%Y-%m}",
                                                        "note": "同模板", "source": "民发〔2022〕73号"})
    assert draft.status_code == 201, draft.content
    rs = draft.json()
    assert (rs["version"], rs["status"], rs["jurisdiction"]["code"]) == (2, "draft", "511903")
    sim = get(client, world["bureau"], f"rule-sets/{rs['id']}/simulate").json()
    # 王秀英 (独居, 86) is the only one in a tier: key, one visit a month, under both versions.
    key = next(t for t in sim["proposed"]["tiers"] if t["code"] == "key")
    assert (key["people"], key["visits_per_month"], sim["proposed"]["people"]) == (1, 1.0, 1)
    assert (sim["current_rule_set"], sim["people_change"], sim["visits_change"]) == (world["rule_set"].pk, 0, 0.0)
    assert sim["month"] == f"{next_month:%Y-%m}"
    # A street sees the county's rules but may not simulate or adopt them.
    assert get(client, world["street"], f"rule-sets/{rs['id']}").status_code == 200
    assert post(client, world["street"], f"rule-sets/{rs['id']}/adopt", {}).status_code == 403
    adopted = post(client, world["bureau"], f"rule-sets/{rs['id']}/adopt", {})
    assert adopted.status_code == 200 and adopted.json()["status"] == "adopted"
    old = TierRuleSet.objects.get(pk=world["rule_set"].pk)
    assert old.valid_until == this_month()
    assert post(client, world["bureau"], f"rule-sets/{rs['id']}/adopt", {}).status_code == 409


def test_a_rule_set_with_bad_tiers_is_a_422(client, world):
    bad = json.loads(json.dumps(MODEL_TIERS))
    bad["tiers"][0]["period"] = "fortnight"
    resp = post(client, world["bureau"], "rule-sets", {"params": bad, "valid_from": f"{this_month():%Y-%m}"})
    assert resp.status_code == 422 and resp.json()["errors"]
    sim = post(client, world["bureau"], "rule-sets/simulate", {"params": bad})
    assert sim.status_code == 422
    assert TierRuleSet.objects.count() == 1


# ------------------------------------------------------------------------------------------------- coverage


def test_coverage_of_a_small_county_counted_by_hand(client, world, frozen_clock):
    """Four people in the monthly (key) tier: 王秀英 and 李桂兰 in 登科寺社区, 周淑芬 next door (same street), 吴玉珍 in
    文治街道. In the month: 王秀英 seen at home (done on time); 李桂兰 not at home (an attempt); 周淑芬 called on the
    phone (does not count for this tier). Early next month 吴玉珍 is seen (done, late). Counted after the month:

        登科寺社区   due 2  done 1  on time 1  overdue 1
        next door    due 1  done 0  on time 0  overdue 1
        登科街道      due 3  done 1  on time 1  overdue 2
        文治街道      due 1  done 1  on time 0  overdue 0
        恩阳区        due 4  done 2  on time 1  overdue 2   rate 0.5
    """
    month = this_month()
    li = make_elder(world["bureau"], name="李桂兰", seq=7, living_situation="alone")
    zhou = make_elder(world["bureau"], name="周淑芬", seq=8, living_situation="alone", residence="511903001001")
    wu = make_elder(world["bureau"], name="吴玉珍", seq=9, living_situation="alone", residence="511903002001")
    for elder in (li, zhou):
        services.pair(actor=world["street"], elder=elder, visitor=world["zhao"])
    wenzhi = make_visitor(world["bureau"], "郑网格", region="511903002001", username="wenzhi")
    services.pair(actor=world["bureau"], elder=wu, visitor=wenzhi)
    assert services.generate_month(month=month) == 4
    v = world["visitor"]
    assert post(client, v, "records", near_home(world["elder"])).json()["counts"] is True
    assert post(client, v, "records", {"elder": li.pk, "method": "home", "outcome": "not_home"}).status_code == 201
    assert post(client, v, "records", {"elder": zhou.pk, "method": "phone", "outcome": "seen"}).json()["counts"] \
        is False
    frozen_clock.move_to(timezone.localtime(timezone.now()).replace(day=1) + datetime.timedelta(days=35))
    late = post(client, wenzhi.user, "records", {"elder": wu.pk, "method": "home", "outcome": "seen"})
    assert late.json()["counts"] is True

    cov = get(client, world["bureau"], "coverage", {"month": f"{month:%Y-%m}"}).json()

    def figures(row):
        return row["code"], row["due"], row["done"], row["on_time"], row["overdue"]

    assert [figures(r) for r in cov["communities"]] == [("511903001001", 1, 0, 0, 1), ("511903001002", 2, 1, 1, 1),
                                                        ("511903002001", 1, 1, 0, 0)]
    assert [figures(r) for r in cov["streets"]] == [("511903001", 3, 1, 1, 2), ("511903002", 1, 1, 0, 0)]
    assert [figures(r) for r in cov["counties"]] == [("511903", 4, 2, 1, 2)]
    assert (figures(cov["total"]), cov["total"]["rate"], cov["total"]["name"]) == (("511903", 4, 2, 1, 2), 0.5,
                                                                                    "恩阳区")
    # The street sees its own part; another street's area is out of its scope; a bad month is a 422.
    street = get(client, world["street"], "coverage", {"month": f"{month:%Y-%m}"}).json()
    assert figures(street["total"]) == ("511903001", 3, 1, 1, 2) and round(street["total"]["rate"], 4) == 0.3333
    assert get(client, world["street"], "coverage", {"month": f"{month:%Y-%m}", "area": "511903002"}
               ).status_code == 404
    assert get(client, world["street"], "coverage", {"month": "11-2026"}).status_code == 422
    by_tier = get(client, world["bureau"], "coverage", {"month": f"{month:%Y-%m}", "by_tier": "true"}).json()
    assert {r["tier"] for r in by_tier["communities"]} == {"key"}
