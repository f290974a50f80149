"""Generated scope tests for the register (core/tests/scope_matrix.py): who sees which elder, everywhere."""

import datetime

from django.urls import reverse

from yiyang.core.tests.scope_matrix import HERE, NEXT_DOOR, OTHER_COUNTY, OTHER_STREET, ScopeMatrix, Write
from yiyang.registry import services
from yiyang.registry.models import Elder
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
