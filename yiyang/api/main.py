"""The REST API: one NinjaAPI assembled from each app's `api.py` router. Docs at /api/docs."""

from ninja import NinjaAPI

from yiyang.alarms.api import router as alarms_router
from yiyang.alarms.webhooks import router as webhook_router
from yiyang.assessment.api import router as assessment_router
from yiyang.benefits.api import router as benefits_router
from yiyang.core.api import router as core_router
from yiyang.institutions.api import router as institutions_router
from yiyang.registry.api import router as registry_router
from yiyang.routing.api import router as routing_router
from yiyang.services.api import router as services_router
from yiyang.visits.api import router as visits_router

from . import errors
from .auth import API_AUTH


class YiyangAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # `<app>_api_<function>` whatever module of the app's api package defines the function, so clients
        # generated from the schema keep their names when a router is split by topic.
        module = operation.view_func.__module__
        parts = module.split(".")
        if parts[0] == "yiyang" and len(parts) > 3 and parts[2] == "api":
            module = ".".join(parts[:3])
        return f"{module}_{operation.view_func.__name__}".replace(".", "_")


api = YiyangAPI(
    title="Yiyang API",
    version="1",
    description=(
        "颐养养老服务平台 REST API / Yiyang elderly-care platform REST API.\n\n"
        "Browsers use their session (with the CSRF token); integrations call `POST /api/v1/auth/token` and send "
        "`Authorization: Bearer <token>`. Every error has one shape: `status`, a stable `code`, a `message` in "
        "the caller's language (Accept-Language: zh-hans or en) and per-field `errors`. Objects outside the "
        "caller's scope answer 404."
    ),
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("/v1/", core_router)
api.add_router("/v1/", registry_router)
api.add_router("/v1/assessments", assessment_router)
api.add_router("/v1/benefits", benefits_router)
api.add_router("/v1/services", services_router)
api.add_router("/v1/routing", routing_router)
api.add_router("/v1/visits", visits_router)
api.add_router("/v1/alarms", alarms_router)
api.add_router("/v1/alarms/webhooks", webhook_router)
api.add_router("/v1/institutions", institutions_router)
