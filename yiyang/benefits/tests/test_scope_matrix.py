"""Generated scope tests for benefits (core/tests/scope_matrix.py): who sees which roll, line and rule version,
in the queryset, the pages, the API and the exports, and that every write outside one's scope is a 404 that
changes nothing, for the 14 roles of the scope world.

A roll is the county's: its bureau, and the street and community workers of the county (who review their
part), see it. A line is its place's: the bureau of its roll, the street and community it lies in, and the
family of its elder. A rule version is seen where it applies (below its jurisdiction) and by the bureaus
below it."""

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from yiyang.benefits import services
from yiyang.benefits.models import CheckKind, Roll, RollCheck, RollLine, RuleVersion
from yiyang.benefits.tests import factories as f
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ScopeMatrix, Write

REGION_ROLES = {"bureau", "other_bureau", "street", "other_street", "community", "other_community"}
COUNTY_ROLES = REGION_ROLES - {"other_bureau"}  # the region staff of 恩阳区
API = "/api/v1/benefits/"


def _month() -> str:
    return timezone.localdate().strftime("%Y-%m")


def _approve(bureau, roll):
    for check in RollCheck.objects.filter(roll=roll, resolution=""):
        services.resolve_check(actor=bureau, check=check, resolution="confirmed", note="已核实")
    roll = services.submit_for_review(actor=bureau, roll=roll)
    services.sign_off_remaining_streets(actor=bureau, roll=roll, note="纸质审核表已签字")
    return services.approve_roll(actor=bureau, roll=roll)


def _results(case, roll):
    """A valid bank results file for the roll (a new upload object per request)."""
    rows = "".join(f"{ln.pk},{ln.amount},成功\n" for ln in RollLine.objects.filter(roll=roll, amount__gt=0))
    return {"file": SimpleUploadedFile("r.csv", ("流水号,金额,结果\n" + rows).encode(), content_type="text/csv")}


class TestRollScope(ScopeMatrix):
    model = Roll
    visible = {role: {"approved", "in_review"} for role in COUNTY_ROLES} | {"other_bureau": {"far"}}
    list_url = "/benefits/"
    list_roles = REGION_ROLES
    api_list_url = API + "rolls?limit=100"
    api_list_roles = REGION_ROLES
    writes = (
        Write("page submit", "post", lambda case, r: reverse("benefits:submit", args=[r.pk])),
        Write("page approve", "post", lambda case, r: reverse("benefits:approve", args=[r.pk])),
        Write("page sign for the streets", "post", lambda case, r: reverse("benefits:sign", args=[r.pk]),
              {"street": "*", "note": "纸质"}),
        Write("page regenerate", "post", lambda case, r: reverse("benefits:regenerate", args=[r.pk])),
        Write("page bank file", "post", lambda case, r: reverse("benefits:export", args=[r.pk]), {"format": "csv"}),
        Write("page review list", "post", lambda case, r: reverse("benefits:export_lines", args=[r.pk])),
        Write("page bank results", "post", lambda case, r: reverse("benefits:import", args=[r.pk]), _results),
        Write("API submit", "post", lambda case, r: API + f"rolls/{r.pk}/submit", as_json=True),
        Write("API approve", "post", lambda case, r: API + f"rolls/{r.pk}/approve", as_json=True),
        Write("API sign-off", "post", lambda case, r: API + f"rolls/{r.pk}/streets/511903001/sign-off",
              {"note": "纸质"}, as_json=True),
        # A download that moves an approved roll to exported: a write.
        Write("API bank file", "get", lambda case, r: API + f"rolls/{r.pk}/bank-file?format=csv"),
        Write("API bank results", "post", lambda case, r: API + f"rolls/{r.pk}/bank-results", _results),
    )

    def build(self, world):
        bureau, other_bureau = world["bureau"], world["other_bureau"]
        longevity = f.programme()
        care = f.programme("care", "care", "经济困难老年人护理补贴")
        f.rule(longevity, f.LONGEVITY, jurisdiction="5119")
        f.rule(care, f.CARE, jurisdiction="5119")
        birth = datetime.date(1940, 3, 8)
        f.elder(bureau, 1, birth=birth, name="赵一", residence=HERE, bank_name="农商银行",
                bank_account="955880123456789012")
        f.elder(bureau, 2, birth=birth, name="孙三", residence=OTHER_STREET, bank_name="农商银行",
                bank_account="955880123456789029")
        f.elder(other_bureau, 3, birth=birth, name="李四", residence=OTHER_COUNTY, bank_name="农商银行",
                bank_account="955880123456789036")
        approved = _approve(bureau, f.generate(bureau, longevity, _month()))
        # An empty roll under review: approving it would succeed for its bureau.
        in_review = services.submit_for_review(actor=bureau, roll=f.generate(bureau, care, _month()))
        far = _approve(other_bureau, f.generate(other_bureau, longevity, _month(), jurisdiction="511902"))
        return {"approved": approved, "in_review": in_review, "far": far}

    def marker(self, obj):
        return f'href="{reverse("benefits:roll", args=[obj.pk])}"'

    def detail_url(self, obj):
        return reverse("benefits:roll", args=[obj.pk])

    def api_detail_url(self, obj):
        return API + f"rolls/{obj.pk}"


class TestRollLineScope(ScopeMatrix):
    model = RollLine
    visible = {
        "bureau": {"here", "next_door", "other_street", "family_mother"},
        "other_bureau": {"far"},
        "street": {"here", "next_door", "family_mother"},
        "other_street": {"other_street"},
        "community": {"here", "family_mother"},
        "other_community": {"next_door"},
        "family": {"family_mother"},
    }
    # The lines of the county's roll, on its page, in its API and its review list (the family reads its
    # mother's line on its own page: test_family.py).
    page_visible = {role: places for role, places in visible.items() if role in COUNTY_ROLES}
    api_visible = page_visible
    # The roll's page, API and review list: their URLs name the roll that build() makes.
    list_url = api_list_url = export_url = "set by build()"
    export_data = {}
    list_roles = api_list_roles = export_roles = COUNTY_ROLES
    writes = (
        Write("page withhold", "post",
              lambda case, ln: reverse("benefits:resolve", args=[ln.roll_id, case.check_of(ln).pk]),
              {"resolution": "withheld", "note": "暂缓"}),
        Write("API withhold", "post", lambda case, ln: API + f"checks/{case.check_of(ln).pk}/resolve",
              {"resolution": "withheld", "note": "暂缓"}, as_json=True),
        Write("page recovered", "post", lambda case, ln: reverse("benefits:recovered", args=[ln.roll_id, ln.pk])),
        Write("API recovered", "post", lambda case, ln: API + f"lines/{ln.pk}/recovered", as_json=True),
    )

    def build(self, world):
        bureau, other_bureau = world["bureau"], world["other_bureau"]
        longevity = f.programme()
        f.rule(longevity, f.LONGEVITY, jurisdiction="5119")
        birth = datetime.date(1940, 3, 8)
        # No bank accounts: every line has a check to clear (withholding it would change the line).
        people = {"here": f.elder(bureau, 1, birth=birth, name="赵一", residence=HERE),
                  "next_door": f.elder(bureau, 2, birth=birth, name="钱二", residence=NEXT_DOOR),
                  "other_street": f.elder(bureau, 3, birth=birth, name="孙三", residence=OTHER_STREET),
                  "far": f.elder(other_bureau, 4, birth=birth, name="李四", residence=OTHER_COUNTY),
                  "family_mother": world.elders["family"]}
        roll = f.generate(bureau, longevity, _month())
        far = f.generate(other_bureau, longevity, _month(), jurisdiction="511902")
        self.list_url = reverse("benefits:roll", args=[roll.pk])
        self.api_list_url = API + f"rolls/{roll.pk}/lines?limit=100"
        self.export_url = reverse("benefits:export_lines", args=[roll.pk])
        lines = {ln.elder_id: ln for ln in RollLine.objects.filter(roll__in=[roll, far])}
        return {place: lines[e.pk] for place, e in people.items()}

    @staticmethod
    def check_of(line):
        # The missing bank account (the line may also have a 长期无服务或探访 check since visits count as contacts).
        return RollCheck.objects.get(line=line, kind=CheckKind.BANK_MISSING)

    def marker(self, obj):
        return obj.elder.name


class TestRuleVersionScope(ScopeMatrix):
    model = RuleVersion
    visible = {
        "bureau": {"county", "street_rule", "city"},
        "other_bureau": {"far", "city"},
        "street": {"county", "street_rule", "city"},
        "other_street": {"county", "city"},
        "community": {"county", "street_rule", "city"},
        "other_community": {"county", "street_rule", "city"},
    }
    list_url = "/benefits/programmes/"
    list_roles = REGION_ROLES
    api_list_url = API + "programmes/longevity/rules"
    api_list_roles = REGION_ROLES
    writes = (
        # Adopting a version for the rule's jurisdiction closes the version in force there.
        Write("API adopt", "post", lambda case, rv: API + "programmes/longevity/rules",
              lambda case, rv: {"params": f.LONGEVITY, "valid_from": _month(), "note": "新标准",
                                "jurisdiction": rv.jurisdiction_id}, as_json=True),
    )

    def build(self, world):
        longevity = f.programme()
        made = {}
        for place, code, note in (("county", "511903", "恩阳区标准"), ("street_rule", "511903001", "登科街道标准"),
                                  ("city", "5119", "巴中市标准"), ("far", "511902", "巴州区标准")):
            made[place] = f.rule(longevity, f.LONGEVITY, jurisdiction=code)
            RuleVersion.objects.filter(pk=made[place].pk).update(note=note)
            made[place].refresh_from_db()
        return made

    def marker(self, obj):
        return obj.note
