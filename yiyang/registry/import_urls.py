"""Excel import pages, included by registry/urls.py under "import/" (names resolve as "registry:import_…")."""

from django.urls import path

from . import import_views as views

urlpatterns = [
    path("", views.import_home, name="import_home"),
    path("upload/", views.import_upload, name="import_upload"),
    path("templates/<str:kind>.xlsx", views.import_template, name="import_template"),
    path("<int:pk>/", views.import_job, name="import_job"),
    path("<int:pk>/status/", views.import_job_status, name="import_job_status"),
    path("<int:pk>/confirm/", views.import_confirm, name="import_confirm"),
    path("<int:pk>/cancel/", views.import_cancel, name="import_cancel"),
    path("<int:pk>/errors.xlsx", views.import_report, name="import_report"),
]
