"""The demo city's benefits (issue #6): programmes, the county's adopted rules, and a year of paid rolls.

What `make demo` shows: 高龄津贴, 经济困难老年人护理补贴 and 特困人员照护补贴 with 恩阳区's example rules (the
figures of `tests/factories.py`), twelve approved, exported and paid monthly rolls (oldest first), each with its
checks cleared (most confirmed, the lines without a usable bank account withheld), every street's sign-off, the
bank file and a results file with a few failures (账户已销户, 户名不符), and this month's roll of each programme in
draft with its checks open. A few deaths, a move away and a 低保 approval are registered late, after the rolls of
the months they affect, so that later rolls carry recovery (追回), back pay (补发) and re-issue (重发) lines.

Everything goes through the services, as the bureau would do it month after month. Only the clock is
simulated: the services stamp "now", so after each action the demo moves its timestamps back to the simulated
day with queryset updates (see `_stamp`). The engine reads two of them: a past roll's `generated_at` and the
`recorded_at` / `updated_at` / `published_at` of the register's history, to find who changed since that roll
(see engine.adjustment_lines); the others only make the pages read like a real year.
"""

from __future__ import annotations

import csv
import datetime
import io
import random

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from yiyang.core import audit
from yiyang.core.demo import DEMO_COUNTY, DEMO_STREET, demo_step
from yiyang.core.models import AuditAction
from yiyang.registry.demo import bank_account, luhn_complete

from . import rules, services
from .examples import ALLOWANCE_RULES, PROGRAMMES, RULES
from .models import (
    BankResultImport,
    LineKind,
    LineStatus,
    Programme,
    Roll,
    RollCheck,
    RollLine,
    RuleVersion,
    StreetReview,
)

# ------------------------------------------------------------------------------------------------ the rules
# The example rule set itself is in examples.py (shared with the tests).

HISTORY_MONTHS = 12

# How the bureau clears a check (kind → resolution, note).
RESOLUTIONS = {
    "deceased": ("confirmed", "已核实：当月 1 日健在（死亡在其后），当月照发"),
    "moved_away": ("confirmed", "已核实：迁出前的月份，照常发放"),
    "suspended": ("confirmed", "已核实：暂停前的月份，照常发放"),
    "duplicate": ("confirmed", "已核实为不同的两人，照常发放"),
    "shared_account": ("confirmed", "已核实为夫妻共用同一银行账户，照常发放"),
    "amount": ("confirmed", "已核实：按规则补发或追回，照常处理"),
    "absence": ("confirmed", "社区已电话联系本人，照常发放"),
    "bank_missing": ("withheld", "无银行账户，待家属到社区补录账户后发放"),
    "bank_invalid": ("withheld", "银行账号校验位错误，待核实账号后发放"),
}
FAILURES = ["账户已销户", "户名不符", "账户已冻结", "账号不存在"]


def _rng(seed: int, step: str) -> random.Random:
    return random.Random(f"yiyang.benefits.demo:{seed}:{step}")


def _at(day: datetime.date, hour: int = 9, minute: int = 0) -> datetime.datetime:
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))
    return min(moment, timezone.now())


# ------------------------------------------------------------------------------------------------ the register


def _backdate_register(rng: random.Random, start: datetime.date) -> None:
    """Registration and change times as if the platform had been in use before the history starts.

    The register demo creates everyone "now". Nobody is owed money for months before they were registered
    (engine: `registered_before`), and every change after a roll makes the person a candidate for
    adjustments: so people are registered 3 to 36 months before the first roll, categories and status
    events are recorded a few days after they took effect.
    """
    from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

    first = _at(start)
    buckets = 24
    ids = list(Elder.objects.filter(created_at__gte=first).order_by("pk").values_list("pk", flat=True))
    for k in range(buckets):
        when = _at(rules.add_months(start, -3 - (k * 33) // buckets), 10)
        chunk = ids[k::buckets]
        for i in range(0, len(chunk), 5000):
            Elder.objects.filter(pk__in=chunk[i:i + 5000]).update(created_at=when, updated_at=when)
    floor = rules.add_months(start, -3)
    categories = list(ElderCategory.objects.filter(updated_at__gte=first).order_by("elder_id", "pk")
                      .only("pk", "start_date", "end_date"))
    for c in categories:
        c.updated_at = _at(max(floor, c.end_date or c.start_date) + datetime.timedelta(days=rng.randint(0, 5)), 11)
    ElderCategory.objects.bulk_update(categories, ["updated_at"], batch_size=1000)
    events = list(ElderStatusEvent.objects.filter(recorded_at__gte=first).order_by("elder_id", "pk")
                  .only("pk", "effective_date"))
    for e in events:
        e.recorded_at = _at(e.effective_date + datetime.timedelta(days=rng.randint(0, 6)), 10, rng.randrange(60))
    ElderStatusEvent.objects.bulk_update(events, ["recorded_at"], batch_size=1000)


def _bank_accounts(rng: random.Random, start: datetime.date, log) -> list[int]:
    """Accounts for those without one, and a couple sharing one (the shared-account check shows them every
    month).

    Returns four people aged 80+ through the history, alive and here, with no history of their own, whose
    accounts go missing or wrong for a while (see _Story.accounts)."""
    from yiyang.registry.models import Elder, ElderStatus

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Elder._meta.db_table} WHERE bank_account = '' AND county_code = %s "
                       "ORDER BY id", [DEMO_COUNTY])
        missing = [row[0] for row in cursor.fetchall()]
    updates = []
    for e in Elder.objects.filter(pk__in=missing).select_related("residence_region__parent").order_by("pk"):
        parent = e.residence_region.parent
        e.bank_name, e.bank_account = bank_account(rng, bool(parent and parent.name.endswith("街道")))
        e.bank_account_holder = e.name
        updates.append(e)
    Elder.objects.bulk_update(updates, ["bank_name", "bank_account", "bank_account_holder"], batch_size=500)
    old = list(Elder.objects.filter(county_code=DEMO_COUNTY, status=ElderStatus.ACTIVE,
                                    birth_date__lt=rules.born_by(start, 81), status_events__isnull=True)
               .exclude(residence_region__code__startswith=DEMO_STREET).order_by("pk")
               .values_list("pk", "residence_region_id", "sex"))
    if len(old) < 6:
        log(f"bank accounts: {len(updates)} added")
        return []
    picked = rng.sample(old, min(len(old), 40))
    one = picked[4]
    partner = next((p for p in picked[5:] if p[1] == one[1] and p[2] != one[2]), picked[5])
    first = Elder.objects.get(pk=one[0])
    Elder.objects.filter(pk=partner[0]).update(bank_name=first.bank_name, bank_account=first.bank_account,
                                               bank_account_holder=first.name)
    log(f"bank accounts: {len(updates)} added; a couple shares one (the shared-account check finds them)")
    return [p[0] for p in picked[:4]] + [one[0], partner[0]]


# ------------------------------------------------------------------------------------------------ the timeline


class _Story:
    """Changes registered late: after the rolls of the months they affect (index = month of the history,
    HISTORY_MONTHS = this month). Each picks someone who was paid in the months concerned."""

    def __init__(self, rng, actor, months, this_month, programmes, special: set[int], log):
        self.rng, self.actor, self.months, self.this_month = rng, actor, months, this_month
        self.programmes, self.special, self.log = programmes, set(special), log
        self.told: list[str] = []

    def month(self, i: int) -> datetime.date:
        return self.months[i] if i < len(self.months) else self.this_month

    def accounts(self, i: int, people: list[int]) -> None:
        """Accounts missing or mistyped for a while: withheld lines, paid back as 补发 once put right."""
        from yiyang.registry.models import Elder

        n = len(self.months)
        if len(people) < 4:
            return
        when = _at(self._day(i, 1), 16)

        def typo():
            digits = luhn_complete("621799" + "".join(str(self.rng.randrange(10)) for _ in range(12)))
            return digits[:-1] + str((int(digits[-1]) + 3) % 10)  # the last digit mistyped: Luhn fails

        changes = {
            (0, 0): {"bank_name": "", "bank_account": "", "bank_account_holder": ""},
            (0, 1): {"bank_name": "中国邮政储蓄银行", "bank_account": typo()},
            (n // 3, 0): dict(zip(("bank_name", "bank_account"), bank_account(self.rng, False), strict=True)),
            (2 * n // 3, 1): {"bank_account": luhn_complete("621799" + "".join(
                str(self.rng.randrange(10)) for _ in range(12)))},
            (n - 2, 2): {"bank_name": "", "bank_account": "", "bank_account_holder": ""},
            (n - 1, 3): {"bank_name": "四川农信", "bank_account": typo()},
        }
        for (at, who), fields in changes.items():
            if at == i:
                Elder.objects.filter(pk=people[who]).update(updated_at=when, **fields)
                self.special.add(people[who])

    def before_roll(self, i: int) -> None:
        n = len(self.months)
        if i == n // 2:  # a death in month 3 registered in month 6: months 4 and 5 paid wrongly
            self._late_event("longevity", "death", effective=(n // 4, 12), paid=range(n // 4 + 1, n // 2), at=i,
                             note="家属迟报死亡，火化信息比对发现")
        if i == n // 2 + 1:  # 低保 from month 2 approved only in month 7: care back pay for months 3–6
            self._late_subsistence(effective=(max(0, n // 6), 10), at=i)
        if i == n - 3:  # a 特困 person dying in month 7, registered in month 9: month 8 recovered
            self._late_event("destitute_care", "death", effective=(n - 5, 20), paid=[n - 4], at=i,
                             note="敬老院报告死亡，补登记") or self._late_event(
                "care", "death", effective=(n - 5, 20), paid=[n - 4], at=i, note="社区补报死亡")
        if i == n - 2:  # moved away at the end of month 8, registered in month 10: month 9 recovered
            self._late_event("longevity", "move_out", effective=(n - 4, 31), paid=[n - 3], at=i,
                             note="随子女迁居成都市，迟报")
        if i == n:  # a death last month registered this month: this month's draft recovers last month
            self._late_event("longevity", "death", effective=(n - 2, 10), paid=[n - 1], at=i, note="家属报告死亡")

    def _day(self, index: int, day: int) -> datetime.date:
        first = self.month(index)
        last = rules.add_months(first, 1) - datetime.timedelta(days=1)
        return min(first.replace(day=min(day, 28)) if day <= 28 else last, timezone.localdate())

    def _paid_in(self, code: str, indexes) -> list[int]:
        from yiyang.registry.models import ElderStatus

        months = [self.month(k) for k in indexes]
        programme = self.programmes[code]
        return list(RollLine.objects.filter(programme=programme, kind=LineKind.REGULAR, status=LineStatus.PAID,
                                            for_month__in=months, elder__status=ElderStatus.ACTIVE,
                                            elder__status_events__isnull=True)
                    .exclude(elder_id__in=self.special).values("elder_id").annotate(n=Count("id"))
                    .filter(n=len(months)).order_by("elder_id").values_list("elder_id", flat=True))

    def _late_event(self, code: str, kind: str, *, effective, paid, at: int, note: str) -> bool:
        from yiyang.registry import services as registry
        from yiyang.registry.models import Elder, ElderCategory, ElderStatusEvent

        candidates = self._paid_in(code, paid)
        if not candidates:
            return False
        elder = Elder.objects.get(pk=self.rng.choice(candidates))
        day = self._day(*effective)
        recorded = _at(self._day(at, 2), 10, 30)
        event = registry.record_status_event(actor=self.actor, elder=elder, kind=kind, effective_date=day, note=note)
        # Registered late: at the simulated day, after the rolls of the months it affects.
        ElderStatusEvent.objects.filter(pk=event.pk).update(recorded_at=recorded)
        Elder.objects.filter(pk=elder.pk).update(updated_at=recorded)
        if kind == "death":
            ElderCategory.objects.filter(elder=elder, end_date__isnull=True, start_date__lte=day).update(
                end_date=day, updated_at=recorded)
        self.special.add(elder.pk)
        self.told.append(f"{elder.name} {event.get_kind_display()} {day} registered {recorded.date()}")
        return True

    def _late_subsistence(self, *, effective, at: int) -> None:
        """Someone disabled (level 2–4 since before the month) whose 低保 is approved months late."""
        from yiyang.assessment.models import Assessment
        from yiyang.registry import services as registry
        from yiyang.registry.models import Elder, ElderCategory, ElderStatus

        start = self._day(*effective)
        first_paid = rules.add_months(start.replace(day=1), 1)
        poor = ElderCategory.objects.filter(kind__in=["subsistence", "near_subsistence", "low_income", "destitute"])
        published = Assessment.objects.filter(status="published", final_level__isnull=False)
        early = set(published.filter(published_at__lt=_at(first_paid), final_level__in=[2, 3, 4])
                    .values_list("elder_id", flat=True))
        low = set(published.filter(final_level__lt=2).values_list("elder_id", flat=True))
        ids = sorted(set(Elder.objects.filter(pk__in=early, county_code=DEMO_COUNTY, status=ElderStatus.ACTIVE,
                                              status_events__isnull=True)
                         .exclude(pk__in=poor.values("elder_id")).values_list("pk", flat=True))
                     - low - self.special)
        if not ids:
            return
        elder = Elder.objects.get(pk=self.rng.choice(ids))
        recorded = _at(self._day(at, 2), 15)
        category = registry.add_category(actor=self.actor, elder=elder, kind="subsistence", start_date=start,
                                         note="农村低保（审批迟录入）")
        ElderCategory.objects.filter(pk=category.pk).update(updated_at=recorded)
        self.special.add(elder.pk)
        self.told.append(f"{elder.name} 低保 from {start} registered {recorded.date()}")


# ------------------------------------------------------------------------------------------------ one month


def _stamp(roll: Roll, month: datetime.date) -> None:
    """Move the roll's workflow times to the simulated month: generated on the 3rd, checks cleared and
    submitted on the 4th, streets signed on the 6th, approved on the 8th, the bank file on the 9th, the
    results back on the 16th (paid on the 15th). `generated_at` matters to the engine: later rolls look for
    changes recorded after it."""
    day = month.replace
    Roll.objects.filter(pk=roll.pk).update(
        created_at=_at(day(day=3), 9), generated_at=_at(day(day=3), 9, 20), submitted_at=_at(day(day=4), 16),
        approved_at=_at(day(day=8), 10), exported_at=_at(day(day=9), 9) if roll.exported_at else None,
        results_imported_at=_at(day(day=16), 10) if roll.results_imported_at else None)
    RollCheck.objects.filter(roll=roll).exclude(resolved_at=None).update(resolved_at=_at(day(day=4), 11))
    StreetReview.objects.filter(roll=roll).exclude(reviewed_at=None).update(reviewed_at=_at(day(day=6), 15))
    BankResultImport.objects.filter(roll=roll).update(imported_at=_at(day(day=16), 10))


def _clear_checks(actor, roll: Roll) -> tuple[int, int]:
    confirmed = withheld = 0
    for check in RollCheck.objects.filter(roll=roll, resolution="").select_related("roll").order_by("pk"):
        resolution, note = RESOLUTIONS.get(check.kind, ("confirmed", "已核实，照常发放"))
        services.resolve_check(actor=actor, check=check, resolution=resolution, note=note)
        confirmed += resolution == "confirmed"
        withheld += resolution == "withheld"
    return confirmed, withheld


def _results_file(content: bytes, month: datetime.date, failures: dict[int, str]) -> bytes:
    """The bank's answer to our CSV payment file (bankfile.py: the same columns plus 结果, 失败原因, 发放日期)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rows[0] + ["结果", "失败原因", "发放日期"])
    paid_on = month.replace(day=15).isoformat()
    for row in rows[1:]:
        reason = failures.get(int(row[0]))
        writer.writerow(row + (["失败", reason, ""] if reason else ["成功", "", paid_on]))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _pay(rng, actor, roll: Roll, month: datetime.date, special: set[int]) -> int:
    """Export the bank file, and import the bank's results: all paid on the 15th but a few failures."""
    from yiyang.registry.models import Elder

    name, content, _mime = services.export_bank_file(actor=actor, roll=roll, fmt="csv")
    if content.decode("utf-8-sig").count("\r\n") <= 1:
        return 0  # nothing to pay (a small demo scale): no results file comes back, the roll stays exported
    payable = list(RollLine.objects.filter(roll=roll, status=LineStatus.PENDING, amount__gt=0,
                                           kind=LineKind.REGULAR, checks__isnull=True)
                   .exclude(elder_id__in=special).order_by("elder_id", "for_month")  # not pk: insert order varies
                   .values_list("pk", "elder_id"))
    wanted = {"longevity": rng.choice([1, 2]), "care": 1, "destitute_care": 1}.get(roll.programme.code, 0)
    if roll.programme.code != "longevity" and rng.random() < 0.6:
        wanted = 0
    failures, fixes = {}, []
    for line_id, elder_id in rng.sample(payable, min(wanted, len(payable))):
        failures[line_id] = rng.choice(FAILURES)
        fixes.append((elder_id, failures[line_id]))
        special.add(elder_id)  # kept out of the late registrations, to keep each story simple
    services.import_bank_results(actor=actor, roll=roll, file_name=name.replace(".csv", "-回盘.csv"),
                                 content=_results_file(content, month, failures))
    # The families bring a new account or the right name before next month's roll, which re-issues the money.
    for elder_id, reason in fixes:
        if reason == "户名不符":
            Elder.objects.filter(pk=elder_id).update(bank_account_holder=Elder.objects.get(pk=elder_id).name)
        else:
            bank, number = bank_account(rng, False)
            Elder.objects.filter(pk=elder_id).update(bank_name=bank, bank_account=number)
    return len(failures)


def _run_month(rng, actor, county, programme: Programme, month: datetime.date, streets: dict, special: set[int],
               *, close: bool, tally: dict) -> Roll:
    roll = services.create_roll(actor=actor, programme=programme, jurisdiction=county, month=month)
    roll = services.generate_roll(actor=actor, roll=roll)
    if not close:
        return roll
    confirmed, withheld = _clear_checks(actor, roll)
    tally["confirmed"] += confirmed
    tally["withheld"] += withheld
    roll = services.submit_for_review(actor=actor, roll=roll)
    street_user = streets.get("user")
    for review in StreetReview.objects.filter(roll=roll).select_related("street").order_by("street_id"):
        signer = street_user if street_user is not None and review.street_id == street_user.scope_code else actor
        services.sign_off_street(actor=signer, roll=roll, street=review.street,
                                 note="" if signer is street_user else "据街道签字盖章的审核表代为确认")
    roll = services.approve_roll(actor=actor, roll=roll)
    if programme.pays_to_bank:
        tally["failed"] += _pay(rng, actor, roll, month, special)
    for line in RollLine.objects.filter(roll=roll, kind=LineKind.RECOVERY, status=LineStatus.PENDING):
        services.mark_recovered(actor=actor, line=line, note="家属已退回多发款项")
        RollLine.objects.filter(pk=line.pk).update(paid_on=month.replace(day=25))
    roll.refresh_from_db()
    _stamp(roll, month)
    return roll


# ------------------------------------------------------------------------------------------------ the step


def _programmes() -> dict[str, Programme]:
    out = {}
    for position, (code, kind, name, bank, description) in enumerate(PROGRAMMES, start=1):
        out[code], _ = Programme.objects.update_or_create(code=code, defaults={
            "kind": kind, "name": name, "pays_to_bank": bank, "description": description, "position": position})
    return out


@demo_step
def benefits_demo(ctx, log) -> None:
    county = ctx.county
    if Roll.objects.filter(jurisdiction=county).exists():
        log("benefits: the county already has rolls, left as they are")
        return
    actor = ctx.accounts.get("bureau")
    if actor is None:
        log("benefits: no demo bureau account, skipped")
        return
    from yiyang.registry.models import FamilyLink

    rng = _rng(ctx.seed, "benefits")
    this_month = timezone.localdate().replace(day=1)
    months = [rules.add_months(this_month, k - HISTORY_MONTHS) for k in range(HISTORY_MONTHS)]
    programmes = _programmes()
    for code, (params, note, source) in {**RULES, **ALLOWANCE_RULES}.items():
        rule = RuleVersion.objects.filter(programme=programmes[code], jurisdiction=county).first()
        if rule is None:
            rule = services.adopt_rule(actor=actor, programme=programmes[code], jurisdiction=county, params=params,
                                       valid_from=months[0], note=note, source=source)
        # Adopted before the first roll (a rule adopted after a month's roll would recompute that month).
        adopted = _at(months[0] - datetime.timedelta(days=20), 15)
        RuleVersion.objects.filter(pk=rule.pk).update(created_at=adopted, adopted_at=adopted)
    log(f"benefits: programmes {', '.join(p.name for p in programmes.values())}; rules adopted from "
        f"{months[0]:%Y-%m}")

    _backdate_register(_rng(ctx.seed, "register"), months[0])
    accounts = _bank_accounts(_rng(ctx.seed, "accounts"), months[0], log)
    special = set(accounts) | set(FamilyLink.objects.values_list("elder_id", flat=True))  # the family's mother
    story = _Story(_rng(ctx.seed, "story"), actor, months, this_month, programmes, special, log)
    streets = {"user": ctx.accounts.get("street")}
    paying = [programmes[code] for code in RULES]
    # 服务补贴: approved every month like the others, credited to the allowances instead of paid to a bank.
    vouchers = [programmes[code] for code in ALLOWANCE_RULES]
    tally = {"confirmed": 0, "withheld": 0, "failed": 0}
    for i, month in enumerate(months):
        story.accounts(i, accounts)
        story.before_roll(i)
        for programme in paying:
            _run_month(rng, actor, county, programme, month, streets, story.special, close=True, tally=tally)
        for programme in vouchers:
            _run_month(rng, actor, county, programme, month, streets, story.special, close=True, tally=tally)
    story.before_roll(len(months))
    drafts = [_run_month(rng, actor, county, programme, this_month, streets, story.special, close=False,
                         tally=tally) for programme in paying]
    # This month's allowances are approved already: the services demo's orders draw on them.
    current = [_run_month(rng, actor, county, programme, this_month, streets, story.special, close=True,
                          tally=tally) for programme in vouchers]

    kinds = dict(RollLine.objects.filter(roll__jurisdiction=county).exclude(kind=LineKind.REGULAR)
                 .values_list("kind").annotate(n=Count("id")))
    paid = RollLine.objects.filter(roll__jurisdiction=county, status=LineStatus.PAID).count()
    audit.record(actor=None, action=AuditAction.IMPORT, object_type="benefits.roll", object_repr="演示城市",
                 region_code=DEMO_COUNTY, detail=f"演示数据：{len(months)} 个月的发放名册，本月名册为草稿")
    log(f"benefits: {len(months) * len(paying)} rolls {months[0]:%Y-%m}–{months[-1]:%Y-%m} approved and paid "
        f"({paid} lines paid, {tally['failed']} failed at the bank, {tally['confirmed']} checks confirmed, "
        f"{tally['withheld']} lines withheld); adjustments: "
        + ", ".join(f"{LineKind(k).label} {n}" for k, n in sorted(kinds.items())))
    for roll in current:
        log(f"benefits: {roll.programme.name} approved for {len(months) + 1} months up to {this_month:%Y-%m} "
            f"({roll.line_count} lines this month, {roll.total_amount} yuan), credited to service allowances")
    if story.told:
        log("benefits: registered late: " + "; ".join(story.told))
    log(f"benefits: {this_month:%Y-%m} in draft: " + ", ".join(
        f"{r.programme.name} {r.line_count} lines {r.total_amount} yuan, {r.open_checks} open checks"
        for r in drafts))

