"""Pages of the institutions app (养老机构): each topic's module under views/ lists its own paths."""

from .views import billing, homes, reconciliation, staffing

app_name = "institutions"

urlpatterns = [*homes.urlpatterns, *billing.urlpatterns, *reconciliation.urlpatterns, *staffing.urlpatterns]
