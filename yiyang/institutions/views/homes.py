"""Pages of homes, beds, stays, prepayments and the escrow board (the home's manager and the bureau)."""

urlpatterns: list = []
