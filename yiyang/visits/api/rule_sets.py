"""Tier rule sets (巡访分级规则): the versions a caller may see, a draft, its simulation, adoption."""

import datetime
from typing import Any, Literal

from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from yiyang.api.pagination import Rows, paginated
from yiyang.api.types import Id, column
from yiyang.core.api import ERRORS
from yiyang.core.models import Region
from yiyang.core.permissions import REGION_STAFF
from yiyang.core.policy import require_roles
from yiyang.core.scope import get_scoped_or_404

from .. import policy, rules, selectors, services
from ..models import RuleStatus, TierRuleSet
from ._common import MONTH_TEXT, VisitAreaRef, month_of, person, region_of, this_month, ym

router = Router()


class RuleSetOut(Schema):
    id: int
    jurisdiction: VisitAreaRef
    version: int
    status: str = Field(..., description="`draft`, `adopted` or `retired`.")
    status_label: str
    valid_from: str = Field(..., description="First month it applies (YYYY-MM).")
    valid_until: str | None = Field(..., description="Last month it applies (YYYY-MM), or null while open.")
    params: dict[str, Any] = Field(..., description="The tiers as data (see `yiyang/visits/rules.py`).")
    tiers: list[str] = Field(..., description="Each tier in one line, in the caller's language.")
    note: str
    source: str
    created_at: datetime.datetime
    created_by: str | None
    adopted_at: datetime.datetime | None
    adopted_by: str | None


def rule_set_out(rs: TierRuleSet) -> dict:
    parsed = rules.parse(rs.params)
    lines = []
    for tier in parsed.ranked:
        lines.append(f"{tier.name}（{rules.period_label(tier.period)}）：" + "；".join(c.describe() for c in tier.when))
    return {"id": rs.pk, "jurisdiction": {"code": rs.jurisdiction.code, "name": rs.jurisdiction.name},
            "version": rs.version, "status": rs.status, "status_label": str(rs.get_status_display()),
            "valid_from": ym(rs.valid_from), "valid_until": ym(rs.valid_until), "params": rs.params,
            "tiers": lines, "note": rs.note, "source": rs.source, "created_at": rs.created_at,
            "created_by": person(rs.created_by), "adopted_at": rs.adopted_at, "adopted_by": person(rs.adopted_by)}


class RuleSetFilters(Schema):
    status: RuleStatus | Literal[""] = ""
    jurisdiction: str = Field("", max_length=column(Region, "code"), description="Region code (exact).")


@router.get("rule-sets", response={200: list[RuleSetOut], **ERRORS}, summary="Tier rule sets I may see")
@paginated
def list_rule_sets(request, filters: Query[RuleSetFilters]):
    """The bureau sees its jurisdiction's versions and those above it; streets and communities the versions
    that apply to them. Per jurisdiction, newest version first."""
    require_roles(request.user, *REGION_STAFF)
    qs = selectors.rule_sets_for(request.user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.jurisdiction.strip():
        qs = qs.filter(jurisdiction__code=filters.jurisdiction.strip())
    return Rows(qs, lambda page: [rule_set_out(rs) for rs in page])


def _rule_set(request, rule_set_id: int) -> TierRuleSet:
    require_roles(request.user, *REGION_STAFF, on_object=True)
    return get_scoped_or_404(selectors.rule_sets_for(request.user), request.user, "view", pk=rule_set_id)


@router.get("rule-sets/{int:rule_set_id}", response={200: RuleSetOut, **ERRORS}, summary="One rule set")
def get_rule_set(request, rule_set_id: Id):
    return rule_set_out(_rule_set(request, rule_set_id))


class RuleSetDraftIn(Schema):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field("", max_length=column(Region, "code"),
                              description="Region code; default the caller's (a bureau's county).")
    params: dict[str, Any] = Field(..., description="`covered`, `tiers` (code, name, rank, period, methods, "
                                                    "remote_counts, when), `remind_before_hours`, "
                                                    "`escalate_after_hours`.")
    valid_from: str = Field(..., max_length=MONTH_TEXT, description="First month it applies (YYYY-MM).",
                            examples=["2027-01"])
    note: str = Field("", max_length=column(TierRuleSet, "note"), description="Why it changes.")
    source: str = Field("", max_length=column(TierRuleSet, "source"), description="Policy document.")


def _jurisdiction(request, code: str) -> Region:
    return region_of(code.strip() or request.user.scope_code or "", "jurisdiction")


@router.post("rule-sets", response={201: RuleSetOut, **ERRORS}, summary="Draft a new rule set version")
def draft_rule_set(request, payload: RuleSetDraftIn):
    """A draft is checked in full (overlapping or unreachable tiers, unknown categories: one entry per problem,
    e.g. `tiers.1.period`) and numbered after the jurisdiction's last version. It applies once adopted."""
    require_roles(request.user, *REGION_STAFF)
    region = _jurisdiction(request, payload.jurisdiction)
    policy.may_draft_rule_set(request.user, region).require()
    rs = services.draft_rule_set(actor=request.user, jurisdiction=region, params=payload.params,
                                 valid_from=month_of(payload.valid_from, "valid_from"), note=payload.note,
                                 source=payload.source)
    return Status(201, rule_set_out(TierRuleSet.objects.select_related("jurisdiction", "created_by").get(pk=rs.pk)))


class TierCountOut(Schema):
    code: str
    name: str
    period: str
    period_label: str
    people: int
    visits_per_month: float


class TierSimulationPart(Schema):
    tiers: list[TierCountOut]
    people: int = Field(..., description="People in some tier.")
    visits_per_month: float
    covered_untiered: int = Field(..., description="People the policy covers whom no tier places (adoption is "
                                                   "refused while there are any).")
    untiered_sample: list[int] = Field(..., description="Elder ids of some of them (at most 20).")


class TierSimulationOut(Schema):
    jurisdiction: VisitAreaRef
    month: str
    proposed: TierSimulationPart
    current: TierSimulationPart | None = Field(..., description="The same under the rule set in force, if any.")
    current_rule_set: int | None
    people_change: int
    visits_change: float


def _part(sim) -> dict | None:
    if sim is None:
        return None
    return {"tiers": [{"code": t.code, "name": t.name, "period": t.period,
                       "period_label": str(rules.period_label(t.period)), "people": t.people,
                       "visits_per_month": round(t.visits_per_month, 2)} for t in sim.tiers],
            "people": sim.people, "visits_per_month": round(sim.visits_per_month, 2),
            "covered_untiered": sim.covered_untiered, "untiered_sample": list(sim.untiered_sample)}


def _simulation_out(region: Region, result: dict) -> dict:
    proposed, current = result["proposed"], result["current"]
    return {"jurisdiction": {"code": region.code, "name": region.name}, "month": ym(result["month"]),
            "proposed": _part(proposed), "current": _part(current),
            "current_rule_set": result["current_rule_set"].pk if result["current_rule_set"] else None,
            "people_change": proposed.people - (current.people if current else 0),
            "visits_change": round(proposed.visits_per_month - (current.visits_per_month if current else 0), 2)}


@router.get("rule-sets/{int:rule_set_id}/simulate", response={200: TierSimulationOut, **ERRORS},
            summary="What a rule set means: people and visits a month")
def simulate_rule_set(request, rule_set_id: Id,
                      month: str = Query("", max_length=MONTH_TEXT,
                                         description="YYYY-MM; default its first month or this month.")):
    """People per tier and visits a month in the rule set's jurisdiction, beside the rule set in force, and who
    the policy covers but no tier places. Reads only. The bureau of the jurisdiction."""
    rs = _rule_set(request, rule_set_id)
    policy.may_draft_rule_set(request.user, rs.jurisdiction).require()
    when = month_of(month) if month.strip() else None
    return _simulation_out(rs.jurisdiction, services.simulate_rule_set(rule_set=rs, month=when))


class TierSimulateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: str = Field("", max_length=column(Region, "code"), description="Region code; default the "
                                                                                   "caller's.")
    params: dict[str, Any] = Field(..., description="The proposed tiers, as for a draft.")
    month: str = Field("", max_length=MONTH_TEXT, description="YYYY-MM; default this month.")


@router.post("rule-sets/simulate", response={200: TierSimulationOut, **ERRORS},
             summary="Simulate proposed tiers before drafting them")
def simulate_params(request, payload: TierSimulateIn):
    """As for a saved rule set, for parameters not saved yet. Nothing is written."""
    require_roles(request.user, *REGION_STAFF)
    region = _jurisdiction(request, payload.jurisdiction)
    policy.may_draft_rule_set(request.user, region).require()
    parsed = rules.parse(payload.params)
    when = month_of(payload.month) if payload.month.strip() else None
    draft = TierRuleSet(jurisdiction=region, params=parsed.to_json(), valid_from=when or this_month())
    return _simulation_out(region, services.simulate_rule_set(rule_set=draft, month=when))


@router.post("rule-sets/{int:rule_set_id}/adopt", response={200: RuleSetOut, **ERRORS},
             summary="Adopt a draft")
def adopt_rule_set(request, rule_set_id: Id):
    """From its first month; the version in force then ends the month before. Refused (422) while the policy
    covers someone no tier places; a version not a draft is refused (409)."""
    rs = _rule_set(request, rule_set_id)
    services.adopt_rule_set(actor=request.user, rule_set=rs)
    return rule_set_out(selectors.rule_sets_for(request.user).get(pk=rs.pk))
