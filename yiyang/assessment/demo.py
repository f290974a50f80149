"""Demo assessments for the demo city: results for most people aged 80+ and every 特困 person, a share of the
others, spread over the five levels, some overdue for reassessment, a few under way today.

Runs after the register's step (it reads whatever elders exist) and writes set-based with bulk_create. Results
are scored by scoring.py like real ones; the demo only chooses the answers. Deterministic for a seed.
"""

import datetime
import random

from django.db.models import Q
from django.utils import timezone

from yiyang.core import audit, pii
from yiyang.core.demo import DEMO_COMMUNITY, DEMO_COUNTY, DEMO_PASSWORD, DEMO_STREET, demo_step
from yiyang.core.models import AuditAction, Role, User

from . import annex, scoring, selectors, services
from .models import Assessment, CurrentLevel, Reason, Source, Status

GB = scoring.GBT_42195_2022
MZ = scoring.MZT_039_2013

# Preliminary level by group (0 能力完好 … 4 完全失能): older and destitute people are more often disabled.
LEVEL_WEIGHTS = {
    "60-79": [46, 32, 12, 6, 4],
    "80-89": [22, 36, 21, 12, 9],
    "90+": [8, 26, 26, 20, 20],
    "destitute_home": [6, 20, 26, 24, 24],  # 特困 living in a care home
}
SHARE_ASSESSED = {"60-79": 0.12, "80-89": 0.7, "90+": 0.85}
DIAGNOSES = [("I10", 0.55), ("E11", 0.2), ("I25", 0.16), ("J44", 0.1), ("I69", 0.12), ("M81", 0.18),
             ("M17", 0.15), ("H25", 0.12), ("G20", 0.03), ("N18", 0.04)]
GIVEN = ["志强", "秀兰", "建军", "玉梅", "国华", "丽", "小红", "德明", "春燕", "海波", "桂芳", "文静", "永强"]
RELATIONS = ["child", "child", "child", "spouse", "relative", "caregiver", "official"]

DEMO_ASSESSORS = [
    # username, display name, practitioner role, sex, birth
    ("assessor2", "评估员 何静", "assessor", "F", datetime.date(1986, 4, 17)),
    ("assessor3", "评估中心主任 罗军", "manager", "M", datetime.date(1975, 9, 3)),
]


def _id_number(birth: datetime.date, seq: int, sex: str) -> str:
    first17 = f"{DEMO_COUNTY}{birth:%Y%m%d}{seq:02d}{7 if sex == 'M' else 4}"
    return first17 + pii.id_check_char(first17)


def _agency_staff(ctx, agency, log) -> list[User]:
    """The demo `assessor` plus two more assessor accounts of the agency (two assess, a third reviews), each with
    a practitioner record (certificate) in the register."""
    from yiyang.registry.models import Practitioner

    lead = ctx.accounts["assessor"]
    staff = [lead]
    for username, name, _role, _sex, _birth in DEMO_ASSESSORS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.role, user.display_name, user.organisation, user.region = Role.ASSESSOR, name, agency, None
        user.set_password(DEMO_PASSWORD)
        user.full_clean(exclude=["password", "id_number"])
        user.save()
        ctx.accounts[username] = user
        staff.append(user)
    people = [(lead, lead.display_name.replace("评估员 ", "") or "陈明", "assessor", "M", datetime.date(1982, 2, 11))]
    people += [(u, name.split(" ")[-1], role, sex, birth) for u, (_, name, role, sex, birth) in zip(
        staff[1:], DEMO_ASSESSORS, strict=True)]
    for i, (user, name, role, sex, birth) in enumerate(people, start=1):
        if Practitioner.objects.filter(account=user).exists():
            continue
        p = Practitioner(organisation=agency, name=name, phone=f"1390827{3300 + i:04d}", role=role,
                         certificate_number=f"PG{DEMO_COUNTY}2023{i:04d}", skills="能力评估",
                         start_date=datetime.date(2021, 3, 1), account=user)
        p.set_identity(_id_number(birth, 80 + i, sex))
        p.save()
    log(f"assessment agency: {agency.name}, assessors {', '.join(u.username for u in staff)} "
        f"(password {DEMO_PASSWORD}); any of them reviews what the other two assessed")
    return staff


def _items_for(rng: random.Random, template: scoring.Template, level: int, cognitive: bool) -> dict[str, int]:
    """Item scores whose total lands in the level's band: start from full marks and take points away, mobility
    and self-care first (cognition first for people with dementia)."""
    band = template.level(level)
    target = rng.randint(band.min_total, band.max_total)
    scores = {i.code: i.max_score for i in template.items}
    weights = {}
    for item in template.items:
        w = {"B.1": 3.0, "B.2": 3.5, "B.3": 1.0, "B.4": 2.0}[item.indicator_code]
        if cognitive and item.indicator_code == "B.3":
            w = 5.0
        if item.code == "B.3.9":
            w = 0.3  # consciousness stays clear for most
        weights[item.code] = w
    deficit = sum(scores.values()) - target
    codes = list(scores)
    maxima = {i.code: i.max_score for i in template.items}
    while deficit > 0:
        # Items still high lose points first, so that abilities decline together rather than one at a time.
        code = rng.choices(codes, weights=[weights[c] * (scores[c] / maxima[c]) ** 2 for c in codes])[0]
        scores[code] -= 1
        deficit -= 1
    return scores


def _info(rng: random.Random, elder_name: str, level: int, dementia: bool, events: bool, coma: bool) -> dict:
    diagnoses = [code for code, p in DIAGNOSES if rng.random() < p]
    if dementia:
        diagnoses.append(rng.choice(["F00", "F01", "F03", "F03"]))
    risk = {"fall": 0, "wandering": 0, "choking": 0, "self_harm": 0, "other": 0}
    if events:
        risk["fall"] = rng.choice([1, 2, 2, 3])
        risk[rng.choice(["choking", "wandering", "other"])] += 1 if risk["fall"] < 2 else 0
    elif rng.random() < 0.12:
        risk["fall"] = 1
    problems = []
    for code, p in (("joint_limitation", 0.25), ("pain", 0.3), ("tooth_loss", 0.45), ("denture", 0.3),
                    ("dysphagia", 0.04 * level), ("pressure_injury", 0.03 * level), ("malnutrition", 0.03 * level)):
        if rng.random() < p:
            problems.append(code)
    self_report = level <= 1 and not dementia and rng.random() < 0.7
    relation = "self" if self_report else rng.choice(RELATIONS)
    informant = elder_name if self_report else elder_name[0] + rng.choice(GIVEN)
    medication = ""
    if "I10" in diagnoses:
        medication = "苯磺酸氨氯地平片 5mg 每日一次"
    if "E11" in diagnoses:
        medication = (medication + "；" if medication else "") + "二甲双胍 0.5g 每日两次"
    return {
        "informant_name": informant, "informant_relationship": relation, "diagnoses": diagnoses,
        "diagnosis_note": "", "medication": medication, "risk_events_30d": risk,
        "health_problems": [c for c, _ in annex.HEALTH_PROBLEMS if c in problems], "health_note": "",
        "coma": coma,
    }


class _Builder:
    def __init__(self, rng, staff, agency, today, policy):
        self.rng, self.staff, self.agency, self.today, self.policy = rng, staff, agency, today, policy
        self.template = scoring.get_template(GB)
        self.rows: list[Assessment] = []
        self.current: dict[int, Assessment] = {}

    def pair_and_reviewer(self, lead_first: bool = False):
        a, b, c = self.staff if lead_first else self.rng.sample(self.staff, 3)
        return a, b, c

    def moment(self, day: datetime.date, hour: int) -> datetime.datetime:
        naive = datetime.datetime.combine(day, datetime.time(hour, self.rng.randrange(60)))
        return timezone.make_aware(naive)

    def result(self, e: dict, published_on: datetime.date, level: int, *, reason: str, template_code: str = GB,
               supersedes: Assessment | None = None, requested_by=None) -> Assessment:
        rng = self.rng
        dementia = rng.random() < (0.05 + 0.05 * level)
        events = rng.random() < 0.05
        coma = level == 4 and rng.random() < 0.03
        if template_code == GB:
            items = _items_for(rng, self.template, level, dementia)
            if coma:
                items["B.3.9"] = 0
        else:
            items = _legacy_items(rng, level)
        info = _info(rng, e["name"], level, dementia, events, coma)
        a1, a2, reviewer = self.pair_and_reviewer()
        assessed_on = published_on - datetime.timedelta(days=rng.randint(1, 4))
        requested = assessed_on - datetime.timedelta(days=rng.randint(5, 20))
        a = Assessment(
            elder_id=e["pk"], county_code=e["county_code"], region_code=e["region"], reason=reason,
            source=Source.STAFF, status=Status.PUBLISHED, requested_by=requested_by,
            requested_at=self.moment(requested, 9), due_on=requested + datetime.timedelta(days=30),
            agency=self.agency, assigned_at=self.moment(requested + datetime.timedelta(days=1), 10),
            assessor_1=a1, assessor_2=a2, scheduled_for=assessed_on, location=e["address"][:200],
            template_code=template_code, items=items, info=info, started_at=self.moment(assessed_on, 9),
            assessed_on=assessed_on, submitted_at=self.moment(assessed_on, 16), submitted_by=a1,
            reviewed_at=self.moment(published_on, 11), reviewed_by=reviewer, review_note="",
            published_at=self.moment(published_on, 11),
            valid_until=selectors.add_months(published_on, self.policy.validity_months), supersedes=supersedes,
        )
        services.apply_result(a, services.score_of(a, stack=self.policy.stack_adjustments))
        self.rows.append(a)
        self.current[e["pk"]] = a
        return a

    def open_one(self, e: dict, status: str, *, reason: str, scheduled: datetime.date | None = None, pair=None,
                 partial: int = 0, requested_by=None, source: str = Source.STAFF, note: str = "",
                 supersedes: Assessment | None = None, due_on: datetime.date | None = None) -> Assessment:
        rng = self.rng
        requested = self.today - datetime.timedelta(days=rng.randint(2, 12))
        a = Assessment(
            elder_id=e["pk"], county_code=e["county_code"], region_code=e["region"], reason=reason, source=source,
            status=status, requested_by=requested_by, requested_at=self.moment(requested, 9), request_note=note,
            due_on=due_on or requested + datetime.timedelta(days=services.DUE_DAYS[reason]), agency=self.agency,
            template_code=GB, template_version=self.template.version, supersedes=supersedes,
        )
        if status != Status.REQUESTED:
            a1, a2 = pair or self.staff[:2]
            a.assessor_1, a.assessor_2 = a1, a2
            a.assigned_at = self.moment(requested + datetime.timedelta(days=1), 10)
            a.scheduled_for = scheduled or self.today
            a.location = e["address"][:200]
        if partial:
            level = rng.choices(range(5), weights=LEVEL_WEIGHTS["80-89"])[0]
            full = _items_for(rng, self.template, level, False)
            a.items = dict(list(full.items())[:partial])
            a.info = _info(rng, e["name"], level, False, False, False)
            a.started_at = self.moment(min(a.scheduled_for or self.today, self.today), 9)
        if status == Status.SUBMITTED:
            a.assessed_on = self.today - datetime.timedelta(days=1)
            a.started_at = self.moment(a.assessed_on, 9)
            a.submitted_at, a.submitted_by = self.moment(a.assessed_on, 16), a.assessor_1
            services.apply_result(a, services.score_of(a, stack=self.policy.stack_adjustments))
        self.rows.append(a)
        return a


def _legacy_items(rng: random.Random, level: int) -> dict[str, int]:
    """An MZ/T 039-2013 record (the old standard, migrated): worse ADL for worse levels."""
    t = scoring.get_template(MZ)
    items = {}
    for item in t.items:
        if item.indicator_code == "B.1":
            steps = item.scores
            drop = min(len(steps) - 1, max(0, level + rng.choice([-1, 0, 0, 1])))
            items[item.code] = steps[len(steps) - 1 - drop] if rng.random() < 0.3 + 0.2 * level else steps[-1]
        else:
            items[item.code] = 0 if rng.random() < 0.8 - 0.15 * level else min(item.max_score, 1 + level // 2)
    return items


@demo_step
def assessment_demo(ctx, log) -> None:
    from yiyang.registry.models import CategoryKind, ElderCategory, ElderStatus, FamilyLink

    if Assessment.objects.filter(county_code=DEMO_COUNTY).exists():
        log("assessments: the county already has assessments, left as they are")
        return
    lead = ctx.accounts.get("assessor")
    if lead is None or lead.organisation_id is None:
        log("assessments: no demo assessor account, skipped")
        return
    agency = lead.organisation
    staff = _agency_staff(ctx, agency, log)
    rng = random.Random(f"{ctx.seed}-assessments")
    today = timezone.localdate()
    policy = selectors.policy_for(DEMO_COUNTY)
    destitute = set(ElderCategory.objects.filter(kind=CategoryKind.DESTITUTE, start_date__lte=today).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today)).values_list("elder_id", flat=True))
    elders = [
        {"pk": pk, "name": name, "birth": birth, "region": region, "county_code": county, "address": address,
         "living": living}
        for pk, name, birth, region, county, address, living in
        _active_elders(ElderStatus.ACTIVE)
    ]
    if not elders:
        log("assessments: no elders in the county, skipped")
        return
    family_elders = set(FamilyLink.objects.values_list("elder_id", flat=True))
    b = _Builder(rng, staff, agency, today, policy)
    accounts = ctx.accounts

    def requester(e):
        if e["region"].startswith(DEMO_COMMUNITY):
            return accounts.get("community")
        if e["region"].startswith(DEMO_STREET):
            return accounts.get("street")
        return None

    # Who has been assessed, and at which level.
    assessed = []
    for e in elders:
        age = e["birth"] and (today.year - e["birth"].year)
        group = "90+" if age >= 90 else "80-89" if age >= 80 else "60-79"
        if e["pk"] in destitute or e["pk"] in family_elders or rng.random() < SHARE_ASSESSED[group]:
            weights = LEVEL_WEIGHTS["destitute_home" if e["pk"] in destitute and e["living"] == "institution"
                                    else group]
            assessed.append((e, rng.choices(range(5), weights=weights)[0]))
    # Latest results published over the last ~200 days, so that some (published more than the validity ago) are
    # overdue and more are due within a month; a third had a routine result before, a few an MZ/T 039-2013 one.
    previous = 0
    for e, level in assessed:
        published_on = today - datetime.timedelta(days=rng.randint(3, 200))
        before = None
        if rng.random() < 0.33:
            earlier = published_on - datetime.timedelta(days=rng.randint(175, 200))
            old_level = max(0, level - rng.choice([0, 0, 1]))
            before = b.result(e, earlier, old_level, reason=Reason.FIRST, requested_by=requester(e))
            previous += 1
            if rng.random() < 0.15:
                legacy_day = earlier - datetime.timedelta(days=rng.randint(400, 700))
                b.result(e, legacy_day, min(3, old_level), reason=Reason.FIRST, template_code=MZ)
                b.current[e["pk"]] = before
                previous += 1
        b.result(e, published_on, level, reason=Reason.ROUTINE if before else Reason.FIRST, supersedes=before,
                 requested_by=requester(e))

    # Work under way: today's visits for the demo assessor, requests waiting in the agency, results to review.
    assessed_ids = {e["pk"] for e, _ in assessed}
    near = [e for e in elders if e["region"].startswith(DEMO_STREET)]
    fresh = [e for e in near if e["pk"] not in assessed_ids and e["pk"] not in family_elders]
    rng.shuffle(fresh)
    lead, second, third = staff
    plan = [
        # status, scheduled, pair, answers already given
        (Status.IN_PROGRESS, today, (lead, second), 14),
        (Status.ASSIGNED, today, (lead, second), 0),
        (Status.ASSIGNED, today, (second, lead), 0),
        (Status.ASSIGNED, today, (lead, third), 0),
        (Status.ASSIGNED, today + datetime.timedelta(days=1), (lead, second), 0),
        (Status.ASSIGNED, today + datetime.timedelta(days=2), (second, lead), 0),
        (Status.IN_PROGRESS, today - datetime.timedelta(days=2), (lead, second), 20),
        (Status.RETURNED, today - datetime.timedelta(days=3), (lead, second), 26),
        (Status.SUBMITTED, today - datetime.timedelta(days=1), (second, third), 26),
        (Status.SUBMITTED, today - datetime.timedelta(days=1), (third, second), 26),
        (Status.SUBMITTED, today - datetime.timedelta(days=1), (lead, second), 26),
    ] + [(Status.REQUESTED, None, None, 0)] * 6
    under_way = today_visits = 0
    for (status, day, pair, answers), e in zip(plan, fresh, strict=False):
        today_visits += int(day == today and pair is not None and lead in pair)
        a = b.open_one(e, status, reason=Reason.FIRST, scheduled=day, pair=pair, partial=answers,
                       requested_by=requester(e), note=rng.choice(["", "申请护理补贴", "家属申请入住养老机构前评估"]))
        if status == Status.RETURNED:
            a.review_note = "B.2.4 上下楼梯与现场录像不符，请复核"
            a.reviewed_at, a.reviewed_by = b.moment(today - datetime.timedelta(days=1), 15), third
        under_way += 1
    # Routine reassessments the platform requested for results running out, and one 即时评估 after a fall.
    due_soon = [e for e, _ in assessed
                if b.current[e["pk"]].valid_until <= today + datetime.timedelta(days=20)]
    for e in due_soon[:25]:
        cur = b.current[e["pk"]]
        b.open_one(e, Status.REQUESTED, reason=Reason.ROUTINE, source=Source.AUTO, supersedes=cur,
                   note=f"评估结果将于 {cur.valid_until.isoformat()} 到期", due_on=max(cur.valid_until, today))
        under_way += 1
    # Older results first: the rows that re-assess them point at them (supersedes) and need their ids.
    layers: dict[int, list[Assessment]] = {}
    depth: dict[int, int] = {}
    for a in b.rows:
        d = depth.get(id(a.supersedes), -1) + 1 if a.supersedes is not None else 0
        depth[id(a)] = d
        layers.setdefault(d, []).append(a)
    for d in sorted(layers):
        Assessment.objects.bulk_create(layers[d], batch_size=500)
    latest = {}
    for a in Assessment.objects.filter(county_code=DEMO_COUNTY, status=Status.PUBLISHED).order_by(
            "elder_id", "published_at").only("pk", "elder_id", "template_code", "final_level", "published_at",
                                            "valid_until", "county_code"):
        latest[a.elder_id] = a
    CurrentLevel.objects.bulk_create([
        CurrentLevel(elder_id=a.elder_id, assessment_id=a.pk, template_code=a.template_code, level=a.final_level,
                     published_at=a.published_at, valid_until=a.valid_until, reassess_by=a.valid_until,
                     county_code=a.county_code)
        for a in latest.values()], batch_size=1000)
    counts = [0] * 5
    for a in latest.values():
        counts[a.final_level] += 1
    overdue = sum(1 for a in latest.values() if a.valid_until < today)
    audit.record(actor=None, action=AuditAction.IMPORT, object_type="assessment.assessment",
                 object_repr="演示城市", region_code=DEMO_COUNTY,
                 detail=f"演示数据：{len(latest)} 人有评估结果，历史记录 {previous} 条，进行中 {under_way} 条")
    names = [t.name_zh for t in scoring.get_template(GB).levels]
    log(f"assessments: {len(latest)} elders with a published level ("
        + ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
        + f"), {previous} earlier results, {overdue} overdue for reassessment, {under_way} under way "
          f"(today {today_visits} visits for `assessor`)")


def _active_elders(status: str):
    from yiyang.registry.models import Elder

    return (Elder.objects.filter(county_code=DEMO_COUNTY, status=status)
            .values_list("pk", "name", "birth_date", "residence_region_id", "county_code", "address",
                         "living_situation").order_by("pk"))
