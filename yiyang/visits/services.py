"""Visits: the write operations (keyword-only, one transaction each, audited; the convention: docs/architecture.md).

Rule sets are drafted, simulated and adopted; visitors are added and paired (包联), re-paired in bulk when one
leaves; the month's tasks are generated set-based (`generation.py`); triggers raise ad-hoc tasks due within 24
hours; a visit record closes a task; reminders and escalation run from the task worker.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiyang.core import audit, pii
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region, Role
from yiyang.registry.models import Elder, ElderStatus
from yiyang.registry.services import Errors, parse_coordinates

from . import generation, policy, rules
from .models import (
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Outcome,
    Pairing,
    RuleStatus,
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

AD_HOC_HOURS = 24          # a trigger's visit is due within a day (issue 15)
FAILED_ATTEMPTS_LIMIT = 3  # three visits without seeing the person raise a task for the community
FAR_METRES = 500           # as for a caregiver's check-in
CLOCK_SKEW = datetime.timedelta(minutes=10)  # a phone's clock may run a little ahead
MAX_BACKDATE = datetime.timedelta(days=31)   # an offline phone may sync late, not a month later


def _text(value, limit: int) -> str:
    return str(value or "").strip()[:limit]


# ------------------------------------------------------------------------------------------------- rule sets


@transaction.atomic
def draft_rule_set(*, actor, jurisdiction: Region, params: dict, valid_from: datetime.date, note: str = "",
                   source: str = "") -> TierRuleSet:
    policy.may_draft_rule_set(actor, jurisdiction).require()
    parsed = rules.parse(params)
    if not isinstance(valid_from, datetime.date) or valid_from.day != 1:
        raise ValidationError({"valid_from": [_("起始月份须为某月 1 日。")]})
    last = TierRuleSet.objects.select_for_update().filter(jurisdiction=jurisdiction).order_by("-version").first()
    rule_set = TierRuleSet.objects.create(
        jurisdiction=jurisdiction, version=(last.version + 1) if last else 1, params=parsed.to_json(),
        valid_from=valid_from, note=_text(note, 300), source=_text(source, 300), created_by=actor)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=rule_set, after=audit.snapshot(rule_set),
                 region_code=jurisdiction.code)
    return rule_set


def simulate_rule_set(*, rule_set: TierRuleSet, month: datetime.date | None = None) -> dict:
    """What adopting `rule_set` would mean in its jurisdiction: people and visits a month per tier, beside the
    rule set in force today, and who the policy covers but no tier places. Reads only."""
    month = month or max(rule_set.valid_from, rules.month_start(timezone.localdate()))
    code = rule_set.jurisdiction.code
    proposed = generation.simulate(rules.parse(rule_set.params), month=month, area_code=code)
    current = None
    in_force = [r for r in generation.rule_sets_in_force(month, rule_set.jurisdiction)
                if r.jurisdiction.code == code and r.pk != rule_set.pk]
    if in_force:
        current = generation.simulate(rules.parse(in_force[-1].params), month=month, area_code=code)
    return {"month": month, "proposed": proposed, "current": current,
            "current_rule_set": in_force[-1] if in_force else None}


@transaction.atomic
def adopt_rule_set(*, actor, rule_set: TierRuleSet) -> TierRuleSet:
    """Adopt a draft from its first month; the version in force then ends the month before. Refused while the
    policy covers someone no tier places (they would never be visited)."""
    rule_set = TierRuleSet.objects.select_for_update().select_related("jurisdiction").get(pk=rule_set.pk)
    policy.may_adopt_rule_set(actor, rule_set).require()
    sim = generation.simulate(rules.parse(rule_set.params), month=rule_set.valid_from,
                              area_code=rule_set.jurisdiction.code)
    if sim.covered_untiered:
        raise ValidationError({"tiers": [
            _("有 %(n)s 名应访老人不属于任何巡访等级（例如编号 %(ids)s），请补充等级条件后再启用。")
            % {"n": sim.covered_untiered, "ids": "、".join(str(i) for i in sim.untiered_sample[:5])}]})
    earlier = (TierRuleSet.objects.select_for_update()
               .filter(jurisdiction=rule_set.jurisdiction, status=RuleStatus.ADOPTED)
               .exclude(valid_until__lt=rule_set.valid_from))
    for old in earlier:
        if old.valid_from >= rule_set.valid_from:
            before = audit.snapshot(old)
            old.status = RuleStatus.RETIRED
            old.save(update_fields=["status"])
        else:
            before = audit.snapshot(old)
            old.valid_until = rules.add_months(rule_set.valid_from, -1)
            old.save(update_fields=["valid_until"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=old, before=before, after=audit.snapshot(old),
                     region_code=old.jurisdiction_id)
    before = audit.snapshot(rule_set)
    rule_set.status = RuleStatus.ADOPTED
    rule_set.adopted_at = timezone.now()
    rule_set.adopted_by = actor
    rule_set.save(update_fields=["status", "adopted_at", "adopted_by"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=rule_set, before=before,
                 after=audit.snapshot(rule_set), detail=_("启用巡访分级规则"), region_code=rule_set.jurisdiction_id)
    return rule_set


# ------------------------------------------------------------------------------------------------- visitors


@transaction.atomic
def add_visitor(*, actor, name: str, kind: str, region: Region, phone: str = "", user=None) -> Visitor:
    policy.may_manage_visitors(actor, region.code).require()
    errors = Errors()
    if kind not in VisitorKind.values:
        errors.add("kind", _("身份取值无效。"))
    if region.level not in ("community", "street"):
        errors.add("region", _("巡访员须属于某个社区/村或街道。"))
    if user is not None:
        if user.role not in (Role.VISITOR, Role.COMMUNITY, Role.STREET):
            errors.add("user", _("该账号的角色不能巡访。"))
        elif Visitor.objects.filter(user=user).exists():
            errors.add("user", _("该账号已登记为巡访员。"))
    if errors:
        raise ValidationError(errors)
    visitor = Visitor(name=_text(name, 64), kind=kind, region=region, phone=_text(phone, 20), user=user)
    visitor.full_clean(exclude=["user", "region"])
    visitor.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=visitor, after=audit.snapshot(visitor),
                 region_code=region.code)
    return visitor


def _check_can_visit(visitor: Visitor | None, elder: Elder, field: str, errors: Errors) -> None:
    if visitor is None:
        return
    if not visitor.active:
        errors.add(field, _("%(name)s 已离岗。") % {"name": visitor.name})
    elif not elder.residence_region_id.startswith(visitor.region_code[:9]):
        errors.add(field, _("%(name)s 不在该老人所在街道工作。") % {"name": visitor.name})


def _open_pairing(*, actor, elder: Elder, visitor: Visitor, backup: Visitor | None, since: datetime.date) -> Pairing:
    pairing = Pairing.objects.create(elder=elder, visitor=visitor, backup=backup, since=since,
                                     region_code=elder.residence_region_id, county_code=elder.county_code,
                                     created_by=actor)
    # Open tasks follow the person's responsible visitor.
    VisitTask.objects.filter(elder=elder, status=TaskStatus.OPEN).update(visitor=visitor)
    return pairing


@transaction.atomic
def pair(*, actor, elder: Elder, visitor: Visitor, backup: Visitor | None = None,
         since: datetime.date | None = None) -> Pairing:
    """Make `visitor` the elder's responsible visitor (with a backup) from `since`; ends the previous pairing."""
    policy.may_manage_visitors(actor, elder.residence_region_id).require()
    since = since or timezone.localdate()
    errors = Errors()
    if elder.status != ElderStatus.ACTIVE:
        errors.add("elder", _("该老人不在册（%(status)s），不能安排包联。") % {"status": elder.get_status_display()})
    _check_can_visit(visitor, elder, "visitor", errors)
    _check_can_visit(backup, elder, "backup", errors)
    if backup is not None and backup.pk == visitor.pk:
        errors.add("backup", _("备岗人不能与责任人相同。"))
    if errors:
        raise ValidationError(errors)
    current = Pairing.objects.select_for_update().filter(elder=elder, until__isnull=True).first()
    if current is not None:
        if current.visitor_id == visitor.pk and current.backup_id == (backup.pk if backup else None):
            return current
        current.until = since
        current.save(update_fields=["until"])
    pairing = _open_pairing(actor=actor, elder=elder, visitor=visitor, backup=backup, since=since)
    audit.record(actor=actor, action=AuditAction.CREATE, instance=pairing, after=audit.snapshot(pairing),
                 region_code=elder.residence_region_id, detail=f"{elder} → {visitor}")
    return pairing


@transaction.atomic
def visitor_leaves(*, actor, visitor: Visitor, successor: Visitor | None = None,
                   on: datetime.date | None = None) -> dict:
    """A visitor leaves: everyone they were responsible for goes to `successor` (or, without one, to their
    backup, who stops being the backup); where they were the backup, the backup is cleared. Returns counts,
    including those left unpaired (on the community's unpaired list)."""
    policy.may_manage_visitors(actor, visitor.region_code).require()
    on = on or timezone.localdate()
    if successor is not None and (successor.pk == visitor.pk or not successor.active):
        raise ValidationError({"successor": [_("接替人须为另一名在岗巡访员。")]})
    moved = promoted = unpaired = 0
    # Lock the pairings only: PostgreSQL refuses FOR UPDATE on the nullable side of the backup's outer join.
    open_pairings = (Pairing.objects.select_for_update(of=("self",)).filter(visitor=visitor, until__isnull=True)
                     .select_related("elder", "backup"))
    for pairing in open_pairings:
        pairing.until = on
        pairing.save(update_fields=["until"])
        new_backup = pairing.backup if pairing.backup_id != (successor.pk if successor else None) else None
        if successor is not None:
            _open_pairing(actor=actor, elder=pairing.elder, visitor=successor, backup=new_backup, since=on)
            moved += 1
        elif pairing.backup is not None and pairing.backup.active:
            _open_pairing(actor=actor, elder=pairing.elder, visitor=pairing.backup, backup=None, since=on)
            promoted += 1
        else:
            VisitTask.objects.filter(elder=pairing.elder, status=TaskStatus.OPEN).update(visitor=None)
            unpaired += 1
    backups = Pairing.objects.filter(backup=visitor, until__isnull=True).update(backup=None)
    before = audit.snapshot(visitor)
    visitor.active = False
    visitor.left_on = on
    visitor.save(update_fields=["active", "left_on"])
    result = {"moved": moved, "promoted": promoted, "unpaired": unpaired, "backups_cleared": backups}
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=visitor, before=before,
                 after=audit.snapshot(visitor), region_code=visitor.region_code,
                 detail=_("离岗交接：转给接替人 %(moved)s 人，备岗人接替 %(promoted)s 人，待重新包联 %(unpaired)s 人")
                 % result)
    return result


# ------------------------------------------------------------------------------------------------- tasks


def generate_month(*, month: datetime.date, area: Region | None = None, now: datetime.datetime | None = None,
                   actor=None) -> int:
    """The month's scheduled tasks for everyone in a tier (set-based, idempotent); run from the task worker
    on the 1st, or by the bureau."""
    if month.day != 1:
        raise ValidationError({"month": [_("月份须为某月 1 日。")]})
    with transaction.atomic():
        made = generation.generate_tasks(month=month, area=area, now=now)
        audit.record(actor=actor, action=AuditAction.CREATE, object_type="visits.visittask",
                     object_repr=f"{month:%Y-%m}", region_code=area.code if area else "",
                     detail=_("生成 %(month)s 巡访任务 %(n)s 条") % {"month": f"{month:%Y-%m}", "n": made})
    return made


@transaction.atomic
def raise_task(*, actor, elder: Elder, trigger: str, at: datetime.datetime | None = None, note: str = "",
               trigger_ref: str = "", authorised: bool = False) -> tuple[VisitTask, bool]:
    """An ad-hoc visit due within 24 hours of its trigger; the same trigger (`trigger_ref`) raises it once.
    Returns (task, created). `authorised`: another domain's service raising it has checked who may."""
    if not authorised:
        policy.may_raise_task(actor, elder).require()
    if trigger not in Trigger.values:
        raise ValidationError({"trigger": [_("触发原因取值无效。")]})
    if elder.status != ElderStatus.ACTIVE:
        raise DomainError("elder_inactive", _("该老人%(status)s，不再安排探访。") % {
            "status": elder.get_status_display()}, status=409)
    at = at or timezone.now()
    if at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"at": [_("时间不能晚于当前时间。")]})
    trigger_ref = _text(trigger_ref, 64)
    if trigger_ref:
        found = VisitTask.objects.filter(elder=elder, kind=TaskKind.AD_HOC, trigger=trigger,
                                         trigger_ref=trigger_ref).first()
        if found is not None:
            return found, False
    pairing = elder.visit_pairings.filter(until__isnull=True).first()
    due = at + datetime.timedelta(hours=AD_HOC_HOURS)
    try:
        with transaction.atomic():
            task = VisitTask.objects.create(
                elder=elder, kind=TaskKind.AD_HOC, trigger=trigger, trigger_ref=trigger_ref,
                trigger_note=_text(note, 300), period_month=rules.month_start(timezone.localtime(due).date()),
                window_start=at, due_at=due, remote_counts=False, visitor=pairing.visitor if pairing else None,
                region_code=elder.residence_region_id, county_code=elder.county_code,
                created_by=actor if getattr(actor, "is_authenticated", False) else None)
    except IntegrityError:
        # The same trigger raised at the same moment elsewhere (a webhook retry): one task.
        return VisitTask.objects.get(elder=elder, kind=TaskKind.AD_HOC, trigger=trigger, trigger_ref=trigger_ref), False
    audit.record(actor=actor, action=AuditAction.CREATE, instance=task, after=audit.snapshot(task),
                 region_code=task.region_code, detail=Trigger(trigger).label)
    return task, True


@transaction.atomic
def cancel_task(*, actor, task: VisitTask, reason: str) -> VisitTask:
    task = VisitTask.objects.select_for_update().get(pk=task.pk)
    policy.may_cancel_task(actor, task).require()
    reason = _text(reason, 200)
    if not reason:
        raise ValidationError({"reason": [_("请填写原因。")]})
    before = audit.snapshot(task)
    task.status = TaskStatus.CANCELLED
    task.cancel_reason = reason
    task.save(update_fields=["status", "cancel_reason"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=task, before=before, after=audit.snapshot(task),
                 region_code=task.region_code)
    return task


def remind_and_escalate(*, now: datetime.datetime | None = None) -> tuple[int, int]:
    """Set-based: open tasks due within the reminder lead are marked reminded (the visitor's phone shows them
    first); tasks overdue longer than the escalation delay go up to the street (its overdue list). The
    delays are the rule set's; ad-hoc tasks use the defaults. Returns (reminded, escalated)."""
    now = now or timezone.now()
    reminded = escalated = 0
    with transaction.atomic():
        groups: dict[tuple[int, int], list] = {}
        for rule_set in TierRuleSet.objects.filter(status=RuleStatus.ADOPTED).only("pk", "params"):
            try:
                p = rules.parse(rule_set.params)
            except ValidationError:
                continue
            groups.setdefault((p.remind_before_hours, p.escalate_after_hours), []).append(rule_set.pk)
        defaults = (rules.DEFAULT_REMIND_BEFORE_HOURS, rules.DEFAULT_ESCALATE_AFTER_HOURS)
        known = [pk for pks in groups.values() for pk in pks]
        base = VisitTask.objects.filter(status=TaskStatus.OPEN)
        selections = [((remind, escalate), base.filter(rule_set_id__in=pks)) for (remind, escalate), pks in
                      groups.items()]
        selections.append((defaults, base.exclude(rule_set_id__in=known)))
        for (remind, escalate), qs in selections:
            reminded += qs.filter(reminded_at__isnull=True, due_at__lte=now + datetime.timedelta(hours=remind)
                                  ).update(reminded_at=now)
            escalated += qs.filter(escalated_at__isnull=True, due_at__lte=now - datetime.timedelta(hours=escalate)
                                   ).update(escalated_at=now)
        if reminded or escalated:
            audit.record(actor=None, action=AuditAction.UPDATE, object_type="visits.visittask",
                         detail=_("巡访提醒 %(r)s 条，上报街道 %(e)s 条") % {"r": reminded, "e": escalated})
    return reminded, escalated


def daily_run(*, now: datetime.datetime | None = None) -> dict:
    """The daily run: the current month's tasks (windows not yet over), reminders and escalation. Every part
    is idempotent, so a second run the same day changes nothing."""
    now = now or timezone.now()
    made = generate_month(month=rules.month_start(timezone.localtime(now).date()), now=now)
    reminded, escalated = remind_and_escalate(now=now)
    return {"made": made, "reminded": reminded, "escalated": escalated}


# ------------------------------------------------------------------------------------------------- visits


def _moment(value) -> datetime.datetime:
    if value in (None, ""):
        return timezone.now()
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError({"visited_at": [_("时间格式无效。")]}) from None
    if not isinstance(value, datetime.datetime):
        raise ValidationError({"visited_at": [_("时间格式无效。")]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _checklist(raw) -> tuple[dict, int]:
    if raw in (None, ""):
        return {}, 0
    if not isinstance(raw, dict):
        raise ValidationError({"checklist": [_("巡访清单格式无效。")]})
    bad = [k for k in raw if k not in rules.CHECKLIST_CODES]
    wrong = [k for k, v in raw.items() if k in rules.CHECKLIST_CODES and v not in rules.CHECK_VALUES]
    if bad or wrong:
        raise ValidationError({"checklist": [
            _("巡访清单中有无效项：%(items)s") % {"items": "、".join(map(str, bad + wrong))}]})
    return dict(raw), sum(1 for v in raw.values() if v == "concern")


def _replayed_visit(client_key: str, elder: Elder) -> VisitRecord | None:
    found = VisitRecord.objects.filter(client_key=client_key).first()
    if found is not None and found.elder_id != elder.pk:
        raise DomainError(ErrorCode.CLIENT_KEY_CONFLICT, _("该提交编号已用于另一次巡访。"), status=409)
    return found


def _pick_task(elder: Elder, task: VisitTask | None, when: datetime.datetime) -> VisitTask | None:
    """The task a visit answers: the one named, else the person's open task whose window holds the moment
    (ad-hoc first: it is the urgent one)."""
    if task is not None:
        if task.elder_id != elder.pk:
            raise ValidationError({"task": [_("该任务不是这位老人的。")]})
        return VisitTask.objects.select_for_update().get(pk=task.pk)
    candidates = (VisitTask.objects.select_for_update()
                  .filter(elder=elder, status=TaskStatus.OPEN, window_start__lte=when + CLOCK_SKEW)
                  .order_by("kind", "due_at"))  # "ad_hoc" < "scheduled": ascending puts ad-hoc first
    return candidates.first()


@transaction.atomic
def record_visit(*, actor, elder: Elder, method: str, outcome: str, visited_at=None, task: VisitTask | None = None,
                 latitude=None, longitude=None, seen: str = "", checklist=None, notes: str = "", photo=None,
                 follow_ups: list[dict] | None = None, client_key: str | None = None) -> tuple[VisitRecord, bool]:
    """A visit, as the phone sends it (possibly late, possibly twice): returns (record, created). It closes the
    task it answers when the person was seen by a method the task counts; "not at home" and "refused" count
    an attempt, and the third raises a task for the community."""
    client_key = _text(client_key, 64) or None
    elder = Elder.objects.select_for_update().get(pk=elder.pk)
    if client_key and (found := _replayed_visit(client_key, elder)) is not None:
        return found, False
    when = _moment(visited_at)
    if elder.status != ElderStatus.ACTIVE and (elder.status_date is None or elder.status_date <= timezone.localtime(
            when).date()):
        # Said before authority: the pairing ended with the death or move, and "not your elder" would hide why.
        raise ValidationError({"elder": [_("该老人的状态为“%(status)s”，不能登记巡访。") % {
            "status": elder.get_status_display()}]})
    policy.may_record_visit(actor, elder).require()
    errors = Errors()
    now = timezone.now()
    if when > now + CLOCK_SKEW:
        errors.add("visited_at", _("巡访时间不能晚于当前时间。"))
    elif when < now - MAX_BACKDATE:
        errors.add("visited_at", _("巡访时间早于一个月前，请联系社区补录。"))
    if method not in VisitMethod.values:
        errors.add("method", _("巡访方式取值无效。"))
    if outcome not in Outcome.values:
        errors.add("outcome", _("巡访结果取值无效。"))
    lat, lon = parse_coordinates(latitude, longitude, errors)
    try:
        items, concerns = _checklist(checklist)
    except ValidationError as e:
        for field, messages in e.message_dict.items():
            for m in messages:
                errors.add(field, m)
        items, concerns = {}, 0
    kinds = [f.get("kind") for f in follow_ups or []]
    if any(k not in FollowUpKind.values for k in kinds):
        errors.add("follow_ups", _("后续事项类型无效。"))
    if errors:
        raise ValidationError(errors)
    task = _pick_task(elder, task, when)
    if task is not None and task.status == TaskStatus.CANCELLED:
        raise DomainError(ErrorCode.INVALID_STATE, _("该巡访任务已取消。"), status=409)
    rule_methods = _task_methods(task)
    if task is not None and rule_methods and method not in rule_methods:
        raise ValidationError({"method": [_("该等级不允许以“%(m)s”方式巡访。") % {"m": VisitMethod(method).label}]})
    distance = None
    far = False
    if lat is not None and elder.latitude is not None and elder.longitude is not None and method == VisitMethod.HOME:
        from yiyang.services.services import haversine_metres

        distance = round(haversine_metres(lat, lon, elder.latitude, elder.longitude))
        far = distance > FAR_METRES
    counts = (outcome == Outcome.SEEN and task is not None and task.status == TaskStatus.OPEN
              and (method == VisitMethod.HOME or task.remote_counts) and not far)
    visitor = getattr(actor, "visitor", None) if hasattr(actor, "visitor") else None
    record = VisitRecord(
        elder=elder, task=task, visitor=visitor, recorded_by=actor, method=method, outcome=outcome, visited_at=when,
        latitude=lat, longitude=lon, distance_m=distance, far_from_home=far, seen=_text(seen, 100),
        checklist=items, concerns=concerns, notes=_text(notes, 2000), counts=counts, client_key=client_key,
        region_code=elder.residence_region_id, county_code=elder.county_code)
    if photo is not None:
        record.photo = photo
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        found = VisitRecord.objects.filter(client_key=client_key).first() if client_key else None
        if found is None:
            raise
        return found, False
    audit.record(actor=actor, action=AuditAction.CREATE, instance=record, after=audit.snapshot(record),
                 region_code=record.region_code)
    if task is not None and task.status == TaskStatus.OPEN:
        if counts:
            task.status = TaskStatus.DONE
            task.done_at = when
            task.save(update_fields=["status", "done_at"])
        elif outcome in (Outcome.NOT_HOME, Outcome.REFUSED):
            task.failed_attempts += 1
            task.save(update_fields=["failed_attempts"])
            if task.failed_attempts == FAILED_ATTEMPTS_LIMIT:
                raise_task(actor=actor, elder=elder, trigger=Trigger.FAILED_ATTEMPTS, at=when, authorised=True,
                           trigger_ref=f"task:{task.pk}",
                           note=_("已 %(n)s 次未见到本人，请社区核实老人安全") % {"n": task.failed_attempts})
    for spec in follow_ups or []:
        _follow_up(actor=actor, record=record, spec=spec)
    return record, True


def _task_methods(task: VisitTask | None) -> tuple[str, ...]:
    if task is None or task.rule_set_id is None:
        return ()
    tier = rules.parse(task.rule_set.params).tier(task.tier)
    return tier.methods if tier else ()


def _follow_up(*, actor, record: VisitRecord, spec: dict) -> FollowUp:
    """A need found on the visit becomes work: an order or an assessment request at once, in their own
    domains (their rules apply: a refusal there refuses the visit, nothing half-done); the rest wait on the
    community's desk."""
    kind = spec.get("kind")
    note = _text(spec.get("note"), 300)
    follow_up = FollowUp(record=record, elder=record.elder, kind=kind, note=note, region_code=record.region_code)
    if kind == FollowUpKind.SERVICE_ORDER:
        follow_up.order = _order_from_visit(actor=actor, record=record, spec=spec)
        follow_up.status = FollowUpStatus.DONE
    elif kind == FollowUpKind.ASSESSMENT:
        from yiyang.assessment.models import CurrentLevel, Reason
        from yiyang.assessment.services import request_assessment

        # 即时评估 when the person has a level that the visit finds out of date, else the first assessment.
        reason = Reason.IMMEDIATE if CurrentLevel.objects.filter(elder=record.elder).exists() else Reason.FIRST
        follow_up.assessment = request_assessment(actor=actor, elder=record.elder, reason=reason,
                                                  note=note or _("巡访发现能力变化"), authorised=True)
        follow_up.status = FollowUpStatus.DONE
    follow_up.closed_at = timezone.now() if follow_up.status == FollowUpStatus.DONE else None
    follow_up.save()
    audit.record(actor=actor, action=AuditAction.CREATE, instance=follow_up, after=audit.snapshot(follow_up),
                 region_code=follow_up.region_code)
    return follow_up


def _key(value) -> int | None:
    """A row id as a phone or form sends it (a number or its digits), or None; never a database error."""
    text = str(value if value is not None else "").strip()
    return int(text) if pii.is_ascii_digits(text) and len(text) <= 15 else None


def _order_from_visit(*, actor, record: VisitRecord, spec: dict):
    from yiyang.registry.models import Organisation
    from yiyang.services.models import OrderChannel, ServiceItem
    from yiyang.services.services import place_order

    errors = Errors()
    item_id, provider_id = _key(spec.get("item")), _key(spec.get("provider"))
    item = ServiceItem.objects.filter(pk=item_id).first() if item_id else None
    provider = Organisation.objects.filter(pk=provider_id).first() if provider_id else None
    if item is None:
        errors.add("follow_ups", _("请选择服务项目。"))
    if provider is None:
        errors.add("follow_ups", _("请选择服务机构。"))
    if errors:
        raise ValidationError(errors)
    order, _created = place_order(actor=actor, elder=record.elder, provider=provider, item=item,
                                  scheduled_start=spec.get("scheduled_start"), channel=OrderChannel.VISIT,
                                  note=_text(spec.get("note"), 300) or _("巡访发现需求"),
                                  client_key=f"visit:{record.pk}:{item.pk}")
    return order


@transaction.atomic
def close_follow_up(*, actor, follow_up: FollowUp, note: str = "") -> FollowUp:
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    policy.may_close_follow_up(actor, follow_up).require()
    before = audit.snapshot(follow_up)
    follow_up.status = FollowUpStatus.CLOSED
    follow_up.closed_at = timezone.now()
    follow_up.closed_by = actor
    if note:
        follow_up.note = _text(f"{follow_up.note} / {note}" if follow_up.note else note, 300)
    follow_up.save(update_fields=["status", "closed_at", "closed_by", "note"])
    audit.record(actor=actor, action=AuditAction.UPDATE, instance=follow_up, before=before,
                 after=audit.snapshot(follow_up), region_code=follow_up.region_code)
    return follow_up


# ------------------------------------------------------------------------------------------------- reactions


def on_elder_status_changed(*, elder: Elder, event, actor, **_kwargs) -> None:
    """Death, moving out or suspension ends the person's open tasks and pairing; a move within the platform
    ends the pairing (the new community pairs them) and hands the open tasks to the new place."""
    from yiyang.registry.models import StatusEventKind

    if event.kind in (StatusEventKind.RESUME, StatusEventKind.MOVE_IN):
        return
    Pairing.objects.filter(elder=elder, until__isnull=True).update(until=event.effective_date)
    if event.kind == StatusEventKind.RELOCATE:
        VisitTask.objects.filter(elder=elder, status=TaskStatus.OPEN).update(
            visitor=None, region_code=elder.residence_region_id, county_code=elder.county_code)
        return
    VisitTask.objects.filter(elder=elder, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, cancel_reason=str(event.get_kind_display())[:200])


def on_order_unserved(*, order, actor, **_kwargs) -> None:
    """A service that did not happen (declined, nobody came, nobody home): someone checks on the person."""
    if order.elder.status != ElderStatus.ACTIVE:
        return
    raise_task(actor=actor, elder=order.elder, trigger=Trigger.ORDER_UNSERVED, at=timezone.now(), authorised=True,
               trigger_ref=f"order:{order.pk}",
               note=_("%(item)s 订单%(status)s") % {"item": order.item.name, "status": order.get_status_display()})


def on_roll_checked(*, roll, **_kwargs) -> int:
    """A roll's "长期无服务或探访" checks raise a visit for each person (set-based). Checks are recomputed on
    every run of the roll, so the task is keyed by roll and person: raised once however often it runs."""
    from yiyang.benefits.models import CheckKind, RollCheck

    now = timezone.now()
    due = now + datetime.timedelta(hours=AD_HOC_HOURS)
    checks = list(RollCheck.objects.filter(roll=roll, kind=CheckKind.ABSENCE, resolution="",
                                           line__elder__status=ElderStatus.ACTIVE)
                  .values_list("line__elder_id", "line__elder__residence_region_id", "line__elder__county_code"))
    ref = f"roll:{roll.pk}"
    existing = set(VisitTask.objects.filter(trigger=Trigger.BENEFIT_ABSENCE, trigger_ref=ref)
                   .values_list("elder_id", flat=True))
    visitors = dict(Pairing.objects.filter(until__isnull=True, elder_id__in=[c[0] for c in checks])
                    .values_list("elder_id", "visitor_id"))
    note = _("补贴发放核查：长期无服务或探访记录")
    tasks = [VisitTask(elder_id=elder_id, kind=TaskKind.AD_HOC, trigger=Trigger.BENEFIT_ABSENCE, trigger_ref=ref,
                       trigger_note=note, period_month=rules.month_start(timezone.localtime(due).date()),
                       window_start=now, due_at=due, visitor_id=visitors.get(elder_id), region_code=region,
                       county_code=county)
             for elder_id, region, county in checks if elder_id not in existing]
    VisitTask.objects.bulk_create(tasks, batch_size=2000, ignore_conflicts=True)
    if tasks:
        audit.record(actor=None, action=AuditAction.CREATE, object_type="visits.visittask",
                     region_code=roll.jurisdiction_id, detail=_("补贴核查触发临时探访 %(n)s 条") % {"n": len(tasks)})
    return len(tasks)


__all__ = ["adopt_rule_set", "add_visitor", "cancel_task", "close_follow_up", "draft_rule_set",
           "generate_month", "pair", "raise_task", "record_visit", "remind_and_escalate", "simulate_rule_set",
           "visitor_leaves"]
