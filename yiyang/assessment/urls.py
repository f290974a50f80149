from django.urls import path

from . import views

app_name = "assessment"
urlpatterns = [
    path("", views.assessment_list, name="list"),
    path("mine/", views.mine, name="mine"),
    path("inbox/", views.inbox, name="inbox"),
    path("due/", views.due, name="due"),
    path("request/", views.request_assessment, name="request"),
    path("policy/", views.policy_page, name="policy"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/report.pdf", views.report, name="report"),
    path("<int:pk>/form/", views.form_page, name="form"),
    path("<int:pk>/answer/", views.answer, name="answer"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/agency/", views.change_agency, name="agency"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/return/", views.send_back, name="return"),
    path("<int:pk>/dispute/", views.dispute, name="dispute"),
    path("<int:pk>/correct/", views.correct, name="correct"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
]
