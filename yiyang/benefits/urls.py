from django.urls import path

from . import views

app_name = "benefits"
urlpatterns = [
    path("", views.roll_list, name="rolls"),
    path("generate/", views.generate, name="generate"),
    path("programmes/", views.programme_list, name="programmes"),
    path("settings/", views.settings_edit, name="settings"),
    path("programmes/<slug:code>/rule/", views.rule_edit, name="rule_edit"),
    path("programmes/<slug:code>/simulate/", views.simulate, name="simulate"),
    path("totals/", views.totals, name="totals"),
    path("mine/", views.my_benefits, name="mine"),
    path("rolls/<int:pk>/", views.roll_detail, name="roll"),
    path("rolls/<int:pk>/lines/", views.roll_lines, name="roll_lines"),
    path("rolls/<int:pk>/progress/", views.roll_progress, name="roll_progress"),
    path("rolls/<int:pk>/regenerate/", views.regenerate, name="regenerate"),
    path("rolls/<int:pk>/checks/<int:check_pk>/", views.resolve, name="resolve"),
    path("rolls/<int:pk>/checks/confirm/", views.confirm_kind, name="confirm_kind"),
    path("rolls/<int:pk>/submit/", views.submit, name="submit"),
    path("rolls/<int:pk>/sign/", views.sign, name="sign"),
    path("rolls/<int:pk>/approve/", views.approve, name="approve"),
    path("rolls/<int:pk>/export/", views.export, name="export"),
    path("rolls/<int:pk>/lines/export/", views.export_lines, name="export_lines"),
    path("rolls/<int:pk>/import/", views.import_results, name="import"),
    path("rolls/<int:pk>/lines/<int:line_pk>/recovered/", views.mark_recovered, name="recovered"),
]
