"""Benefits (补贴发放) over REST, mounted at /api/v1/benefits: programmes and their rule versions, budget
simulation, monthly rolls and their workflow (generate → checks → street review → approval → bank file → bank
results), an elder's benefit history and totals by region.

One router, about 800 lines: the roll's workflow reads best in order; split it by topic as services/api/ is
when it grows.

Scoped exactly like the pages: a bureau sees the rolls of its jurisdiction; street and community workers see
their county's rolls but only the lines and checks of their own street or community. Other roles get 403 from
the collection routes and 404 from the object routes, like objects outside the caller's scope. Who may take
which step is policy.py's, through the services (403 with the reason for a role that sees the roll but may
not take the step; 409 for a step the roll's state does not allow). Money is a string with two decimals
("100.00"), never a float.
"""

import datetime
import hashlib
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum, prefetch_related_objects
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Path, Query, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, Money, column, money
from yiyang.core.api import ERRORS
from yiyang.core.errors import DomainError, ErrorCode
from yiyang.core.http import attachment
from yiyang.core.models import Region, Role
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from . import bankfile, policy, rules, selectors, services
from .models import (
    APPROVED_ROLL_STATUSES,
    BankResultImport,
    CheckKind,
    CheckResolution,
    LineKind,
    LineStatus,
    Programme,
    Roll,
    RollCheck,
    RollLine,
    RollStatus,
    RuleVersion,
    StreetReview,
)

router = Router(tags=["benefits"])
# Roles that may see roll lines: region staff, and the family or the elder for the elder's own.
LINE_VIEWERS = (*REGION_STAFF, Role.FAMILY, Role.ELDER)

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MONTH_TEXT = 10  # "YYYY-MM", with room for stray spaces (stripped)


# ------------------------------------------------------------------------------------------------- helpers


def _ym(day: datetime.date | None) -> str | None:
    return day.strftime("%Y-%m") if day else None


def _month(value: str, field: str = "month") -> datetime.date:
    """'YYYY-MM' → its 1st; anything else is a 422 on `field`."""
    text = (value or "").strip()
    if not MONTH_RE.match(text):
        raise ValidationError({field: [_("月份格式应为 YYYY-MM，如 2026-11。")]})
    return datetime.date(int(text[:4]), int(text[5:]), 1)


def _this_month() -> datetime.date:
    return timezone.localdate().replace(day=1)


def _home(request) -> Region:
    """The caller's jurisdiction: a bureau's own region; the county of a street or community worker."""
    user = request.user
    region = selectors.home_jurisdiction(user)
    if region is None and user.is_superuser:
        region = Region.objects.filter(code=user.scope_code or settings.DEFAULT_JURISDICTION_CODE).first()
    if region is None:
        raise DomainError(ErrorCode.FORBIDDEN, _("您的账号没有所属辖区。"), status=403)
    return region


def _jurisdiction(request, code: str | None) -> Region:
    if not code:
        return _home(request)
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError({"jurisdiction": [_("未知的行政区划代码。")]})
    return region


def _programme(code: str) -> Programme:
    found = Programme.objects.filter(code=code).first()
    if found is None:
        raise Http404
    return found


def _roll(request, roll_id: int, action: str = "view") -> Roll:
    qs = Roll.objects.select_related("programme", "jurisdiction", "approved_by")
    return get_scoped_or_404(qs, request.user, action, pk=roll_id)


def _parse_params(raw: dict) -> dict:
    """Validate a rule's parameters with every problem under `params.…` (nothing is written on error)."""
    try:
        return rules.parse(raw).to_json()
    except ValidationError as exc:
        raise ValidationError({(k if k == "params" else f"params.{k}"): v
                               for k, v in exc.error_dict.items()}) from None


def _person(user) -> str | None:
    return str(user) if user is not None else None


# ------------------------------------------------------------------------------------------------- schemas

ProgrammeCode = Annotated[str, Path(..., max_length=column(Programme, "code"), description="Programme code.")]
RegionCode = Annotated[str, Path(..., max_length=column(Region, "code"))]


class Ref(Schema):
    code: str
    name: str


class RuleOut(Schema):
    id: int
    programme: str = Field(..., description="Programme code.")
    jurisdiction: Ref
    version: int
    status: str
    valid_from: str = Field(..., description="First month (YYYY-MM).")
    valid_until: str | None = Field(..., description="Last month (YYYY-MM), null while open-ended.")
    params: dict[str, Any] = Field(..., description="The rule as data; see `rules.py` for the keys.")
    description: list[str] = Field(..., description="The rule in plain sentences, in the caller's language.")
    note: str
    source: str
    created_at: datetime.datetime
    adopted_at: datetime.datetime | None
    adopted_by: str | None


def _rule_out(rv: RuleVersion) -> dict:
    try:
        description = [str(s) for s in rules.parse(rv.params).describe()]
    except ValidationError:
        description = []
    return {
        "id": rv.pk, "programme": rv.programme.code,
        "jurisdiction": {"code": rv.jurisdiction_id, "name": rv.jurisdiction.name},
        "version": rv.version, "status": rv.status, "valid_from": _ym(rv.valid_from),
        "valid_until": _ym(rv.valid_until), "params": rv.params, "description": description, "note": rv.note,
        "source": rv.source, "created_at": rv.created_at, "adopted_at": rv.adopted_at,
        "adopted_by": _person(rv.adopted_by),
    }


class ProgrammeOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    pays_to_bank: bool
    description: str
    jurisdiction: Ref = Field(..., description="Where the rule below was looked up (the caller's jurisdiction).")
    month: str
    rule: RuleOut | None = Field(..., description="The rule in force there for `month`; null if none.")


class RollSummaryOut(Schema):
    id: int
    programme: Ref
    jurisdiction: Ref
    month: str
    status: str
    status_label: str
    line_count: int
    total_amount: Money
    open_checks: int
    progress: int = Field(..., description="0–100 while generating.")
    progress_note: str
    error: str
    generated_at: datetime.datetime | None
    submitted_at: datetime.datetime | None
    approved_at: datetime.datetime | None
    approved_by: str | None
    exported_at: datetime.datetime | None
    results_imported_at: datetime.datetime | None


class CountOut(Schema):
    code: str
    label: str
    count: int
    amount: Money | None = None


class StreetReviewOut(Schema):
    street: Ref
    line_count: int
    total_amount: Money
    reviewed_at: datetime.datetime | None
    reviewed_by: str | None
    note: str


class ImportOut(Schema):
    id: int
    file_name: str
    paid: int
    failed: int
    unchanged: int
    imported_at: datetime.datetime
    imported_by: str | None


class RollOut(RollSummaryOut):
    queued: bool = Field(False, description="POST only: generation was queued as a background task; poll this "
                                            "roll until `status` leaves `generating`.")
    check_counts: list[CountOut] = Field(..., description="Open checks by kind (within the caller's region).")
    lines_by_status: list[CountOut] = Field(..., description="Lines visible to the caller, by status.")
    lines_by_kind: list[CountOut] = Field(..., description="Lines visible to the caller, by kind.")
    street_reviews: list[StreetReviewOut]
    result_imports: list[ImportOut]
    credited_to_allowance: str | None = Field(
        ..., description="A programme paid as a service voucher (`pays_to_bank` false) has no bank file: once the "
                         "roll is approved, this amount (within the caller's region) was credited to the elders' "
                         "service allowances. Null for bank-paid programmes and before approval.")


def _summary(roll: Roll) -> dict:
    return {
        "id": roll.pk, "programme": {"code": roll.programme.code, "name": roll.programme.name},
        "jurisdiction": {"code": roll.jurisdiction_id, "name": roll.jurisdiction.name},
        "month": _ym(roll.month), "status": roll.status, "status_label": str(roll.get_status_display()),
        "line_count": roll.line_count, "total_amount": money(roll.total_amount), "open_checks": roll.open_checks,
        "progress": roll.progress, "progress_note": roll.progress_note, "error": roll.error,
        "generated_at": roll.generated_at, "submitted_at": roll.submitted_at, "approved_at": roll.approved_at,
        "approved_by": _person(roll.approved_by), "exported_at": roll.exported_at,
        "results_imported_at": roll.results_imported_at,
    }


def _review_out(r: StreetReview) -> dict:
    return {"street": {"code": r.street_id, "name": r.street.name}, "line_count": r.line_count,
            "total_amount": money(r.total_amount), "reviewed_at": r.reviewed_at,
            "reviewed_by": _person(r.reviewed_by), "note": r.note}


def _import_out(i: BankResultImport) -> dict:
    return {"id": i.pk, "file_name": i.file_name, "paid": i.paid, "failed": i.failed, "unchanged": i.unchanged,
            "imported_at": i.imported_at, "imported_by": _person(i.imported_by)}


def _detail(request, roll: Roll, *, queued: bool = False) -> dict:
    roll = _roll(request, roll.pk)  # fresh figures
    out = _summary(roll)
    user = request.user
    open_checks = dict(selectors.checks(user, roll).values_list("kind").annotate(n=Count("id")))
    labels = dict(CheckKind.choices)
    out["check_counts"] = [{"code": k, "label": str(labels.get(k, k)), "count": n}
                           for k, n in sorted(open_checks.items())]
    lines = selectors.lines(user, roll)
    for key, field, choices in (("lines_by_status", "status", LineStatus), ("lines_by_kind", "kind", LineKind)):
        rows = {r[field]: r for r in lines.order_by().values(field).annotate(n=Count("id"), amount=Sum("amount"))}
        out[key] = [{"code": c.value, "label": str(c.label), "count": rows[c.value]["n"],
                     "amount": money(rows[c.value]["amount"])} for c in choices if c.value in rows]
    out["street_reviews"] = [_review_out(r) for r in selectors.street_reviews(user, roll)]
    out["result_imports"] = [_import_out(i) for i in roll.result_imports.select_related("imported_by")
                             .order_by("imported_at")]
    out["queued"] = queued
    credited = None
    if not roll.programme.pays_to_bank and roll.status in APPROVED_ROLL_STATUSES:
        credited = money(selectors.credited_to_allowance(user, roll)["amount"])
    out["credited_to_allowance"] = credited
    return out


class ElderRefOut(Schema):
    id: int
    name: str
    id_number_masked: str


class LineCheckOut(Schema):
    id: int
    kind: str
    label: str
    resolution: str


class LineOut(Schema):
    """One line, with its explanation in the caller's language. The bank account is always masked here."""

    id: int
    roll: int = Field(..., alias="roll_id")
    programme: str
    elder: ElderRefOut
    month: str
    for_month: str
    kind: str
    kind_label: str
    amount: Money
    previous_amount: Money | None
    status: str
    status_label: str
    age: int | None
    level: int | None
    category: str
    band: str
    region_code: str
    explanation: str
    bank_name: str
    bank_account_masked: str
    failure_reason: str
    withheld_reason: str
    paid_on: datetime.date | None
    checks: list[LineCheckOut]

    @staticmethod
    def resolve_programme(obj):
        return obj.programme.code

    @staticmethod
    def resolve_elder(obj):
        return {"id": obj.elder_id, "name": obj.elder.name, "id_number_masked": obj.elder.id_number_masked}

    @staticmethod
    def resolve_month(obj):
        return _ym(obj.month)

    @staticmethod
    def resolve_for_month(obj):
        return _ym(obj.for_month)

    @staticmethod
    def resolve_kind_label(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_explanation(obj):
        return str(obj.explain())

    @staticmethod
    def resolve_bank_name(obj):
        return obj.elder.bank_name

    @staticmethod
    def resolve_bank_account_masked(obj):
        return obj.elder.masked_bank_account

    @staticmethod
    def resolve_checks(obj):
        labels = dict(CheckKind.choices)
        return [{"id": c.pk, "kind": c.kind, "label": str(labels.get(c.kind, c.kind)), "resolution": c.resolution}
                for c in obj.checks.all()]


class CheckOut(Schema):
    id: int
    roll: int = Field(..., alias="roll_id")
    line: int = Field(..., alias="line_id")
    elder: ElderRefOut
    amount: Money = Field(..., alias="line.amount")
    kind: str
    kind_label: str
    detail: str = Field(..., description="What is wrong, in the caller's language.")
    region_code: str
    resolution: str
    resolution_label: str
    resolved_at: datetime.datetime | None
    resolved_by: str | None
    note: str

    @staticmethod
    def resolve_elder(obj):
        e = obj.line.elder
        return {"id": e.pk, "name": e.name, "id_number_masked": e.id_number_masked}

    @staticmethod
    def resolve_kind_label(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_detail(obj):
        return obj.explain()

    @staticmethod
    def resolve_resolution_label(obj):
        return str(obj.get_resolution_display()) if obj.resolution else ""

    @staticmethod
    def resolve_resolved_by(obj):
        return _person(obj.resolved_by)


# ---------------------------------------------------------------------------------------- programmes, rules


@router.get("programmes", response={200: list[ProgrammeOut], **ERRORS}, summary="Programmes and the rule in force")
def list_programmes(request, month: str = Query("", max_length=MONTH_TEXT,
                                                description="YYYY-MM; default this month.")):
    """Every programme with the rule in force for the caller's jurisdiction (a bureau's region; the county of a
    street or community worker), the jurisdiction's own rule or else the nearest one above it."""
    require_roles(request.user, *REGION_STAFF)
    when = _month(month) if month else _this_month()
    home = _home(request)
    out = []
    programmes = list(selectors.programmes())
    in_force = selectors.current_rules(programmes, home, when)
    for p in programmes:
        rv = in_force.get(p.pk)
        out.append({"code": p.code, "name": p.name, "kind": p.kind, "kind_label": str(p.get_kind_display()),
                    "pays_to_bank": p.pays_to_bank, "description": p.description,
                    "jurisdiction": {"code": home.code, "name": home.name}, "month": _ym(when),
                    "rule": _rule_out(rv) if rv else None})
    return out


@router.get("programmes/{code}/rules", response={200: list[RuleOut], **ERRORS}, summary="Rule versions")
@paginated
def list_rules(request, code: ProgrammeCode):
    """Every version of the programme's rule the caller may see (their jurisdiction's and those above it),
    newest first per jurisdiction. Versions are never changed, only closed when a newer one takes over."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    prog = _programme(code)
    return Rows(selectors.rules_for(request.user, prog).select_related("programme"),
                lambda page: [_rule_out(rv) for rv in page])


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(..., description="The rule as data: `min_age`, `max_age`, `categories`, "
                                                    "`levels`, `basis`, `exclude_institution`, `amount_kind` "
                                                    "(fixed | age_bands | level_table), `fixed_amount`, `bands`, "
                                                    "`table`.")
    valid_from: str = Field(..., max_length=MONTH_TEXT,
                            description="First month it applies (YYYY-MM), within the look-back window.",
                            examples=["2026-12"])
    note: str = Field(..., max_length=column(RuleVersion, "note"), description="Why it changes (required).")
    source: str = Field("", max_length=column(RuleVersion, "source"),
                        description="Policy document, e.g. 巴民发〔2026〕12号.")
    jurisdiction: str | None = Field(None, max_length=column(Region, "code"),
                                     description="Region code; default the caller's.")


@router.post("programmes/{code}/rules", response={201: RuleOut, **ERRORS}, summary="Adopt a new rule version")
def adopt_rule(request, code: ProgrammeCode, payload: RuleIn):
    """The bureau adopts a new version from `valid_from`; the version in force is closed the month before.
    Invalid parameters answer 422 with one entry per problem (`params.bands.1`, `params.min_age`, …)."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    prog = _programme(code)
    region = _jurisdiction(request, payload.jurisdiction)
    policy.may_adopt_rule(request.user, region).require()  # refused before the parameters are read
    start = _month(payload.valid_from, "valid_from")
    params = _parse_params(payload.params)
    rv = services.adopt_rule(actor=request.user, programme=prog, jurisdiction=region, params=params,
                             valid_from=start, note=payload.note, source=payload.source)
    rv = RuleVersion.objects.select_related("programme", "jurisdiction", "adopted_by").get(pk=rv.pk)
    return Status(201, _rule_out(rv))


class SimulateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] | None = Field(None, description="The proposed rule in full (like a rule's params).")
    changes: dict[str, Any] | None = Field(
        None, description="Or only what changes, applied over the rule in force (`bands` and `table` replace "
                          "the whole list).", examples=[{"min_age": 75}])
    month: str = Field("", max_length=MONTH_TEXT, description="Month to cost (YYYY-MM); default next month.")
    jurisdiction: str | None = Field(None, max_length=column(Region, "code"))


class SimRowOut(Schema):
    code: str
    name: str
    current_count: int
    current_cost: str
    proposed_count: int
    proposed_cost: str
    change: str
    gaining: int
    losing: int
    joining: int
    leaving: int


class SimulationOut(Schema):
    programme: str
    jurisdiction: Ref
    month: str
    current_rule: RuleOut | None
    proposed: dict[str, Any]
    proposed_description: list[str]
    total: SimRowOut
    annual_change: str = Field(..., description="The monthly change × 12.")
    regions: list[SimRowOut] = Field(..., description="Per street.")


def _sim_row(code: str, name: str, row: dict) -> dict:
    out = {"code": code, "name": name}
    for k in ("current_count", "proposed_count", "gaining", "losing", "joining", "leaving"):
        out[k] = int(row[k] or 0)
    for k in ("current_cost", "proposed_cost", "change"):
        out[k] = money(row[k])
    return out


@router.post("programmes/{code}/simulate", response={200: SimulationOut, **ERRORS}, summary="Budget simulation")
def simulate(request, code: ProgrammeCode, payload: SimulateIn):
    """What the proposed rule would pay for one month against the rule in force: cost in total and per street,
    and who gains, loses, joins or leaves. Reads only; nothing is written. Bureau only."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    prog = _programme(code)
    region = _jurisdiction(request, payload.jurisdiction)
    policy.may_simulate_rule(request.user, region).require()  # refused before the parameters are read
    month = _month(payload.month) if payload.month else rules.add_months(_this_month(), 1)
    if payload.params is not None:
        proposed = payload.params
    elif payload.changes is not None:
        current = selectors.current_rule(prog, region, month)
        if current is None:
            raise ValidationError({"changes": [_("本辖区当月没有现行规则，请提交完整的规则参数。")]})
        proposed = rules.with_changes(current.params, payload.changes)
    else:
        raise ValidationError({"params": [_("此项为必填项。")]})
    proposed = _parse_params(proposed)
    result = services.simulate(actor=request.user, programme=prog, jurisdiction=region, month=month, params=proposed)
    current = result["current_rule"]
    if current is not None:
        current = _rule_out(RuleVersion.objects.select_related("programme", "jurisdiction", "adopted_by")
                            .get(pk=current.pk))
    return {
        "programme": prog.code, "jurisdiction": {"code": region.code, "name": region.name},
        "month": _ym(result["month"]), "current_rule": current, "proposed": result["proposed"].to_json(),
        "proposed_description": [str(s) for s in result["proposed"].describe()],
        "total": _sim_row(region.code, region.name, result["total"]),
        "annual_change": money(result["annual_change"]),
        "regions": [_sim_row(r["code"], r["name"], r) for r in result["regions"]],
    }


# -------------------------------------------------------------------------------------------------- rolls


class RollFilters(Schema):
    programme: str = Field("", max_length=column(Programme, "code"), description="Programme code.")
    month: str = Field("", max_length=MONTH_TEXT, description="YYYY-MM.")
    status: RollStatus | Literal[""] = ""


@router.get("rolls", response={200: list[RollSummaryOut], **ERRORS}, summary="Rolls in my scope")
@paginated
def list_rolls(request, filters: Query[RollFilters]):
    require_roles(request.user, *REGION_STAFF)
    if filters.month:
        _month(filters.month)
    qs = selectors.rolls(request.user, selectors.RollFilters(programme=filters.programme, month=filters.month,
                                                            status=filters.status))
    return Rows(qs, lambda page: [_summary(r) for r in page])


class RollIn(Schema):
    model_config = ConfigDict(extra="forbid")

    programme: str = Field(..., max_length=column(Programme, "code"), description="Programme code.")
    month: str = Field(..., max_length=MONTH_TEXT, description="YYYY-MM: this month or next.", examples=["2026-12"])
    jurisdiction: str | None = Field(None, max_length=column(Region, "code"),
                                     description="Region code; default the caller's.")


@router.post("rolls", response={201: RollOut, 202: RollOut, **ERRORS}, summary="Generate a month's roll")
def create_roll(request, payload: RollIn):
    """Creates the roll (or re-generates an open one: idempotent, nothing changes if nothing changed) and
    generates it now (201), or queues it as a background task for a large jurisdiction (202, `queued`; poll
    `GET rolls/{id}` for `status` and `progress`). An approved roll cannot be regenerated (409)."""
    require_roles(request.user, Role.BUREAU)
    month = _month(payload.month)
    prog = Programme.objects.filter(code=payload.programme).first()
    if prog is None:
        raise ValidationError({"programme": [_("未知的补贴项目。")]})
    region = _jurisdiction(request, payload.jurisdiction)
    roll, queued = services.request_roll(actor=request.user, programme=prog, jurisdiction=region, month=month)
    return Status(202 if queued else 201, _detail(request, roll, queued=queued))


@router.get("rolls/{int:roll_id}", response={200: RollOut, **ERRORS}, summary="One roll")
def get_roll(request, roll_id: Id):
    """Status, progress, totals, open checks by kind, lines by status and kind (for a street or community: of
    its own region), the streets' sign-offs and the imported bank results."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    return _detail(request, _roll(request, roll_id))


class LineFilters(Schema):
    region: str = Field("", max_length=column(Region, "code"), description="Street or community code (prefix).")
    kind: LineKind | Literal[""] = ""
    status: LineStatus | Literal[""] = ""
    q: str = Field("", max_length=40, description="Name, pinyin initials or a fragment of the masked ID.")
    with_checks: bool = False


@router.get("rolls/{int:roll_id}/lines", response={200: list[LineOut], **ERRORS}, summary="Lines of a roll")
@paginated
def list_lines(request, roll_id: Id, filters: Query[LineFilters]):
    """Each line explains itself (`explanation`). Street and community workers see their own region's lines
    only. Bank accounts are masked (`**** 1234`)."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    return (selectors.lines(request.user, roll, selectors.LineFilters(**filters.dict()))
            .prefetch_related("checks"))


@router.get("rolls/{int:roll_id}/checks", response={200: list[CheckOut], **ERRORS}, summary="Checks of a roll")
@paginated
def list_checks(request, roll_id: Id, all: bool = Query(False, description="Also the resolved ones.")):
    """Doubts found before payment (deceased, moved away, duplicate identity, missing or invalid account,
    amount outside the rule, …); a roll cannot be approved while any is open."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    return selectors.checks(request.user, roll, open_only=not all)


class ResolveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    resolution: CheckResolution = Field(..., description="`confirmed` (pay as usual) or `withheld` (not paid "
                                                         "this month; `note` required).")
    note: str = Field("", max_length=column(RollCheck, "note"))


@router.post("checks/{int:check_id}/resolve", response={200: CheckOut, **ERRORS}, summary="Clear a check")
def resolve_check(request, check_id: Id, payload: ResolveIn):
    require_roles(request.user, *REGION_STAFF, on_object=True)
    found = RollCheck.objects.select_related("roll", "roll__jurisdiction").filter(pk=check_id).first()
    if found is None or not selectors.checks(request.user, found.roll, open_only=False).filter(pk=check_id).exists():
        raise Http404
    services.resolve_check(actor=request.user, check=found, resolution=payload.resolution, note=payload.note)
    return RollCheck.objects.select_related("line", "line__elder", "resolved_by").get(pk=check_id)


class SignOffIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(StreetReview, "note"))


class RecoveredIn(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=column(RollLine, "withheld_reason"))


@router.post("rolls/{int:roll_id}/submit", response={200: RollOut, **ERRORS}, summary="Submit for street review")
def submit(request, roll_id: Id):
    """Draft → street review: one sign-off per street with lines in the roll (bureau)."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    services.submit_for_review(actor=request.user, roll=roll)
    return _detail(request, roll)


@router.post("rolls/{int:roll_id}/streets/{street_code}/sign-off", response={200: StreetReviewOut, **ERRORS},
             summary="A street signs off its part")
def sign_off(request, roll_id: Id, street_code: RegionCode, payload: SignOffIn):
    """The street's worker for their own street (`note` optional), or the bureau on its behalf from the street's
    signed paper form (`note` required: 422 without it). Refused (409) while the street has open checks or
    once it has signed."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    street = Region.objects.filter(code=street_code).first()
    if street is None:
        raise Http404
    review = services.sign_off_street(actor=request.user, roll=roll, street=street, note=payload.note)
    return _review_out(StreetReview.objects.select_related("street", "reviewed_by").get(pk=review.pk))


@router.post("rolls/{int:roll_id}/approve", response={200: RollOut, **ERRORS}, summary="Approve (locks the roll)")
def approve(request, roll_id: Id):
    """Bureau approval once every check is cleared and every street has signed; the roll is locked from now on
    (corrections become back-pay or recovery lines in a later roll)."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    services.approve_roll(actor=request.user, roll=roll)
    return _detail(request, roll)


_FILE = {"schema": {"type": "string", "format": "binary"}}


# The 200 is a file: documented only in openapi_extra (see assessment/api.py report.pdf).
@router.get("rolls/{int:roll_id}/bank-file", response=ERRORS, summary="Bank payment file",
            openapi_extra={"responses": {"200": {
                "description": "The payment file (layout: docs/benefits-bank-files.md).",
                "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _FILE,
                            "text/csv": _FILE}}}})
def bank_file(request, roll_id: Id, format: str = Query("xlsx", max_length=4, description="`xlsx` or `csv`.")):
    """The approved roll's payment file, with full account numbers: the bureau of the roll's jurisdiction only
    (403 for street and community workers), never for a programme paid as a service voucher (409). Every
    download is in the audit log; the first one moves the roll to `exported`."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    name, content, mime = services.export_bank_file(actor=request.user, roll=roll, fmt=format)
    return attachment(content, filename=name, content_type=mime)


class BankResultsOut(ImportOut):
    already_imported: bool = Field(..., description="The same file was imported before: nothing changed.")
    roll: RollSummaryOut


@router.post("rolls/{int:roll_id}/bank-results", response={200: BankResultsOut, **ERRORS},
             summary="Import the bank's results file")
def bank_results(request, roll_id: Id, file: File[UploadedFile]):
    """Multipart upload of the results file (xlsx or CSV, UTF-8 or GBK): the payment file with 结果, 失败原因 and
    发放日期 added. Paid lines get their date, failed ones their reason and are re-issued by next month's roll.
    A bad file answers 422 with every bad row (`row 5`: …) and changes nothing; the same file twice changes
    nothing the second time."""
    require_roles(request.user, *REGION_STAFF, on_object=True)
    roll = _roll(request, roll_id)
    if file.size and file.size > bankfile.MAX_RESULT_BYTES:
        raise ValidationError({"file": [_("文件过大（上限 20 MB）。")]})
    content = file.read()
    digest = hashlib.sha256(content).hexdigest()
    before = BankResultImport.objects.filter(roll=roll, sha256=digest).exists()
    record = services.import_bank_results(actor=request.user, roll=roll, file_name=file.name or "results",
                                          content=content)
    record = BankResultImport.objects.select_related("imported_by").get(pk=record.pk)
    return {**_import_out(record), "already_imported": before, "roll": _summary(_roll(request, roll_id))}


@router.post("lines/{int:line_id}/recovered", response={200: LineOut, **ERRORS},
             summary="Record a recovery as recovered")
def line_recovered(request, line_id: Id, payload: RecoveredIn):
    """A recovery (追回) line of an approved roll whose money came back (bureau)."""
    require_roles(request.user, *LINE_VIEWERS, on_object=True)
    line = get_scoped_or_404(RollLine.objects.select_related("roll", "roll__jurisdiction"), request.user, "view",
                             pk=line_id)
    services.mark_recovered(actor=request.user, line=line, note=payload.note)
    return RollLine.objects.select_related("elder", "programme").prefetch_related("checks").get(pk=line_id)


# ------------------------------------------------------------------------------------- history and totals


class ElderBenefitsOut(Schema):
    elder: ElderRefOut
    paid_total: Money = Field(..., description="Paid lines less recovered ones.")
    lines: list[LineOut]


@router.get("elders/{int:elder_id}/benefits", response={200: ElderBenefitsOut, **ERRORS},
            summary="An elder's benefit history")
def elder_benefits(request, elder_id: Id):
    """Every line for the elder the caller may see, newest first: staff of the elder's region, or the elder's
    family."""
    from yiyang.registry.models import Elder

    require_roles(request.user, *LINE_VIEWERS, on_object=True)
    elder = get_scoped_or_404(Elder.objects, request.user, "view", pk=elder_id)
    history = selectors.elder_history(request.user, elder)
    paid = Decimal("0.00")
    for line in history:
        line.elder = elder
        if line.status == LineStatus.PAID:
            paid += line.amount
        elif line.status == LineStatus.RECOVERED:
            paid += line.amount  # recovery amounts are negative
    prefetch_related_objects(history, "checks")
    return {"elder": {"id": elder.pk, "name": elder.name, "id_number_masked": elder.id_number_masked},
            "paid_total": money(paid), "lines": history}


class TotalRowOut(Schema):
    region: str
    region_name: str
    programme: str
    lines: int
    amount: Money


class TotalsOut(Schema):
    month: str
    level: int
    lines: int
    amount: Money
    rows: list[TotalRowOut]


@router.get("totals", response={200: TotalsOut, **ERRORS}, summary="Totals by region and programme")
def totals(request, month: str = Query(..., max_length=MONTH_TEXT, description="Roll month (YYYY-MM)."),
           level: int = Query(9, ge=0, le=99, description="Group by county (6), street (9) or community (12).")):
    require_roles(request.user, *REGION_STAFF)
    when = _month(month)
    if level not in (6, 9, 12):
        raise ValidationError({"level": [_("汇总层级须为 6（区县）、9（街道）或 12（社区）。")]})
    rows = selectors.totals_by_region(request.user, month=when, level=level)
    return {"month": _ym(when), "level": level, "lines": sum(r["lines"] for r in rows),
            "amount": money(sum((Decimal(str(r["amount"])) for r in rows), Decimal("0"))),
            "rows": [{"region": r["region"], "region_name": r["region_name"], "programme": r["programme"],
                      "lines": r["lines"], "amount": money(r["amount"])} for r in rows]}
