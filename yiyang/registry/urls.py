from django.urls import include, path

from . import views

app_name = "registry"
urlpatterns = [
    path("elders/", views.elder_list, name="elder_list"),
    path("elders/new/", views.elder_create, name="elder_create"),
    path("elders/export/", views.elder_export, name="elder_export"),
    path("elders/check-id/", views.elder_check_id, name="elder_check_id"),
    path("elders/<int:pk>/", views.elder_detail, name="elder_detail"),
    path("elders/<int:pk>/edit/", views.elder_edit, name="elder_edit"),
    path("elders/<int:pk>/status/", views.elder_status_event, name="elder_status_event"),
    path("elders/<int:pk>/categories/", views.elder_add_category, name="elder_add_category"),
    path("elders/<int:pk>/contacts/", views.elder_add_contact, name="elder_add_contact"),
    path("elders/<int:pk>/reveal-id/", views.elder_reveal_id, name="elder_reveal_id"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("facilities/", views.facility_list, name="facility_list"),
    path("facilities/new/", views.facility_create, name="facility_create"),
    path("facilities/<int:pk>/", views.facility_detail, name="facility_detail"),
    path("staff/", views.practitioner_list, name="practitioner_list"),
    path("staff/new/", views.practitioner_create, name="practitioner_create"),
    path("staff/<int:pk>/", views.practitioner_detail, name="practitioner_detail"),
    path("staff/<int:pk>/edit/", views.practitioner_edit, name="practitioner_edit"),
    # Excel import (templates, upload, preview, confirm, error report, progress).
    path("import/", include("yiyang.registry.import_urls")),
]
