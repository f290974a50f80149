"""Generated scope tests for assessments (core/tests/scope_matrix.py): who sees which assessment, everywhere.

Assessors see the assessments assigned to them (DESIGN.md §1), those they reviewed or requested, and their
agency's desk (requests to assign, forms to review); not the rest of their agency's work, nothing of another
agency's. Region staff and families see the assessments of the elders they see.
"""

from django.urls import reverse
from django.utils import timezone

from yiyang.assessment import services
from yiyang.assessment.models import Assessment, Status
from yiyang.core.models import Role
from yiyang.core.tests.factories import make_user
from yiyang.core.tests.scope_matrix import (
    HERE,
    NEXT_DOOR,
    OTHER_COUNTY,
    OTHER_STREET,
    ROLES,
    ScopeMatrix,
    Write,
)
from yiyang.registry.tests.factories import make_elder

from .factories import INFO, MILD

REGION_ROLES = {"bureau", "other_bureau", "street", "other_street", "community", "other_community"}
LIST_ROLES = REGION_ROLES | {"assessor", "other_assessor"}


def _page(name):
    return lambda case, a: reverse(f"assessment:{name}", args=[a.pk])


def _api(step=""):
    return lambda case, a: f"/api/v1/assessments/{a.pk}" + (f"/{step}" if step else "")


REASON = {"reason": "核对"}


class TestAssessmentScope(ScopeMatrix):
    model = Assessment
    visible = {
        "bureau": {"here", "next_door", "desk", "other_agency", "family_mother"},
        "other_bureau": {"far"},
        "street": {"here", "next_door", "other_agency", "family_mother"},
        "other_street": {"desk"},
        "community": {"here", "other_agency", "family_mother"},
        "other_community": {"next_door"},
        # Their assignment, the agency's request to assign and the form awaiting the agency's review; not
        # `next_door`, which two colleagues assessed and a third reviewed.
        "assessor": {"here", "desk", "family_mother"},
        # Their assignment, and the result they reviewed (in another county: agencies serve several).
        "other_assessor": {"other_agency", "far"},
        "family": {"family_mother"},
    }
    list_url = "/assessment/"
    list_roles = LIST_ROLES
    api_list_url = "/api/v1/assessments?limit=100"
    api_list_roles = LIST_ROLES | {"family", "other_family"}
    writes = (
        Write("assign page", "post", _page("assign"), {"assessor_1": "1", "assessor_2": "2"}),
        Write("agency page", "post", _page("agency"), {"agency": "1"}),
        Write("answer page", "post", _page("answer"), {"B.1.1": "0"}),
        Write("submit page", "post", _page("submit"),
              lambda case, a: {"assessed_on": timezone.localdate().isoformat()}),
        Write("publish page", "post", _page("publish"), {"note": ""}),
        Write("return page", "post", _page("return"), {"return-reason": "核对"}),
        Write("dispute page", "post", _page("dispute"), {"dispute-reason": "核对"}),
        Write("correct page", "post", _page("correct"), {"correct-reason": "核对"}),
        Write("cancel page", "post", _page("cancel"), {"cancel-reason": "核对"}),
        Write("API assign", "post", _api("assign"), {"assessor_1": 1, "assessor_2": 2}, as_json=True),
        Write("API answers", "patch", _api("answers"), {"items": {"B.1.1": 0}}, as_json=True),
        Write("API submit", "post", _api("submit"), {}, as_json=True),
        Write("API publish", "post", _api("publish"), {}, as_json=True),
        Write("API return", "post", _api("return"), REASON, as_json=True),
        Write("API dispute", "post", _api("dispute"), REASON, as_json=True),
        Write("API correct", "post", _api("correct"), REASON, as_json=True),
        Write("API cancel", "post", _api("cancel"), REASON, as_json=True),
    )

    def build(self, world):
        agency, other_agency = world.organisations["agency"], world.organisations["other_agency"]
        # The world's `assessor` and `other_assessor`, and colleagues in each agency.
        a2, a3, a4 = (make_user(f"colleague{i}", Role.ASSESSOR, organisation=agency) for i in (2, 3, 4))
        o2, o3 = (make_user(f"other_colleague{i}", Role.ASSESSOR, organisation=other_agency) for i in (2, 3))
        bureau, community = world["bureau"], world["community"]

        def person(name, seq, residence, by=bureau):
            return make_elder(by, name=name, seq=seq, residence=residence)

        def request(elder, by, agency):
            return services.request_assessment(actor=by, elder=elder, reason="first", agency=agency)

        def assign(a, by, first, second):
            return services.assign(actor=by, assessment=a, assessor_1=first, assessor_2=second,
                                   scheduled_for=None)

        def submit(a, by):
            services.save_answers(actor=by, assessment=a, items=MILD, info=INFO)
            return services.submit(actor=by, assessment=a)

        here = assign(request(person("登科寺甲", 11, HERE), community, agency), world["assessor"],
                      world["assessor"], a2)
        next_door = submit(assign(request(person("新场乙", 12, NEXT_DOOR), world["street"], agency), a2, a2, a3),
                           a2)
        next_door = services.publish(actor=a4, assessment=next_door)
        desk = request(person("文治丙", 13, OTHER_STREET), bureau, agency)
        other = assign(request(person("登科寺丁", 14, HERE), community, other_agency), world["other_assessor"],
                       world["other_assessor"], o2)
        far = request(person("巴州戊", 15, OTHER_COUNTY, by=world["other_bureau"]), world["other_bureau"],
                      other_agency)
        far = services.publish(actor=world["other_assessor"], assessment=submit(assign(far, o2, o2, o3), o2))
        mother = submit(assign(request(world.elders["family"], community, agency), a2, a2, a3), a3)
        assert [x.status for x in (here, next_door, desk, other, far, mother)] == [
            Status.ASSIGNED, Status.PUBLISHED, Status.REQUESTED, Status.ASSIGNED, Status.PUBLISHED,
            Status.SUBMITTED]
        return {"here": here, "next_door": next_door, "desk": desk, "other_agency": other, "far": far,
                "family_mother": mother}

    def marker(self, obj):
        return obj.elder.name

    def detail_url(self, obj):
        return reverse("assessment:detail", args=[obj.pk])

    def api_detail_url(self, obj):
        return f"/api/v1/assessments/{obj.pk}"

    def test_report_pdf(self, client, scope_world):
        """The printable report, page and API: 404 outside the scope; inside it, a PDF once there is a result
        (before that, no report: 404 on the page, 409 in the API)."""
        objects = self._objects(scope_world)
        wrong, rendered_by_api = [], set()
        for role in ROLES:
            self._client(client, scope_world, role)
            for place, a in objects.items():
                seen = place in self.visible.get(role, set())
                for url, before_result in ((reverse("assessment:report", args=[a.pk]), 404),
                                           (f"/api/v1/assessments/{a.pk}/report.pdf", 409)):
                    expected = (200 if a.final_level is not None else before_result) if seen else 404
                    if expected == 200 and "/api/" in url:
                        # Page and API serve the same report_response: one PDF per place through the API
                        # (each takes a second to typeset); every role's through the page.
                        if place in rendered_by_api:
                            continue
                        rendered_by_api.add(place)
                    resp = client.get(url)
                    if resp.status_code != expected or (expected == 200 and not resp.content.startswith(b"%PDF")):
                        wrong.append((role, place, url, resp.status_code, expected))
        assert not wrong, f"report: (role, place, url, status, expected) {wrong}"
