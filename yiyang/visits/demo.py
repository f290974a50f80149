"""Demo data of the visits app (关爱巡访, issue 15): 恩阳区's tier rules, its visitors and 包联 pairings, and three
past months of tasks and visits up to today.

The rules (the model tiers of defaults.py) are adopted from the first of the three past months. Every community
of the county gets a 网格员, a 村/社区干部, a 护老员 and a volunteer, every street a social worker; everyone a tier
places is paired with a responsible visitor and a backup. Each month's tasks are generated as the task worker
would have on the 1st (`generation.generate_tasks(now=<the 1st>)`); the visits are written set-based (thousands
of them: a service call each would take minutes) and the tasks are then closed from the records in SQL, so that
done_at, counts and failed_attempts agree with what `record_visit` would have written. The visits that do more
than close a task go through `services.record_visit` at their moment (the clock simulated as in the services
demo): three visits not finding someone at home raising a task for the community, needs that became service
orders with the demo provider, and assessment requests.

The `visitor` account (网格员 of 登科寺社区) has today: this window's visits, a family's request raised
yesterday evening and due today, and one visit overdue. Nothing is dated after the real now.
"""

from __future__ import annotations

import datetime
import random

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from yiyang.core import audit
from yiyang.core.demo import DEMO_COMMUNITY, DEMO_COUNTY, DEMO_PASSWORD, clock_at, demo_step
from yiyang.core.models import AuditAction, Region, Role, User

from . import generation, rules, services
from .defaults import MODEL_TIERS
from .models import (
    Outcome,
    Pairing,
    TaskKind,
    TaskStatus,
    TierRuleSet,
    Trigger,
    VisitMethod,
    Visitor,
    VisitorKind,
    VisitRecord,
    VisitTask,
)

HISTORY_MONTHS = 3
# Each past month's share of tasks done (rising as the visitors settle in): 94–98 % is what a county that
# takes 民发〔2022〕73号 seriously reaches; the rest are the overdue the street chases.
MONTH_RATES = (0.953, 0.962, 0.971)
LATE_SHARE = 0.02          # done, but after the window closed
FAILED_ONCE = 0.03         # one visit found nobody home before the one that saw them
FAILED_TWICE = 0.006
BACKUP_SHARE = 0.08        # the backup went instead (leave, illness)
GENERAL_BY_PHONE = 0.3     # the quarterly tier may be done by phone
KEY_PHONE_CALLS = 0.04     # a call between home visits (does not count for the key tier)
VISITOR_ACCOUNT = "visitor"
VISITOR_NAME = "陈晓燕"
COMMUNITY_KINDS = (VisitorKind.GRID_WORKER, VisitorKind.CADRE, VisitorKind.CARE_HELPER, VisitorKind.VOLUNTEER)
# Who is responsible for whom: the high and key tiers go to the grid worker and the 护老员, the quarterly tier
# to the cadre and the volunteer too.
RESPONSIBLE = {"high": (0, 2), "key": (0, 2, 0, 1), "general": (1, 3, 0)}
SEEN = ["本人", "本人", "本人", "本人及老伴", "本人，女儿在场", "本人，邻居在场"]
NOTES_OK = ["身体状况稳定，精神较好，家中整洁", "血压自测正常，按时服药", "饮食正常，冰箱有新鲜蔬菜",
            "老人在院坝晒太阳，交谈正常", "燃气阀门已关好，电线无老化", "子女每周来电，情绪稳定", ""]
NOTES_CONCERN = {"falls": "卫生间地面湿滑，建议加装扶手", "gas": "燃气软管老化，已提醒更换",
                 "medication": "降压药快吃完，提醒子女购药", "mood": "老伴去世后情绪低落，需多陪伴",
                 "food": "独自做饭困难，常吃剩饭", "hygiene": "被褥较久未换洗"}
PHONE_NOTES = ["电话联系本人，身体无异常", "电话询问近况，说话清楚，情绪正常"]
NOT_HOME_NOTES = ["敲门无人应答，邻居说去赶集了", "家中无人，电话未接通", "老人去子女家了，邻居告知"]


def _aware(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _history_start() -> datetime.date:
    return rules.add_months(rules.month_start(timezone.localdate()), -HISTORY_MONTHS)


# ------------------------------------------------------------------------------------------------ people


@demo_step
def visits_people(ctx, log) -> None:
    from yiyang.registry.demo import younger_name

    bureau = ctx.accounts.get("bureau")
    if bureau is None:
        log("visits: no demo bureau account, skipped")
        return
    if TierRuleSet.objects.filter(jurisdiction=ctx.county).exists():
        existing = User.objects.filter(username=VISITOR_ACCOUNT, role=Role.VISITOR).first()
        if existing is not None:
            ctx.accounts[VISITOR_ACCOUNT] = existing
        log("visits: 恩阳区 already has tier rules, left as they are")
        return
    rng = random.Random(f"yiyang.visits.demo:{ctx.seed}:people")
    start = _history_start()
    with clock_at(_aware(start, 9) - datetime.timedelta(days=10)):
        rule_set = services.draft_rule_set(actor=bureau, jurisdiction=ctx.county, params=MODEL_TIERS,
                                           valid_from=start, source="民发〔2022〕73号；MZ/T 237-2024",
                                           note="按特殊困难老年人分级巡访：高风险每周、重点每月、一般每季度")
        services.adopt_rule_set(actor=bureau, rule_set=rule_set)
    TierRuleSet.objects.filter(pk=rule_set.pk).update(created_at=_aware(start, 9) - datetime.timedelta(days=12))

    # The visitor account first, so that it is the first 网格员 of the demo community.
    community = Region.objects.get(code=DEMO_COMMUNITY)
    user = User.objects.filter(username=VISITOR_ACCOUNT).first() or User(username=VISITOR_ACCOUNT)
    user.role, user.region, user.organisation = Role.VISITOR, community, None
    user.display_name = f"网格员 {VISITOR_NAME}"
    user.set_password(DEMO_PASSWORD)
    user.full_clean(exclude=["password", "id_number"])
    user.save()
    ctx.accounts[VISITOR_ACCOUNT] = user

    # Communities of the county that have anyone at home, each with its four visitors, and a social worker per
    # street (乡镇社工站). Set-based: a thousand accounts through the services would take a minute.
    from yiyang.registry.demo import mobile

    codes = sorted(Region.objects.filter(code__startswith=DEMO_COUNTY, level="community").values_list(
        "code", flat=True))
    streets = sorted({c[:9] for c in codes})
    specs: list[tuple[str, str, str]] = []  # (region, kind, name)
    for street in streets:
        specs.append((street, VisitorKind.SOCIAL_WORKER, younger_name(rng, rng.choice("FM"))))
    for code in codes:
        for kind in COMMUNITY_KINDS:
            sex = "F" if kind == VisitorKind.CARE_HELPER and rng.random() < 0.8 else rng.choice("FM")
            name = VISITOR_NAME if (code, kind) == (DEMO_COMMUNITY, VisitorKind.GRID_WORKER) else younger_name(rng, sex)
            specs.append((code, kind, name))
    unusable = make_password(None)
    users = []
    for i, (region, kind, name) in enumerate(specs):
        if (region, kind) == (DEMO_COMMUNITY, VisitorKind.GRID_WORKER):
            users.append(user)
            continue
        users.append(User(username=f"visitor-{region}-{i}", role=Role.VISITOR, region_id=region,
                          scope_code=region, display_name=f"{VisitorKind(kind).label} {name}", password=unusable))
    User.objects.bulk_create([u for u in users if u.pk is None], batch_size=500)
    by_name = dict(User.objects.filter(username__startswith="visitor-").values_list("username", "pk"))
    joined = _aware(start, 9) - datetime.timedelta(days=7)
    visitors = [Visitor(name=name, kind=kind, phone=mobile(rng), region_id=region, region_code=region,
                        user_id=u.pk or by_name[u.username], created_at=joined)
                for (region, kind, name), u in zip(specs, users, strict=True)]
    Visitor.objects.bulk_create(visitors, batch_size=500)
    audit.record(actor=bureau, action=AuditAction.IMPORT, object_type="visits.visitor", object_repr="演示城市",
                 region_code=DEMO_COUNTY, detail=f"演示数据：巡访员 {len(visitors)} 名")

    pairs = _pair_everyone(ctx, rng, start)
    log(f"visits: tier rules v{rule_set.version} adopted from {start:%Y-%m} ({rule_set.source}); "
        f"{len(visitors)} visitors in {len(codes)} communities and {len(streets)} streets; {pairs} people paired; "
        f"`visitor` is {VISITOR_NAME} (网格员, 登科寺社区, password {DEMO_PASSWORD})")


def _pair_everyone(ctx, rng: random.Random, since: datetime.date) -> int:
    """Everyone a tier places this month (and in the history's first month) with a responsible visitor of
    their community and a backup: another visitor there, the street's social worker for the high tier."""
    params = rules.parse(MODEL_TIERS)
    month = rules.month_start(timezone.localdate())
    tiers: dict[int, tuple[str, str]] = {}
    for m in (since, month):
        place = generation.placement(params, month=m, area_code=DEMO_COUNTY)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT f.elder_id, f.tier, f.region_code FROM ({place.sql}) f "
                           f"WHERE f.tier IS NOT NULL ORDER BY f.elder_id", place.params)
            for elder_id, tier, region in cursor.fetchall():
                tiers.setdefault(elder_id, (tier, region))
    crew: dict[str, list[Visitor]] = {}
    for v in Visitor.objects.filter(region_code__startswith=DEMO_COUNTY).order_by("pk"):
        crew.setdefault(v.region_code, []).append(v)
    social = {code: vs[0] for code, vs in crew.items() if len(code) == 9}
    from yiyang.registry.models import Elder

    family_elder = Elder.objects.filter(family_links__user=ctx.accounts.get("family")).values_list(
        "pk", flat=True).first()
    visitor_user = ctx.accounts[VISITOR_ACCOUNT]
    pairings = []
    for elder_id, (tier, region) in sorted(tiers.items()):
        # The community's grid worker, cadre, care helper and volunteer (a person registered at street level
        # goes to the street's first community).
        team = crew.get(region) or next((vs for c, vs in sorted(crew.items()) if len(c) == 12
                                         and c.startswith(region[:9])), [])
        if len(team) < 2:
            continue
        if region == DEMO_COMMUNITY and (elder_id == family_elder or tier in ("high", "key")):
            responsible = next(v for v in team if v.user_id == visitor_user.pk)
        else:
            responsible = team[rng.choice(RESPONSIBLE[tier])]
        if tier == "high" and region[:9] in social:
            backup = social[region[:9]]
        else:
            backup = rng.choice([v for v in team if v.pk != responsible.pk])
        pairings.append(Pairing(elder_id=elder_id, visitor=responsible, backup=backup, since=since,
                                region_code=region, county_code=region[:6]))
    Pairing.objects.bulk_create(pairings, batch_size=1000)
    # Tasks raised before anyone was paired (a service not delivered) follow the responsible visitor.
    from django.db.models import Exists, OuterRef, Subquery

    current = Pairing.objects.filter(elder=OuterRef("elder"), until__isnull=True)
    VisitTask.objects.filter(status=TaskStatus.OPEN, visitor__isnull=True).filter(Exists(current)).update(
        visitor_id=Subquery(current.values("visitor_id")[:1]))
    audit.record(actor=ctx.accounts["bureau"], action=AuditAction.IMPORT, object_type="visits.pairing",
                 object_repr="演示城市", region_code=DEMO_COUNTY, detail=f"演示数据：包联 {len(pairings)} 人")
    return len(pairings)


# ------------------------------------------------------------------------------------------------ history


@demo_step
def visits_history(ctx, log) -> None:
    if VISITOR_ACCOUNT not in ctx.accounts or not Pairing.objects.exists():
        log("visits history: no pairings, skipped")
        return
    if VisitRecord.objects.exists():
        log("visits history: visits already recorded, left as they are")
        return
    h = _History(ctx)
    h.generate()
    h.special_visits()
    h.bulk_visits()
    h.visitor_today()
    _follow_ups_at_their_moment()
    services.remind_and_escalate(now=h.now)
    h.report(log)


class _History:
    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = random.Random(f"yiyang.visits.demo:{ctx.seed}:history")
        self.now = timezone.now()
        self.today = timezone.localdate(self.now)
        self.month = rules.month_start(self.today)
        self.start = _history_start()
        self.months = [rules.add_months(self.start, k) for k in range(HISTORY_MONTHS)]
        self.visitor_user = ctx.accounts[VISITOR_ACCOUNT]
        self.me = Visitor.objects.get(user=self.visitor_user)
        self.pairing = {p.elder_id: p for p in Pairing.objects.filter(until__isnull=True).select_related(
            "visitor", "backup")}
        self.special: set[int] = set()  # tasks whose visits went through record_visit
        self.made = 0

    def generate(self) -> None:
        # As the task worker would have on each 1st, then this month's (windows already over are left out).
        for month in self.months:
            self.made += generation.generate_tasks(month=month, now=generation.day_start(month))
        self.made += generation.generate_tasks(month=self.month, now=self.now)

    # -------------------------------------------------------------------------------- through the services

    def _record(self, task: VisitTask, when: datetime.datetime, *, user=None, outcome=Outcome.SEEN,
                method=VisitMethod.HOME, follow_ups=None, notes="", checklist=None):
        elder = task.elder
        user = user or self.pairing[elder.pk].visitor.user
        lat = lon = None
        if method == VisitMethod.HOME and elder.latitude is not None:
            lat, lon = f"{float(elder.latitude) + 0.0002:.6f}", f"{float(elder.longitude) - 0.0001:.6f}"
        with clock_at(when):
            record, _created = services.record_visit(
                actor=user, elder=elder, method=method, outcome=outcome, visited_at=when, task=task,
                latitude=lat, longitude=lon, seen=self.rng.choice(SEEN) if outcome == Outcome.SEEN else "",
                checklist=checklist or (_all_ok() if outcome == Outcome.SEEN else {}),
                notes=notes or (self.rng.choice(NOTES_OK) if outcome == Outcome.SEEN
                                else self.rng.choice(NOT_HOME_NOTES)),
                follow_ups=follow_ups)
        VisitRecord.objects.filter(pk=record.pk).update(created_at=when + datetime.timedelta(minutes=3))
        self.special.add(task.pk)
        return record

    def _pick(self, qs, k: int, exclude_elders=()) -> list[VisitTask]:
        found, elders = [], set(exclude_elders)
        for pk, elder_id in qs.order_by("pk").values_list("pk", "elder_id"):
            if elder_id in elders or pk in self.special or elder_id not in self.pairing:
                continue
            found.append(pk)
            elders.add(elder_id)
        self.rng.shuffle(found)
        chosen = {t.pk: t for t in VisitTask.objects.filter(pk__in=found[:k]).select_related("elder")}
        return [chosen[pk] for pk in found[:k]]

    def special_visits(self) -> None:
        scheduled = VisitTask.objects.filter(kind=TaskKind.SCHEDULED, status=TaskStatus.OPEN)
        mine = set(Pairing.objects.filter(visitor=self.me, until__isnull=True).values_list("elder_id", flat=True))
        # 不在家 three times: the third raises a task for the community, the backup goes the next day and finds
        # the person (in hospital, back home), the responsible visitor sees them before the window ends.
        self.failed = []
        month_tasks = scheduled.filter(tier="key", period_month__in=self.months[1:])
        for task in self._pick(month_tasks, 3, exclude_elders=mine):
            first = task.window_start + datetime.timedelta(days=3, hours=9)
            for k in range(3):
                self._record(task, first + datetime.timedelta(days=2 * k, hours=k), outcome=Outcome.NOT_HOME)
            raised = VisitTask.objects.get(trigger=Trigger.FAILED_ATTEMPTS, trigger_ref=f"task:{task.pk}")
            VisitTask.objects.filter(pk=raised.pk).update(created_at=raised.window_start)
            backup = self.pairing[task.elder_id].backup
            self._record(raised, raised.window_start + datetime.timedelta(hours=6), user=backup.user,
                         notes="到村卫生室了解，老人前几天住院，已回家，身体恢复中")
            self._record(task, raised.window_start + datetime.timedelta(days=3),
                         notes="出院后第一次上门，行动稍慢，已叮嘱家属多照看")
            self.special.add(raised.pk)
            self.failed.append(task)
        # Needs found on recent visits that became orders with the demo provider (its streets only), booked
        # for the coming days.
        self.orders = []
        provider = getattr(self.ctx.accounts.get("provider"), "organisation", None)
        if provider is not None:
            from yiyang.services.models import ProviderOffer

            offers = {o.item.code: o.item for o in ProviderOffer.objects.filter(provider=provider)
                      .select_related("item")}
            needs = [("cleaning-hour", "家里较久没打扫，老人腰腿不便"), ("bath-home", "老人独自洗澡困难"),
                     ("meal-delivery", "独自做饭困难，申请送餐")]
            recent = scheduled.filter(window_start__lte=self.now - datetime.timedelta(days=2),
                                      due_at__gt=self.now, region_code__regex=r"^51190300[123]")
            for (code, need), task in zip(needs, self._pick(recent, len(needs)), strict=False):
                if code not in offers:
                    continue
                when = max(task.window_start, self.now - datetime.timedelta(days=2)).replace(
                    minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
                booked = _aware(self.today + datetime.timedelta(days=2 + len(self.orders)), 9)
                record = self._record(task, when, checklist={**_all_ok(), "needs": "concern"}, notes=need,
                                      follow_ups=[{"kind": "service_order", "item": offers[code].pk,
                                                   "provider": provider.pk, "scheduled_start": booked,
                                                   "note": need}])
                self.orders.append(record.follow_ups.get().order_id)
        # Changes in ability seen on a visit: an assessment requested (people with a published level and
        # nothing under way).
        from yiyang.assessment.models import OPEN_STATUSES, Assessment, CurrentLevel

        leveled = set(CurrentLevel.objects.values_list("elder_id", flat=True)) - set(
            Assessment.objects.filter(status__in=OPEN_STATUSES).values_list("elder_id", flat=True))
        self.assessments = 0
        past = scheduled.filter(due_at__lte=self.now, window_start__gte=generation.day_start(self.months[-1]),
                                elder_id__in=leveled)
        for task in self._pick(past, 2):
            when = task.window_start + datetime.timedelta(days=2, hours=10)
            self._record(task, when, checklist={**_all_ok(), "health": "concern", "falls": "concern"},
                         notes="近来行走明显吃力，两次在家中摔倒",
                         follow_ups=[{"kind": "assessment", "note": "巡访发现行动能力下降，申请即时评估"}])
            self.assessments += 1
        # Needs for the community's desk (home adaptation, an alarm device) in the demo community.
        desk = scheduled.filter(due_at__gt=self.now, window_start__lte=self.now - datetime.timedelta(days=1),
                                region_code=DEMO_COMMUNITY)
        for task, (kind, note, item) in zip(self._pick(desk, 2), [
                ("home_adaptation", "卫生间无扶手，申请适老化改造", "falls"),
                ("alarm_device", "独居，夜间无人照应，申请安装紧急呼叫设备", "needs")], strict=False):
            self._record(task, self.now - datetime.timedelta(hours=26), checklist={**_all_ok(), item: "concern"},
                         notes=note, follow_ups=[{"kind": kind, "note": note}])

    # -------------------------------------------------------------------------------- set-based

    def bulk_visits(self) -> None:
        """Every other task's fate: done (in its window; a few late, by phone, after a visit that found
        nobody home, by the backup) or, for the month's quota, left overdue. Records are inserted, then the
        tasks are closed from them."""
        from yiyang.registry.models import Elder

        rng, now = self.rng, self.now
        tasks = list(VisitTask.objects.exclude(status=TaskStatus.CANCELLED).exclude(pk__in=self.special)
                     .filter(window_start__lte=now, region_code__startswith=DEMO_COUNTY).order_by("pk"))
        due = dict(VisitTask.objects.exclude(status=TaskStatus.CANCELLED).filter(period_month__in=self.months)
                   .values_list("period_month").annotate(n=Count("pk")))
        # The visitor account's record is spotless but for one overdue visit (see visitor_today).
        mine = set(Pairing.objects.filter(visitor=self.me, until__isnull=True).values_list("elder_id", flat=True))
        self.overdue_mine = max((t for t in tasks if t.elder_id in mine and t.due_at <= now
                                 and t.kind == TaskKind.SCHEDULED), key=lambda t: (t.due_at, t.pk), default=None)
        missed: set[int] = {self.overdue_mine.pk} if self.overdue_mine else set()
        for month, rate in zip(self.months, MONTH_RATES, strict=True):
            pool = [t.pk for t in tasks if t.period_month == month and t.due_at <= now and t.elder_id not in mine]
            already = sum(1 for t in tasks if t.period_month == month and t.pk in missed)
            k = max(0, due.get(month, 0) - round(due.get(month, 0) * rate) - already)
            missed |= set(rng.sample(pool, min(k, len(pool))))
        elders = {e.pk: e for e in Elder.objects.filter(pk__in={t.elder_id for t in tasks}).only(
            "pk", "latitude", "longitude", "residence_region_id", "county_code")}
        crew: dict[str, list[Visitor]] = {}
        for v in Visitor.objects.filter(region_code__startswith=DEMO_COUNTY, active=True):
            crew.setdefault(v.region_code, []).append(v)
        from yiyang.services.services import haversine_metres

        records = []
        for task in tasks:
            if task.pk in missed:
                continue
            elder = elders[task.elder_id]
            window_end = min(task.due_at, now)
            current = task.due_at > now
            if current:
                elapsed = (now - task.window_start) / (task.due_at - task.window_start)
                if rng.random() > min(0.95, 1.1 * elapsed):
                    continue
            pairing = self.pairing.get(task.elder_id)
            if pairing is not None:
                visitor = pairing.backup if pairing.backup and rng.random() < BACKUP_SHARE else pairing.visitor
            else:
                visitor = crew.get(task.region_code, crew.get(task.region_code[:9], [None]))[0]
            if visitor is None:
                continue
            if task.kind == TaskKind.AD_HOC:
                lo, hi = task.window_start + datetime.timedelta(hours=2), task.due_at - datetime.timedelta(hours=2)
            else:
                lo, hi = task.window_start, window_end
            when = _daytime(rng, lo, min(hi, now - datetime.timedelta(minutes=30)))
            if when is None:
                continue
            if not current and task.kind == TaskKind.SCHEDULED and rng.random() < LATE_SHARE:
                late = task.due_at + datetime.timedelta(days=rng.randint(1, 4), hours=rng.randint(9, 16))
                if late < now - datetime.timedelta(hours=1):
                    when = late
            phone = task.remote_counts and rng.random() < GENERAL_BY_PHONE
            # Calls and visits that found nobody home come before the one that counts.
            failures = 2 if rng.random() < FAILED_TWICE else 1 if rng.random() < FAILED_ONCE else 0
            for k in range(failures, 0, -1):
                before = when - datetime.timedelta(days=k, hours=rng.randint(0, 3))
                if before > task.window_start:
                    records.append(self._row(task, elder, visitor, before, Outcome.NOT_HOME, VisitMethod.HOME,
                                             counts=False, haversine=haversine_metres))
            if task.tier == "key" and rng.random() < KEY_PHONE_CALLS:
                call = when - datetime.timedelta(days=rng.randint(3, 9), hours=2)
                if call > task.window_start:
                    records.append(self._row(task, elder, visitor, call, Outcome.SEEN, VisitMethod.PHONE,
                                             counts=False, haversine=haversine_metres))
            records.append(self._row(task, elder, visitor, when, Outcome.SEEN,
                                     VisitMethod.PHONE if phone else VisitMethod.HOME, counts=True,
                                     haversine=haversine_metres))
        VisitRecord.objects.bulk_create(records, batch_size=1000)
        self.records = len(records)
        ids = [t.pk for t in tasks]
        _close_tasks_from_records(ids)
        audit.record(actor=None, action=AuditAction.IMPORT, object_type="visits.visitrecord",
                     object_repr="演示城市", region_code=DEMO_COUNTY,
                     detail=f"演示数据：{self.start:%Y-%m} 起巡访记录 {len(records)} 条")

    def _row(self, task, elder, visitor, when, outcome, method, *, counts, haversine) -> VisitRecord:
        rng = self.rng
        lat = lon = distance = None
        checklist, concerns, notes, seen = {}, 0, "", ""
        if method == VisitMethod.HOME and elder.latitude is not None:
            lat = elder.latitude + _dec(rng.uniform(-0.0004, 0.0004))
            lon = elder.longitude + _dec(rng.uniform(-0.0004, 0.0004))
            distance = round(haversine(lat, lon, elder.latitude, elder.longitude))
        if outcome == Outcome.SEEN:
            seen = rng.choice(SEEN)
            if method == VisitMethod.HOME:
                checklist = _all_ok()
                if rng.random() < 0.06:
                    item = rng.choice(sorted(NOTES_CONCERN))
                    checklist[item] = "concern"
                    concerns, notes = 1, NOTES_CONCERN[item]
                else:
                    notes = rng.choice(NOTES_OK)
            else:
                notes = rng.choice(PHONE_NOTES)
        else:
            notes = rng.choice(NOT_HOME_NOTES)
        return VisitRecord(elder_id=task.elder_id, task_id=task.pk, visitor=visitor, recorded_by_id=visitor.user_id,
                           method=method, outcome=outcome, visited_at=when, latitude=lat, longitude=lon,
                           distance_m=distance, far_from_home=False, seen=seen, checklist=checklist,
                           concerns=concerns, notes=notes, counts=counts, region_code=task.region_code,
                           county_code=task.county_code,
                           created_at=when + datetime.timedelta(minutes=rng.randint(1, 40)))

    def visitor_today(self) -> None:
        """The visitor account's phone today: a family's request raised yesterday evening, due later today."""
        from yiyang.registry.models import Elder

        family = self.ctx.accounts.get("family")
        elder = Elder.objects.filter(family_links__user=family, visit_pairings__visitor=self.me,
                                     visit_pairings__until__isnull=True).first() if family else None
        actor = family
        if elder is None:
            elder = Elder.objects.filter(visit_pairings__visitor=self.me, visit_pairings__until__isnull=True).first()
            actor = self.ctx.accounts.get("community")
        self.ad_hoc = None
        if elder is None or actor is None:
            return
        # Raised between 24 hours ago and midnight: due today, still ahead.
        midnight = _aware(self.today, 0)
        at = (self.now - datetime.timedelta(hours=24)) + (midnight - (self.now - datetime.timedelta(hours=24))) / 2
        at = at.replace(second=0, microsecond=0)
        with clock_at(at):
            self.ad_hoc, _created = services.raise_task(
                actor=actor, elder=elder, trigger=Trigger.FAMILY_REQUEST, at=at,
                note="母亲这两天咳嗽、胃口不好，我在外地，请帮忙上门看看")
        VisitTask.objects.filter(pk=self.ad_hoc.pk).update(created_at=at)

    def report(self, log) -> None:
        log(f"visits history: {self.made} tasks generated {self.start:%Y-%m}–{self.month:%Y-%m}, "
            f"{self.records} visits written set-based; {len(self.failed)} people not found at home 3 times "
            f"(a task for the community each), {len(self.orders)} service orders and {self.assessments} assessment "
            f"requests from visits")
        rates = []
        for month in self.months + [self.month]:
            rows = generation.coverage_rows(month=month, area_code=DEMO_COUNTY, now=self.now)
            total = generation.CoverageRow(code=DEMO_COUNTY)
            for r in rows:
                total.add(r)
            rates.append(f"{month:%Y-%m} {total.done}/{total.due}"
                         + (f" {total.rate:.1%}" if total.rate is not None else ""))
        log("visits coverage: " + ", ".join(rates))
        today = list(VisitTask.objects.filter(visitor=self.me, status=TaskStatus.OPEN,
                                              window_start__lte=self.now))
        overdue = sum(1 for t in today if t.due_at < self.now)
        due_today = sum(1 for t in today if self.now <= t.due_at <= _aware(self.today + datetime.timedelta(days=1), 0))
        log(f"visits: {VISITOR_NAME} (`visitor`) today: {len(today)} open tasks ({due_today} due today, "
            f"{sum(1 for t in today if t.kind == TaskKind.AD_HOC)} ad hoc, {overdue} overdue)")


def _dec(value: float):
    from decimal import Decimal

    return Decimal(f"{value:.6f}")


def _all_ok() -> dict:
    return {code: "ok" for code in rules.CHECKLIST_CODES}


def _daytime(rng: random.Random, lo: datetime.datetime, hi: datetime.datetime) -> datetime.datetime | None:
    """A moment between lo and hi, in the working day (08:30–18:00 local) when the span allows."""
    if hi <= lo:
        return None
    for _ in range(8):
        when = lo + (hi - lo) * rng.random()
        local = timezone.localtime(when)
        if 8 * 60 + 30 <= local.hour * 60 + local.minute <= 18 * 60:
            return when.replace(second=0, microsecond=0)
    return (lo + (hi - lo) / 2).replace(second=0, microsecond=0)


def _close_tasks_from_records(task_ids: list[int]) -> None:
    """What record_visit does to a task, set-based: the first counting visit closes it (done_at), the visits
    that found nobody home before it are its failed attempts."""
    table, records = VisitTask._meta.db_table, VisitRecord._meta.db_table
    with connection.cursor() as cursor:
        for i in range(0, len(task_ids), 900):
            chunk = task_ids[i:i + 900]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} SET status = 'done', done_at = (SELECT MIN(r.visited_at) FROM {records} r "
                f"WHERE r.task_id = {table}.id AND r.counts) WHERE id IN ({marks}) AND status = 'open' AND EXISTS "
                f"(SELECT 1 FROM {records} r WHERE r.task_id = {table}.id AND r.counts)", chunk)
            cursor.execute(
                f"UPDATE {table} SET failed_attempts = (SELECT COUNT(*) FROM {records} r WHERE r.task_id = "
                f"{table}.id AND r.outcome IN ('not_home', 'refused')) WHERE id IN ({marks}) AND EXISTS "
                f"(SELECT 1 FROM {records} r WHERE r.task_id = {table}.id AND r.outcome IN ('not_home', "
                f"'refused'))", chunk)


def _follow_ups_at_their_moment() -> None:
    """Fields whose default captured the real clock (a follow-up's, its order's and first event's, an
    assessment request's) belong to the visit's moment."""
    from yiyang.assessment.models import Assessment
    from yiyang.services.models import Order, OrderEvent

    from .models import FollowUp

    for f in FollowUp.objects.select_related("record"):
        at = f.record.visited_at + datetime.timedelta(minutes=5)
        FollowUp.objects.filter(pk=f.pk).update(created_at=at, closed_at=at if f.closed_at else None)
        if f.order_id:
            Order.objects.filter(pk=f.order_id).update(created_at=at)
            OrderEvent.objects.filter(order_id=f.order_id, from_status="").update(at=at)
        if f.assessment_id:
            Assessment.objects.filter(pk=f.assessment_id).update(requested_at=at)


__all__ = ["visits_history", "visits_people"]
