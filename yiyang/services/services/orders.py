"""Orders: placing one (price, subsidy and allowance fixed at booking), and its life cycle from
acceptance to rating, with the check-in and check-out rules, their flags and the check-out photo."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import CODE_LENGTH, AuditAction, Role
from yiyang.core.policy import is_superuser, role_of
from yiyang.registry.models import Elder, ElderStatus, Practitioner

from .. import policy, pricing, selectors
from ..models import (
    AllowanceEntry,
    AllowanceKind,
    CaregiverShift,
    FlagKind,
    Order,
    OrderChannel,
    OrderEvent,
    OrderFlag,
    OrderStatus,
    ServiceItem,
)
from ..signals import order_unserved
from ._common import BOOKING_HORIZON_DAYS, CENT, _service_day, _text, _user

EARLY_CHECK_IN = datetime.timedelta(hours=2)       # earlier than this is refused
EARLY_CHECK_IN_FLAG = datetime.timedelta(minutes=30)  # earlier than this is let through and flagged
CLOCK_SKEW = datetime.timedelta(minutes=10)  # a phone's clock may run a little ahead
FAR_METRES = 500
DURATION_BOUNDS = (Decimal("0.5"), Decimal("2"))
STREET_LEN = CODE_LENGTH["street"]


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
        raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一笔订单，请刷新后重新下单。"),
                          status=409)
    return existing


# Who may say how an order came in: the elder or family order themselves (portal); staff take it by phone or in
# person. Orders of a standing order are placed by the generator on behalf of whoever set it up.
_CHANNELS_OF_ROLE = {
    Role.FAMILY: {OrderChannel.PORTAL, OrderChannel.RECURRING},
    Role.ELDER: {OrderChannel.PORTAL, OrderChannel.RECURRING},
    Role.BUREAU: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING},
    Role.STREET: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING, OrderChannel.VISIT},
    Role.COMMUNITY: {OrderChannel.PHONE, OrderChannel.STAFF, OrderChannel.RECURRING, OrderChannel.VISIT},
    Role.VISITOR: {OrderChannel.VISIT},
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
                allowance_available=None) -> tuple[Order, bool]:
    """Place an order with its price split fixed as quoted; returns (order, created). Submitting the same
    client_key again returns the order it made and False (a flaky phone's retry); the same key with a different
    content is refused (409).

    By default the allowance comes from the elder's monthly ledger (服务补贴余额) and its debit is written in the
    same transaction, under a lock on the elder's row. An explicit `allowance_available` (callers that state
    a balance themselves) is used as given and not recorded in the ledger."""
    _check_channel(channel, allowed=OrderChannel.values)
    client_key = _text(client_key, 64) or None
    request = {"actor": actor, "elder": elder, "provider": provider, "item": item,
               "start": _parse_start(scheduled_start), "qty": _quantity(quantity), "channel": channel}
    # A retry is answered before anything else is checked: the first copy was valid when it arrived.
    if client_key and (found := _replayed_order(client_key, **request)) is not None:
        return found, False
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
            return found, False
        raise
    return order, True


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


def _flag(order: Order, kind: str, detail) -> None:
    """Flag the order once per kind. `detail` is a function giving the text: a flag is a record read by
    everyone, so it is written in the platform's language, not in the language of the phone that caused it."""
    if OrderFlag.objects.filter(order=order, kind=kind).exists():
        return
    with translation.override(settings.LANGUAGE_CODE):
        text = str(detail())
    OrderFlag.objects.get_or_create(order=order, kind=kind, defaults={"detail": text[:300]})


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
    if _elder_gone(order):
        _flag(order, FlagKind.ELDER_INACTIVE, lambda: _elder_gone(order))
    return _move(actor=actor, order=order, to_status=OrderStatus.ACCEPTED, note=note)


@transaction.atomic
def decline_order(*, actor, order: Order, reason: str) -> Order:
    order = _lock(order)
    policy.may_decline_order(actor, order).require()
    reason = _reason(reason)
    order = _move(actor=actor, order=order, to_status=OrderStatus.DECLINED, note=reason, end_reason=reason)
    order_unserved.send(sender=Order, order=order, actor=actor)
    return order


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
    if _elder_gone(order):
        _flag(order, FlagKind.ELDER_INACTIVE, lambda: _elder_gone(order))
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
        raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一项操作。"), status=409)
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
        _flag(order, FlagKind.EARLY_CHECK_IN, lambda: _("签到比预约时间早 %(m)d 分钟") % {"m": minutes})
    # One caregiver's check-ins are serialised, so two at once both see each other.
    Practitioner.objects.select_for_update().filter(pk=order.caregiver_id).first()
    elder = order.elder
    if lat is not None and elder.latitude is not None and elder.longitude is not None:
        metres = haversine_metres(lat, lon, elder.latitude, elder.longitude)
        if metres > FAR_METRES:
            _flag(order, FlagKind.FAR_CHECK_IN, lambda: _("签到地点距老人住址约 %(m)d 米") % {"m": round(metres)})
    other = (Order.objects.filter(caregiver_id=order.caregiver_id, status=OrderStatus.CHECKED_IN)
             .exclude(pk=order.pk).order_by("check_in_at").first())
    if other is not None:
        _flag(order, FlagKind.OVERLAP, lambda: _("护理员尚未从订单 %(pk)s（%(elder)s）签退") % {
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
        _flag(order, FlagKind.DURATION, lambda: _("服务 %(m)s 分钟，标准 %(s)s 分钟") % {
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
    order = _move(actor=actor, order=order, to_status=OrderStatus.NO_SHOW, note=reason, end_reason=reason)
    order_unserved.send(sender=Order, order=order, actor=actor)
    return order


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
            _flag(order, FlagKind.ELDER_INACTIVE, lambda: f"{event.get_kind_display()} {event.effective_date}")



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
            raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一项操作。"), status=409)
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
