"""The 服务回访 page: drawing the month's sample (10 % of 12 completed orders → ceil(1.2) = 2), recording a call
(reached with 2 flags the order and shows in the summary), errors in place with nothing changed, scope (another
street's staff get 404, the provider reads its results without phone numbers) and bounded queries."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from yiyang.services import services
from yiyang.services.models import FlagKind, FollowUpCall, OrderFlag

from .factories import completed

pytestmark = pytest.mark.django_db

PAGE = reverse("services:follow_ups")
SAMPLE = reverse("services:follow_up_sample")
PHONE = "13912345678"


@pytest.fixture
def elder_fields():
    return {"phone": PHONE}  # lives in 登科寺社区 (511903001002)


def this_month() -> str:
    return f"{timezone.localdate():%Y-%m}"


def page_messages(resp) -> list[str]:
    return [str(m) for m in resp.context["messages"]]


def sampled(w, n=12, rate="0.1"):
    completed(w, n)
    return services.sample_follow_ups(actor=w["street"], jurisdiction="511903001", month=this_month(), rate=rate)


def record_url(call):
    return reverse("services:follow_up_record", args=[call.pk])


def test_sampling_ten_percent_of_twelve_adds_two(client, world):
    completed(world, 12)
    client.force_login(world["street"])
    resp = client.post(SAMPLE, {"month": this_month(), "rate": "10"})
    assert resp.status_code == 302 and resp.url == f"{PAGE}?month={this_month()}"
    # 12 × 10 % = 1.2 → 2 calls.
    assert FollowUpCall.objects.count() == 2
    page = client.get(resp.url)
    assert f"已抽取 {this_month()} 的回访样本 2 单。" in page_messages(page)
    row = page.context["summary"][0]
    assert (row["sampled"], row["called"], row["reached"], row["average"], row["low"]) == (2, 0, 0, None, 0)
    # Again: the rate is met, nothing added.
    again = client.post(SAMPLE, {"month": this_month(), "rate": "10"})
    assert FollowUpCall.objects.count() == 2
    assert f"{this_month()} 的回访样本已达到比例，本次未新增。" in page_messages(client.get(again.url))


@pytest.mark.parametrize(("rate", "error"), [("0", "抽样比例须大于 0% 且不超过 100%。"),
                                             ("150", "抽样比例须大于 0% 且不超过 100%。"),
                                             ("abc", "抽样比例应为数字（百分比）。")])
def test_a_wrong_rate_is_refused_in_place(client, world, rate, error):
    completed(world, 2)
    client.force_login(world["street"])
    resp = client.post(SAMPLE, {"month": this_month(), "rate": rate})
    assert resp.status_code == 422
    page = resp.content.decode()
    assert f'data-testid="error-rate">{error}<' in page
    assert not FollowUpCall.objects.exists()


def test_the_month_defaults_to_last_month(client, world):
    client.force_login(world["community"])
    resp = client.get(PAGE)
    last = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    assert resp.status_code == 200 and resp.context["month"] == last
    assert f'value="{last:%Y-%m}"' in resp.content.decode()


def test_list_shows_the_calls_with_the_phone_pending_first(client, world):
    first, second = sampled(world)
    services.record_follow_up(actor=world["street"], call=first, outcome="unreachable")
    client.force_login(world["community"])
    resp = client.get(PAGE, {"month": this_month()})
    assert [c.pk for c in resp.context["calls"]] == [second.pk, first.pk]
    page = resp.content.decode()
    assert f'href="tel:{PHONE}"' in page
    assert "王秀英" in page and "上门助浴" in page and "颐康" in page and "李护理" in page
    assert f'data-testid="record-{second.pk}"' in page


def test_reached_with_two_flags_the_order_and_shows_in_the_summary(client, world):
    call, other = sampled(world)
    client.force_login(world["community"])
    resp = client.post(record_url(call), {"outcome": "reached", "satisfaction": "2", "issues": "护理员迟到半小时",
                                          "note": "家属接听"})
    assert resp.status_code == 302 and resp.url == f"{PAGE}?month={this_month()}#call-{call.pk}"
    call.refresh_from_db()
    assert (call.outcome, call.satisfaction, call.issues, call.note, call.called_by) == (
        "reached", 2, "护理员迟到半小时", "家属接听", world["community"])
    flag = OrderFlag.objects.get(order=call.order)
    assert flag.kind == FlagKind.FOLLOW_UP
    services.record_follow_up(actor=world["street"], call=other, outcome="reached", satisfaction=5)
    page = client.get(resp.url)
    assert "已保存回访结果。" in page_messages(page)
    row = page.context["summary"][0]
    # 2 sampled, 2 called and reached, average (2 + 5) / 2 = 3.5, one at 2 or less.
    assert (row["sampled"], row["called"], row["reached"], str(row["average"]), row["low"]) == (2, 2, 2, "3.5", 1)
    html = page.content.decode()
    assert 'data-testid="average">3.5<' in html
    assert 'data-testid="low"><span class="sv-flag">1</span><' in html


def test_reached_without_satisfaction_shows_the_error_and_changes_nothing(client, world):
    call, _other = sampled(world)
    client.force_login(world["community"])
    resp = client.post(record_url(call), {"outcome": "reached", "satisfaction": "", "issues": "说不清"})
    assert resp.status_code == 422
    page = resp.content.decode()
    assert 'data-testid="error-satisfaction">已接通的回访须填写 1 至 5 的满意度。<' in page
    assert 'value="说不清"' in page  # what was typed stays
    call.refresh_from_db()
    assert (call.outcome, call.satisfaction, call.called_at, call.issues) == ("", None, None, "")
    assert not OrderFlag.objects.exists()


def test_another_streets_staff_get_404(client, world):
    call, _other = sampled(world)
    client.force_login(world["other_street"])
    resp = client.post(record_url(call), {"outcome": "reached", "satisfaction": "5"})
    assert resp.status_code == 404
    call.refresh_from_db()
    assert call.outcome == ""
    assert list(client.get(PAGE, {"month": this_month()}).context["calls"]) == []


def test_provider_reads_its_results_without_phone_numbers(client, world):
    call, _other = sampled(world)
    services.record_follow_up(actor=world["street"], call=call, outcome="reached", satisfaction=4)
    client.force_login(world["provider"])
    resp = client.get(PAGE, {"month": this_month()})
    assert resp.status_code == 200 and len(resp.context["calls"]) == 2
    page = resp.content.decode()
    assert PHONE not in page
    assert "满意度 4" in page
    assert 'data-testid="record-' not in page and 'data-testid="sample"' not in page
    assert client.post(record_url(call), {"outcome": "refused"}).status_code == 404
    assert client.post(SAMPLE, {"month": this_month(), "rate": "10"}).status_code == 404
    client.force_login(world["family"])
    assert client.get(PAGE).status_code == 404


def test_list_queries_are_bounded(client, world, django_assert_max_num_queries):
    calls = sampled(world, 12, rate="1")
    for call in calls[:3]:
        services.record_follow_up(actor=world["street"], call=call, outcome="reached", satisfaction=3)
    client.force_login(world["community"])
    with django_assert_max_num_queries(7):  # session, user, summary, count, calls
        resp = client.get(PAGE, {"month": this_month()})
    assert len(resp.context["calls"]) == 12


def test_nav_shows_follow_ups_to_region_staff_only(client, world):
    client.force_login(world["bureau"])
    assert f'href="{PAGE}"' in client.get(reverse("core:home")).content.decode()
    client.force_login(world["family"])
    assert f'href="{PAGE}"' not in client.get(reverse("core:home")).content.decode()
