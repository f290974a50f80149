"""Pages of the visits app: the desk (views.py) and the visitor's phone app (views_phone.py)."""

from django.urls import path

from . import views, views_phone

app_name = "visits"

urlpatterns = [
    path("", views.coverage, name="coverage"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/raise/", views.task_raise, name="task_raise"),
    path("tasks/<int:pk>/cancel/", views.task_cancel, name="task_cancel"),
    path("pairings/", views.pairing_list, name="pairings"),
    path("pairings/pair/", views.pair, name="pair"),
    path("visitors/", views.visitor_list, name="visitors"),
    path("visitors/add/", views.visitor_add, name="visitor_add"),
    path("visitors/<int:pk>/leave/", views.visitor_leave, name="visitor_leave"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_new, name="rule_new"),
    path("rules/<int:pk>/", views.rule_detail, name="rule"),
    path("rules/<int:pk>/adopt/", views.rule_adopt, name="rule_adopt"),
    path("follow-ups/", views.follow_up_list, name="follow_ups"),
    path("follow-ups/<int:pk>/close/", views.follow_up_close, name="follow_up_close"),
    # The visitor's phone app.
    path("my-day/", views_phone.my_day, name="my_day"),
    path("my-day/tasks/<int:pk>/", views_phone.task_page, name="phone_task"),
    path("my-day/tasks/<int:pk>/record/", views_phone.record, name="phone_record"),
    path("my-day/sw.js", views_phone.service_worker, name="phone_sw"),
]
