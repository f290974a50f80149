from django.urls import path

from . import views

app_name = "routing"
urlpatterns = [
    path("", views.plan_page, name="plan"),
    path("lock", views.lock, name="lock"),
    path("plans/<int:plan_id>/publish", views.publish, name="publish"),
]
