"""Pages of the alarms app (紧急呼叫)."""

from django.urls import path

from . import views

app_name = "alarms"

urlpatterns = [
    path("", views.console, name="console"),
    path("queue/", views.queue, name="queue"),
    path("raise/", views.raise_manual, name="raise"),
    path("history/", views.alarm_list, name="list"),
    path("<int:pk>/", views.alarm_detail, name="detail"),
    path("<int:pk>/<slug:step>/", views.alarm_step, name="step"),
    path("stats/", views.stats, name="stats"),
    path("devices/", views.device_list, name="devices"),
    path("devices/register/", views.device_register, name="device_register"),
    path("devices/<int:pk>/retire/", views.device_retire, name="device_retire"),
    path("quarantine/", views.quarantine, name="quarantine"),
    path("maintenance/", views.maintenance, name="maintenance"),
    path("maintenance/<int:pk>/finish/", views.maintenance_finish, name="maintenance_finish"),
    path("rota/", views.rota, name="rota"),
    path("rota/add/", views.rota_add, name="rota_add"),
    path("rota/<int:pk>/remove/", views.rota_remove, name="rota_remove"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/service-level/", views.service_level_set, name="service_level"),
    path("settings/vendors/add/", views.vendor_add, name="vendor_add"),
    path("settings/vendors/<int:pk>/rotate/", views.vendor_rotate, name="vendor_rotate"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
