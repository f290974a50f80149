"""Reads of the services domain: what is in force where and when, and the facts about a person on a day.

Prices and subsidy rules are set per jurisdiction; the one that applies to a place is the nearest one up the
region tree (community → street → county → city → province) that has a version in force on the day.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, When
from django.utils import timezone

from yiyang.core.models import CODE_LENGTH
from yiyang.core.pii import is_ascii_digits

from . import pricing
from .models import (
    FollowUpCall,
    Order,
    OrderFlag,
    ProviderOffer,
    RecurringOrder,
    ServiceItem,
    ServicePrice,
    SubsidyRule,
)


def region_chain(region_code: str) -> list[str]:
    """The code itself and every ancestor's code, nearest first (codes are prefixes of their children's)."""
    code = str(region_code or "")
    return [code[:n] for n in sorted(CODE_LENGTH.values(), reverse=True) if n <= len(code)]


def _in_force(day: datetime.date) -> Q:
    return Q(valid_from__lte=day) & (Q(valid_until__isnull=True) | Q(valid_until__gte=day))


def _nearest(rows, chain: list[str]):
    """Among rows in force at several levels, the one of the nearest jurisdiction (then the latest start)."""
    rank = {code: i for i, code in enumerate(chain)}
    rows = sorted(rows, key=lambda r: (rank[r.jurisdiction_id], -r.valid_from.toordinal()))
    return rows[0] if rows else None


def price_in_force(item: ServiceItem, region_code: str, day: datetime.date) -> ServicePrice | None:
    """The market and 普惠 price of an item that applies at a place on a day, or None."""
    chain = region_chain(region_code)
    rows = ServicePrice.objects.filter(_in_force(day), item=item, jurisdiction_id__in=chain).select_related(
        "jurisdiction")
    return _nearest(rows, chain)


def subsidy_rule_in_force(region_code: str, day: datetime.date) -> SubsidyRule | None:
    chain = region_chain(region_code)
    rows = SubsidyRule.objects.filter(_in_force(day), jurisdiction_id__in=chain).select_related("jurisdiction")
    return _nearest(rows, chain)


def offer_in_force(provider, item: ServiceItem, street_code: str, day: datetime.date) -> ProviderOffer | None:
    """The provider's offer of the item covering the street (a community code is cut to its street) on a day."""
    street = str(street_code or "")[:CODE_LENGTH["street"]]
    provider_id = getattr(provider, "pk", provider)
    return (ProviderOffer.objects.filter(_in_force(day), provider_id=provider_id, item=item, streets__code=street)
            .order_by("-valid_from").first())


def elder_facts(elder, day: datetime.date) -> tuple[set[str], int]:
    """(categories active on the day, age in full years on the day): what the subsidy rule looks at."""
    categories = set(elder.categories.filter(Q(start_date__lte=day) & (Q(end_date__isnull=True)
                                                                       | Q(end_date__gte=day)))
                     .values_list("kind", flat=True))
    return categories, pricing.age_on(elder.birth_date, day)


# ---------------------------------------------------------------------------------------------------------
# Provider workspace, catalogue page and settlement pages (views_workspace.py, views_settlement.py)
# Statuses in which a visit occupies its caregiver's time (for overlaps and the day's load).
WORKSPACE_BUSY_STATUSES = ("assigned", "checked_in", "checked_out", "confirmed", "rated", "settled")
# Statuses in which the caregiver has actually served the elder (continuity of care).
SERVED_STATUSES = ("checked_out", "confirmed", "rated", "settled")
# Practitioner roles that go to people's homes.
FIELD_ROLES = ("caregiver", "nurse", "social_worker", "doctor")


def prices_in_force(items, region_code: str, day: datetime.date) -> dict[int, ServicePrice]:
    """price_in_force for many items in one query: item id → the price that applies at a place on a day."""
    chain = region_chain(region_code)
    rows = ServicePrice.objects.filter(_in_force(day), item__in=list(items), jurisdiction_id__in=chain).select_related(
        "jurisdiction")
    by_item: dict[int, list] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    return {item_id: _nearest(found, chain) for item_id, found in by_item.items()}


def visit_minutes(standard_minutes: int, quantity) -> int:
    """How long a visit takes: the item's standard minutes × quantity (hours for hourly items), at least 1."""
    return max(1, int(round(float(standard_minutes) * float(quantity))))


def local_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return start, start + datetime.timedelta(days=1)


@dataclass
class OrderFilters:
    status: str = ""
    date_from: datetime.date | None = None  # scheduled on or after this local day
    date_to: datetime.date | None = None    # scheduled on or before this local day
    provider: int | None = None
    elder: int | None = None
    item: str = ""
    flagged: bool = False


def orders_for(user, filters: OrderFilters | None = None):
    """The order list of the page and the API: the orders the user may see, newest visit first. Days are the
    jurisdiction's local days, compared as time bounds so that the database can use its indexes."""
    f = filters or OrderFilters()
    qs = Order.objects.restrict(user).select_related("elder", "item", "provider", "caregiver")
    if f.status:
        qs = qs.filter(status=f.status)
    if f.date_from:
        qs = qs.filter(scheduled_start__gte=local_day_bounds(f.date_from)[0])
    if f.date_to:
        qs = qs.filter(scheduled_start__lt=local_day_bounds(f.date_to)[1])
    if f.item:
        qs = qs.filter(item__code=f.item)
    if f.provider:
        qs = qs.filter(provider_id=f.provider)
    if f.elder:
        qs = qs.filter(elder_id=f.elder)
    if f.flagged:
        qs = qs.filter(Exists(OrderFlag.objects.filter(order_id=OuterRef("pk"))))
    return qs.order_by("-scheduled_start", "-pk")


def recurring_orders_for(user, *, elder: int | None = None, active: bool | None = None):
    """The standing orders of the page and the API: those the user may see, running ones first, newest first."""
    qs = (RecurringOrder.objects.restrict(user).select_related("elder", "provider", "item", "placed_by")
          .prefetch_related("skips"))
    if elder:
        qs = qs.filter(elder_id=elder)
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("-active", "-created_at", "-pk")


def follow_up_calls_for(user, *, month: datetime.date | None = None, pending: bool | None = None,
                        provider: int | None = None):
    """The follow-up calls of the page and the API: those the user may see, the latest month first, within it
    the calls still to make first, by provider and visit."""
    qs = FollowUpCall.objects.restrict(user).select_related(
        "order__elder", "order__item", "order__provider", "order__caregiver", "called_by")
    if month:
        qs = qs.filter(month=month)
    if pending is not None:
        qs = qs.filter(called_at__isnull=pending)
    if provider:
        qs = qs.filter(order__provider_id=provider)
    done = Case(When(outcome="", then=0), default=1, output_field=IntegerField())
    return qs.alias(done=done).order_by("-month", "done", "order__provider__name", "order__check_out_at", "pk")


def field_staff(provider_id: int):
    """The provider's practitioners who make home visits, by name."""
    from yiyang.registry.models import Practitioner

    return Practitioner.objects.filter(organisation_id=provider_id, role__in=FIELD_ROLES).order_by("name", "pk")


def in_post(practitioner, day: datetime.date) -> bool:
    return practitioner.start_date <= day and (practitioner.end_date is None or practitioner.end_date >= day)


@dataclass
class Suggestion:
    """One caregiver for one order, with the facts the sort uses (shown next to the name)."""

    caregiver: object
    has_skill: bool
    on_shift: bool | None        # None: the provider keeps no shifts for that day
    overlaps: int                # the caregiver's visits that day overlapping this one
    day_visits: int              # the caregiver's visits that day
    served_before: int           # completed visits to this elder

    @property
    def sort_key(self):
        # Skill first, then free (on shift, no overlap, lighter day), then continuity of care, then name.
        return (not self.has_skill, self.on_shift is False, self.overlaps, -self.served_before, self.day_visits,
                self.caregiver.name, self.caregiver.pk)


def caregiver_suggestions(provider_id: int, orders, *, shifts=None) -> dict[int, list[Suggestion]]:
    """For each order, the provider's caregivers in post on its day, best first. Three queries whatever the
    number of orders or caregivers: the caregivers, their busy visits on the orders' days, and who served
    which of these elders before. `shifts` (optional) maps (caregiver id, day) → [(start, end)] local times;
    a caregiver is on shift when one of them covers the visit."""
    orders = list(orders)
    if not orders:
        return {}
    staff = list(field_staff(provider_id))
    days = sorted({timezone.localdate(o.scheduled_start) for o in orders})
    busy: dict[tuple[int, datetime.date], list[tuple[int, datetime.datetime, datetime.datetime]]] = {}
    # Only the orders' own days (a page of orders may spread over weeks), as one OR of day ranges.
    on_days = Q()
    for day in days:
        start, end = local_day_bounds(day)
        on_days |= Q(scheduled_start__gte=start, scheduled_start__lt=end)
    rows = (Order.objects.filter(on_days, provider_id=provider_id, caregiver__isnull=False,
                                 status__in=WORKSPACE_BUSY_STATUSES)
            .values_list("pk", "caregiver_id", "scheduled_start", "quantity", "item__standard_minutes"))
    for pk, caregiver_id, begins, quantity, minutes in rows:
        finish = begins + datetime.timedelta(minutes=visit_minutes(minutes, quantity))
        busy.setdefault((caregiver_id, timezone.localdate(begins)), []).append((pk, begins, finish))
    served: dict[tuple[int, int], int] = {}
    for elder_id, caregiver_id, n in (Order.objects.filter(provider_id=provider_id,
                                                           elder_id__in={o.elder_id for o in orders},
                                                           caregiver__isnull=False, status__in=SERVED_STATUSES)
                                      .order_by().values_list("elder_id", "caregiver_id").annotate(n=Count("pk"))):
        served[(elder_id, caregiver_id)] = n
    shift_days = {d for (_caregiver, d) in (shifts or {})}
    out: dict[int, list[Suggestion]] = {}
    for order in orders:
        day = timezone.localdate(order.scheduled_start)
        begins = order.scheduled_start
        finish = begins + datetime.timedelta(minutes=visit_minutes(order.item.standard_minutes, order.quantity))
        skill = (order.item.required_skill or "").strip()
        rows = []
        for person in staff:
            if not in_post(person, day):
                continue
            visits = [v for v in busy.get((person.pk, day), ()) if v[0] != order.pk]
            on_shift = None
            # Shifts count on a day when the provider keeps any for it; otherwise nobody is off duty.
            if shifts is not None and day in shift_days:
                windows = shifts.get((person.pk, day), ())
                local_begin, local_finish = timezone.localtime(begins), timezone.localtime(finish)
                on_shift = any(a <= local_begin.time() and local_finish.time() <= b for a, b in windows) if (
                    local_begin.date() == local_finish.date()) else False
            rows.append(Suggestion(
                caregiver=person, has_skill=not skill or skill in person.skill_list, on_shift=on_shift,
                overlaps=sum(1 for _pk, a, b in visits if a < finish and begins < b), day_visits=len(visits),
                served_before=served.get((order.elder_id, person.pk), 0)))
        out[order.pk] = sorted(rows, key=lambda s: s.sort_key)
    return out


def provider_board(provider_id: int, day: datetime.date, *, now=None) -> dict:
    """Today's board: one column per caregiver in post (their visits in time order) and the unassigned
    visits. Two queries whatever the number of caregivers or orders. A visit is late when its start has
    passed and nobody has checked in."""
    now = now or timezone.now()
    start, end = local_day_bounds(day)
    visits = list(Order.objects.filter(provider_id=provider_id, scheduled_start__gte=start, scheduled_start__lt=end)
                  .exclude(status__in=("declined", "cancelled"))
                  .select_related("elder", "item").order_by("scheduled_start", "pk"))
    columns = {p.pk: {"caregiver": p, "visits": []} for p in field_staff(provider_id) if in_post(p, day)}
    unassigned = []
    for visit in visits:
        visit.board_state = ("late" if visit.status in ("accepted", "assigned", "requested")
                             and visit.scheduled_start < now else visit.status)
        if visit.caregiver_id is None:
            unassigned.append(visit)
        elif visit.caregiver_id in columns:
            columns[visit.caregiver_id]["visits"].append(visit)
        else:  # someone no longer in post (or not a field role) still holds the visit: show them anyway
            columns.setdefault(visit.caregiver_id, {"caregiver": None, "visits": []})["visits"].append(visit)
    return {"day": day, "columns": list(columns.values()), "unassigned": unassigned, "count": len(visits)}


def money_sums(queryset, parts=("total", "subsidy", "allowance", "copay")) -> dict:
    """Count and exact sums (to the fen, computed in whole fen so SQLite adds no floats) of a queryset's amounts."""
    from django.db.models import BigIntegerField, F, Sum
    from django.db.models.functions import Cast, Coalesce, Round

    sums = queryset.order_by().aggregate(
        n=Count("pk"), **{f"fen_{p}": Coalesce(Sum(Cast(Round(F(p) * 100), BigIntegerField())), 0) for p in parts})
    return {"count": sums["n"], **{p: (Decimal(int(sums[f"fen_{p}"])) / 100).quantize(Decimal("0.01"))
                                   for p in parts}}


# ---------------------------------------------------------------------------------------------------------
# Caregivers' shifts and availability (H1)

BUSY_STATUSES = ("assigned", "checked_in")


def shifts_for(provider, day: datetime.date):
    """The shifts of the provider's caregivers on a day, by start time (caregiver loaded)."""
    from .models import CaregiverShift

    return (CaregiverShift.objects.filter(caregiver__organisation_id=getattr(provider, "pk", provider), day=day)
            .select_related("caregiver").order_by("start", "caregiver__name", "pk"))


def active_caregivers(provider, day: datetime.date):
    from yiyang.registry.models import Practitioner

    return (Practitioner.objects.filter(organisation_id=getattr(provider, "pk", provider), role="caregiver",
                                        start_date__lte=day)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=day)).order_by("name", "pk"))


def caregiver_availability(*, provider, start: datetime.datetime, end: datetime.datetime) -> list[dict]:
    """For each active caregiver of the provider on the day of `start`: whether a shift covers [start, end)
    (`on_shift`; None when they have no shift that day), the day's shifts, how many assigned or started
    visits overlap the window (a visit lasts the item's standard minutes × quantity), and their skills.
    Three queries whatever the number of caregivers."""
    from django.utils import timezone

    from .models import Order

    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    day = local_start.date()
    caregivers = list(active_caregivers(provider, day))
    ids = [c.pk for c in caregivers]
    shifts: dict[int, list] = {pk: [] for pk in ids}
    for shift in shifts_for(provider, day).filter(caregiver_id__in=ids):
        shifts[shift.caregiver_id].append(shift)
    busy: dict[int, list[int]] = {pk: [] for pk in ids}
    earliest = start - datetime.timedelta(hours=24)  # no visit lasts longer than a day
    for pk, caregiver_id, visit_start, minutes, qty in (
            Order.objects.filter(caregiver_id__in=ids, status__in=BUSY_STATUSES, scheduled_start__lt=end,
                                 scheduled_start__gte=earliest)
            .values_list("pk", "caregiver_id", "scheduled_start", "item__standard_minutes", "quantity")):
        visit_end = visit_start + datetime.timedelta(minutes=float(minutes * qty))
        if visit_end > start:
            busy[caregiver_id].append(pk)
    out = []
    for caregiver in caregivers:
        own = shifts[caregiver.pk]
        same_day = local_end.date() == day
        covered = any(s.start <= local_start.time() and same_day and local_end.time() <= s.end for s in own)
        out.append({"caregiver": caregiver, "shifts": own, "on_shift": covered if own else None,
                    "overlapping": len(busy[caregiver.pk]), "overlapping_orders": busy[caregiver.pk],
                    "skills": caregiver.skill_list})
    return out


# ---------------------------------------------------------------------------------------------------------
# Order pages (views.py, H2)


def catalogue_in_force(region_code: str, day: datetime.date) -> list[tuple[ServiceItem, ServicePrice]]:
    """The active items that have a price in force at a place on a day, each with that price, in catalogue
    order (two queries whatever the size of the catalogue)."""
    items = list(ServiceItem.objects.filter(is_active=True))
    prices = prices_in_force(items, region_code, day)
    return [(item, prices[item.pk]) for item in items if item.pk in prices]


def offers_in_street(item: ServiceItem, street_code: str, day: datetime.date) -> list[ProviderOffer]:
    """Every active provider's offer of the item covering the street on a day, cheapest first (one per
    provider: a newer offer closes the previous one)."""
    street = str(street_code or "")[:CODE_LENGTH["street"]]
    rows = (ProviderOffer.objects.filter(_in_force(day), item=item, streets__code=street, provider__is_active=True)
            .select_related("provider").order_by("price", "provider__name", "-valid_from"))
    seen, out = set(), []
    for offer in rows:
        if offer.provider_id not in seen:
            seen.add(offer.provider_id)
            out.append(offer)
    return out


def elders_to_order_for(user, text: str, *, limit: int = 10):
    """Active elders in the user's scope matching a name, pinyin, phone, full ID number or the last four
    characters of the ID number (as shown masked)."""
    from yiyang.registry.models import Elder, ElderStatus
    from yiyang.registry.selectors import search_q

    from .policy import elders_orderable_by

    text = (text or "").strip()
    orderable = elders_orderable_by(user)
    if not text or orderable is None:
        return Elder.objects.none()
    q = search_q(text)
    if len(text) == 4 and is_ascii_digits(text[:3]):
        q |= Q(id_number_masked__endswith=text.upper())
    # Those the user sees and may order for (a bureau also sees people registered here who live elsewhere).
    return (Elder.objects.restrict(user).filter(orderable).filter(q, status=ElderStatus.ACTIVE)
            .select_related("residence_region").order_by("name_pinyin", "pk")[:limit])


def pending_settlement_totals(orders, start: datetime.datetime, end: datetime.datetime) -> list[dict]:
    """Per provider and county: of `orders` (the user's, Order.objects.restrict), the confirmed or rated ones
    checked out in [start, end) and not yet settled (what a statement for the month would look at), counted
    and summed to the fen in one query."""
    from django.db.models import BigIntegerField, F, Sum
    from django.db.models.functions import Cast, Coalesce, Round

    rows = (orders.filter(status__in=("confirmed", "rated"), check_out_at__gte=start, check_out_at__lt=end)
            .order_by().values("provider_id", "county_code")
            .annotate(n=Count("pk"), fen=Coalesce(Sum(Cast(Round(F("total") * 100), BigIntegerField())), 0)))
    return [{"provider_id": r["provider_id"], "county_code": r["county_code"], "count": r["n"],
             "total": (Decimal(int(r["fen"])) / 100).quantize(Decimal("0.01"))} for r in rows]


# ------------------------------------------------------------------------------------ caregiver phone app

def caregiver_day(user, day: datetime.date):
    """The visits of one local day assigned to the signed-in caregiver (their Practitioner, through the
    account: the order's own scope), in time order, with what the phone page shows in three queries."""
    from django.utils import timezone

    from .models import Order

    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return (Order.objects.restrict(user).filter(scheduled_start__gte=start,
                                                scheduled_start__lt=start + datetime.timedelta(days=1))
            .select_related("elder", "item", "provider").prefetch_related("elder__contacts")
            .order_by("scheduled_start", "pk"))


def ability_levels(elder_ids, *, english: bool = False) -> dict[int, str]:
    """Elder id → the name of their latest published ability level (one query), for the caregiver's page."""
    from yiyang.assessment import scoring
    from yiyang.assessment.selectors import current_levels

    out = {}
    for elder_id, row in current_levels(elder_ids).items():
        level = scoring.get_template(row["template_code"]).level(row["level"])
        out[elder_id] = level.name_en if english else level.name_zh
    return out


# ---------------------------------------------------------------------------------------------------------
# The monthly service allowance (H1)


def allowance_totals(elder, month: datetime.date, *, entries=None) -> dict:
    """Credited, debited (as a positive amount), refunded and the balance of an elder's allowance for the
    month of `month`, in Decimal yuan, summed in whole fen (exact on every database). One query. `entries`:
    the ledger to read (default all of it; a page passes the reader's scope)."""
    pk = getattr(elder, "pk", elder)
    return allowance_totals_by_elder([pk], month, entries=entries)[pk]


def allowance_totals_by_elder(elders, month: datetime.date, *, entries=None) -> dict[int, dict]:
    """allowance_totals of several elders (objects or ids) in one query: {elder id: totals}, zeros for an
    elder without entries (a page listing a family's elders reads them all at once)."""
    from decimal import Decimal

    from django.db.models import BigIntegerField, F, Sum
    from django.db.models.functions import Cast, Coalesce, Round

    from .models import AllowanceEntry

    def fen(kind):
        return Coalesce(Sum(Cast(Round(F("amount") * 100), BigIntegerField()), filter=Q(kind=kind)), 0)

    ids = [getattr(e, "pk", e) for e in elders]
    ledger = AllowanceEntry.objects.all() if entries is None else entries
    sums = {row["elder_id"]: row for row in (
        ledger.filter(elder_id__in=ids, month=month.replace(day=1)).order_by().values("elder_id")
        .annotate(c=fen("credit"), d=fen("debit"), r=fen("refund")))}
    cent = Decimal("0.01")
    out = {}
    for pk in ids:
        found = sums.get(pk, {"c": 0, "d": 0, "r": 0})
        credited, debited, refunded = ((Decimal(int(found[k])) / 100).quantize(cent) for k in "cdr")
        out[pk] = {"credited": credited, "debited": -debited, "refunded": refunded,
                   "balance": credited + debited + refunded}
    return out


def allowance_balance(elder, month: datetime.date):
    """What is left of the elder's service allowance for the month of `month` (never below zero)."""
    return allowance_totals(elder, month)["balance"]


def service_contacts() -> tuple[str, list]:
    """(sql, params) selecting elder_id, at: every check-in, a moment a caregiver saw the person."""
    return (f"SELECT elder_id, check_in_at AS at FROM {Order._meta.db_table} WHERE check_in_at IS NOT NULL", [])
