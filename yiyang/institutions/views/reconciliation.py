"""Pages of bank statements and their reconciliation, refunds to completion, early warnings."""

urlpatterns: list = []
