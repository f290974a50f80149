from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from yiyang.api.main import api


def favicon(request):
    # Browsers (and the admin, the API docs) ask for /favicon.ico whatever the page links: point them at the SVG.
    return HttpResponsePermanentRedirect(static("core/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", include("yiyang.core.urls")),
    path("registry/", include("yiyang.registry.urls")),
    path("assessment/", include("yiyang.assessment.urls")),
    path("benefits/", include("yiyang.benefits.urls")),
    path("services/", include("yiyang.services.urls")),
    path("routing/", include("yiyang.routing.urls")),
    path("visits/", include("yiyang.visits.urls")),
    path("alarms/", include("yiyang.alarms.urls")),
    path("institutions/", include("yiyang.institutions.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]

handler400 = "yiyang.core.views.error_400"
handler403 = "yiyang.core.views.error_403"
handler404 = "yiyang.core.views.error_404"
handler500 = "yiyang.core.views.error_500"
