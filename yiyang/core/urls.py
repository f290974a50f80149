from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/reveal-id/", views.account_reveal_id, name="account_reveal_id"),
    path("accounts/<int:pk>/active/", views.account_set_active, name="account_set_active"),
    path("audit/", views.audit_list, name="audit_list"),
    path("regions/search/", views.region_search, name="region_search"),
]
