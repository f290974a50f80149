"""Catalogue writes: prices by jurisdiction and date, providers' offers under the 普惠 ceiling, subsidy rules."""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from yiyang.core.errors import DomainError
from yiyang.core.models import AuditEvent, Role
from yiyang.core.tests.factories import demo_roles, make_org, make_user
from yiyang.services import selectors, services
from yiyang.services.models import ProviderOffer, ServicePrice, SubsidyRule

from .factories import COUNTY, OTHER_STREET, RULE, STREET, days_ago, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles():
    return demo_roles()


@pytest.fixture
def bath():
    return make_item()


def test_a_new_price_closes_the_previous_one_the_day_before(roles, bath):
    first = services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(60),
                               market_price="80", inclusive_price="40.00")
    second = services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(10),
                                market_price="90.00", inclusive_price="45.00", note="调价")
    first.refresh_from_db()
    assert first.valid_until == days_ago(11) and second.valid_until is None
    assert (first.market_price, first.inclusive_price) == (D("80.00"), D("40.00"))
    # The price in force: the old one until the day before, the new one from its start, at any level below.
    assert selectors.price_in_force(bath, "511903001002", days_ago(11)) == first
    assert selectors.price_in_force(bath, "511903001002", days_ago(10)) == second
    assert selectors.price_in_force(bath, "511903001002", days_ago(61)) is None
    assert selectors.price_in_force(bath, "511902001", days_ago(1)) is None  # another district
    assert AuditEvent.objects.filter(object_type="services.serviceprice").count() == 3


def test_the_nearest_jurisdiction_with_a_price_wins(roles, bath):
    services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(60),
                       market_price="80.00", inclusive_price="40.00")
    street = services.set_price(actor=roles["bureau"], item=bath, jurisdiction=STREET, valid_from=days_ago(5),
                                market_price="70.00", inclusive_price="35.00")
    assert selectors.price_in_force(bath, "511903001002", days_ago(1)) == street
    assert selectors.price_in_force(bath, "511903001002", days_ago(6)).jurisdiction_id == COUNTY
    assert selectors.price_in_force(bath, OTHER_STREET, days_ago(1)).jurisdiction_id == COUNTY


def test_a_price_must_start_after_the_latest_and_stay_within_the_market_price(roles, bath):
    services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(10),
                       market_price="80.00", inclusive_price="40.00")
    with pytest.raises(ValidationError) as exc:
        services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(10),
                           market_price="80.00", inclusive_price="41.00")
    assert "新价格须晚于该日期" in exc.value.message_dict["valid_from"][0]
    with pytest.raises(ValidationError) as exc:
        services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(1),
                           market_price="40.00", inclusive_price="41.00")
    assert exc.value.message_dict["inclusive_price"] == ["普惠价不能高于市场价。"]
    with pytest.raises(ValidationError) as exc:
        services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(1),
                           market_price="0", inclusive_price="40.001")
    assert set(exc.value.message_dict) == {"market_price", "inclusive_price"}
    assert ServicePrice.objects.count() == 1


@pytest.mark.parametrize("who", ["other_bureau", "street", "provider"])
def test_only_the_jurisdictions_bureau_sets_prices(roles, bath, who):
    with pytest.raises(DomainError) as exc:
        services.set_price(actor=roles[who], item=bath, jurisdiction=COUNTY, valid_from=days_ago(1),
                           market_price="80.00", inclusive_price="40.00")
    assert exc.value.status == 403
    assert not ServicePrice.objects.exists()


def test_an_offer_above_the_ceiling_of_any_street_is_refused_with_a_clear_message(roles, bath):
    services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(60),
                       market_price="80.00", inclusive_price="40.00")
    services.set_price(actor=roles["bureau"], item=bath, jurisdiction=STREET, valid_from=days_ago(60),
                       market_price="70.00", inclusive_price="35.00")
    provider = roles["provider"].organisation
    with pytest.raises(ValidationError) as exc:
        services.declare_offer(actor=roles["provider"], provider=provider, item=bath,
                               streets=[STREET, OTHER_STREET], price="36.00", valid_from=days_ago(1))
    # 文治街道 takes the county's 40.00 (fine); 登科街道 has its own 35.00 ceiling.
    assert exc.value.message_dict["price"] == [
        f"价格 36.00 元高于登科街道适用的普惠价上限 35.00 元（登科街道 {days_ago(60).isoformat()} 起执行）。"]
    assert not ProviderOffer.objects.exists()
    offer = services.declare_offer(actor=roles["provider"], provider=provider, item=bath,
                                   streets=[STREET, OTHER_STREET], price="35.00", valid_from=days_ago(1))
    assert sorted(offer.streets.values_list("code", flat=True)) == [STREET, OTHER_STREET]
    assert selectors.offer_in_force(provider, bath, "511903001002", days_ago(0)) == offer
    assert selectors.offer_in_force(provider, bath, "511903001002", days_ago(2)) is None
    assert selectors.offer_in_force(provider, bath, "511903003", days_ago(0)) is None


def test_an_offer_where_no_price_is_published_is_refused(roles, bath):
    with pytest.raises(ValidationError) as exc:
        services.declare_offer(actor=roles["provider"], provider=roles["provider"].organisation, item=bath,
                               streets=[STREET], price="30.00", valid_from=days_ago(1))
    assert "尚无上门助浴的普惠价" in exc.value.message_dict["price"][0]


def test_streets_outside_the_providers_county_or_not_streets_are_refused(roles, bath):
    province = make_user("province", Role.BUREAU, region="51")  # a province-wide price covers every street
    services.set_price(actor=province, item=bath, jurisdiction="51", valid_from=days_ago(60),
                       market_price="80.00", inclusive_price="40.00")
    provider = roles["provider"].organisation
    with pytest.raises(ValidationError) as exc:
        services.declare_offer(actor=roles["provider"], provider=provider, item=bath,
                               streets=[STREET, "511902001", "511903001002"], price="30.00", valid_from=days_ago(1))
    messages = exc.value.message_dict["streets"]
    assert len(messages) == 2
    assert "不在本机构所在区县，不能在该处提供服务。" in messages[0]
    assert "不是街道或乡镇" in messages[1]
    assert not ProviderOffer.objects.exists()


def test_a_new_offer_closes_the_previous_and_only_the_provider_or_its_bureau_may_declare(roles, bath):
    services.set_price(actor=roles["bureau"], item=bath, jurisdiction=COUNTY, valid_from=days_ago(60),
                       market_price="80.00", inclusive_price="40.00")
    provider = roles["provider"].organisation
    first = services.declare_offer(actor=roles["provider"], provider=provider, item=bath, streets=[STREET],
                                   price="38.00", valid_from=days_ago(30))
    second = services.declare_offer(actor=roles["bureau"], provider=provider, item=bath, streets=[STREET],
                                    price="36.00", valid_from=days_ago(3))
    first.refresh_from_db()
    assert first.valid_until == days_ago(4) and second.valid_until is None
    other = make_org("别家机构", region="511903003")
    for who, org in (("provider", other), ("other_bureau", provider), ("caregiver", provider)):
        with pytest.raises(DomainError) as exc:
            services.declare_offer(actor=roles[who], provider=org, item=bath, streets=[STREET], price="30.00",
                                   valid_from=days_ago(1))
        assert exc.value.status == 403
    assert ProviderOffer.objects.count() == 2


def test_a_subsidy_rule_is_validated_normalised_and_closes_the_previous(roles):
    first = services.adopt_subsidy_rule(actor=roles["bureau"], jurisdiction=COUNTY, params=RULE,
                                        valid_from=days_ago(90), note="首版", source="巴中市民政局文件")
    assert first.params == RULE
    second = services.adopt_subsidy_rule(
        actor=roles["bureau"], jurisdiction=COUNTY, valid_from=days_ago(9), note="低保提至 95%",
        params={"rows": [{"category": "destitute", "share": 100}, {"category": "subsistence", "share": "95.0"}],
                "others": "inclusive"})
    first.refresh_from_db()
    assert first.valid_until == days_ago(10)
    assert second.params == {"rows": [{"category": "destitute", "share": "100"},
                                      {"category": "subsistence", "share": "95"}], "others": "inclusive"}
    assert selectors.subsidy_rule_in_force("511903001002", days_ago(10)) == first
    assert selectors.subsidy_rule_in_force("511903001002", days_ago(0)) == second


def test_a_bad_rule_names_every_bad_row_and_writes_nothing(roles):
    with pytest.raises(ValidationError) as exc:
        services.adopt_subsidy_rule(actor=roles["bureau"], jurisdiction=COUNTY, valid_from=days_ago(1), note="x",
                                    params={"rows": [{"category": "nobody", "share": "50"},
                                                     {"min_age": 80, "share": "150"},
                                                     {"category": "destitute", "min_age": 60, "share": "10"}],
                                            "others": "free"})
    errors = exc.value.message_dict
    assert errors["rows.0"] == ["未知的人员类别：nobody"]
    assert errors["rows.1"] == ["补贴比例须为 0 至 100 的数字。"]
    assert errors["rows.2"] == ["每行须指定人员类别或年龄之一。"]
    assert errors["others"] == ["其他人员须按市场价或普惠价。"]
    with pytest.raises(ValidationError) as exc:
        services.adopt_subsidy_rule(actor=roles["bureau"], jurisdiction=COUNTY, params=RULE, valid_from=days_ago(1))
    assert exc.value.message_dict == {"note": ["请填写修订说明。"]}
    with pytest.raises(DomainError):
        services.adopt_subsidy_rule(actor=roles["other_bureau"], jurisdiction=COUNTY, params=RULE,
                                    valid_from=days_ago(1), note="越权")
    assert not SubsidyRule.objects.exists()


def test_elder_facts_are_taken_on_the_day(roles):
    from yiyang.registry import services as registry
    from yiyang.registry.tests.factories import make_elder

    elder = make_elder(roles["bureau"], birth=datetime.date(1946, 6, 15))
    registry.add_category(actor=roles["bureau"], elder=elder, kind="subsistence", start_date="2026-01-01",
                          end_date="2026-06-30")
    assert selectors.elder_facts(elder, datetime.date(2026, 6, 14)) == ({"subsistence"}, 79)
    assert selectors.elder_facts(elder, datetime.date(2026, 6, 30)) == ({"subsistence"}, 80)
    assert selectors.elder_facts(elder, datetime.date(2026, 7, 1)) == (set(), 80)
