"""Builders for the visits tests (and the demo's shape): the model rule set adopted, visitors, pairings."""

import copy
import datetime

from django.utils import timezone

from yiyang.core.models import Region, Role
from yiyang.core.tests.factories import make_user

from .. import rules, services
from ..defaults import MODEL_TIERS


def this_month() -> datetime.date:
    return rules.month_start(timezone.localdate())


def adopt_model_rules(bureau, *, valid_from: datetime.date | None = None, params=None):
    """The model tiers adopted for 恩阳区 (511903) from `valid_from` (a year back by default)."""
    rule_set = services.draft_rule_set(actor=bureau, jurisdiction=Region.objects.get(code="511903"),
                                       params=copy.deepcopy(params or MODEL_TIERS),
                                       valid_from=valid_from or rules.add_months(this_month(), -12),
                                       source="民发〔2022〕73号")
    return services.adopt_rule_set(actor=bureau, rule_set=rule_set)


def make_visitor(actor, name="赵网格", *, region="511903001002", kind="grid_worker", username=None):
    """A visitor in 登科寺社区, with a `visitor` account when `username` is given."""
    user = make_user(username, Role.VISITOR, region=region, display_name=name) if username else None
    return services.add_visitor(actor=actor, name=name, kind=kind, region=Region.objects.get(code=region),
                                phone="13800000000", user=user)
