"""Pages of staffing ratios against the norms, and of subsidies paid to homes."""

urlpatterns: list = []
