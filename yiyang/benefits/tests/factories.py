"""Benefits test helpers: programmes and rules through the real services, elders through the registry's."""

import datetime

from django.utils import timezone

from yiyang.assessment.models import Assessment
from yiyang.benefits import examples, services
from yiyang.benefits.models import Programme, ProgrammeKind, RuleStatus, RuleVersion
from yiyang.core.models import Region
from yiyang.registry.models import Elder
from yiyang.registry.tests.factories import make_elder

COUNTY = "511903"
COMMUNITY = "511903001002"

# The demo's documented example rules (examples.py): 高龄津贴 80–89 → 50, 90–99 → 100, 100+ → 500 yuan;
# 护理补贴 低保 100/200/300, 低保边缘 80/150/250, 经济困难 50/100/200; 特困 250/300/350 for levels 2/3/4.
LONGEVITY, CARE, DESTITUTE = examples.LONGEVITY, examples.CARE, examples.DESTITUTE


def programme(code="longevity", kind=ProgrammeKind.LONGEVITY, name="高龄津贴") -> Programme:
    return Programme.objects.get_or_create(code=code, defaults={"kind": kind, "name": name})[0]


def rule(prog: Programme, params: dict, *, valid_from=datetime.date(2020, 1, 1), jurisdiction=COUNTY,
         version=None) -> RuleVersion:
    """An adopted rule written directly (the service only adopts from the look-back window onwards)."""
    from yiyang.benefits import rules

    rules.parse(params)
    last = RuleVersion.objects.filter(programme=prog, jurisdiction_id=jurisdiction).order_by("-version").first()
    return RuleVersion.objects.create(
        programme=prog, jurisdiction_id=jurisdiction, version=version or ((last.version + 1) if last else 1),
        status=RuleStatus.ADOPTED, valid_from=valid_from, params=params, note="test",
        adopted_at=timezone.now() - datetime.timedelta(days=3650))


def elder(actor, seq, *, birth, residence=COMMUNITY, registered=datetime.date(2015, 1, 1), **fields) -> Elder:
    """An elder registered (created_at) on `registered`, so that past months count."""
    e = make_elder(actor, seq=seq, birth=birth, residence=residence, name=fields.pop("name", f"老人{seq}"),
                   **fields)
    when = timezone.make_aware(datetime.datetime.combine(registered, datetime.time(9)))
    Elder.objects.filter(pk=e.pk).update(created_at=when, updated_at=when)
    e.refresh_from_db()
    return e


def _assessor(username: str):
    from yiyang.core.models import Role, User

    return User.objects.get_or_create(username=username, defaults={"role": Role.ASSESSOR})[0]


def assess(e: Elder, level: int, published: datetime.datetime) -> Assessment:
    """A published result with its level (the assessment workflow itself is tested in the assessment app)."""
    if timezone.is_naive(published):
        published = timezone.make_aware(published)
    return Assessment.objects.create(
        elder=e, reason="initial", status="published", final_level=level, total=0, published_at=published,
        valid_until=published.date() + datetime.timedelta(days=365), assessor_1=_assessor("ben_assessor_1"),
        assessor_2=_assessor("ben_assessor_2"), reviewed_by=_assessor("ben_reviewer"),
        county_code=e.county_code, region_code=e.residence_region_id)


def generate(actor, prog, month, jurisdiction=COUNTY, **kw):
    region = Region.objects.get(code=jurisdiction)
    roll = services.create_roll(actor=actor, programme=prog, jurisdiction=region, month=month)
    return services.generate_roll(actor=actor, roll=roll, **kw)
