"""Generated scope tests for the register (core/tests/scope_matrix.py): who sees which elder, everywhere."""

import datetime

from django.urls import reverse

from yiyang.core.tests.factories import make_org
from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ScopeMatrix, Write
from yiyang.registry import services
from yiyang.registry.models import Elder, Facility, ImportJob, Organisation, Practitioner
from yiyang.registry.tests.factories import id_number, make_elder

REGION_ROLES = {"bureau", "other_bureau", "street", "other_street", "community", "other_community"}


class TestElderScope(ScopeMatrix):
    model = Elder
    visible = {
        # 户籍 here but living in 巴州区: the 恩阳 bureau pays them, so it sees them; so does 巴州区.
        "bureau": {"here", "next_door", "other_street", "hukou_only", "family_mother"},
        "other_bureau": {"hukou_only", "far"},
        "street": {"here", "next_door", "family_mother"},
        "other_street": {"other_street"},
        "community": {"here", "family_mother"},
        "other_community": {"next_door"},
        "family": {"family_mother"},
    }
    list_url = "/registry/elders/"
    list_roles = REGION_ROLES
    api_list_url = "/api/v1/elders?limit=100"
    api_list_roles = REGION_ROLES
    export_url = "/registry/elders/export/"
    export_data = {"purpose": "核对"}
    export_roles = REGION_ROLES
    writes = (
        Write("status event page", "post", lambda case, e: reverse("registry:elder_status_event", args=[e.pk]),
              lambda case, e: {"kind": "death", "effective_date": case.yesterday()}),
        Write("edit page", "post", lambda case, e: reverse("registry:elder_edit", args=[e.pk]),
              {"name": "改名", "phone": "13800000000"}),
        Write("category page", "post", lambda case, e: reverse("registry:elder_add_category", args=[e.pk]),
              lambda case, e: {"kind": "subsistence", "start_date": case.yesterday()}),
        Write("contact page", "post", lambda case, e: reverse("registry:elder_add_contact", args=[e.pk]),
              {"name": "儿子", "relationship": "son", "phone": "13900000000"}),
        Write("reveal ID page", "post", lambda case, e: reverse("registry:elder_reveal_id", args=[e.pk]), {}),
        Write("API patch", "patch", lambda case, e: f"/api/v1/elders/{e.pk}", {"phone": "13800000000"},
              as_json=True),
        Write("API status event", "post", lambda case, e: f"/api/v1/elders/{e.pk}/status-events",
              lambda case, e: {"kind": "death", "effective_date": case.yesterday()}, as_json=True),
    )

    @staticmethod
    def yesterday() -> str:
        from django.utils import timezone

        return (timezone.localdate() - datetime.timedelta(days=1)).isoformat()

    def build(self, world):
        bureau = world["bureau"]
        return {
            "here": make_elder(bureau, name="登科寺老人", seq=1, residence=HERE),
            "next_door": make_elder(bureau, name="新场老人", seq=2, residence=NEXT_DOOR),
            "other_street": make_elder(bureau, name="文治老人", seq=3, residence=OTHER_STREET),
            "hukou_only": services.register_elder(
                actor=None, id_number=id_number(datetime.date(1941, 5, 5), 4), name="户籍在恩阳",
                residence_region=OTHER_COUNTY, hukou_region=HERE),
            "far": services.register_elder(
                actor=None, id_number=id_number(datetime.date(1941, 5, 5), 5), name="巴州老人",
                residence_region=OTHER_COUNTY, hukou_region=OTHER_COUNTY),
            "family_mother": world.elders["family"],
        }

    def marker(self, obj):
        return obj.name

    def detail_url(self, obj):
        return reverse("registry:elder_detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/elders/{obj.pk}"


# Organisations serve a whole county: region staff of the county see (not change) all of its organisations;
# an organisation's own accounts see it.
COUNTY_STAFF = {"bureau", "street", "other_street", "community", "other_community"}


class TestOrganisationScope(ScopeMatrix):
    model = Organisation
    visible = {
        **{role: {"here", "other_street", "provider", "agency"} for role in COUNTY_STAFF},
        "other_bureau": {"far"},
        "assessor": {"agency"},
        "provider": {"provider"},
        "caregiver": {"provider"},
    }
    # A caregiver has no organisation page (the API shows them their employer).
    page_visible = {role: places for role, places in visible.items() if role != "caregiver"}
    list_url = "/registry/organisations/"
    list_roles = REGION_ROLES
    api_list_url = "/api/v1/organisations?limit=100"
    writes = (
        Write("API update", "put", lambda case, o: f"/api/v1/organisations/{o.pk}",
              {"name": "改名机构", "kind": "provider", "region": "511903001"}, as_json=True),
    )

    def build(self, world):
        return {
            "here": make_org("登科服务社", region="511903001"),
            "other_street": make_org("文治服务社", region="511903002"),
            "far": make_org("巴州服务社", region="511902001"),
            "provider": world.organisations["provider"],
            "agency": world.organisations["agency"],
        }

    def marker(self, obj):
        return obj.name

    def detail_url(self, obj):
        return reverse("registry:organisation_detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/organisations/{obj.pk}"


class TestFacilityScope(ScopeMatrix):
    model = Facility
    visible = {
        "bureau": {"here", "other_street"},
        "street": {"here"},
        "community": {"here"},
        "other_street": {"other_street"},
        "other_bureau": {"far"},
        "provider": {"other_street"},        # 颐康 operates it, and its caregivers see it in the API
        "caregiver": {"other_street"},
    }
    page_visible = {role: places for role, places in visible.items() if role != "caregiver"}
    list_url = "/registry/facilities/"
    list_roles = REGION_ROLES
    api_list_url = "/api/v1/facilities?limit=100"
    writes = (
        Write("API update", "put", lambda case, f: f"/api/v1/facilities/{f.pk}",
              {"name": "改名设施", "kind": "day_care", "region": HERE, "address": "x"}, as_json=True),
    )

    def build(self, world):
        bureau, other_bureau = world["bureau"], world["other_bureau"]
        return {
            "here": services.save_facility(actor=bureau, name="登科寺日间照料中心", kind="day_care", region=HERE,
                                           address="登科寺社区 1 号"),
            "other_street": services.save_facility(actor=bureau, name="文治养老服务中心", kind="street_centre",
                                                   region=OTHER_STREET, address="文治街道 2 号",
                                                   operator=world.organisations["provider"]),
            "far": services.save_facility(actor=other_bureau, name="巴州日间照料中心", kind="day_care",
                                          region=OTHER_COUNTY, address="巴州 3 号"),
        }

    def marker(self, obj):
        return obj.name

    def detail_url(self, obj):
        return reverse("registry:facility_detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/facilities/{obj.pk}"


class TestPractitionerScope(ScopeMatrix):
    model = Practitioner
    # The world's caregivers: 护理员71 works for 颐康 (文治街道), 护理员72 for 惠民 (登科街道).
    visible = {
        "bureau": {"yikang", "huimin"},
        "street": {"huimin"},
        "other_street": {"yikang"},
        "provider": {"yikang"},
        "other_provider": {"huimin"},
        "caregiver": {"yikang"},
        "other_caregiver": {"huimin"},
    }
    # Community workers see none of them here: their community is not an organisation's region.
    list_url = "/registry/staff/"
    list_roles = {"bureau", "street", "other_street", "community", "other_community", "provider", "other_provider",
                  "other_bureau"}
    api_list_url = "/api/v1/staff?limit=100"
    writes = (
        Write("edit page", "post", lambda case, p: reverse("registry:practitioner_edit", args=[p.pk]),
              {"name": "改名", "phone": "13800000001"}),
    )

    def build(self, world):
        return {"yikang": world.practitioners["caregiver"], "huimin": world.practitioners["other_caregiver"]}

    def marker(self, obj):
        return obj.name

    def detail_url(self, obj):
        return reverse("registry:practitioner_detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/staff/{obj.pk}"


class TestImportJobScope(ScopeMatrix):
    model = ImportJob
    # An upload holds its file's personal data: only the person who uploaded it sees it.
    visible = {"community": {"mine"}, "bureau": {"bureau_s"}}
    writes = (
        Write("confirm", "post", lambda case, j: reverse("registry:import_confirm", args=[j.pk]), {}),
        Write("cancel", "post", lambda case, j: reverse("registry:import_cancel", args=[j.pk]), {}),
    )

    def build(self, world):
        from yiyang.registry import importing
        from yiyang.registry.tests.importkit import elder_row, workbook_bytes

        def upload(actor, seq):
            data = workbook_bytes([elder_row(seq)])  # a valid row in 登科寺社区, inside both uploaders' scope
            return importing.start_import(actor=actor, kind_key="elders", filename=f"名单{seq}.xlsx", data=data)

        return {"mine": upload(world["community"], 1), "bureau_s": upload(world["bureau"], 2)}

    def detail_url(self, obj):
        return reverse("registry:import_job", args=[obj.pk])
