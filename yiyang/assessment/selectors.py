"""Reads of assessments. Lists start from `restrict(user, action)`; per-elder helpers take elders the caller has
already fetched through the register's scope (the elder page, the elder list)."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from yiyang.core.models import CODE_LENGTH, Role
from yiyang.core.permissions import REGION_STAFF, has_role

from . import scoring
from .models import (
    EDITABLE_STATUSES,
    OPEN_STATUSES,
    RESULT_STATUSES,
    Assessment,
    AssessmentPolicy,
    CurrentLevel,
    Status,
)

# How soon a result's end shows on the community's task list ("due soon").
DUE_SOON_DAYS = 30
LEVEL_FILTER_CHOICES = ("0", "1", "2", "3", "4", "none", "due")

LIST_RELATED = ("elder", "elder__residence_region", "agency", "assessor_1", "assessor_2")


# ----------------------------------------------------------------------------------------------- policy

@dataclass(frozen=True)
class Policy:
    stack_adjustments: bool = False
    validity_months: int = 6
    region_code: str = ""  # where the policy was set; "" = the national defaults


def policy_for(region_code: str) -> Policy:
    """The policy of the nearest region at or above `region_code` that has one (county, then city, …)."""
    code = region_code or ""
    prefixes = [code[:n] for n in sorted(CODE_LENGTH.values(), reverse=True) if n <= len(code)]
    rows = {p.region_id: p for p in AssessmentPolicy.objects.filter(region_id__in=prefixes)}
    for prefix in prefixes:
        p = rows.get(prefix)
        if p is not None:
            return Policy(stack_adjustments=p.stack_adjustments, validity_months=p.validity_months,
                          region_code=p.region_id)
    return Policy()


def add_months(day: datetime.date, months: int) -> datetime.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


# ----------------------------------------------------------------------------------------------- lists

@dataclass
class AssessmentFilters:
    status: str = ""
    reason: str = ""
    q: str = ""
    region: str = ""
    mine: bool = False


def assessments_for(*, user, filters: AssessmentFilters | None = None, action: str = "view") -> QuerySet:
    f = filters or AssessmentFilters()
    qs = Assessment.objects.restrict(user, action).select_related(*LIST_RELATED)
    if f.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif f.status in Status.values:
        qs = qs.filter(status=f.status)
    if f.reason:
        qs = qs.filter(reason=f.reason)
    if f.region:
        qs = qs.filter(elder__residence_region__code__startswith=f.region)
    if f.q:
        q = f.q.strip()
        qs = qs.filter(Q(elder__name__contains=q) | Q(elder__name_initials__startswith=q.lower()))
    if f.mine:
        qs = qs.filter(Q(assessor_1=user) | Q(assessor_2=user))
    return qs.order_by("-requested_at", "-id")


def my_worklist(*, user, today: datetime.date | None = None) -> dict:
    """An assessor's assessments still to do: today's, overdue (planned before today), later, and returned."""
    today = today or timezone.localdate()
    rows = list(
        Assessment.objects.restrict(user).filter(Q(assessor_1=user) | Q(assessor_2=user),
                                                 status__in=EDITABLE_STATUSES)
        .select_related(*LIST_RELATED).order_by("scheduled_for", "id"))
    out = {"today": [], "overdue": [], "later": [], "returned": []}
    for a in rows:
        if a.status == Status.RETURNED:
            out["returned"].append(a)
        elif a.scheduled_for == today:
            out["today"].append(a)
        elif a.scheduled_for is not None and a.scheduled_for < today:
            out["overdue"].append(a)
        else:
            out["later"].append(a)
    return out


def agency_inbox(*, user, today: datetime.date | None = None) -> dict:
    """The agency's desk: requests to assign, results to review, work past its due date."""
    today = today or timezone.localdate()
    qs = Assessment.objects.restrict(user).select_related(*LIST_RELATED)
    return {
        "to_assign": list(qs.filter(status=Status.REQUESTED).order_by("due_on", "requested_at")[:200]),
        "to_review": list(qs.filter(status=Status.SUBMITTED).order_by("submitted_at")[:200]),
        "overdue": list(qs.filter(status__in=OPEN_STATUSES, due_on__lt=today).order_by("due_on")[:200]),
    }


def agency_assessors(agency) -> QuerySet:
    from yiyang.core.models import User

    if agency is None:
        return User.objects.none()
    return User.objects.filter(role=Role.ASSESSOR, organisation=agency, is_active=True).order_by("display_name",
                                                                                                  "username")


def assessment_agencies(county_code: str = "") -> QuerySet:
    from yiyang.registry.models import Organisation, OrganisationKind

    qs = Organisation.objects.filter(kind=OrganisationKind.ASSESSMENT, is_active=True)
    if county_code:
        qs = qs.filter(region__code__startswith=county_code[:6])
    return qs.order_by("name")


def due_reassessments(*, user, today: datetime.date | None = None, within_days: int = DUE_SOON_DAYS) -> QuerySet:
    """Current results of active elders in the caller's scope that are due (or due within `within_days`),
    most overdue first, with any assessment already under way."""
    from yiyang.registry.models import Elder

    today = today or timezone.localdate()
    elders = Elder.objects.restrict(user).filter(status="active")
    return (CurrentLevel.objects.filter(elder__in=elders.values("pk"),
                                        reassess_by__lte=today + datetime.timedelta(days=within_days))
            .select_related("elder", "elder__residence_region", "assessment").order_by("reassess_by", "elder_id"))


def open_assessments_by_elder(elder_ids) -> dict[int, Assessment]:
    return {a.elder_id: a for a in Assessment.objects.filter(elder_id__in=list(elder_ids), status__in=OPEN_STATUSES)}


def region_counts(*, user, today: datetime.date | None = None) -> dict:
    """For the home panel of region staff: open assessments, results overdue for reassessment, awaiting review."""
    from yiyang.registry.models import Elder

    today = today or timezone.localdate()
    elders = Elder.objects.restrict(user).filter(status="active").values("pk")
    counts = Assessment.objects.restrict(user).aggregate(
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        requested=Count("id", filter=Q(status=Status.REQUESTED)),
    )
    counts["overdue"] = CurrentLevel.objects.filter(elder__in=elders, reassess_by__lt=today).count()
    counts["assessed"] = CurrentLevel.objects.filter(elder__in=elders).count()
    return counts


# ------------------------------------------------------------------------------------- the elder's levels

def current_levels(elder_ids, today: datetime.date | None = None) -> dict[int, dict]:
    """Elder id → the current level for a page of elders, in one query (for the elder list's level column)."""
    today = today or timezone.localdate()
    out = {}
    for c in CurrentLevel.objects.filter(elder_id__in=list(elder_ids)):
        out[c.elder_id] = {
            "level": c.level, "name": c.level_name, "template_code": c.template_code,
            "assessment_id": c.assessment_id, "published_at": c.published_at, "valid_until": c.valid_until,
            "reassess_by": c.reassess_by, "overdue": c.reassess_by < today,
        }
    return out


def level_history(elder, today: datetime.date | None = None) -> dict:
    """For the elder page: published results newest first (any template), the one under way, and whether a
    reassessment is due."""
    today = today or timezone.localdate()
    rows = list(elder.assessments.filter(Q(status__in=RESULT_STATUSES) | Q(status__in=OPEN_STATUSES))
                .select_related("agency").order_by("-published_at", "-requested_at"))
    results = [a for a in rows if a.status in RESULT_STATUSES]
    results.sort(key=lambda a: a.published_at, reverse=True)
    current = CurrentLevel.objects.filter(elder=elder).first()
    history = []
    for a in results:
        template = scoring.get_template(a.template_code)
        history.append({
            "assessment": a, "level": a.final_level, "name": template.level(a.final_level).name_zh,
            "template_code": a.template_code, "legacy": template.legacy, "date": a.assessed_on,
            "published_at": a.published_at, "valid_until": a.valid_until, "total": a.total,
            "is_current": current is not None and current.assessment_id == a.pk,
        })
    open_one = next((a for a in rows if a.status in OPEN_STATUSES), None)
    return {
        "current": current, "history": history, "open": open_one,
        "overdue": current is not None and current.reassess_by < today,
        "due_soon": current is not None and today <= current.reassess_by <= today + datetime.timedelta(
            days=DUE_SOON_DAYS),
    }


def filter_elders_by_level(qs: QuerySet, level: str, today: datetime.date | None = None) -> QuerySet:
    """Filter an Elder queryset by current ability level: "0"…"4", "none" (never assessed) or "due"
    (reassessment overdue). Anything else leaves the queryset as it is."""
    level = str(level or "")
    if level in {"0", "1", "2", "3", "4"}:
        return qs.filter(current_level__level=int(level))
    if level == "none":
        return qs.filter(current_level__isnull=True)
    if level == "due":
        return qs.filter(current_level__reassess_by__lt=today or timezone.localdate())
    return qs


def level_filter_choices() -> list[tuple[str, str]]:
    """Choices for the elder list's level filter (labels from the current template, in the active language).
    Call it when the form is built (e.g. `choices=lambda: …`), not at import."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    english = (translation.get_language() or "").startswith("en")
    template = scoring.get_template(scoring.GBT_42195_2022)
    return ([(str(lv.level), lv.name_en if english else lv.name_zh) for lv in template.levels]
            + [("none", _("未评估")), ("due", _("应复评（已到期）"))])


# ------------------------------------------------------------------------------------------ home panels

def assessment_home_panel(request):
    user = request.user
    today = timezone.localdate()
    if has_role(user, Role.ASSESSOR) and not user.is_superuser:
        work = my_worklist(user=user, today=today)
        inbox = Assessment.objects.restrict(user).aggregate(
            to_assign=Count("id", filter=Q(status=Status.REQUESTED)),
            to_review=Count("id", filter=Q(status=Status.SUBMITTED) & ~Q(assessor_1=user) & ~Q(assessor_2=user)),
            overdue=Count("id", filter=Q(status__in=OPEN_STATUSES, due_on__lt=today)),
        )
        return {"template": "assessment/_home_assessor.html", "work": work, "inbox": inbox, "today": today,
                "attention": len(work["overdue"]) + len(work["returned"])}
    if has_role(user, *REGION_STAFF) and not user.is_superuser:
        return {"template": "assessment/_home_region.html", "counts": region_counts(user=user, today=today)}
    return None


# ------------------------------------------------------------------------------------- presenting a result

HEALTH_RULE = "health_information"  # what the summary calls a rule that applied because of Annex A


@dataclass(frozen=True)
class Record:
    """What one actor is shown of one assessment (policy.disclosure): the page, the API and the PDF are built
    from this and nothing else of the stored result. Parts withheld are None."""

    total: int | None
    subtotals: dict
    indicator_grades: dict
    preliminary_level: int | None
    final_level: int | None
    # Each: rule, description (active language), description_zh, description_en, from_level, to_level.
    adjustments: list
    items: dict | None          # item code → score
    missing: list | None        # item codes not answered yet
    info: dict | None           # Annex A as stored
    visit: dict | None          # address, phone, a contact (visit_details)
    health: bool                # the health record is part of it (diagnoses, risk events, adjustments in words)

    @property
    def items_shown(self) -> bool:
        return self.items is not None

    @property
    def health_shown(self) -> bool:
        """Health data actually in the record: what `services.open_record` audits."""
        return self.health and bool(self.info or self.adjustments)


def _english() -> bool:
    from django.utils import translation

    return (translation.get_language() or "").startswith("en")


def _summary_adjustment(t: scoring.Template, adj: dict) -> dict:
    """A level change without the facts behind it: which levels, not which diagnosis or events."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    def text(lang):
        with translation.override(lang):
            return _("依据老年人健康状况的等级变更规则调整：%(from)s → %(to)s") % {
                "from": _level_name(t, adj.get("from_level"), lang), "to": _level_name(t, adj.get("to_level"), lang)}

    zh, en = text("zh-hans"), text("en")
    return {"rule": HEALTH_RULE, "description": en if _english() else zh, "description_zh": zh,
            "description_en": en, "from_level": adj.get("from_level"), "to_level": adj.get("to_level")}


def _level_name(t: scoring.Template, level, lang: str) -> str:
    if level is None:
        return ""
    lv = t.level(level)
    return lv.name_en if lang == "en" and lv.name_en else lv.name_zh


def assessment_record(a: Assessment, disclosure) -> Record:
    """The one serializer of a stored assessment: the summary for everyone who sees it, the item scores and
    the health record only as `disclosure` (policy.disclosure) allows. Without the health record, a level
    change says which levels it joined, not the diagnosis or events that caused it (those steps are dropped
    where they did not move the level), so the summary never reveals Annex A."""
    t = a.template
    en = _english()
    if disclosure.health:
        adjustments = [{"rule": adj.get("rule", ""), "description": adj.get("description_en" if en else
                                                                                "description_zh", ""),
                        "description_zh": adj.get("description_zh", ""),
                        "description_en": adj.get("description_en", ""),
                        "from_level": adj.get("from_level"), "to_level": adj.get("to_level")}
                       for adj in a.adjustments or []]
    else:
        adjustments = [_summary_adjustment(t, adj) for adj in a.adjustments or []
                       if adj.get("from_level") != adj.get("to_level")]
    return Record(
        total=a.total, subtotals=dict(a.subtotals or {}), indicator_grades=dict(a.indicator_grades or {}),
        preliminary_level=a.preliminary_level, final_level=a.final_level, adjustments=adjustments,
        items=dict(a.items) if disclosure.items else None,
        missing=[c for c in t.item_codes if c not in a.items] if disclosure.items else None,
        info=dict(a.info) if disclosure.health and a.info else None,
        visit=visit_details(a) if disclosure.visit else None, health=disclosure.health,
    )


def visit_details(a: Assessment) -> dict:
    """What the assessors need to arrange and make the visit, and nothing more of the register: where, a phone,
    one contact (the guardian first). No bank account, no full ID number."""
    e = a.elder
    contact = e.contacts.order_by("-is_guardian", "id").first()
    return {
        "address": e.address, "location": a.location or e.address, "phone": e.phone,
        "region": e.residence_region.path_name() if e.residence_region_id else "",
        "id_number_masked": e.id_number_masked,
        "contact": {"name": contact.name, "relationship": contact.get_relationship_display(),
                    "phone": contact.phone, "is_guardian": contact.is_guardian} if contact else None,
    }


def result_view(a: Assessment, record: Record) -> dict:
    """Everything the result page and the PDF show of a record, in the active language where the template
    has it. Item rows only when the record carries the item scores; Annex A only with the health record."""
    from . import annex

    english = _english()
    t = a.template

    def pick(zh, en):
        return en if english and en else zh

    items = record.items or {}
    indicators = []
    for ind in t.indicators:
        rows = []
        for item in ind.items if record.items_shown else ():
            value = items.get(item.code)
            option = next((o for o in item.options if o.score == value), None)
            rows.append({"code": item.code, "name": pick(item.name_zh, item.name_en), "score": value,
                         "max": item.max_score, "text": pick(option.text_zh, option.text_en) if option else ""})
        grade = record.indicator_grades.get(ind.code)
        subtotal = record.subtotals.get(ind.code)
        if subtotal is None:
            subtotal = sum(items.get(i.code, 0) for i in ind.items) if record.items_shown else None
        indicators.append({
            "code": ind.code, "name": pick(ind.name_zh, ind.name_en), "items": rows,
            "subtotal": subtotal, "max": ind.max_subtotal,
            "grade": grade, "grade_name": pick(t.grade_name(grade).name_zh, t.grade_name(grade).name_en)
            if grade is not None and t.grade_names else "",
        })
    adjustments = [{"rule": adj["rule"], "text": adj["description"], "from_level": adj["from_level"],
                    "to_level": adj["to_level"], "moved": adj["from_level"] != adj["to_level"]}
                   for adj in record.adjustments]

    def level_name(level):
        return pick(t.level(level).name_zh, t.level(level).name_en) if level is not None else ""

    out = {
        "template": t, "template_name": pick(t.name_zh, t.name_en), "legacy": t.legacy,
        "indicators": indicators, "total": record.total,
        "max_total": t.max_total if t.level_method == "total_bands" else None,
        "preliminary_level": record.preliminary_level,
        "preliminary_level_name": level_name(record.preliminary_level),
        "final_level": record.final_level, "final_level_name": level_name(record.final_level),
        "full_level_name": t.level(record.final_level).full_name_zh if record.final_level is not None else "",
        "adjustments": adjustments, "answered": len(a.items), "item_count": len(t.items),
        "health": record.health, "items_shown": record.items_shown, "annex": None, "visit": record.visit,
    }
    if record.info:
        info = record.info
        kinds = {k.code: pick(k.name_zh, k.name_en) for k in t.risk_event_kinds}
        relationships = dict(annex.INFORMANT_RELATIONSHIPS)
        out["annex"] = {
            "informant": info.get("informant_name", ""),
            "relationship": relationships.get(info.get("informant_relationship", ""), ""),
            "diagnoses": [annex.diagnosis_label(c) for c in info.get("diagnoses", [])],
            "diagnosis_note": info.get("diagnosis_note", ""), "medication": info.get("medication", ""),
            "risk_events": [(kinds.get(k, k), n) for k, n in (info.get("risk_events_30d") or {}).items() if n],
            "health_problems": annex.health_problem_labels(info.get("health_problems")),
            "health_note": info.get("health_note", ""), "coma": bool(info.get("coma")),
        }
    return out
