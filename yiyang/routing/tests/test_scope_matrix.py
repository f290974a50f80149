"""Generated scope tests of route plans (core/tests/scope_matrix.py): a provider sees and publishes its own
plans; the bureau of its area looks at them; nobody else sees one (a plan names every elder the provider
visits that day, across the county), and out of scope every write answers 404."""

from django.utils import timezone

from yiyang.core.tests.factories import make_org
from yiyang.core.tests.scope_matrix import ScopeMatrix, Write
from yiyang.routing.models import RoutePlan


class TestRoutePlanScope(ScopeMatrix):
    model = RoutePlan
    visible = {"provider": {"mine"}, "other_provider": {"theirs"}, "bureau": {"mine", "theirs"},
               "other_bureau": {"far"}}
    writes = (
        Write("page publish", "post", lambda case, p: f"/routing/plans/{p.pk}/publish", {}),
        Write("API publish", "post", lambda case, p: f"/api/v1/routing/plans/{p.pk}/publish", {}, as_json=True),
    )

    def build(self, world):
        day = timezone.localdate()
        far = make_org("巴州颐养", region="511902001")
        return {key: RoutePlan.objects.create(provider=org, day=day, version=1)
                for key, org in (("mine", world.organisations["provider"]),
                                 ("theirs", world.organisations["other_provider"]), ("far", far))}

    def api_detail_url(self, obj):
        return f"/api/v1/routing/plans/{obj.pk}"
