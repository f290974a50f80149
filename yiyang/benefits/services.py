"""Benefits: the write operations (rules, roll generation and its workflow, bank files).

Every function takes keyword arguments, requires the actor's authority from policy.py (the same decision the
pages use to draw their buttons), validates its input (so that page and API cannot differ), runs in a
transaction and writes an audit event. Generation is the exception to "one transaction": it runs in steps,
each its own transaction holding the roll's lock, so that a large roll shows progress and a crash can be
resumed (see engine.py).
"""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from yiyang.core import audit
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.models import AuditAction, Region

from . import engine, policy, rules
from .models import (
    BankResultImport,
    BenefitSettings,
    CheckResolution,
    LineStatus,
    Programme,
    Roll,
    RollCheck,
    RollLine,
    RollStatus,
    RuleStatus,
    RuleVersion,
    StreetReview,
)
from .signals import roll_approved, roll_checked


def month_of(value) -> datetime.date:
    """A month given as a date, 'YYYY-MM' or 'YYYY-MM-DD' → its 1st; raises ValidationError."""
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    try:
        if len(text) == 7:
            return datetime.date.fromisoformat(text + "-01")
        return datetime.date.fromisoformat(text).replace(day=1)
    except ValueError:
        raise ValidationError({"month": [_("月份格式应为 YYYY-MM，如 2026-11。")]}) from None


# ---------------------------------------------------------------------------------------------------------
# Rules


def adopt_rule(*, actor, programme: Programme, jurisdiction: Region, params: dict, valid_from, note: str = "",
               source: str = "") -> RuleVersion:
    """Adopt a new version of a programme's rule from `valid_from` (a month). The version in force before it
    is closed at the month before; versions starting later are not allowed to be overtaken silently."""
    policy.may_adopt_rule(actor, jurisdiction).require()
    errors: dict[str, list] = {}
    try:
        parsed = rules.parse(params)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    texts = {}
    for field, value in (("note", note), ("source", source)):
        try:
            texts[field] = _text(value, field, 300)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if texts.get("note") == "":
        errors["note"] = [_("请填写修订说明。")]
    note, source = texts.get("note", ""), texts.get("source", "")
    try:
        start = month_of(valid_from)
    except ValidationError:
        errors["valid_from"] = [_("月份格式应为 YYYY-MM，如 2026-11。")]
    else:
        today = timezone.localdate().replace(day=1)
        settings = BenefitSettings.for_region(jurisdiction)
        if start < rules.add_months(today, -settings.lookback_months):
            errors["valid_from"] = [_("起始月份不能早于追溯期（%(n)d 个月）。") % {"n": settings.lookback_months}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        existing = list(RuleVersion.objects.select_for_update().filter(
            programme=programme, jurisdiction=jurisdiction).order_by("version"))
        later = [rv for rv in existing if rv.status == RuleStatus.ADOPTED and rv.valid_from >= start]
        locked = Roll.objects.filter(programme=programme, jurisdiction=jurisdiction, month__gte=start).exclude(
            status__in=("generating", "draft", "in_review"))
        if later and (start <= today or locked.exists()):
            raise ValidationError({"valid_from": [_("已有从 %(month)s 起生效的版本，新版本须晚于它。") % {
                "month": max(rv.valid_from for rv in later).strftime("%Y-%m")}]})
        for rv in later:
            # Adopted for a month that has not come yet and paid nothing: the new version replaces it.
            before = audit.snapshot(rv)
            rv.status = RuleStatus.WITHDRAWN
            rv.save(update_fields=["status"])
            audit.record(actor=actor, action=AuditAction.UPDATE, instance=rv, before=before,
                         after=audit.snapshot(rv), region_code=jurisdiction.code, detail=_("被新版本取代"))
        for rv in existing:
            if rv.status == RuleStatus.ADOPTED and (rv.valid_until is None or rv.valid_until >= start):
                before = audit.snapshot(rv)
                rv.valid_until = rules.add_months(start, -1)
                rv.save(update_fields=["valid_until"])
                audit.record(actor=actor, action=AuditAction.UPDATE, instance=rv, before=before,
                             after=audit.snapshot(rv), region_code=jurisdiction.code)
        now = timezone.now()
        rule = RuleVersion.objects.create(
            programme=programme, jurisdiction=jurisdiction, version=(existing[-1].version + 1 if existing else 1),
            status=RuleStatus.ADOPTED, valid_from=start, params=parsed.to_json(), note=note,
            source=source, created_by=_user(actor), adopted_at=now, adopted_by=_user(actor))
        audit.record(actor=actor, action=AuditAction.CREATE, instance=rule, after=audit.snapshot(rule),
                     region_code=jurisdiction.code, detail=note)
    return rule


def _text(value, field: str, limit: int) -> str:
    """A free-text input, trimmed; longer than its column is refused (not cut), on every caller's behalf."""
    text = (value or "").strip()
    if len(text) > limit:
        message = _("不能超过 %(n)d 个字（现为 %(len)d 个字）。") % {"n": limit, "len": len(text)}
        raise ValidationError({field: [message]})
    return text


def _fresh(roll: Roll) -> Roll:
    """The roll as it is now (a caller's copy may be older than the last step)."""
    return Roll.objects.select_related("programme", "jurisdiction").get(pk=roll.pk)


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


SETTINGS_LIMITS = {"lookback_months": (0, 36), "absence_days": (7, 3650), "background_threshold": (100, 100_000_000)}


def update_settings(*, actor, jurisdiction: Region, pay_month_of_death: bool, lookback_months, absence_days,
                    street_review: bool, background_threshold) -> BenefitSettings:
    """The jurisdiction's month semantics and workflow settings (they apply to rolls generated from now on)."""
    policy.may_change_settings(actor, jurisdiction).require()
    errors: dict[str, list] = {}
    numbers = {}
    for field, raw in (("lookback_months", lookback_months), ("absence_days", absence_days),
                       ("background_threshold", background_threshold)):
        lo, hi = SETTINGS_LIMITS[field]
        try:
            numbers[field] = int(str(raw).strip())
        except (TypeError, ValueError):
            errors.setdefault(field, []).append(_("请填写整数。"))
            continue
        if not lo <= numbers[field] <= hi:
            errors.setdefault(field, []).append(_("应在 %(lo)d 至 %(hi)d 之间。") % {"lo": lo, "hi": hi})
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        found = BenefitSettings.objects.select_for_update().filter(jurisdiction=jurisdiction).first()
        current = found or BenefitSettings(jurisdiction=jurisdiction)
        before = audit.snapshot(current) if found else None
        current.pay_month_of_death, current.street_review = bool(pay_month_of_death), bool(street_review)
        for field, value in numbers.items():
            setattr(current, field, value)
        current.save()
        audit.record(actor=actor, action=AuditAction.UPDATE if found else AuditAction.CREATE, instance=current,
                     before=before, after=audit.snapshot(current), region_code=jurisdiction.code)
    return current


# ---------------------------------------------------------------------------------------------------------
# Generation


def create_roll(*, actor, programme: Programme, jurisdiction: Region, month) -> Roll:
    """The roll for the month (created if missing), marked as generating. Safe when two arrive at once."""
    policy.may_generate_roll(actor, jurisdiction).require()
    month = month_of(month)
    if month > rules.add_months(timezone.localdate().replace(day=1), 1):
        raise ValidationError({"month": [_("只能生成本月或下月的名册。")]})
    if engine.rule_for(programme, jurisdiction, month) is None:
        raise ValidationError({"month": [_("%(month)s 没有适用于本辖区的%(programme)s规则。") % {
            "month": month.strftime("%Y-%m"), "programme": programme.name}]})
    try:
        with transaction.atomic():
            roll, created = Roll.objects.get_or_create(
                programme=programme, jurisdiction=jurisdiction, month=month,
                defaults={"status": RollStatus.GENERATING, "progress": 0, "created_by": _user(actor)})
    except IntegrityError:  # the other process created it first
        roll, created = Roll.objects.get(programme=programme, jurisdiction=jurisdiction, month=month), False
    if not created:
        with transaction.atomic():
            roll = Roll.objects.select_for_update().get(pk=roll.pk)
            policy.may_generate_roll(actor, jurisdiction, roll).require()
            if roll.status != RollStatus.GENERATING:
                roll.status, roll.progress, roll.error = RollStatus.GENERATING, 0, ""
                roll.save(update_fields=["status", "progress", "error"])
    if created:
        audit.record(actor=actor, action=AuditAction.CREATE, instance=roll, region_code=jurisdiction.code)
    return roll


def _step(roll_id: int, progress: int, note: str, work):
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("jurisdiction", "programme").get(pk=roll_id)
        if not roll.is_open:
            raise DomainError("roll_locked", _("该名册已审批，不能重新生成。"), status=409)
        with connection.cursor() as cursor:
            engine.quiet_planner(cursor)
        result = work(roll)
        Roll.objects.filter(pk=roll_id).update(progress=progress, progress_note=note)
    return result


def generate_roll(*, actor, roll: Roll, stop_after: int | None = None) -> Roll:
    """Compute the roll's lines, adjustments and checks (idempotent; resumes a run that was cut off).

    `stop_after` (tests only) returns after that many steps, leaving the roll as a crash would.
    """
    roll_id = roll.pk
    settings = BenefitSettings.for_region(roll.jurisdiction)
    rule = engine.rule_for(roll.programme, roll.jurisdiction, roll.month)
    past = engine.adjustment_months(roll, settings)
    steps = [(_("本月应发"), lambda r: engine.regular_lines(r, rule=rule, settings=settings))]
    for for_month, past_roll in past:
        past_rule = engine.rule_for(roll.programme, roll.jurisdiction, for_month)
        since = past_roll.generated_at
        if past_rule is not None and past_rule.adopted_at and since and past_rule.adopted_at > since:
            since = None  # a rule adopted later covers that month: recompute everyone
        steps.append((_("%(month)s 补发/追回") % {"month": for_month.strftime("%Y-%m")},
                      lambda r, f=for_month, pr=past_rule, s=since: engine.adjustment_lines(
                          r, for_month=f, rule=pr, settings=settings, since=s)))
    params = rules.parse(rule.params) if rule else None
    changed = 0

    def checks(r: Roll):
        # A rerun that changed no line and found nobody updated since skips the checks (near-zero work).
        if changed == 0 and r.generated_at and not engine.roll_elders_changed_since(r, r.generated_at):
            return None
        engine.run_checks(r, params=params, pays_to_bank=r.programme.pays_to_bank)
        roll_checked.send(sender=Roll, roll=r)

    steps.append((_("发放前核查"), checks))
    try:
        for i, (note, work) in enumerate(steps, start=1):
            if stop_after is not None and i > stop_after:
                return Roll.objects.get(pk=roll_id)
            result = _step(roll_id, int(95 * i / len(steps)), str(note), work)
            if isinstance(result, tuple):
                changed += sum(result)
        with transaction.atomic():
            roll = Roll.objects.select_for_update().select_related("jurisdiction", "programme").get(pk=roll_id)
            engine.refresh_totals(roll)
            if roll.status == RollStatus.GENERATING:
                roll.status = RollStatus.DRAFT
            roll.progress, roll.progress_note, roll.generated_at = 100, "", timezone.now()
            roll.save(update_fields=["status", "progress", "progress_note", "generated_at"])
            audit.record(actor=actor, action=AuditAction.UPDATE, instance=roll, region_code=roll.jurisdiction_id,
                         detail=_("生成名册：%(n)d 人次，%(total)s 元") % {"n": roll.line_count,
                                                                     "total": roll.total_amount})
    except DomainError:
        raise
    except Exception as exc:
        Roll.objects.filter(pk=roll_id).update(error=str(exc)[:2000])
        raise
    return roll


def estimated_size(*, jurisdiction: Region) -> int:
    from yiyang.registry.models import Elder

    return Elder.objects.filter(county_code__startswith=jurisdiction.code[:6]).count()


def request_roll(*, actor, programme: Programme, jurisdiction: Region, month) -> tuple[Roll, bool]:
    """Create the roll and generate it now, or queue it when the jurisdiction is large.

    Returns (roll, queued)."""
    roll = create_roll(actor=actor, programme=programme, jurisdiction=jurisdiction, month=month)
    settings = BenefitSettings.for_region(jurisdiction)
    if estimated_size(jurisdiction=jurisdiction) > settings.background_threshold:
        from .tasks import generate_roll_task

        transaction.on_commit(lambda: generate_roll_task.enqueue(roll.pk, getattr(actor, "pk", None)))
        return roll, True
    return generate_roll(actor=actor, roll=roll), False


# ---------------------------------------------------------------------------------------------------------
# Review and approval


def resolve_check(*, actor, check: RollCheck, resolution: str, note: str = "") -> RollCheck:
    """Clear a check: confirmed (pay as usual) or withheld (the line is not paid this month)."""
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("jurisdiction").get(pk=check.roll_id)
        check = RollCheck.objects.select_for_update().select_related("line").get(pk=check.pk)
        check.roll = roll
        policy.may_resolve_check(actor, check).require()
        if resolution not in CheckResolution.values:
            raise ValidationError({"resolution": [_("请选择处理结果。")]})
        note = _text(note, "note", 300)
        if resolution == CheckResolution.WITHHELD and not note:
            raise ValidationError({"note": [_("暂缓发放须写明原因。")]})
        before = audit.snapshot(check)
        check.resolution, check.note = resolution, note
        check.resolved_at, check.resolved_by = timezone.now(), _user(actor)
        check.save(update_fields=["resolution", "note", "resolved_at", "resolved_by"])
        line = check.line
        if resolution == CheckResolution.WITHHELD and line.status == LineStatus.PENDING:
            line.status, line.withheld_reason = LineStatus.WITHHELD, note
            line.save(update_fields=["status", "withheld_reason", "updated_at"])
        elif resolution == CheckResolution.CONFIRMED and line.status == LineStatus.WITHHELD and not (
                line.checks.filter(resolution=CheckResolution.WITHHELD).exclude(pk=check.pk).exists()):
            line.status, line.withheld_reason = LineStatus.PENDING, ""
            line.save(update_fields=["status", "withheld_reason", "updated_at"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=check, before=before,
                     after=audit.snapshot(check), region_code=check.region_code)
        engine.refresh_totals(roll)
    return check


def submit_for_review(*, actor, roll: Roll) -> Roll:
    """Draft → street review: one sign-off per street with lines in the roll."""
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("jurisdiction").get(pk=roll.pk)
        policy.may_submit_roll(actor, roll).require()
        _refresh_street_reviews(roll)
        settings = BenefitSettings.for_region(roll.jurisdiction)
        roll.status = RollStatus.IN_REVIEW if settings.street_review else RollStatus.DRAFT
        roll.submitted_at = timezone.now()
        roll.save(update_fields=["status", "submitted_at"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=roll, region_code=roll.jurisdiction_id,
                     detail=_("提交街道审核"))
    return roll


def _refresh_street_reviews(roll: Roll) -> None:
    totals = {}
    for street, count, total in engine.street_totals(roll):
        totals[street] = (count, total)
    StreetReview.objects.filter(roll=roll).exclude(street_id__in=totals).delete()
    for street, (count, total) in totals.items():
        review, created = StreetReview.objects.get_or_create(
            roll=roll, street_id=street, defaults={"line_count": count, "total_amount": total})
        if not created and (review.line_count, review.total_amount) != (count, total):
            review.line_count, review.total_amount = count, total
            review.reviewed_at = review.reviewed_by = None  # the figures changed: sign again
            review.save()


ON_BEHALF_NOTE = _lazy("代街道审核须注明依据，如“已收到街道签字的纸质审核表”。")


def sign_off_street(*, actor, roll: Roll, street: Region, note: str = "") -> StreetReview:
    """A street (or the bureau on its behalf, from the street's signed paper form: then with a note saying
    so) confirms its part of the roll."""
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("jurisdiction").get(pk=roll.pk)
        review = StreetReview.objects.select_for_update().filter(roll=roll, street=street).first()
        if review is None:
            raise DomainError(ErrorCode.NOT_FOUND, _("该街道在本名册中没有名单。"), status=404)
        review.roll = roll
        policy.may_sign_off_street(actor, review).require()
        note = _text(note, "note", 300)
        if not note and not policy.is_street_of(actor, street.code):
            raise ValidationError({"note": [ON_BEHALF_NOTE]})
        review.reviewed_at, review.reviewed_by = timezone.now(), _user(actor)
        review.note = note
        review.save()
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=roll, region_code=street.code,
                     detail=_("街道审核通过：%(street)s") % {"street": street.name})
    return review


def sign_off_remaining_streets(*, actor, roll: Roll, note: str) -> tuple[list[str], dict[str, str]]:
    """The bureau records the sign-off of every street not yet signed (from their signed paper forms).
    Returns the streets signed and, for those refused (open checks), why."""
    roll = _fresh(roll)
    policy.may_sign_off_remaining_streets(actor, roll).require()
    note = _text(note, "note", 300)
    if not note:
        raise ValidationError({"note": [ON_BEHALF_NOTE]})
    signed, refused = [], {}
    for review in StreetReview.objects.filter(roll=roll, reviewed_at__isnull=True).select_related("street"):
        try:
            sign_off_street(actor=actor, roll=roll, street=review.street, note=note)
        except DomainError as exc:
            refused[review.street.name] = str(exc.message)
        else:
            signed.append(review.street.name)
    return signed, refused


def approve_roll(*, actor, roll: Roll) -> Roll:
    """Bureau approval: every check cleared and every street signed; the roll is locked from now on."""
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("jurisdiction", "programme").get(pk=roll.pk)
        settings = BenefitSettings.for_region(roll.jurisdiction)
        # Fresh figures first (a refusal rolls these back with everything else).
        engine.refresh_totals(roll)
        if settings.street_review and roll.status == RollStatus.IN_REVIEW:
            _refresh_street_reviews(roll)
        policy.may_approve_roll(actor, roll, settings=settings).require()
        roll.status, roll.approved_at, roll.approved_by = RollStatus.APPROVED, timezone.now(), _user(actor)
        roll.save(update_fields=["status", "approved_at", "approved_by"])
        if not roll.programme.pays_to_bank:
            # A service voucher: its money is credited to the elders' service allowances now (the receivers of
            # roll_approved, in this transaction), not paid to a bank. Recoveries stay to be recovered.
            RollLine.objects.filter(roll=roll, status=LineStatus.PENDING, amount__gt=0).update(
                status=LineStatus.CREDITED, paid_on=timezone.localdate(), updated_at=timezone.now())
        roll_approved.send(sender=Roll, roll=roll, actor=actor)
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=roll, region_code=roll.jurisdiction_id,
                     detail=_("审批通过：%(n)d 人次，%(total)s 元") % {"n": roll.line_count,
                                                                   "total": roll.total_amount})
    return roll


# ---------------------------------------------------------------------------------------------------------
# Bank file and results


def export_bank_file(*, actor, roll: Roll, fmt: str = "xlsx") -> tuple[str, bytes, str]:
    """The bank's payment file (see bankfile.py for the layout): the bureau of the roll's jurisdiction only,
    with full account numbers. The first download moves the roll to exported; every one is in the audit log."""
    from . import bankfile

    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("programme", "jurisdiction").get(pk=roll.pk)
        policy.may_export_bank_file(actor, roll).require()
        if fmt not in ("xlsx", "csv"):
            raise ValidationError({"format": [_("格式须为 xlsx 或 csv。")]})
        name, content, mime = bankfile.write(roll, actor=actor, fmt=fmt)
        if roll.status == RollStatus.APPROVED:
            roll.status, roll.exported_at = RollStatus.EXPORTED, timezone.now()
            roll.save(update_fields=["status", "exported_at"])
        audit.record(actor=actor, action=AuditAction.EXPORT, instance=roll, region_code=roll.jurisdiction_id,
                     detail=_("银行代发文件 %(name)s（%(which)s）") % {
                         "name": name, "which": _("完整账号")})
    return name, content, mime


def export_review_list(*, actor, roll: Roll) -> tuple[str, bytes, str]:
    """The review list (核对名单) of the lines the actor may see, masked (exports.py); in the audit log."""
    from . import exports

    roll = _fresh(roll)
    policy.may_export_roll_lines(actor, roll).require()
    name, content, mime = exports.review_list(roll, actor=actor)
    audit.record(actor=actor, action=AuditAction.EXPORT, instance=roll, region_code=roll.jurisdiction_id,
                 detail=_("核对名单 %(name)s") % {"name": name})
    return name, content, mime


def import_bank_results(*, actor, roll: Roll, file_name: str, content: bytes) -> BankResultImport:
    """Apply the bank's results file: paid lines get their date, failed ones their reason (and are re-issued
    by next month's roll). The same file twice changes nothing; a bad file changes nothing."""
    from . import bankfile

    # Refused before the file is read (again under the lock below: the state may change meanwhile).
    policy.may_import_bank_results(actor, _fresh(roll)).require()
    digest = hashlib.sha256(content).hexdigest()
    results = bankfile.read_results(file_name, content)  # raises ValidationError listing every bad row
    with transaction.atomic():
        roll = Roll.objects.select_for_update().select_related("programme", "jurisdiction").get(pk=roll.pk)
        done = BankResultImport.objects.filter(roll=roll, sha256=digest).first()
        if done is not None:
            return done
        policy.may_import_bank_results(actor, roll).require()
        lines = {line.pk: line for line in RollLine.objects.restrict(actor).select_for_update(of=("self",)).filter(
            roll=roll, pk__in=[r.line_id for r in results])}
        errors = {}
        for r in results:
            line = lines.get(r.line_id)
            if line is None:
                errors.setdefault(f"row {r.row}", []).append(_("第 %(row)d 行：流水号 %(id)s 不在本名册中。") % {
                    "row": r.row, "id": r.line_id})
            elif line.amount != r.amount:
                errors.setdefault(f"row {r.row}", []).append(
                    _("第 %(row)d 行：金额 %(got)s 与名册 %(want)s 不符。") % {"row": r.row, "got": r.amount,
                                                                       "want": line.amount})
            elif line.status not in (LineStatus.PENDING, r.status):
                errors.setdefault(f"row {r.row}", []).append(
                    _("第 %(row)d 行：该笔已是“%(status)s”，不能改为“%(new)s”。") % {
                        "row": r.row, "status": line.get_status_display(), "new": LineStatus(r.status).label})
        if errors:
            raise ValidationError(errors)
        paid = failed = unchanged = 0
        for r in results:
            line = lines[r.line_id]
            if line.status == r.status:
                unchanged += 1
                continue
            line.status = r.status
            if r.status == LineStatus.PAID:
                line.paid_on, paid = r.paid_on, paid + 1
            else:
                line.failure_reason, failed = r.reason[:200], failed + 1
            line.save(update_fields=["status", "paid_on", "failure_reason", "updated_at"])
        record = BankResultImport.objects.create(roll=roll, file_name=file_name[:200], sha256=digest, paid=paid,
                                                 failed=failed, unchanged=unchanged, imported_by=_user(actor))
        if not roll.lines.filter(status=LineStatus.PENDING, amount__gt=0).exists():
            roll.status = RollStatus.CLOSED
        roll.results_imported_at = timezone.now()
        roll.save(update_fields=["status", "results_imported_at"])
        audit.record(actor=actor, action=AuditAction.IMPORT, instance=roll, region_code=roll.jurisdiction_id,
                     detail=_("银行回盘 %(name)s：成功 %(paid)d，失败 %(failed)d，未变 %(same)d") % {
                         "name": file_name, "paid": paid, "failed": failed, "same": unchanged})
    return record


def mark_recovered(*, actor, line: RollLine, note: str = "") -> RollLine:
    """Record that a recovery (追回) line's money came back."""
    with transaction.atomic():
        line = RollLine.objects.select_for_update().select_related("roll", "roll__jurisdiction").get(pk=line.pk)
        policy.may_mark_recovered_line(actor, line).require()
        before = audit.snapshot(line)
        line.status, line.paid_on = LineStatus.RECOVERED, timezone.localdate()
        line.withheld_reason = _text(note, "note", 200)
        line.save(update_fields=["status", "paid_on", "withheld_reason", "updated_at"])
        audit.record(actor=actor, action=AuditAction.UPDATE, instance=line, before=before,
                     after=audit.snapshot(line), region_code=line.region_code)
    return line


# ---------------------------------------------------------------------------------------------------------
# Simulation


def simulate(*, actor, programme: Programme, jurisdiction: Region, month, params: dict) -> dict:
    """What `params` would pay for `month` against the rule in force, without writing anything."""
    from . import simulation

    policy.may_simulate_rule(actor, jurisdiction).require()
    proposed = rules.parse(params)
    month = month_of(month)
    current = engine.rule_for(programme, jurisdiction, month)
    return simulation.compare(programme=programme, jurisdiction=jurisdiction, month=month,
                              current=current, proposed=proposed)


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))

