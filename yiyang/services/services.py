"""Services: the write operations (catalogue prices, providers' offers, subsidy rules, and the order life cycle).

Every function takes keyword arguments, checks the actor's authority, runs in one transaction (the order row
locked with SELECT … FOR UPDATE) and writes an audit event; an error leaves nothing behind. Refusals are
`ValidationError({field: [message]})` for bad input and `DomainError(code, message, status=)` for a business
rule (403 not yours, 409 not now).
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.bulk import insert_select
from yiyang.core.errors import DomainError
from yiyang.core.models import CODE_LENGTH, AuditAction, Region, RegionLevel, Role
from yiyang.core.policy import is_superuser, role_of
from yiyang.registry.models import Elder, ElderStatus, Practitioner

from . import policy, pricing, selectors
from .models import (
    HOLD_FLAG_KINDS,
    TRANSITIONS,
    AllowanceEntry,
    AllowanceKind,
    CaregiverShift,
    FlagKind,
    Order,
    OrderChannel,
    OrderEvent,
    OrderFlag,
    OrderStatus,
    ProviderOffer,
    ServiceItem,
    ServicePrice,
    Settlement,
    SettlementItem,
    SettlementStatus,
    SubsidyRule,
)

CENT = Decimal("0.01")
BOOKING_HORIZON_DAYS = 60           # an order may be booked at most this far ahead
EARLY_CHECK_IN = datetime.timedelta(hours=2)       # earlier than this is refused
EARLY_CHECK_IN_FLAG = datetime.timedelta(minutes=30)  # earlier than this is let through and flagged
CLOCK_SKEW = datetime.timedelta(minutes=10)  # a phone's clock may run a little ahead
FAR_METRES = 500
DURATION_BOUNDS = (Decimal("0.5"), Decimal("2"))
STREET_LEN = CODE_LENGTH["street"]
COUNTY_LEN = CODE_LENGTH["county"]


# ---------------------------------------------------------------------------------------------------------
# Small helpers


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _region(value, field: str) -> Region:
    if isinstance(value, Region):
        return value
    region = Region.objects.filter(code=str(value or "").strip()).first()
    if region is None:
        raise ValidationError({field: [_("区划代码 %(code)s 不存在。") % {"code": value}]})
    return region


def _date(value, field: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({field: [_("日期格式应为 YYYY-MM-DD。")]}) from None


def _money(value, field: str, errors: dict) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        errors.setdefault(field, []).append(_("金额须为大于 0 的数字。"))
        return None
    if amount != amount.quantize(CENT) or amount >= Decimal("1000000"):
        errors.setdefault(field, []).append(_("金额须精确到分且小于 100 万元。"))
        return None
    return amount.quantize(CENT)


def _text(value, limit: int) -> str:
    return (value or "").strip()[:limit]


def _service_day(order_or_start) -> datetime.date:
    start = getattr(order_or_start, "scheduled_start", order_or_start)
    return timezone.localdate(start)


# ---------------------------------------------------------------------------------------------------------
# Catalogue: prices, offers, subsidy rules



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


# ---------------------------------------------------------------------------------------------------------
# Placing an order


def _quantity(value) -> Decimal:
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        qty = None
    if qty is None or not qty.is_finite() or qty <= 0 or qty > 100 or qty != qty.quantize(CENT):
        raise ValidationError({"quantity": [_("数量须为大于 0 的数字（最多两位小数）。")]})
    return qty.quantize(CENT)


def _parse_start(value) -> datetime.datetime:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError({"scheduled_start": [_("预约时间格式无效。")]}) from None
    if not isinstance(value, datetime.datetime):
        raise ValidationError({"scheduled_start": [_("请填写预约时间。")]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _start(value) -> datetime.datetime:
    value = _parse_start(value)
    now = timezone.now()
    if value <= now:
        raise ValidationError({"scheduled_start": [_("预约时间须晚于当前时间。")]})
    if value > now + datetime.timedelta(days=BOOKING_HORIZON_DAYS):
        raise ValidationError({"scheduled_start": [_("最多可预约 %(days)d 天内的服务。") % {
            "days": BOOKING_HORIZON_DAYS}]})
    return value


def _prepare(*, actor, elder: Elder, provider, item: ServiceItem, scheduled_start, quantity, allowance_available,
             lock: bool = False):
    """Everything place_order checks and prices, without writing: (start, quantity, offer, price, rule, quote).
    `allowance_available` None means the elder's balance in the ledger for the month of the service; with
    `lock` the elder's row is locked first (SELECT … FOR UPDATE), so that two orders for the same person are
    priced one after the other and the balance can never go below zero."""
    # The status as registered now, not as the caller last read it.
    elder = (Elder.objects.select_for_update(of=("self",)) if lock else Elder.objects).get(pk=elder.pk)
    policy.may_order_for_elder(actor, elder).require()
    if elder.status != ElderStatus.ACTIVE:
        raise DomainError("elder_inactive", _("%(name)s 的状态为“%(status)s”，不能下单。") % {
            "name": elder.name, "status": elder.get_status_display()}, status=409)
    start = _start(scheduled_start)
    qty = _quantity(quantity)
    if not item.is_active:
        raise ValidationError({"item": [_("该服务项目已停用。")]})
    if not provider.is_active:
        raise ValidationError({"provider": [_("该服务机构已停业。")]})
    day = _service_day(start)
    street = elder.residence_region_id[:STREET_LEN]
    offer = selectors.offer_in_force(provider, item, street, day)
    if offer is None:
        raise ValidationError({"provider": [_("%(provider)s 在 %(date)s 不在老人所在街道提供%(item)s。") % {
            "provider": provider.name, "date": day.isoformat(), "item": item.name}]})
    price = selectors.price_in_force(item, elder.residence_region_id, day)
    if price is None:
        raise ValidationError({"item": [_("老人所在地区在 %(date)s 尚未公布%(item)s的价格。") % {
            "date": day.isoformat(), "item": item.name}]})
    rule = selectors.subsidy_rule_in_force(elder.residence_region_id, day)
    params = pricing.parse(rule.params) if rule is not None else pricing.SubsidyParams()
    categories, age = selectors.elder_facts(elder, day)
    if allowance_available is None:
        allowance = selectors.allowance_balance(elder, day)
    else:
        try:
            allowance = Decimal(str(allowance_available or 0))
        except (InvalidOperation, ValueError):
            raise ValidationError({"allowance_available": [_("服务补贴余额须为数字。")]}) from None
    # The provider's price, held to the ceiling in force on the day of the service (it may have been lowered
    # since the offer was declared).
    subsidised = min(offer.price, price.inclusive_price)
    quote = pricing.quote(params=params, categories=categories, age=age, subsidised_price=subsidised,
                          market_price=price.market_price, quantity=qty, allowance_available=allowance)
    return start, qty, offer, price, rule, quote


def preview_quote(*, actor, elder: Elder, provider, item: ServiceItem, scheduled_start, quantity=1,
                  allowance_available=None) -> pricing.Quote:
    """What the person sees before confirming: the same checks and split as place_order, nothing written.
    The allowance is the elder's balance for the month of the service unless the caller states one."""
    return _prepare(actor=actor, elder=elder, provider=provider, item=item, scheduled_start=scheduled_start,
                    quantity=quantity, allowance_available=allowance_available)[-1]


def _same_request(order: Order, *, actor, elder, provider, item, start, qty, channel) -> bool:
    return (order.elder_id == elder.pk and order.provider_id == provider.pk and order.item_id == item.pk
            and order.scheduled_start == start and order.quantity == qty and order.channel == channel
            and order.placed_by_id == getattr(actor, "pk", None))


def _replayed_order(client_key, **request) -> Order | None:
    existing = Order.objects.filter(client_key=client_key).first()
    if existing is None:
        return None
    if not _same_request(existing, **request):
        raise DomainError("client_key_conflict", _("该提交编号已用于另一笔订单，请刷新后重新下单。"), status=409)
    return existing


# Who may say how an order came in: the elder or family order themselves (portal); staff take it by phone or in
# person. Orders of a standing order are placed by the generator on behalf of whoever set it up.
_CHANNELS_OF_ROLE = {
    Role.FAMILY: {OrderChannel.PORTAL, OrderChannel.RECURRING},
    Role.ELDER: {OrderChannel.PORTAL, OrderChannel.RECURRING},
    Role.BUREAU: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING},
    Role.STREET: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING},
    Role.COMMUNITY: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING},
}


def _check_channel(channel: str, *, allowed) -> None:
    if channel not in allowed:
        raise ValidationError({"channel": [_("下单方式取值无效。")]})


def _check_channel_fits(actor, channel: str) -> None:
    """After the authority check: the actor may order for this elder, but not say it came in another way."""
    if is_superuser(actor):
        return
    fits = _CHANNELS_OF_ROLE.get(role_of(actor), set())
    if fits and channel not in fits:
        raise ValidationError({"channel": [_("%(role)s不能以“%(channel)s”方式下单。") % {
            "role": Role(role_of(actor)).label, "channel": OrderChannel(channel).label}]})


@transaction.atomic
def place_order(*, actor, elder: Elder, provider, item: ServiceItem, scheduled_start, quantity=1,
                channel: str, note: str = "", client_key: str | None = None,
                allowance_available=None) -> Order:
    """Place an order with its price split fixed as quoted. Submitting the same client_key again returns the
    order it made (a flaky phone's retry); the same key with a different content is refused (409).

    By default the allowance comes from the elder's monthly ledger (服务补贴余额) and its debit is written in the
    same transaction, under a lock on the elder's row. An explicit `allowance_available` (callers that state
    a balance themselves) is used as given and not recorded in the ledger."""
    _check_channel(channel, allowed=OrderChannel.values)
    client_key = _text(client_key, 64) or None
    request = {"actor": actor, "elder": elder, "provider": provider, "item": item,
               "start": _parse_start(scheduled_start), "qty": _quantity(quantity), "channel": channel}
    # A retry is answered before anything else is checked: the first copy was valid when it arrived.
    if client_key and (found := _replayed_order(client_key, **request)) is not None:
        return found
    start, qty, offer, price, rule, quote = _prepare(
        actor=actor, elder=elder, provider=provider, item=item, scheduled_start=scheduled_start,
        quantity=quantity, allowance_available=allowance_available, lock=allowance_available is None)
    _check_channel_fits(actor, channel)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                elder=elder, provider=provider, item=item, offer=offer, status=OrderStatus.REQUESTED,
                channel=channel, scheduled_start=start, quantity=qty, note=_text(note, 300),
                unit_price=quote.unit_price, total=quote.total, share=quote.share, subsidy=quote.subsidy,
                allowance=quote.allowance, copay=quote.copay, price_basis=quote.basis,
                price_explanation=quote.explain()[:400], price=price, subsidy_rule=rule,
                county_code=elder.county_code, region_code=elder.residence_region_id, client_key=client_key,
                placed_by=_user(actor))
            OrderEvent.objects.create(order=order, from_status="", to_status=OrderStatus.REQUESTED,
                                      by=_user(actor), note=order.get_channel_display())
            if allowance_available is None and order.allowance > 0:
                AllowanceEntry.objects.create(
                    elder=order.elder, month=_service_day(order).replace(day=1), amount=-order.allowance,
                    kind=AllowanceKind.DEBIT, order=order, county_code=order.county_code,
                    region_code=order.region_code)
            audit.record(actor=actor, action=AuditAction.CREATE, instance=order, after=audit.snapshot(order),
                         region_code=order.region_code, detail=order.price_explanation)
    except IntegrityError:
        # Two copies of the same submission arrived at once: the other one made the order.
        if client_key and (found := _replayed_order(client_key, **request)) is not None:
            return found
        raise
    return order


# ---------------------------------------------------------------------------------------------------------
# The life cycle


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("elder", "item", "caregiver").get(pk=order.pk)


STEP_NAMES = policy.STEP_NAMES


def _elder_gone(order: Order) -> str:
    """Why the order can no longer be served at the address it was placed for ('' when it can)."""
    elder = order.elder
    if elder.status in (ElderStatus.DECEASED, ElderStatus.MOVED_OUT):
        return _("%(name)s %(status)s（%(date)s）") % {
            "name": elder.name, "status": elder.get_status_display(), "date": elder.status_date or ""}
    if elder.residence_region_id[:STREET_LEN] != order.region_code[:STREET_LEN]:
        return _("%(name)s 已迁居至其他街道") % {"name": elder.name}
    return ""


def _flag(order: Order, kind: str, detail: str) -> None:
    OrderFlag.objects.get_or_create(order=order, kind=kind, defaults={"detail": detail[:300]})


def _move(*, actor, order: Order, to_status: str, note: str = "", at=None, client_key: str | None = None,
          **changes) -> Order:
    """Apply a checked transition to a locked order: the fields, the event, the audit record."""
    before = audit.snapshot(order)
    from_status = order.status
    order.status = to_status
    for field, value in changes.items():
        setattr(order, field, value)
    order.save()
    OrderEvent.objects.create(order=order, from_status=from_status, to_status=to_status, at=at or timezone.now(),
                              by=_user(actor), note=_text(note, 300), client_key=client_key)
    if to_status in UNSERVED:
        _refund_allowance(order)
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=order, before=before,
                 after=audit.snapshot(order), region_code=order.region_code,
                 detail=f"{STEP_NAMES[to_status]} {_text(note, 200)}".strip())
    return order


# An order that ends without a service gives its allowance back to the month it was drawn from.
UNSERVED = (OrderStatus.CANCELLED, OrderStatus.DECLINED, OrderStatus.NO_SHOW)


def _refund_allowance(order: Order) -> AllowanceEntry | None:
    debit = AllowanceEntry.objects.filter(order=order, kind=AllowanceKind.DEBIT).first()
    if debit is None or AllowanceEntry.objects.filter(order=order, kind=AllowanceKind.REFUND).exists():
        return None
    return AllowanceEntry.objects.create(elder_id=debit.elder_id, month=debit.month, amount=-debit.amount,
                                         kind=AllowanceKind.REFUND, order=order, county_code=debit.county_code,
                                         region_code=debit.region_code)


def _reason(reason) -> str:
    text = _text(reason, 300)
    if not text:
        raise ValidationError({"reason": [_("请填写原因。")]})
    return text


@transaction.atomic
def accept_order(*, actor, order: Order, note: str = "") -> Order:
    order = _lock(order)
    policy.may_accept_order(actor, order).require()
    if gone := _elder_gone(order):
        _flag(order, FlagKind.ELDER_INACTIVE, gone)
    return _move(actor=actor, order=order, to_status=OrderStatus.ACCEPTED, note=note)


@transaction.atomic
def decline_order(*, actor, order: Order, reason: str) -> Order:
    order = _lock(order)
    policy.may_decline_order(actor, order).require()
    reason = _reason(reason)
    return _move(actor=actor, order=order, to_status=OrderStatus.DECLINED, note=reason, end_reason=reason)


@transaction.atomic
def assign_order(*, actor, order: Order, caregiver: Practitioner) -> Order:
    """Give the visit to one of the provider's caregivers (again, to re-assign it)."""
    order = _lock(order)
    policy.may_assign_order(actor, order).require()
    day = _service_day(order)
    if caregiver.organisation_id != order.provider_id:
        raise ValidationError({"caregiver": [_("%(name)s 不是本机构的人员。") % {"name": caregiver.name}]})
    if caregiver.start_date > day or (caregiver.end_date is not None and caregiver.end_date < day):
        raise ValidationError({"caregiver": [_("%(name)s 在 %(date)s 不在职。") % {
            "name": caregiver.name, "date": day.isoformat()}]})
    skill = order.item.required_skill.strip()
    if skill and skill not in caregiver.skill_list:
        raise ValidationError({"caregiver": [_("%(name)s 不具备“%(skill)s”技能，不能承接%(item)s。") % {
            "name": caregiver.name, "skill": skill, "item": order.item.name}]})
    if gone := _elder_gone(order):
        _flag(order, FlagKind.ELDER_INACTIVE, gone)
    # Shifts never block an assignment (an emergency may need someone off duty); the timeline says so.
    note = caregiver.name
    if off := _off_shift(caregiver, order):
        note = f"{caregiver.name}（{off}）"
    return _move(actor=actor, order=order, to_status=OrderStatus.ASSIGNED, note=note, caregiver=caregiver)


def _off_shift(caregiver: Practitioner, order: Order) -> str:
    """Why the visit lies outside the caregiver's shifts that day ('' when covered or no shift is set)."""
    start = timezone.localtime(order.scheduled_start)
    end = start + datetime.timedelta(minutes=float(expected_minutes(order)))
    shifts = list(CaregiverShift.objects.filter(caregiver=caregiver, day=start.date()))
    if not shifts or any(s.start <= start.time() and end.date() == start.date() and end.time() <= s.end
                         for s in shifts):
        return ""
    return _("不在当天班次 %(shifts)s 内") % {"shifts": "、".join(
        f"{s.start:%H:%M}-{s.end:%H:%M}" for s in sorted(shifts, key=lambda s: s.start))}


def _coordinates(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except (InvalidOperation, ValueError):
        raise ValidationError({"latitude": [_("经纬度应为数字。")]}) from None
    if not (lat.is_finite() and lon.is_finite() and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({"latitude": [_("经纬度超出范围。")]})
    return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))


def haversine_metres(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance on a sphere of the Earth's mean radius (6 371 008.8 m)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def _moment(at, field: str) -> datetime.datetime:
    value = at or timezone.now()
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError({field: [_("时间格式无效。")]}) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: [_("时间不能晚于当前时间。")]})
    return value


def _replayed_step(order: Order, client_key: str | None, to_status: str) -> bool:
    """True when this queued step was already applied to this order (the phone sent it twice)."""
    if not client_key:
        return False
    event = OrderEvent.objects.filter(client_key=client_key).first()
    if event is None:
        return False
    if event.order_id != order.pk or event.to_status != to_status:
        raise DomainError("client_key_conflict", _("该提交编号已用于另一项操作。"), status=409)
    return True


@transaction.atomic
def check_in(*, actor, order: Order, at=None, latitude=None, longitude=None, client_key: str | None = None) -> Order:
    """The assigned caregiver arrives. Far from the elder's home, more than 30 minutes early, or while still
    checked in elsewhere, is flagged (not refused); more than two hours early, or for an elder who has died or
    moved, is refused."""
    order = _lock(order)
    policy.may_check_in_order(actor, order, in_status=False).require()
    client_key = _text(client_key, 64) or None
    if _replayed_step(order, client_key, OrderStatus.CHECKED_IN):
        return order
    policy.may_check_in_order(actor, order).require()
    when = _moment(at, "at")
    if when < order.scheduled_start - EARLY_CHECK_IN:
        raise ValidationError({"at": [_("距预约时间 %(start)s 还早于 2 小时，不能签到。") % {
            "start": timezone.localtime(order.scheduled_start).strftime("%Y-%m-%d %H:%M")}]})
    if gone := _elder_gone(order):
        raise DomainError("elder_inactive", _("%(why)s，不能签到。") % {"why": gone}, status=409)
    lat, lon = _coordinates(latitude, longitude)
    if when < order.scheduled_start - EARLY_CHECK_IN_FLAG:
        # A visit begun long before the booked time is either a mistake or an hours-padding pattern: a
        # supervisor should see it, but the caregiver at the door must not be stopped.
        minutes = int((order.scheduled_start - when).total_seconds() // 60)
        _flag(order, FlagKind.EARLY_CHECK_IN, _("签到比预约时间早 %(m)d 分钟") % {"m": minutes})
    # One caregiver's check-ins are serialised, so two at once both see each other.
    Practitioner.objects.select_for_update().filter(pk=order.caregiver_id).first()
    elder = order.elder
    if lat is not None and elder.latitude is not None and elder.longitude is not None:
        metres = haversine_metres(lat, lon, elder.latitude, elder.longitude)
        if metres > FAR_METRES:
            _flag(order, FlagKind.FAR_CHECK_IN, _("签到地点距老人住址约 %(m)d 米") % {"m": round(metres)})
    other = (Order.objects.filter(caregiver_id=order.caregiver_id, status=OrderStatus.CHECKED_IN)
             .exclude(pk=order.pk).order_by("check_in_at").first())
    if other is not None:
        _flag(order, FlagKind.OVERLAP, _("护理员尚未从订单 %(pk)s（%(elder)s）签退") % {
            "pk": other.pk, "elder": other.elder.name})
    return _move(actor=actor, order=order, to_status=OrderStatus.CHECKED_IN, at=when, client_key=client_key,
                 check_in_at=when, check_in_latitude=lat, check_in_longitude=lon)


def expected_minutes(order: Order) -> Decimal:
    """The standard duration of the order: the item's minutes per unit × quantity (hours for hourly items)."""
    return Decimal(order.item.standard_minutes) * order.quantity


@transaction.atomic
def check_out(*, actor, order: Order, at=None, latitude=None, longitude=None, notes: str = "",
              client_key: str | None = None) -> Order:
    """The caregiver leaves; a duration outside 50 %–200 % of the standard is flagged."""
    order = _lock(order)
    policy.may_check_out_order(actor, order, in_status=False).require()
    client_key = _text(client_key, 64) or None
    if _replayed_step(order, client_key, OrderStatus.CHECKED_OUT):
        return order
    policy.may_check_out_order(actor, order).require()
    when = _moment(at, "at")
    if when < order.check_in_at:
        raise ValidationError({"at": [_("签退时间不能早于签到时间（%(at)s）。") % {
            "at": timezone.localtime(order.check_in_at).strftime("%Y-%m-%d %H:%M")}]})
    lat, lon = _coordinates(latitude, longitude)
    minutes = Decimal((when - order.check_in_at).total_seconds()) / 60
    standard = expected_minutes(order)
    low, high = (standard * b for b in DURATION_BOUNDS)
    if not low <= minutes <= high:
        _flag(order, FlagKind.DURATION, _("服务 %(m)s 分钟，标准 %(s)s 分钟") % {
            "m": minutes.quantize(Decimal("1")), "s": standard.quantize(Decimal("1"))})
    return _move(actor=actor, order=order, to_status=OrderStatus.CHECKED_OUT, at=when, client_key=client_key,
                 note=notes, check_out_at=when, check_out_latitude=lat, check_out_longitude=lon,
                 service_notes=_text(notes, 500))


@transaction.atomic
def confirm_order(*, actor, order: Order, note: str = "") -> Order:
    """The elder, their family, or the community on their behalf confirm the service was done."""
    order = _lock(order)
    policy.may_confirm_order(actor, order).require()
    return _move(actor=actor, order=order, to_status=OrderStatus.CONFIRMED, note=note)


@transaction.atomic
def rate_order(*, actor, order: Order, rating, comment: str = "") -> Order:
    order = _lock(order)
    policy.may_rate_order(actor, order).require()
    try:
        score = int(rating)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5 or str(rating).strip() not in {str(score), f"{score}.0"}:
        raise ValidationError({"rating": [_("评分须为 1 至 5 的整数。")]})
    comment = _text(comment, 300)
    return _move(actor=actor, order=order, to_status=OrderStatus.RATED, note=f"{score} {comment}".strip(),
                 rating=score, rating_comment=comment)


@transaction.atomic
def cancel_order(*, actor, order: Order, reason: str) -> Order:
    """Cancel before the visit starts, by the one who placed it (or the family), the provider, or the
    community; who did it and why is kept."""
    order = _lock(order)
    policy.may_cancel_order(actor, order).require()
    who = policy.cancelled_as(actor, order)
    reason = _reason(reason)
    return _move(actor=actor, order=order, to_status=OrderStatus.CANCELLED, note=f"{who}：{reason}",
                 end_reason=reason)


@transaction.atomic
def mark_no_show(*, actor, order: Order, reason: str) -> Order:
    """The caregiver came and nobody was home, or could not come: recorded by the provider or the caregiver."""
    order = _lock(order)
    policy.may_record_no_show_order(actor, order).require()
    reason = _reason(reason)
    return _move(actor=actor, order=order, to_status=OrderStatus.NO_SHOW, note=reason, end_reason=reason)


# Registry events after which nobody should be sent to the person's home.
STOP_EVENTS = {"death", "move_out"}
OPEN_ORDER_STATUSES = (OrderStatus.REQUESTED, OrderStatus.ACCEPTED, OrderStatus.ASSIGNED)


def on_elder_status_changed(*, elder: Elder, event, actor) -> None:
    """Receiver of registry's `elder_status_changed`, inside its transaction: a death or a move away cancels
    the visits not yet started (scheduled from the event's day on), with the reason; a move within the
    platform or a suspension flags them for the provider to look at."""
    day_start = timezone.make_aware(datetime.datetime.combine(event.effective_date, datetime.time.min))
    open_orders = list(Order.objects.select_for_update().filter(elder=elder, status__in=OPEN_ORDER_STATUSES,
                                                                scheduled_start__gte=day_start))
    label = event.get_kind_display()
    for order in open_orders:
        if str(event.kind) in STOP_EVENTS:
            reason = _("老年人状态变更：%(event)s（%(date)s）") % {"event": label, "date": event.effective_date}
            _move(actor=actor, order=order, to_status=OrderStatus.CANCELLED, note=reason, end_reason=reason)
        elif str(event.kind) in {"relocate", "suspend"}:
            _flag(order, FlagKind.ELDER_INACTIVE, f"{label} {event.effective_date}")


# ---------------------------------------------------------------------------------------------------------
# Monthly settlement (月度结算): the bureau prepares each provider's statement for its county and month,
# reviews and approves it (the included orders become settled), then exports it for payment.

SETTLEABLE = (OrderStatus.CONFIRMED, OrderStatus.RATED)
MONEY_PARTS = ("total", "subsidy", "allowance", "copay")


def _month(value) -> datetime.date:
    """A month as a date, 'YYYY-MM' or 'YYYY-MM-DD' → its 1st; ValidationError otherwise."""
    if isinstance(value, datetime.date):
        return (value.date() if isinstance(value, datetime.datetime) else value).replace(day=1)
    text = str(value or "").strip()
    try:
        return datetime.date.fromisoformat(text if len(text) > 7 else f"{text}-01").replace(day=1)
    except ValueError:
        raise ValidationError({"month": [_("月份格式应为 YYYY-MM，如 2026-11。")]}) from None


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of a month in local time, as aware datetimes."""
    following = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return (timezone.make_aware(datetime.datetime.combine(month, datetime.time.min)),
            timezone.make_aware(datetime.datetime.combine(following, datetime.time.min)))


def settlement_orders(*, provider, jurisdiction: Region, month: datetime.date):
    """The orders a statement looks at: the provider's, for people of the county, checked out (local time)
    in the month, confirmed or rated and not yet settled."""
    start, end = month_bounds(month)
    return Order.objects.filter(provider_id=getattr(provider, "pk", provider), county_code=jurisdiction.code,
                                check_out_at__gte=start, check_out_at__lt=end, status__in=SETTLEABLE)


def _fen_sum(field: str, condition: Q | None = None) -> Coalesce:
    """SUM of an amount in whole fen: exact on every database (SQLite would add decimals as floats)."""
    return Coalesce(Sum(Cast(Round(F(field) * 100), BigIntegerField()), filter=condition), 0)


def _yuan(fen) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(CENT)


def _sums(items) -> dict:
    """Count and money totals of a queryset of settlement items, split into included and held back."""
    included, held = Q(held=False), Q(held=True)
    # Aliases differ from the field names (an aggregate may not be named like the field it sums).
    sums = items.aggregate(
        n_orders=Count("pk", filter=included), n_held=Count("pk", filter=held),
        fen_held=_fen_sum("total", held), **{f"fen_{part}": _fen_sum(part, included) for part in MONEY_PARTS})
    return {"order_count": sums["n_orders"], **{part: _yuan(sums[f"fen_{part}"]) for part in MONEY_PARTS},
            "held_count": sums["n_held"], "held_total": _yuan(sums["fen_held"])}


def _hold_reasons(candidates) -> dict[int, str]:
    """Order id → why it is held back (its flags), for the candidates that have a holding flag."""
    reasons: dict[int, list[str]] = {}
    labels = dict(FlagKind.choices)
    for order_id, kind, detail in (OrderFlag.objects.filter(order__in=candidates.values("pk"),
                                                            kind__in=HOLD_FLAG_KINDS)
                                   .order_by("order_id", "kind").values_list("order_id", "kind", "detail")):
        reasons.setdefault(order_id, []).append(f"{labels[kind]}：{detail}" if detail else str(labels[kind]))
    return {order_id: "；".join(texts)[:500] for order_id, texts in reasons.items()}


def _settlement_jurisdiction(provider, jurisdiction) -> Region:
    region = _region(jurisdiction or provider.region_id[:COUNTY_LEN], "jurisdiction")
    if region.level != RegionLevel.COUNTY:
        raise ValidationError({"jurisdiction": [_("结算按区县进行，%(name)s 不是区县。") % {"name": region.name}]})
    return region


def _locked_settlement(*, actor, provider, jurisdiction: Region, month: datetime.date) -> tuple[Settlement, bool]:
    keys = {"provider": provider, "jurisdiction": jurisdiction, "month": month}
    found = Settlement.objects.select_for_update().filter(**keys).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return Settlement.objects.create(**keys, created_by=_user(actor)), True
    except IntegrityError:  # prepared at the same moment by someone else: theirs, locked
        return Settlement.objects.select_for_update().get(**keys), False


@transaction.atomic
def prepare_settlement(*, actor, provider, month, jurisdiction=None) -> Settlement:
    """The provider's statement for a county (default: the provider's own) and a month, by that county's
    bureau: every confirmed or rated order checked out in the month, its money copied from the order; flagged
    orders (far check-in, overlap, duration) are listed apart with their reasons and held back. Preparing a
    draft again replaces its items (as the orders are now); an approved statement is final (409). Set-based:
    the number of queries does not depend on the number of orders."""
    jurisdiction = _settlement_jurisdiction(provider, jurisdiction)
    policy.may_prepare_settlement(actor, jurisdiction.code).require()
    if not provider.region_id.startswith(jurisdiction.code):
        raise DomainError("not_found", _("%(provider)s 不是%(county)s的服务机构。") % {
            "provider": provider.name, "county": jurisdiction.name}, status=404)
    month = _month(month)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"month": [_("不能结算尚未开始的月份。")]})
    settlement, created = _locked_settlement(actor=actor, provider=provider, jurisdiction=jurisdiction, month=month)
    policy.may_prepare_settlement(actor, jurisdiction.code, statement=settlement).require()
    before = None if created else audit.snapshot(settlement)
    settlement.items.all().delete()
    candidates = settlement_orders(provider=provider, jurisdiction=jurisdiction, month=month)
    held = Exists(OrderFlag.objects.filter(order=OuterRef("pk"), kind__in=HOLD_FLAG_KINDS))
    insert_select(SettlementItem, candidates.filter(~held), {
        "settlement": Value(settlement.pk), "order": F("pk"), **{part: F(part) for part in MONEY_PARTS},
        "held": Value(False), "hold_reason": Value("")})
    reasons = _hold_reasons(candidates)
    SettlementItem.objects.bulk_create(
        SettlementItem(settlement=settlement, order_id=pk, held=True, hold_reason=reasons[pk],
                       **{part: row[i] for i, part in enumerate(MONEY_PARTS)})
        for pk, *row in candidates.filter(pk__in=list(reasons)).values_list("pk", *MONEY_PARTS))
    for field, value in _sums(settlement.items.all()).items():
        setattr(settlement, field, value)
    settlement.prepared_at = timezone.now()
    settlement.save()
    audit.record(actor=actor, action=AuditAction.CREATE if created else AuditAction.UPDATE, instance=settlement,
                 before=before, after=audit.snapshot(settlement), region_code=jurisdiction.code,
                 detail=_("生成结算单：%(n)d 单 %(total)s 元，暂缓 %(held)d 单 %(held_total)s 元") % {
                     "n": settlement.order_count, "total": settlement.total, "held": settlement.held_count,
                     "held_total": settlement.held_total})
    return settlement


def _mismatch(what: str) -> DomainError:
    return DomainError("settlement_mismatch", _("结算单与%(what)s不符，请重新生成后再审核。") % {"what": what},
                       status=409)


SETTLEABLE = [status for status in OrderStatus if OrderStatus.SETTLED in TRANSITIONS[status]]


@transaction.atomic
def approve_settlement(*, actor, settlement: Settlement) -> Settlement:
    """The bureau approves a draft statement: its totals must equal its items and their orders (to the fen),
    every included order must still be confirmed or rated and unflagged; then the statement is approved and
    every included order becomes settled (one order event each, written set-based): at once for up to
    SETTLE_INLINE_MAX orders, else by the task queue right after (mark_orders_settled)."""
    settlement = Settlement.objects.select_for_update().select_related("jurisdiction").get(pk=settlement.pk)
    policy.may_approve_settlement(actor, settlement).require()
    included = settlement.items.filter(held=False)
    orders = Order.objects.filter(pk__in=included.values("order_id"))
    sums = _sums(settlement.items.all())
    if any(getattr(settlement, field) != value for field, value in sums.items()):
        raise _mismatch(_("明细合计"))
    # One pass over the orders for their sums, their statuses and their flags. The rows are not locked: from
    # confirmed or rated an order can only be rated or settled, so nothing that slips in can unsettle it.
    flagged = Exists(OrderFlag.objects.filter(order=OuterRef("pk"), kind__in=HOLD_FLAG_KINDS))
    from_orders = orders.aggregate(
        n=Count("pk"), unsettleable=Count("pk", filter=~Q(status__in=SETTLEABLE)),
        flagged=Count("pk", filter=Q(flagged)), **{f"fen_{part}": _fen_sum(part) for part in MONEY_PARTS})
    if from_orders["unsettleable"]:
        raise _mismatch(_("订单状态"))
    if from_orders["flagged"]:
        raise _mismatch(_("订单异常标记"))
    if from_orders["n"] != sums["order_count"] or any(
            _yuan(from_orders[f"fen_{part}"]) != sums[part] for part in MONEY_PARTS):
        raise _mismatch(_("订单金额"))
    now = timezone.now()
    before = audit.snapshot(settlement)
    settlement.status = SettlementStatus.APPROVED
    settlement.approved_at, settlement.approved_by = now, _user(actor)
    settlement.save(update_fields=["status", "approved_at", "approved_by"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=settlement, before=before,
                 after=audit.snapshot(settlement), region_code=settlement.jurisdiction_id,
                 detail=_("审核通过：%(n)d 单结算，合计 %(total)s 元") % {
                     "n": settlement.order_count, "total": settlement.total})
    # The statement is approved (payable, exportable) now. Its orders become 已结算 with it when there are few;
    # a county's month can be hundreds of thousands of order rows to rewrite, which the task queue does in
    # batches after this commits. Nothing can stop them: a confirmed or rated order can only be rated or settled.
    actor_pk = getattr(_user(actor), "pk", None)
    if settlement.order_count <= SETTLE_INLINE_MAX:
        moved = _mark_settled(settlement, actor_pk=actor_pk, at=now, limit=None)
        if moved != settlement.order_count:
            raise _mismatch(_("订单数"))
    else:
        from .tasks import mark_orders_settled_task

        transaction.on_commit(lambda: mark_orders_settled_task.enqueue(settlement.pk, actor_pk))
    return settlement


SETTLE_INLINE_MAX = 5_000
SETTLE_BATCH = 20_000


def _mark_settled(settlement: Settlement, *, actor_pk, at, limit: int | None) -> int:
    """One event each and status 已结算 for (up to `limit` of) the statement's included orders not yet settled."""
    orders = Order.objects.filter(pk__in=settlement.items.filter(held=False).values("order_id"),
                                  status__in=SETTLEABLE)
    if limit is not None:
        ids = list(orders.order_by("pk").values_list("pk", flat=True)[:limit])
        if not ids:
            return 0
        orders = Order.objects.filter(pk__in=ids)
    note = _("%(month)s 月度结算（结算单 %(pk)s）") % {"month": settlement.month.strftime("%Y-%m"), "pk": settlement.pk}
    insert_select(OrderEvent, orders, {
        "order": F("pk"), "from_status": F("status"), "to_status": Value(OrderStatus.SETTLED.value),
        "at": Value(at, output_field=DateTimeField()), "by": Cast(Value(actor_pk), IntegerField()),
        "note": Value(_text(note, 300))})
    return orders.update(status=OrderStatus.SETTLED, updated_at=at)


def mark_orders_settled(*, settlement_id: int, actor_id: int | None = None, batch: int = SETTLE_BATCH) -> int:
    """The background half of approving a large statement: its included orders become 已结算, `batch` at a
    time, each batch its own transaction. Running it again (a worker restarted half-way) finishes the rest and
    moves nothing twice. Returns how many orders moved."""
    settlement = Settlement.objects.get(pk=settlement_id)
    if settlement.status == SettlementStatus.DRAFT:
        return 0
    moved = 0
    while True:
        with transaction.atomic():
            n = _mark_settled(settlement, actor_pk=actor_id, at=timezone.now(), limit=batch)
        moved += n
        if n < batch:
            return moved


@transaction.atomic
def export_settlement(*, actor, settlement: Settlement) -> bytes:
    """The approved statement as an xlsx for payment (settlement_file.write), by the county's bureau; every
    export is in the audit log. A draft cannot be exported (409)."""
    from . import settlement_file

    settlement = (Settlement.objects.select_for_update(of=("self",)).select_related("jurisdiction", "provider")
                  .get(pk=settlement.pk))
    policy.may_export_settlement(actor, settlement).require()
    content = settlement_file.write(settlement)
    before = audit.snapshot(settlement)
    settlement.status = SettlementStatus.EXPORTED
    settlement.exported_at, settlement.exported_by = timezone.now(), _user(actor)
    settlement.save(update_fields=["status", "exported_at", "exported_by"])
    audit.record(actor=actor, action=AuditAction.EXPORT, instance=settlement, before=before,
                 after=audit.snapshot(settlement), region_code=settlement.jurisdiction_id,
                 detail=settlement_file.file_name(settlement))
    return content


# ---------------------------------------------------------------------------------------------------------
# Caregivers' shifts (排班)


def _clock(value, field: str) -> datetime.time:
    if isinstance(value, datetime.time):
        return value.replace(second=0, microsecond=0)
    try:
        return datetime.time.fromisoformat(str(value or "").strip()).replace(second=0, microsecond=0)
    except ValueError:
        raise ValidationError({field: [_("时间格式应为 HH:MM。")]}) from None


@transaction.atomic
def set_shift(*, actor, caregiver: Practitioner, day, start, end, note: str = "") -> CaregiverShift:
    """Put a caregiver on duty on a day from `start` to `end` (a shift with the same start is changed). A
    caregiver's shifts on a day do not overlap; the caregiver must be employed on the day."""
    policy.may_set_shift(actor, caregiver).require()
    day = _date(day, "day")
    start, end = _clock(start, "start"), _clock(end, "end")
    if end <= start:
        raise ValidationError({"end": [_("下班时间须晚于上班时间。")]})
    if caregiver.role != "caregiver":
        raise ValidationError({"caregiver": [_("%(name)s 不是护理员。") % {"name": caregiver.name}]})
    if caregiver.start_date > day or (caregiver.end_date is not None and caregiver.end_date < day):
        raise ValidationError({"day": [_("%(name)s 在 %(date)s 不在职。") % {
            "name": caregiver.name, "date": day.isoformat()}]})
    # One caregiver's shifts are written one at a time, so two overlapping ones cannot both pass the check.
    Practitioner.objects.select_for_update().filter(pk=caregiver.pk).first()
    shifts = list(CaregiverShift.objects.filter(caregiver=caregiver, day=day))
    shift = next((s for s in shifts if s.start == start), None)
    for other in shifts:
        if other is not shift and other.start < end and start < other.end:
            raise ValidationError({"start": [_("与 %(name)s 当天 %(start)s–%(end)s 的班次重叠。") % {
                "name": caregiver.name, "start": other.start.strftime("%H:%M"), "end": other.end.strftime("%H:%M")}]})
    note = _text(note, 200)
    region = caregiver.organisation.region_id
    if shift is None:
        shift = CaregiverShift.objects.create(caregiver=caregiver, day=day, start=start, end=end, note=note,
                                              created_by=_user(actor))
        audit.record(actor=actor, action=AuditAction.CREATE, instance=shift, after=audit.snapshot(shift),
                     region_code=region, detail=f"{caregiver.name} {day} {start:%H:%M}-{end:%H:%M}")
    else:
        before = audit.snapshot(shift)
        shift.end, shift.note = end, note
        shift.save(update_fields=["end", "note"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=shift, before=before,
                     after=audit.snapshot(shift), region_code=region,
                     detail=f"{caregiver.name} {day} {start:%H:%M}-{end:%H:%M}")
    return shift


@transaction.atomic
def remove_shift(*, actor, shift: CaregiverShift) -> None:
    shift = CaregiverShift.objects.select_for_update().select_related("caregiver__organisation").get(pk=shift.pk)
    policy.may_remove_shift(actor, shift).require()
    before = audit.snapshot(shift)
    audit.record(actor=actor, action=AuditAction.DELETE, instance=shift, before=before,
                 region_code=shift.caregiver.organisation.region_id,
                 detail=f"{shift.caregiver.name} {shift.day} {shift.start:%H:%M}-{shift.end:%H:%M}")
    shift.delete()


# ---------------------------------------------------------------------------------------------------------
# The check-out photo

PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))
PHOTO_STATUSES = policy.PHOTO_STATUSES


def _photo_bytes(photo) -> tuple[bytes, str]:
    """The upload's content and extension, by its magic bytes (never by its name or declared type)."""
    size = getattr(photo, "size", None)
    if size is not None and size > PHOTO_MAX_BYTES:
        raise ValidationError({"photo": [_("照片不能超过 5 MB。")]})
    if hasattr(photo, "seek"):
        photo.seek(0)
    content = photo.read(PHOTO_MAX_BYTES + 1) if hasattr(photo, "read") else bytes(photo)
    if len(content) > PHOTO_MAX_BYTES:
        raise ValidationError({"photo": [_("照片不能超过 5 MB。")]})
    for magic, ext in PHOTO_TYPES:
        if content.startswith(magic):
            return content, ext
    raise ValidationError({"photo": [_("照片须为 JPEG 或 PNG 格式。")]})


@transaction.atomic
def attach_photo(*, actor, order: Order, photo, client_key: str | None = None) -> Order:
    """The assigned caregiver adds the visit's photo, once checked in (or out) and before confirmation; a new
    photo replaces the previous one. A replay of the same client_key (the phone's offline queue) is a no-op."""
    from django.core.files.base import ContentFile

    order = _lock(order)
    policy.may_upload_photo_order(actor, order, in_status=False).require()
    client_key = _text(client_key, 64) or None
    if client_key:
        if order.photo_client_key == client_key:
            return order
        if Order.objects.filter(photo_client_key=client_key).exclude(pk=order.pk).exists():
            raise DomainError("client_key_conflict", _("该提交编号已用于另一项操作。"), status=409)
    policy.may_upload_photo_order(actor, order).require()
    content, ext = _photo_bytes(photo)
    before = audit.snapshot(order)
    old = order.check_out_photo.name if order.check_out_photo else ""
    order.check_out_photo.save(f"order-{order.pk}.{ext}", ContentFile(content), save=False)
    order.photo_client_key = client_key
    order.save(update_fields=["check_out_photo", "photo_client_key", "updated_at"])
    if old:
        storage = order.check_out_photo.storage
        transaction.on_commit(lambda: storage.delete(old))
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=order, before=before,
                 after=audit.snapshot(order), region_code=order.region_code,
                 detail=_("上传服务照片（%(kb)d KB）") % {"kb": (len(content) + 1023) // 1024})
    return order


# ---------------------------------------------------------------------------------------------------------
# The monthly service allowance: credits from approved benefits rolls


def credit_allowance_from_roll(*, roll, actor=None) -> int:
    """Receiver of benefits' `roll_approved`, inside the approval's transaction: the positive, not withheld
    lines of an approved roll of a programme that is not paid to a bank (服务补贴) are credited to each elder's
    allowance for the line's month. One INSERT … SELECT; a line already credited is skipped, so a repeat
    credits nothing. Negative lines (追回) are not taken from a balance: the voucher may already be spent."""
    from yiyang.benefits.models import LineStatus, RollLine

    if roll.programme.pays_to_bank:
        return 0
    lines = (RollLine.objects.filter(roll_id=roll.pk, amount__gt=0).exclude(status=LineStatus.WITHHELD)
             .exclude(Exists(AllowanceEntry.objects.filter(roll_line=OuterRef("pk")))))
    created = insert_select(AllowanceEntry, lines, {
        "elder": F("elder_id"), "month": F("month"), "amount": F("amount"),
        "kind": Value(AllowanceKind.CREDIT.value), "roll_line": F("pk"), "county_code": F("county_code"),
        "region_code": F("region_code"), "created_at": Value(timezone.now(), output_field=DateTimeField())})
    if created:
        audit.record(actor=actor, action=AuditAction.CREATE, object_type="services.allowanceentry",
                     object_id=str(roll.pk), object_repr=str(roll.programme), region_code=roll.jurisdiction_id,
                     detail=_("服务补贴入账：名册 %(roll)s（%(month)s）%(n)d 人次") % {
                         "roll": roll.pk, "month": roll.month.strftime("%Y-%m"), "n": created})
    return created


# ---------------------------------------------------------------------------------------------------------
# Follow-up calls (回访): a deterministic sample of each month's completed orders, called back by the region

COMPLETED = (OrderStatus.CONFIRMED, OrderStatus.RATED, OrderStatus.SETTLED)
LOW_SATISFACTION = 2


def _rank(seed, month: datetime.date, pk: int) -> str:
    import hashlib

    return hashlib.sha256(f"{seed or ''}:{month:%Y-%m}:{pk}".encode()).hexdigest()


@transaction.atomic
def sample_follow_ups(*, actor, jurisdiction, month, rate=Decimal("0.1"), seed=None) -> list:
    """Choose the month's completed (confirmed, rated or settled) orders of people in the jurisdiction to call
    back: at least `rate` of them (rounded up), and at least one per provider that served any. The choice is
    deterministic (ordered by a hash of the order id, the month and `seed`); running it again adds only what
    the rate still lacks (nothing when it is met). Returns the calls added."""
    from .models import FollowUpCall

    jurisdiction = _region(jurisdiction, "jurisdiction")
    policy.may_sample_follow_ups(actor, jurisdiction.code).require()
    month = _month(month)
    try:
        rate = Decimal(str(rate))
    except (InvalidOperation, ValueError):
        rate = Decimal("-1")
    if not rate.is_finite() or not Decimal("0") < rate <= 1:
        raise ValidationError({"rate": [_("抽样比例须大于 0 且不超过 1。")]})
    start, end = month_bounds(month)
    completed = Order.objects.filter(region_code__startswith=jurisdiction.code, status__in=COMPLETED,
                                     check_out_at__gte=start, check_out_at__lt=end)
    rows = list(completed.select_for_update(of=("self",)).order_by("pk")
                .values_list("pk", "provider_id", "region_code", "follow_up__id"))
    sampled = {pk for pk, _p, _r, call in rows if call is not None}
    candidates = sorted((r for r in rows if r[3] is None), key=lambda r: _rank(seed, month, r[0]))
    chosen: list[tuple] = []
    covered = {provider for pk, provider, _r, call in rows if call is not None}
    for row in candidates:  # one per provider first, in hash order
        if row[1] not in covered:
            covered.add(row[1])
            chosen.append(row)
    target = math.ceil(rate * len(rows)) if rows else 0
    taken = {row[0] for row in chosen}
    for row in candidates:
        if len(sampled) + len(chosen) >= target:
            break
        if row[0] not in taken:
            taken.add(row[0])
            chosen.append(row)
    now = timezone.now()
    calls = FollowUpCall.objects.bulk_create(
        FollowUpCall(order_id=pk, month=month, region_code=region, sampled_at=now, sampled_by=_user(actor))
        for pk, _provider, region, _call in chosen)
    if calls:
        audit.record(actor=actor, action=AuditAction.CREATE, object_type="services.followupcall",
                     object_repr=jurisdiction.name, region_code=jurisdiction.code,
                     detail=_("%(month)s 回访抽样：完成订单 %(n)d 单，新抽取 %(k)d 单（比例 %(rate)s）") % {
                         "month": month.strftime("%Y-%m"), "n": len(rows), "k": len(calls),
                         "rate": format(rate.normalize(), "f")})
    return calls


@transaction.atomic
def record_follow_up(*, actor, call, outcome: str, satisfaction=None, issues: str = "", note: str = ""):
    """Record a call back, by bureau, street or community staff of the elder's region (a correction may be
    recorded again). When the person was reached a satisfaction of 1–5 is required; 2 or less flags the order
    (回访满意度低), which holds it back from settlement until someone looks at it."""
    from .models import FollowUpCall, FollowUpOutcome

    call = FollowUpCall.objects.select_for_update(of=("self",)).select_related("order").get(pk=call.pk)
    policy.may_record_follow_up(actor, call).require()
    if outcome not in FollowUpOutcome.values:
        raise ValidationError({"outcome": [_("请选择回访结果。")]})
    score = None
    if outcome == FollowUpOutcome.REACHED:
        try:
            score = int(str(satisfaction).strip())
        except (TypeError, ValueError):
            score = 0
        if not 1 <= score <= 5 or str(satisfaction).strip() not in {str(score), f"{score}.0"}:
            raise ValidationError({"satisfaction": [_("已接通的回访须填写 1 至 5 的满意度。")]})
    elif satisfaction not in (None, ""):
        raise ValidationError({"satisfaction": [_("未接通或拒绝回访时不能填写满意度。")]})
    before = audit.snapshot(call)
    call.outcome, call.satisfaction = outcome, score
    call.issues, call.note = (issues or "").strip()[:2000], _text(note, 300)
    call.called_at, call.called_by = timezone.now(), _user(actor)
    call.save()
    if score is not None and score <= LOW_SATISFACTION:
        _flag(call.order, FlagKind.FOLLOW_UP, _("回访满意度 %(s)d 分：%(issues)s") % {
            "s": score, "issues": call.issues or call.note or "-"})
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=call, before=before, after=audit.snapshot(call),
                 region_code=call.region_code,
                 detail=f"{call.get_outcome_display()} {score or ''} {_text(call.issues, 150)}".strip())
    return call


# ---------------------------------------------------------------------------------------------------------
# Recurring orders (周期服务): a standing order places one order per occurrence, a week ahead

RECURRING_AHEAD_DAYS = 7


def _weekdays(value) -> str:
    if isinstance(value, (list, tuple, set)):
        parts = [str(v).strip() for v in value]
    else:
        parts = [p.strip() for p in str(value or "").replace("，", ",").split(",")]
    try:
        days = sorted({int(p) for p in parts if p})
    except ValueError:
        days = []
    if not days or any(not 1 <= d <= 7 for d in days):
        raise ValidationError({"weekdays": [_("请选择每周几（1 为周一，7 为周日）。")]})
    return ",".join(str(d) for d in days)


def occurrences(recurring, first: datetime.date, last: datetime.date) -> list[datetime.datetime]:
    """The standing order's visits (aware, local time) on the days from `first` to `last` inclusive."""
    days = set(recurring.weekday_list)
    first = max(first, recurring.starts_on)
    if recurring.ends_on is not None:
        last = min(last, recurring.ends_on)
    out, day = [], first
    while day <= last:
        if day.isoweekday() in days:
            out.append(timezone.make_aware(datetime.datetime.combine(day, recurring.time)))
        day += datetime.timedelta(days=1)
    return out


@transaction.atomic
def create_recurring(*, actor, elder: Elder, provider, item: ServiceItem, weekdays, time, quantity=1, starts_on,
                     ends_on=None, channel: str = OrderChannel.STAFF, note: str = "", client_key: str | None = None):
    """A standing order (e.g. every Tuesday 9:00), by whoever may order for the elder. Its first occurrence
    is priced now with place_order's checks, so that a wrong provider, item or time is refused at once; then
    the orders of its first week are placed. The same `client_key` again gives back the rule it made."""
    from .models import RecurringOrder

    client_key = _text(client_key, 64) or None
    if client_key and (found := RecurringOrder.objects.filter(client_key=client_key).first()) is not None:
        if found.elder_id != elder.pk or found.placed_by_id != getattr(_user(actor), "pk", None):
            raise DomainError("client_key_conflict", _("该提交编号已用于另一项周期服务，请刷新页面后重新提交。"),
                              status=409)
        return found
    policy.may_set_up_recurring_order(actor, elder).require()
    _check_channel(channel, allowed=(OrderChannel.PORTAL, OrderChannel.PHONE, OrderChannel.STAFF))
    _check_channel_fits(actor, channel)
    days = _weekdays(weekdays)
    at = _clock(time, "time")
    qty = _quantity(quantity)
    start = _date(starts_on, "starts_on")
    end = _date(ends_on, "ends_on") if ends_on not in (None, "") else None
    today = timezone.localdate()
    if start < today:
        raise ValidationError({"starts_on": [_("开始日期不能早于今天。")]})
    if end is not None and end < start:
        raise ValidationError({"ends_on": [_("结束日期不能早于开始日期。")]})
    rule = RecurringOrder(elder=elder, provider=provider, item=item, weekdays=days, time=at, quantity=qty,
                          starts_on=start, ends_on=end, channel=channel, note=_text(note, 300),
                          region_code=elder.residence_region_id, placed_by=_user(actor), client_key=client_key)
    upcoming = [t for t in occurrences(rule, start, start + datetime.timedelta(days=BOOKING_HORIZON_DAYS - 1))
                if t > timezone.now()]
    if not upcoming:
        raise ValidationError({"weekdays": [_("在开始与结束日期之间没有可预约的服务时间。")]})
    # Errors of the first occurrence (offer, price, opening, elder's status) surface now.
    _prepare(actor=actor, elder=elder, provider=provider, item=item, scheduled_start=upcoming[0], quantity=qty,
             allowance_available=Decimal("0"))
    rule.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=rule, after=audit.snapshot(rule),
                 region_code=rule.region_code, detail=f"{item.name} {days} {at:%H:%M}")
    generate_recurring_orders(until=today + datetime.timedelta(days=RECURRING_AHEAD_DAYS), today=today,
                              recurring=[rule])
    return rule


@transaction.atomic
def stop_recurring(*, actor, recurring):
    """Stop a standing order: no more orders are generated (those already placed stay, to cancel one by one).
    A standing order already stopped is refused (409)."""
    from .models import RecurringOrder

    recurring = RecurringOrder.objects.select_for_update().get(pk=recurring.pk)
    policy.may_stop_recurring_order(actor, recurring).require()
    before = audit.snapshot(recurring)
    recurring.active, recurring.stopped_at = False, timezone.now()
    recurring.save(update_fields=["active", "stopped_at"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=recurring, before=before,
                 after=audit.snapshot(recurring), region_code=recurring.region_code, detail=_("停止周期服务"))
    return recurring


def _failure(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(str(m) for messages in exc.message_dict.values() for m in messages)[:500]
    return str(getattr(exc, "message", exc))[:500]


def generate_recurring_orders(*, until: datetime.date, today: datetime.date | None = None,
                              recurring=None) -> dict:
    """Place the orders of every active standing order (or of `recurring`) from today up to `until`, each
    through place_order as the one who set it up, with client_key "recurring:<id>:<date>" so that running it
    again never duplicates. An occurrence refused (elder died, offer ended …) is skipped and recorded
    (RecurringSkip), the others go on. Returns counts: placed, existing, skipped."""
    from .models import RecurringOrder, RecurringSkip

    today = today or timezone.localdate()
    rules = recurring if recurring is not None else (
        RecurringOrder.objects.filter(active=True, starts_on__lte=until)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today)).select_related("elder", "provider", "item",
                                                                               "placed_by").order_by("pk"))
    counts = {"placed": 0, "existing": 0, "skipped": 0}
    now = timezone.now()
    for rule in rules:
        times = [t for t in occurrences(rule, today, until) if t > now]
        keys = {f"recurring:{rule.pk}:{timezone.localdate(t).isoformat()}": t for t in times}
        done = set(Order.objects.filter(client_key__in=list(keys)).values_list("client_key", flat=True))
        counts["existing"] += len(done)
        for key, moment in keys.items():
            if key in done:
                continue
            try:
                with transaction.atomic():
                    place_order(actor=rule.placed_by, elder=rule.elder, provider=rule.provider, item=rule.item,
                                scheduled_start=moment, quantity=rule.quantity, channel=OrderChannel.RECURRING,
                                note=rule.note, client_key=key)
            except (ValidationError, DomainError) as exc:
                counts["skipped"] += 1
                RecurringSkip.objects.update_or_create(recurring=rule, day=timezone.localdate(moment),
                                                       defaults={"reason": _failure(exc)})
            else:
                counts["placed"] += 1
    return counts
