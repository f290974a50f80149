"""Catalogue: prices of service items, providers' offers and subsidy rules, each versioned by dates."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.models import AuditAction, RegionLevel

from .. import policy, pricing, selectors
from ..models import (
    ProviderOffer,
    ServiceItem,
    ServicePrice,
    SubsidyRule,
)
from ._common import COUNTY_LEN, _date, _money, _region, _text, _user


def _close_before(versions, start: datetime.date, *, actor, region_code: str) -> None:
    """Versions (prices, offers, rules) still open on `start` end the day before it, audited."""
    for previous in versions:
        if previous.valid_until is None or previous.valid_until >= start:
            before = audit.snapshot(previous)
            previous.valid_until = start - datetime.timedelta(days=1)
            previous.save(update_fields=["valid_until"])
            audit.record(actor=actor, action=AuditAction.UPDATE, instance=previous, before=before,
                         after=audit.snapshot(previous), region_code=region_code)


def set_price(*, actor, item: ServiceItem, jurisdiction, valid_from, market_price, inclusive_price,
              note: str = "") -> ServicePrice:
    """Publish the market and 普惠 price of an item in a jurisdiction from a date. The price in force before it
    is closed the day before; a new price must start after the latest one already published."""
    jurisdiction = _region(jurisdiction, "jurisdiction")
    policy.may_publish_price(actor, jurisdiction.code).require()
    start = _date(valid_from, "valid_from")
    errors: dict[str, list] = {}
    market = _money(market_price, "market_price", errors)
    inclusive = _money(inclusive_price, "inclusive_price", errors)
    if market is not None and inclusive is not None and inclusive > market:
        errors.setdefault("inclusive_price", []).append(_("普惠价不能高于市场价。"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        existing = list(ServicePrice.objects.select_for_update().filter(item=item, jurisdiction=jurisdiction)
                        .order_by("valid_from"))
        if existing and existing[-1].valid_from >= start:
            raise ValidationError({"valid_from": [_("%(name)s 已有从 %(date)s 起的价格，新价格须晚于该日期。") % {
                "name": jurisdiction.name, "date": existing[-1].valid_from.isoformat()}]})
        _close_before(existing, start, actor=actor, region_code=jurisdiction.code)
        price = ServicePrice.objects.create(item=item, jurisdiction=jurisdiction, valid_from=start,
                                            market_price=market, inclusive_price=inclusive,
                                            note=_text(note, 200), created_by=_user(actor))
        audit.record(actor=actor, action=AuditAction.CREATE, instance=price, after=audit.snapshot(price),
                     region_code=jurisdiction.code, detail=price.note)
    return price


def declare_offer(*, actor, provider, item: ServiceItem, streets, price, valid_from) -> ProviderOffer:
    """A provider offers an item in some streets of its county at its own price, never above the 普惠 ceiling
    in force in any of those streets on the start date. The provider's previous offer of the item is closed
    the day before."""
    policy.may_declare_offer(actor, provider).require()
    start = _date(valid_from, "valid_from")
    errors: dict[str, list] = {}
    amount = _money(price, "price", errors)
    if not item.is_active:
        errors.setdefault("item", []).append(_("该服务项目已停用。"))
    regions = []
    for value in streets or ():
        region = _region(value, "streets")
        if region.level != RegionLevel.STREET:
            errors.setdefault("streets", []).append(_("%(name)s 不是街道或乡镇。") % {"name": region.name})
        elif region.code[:COUNTY_LEN] != provider.region_id[:COUNTY_LEN]:
            errors.setdefault("streets", []).append(
                _("%(name)s 不在本机构所在区县，不能在该处提供服务。") % {"name": region.name})
        else:
            regions.append(region)
    if not regions and "streets" not in errors:
        errors.setdefault("streets", []).append(_("请至少选择一个服务街道。"))
    if amount is not None:
        for region in regions:
            ceiling = selectors.price_in_force(item, region.code, start)
            if ceiling is None:
                errors.setdefault("price", []).append(_("%(street)s 在 %(date)s 尚无%(item)s的普惠价，暂不能申报。") % {
                    "street": region.name, "date": start.isoformat(), "item": item.name})
            elif amount > ceiling.inclusive_price:
                errors.setdefault("price", []).append(_(
                    "价格 %(price)s 元高于%(street)s适用的普惠价上限 %(ceiling)s 元（%(where)s %(date)s 起执行）。"
                ) % {"price": amount, "street": region.name, "ceiling": ceiling.inclusive_price,
                     "where": ceiling.jurisdiction.name, "date": ceiling.valid_from.isoformat()})
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        existing = list(ProviderOffer.objects.select_for_update().filter(provider=provider, item=item)
                        .order_by("valid_from"))
        if existing and existing[-1].valid_from >= start:
            raise ValidationError({"valid_from": [_("本机构已有从 %(date)s 起的该项目报价，新报价须晚于该日期。") % {
                "date": existing[-1].valid_from.isoformat()}]})
        _close_before(existing, start, actor=actor, region_code=provider.region_id)
        offer = ProviderOffer.objects.create(provider=provider, item=item, price=amount, valid_from=start)
        offer.streets.set(regions)
        audit.record(actor=actor, action=AuditAction.CREATE, instance=offer, after=audit.snapshot(offer),
                     region_code=provider.region_id, detail="、".join(r.name for r in regions)[:500])
    return offer


def _params_json(parsed: pricing.SubsidyParams) -> dict:
    rows = []
    for row in parsed.rows:
        key = {"category": row.category} if row.category else {"min_age": row.min_age}
        rows.append({**key, "share": format(row.share.normalize(), "f")})
    return {"rows": rows, "others": parsed.others}


def adopt_subsidy_rule(*, actor, jurisdiction, params: dict, valid_from, note: str = "",
                       source: str = "") -> SubsidyRule:
    """Adopt who-pays-what for a jurisdiction from a date (params validated by pricing.parse and stored in
    its normal form); the rule in force before it is closed the day before. `source` (政策依据) is the
    jurisdiction's own document, shown to everyone with the rule; `note` (修订说明) is for staff and may say
    where the figures came from."""
    jurisdiction = _region(jurisdiction, "jurisdiction")
    policy.may_adopt_subsidy_rule(actor, jurisdiction.code).require()
    parsed = pricing.parse(params)
    start = _date(valid_from, "valid_from")
    note = _text(note, 300)
    if not note:
        raise ValidationError({"note": [_("请填写修订说明。")]})
    with transaction.atomic():
        existing = list(SubsidyRule.objects.select_for_update().filter(jurisdiction=jurisdiction)
                        .order_by("valid_from"))
        if existing and existing[-1].valid_from >= start:
            raise ValidationError({"valid_from": [_("已有从 %(date)s 起生效的规则，新规则须晚于该日期。") % {
                "date": existing[-1].valid_from.isoformat()}]})
        _close_before(existing, start, actor=actor, region_code=jurisdiction.code)
        rule = SubsidyRule.objects.create(jurisdiction=jurisdiction, valid_from=start, params=_params_json(parsed),
                                          note=note, source=_text(source, 300), created_by=_user(actor))
        audit.record(actor=actor, action=AuditAction.CREATE, instance=rule, after=audit.snapshot(rule),
                     region_code=jurisdiction.code, detail=note)
    return rule
