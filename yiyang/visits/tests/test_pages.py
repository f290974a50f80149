"""The desk pages of the visits app: coverage, tasks, pairings, visitors, rule sets, follow-ups and the panels.

The world (conftest): 王秀英 (独居, 80+, key tier: monthly) paired with 赵网格 in 登科寺社区; here also 李桂兰
(空巢, key tier) unpaired in the same community. This month's tasks are generated, so two are due."""

import datetime
import json

import pytest
from django.urls import reverse

from yiyang.registry.tests.factories import make_elder
from yiyang.visits import generation, rules, services
from yiyang.visits.models import FollowUp, FollowUpStatus, Pairing, TaskStatus, TierRuleSet, Visitor, VisitTask

from .factories import this_month

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(world):
    li = make_elder(world["bureau"], name="李桂兰", seq=2, living_situation="empty_nest",
                    birth=datetime.date(1950, 6, 1))
    services.generate_month(month=this_month())
    return {**world, "li": li}


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def visit_seen(w, **kw):
    return services.record_visit(actor=w["visitor"], elder=w["elder"], method="home", outcome="seen",
                                 client_key=kw.pop("client_key", "k-page"), **kw)[0]


# ------------------------------------------------------------------------------------------------- coverage


def test_coverage_counts_due_done_and_rate(client, desk):
    visit_seen(desk)
    r = get(client, desk["community"], reverse("visits:coverage"))
    assert r.status_code == 200
    html = r.content.decode()
    # Two due this month (both key tier), one done: 1/2 = 50.0 %.
    assert 'data-testid="total-due">2<' in html and 'data-testid="total-done">1<' in html
    assert 'data-testid="total-rate">50.0%<' in html
    assert 'data-testid="rate-511903001002">50.0%<' in html
    assert 'data-testid="rate-511903001002-重点">50.0%<' in html
    chart = r.context["chart"]
    assert chart["months"][-1] == f"{this_month():%Y-%m}" and chart["rates"][-1] == 50.0
    assert len(chart["months"]) == 6 and chart["rates"][0] is None  # nothing generated five months ago


def test_coverage_month_picker_and_scope(client, desk):
    last = rules.add_months(this_month(), -1)
    r = get(client, desk["street"], reverse("visits:coverage"), month=f"{last:%Y-%m}")
    assert r.status_code == 200 and 'data-testid="total-due">0<' in r.content.decode()
    # The neighbouring street sees none of 登科街道's tasks.
    r = get(client, desk["other_street"], reverse("visits:coverage"))
    assert 'data-testid="total-due">0<' in r.content.decode()
    assert get(client, desk["family"], reverse("visits:coverage")).status_code == 404
    assert get(client, desk["visitor"], reverse("visits:coverage")).status_code == 404


def test_coverage_links_overdue_list(client, world):
    last = rules.add_months(this_month(), -1)
    # Generated on the 1st of last month: its task is now overdue.
    services.generate_month(month=last, now=generation.day_start(last))
    r = get(client, world["street"], reverse("visits:coverage"), month=f"{last:%Y-%m}")
    html = r.content.decode()
    assert 'data-testid="total-overdue"' in html and f"overdue=1&month={last:%Y-%m}" in html
    r = get(client, world["street"], reverse("visits:tasks"), overdue="1", month=f"{last:%Y-%m}")
    task = VisitTask.objects.get(elder=world["elder"], period_month=last)
    assert f'data-testid="overdue-{task.pk}"' in r.content.decode()


# ------------------------------------------------------------------------------------------------- tasks


def test_task_list_filters_and_cancel_buttons(client, desk):
    wang = VisitTask.objects.get(elder=desk["elder"])
    r = get(client, desk["community"], reverse("visits:tasks"))
    html = r.content.decode()
    assert f'data-testid="task-{wang.pk}"' in html and f'data-testid="cancel-{wang.pk}"' in html
    assert "李桂兰" in html and "未包联" in html
    r = get(client, desk["community"], reverse("visits:tasks"), kind="ad_hoc")
    assert f'data-testid="task-{wang.pk}"' not in r.content.decode()
    r = get(client, desk["community"], reverse("visits:tasks"), overdue="1")
    assert f'data-testid="task-{wang.pk}"' not in r.content.decode()  # due at the month's end
    # htmx asks for the rows only.
    r = client.get(reverse("visits:tasks"), HTTP_HX_REQUEST="true")
    assert r.templates[0].name == "visits/_task_rows.html"
    # The bureau may cancel too (policy: area staff); a done task has no button.
    visit_seen(desk)
    r = get(client, desk["bureau"], reverse("visits:tasks"))
    assert f'data-testid="cancel-{wang.pk}"' not in r.content.decode()
    assert get(client, desk["other_street"], reverse("visits:tasks")).context["page"].paginator.count == 0


def test_cancel_and_raise(client, desk):
    li_task = VisitTask.objects.get(elder=desk["li"])
    client.force_login(desk["other_street"])
    assert client.post(reverse("visits:task_cancel", args=[li_task.pk]), {"reason": "x"}).status_code == 404
    client.force_login(desk["community"])
    r = client.post(reverse("visits:task_cancel", args=[li_task.pk]), {"reason": ""}, follow=True)
    assert "请填写原因。" in r.content.decode()
    client.post(reverse("visits:task_cancel", args=[li_task.pk]), {"reason": "已入住养老院"})
    li_task.refresh_from_db()
    assert li_task.status == TaskStatus.CANCELLED and li_task.cancel_reason == "已入住养老院"
    r = client.post(reverse("visits:task_raise"), {"elder": desk["elder"].pk, "trigger": "discharge",
                                                   "note": "昨日出院"}, follow=True)
    assert "已安排临时探访" in r.content.decode()
    task = VisitTask.objects.get(elder=desk["elder"], kind="ad_hoc")
    assert task.trigger_note == "昨日出院" and task.visitor == desk["zhao"]
    assert (task.due_at - task.window_start) == datetime.timedelta(hours=24)
    client.force_login(desk["other_street"])
    assert client.post(reverse("visits:task_raise"), {"elder": desk["elder"].pk, "trigger": "other"}
                       ).status_code == 404


# ------------------------------------------------------------------------------------------------- pairings


def test_pairings_unpaired_and_pair(client, desk):
    r = get(client, desk["community"], reverse("visits:pairings"))
    html = r.content.decode()
    assert f'data-testid="unpaired-{desk["li"].pk}"' in html and "本月应访但无人包联（1 人）" in html
    assert f'data-testid="pairing-{desk["elder"].pk}"' in html
    r = client.post(reverse("visits:pair"), {"elder": desk["li"].pk, "visitor": desk["qian"].pk,
                                              "backup": desk["zhao"].pk}, follow=True)
    assert "已安排包联：李桂兰 → 钱干部" in r.content.decode()
    p = Pairing.objects.get(elder=desk["li"], until__isnull=True)
    assert (p.visitor, p.backup) == (desk["qian"], desk["zhao"])
    assert VisitTask.objects.get(elder=desk["li"]).visitor == desk["qian"]  # open task follows
    r = get(client, desk["community"], reverse("visits:pairings"))
    assert "本月应访但无人包联（0 人）" in r.content.decode()
    # A pairing with the backup the same as the responsible visitor is refused with the service's reason.
    r = client.post(reverse("visits:pair"), {"elder": desk["li"].pk, "visitor": desk["qian"].pk,
                                              "backup": desk["qian"].pk}, follow=True)
    assert "备岗人不能与责任人相同。" in r.content.decode()
    client.force_login(desk["other_street"])
    assert client.post(reverse("visits:pair"), {"elder": desk["li"].pk, "visitor": desk["qian"].pk}
                       ).status_code == 404


def test_visitors_add_and_handover_counts(client, desk):
    r = get(client, desk["community"], reverse("visits:visitors"))
    html = r.content.decode()
    assert f'data-testid="responsible-{desk["zhao"].pk}">1<' in html and 'data-testid="add-visitor"' in html
    r = client.post(reverse("visits:visitor_add"), {"name": "孙志愿", "kind": "volunteer",
                                                     "region": "511903001002", "phone": ""}, follow=True)
    assert "已添加巡访员 孙志愿。" in r.content.decode()
    sun = Visitor.objects.get(name="孙志愿")
    r = client.post(reverse("visits:visitor_leave", args=[desk["zhao"].pk]), {"successor": sun.pk}, follow=True)
    html = r.content.decode()
    # 王秀英 goes to 孙志愿 (钱干部 stays her backup).
    assert 'data-testid="handover"' in html and "转给接替人 孙志愿：1 人" in html and "待重新包联：0 人" in html
    p = Pairing.objects.get(elder=desk["elder"], until__isnull=True)
    assert (p.visitor, p.backup) == (sun, desk["qian"])
    # The street's neighbour sees no visitors of 登科寺社区 and cannot hand them over.
    r = get(client, desk["other_street"], reverse("visits:visitors"))
    assert r.context["page"].paginator.count == 0
    client.force_login(desk["other_street"])
    assert client.post(reverse("visits:visitor_leave", args=[sun.pk]), {}).status_code == 404


# ------------------------------------------------------------------------------------------------- rule sets


def test_rule_list_and_detail_in_words(client, desk):
    rs = desk["rule_set"]
    r = get(client, desk["street"], reverse("visits:rules"))
    assert f'data-testid="rule-{rs.pk}"' in r.content.decode() and 'data-testid="draft-rule"' not in r.content.decode()
    r = get(client, desk["street"], reverse("visits:rule", args=[rs.pk]))
    html = r.content.decode()
    assert "独居 + 能力等级≥2" in html and "每周" in html and 'data-testid="adopt"' not in html
    assert get(client, desk["other_bureau"], reverse("visits:rule", args=[rs.pk])).status_code == 404


def test_draft_validate_simulate_adopt(client, desk):
    client.force_login(desk["bureau"])
    r = client.get(reverse("visits:rule_new"))
    assert r.status_code == 200 and json.loads(r.context["text"]) == desk["rule_set"].params
    r = client.post(reverse("visits:rule_new"), {"params": "{not json", "valid_from": "2027-01"})
    assert r.status_code == 422 and "规则不是有效的 JSON" in r.content.decode()
    broken = json.loads(json.dumps(desk["rule_set"].params))
    broken["tiers"][0]["period"] = "fortnight"
    r = client.post(reverse("visits:rule_new"), {"params": json.dumps(broken), "valid_from": "2027-01"})
    assert r.status_code == 422 and 'data-testid="errors"' in r.content.decode()
    # Only the monthly tier, for everyone covered: both people in one tier, 2 visits a month.
    params = {"covered": desk["rule_set"].params["covered"], "tiers": [
        {"code": "all", "name": "全部", "rank": 1, "period": "month", "methods": ["home"], "remote_counts": False,
         "when": [{"min_age": 60}]}]}
    next_month = rules.add_months(this_month(), 1)
    r = client.post(reverse("visits:rule_new"), {"params": json.dumps(params), "valid_from": f"{next_month:%Y-%m}",
                                                  "note": "合并等级"})
    draft = TierRuleSet.objects.get(note="合并等级")
    assert r.status_code == 302 and r["Location"] == reverse("visits:rule", args=[draft.pk])
    r = client.get(r["Location"])
    html = r.content.decode()
    assert 'data-testid="sim-people">2<' in html and 'data-testid="sim-visits">2.0<' in html
    assert "应访老人都已落入巡访等级。" in html and 'data-testid="adopt"' in html
    # The street reads the draft but has no adopt button, and posting is refused.
    r = get(client, desk["street"], reverse("visits:rule", args=[draft.pk]))
    assert 'data-testid="adopt"' not in r.content.decode()
    client.post(reverse("visits:rule_adopt", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == "draft"
    client.force_login(desk["bureau"])
    client.post(reverse("visits:rule_adopt", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == "adopted"
    assert get(client, desk["street"], reverse("visits:rule_new")).status_code == 404


# ------------------------------------------------------------------------------------------------- follow-ups


def test_follow_up_desk_and_close(client, desk):
    record = visit_seen(desk, follow_ups=[{"kind": "home_adaptation", "note": "卫生间需要扶手"}])
    fu = FollowUp.objects.get(record=record)
    r = get(client, desk["community"], reverse("visits:follow_ups"))
    html = r.content.decode()
    assert "卫生间需要扶手" in html and f'data-testid="close-{fu.pk}"' in html
    r = get(client, desk["other_street"], reverse("visits:follow_ups"))
    assert "卫生间需要扶手" not in r.content.decode()
    client.force_login(desk["community"])
    client.post(reverse("visits:follow_up_close", args=[fu.pk]), {"note": "已转残联"})
    fu.refresh_from_db()
    assert fu.status == FollowUpStatus.CLOSED and fu.note == "卫生间需要扶手 / 已转残联"
    r = get(client, desk["community"], reverse("visits:follow_ups"))
    assert "卫生间需要扶手" not in r.content.decode()


# ------------------------------------------------------------------------------------------------- panels


def test_elder_panel_and_home_panels(client, desk):
    visit_seen(desk, notes="精神很好")
    r = get(client, desk["community"], reverse("registry:elder_detail", args=[desk["elder"].pk]))
    html = r.content.decode()
    assert 'data-testid="elder-visits"' in html and "包联责任人：赵网格" in html and "精神很好" in html
    assert 'data-testid="elder-raise"' in html and 'data-testid="elder-pair"' in html
    r = get(client, desk["community"], reverse("core:home"))
    html = r.content.decode()
    assert 'data-testid="visits-panel"' in html and "覆盖率 50.0%（1/2）" in html
    r = get(client, desk["visitor"], reverse("core:home"))
    assert 'data-testid="visitor-panel"' in r.content.decode()


def test_menu_and_landing(client, desk):
    r = get(client, desk["community"], reverse("core:home"))
    assert reverse("visits:coverage") in r.content.decode()
    client.logout()
    r = client.post(reverse("core:login"), {"username": "visitor", "password": "pass-Word-2026"})
    from yiyang.core.tests.factories import PASSWORD

    r = client.post(reverse("core:login"), {"username": "visitor", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse("visits:my_day")
