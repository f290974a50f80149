"""Pages of fee schedules, monthly bills, payments and arrears."""

urlpatterns: list = []
