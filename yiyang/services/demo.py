"""Demo data of the services app: the example catalogue, the district's prices and subsidy rule, what the
providers offer in which streets, and three months of orders (issue 7).

The orders go through the services (place_order, accept_order, … prepare_settlement, approve_settlement), as
the provider, its caregivers, the families and the community workers would have done it day after day. Only
the clock is simulated: the services stamp "now" (and refuse to book a visit in the past or to check in in
the future), so while the history is written `django.utils.timezone.now` answers the simulated moment of each
step (never later than the real now; see `_Clock`). Fields whose default captured the real clock (an order's
`created_at`, its first event, flags, allowance debits, shifts, follow-up samples, standing orders, a
statement's `created_at`) are moved to their moment afterwards; the audit log keeps the real time of the build.

One long module on purpose: three months of one simulated history, written in the order it happened.

What it makes: the register's caregivers of 颐康 (赵桂兰 is the `caregiver` account) and of 惠康 (玉山镇, the
second provider, with its own offers and a dispatcher account without password) get phone-app accounts and the
catalogue's skills; a rota for this week; ~140 regular clients (the poor, the old and those with a service
allowance more likely), some with a son or daughter on the portal; ~600 orders over the last 90 days and the
coming week in every state, some from standing orders (周期服务) and some paid from the service allowance; 回访
calls for past months; each past month's statement approved but the last full month's, left for the bureau.
赵桂兰 has five visits today (see caregiver_slots), the family account's mother a visit to confirm and one to
rate, and the provider new orders to accept and assign.
"""

from __future__ import annotations

import datetime
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.db.models import Count, F, Q
from django.utils import timezone

from yiyang.core.demo import DEMO_COUNTY, demo_step

from . import services
from .examples import CATALOGUE, SUBSIDY_NOTE, SUBSIDY_RULE, SUBSIDY_SOURCE
from .models import ProviderOffer, ServiceItem, ServicePrice, SubsidyRule

# 颐康 (at 文治街道) serves the town-centre streets; its prices sit a little under the 普惠 ceiling.
PROVIDER_STREETS = ("511903001", "511903002", "511903003")
PROVIDER_DISCOUNT = 0.9


def _start() -> datetime.date:
    return timezone.localdate().replace(day=1) - datetime.timedelta(days=365)


@demo_step
def services_demo(ctx, log) -> None:
    from decimal import ROUND_HALF_UP, Decimal

    from yiyang.core.models import Region
    from yiyang.registry.models import Organisation

    actor = ctx.accounts.get("bureau")
    provider_user = ctx.accounts.get("provider")
    if actor is None or provider_user is None:
        log("services: no demo bureau or provider account, skipped")
        return
    start = _start()
    items = []
    for position, (code, name, category, unit, minutes, skill, _m, _i) in enumerate(CATALOGUE):
        item, _created = ServiceItem.objects.update_or_create(
            code=code, defaults={"name": name, "category": category, "unit": unit, "standard_minutes": minutes,
                                 "required_skill": skill, "position": position})
        items.append(item)
    county = ctx.county
    prices = 0
    for item, row in zip(items, CATALOGUE, strict=True):
        if not ServicePrice.objects.filter(item=item, jurisdiction=county).exists():
            services.set_price(actor=actor, item=item, jurisdiction=county, valid_from=start,
                               market_price=Decimal(row[6]), inclusive_price=Decimal(row[7]),
                               note="示例价格：普惠价为市场价的一半")
            prices += 1
    if not SubsidyRule.objects.filter(jurisdiction=county).exists():
        services.adopt_subsidy_rule(actor=actor, jurisdiction=county, params=SUBSIDY_RULE, valid_from=start,
                                    note=SUBSIDY_NOTE, source=SUBSIDY_SOURCE)
    provider = Organisation.objects.get(pk=provider_user.organisation_id)
    streets = list(Region.objects.filter(code__in=PROVIDER_STREETS))
    offers = 0
    for item, row in zip(items, CATALOGUE, strict=True):
        if ProviderOffer.objects.filter(provider=provider, item=item).exists():
            continue
        price = (Decimal(row[7]) * Decimal(str(PROVIDER_DISCOUNT))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        services.declare_offer(actor=provider_user, provider=provider, item=item, streets=streets, price=price,
                               valid_from=start)
        offers += 1
    log(f"services: {len(items)} catalogue items, {prices} prices for {county.name} ({DEMO_COUNTY}), "
        f"subsidy rule, {offers} offers by {provider.name} in {len(streets)} streets")


# ------------------------------------------------------------------------------------------------ orders

HISTORY_DAYS = 90
# 惠康 (玉山镇) is the second provider: a small team for the town of 玉山 and 关公.
SECOND_PROVIDER = "巴中市恩阳区惠康居家养老服务中心"
SECOND_STREETS = ("511903101", "511903112")
SECOND_ITEMS = ("meal-delivery", "cleaning-hour", "medication", "walk-assist", "shopping", "companion",
                "nursing-basic")
# Items of home visits and how often each is ordered (助餐 at the canteen is not a visit).
ITEM_MIX = {"cleaning-hour": 18, "bath-home": 14, "meal-delivery": 12, "medication": 12, "nursing-basic": 10,
            "companion": 10, "shopping": 8, "medical-escort": 7, "walk-assist": 6, "emergency-visit": 2}
HOURLY_QUANTITIES = ((1, 60), (1.5, 25), (2, 15))
# Street workers who order by phone for people without family nearby (the demo's street and community
# accounts cover 登科; the others have no password: they only appear as who placed and confirmed orders).
STAFF = {"511903002": ("street-wenzhi", "文治街道 民政专干 周敏"),
         "511903003": ("street-sicheng", "司城街道 民政专干 邓晓燕"),
         "511903101": ("street-yushan", "玉山镇 民政专干 苟建平")}
# Skills the catalogue asks for that the register's caregivers do not list yet (see examples.CATALOGUE).
CATALOGUE_SKILLS = {"生活照料": None, "健康监测": ("助医", "康复"), "急救": ("助急", "助医"), "助浴": ("助洁",)}
NOTES = {
    "bath": "协助洗浴、更衣，检查皮肤无破损",
    "cleaning": "打扫客厅、厨房和卫生间，清理冰箱过期食品",
    "meal": "送午餐一份（软食少盐），老人进食正常",
    "medical": "测血压、血糖，提醒按时服药，药盒已分装一周",
    "emergency": "老人在家跌倒后呼叫，上门查看无明显外伤，已通知家属",
    "mobility": "陪同到社区卫生服务站散步、量血压",
    "shopping": "代购米、油、蔬菜和降压药，票据已交老人",
    "companion": "陪老人聊天、读报，情绪稳定",
    "nursing": "协助翻身、擦浴、更换床单，指导家属护理",
}
ORDER_NOTES = {"bath": "老人行动不便，需两人协助进出浴缸", "cleaning": "重点打扫厨房油污", "meal": "软食，少盐",
               "medical": "高血压，近期头晕", "shopping": "代买降压药和蔬菜", "companion": "老人独居，想找人说说话"}
DECLINE_REASONS = ["该时段护理员已排满，建议改约次日", "具备助浴技能的护理员本周休假，暂无法承接",
                   "雨天山路塌方，暂无法上门，已建议改约"]
CANCEL_BY_PLACER = ["老人住院，暂停服务", "家属已自行安排", "老人去子女家小住一周"]
CANCEL_BY_PROVIDER = ["护理员临时请病假，无人可派，已电话告知家属并致歉"]
CANCEL_BEFORE_VISIT = ["老人临时外出复诊", "家里来了亲戚，改天再约"]
NO_SHOW_REASONS = ["上门时老人不在家，电话无人接听", "老人外出赶集，邻居告知下午才回"]
COMMENTS = {5: ["服务很周到，老人很满意", "护理员很耐心，准时到达", "洗得很干净，谢谢", "态度好，动作轻柔",
                "非常满意，下次还约", ""],
            4: ["总体满意，稍微迟到了一点", "服务不错", "挺好，就是时间有点赶", ""],
            3: ["一般，打扫不够仔细", "来晚了半小时，没有提前打电话"],
            2: ["护理员迟到一个多小时，也没提前打电话"],
            1: ["服务时间明显不足，要求机构回访核实"]}
RELATIONSHIPS = ["son", "daughter", "daughter", "son_in_law", "daughter_in_law", "grandchild"]
# Standing orders: item, ISO weekdays, time, started so many days ago, how they were set up.
RECURRING = [("meal-delivery", "1,3,5", "11:00", 63, "staff"), ("cleaning-hour", "2", "09:00", 49, "portal"),
             ("medication", "1,4", "08:30", 35, "phone")]
SECOND_RECURRING = [("companion", "3", "15:00", 28, "phone")]
# 赵桂兰's day (local times; the later ones move when the demo is built late in the day) and what she does.
CAREGIVER_DAY = [(8, 30, "bath-home", 1), (10, 0, "medication", 1), (14, 0, "nursing-basic", 1),
                 (15, 30, "cleaning-hour", 1.5), (17, 0, "companion", 1)]


class _Clock:
    """Stands in for django.utils.timezone.now while the history is written: the moment of the step being
    replayed, never later than the real now."""

    def __init__(self, real_now: datetime.datetime):
        self.real = real_now
        self.moment = real_now

    def __call__(self) -> datetime.datetime:
        return self.moment

    def at(self, moment: datetime.datetime) -> datetime.datetime:
        self.moment = min(moment, self.real)
        return self.moment


@dataclass
class _Plan:
    """One order to replay: who for, what, when, how far its life goes (fate) and who does each step."""

    elder: object
    provider: object
    item: object
    start: datetime.datetime
    quantity: float
    placer: object
    channel: str
    caregiver: object = None
    fate: str = "complete"       # complete, requested, accepted, checked_in, checked_out, confirmed, declined,
    placed: datetime.datetime | None = None    # cancel_requested, cancel_accepted, cancel_assigned, no_show
    far: bool = False
    duration: float = 1.0        # actual over standard duration
    note: str = ""
    photo: bool = False
    by_family: bool = False      # the family confirms and rates every visit (the demo family account)
    existing: object = None      # an order already placed (by a standing order)
    tags: set = field(default_factory=set)


@contextmanager
def _without_savepoints():
    """Every service is atomic: inside the demo step's transaction each call becomes a savepoint, and on
    PostgreSQL every savepoint that writes keeps a lock until the step commits. Thousands of them overflow the
    server's shared lock table (max_locks_per_transaction × max_connections: 6,400 by default), failing this
    step and whatever else runs on the server. No call here is expected to fail, so the services' inner blocks
    join the step's transaction directly; an error still aborts the whole step."""
    from django.db import connection

    features = connection.features
    saved = features.uses_savepoints
    features.uses_savepoints = False
    try:
        yield
    finally:
        features.uses_savepoints = saved


def _aware(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _user(username: str, role: str, display_name: str, **scope):
    from yiyang.core.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, role=role, display_name=display_name, **scope)
        user.set_unusable_password()
        user.save()
    return user


class _History:
    def __init__(self, ctx, log, clock: _Clock):
        from yiyang.core.models import Role
        from yiyang.registry.models import Organisation

        self.ctx, self.log, self.clock = ctx, log, clock
        self.rng = random.Random(f"yiyang.services.demo:{ctx.seed}:orders")
        self.now = clock.real
        self.today = timezone.localdate(self.now)
        self.accounts = ctx.accounts
        self.bureau = ctx.accounts["bureau"]
        self.provider_user = ctx.accounts["provider"]
        self.provider = self.provider_user.organisation
        self.second = Organisation.objects.filter(name=SECOND_PROVIDER).first()
        self.second_user = None
        if self.second is not None:
            self.second_user = _user("provider-huikang", Role.PROVIDER, "惠康调度 苏红梅", organisation=self.second)
        self.staff = {code: _user(username, Role.STREET, name, region_id=code)
                      for code, (username, name) in STAFF.items()}
        self.items = {i.code: i for i in ServiceItem.objects.all()}
        self.busy: dict = {}
        self.regular: dict = {}
        self.plans: list[_Plan] = []
        self.placed_at: dict[int, datetime.datetime] = {}
        self.family_of: dict[int, object] = {}
        self.taken: set = set()

    # ------------------------------------------------------------------------------------ people

    def caregivers(self, provider) -> list:
        """The provider's caregivers in post, each with an account for the phone app and the catalogue's skills."""
        from yiyang.core.models import Role
        from yiyang.registry.models import Practitioner

        people = list(Practitioner.objects.filter(organisation=provider, role="caregiver", start_date__lte=self.today,
                                                  end_date__isnull=True).order_by("pk"))
        for p in people:
            skills = p.skill_list
            for skill, having in CATALOGUE_SKILLS.items():
                if skill not in skills and (having is None or set(having) & set(skills)):
                    skills.append(skill)
            if p.account_id is None:
                p.account = _user(f"caregiver-{p.pk}", Role.CAREGIVER, f"护理员 {p.name}", organisation=provider)
            p.skills = ",".join(skills)
            Practitioner.objects.filter(pk=p.pk).update(skills=p.skills, account=p.account)
        return people

    def clients(self, streets, n: int, exclude=()) -> list:
        """Older people at home in the streets, the poor and the old more likely to use the services."""
        from yiyang.registry.models import Elder

        where = Q()
        for code in streets:
            where |= Q(residence_region__code__startswith=code)
        elders = list(Elder.objects.filter(where, status="active", latitude__isnull=False)
                      .exclude(living_situation="institution").exclude(pk__in=exclude)
                      .prefetch_related("categories").order_by("pk"))
        from .models import AllowanceEntry

        credited = set(AllowanceEntry.objects.filter(kind="credit", month=self.today.replace(day=1))
                       .values_list("elder_id", flat=True))
        weights = []
        for e in elders:
            kinds = {c.kind for c in e.categories.all() if c.end_date is None}
            w = 4 if "destitute" in kinds else 3 if kinds & {"subsistence", "near_subsistence"} else 1
            weights.append(w * (2.5 if e.age_on(self.today) >= 80 else 1) * (3 if e.pk in credited else 1))
        self.credited = getattr(self, "credited", set()) | credited
        chosen: list = []
        pool = list(zip(elders, weights, strict=True))
        while pool and len(chosen) < n:
            k = self.rng.choices(range(len(pool)), weights=[w for _e, w in pool])[0]
            chosen.append(pool.pop(k)[0])
        return chosen

    def families(self, elders, share: float) -> None:
        """Some of the people have a son or daughter using the portal (they order, confirm and rate)."""
        from yiyang.core.models import Role
        from yiyang.registry.demo import younger_name
        from yiyang.registry.models import FamilyLink

        for link in FamilyLink.objects.filter(elder__in=elders).select_related("user"):
            self.family_of.setdefault(link.elder_id, link.user)
        for e in elders:
            if e.pk in self.family_of or self.rng.random() >= share:
                continue
            relationship = self.rng.choice(RELATIONSHIPS)
            sex = "M" if relationship in ("son", "son_in_law") else self.rng.choice("MF")
            surname = e.name[0] if relationship == "son" else None
            user = _user(f"family-{e.pk}", Role.FAMILY, f"家属 {younger_name(self.rng, sex, surname)}")
            FamilyLink.objects.get_or_create(user=user, elder=e, defaults={"relationship": relationship})
            self.family_of[e.pk] = user

    def local_staff(self, elder):
        code = elder.residence_region_id
        community, street = self.accounts.get("community"), self.accounts.get("street")
        if community is not None and code.startswith(community.scope_code):
            return community
        if street is not None and code.startswith(street.scope_code):
            return street
        return self.staff.get(code[:9], self.bureau)

    # ------------------------------------------------------------------------------------ planning

    def free(self, caregiver, start, minutes: float) -> bool:
        end = start + datetime.timedelta(minutes=minutes + 30)  # travel to the next visit
        return all(not (a < end and start < b) for a, b in self.busy.get((caregiver.pk, timezone.localdate(start)),
                                                                          ()))

    def pick_caregiver(self, elder, item, start, minutes, team, *, avoid=()):
        skill = item.required_skill
        able = [c for c in team if (not skill or skill in c.skill_list) and c.pk not in avoid
                and c.start_date <= timezone.localdate(start) and self.free(c, start, minutes)]
        if not able:
            return None
        usual = self.regular.get((elder.pk, item.code))
        chosen = usual if usual in able and self.rng.random() < 0.75 else self.rng.choice(able)
        self.regular.setdefault((elder.pk, item.code), chosen)
        self.busy.setdefault((chosen.pk, timezone.localdate(start)), []).append(
            (start, start + datetime.timedelta(minutes=minutes + 30)))
        return chosen

    def quantity(self, item) -> float:
        if item.unit != "hour":
            return 1
        values, weights = zip(*HOURLY_QUANTITIES, strict=True)
        return self.rng.choices(values, weights=weights)[0]

    def start_for(self, item, day: datetime.date) -> datetime.datetime:
        if item.category == "meal":
            return _aware(day, self.rng.choice([11, 11, 17]), self.rng.choice([0, 30]))
        if item.category == "emergency":
            return _aware(day, self.rng.randint(7, 20), self.rng.choice([5, 20, 40]))
        return _aware(day, self.rng.choice([8, 9, 9, 10, 10, 14, 14, 15, 15, 16]), self.rng.choice([0, 30]))

    def fate(self, start) -> str:
        r = self.rng.random()
        for name, p in (("declined", 0.035), ("cancel_requested", 0.03), ("cancel_accepted", 0.012),
                        ("cancel_assigned", 0.03), ("no_show", 0.025)):
            if r < p:
                return name
            r -= p
        return "complete"

    def plan(self, elder, provider, item, start, team, *, fate=None, caregiver=None, placer=None, channel=None,
             avoid=(), **extra) -> _Plan | None:
        qty = self.quantity(item) if "quantity" not in extra else extra.pop("quantity")
        minutes = item.standard_minutes * qty
        fate = fate or self.fate(start)
        if caregiver is None and fate not in ("declined", "requested", "cancel_requested", "accepted",
                                              "cancel_accepted"):
            caregiver = self.pick_caregiver(elder, item, start, minutes, team, avoid=avoid)
            if caregiver is None:
                fate = "declined"  # nobody free with the skill: the provider says so
        elif caregiver is not None:
            self.busy.setdefault((caregiver.pk, timezone.localdate(start)), []).append(
                (start, start + datetime.timedelta(minutes=minutes + 30)))
        family = self.family_of.get(elder.pk)
        if placer is None:
            if family is not None and self.rng.random() < 0.75:
                placer, channel = family, "portal"
            else:
                placer = self.local_staff(elder)
                channel = channel or ("phone" if self.rng.random() < 0.8 else "staff")
        r = self.rng.random()
        extra.setdefault("far", r < 0.015)  # checked in about a kilometre away: flagged
        extra.setdefault("duration", 2.6 if 0.015 <= r < 0.03 else self.rng.uniform(0.85, 1.2))  # 2.6: flagged
        p = _Plan(elder=elder, provider=provider, item=item, start=start, quantity=qty, placer=placer,
                  channel=channel or "phone", caregiver=caregiver, fate=fate,
                  note=ORDER_NOTES.get(item.category, "") if self.rng.random() < 0.3 else "", **extra)
        self.plans.append(p)
        return p

    def days(self, provider, team, elders, per_day: float, items: dict) -> None:
        """Orders over the history and the coming week, for the provider's people. The first few end early,
        one of each way (so that a small demo shows them all too)."""
        codes, weights = zip(*items.items(), strict=True)
        early = ["declined", "cancel_requested", "cancel_accepted", "cancel_assigned", "no_show"]
        first = self.today - datetime.timedelta(days=HISTORY_DAYS)
        for offset in range((self.today - first).days + 8):
            day = first + datetime.timedelta(days=offset)
            n = per_day * (0.6 if day.weekday() >= 5 else 1)
            count = int(n) + (self.rng.random() < n - int(n))
            for _ in range(count):
                elder = self.rng.choice(elders)
                item = self.items[self.rng.choices(codes, weights=weights)[0]]
                start = self.start_for(item, day)
                if (elder.pk, start) in self.taken:
                    continue
                self.taken.add((elder.pk, start))
                self.plan(elder, provider, item, start, team, fate=early.pop(0) if early else None,
                          avoid=(self.zhao.pk,) if day == self.today and provider == self.provider else ())

    # ------------------------------------------------------------------------------------ replaying

    def replay(self, p: _Plan, offers_ok=True) -> object:
        """The order's life through the services, each step at its simulated moment; it stops where the plan
        says, or at the first step whose moment has not come yet."""
        clock, rng = self.clock, self.rng
        now = self.now
        provider_user = self.provider_user if p.provider == self.provider else self.second_user
        family = self.family_of.get(p.elder.pk)
        if p.existing is not None:
            order, placed = p.existing, self.placed_at[p.existing.pk]
        else:
            placed = p.placed or min(p.start - datetime.timedelta(hours=rng.uniform(18, 72)),
                                     now - datetime.timedelta(minutes=rng.randint(20, 600)))
            clock.at(placed)
            order, _created = services.place_order(
                actor=p.placer, elder=p.elder, provider=p.provider, item=p.item, scheduled_start=p.start,
                quantity=p.quantity, channel=p.channel, note=p.note)
            self.placed_at[order.pk] = clock.moment

        def step(moment) -> bool:
            if moment > now:
                return False
            clock.at(moment)
            return True

        t = placed + datetime.timedelta(minutes=rng.randint(10, 90))
        if p.fate == "requested":
            return order
        if p.fate == "cancel_requested":
            if step(placed + datetime.timedelta(hours=rng.uniform(1, 12))):
                order = services.cancel_order(actor=p.placer, order=order, reason=rng.choice(CANCEL_BY_PLACER))
            return order
        if p.fate == "declined":
            if step(t):
                order = services.decline_order(actor=provider_user, order=order, reason=rng.choice(DECLINE_REASONS))
            return order
        if not step(t):
            return order
        order = services.accept_order(actor=provider_user, order=order)
        if p.fate == "accepted":
            return order
        if p.fate == "cancel_accepted":
            if step(t + datetime.timedelta(hours=rng.uniform(1, 6))):
                order = services.cancel_order(actor=provider_user, order=order, reason=CANCEL_BY_PROVIDER[0])
            return order
        t += datetime.timedelta(minutes=rng.randint(5, 120))
        if not step(min(t, p.start - datetime.timedelta(minutes=30))):
            return order
        order = services.assign_order(actor=provider_user, order=order, caregiver=p.caregiver)
        if p.fate == "assigned":
            return order
        if p.fate == "cancel_assigned":
            if step(p.start - datetime.timedelta(hours=rng.uniform(1, 10))):
                order = services.cancel_order(actor=family or p.placer, order=order,
                                              reason=rng.choice(CANCEL_BEFORE_VISIT))
            return order
        caregiver = p.caregiver.account
        if p.fate == "no_show":
            if step(p.start + datetime.timedelta(minutes=rng.randint(15, 40))):
                order = services.mark_no_show(actor=caregiver, order=order, reason=rng.choice(NO_SHOW_REASONS))
            return order
        arrive = p.start + datetime.timedelta(minutes=rng.randint(-10, 12))
        if not step(arrive):
            return order
        lat, lon = float(p.elder.latitude), float(p.elder.longitude)
        if p.far:
            lat, lon = lat + 0.011, lon - 0.004  # about 1.3 km away: flagged
        order = services.check_in(actor=caregiver, order=order, at=arrive, latitude=round(lat + rng.uniform(
            -0.0002, 0.0002), 6), longitude=round(lon + rng.uniform(-0.0002, 0.0002), 6))
        if p.fate == "checked_in":
            return order
        leave = arrive + datetime.timedelta(minutes=p.item.standard_minutes * float(p.quantity) * p.duration)
        if not step(leave):
            return order
        order = services.check_out(actor=caregiver, order=order, at=leave, latitude=round(lat, 6),
                                   longitude=round(lon, 6), notes=NOTES.get(p.item.category, ""))
        if p.photo or (now - leave < datetime.timedelta(days=21) and rng.random() < 0.25):
            order = services.attach_photo(actor=caregiver, order=order, photo=_photo(rng),
                                          client_key=f"demo-photo-{order.pk}")
        if p.fate == "checked_out":
            return order
        confirmer = family if family is not None and (p.by_family or rng.random() < 0.85) else self.local_staff(
            p.elder)
        if not step(leave + datetime.timedelta(hours=rng.uniform(1, 26))):
            return order
        order = services.confirm_order(actor=confirmer, order=order,
                                       note="" if confirmer is family else "电话回访老人，确认已服务")
        if p.fate == "confirmed" or family is None or (not p.by_family and rng.random() < 0.12):
            return order
        if not step(self.clock.moment + datetime.timedelta(hours=rng.uniform(0.1, 40))):
            return order
        score = rng.choices([5, 4, 3, 2, 1], weights=[62, 27, 6, 3, 2])[0]
        return services.rate_order(actor=family, order=order, rating=score, comment=rng.choice(COMMENTS[score]))


def _photo(rng: random.Random) -> bytes:
    """A small PNG standing in for the caregiver's photo of the visit (a plain colour, 64 × 48)."""
    import struct
    import zlib

    colour = bytes(rng.randrange(120, 230) for _ in range(3))
    raw = b"".join(b"\x00" + colour * 64 for _ in range(48))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _shifts(h: _History, teams: list) -> int:
    """This week's rota (Monday to a week from today): day shifts on weekdays, half the team at weekends;
    赵桂兰's shift today covers all her visits."""
    from datetime import time

    monday = h.today - datetime.timedelta(days=h.today.weekday())
    h.shifts_made = h.clock.at(_aware(monday - datetime.timedelta(days=3), 16, 30))  # made on the Friday before
    zhao_end = max((p.start + datetime.timedelta(minutes=p.item.standard_minutes * float(p.quantity))
                    for p in h.plans if "zhao_today" in p.tags), default=None)
    count = 0
    for provider_user, team in teams:
        for k, caregiver in enumerate(team):
            for offset in range((h.today - monday).days + 8):
                day = monday + datetime.timedelta(days=offset)
                if (day.weekday() >= 5 and (k + day.toordinal()) % 2) or caregiver.start_date > day:
                    continue
                start, end = (time(7, 30), time(16, 0)) if (k + offset) % 3 == 0 else (time(8, 30), time(17, 30))
                if caregiver.pk == h.zhao.pk and day == h.today and zhao_end is not None:
                    local_end = timezone.localtime(zhao_end)
                    if local_end.date() == day and local_end.time() > end:
                        end = time(min(local_end.hour + 1, 23), 30 if local_end.hour < 23 else 59)
                services.set_shift(actor=provider_user, caregiver=caregiver, day=day, start=start, end=end,
                                   note="周末值班" if day.weekday() >= 5 else "")
                count += 1
    return count


def _recurring(h: _History, provider, team, elders, rules) -> int:
    """Standing orders set up weeks ago (every Monday, Wednesday and Friday a meal …); the daily task placed
    their orders a week ahead, and the visits went on like any other."""
    from .models import Order, RecurringOrder

    made = 0
    with_family = [e for e in elders if e.pk in h.family_of]
    without = [e for e in elders if e.pk not in h.family_of]
    for code, weekdays, at, ago, channel in rules:
        pool = with_family if channel == "portal" else without
        if not pool:
            continue
        elder = h.rng.choice(pool)
        pool.remove(elder)
        actor = h.family_of[elder.pk] if channel == "portal" else h.local_staff(elder)
        starts = h.today - datetime.timedelta(days=ago)
        h.clock.at(_aware(starts - datetime.timedelta(days=2), 10, 20))
        item = h.items[code]
        rule = services.create_recurring(actor=actor, elder=elder, provider=provider, item=item, weekdays=weekdays,
                                         time=at, starts_on=starts, channel=channel, note=ORDER_NOTES.get(
                                             item.category, ""))
        RecurringOrder.objects.filter(pk=rule.pk).update(created_at=h.clock.moment)
        orders = Order.objects.filter(client_key__startswith=f"recurring:{rule.pk}:")
        known: set[int] = set()
        day = starts
        while True:
            for pk in orders.exclude(pk__in=known).values_list("pk", flat=True):
                h.placed_at[pk] = h.clock.moment
                known.add(pk)
            if day > h.today:
                break
            h.clock.at(_aware(day, 6, 0))  # the daily task, at six in the morning (a week ahead)
            services.generate_recurring_orders(until=day + datetime.timedelta(days=7), today=day, recurring=[rule])
            day += datetime.timedelta(days=7)
        for order in orders.select_related("item").order_by("scheduled_start"):
            h.plan(elder, provider, order.item, order.scheduled_start, team, existing=order, placer=actor,
                   channel=order.channel, quantity=float(order.quantity))
            made += 1
    return made


def _follow_ups(h: _History, month: datetime.date, last_full: bool) -> tuple[int, int]:
    """On the 1st the bureau samples a tenth of last month's completed orders for 回访; street and community
    workers call them on the 1st and 2nd (of the last full month a third are still to call)."""
    from .models import FollowUpCall

    following = _month_start(month, 1)
    h.clock.at(_aware(following, 9, 0))
    calls = services.sample_follow_ups(actor=h.bureau, jurisdiction=h.ctx.county, month=month, rate="0.1",
                                       seed=h.ctx.seed)
    FollowUpCall.objects.filter(pk__in=[c.pk for c in calls]).update(sampled_at=h.clock.moment)
    done = 0
    for k, call in enumerate(calls):
        if last_full and k % 3 == 0:
            continue
        h.clock.at(_aware(following + datetime.timedelta(days=k % 2), 9 + k % 8, 10 * (k % 6)))
        r = h.rng.random()
        elder = call.order.elder
        staff = h.local_staff(elder)
        if r < 0.12:
            services.record_follow_up(actor=staff, call=call, outcome="unreachable", note="电话两次无人接听")
        elif r < 0.15:
            services.record_follow_up(actor=staff, call=call, outcome="refused", note="老人表示不需要回访")
        else:
            score = h.rng.choices([5, 4, 3, 2], weights=[58, 30, 9, 3])[0]
            issues = {3: "护理员有时迟到", 2: "服务时间不足，家里没打扫干净"}.get(score, "")
            services.record_follow_up(actor=staff, call=call, outcome="reached", satisfaction=score, issues=issues,
                                      note="本人接听" if h.rng.random() < 0.6 else "家属代为回答")
        done += 1
    return len(calls), done


def _month_start(day: datetime.date, k: int = 0) -> datetime.date:
    month = day.year * 12 + day.month - 1 + k
    return datetime.date(month // 12, month % 12 + 1, 1)


@demo_step
def services_orders(ctx, log) -> None:
    from yiyang.registry.models import Elder

    from .models import AllowanceEntry, CaregiverShift, Order, OrderEvent, OrderFlag, Settlement

    provider_user = ctx.accounts.get("provider")
    if provider_user is None or ctx.accounts.get("bureau") is None:
        log("services orders: no demo provider or bureau account, skipped")
        return
    if Order.objects.filter(provider_id=provider_user.organisation_id).exists():
        log("services orders: the provider already has orders, left as they are")
        return
    clock = _Clock(timezone.now())
    h = _History(ctx, log, clock)
    team = h.caregivers(h.provider)
    zhao = next((c for c in team if c.account_id == getattr(ctx.accounts.get("caregiver"), "pk", None)), None)
    if zhao is None or not team:
        log("services orders: the provider has no caregivers (or none is the caregiver account), skipped")
        return
    h.zhao = zhao
    family_user = ctx.accounts.get("family")
    family_elder = Elder.objects.filter(family_links__user=family_user).first() if family_user else None
    elders = h.clients(PROVIDER_STREETS, 140, exclude=[family_elder.pk] if family_elder else [])
    h.families(elders + ([family_elder] if family_elder else []), 0.45)

    if h.second is not None:
        _second_provider_offers(h)

    with mock.patch("django.utils.timezone.now", clock), _without_savepoints():
        today = h.today
        # 何玉兰 (the family account's mother): a bath every week, cleaning every other week, by her son on the
        # portal; yesterday's bath waits for his 确认, the day before's cleaning for his 评价.
        if family_elder is not None:
            weekday = 2
            first = today - datetime.timedelta(days=HISTORY_DAYS)
            for offset in range(HISTORY_DAYS + 8):
                day = first + datetime.timedelta(days=offset)
                if day.weekday() != weekday or today - datetime.timedelta(days=3) <= day <= today:
                    continue
                h.plan(family_elder, h.provider, h.items["bath-home"], _aware(day, 9, 30), team, placer=family_user,
                       channel="portal", fate="complete" if day < today else "assigned", far=False, duration=1.0,
                       by_family=True)
                if (day - first).days % 14 < 7:
                    h.plan(family_elder, h.provider, h.items["cleaning-hour"], _aware(day, 14, 30), team,
                           placer=family_user, channel="portal", quantity=1, far=False, duration=1.0,
                           fate="complete" if day < today else "accepted", by_family=True)
            yesterday, before = today - datetime.timedelta(days=1), today - datetime.timedelta(days=2)
            h.plan(family_elder, h.provider, h.items["bath-home"], _aware(yesterday, 9, 30), team, far=False,
                   placer=family_user, channel="portal", fate="checked_out", duration=1.0, tags={"to_confirm"},
                   photo=True)
            h.plan(family_elder, h.provider, h.items["cleaning-hour"], _aware(before, 14, 30), team, quantity=1,
                   placer=family_user, channel="portal", fate="confirmed", duration=1.0, far=False,
                   tags={"to_rate"})
        _caregiver_day(h, team, elders)
        recurring = _recurring(h, h.provider, team, elders, RECURRING)
        # People with a monthly service allowance (服务补贴) draw on it: a visit a few days ago for some of them.
        for k, elder in enumerate([e for e in elders if e.pk in h.credited][:4]):
            h.plan(elder, h.provider, h.items[["bath-home", "cleaning-hour", "nursing-basic", "companion"][k]],
                   _aware(today - datetime.timedelta(days=3 + k), 10, 0), team, fate="complete", quantity=1)
        # About 560 orders at the default scale (1/20), fewer for the small cities of the tests.
        volume = min(1.0, max(0.35, (ctx.scale * 20) ** 0.5))
        h.days(h.provider, team, elders, 4.5 * volume, ITEM_MIX)
        second_team = []
        if h.second is not None:
            second_team = h.caregivers(h.second)
            second_elders = h.clients(SECOND_STREETS[:1], 30)
            h.families(second_elders, 0.3)
            if second_team and second_elders:
                recurring += _recurring(h, h.second, second_team, second_elders, SECOND_RECURRING)
                h.days(h.second, second_team, second_elders, 1.2 * volume,
                       {c: ITEM_MIX.get(c, 5) for c in SECOND_ITEMS})

        teams = [(h.provider_user, team)] + ([(h.second_user, second_team)] if h.second is not None else [])
        shifts = _shifts(h, teams)
        h.plans.sort(key=lambda p: (p.start, p.elder.pk))
        orders = [h.replay(p) for p in h.plans]
        settlements = _settle(h)

    # The fields stamped by a default that captured the real clock, moved to their moment.
    placed = [Order(pk=pk, created_at=at) for pk, at in h.placed_at.items()]
    Order.objects.bulk_update(placed, ["created_at"], batch_size=500)
    events = list(OrderEvent.objects.filter(from_status="", order_id__in=h.placed_at).only("pk", "order_id"))
    for e in events:
        e.at = h.placed_at[e.order_id]
    OrderEvent.objects.bulk_update(events, ["at"], batch_size=500)
    flags = list(OrderFlag.objects.filter(order_id__in=h.placed_at).select_related("order"))
    for f in flags:
        f.created_at = f.order.check_out_at or f.order.check_in_at or f.order.updated_at
    OrderFlag.objects.bulk_update(flags, ["created_at"], batch_size=500)
    Settlement.objects.filter(pk__in=[s.pk for s in settlements]).update(created_at=F("prepared_at"))
    CaregiverShift.objects.filter(created_by__in=[u for u, _t in teams]).update(created_at=h.shifts_made)
    debits = list(AllowanceEntry.objects.filter(order_id__in=h.placed_at).select_related("order"))
    for entry in debits:
        entry.created_at = h.placed_at[entry.order_id] if entry.kind == "debit" else entry.order.updated_at
    AllowanceEntry.objects.bulk_update(debits, ["created_at"], batch_size=500)

    by_status = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).order_by().values_list("status")
                     .annotate(n=Count("pk")))
    log(f"services orders: {len(orders)} orders {today - datetime.timedelta(days=HISTORY_DAYS)} to "
        f"{today + datetime.timedelta(days=7)} for {len(elders)} people of {h.provider.name}"
        + (f" and {h.second.name}" if h.second else "") + ": "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + f"; {len(flags)} flags, {shifts} shifts")
    funded = Order.objects.filter(pk__in=h.placed_at, allowance__gt=0).count()
    log(f"services orders: {recurring} orders from standing orders, {funded} paid in part from the service "
        f"allowance, {h.follow_ups[0]} follow-up calls sampled ({h.follow_ups[1]} made)")
    log("services orders: statements " + ", ".join(
        f"{s.provider.name[-8:]} {s.month:%Y-%m} {s.get_status_display()} {s.order_count} 单 {s.total} 元"
        for s in settlements))
    mine = sorted((o for o in orders if o.caregiver_id == zhao.pk and timezone.localdate(o.scheduled_start) == today),
                  key=lambda o: o.scheduled_start)
    log("services orders: 赵桂兰 today: " + ", ".join(
        f"{timezone.localtime(o.scheduled_start):%H:%M} {o.item.name} {o.get_status_display()}" for o in mine))


def _second_provider_offers(h: _History) -> None:
    from decimal import ROUND_HALF_UP, Decimal

    from yiyang.core.models import Region

    streets = list(Region.objects.filter(code__in=SECOND_STREETS))
    for code in SECOND_ITEMS:
        item = h.items[code]
        if ProviderOffer.objects.filter(provider=h.second, item=item).exists():
            continue
        ceiling = ServicePrice.objects.filter(item=item, jurisdiction=h.ctx.county).order_by("-valid_from").first()
        if ceiling is None:
            continue
        price = (ceiling.inclusive_price * Decimal("0.95")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        services.declare_offer(actor=h.second_user, provider=h.second, item=item, streets=streets, price=price,
                               valid_from=_start())


def caregiver_slots(minutes_now: int) -> list[tuple[int, str, float]]:
    """赵桂兰's visits today as (minute of the day, item code, quantity), in time order: CAREGIVER_DAY, except
    that when the demo is built late in the day the latest visits already past move after now (75 minutes
    apart, after those still to come) so that two are still to come; too close to midnight the day stays as
    planned, all done."""
    slots = [(hour * 60 + minute, code, qty) for hour, minute, code, qty in CAREGIVER_DAY]
    upcoming = [s for s in slots if s[0] > minutes_now + 15]
    need = 2 - len(upcoming)
    if need <= 0:
        return slots
    done = slots[:len(slots) - len(upcoming)]
    start = max([minutes_now + 30] + [s[0] + 75 for s in upcoming])
    moved = [((start + 75 * k) // 5 * 5, code, 1) for k, (_m, code, _q) in enumerate(done[-need:])]
    if moved[-1][0] > 23 * 60 + 30:
        return slots
    return sorted(done[:-need] + upcoming + moved)


def _caregiver_day(h: _History, team, elders) -> None:
    """赵桂兰's visits today (the earlier ones done when the demo is built later in the day, at least two still
    to come), one visit in progress elsewhere, and new orders for the provider to handle."""
    today, now, rng = h.today, h.now, h.rng
    local = timezone.localtime(now)
    slots = caregiver_slots(local.hour * 60 + local.minute)
    nearby = [e for e in elders if e.residence_region_id.startswith(("511903001", "511903002"))] or elders
    people = rng.sample(nearby, min(len(slots), len(nearby)))
    for (minute, code, qty), elder in zip(slots, people, strict=False):
        start = _aware(today, minute // 60, minute % 60)
        h.plan(elder, h.provider, h.items[code], start, team, caregiver=h.zhao, fate="complete", quantity=qty,
               far=False, duration=1.0, tags={"zhao_today"})
    others = [c for c in team if c.pk != h.zhao.pk]
    # Someone checked in a few minutes ago (an emergency call at night, a care visit in the day).
    code = "nursing-basic" if 7 <= local.hour < 20 else "emergency-visit"
    start = (now - datetime.timedelta(minutes=20)).replace(second=0, microsecond=0)
    able = [c for c in others if h.items[code].required_skill in c.skill_list
            and c.start_date < today] or [c for c in others if c.start_date < today]
    if able:
        h.plan(rng.choice(elders), h.provider, h.items[code], start, team, caregiver=able[0], fate="checked_in",
               quantity=1, far=False, duration=1.0)
    # New orders: two waiting to be accepted, one accepted and waiting for a caregiver.
    for k, (fate, start) in enumerate(zip(("requested", "requested", "accepted"), new_order_starts(now),
                                          strict=True)):
        placed = now - datetime.timedelta(minutes=150 if fate == "accepted" else 40 - 10 * k)
        h.plan(rng.choice(elders), h.provider, h.items[["cleaning-hour", "bath-home", "shopping"][k]],
               start, team, fate=fate, placed=placed)


def new_order_starts(now: datetime.datetime) -> list[datetime.datetime]:
    """When the three new orders of the demo are booked for: on the hour from three hours ahead, within
    09:00–17:00 today, else tomorrow at 09:00, 11:00 and 13:00. Local time throughout (the demo may be built
    at any hour)."""
    today = timezone.localdate(now)
    later = timezone.localtime(now + datetime.timedelta(hours=3))
    if later.date() == today and later.hour < 16:
        first = max(later.hour, 9)
        return [_aware(today, first + k) for k in range(3)]
    return [_aware(today + datetime.timedelta(days=1), 9 + 2 * k) for k in range(3)]


def _settle(h: _History) -> list:
    """Each month's statement of each provider, prepared on the 3rd of the next month and approved on the
    8th; the last full month is prepared but left for the bureau to approve."""
    from .models import Settlement

    this_month = h.today.replace(day=1)
    first = (h.today - datetime.timedelta(days=HISTORY_DAYS)).replace(day=1)
    out = []
    providers = [h.provider] + ([h.second] if h.second is not None else [])
    month = first
    h.follow_ups = [0, 0]
    while month < this_month:
        following = _month_start(month, 1)
        sampled, called = _follow_ups(h, month, following == this_month)
        h.follow_ups[0] += sampled
        h.follow_ups[1] += called
        for provider in providers:
            candidates = services.settlement_orders(provider=provider, jurisdiction=h.ctx.county, month=month)
            if not candidates.exists():
                continue
            h.clock.at(_aware(following + datetime.timedelta(days=2), 9, 30))
            s = services.prepare_settlement(actor=h.bureau, provider=provider, month=month)
            if following < this_month:
                h.clock.at(_aware(following + datetime.timedelta(days=7), 10, 15))
                s = services.approve_settlement(actor=h.bureau, settlement=s)
            out.append(Settlement.objects.select_related("provider").get(pk=s.pk))
        month = following
    return out
