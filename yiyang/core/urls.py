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
    path("me/", views.my_account, name="my_account"),
    path("me/password/", views.my_password, name="my_password"),
    path("me/tokens/<int:pk>/revoke/", views.my_token_revoke, name="my_token_revoke"),
    path("me/tokens/revoke-all/", views.my_tokens_revoke_all, name="my_tokens_revoke_all"),
    path("audit/", views.audit_list, name="audit_list"),
    path("regions/search/", views.region_search, name="region_search"),
]
