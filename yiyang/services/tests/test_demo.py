"""The demo city's services data: catalogue, prices, the subsidy rule and the demo provider's offers."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from yiyang.core.demo import build_demo_city
from yiyang.registry.models import Elder
from yiyang.services import examples, services
from yiyang.services.models import ProviderOffer, ServiceItem, ServicePrice, SubsidyRule

pytestmark = pytest.mark.django_db


def test_demo_catalogue_prices_rule_and_offers():
    ctx = build_demo_city(seed=7, scale=1 / 200, log=lambda *a: None)
    assert ServiceItem.objects.count() == len(examples.CATALOGUE)
    assert ServicePrice.objects.filter(jurisdiction_id="511903").count() == len(examples.CATALOGUE)
    assert SubsidyRule.objects.filter(jurisdiction_id="511903").count() == 1
    bath = ProviderOffer.objects.get(item__code="bath-home")
    assert bath.price == Decimal("54.00")  # 90 % of the 60.00 普惠 price
    # An 85-year-old of the demo community with no category is quoted for a bath next week: the provider's
    # 54.00 (under the 普惠 ceiling), no subsidy share, all paid by the person (nothing written).
    today = timezone.localdate()
    elder = (Elder.objects.filter(residence_region_id="511903001002", status="active", categories__isnull=True,
                                  birth_date__lte=today.replace(year=today.year - 81)).order_by("pk").first())
    when = timezone.now() + datetime.timedelta(days=7)
    quote = services.preview_quote(actor=ctx.accounts["community"], elder=elder, provider=bath.provider,
                                   item=bath.item, scheduled_start=when)
    assert (quote.basis, quote.total, quote.subsidy, quote.copay) == ("inclusive", Decimal("54.00"),
                                                                      Decimal("0.00"), Decimal("54.00"))
    before = ServicePrice.objects.count()
    build_demo_city(seed=7, scale=1 / 200, log=lambda *a: None)  # a second run adds nothing
    assert ServicePrice.objects.count() == before
