"""Pages of the institutions app (养老机构), one module per topic; each module holds its own `urlpatterns`."""
