"""Pages of the services app. Each block belongs to one views module; keep them apart."""

from django.urls import path  # noqa: F401

app_name = "services"

urlpatterns = []

# --- orders: placement, list, detail, actions (views.py) ---
from . import views  # noqa: E402

urlpatterns += [
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/new/quote/", views.order_quote, name="order_quote"),
    path("orders/new/elders/", views.order_elders, name="order_elders"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/<slug:action>/", views.order_action, name="order_action"),
]

# --- provider workspace and catalogue (views_workspace.py) ---
from . import views_workspace  # noqa: E402

urlpatterns += [
    path("workspace/", views_workspace.workspace, name="workspace"),
    path("workspace/orders/<int:pk>/accept/", views_workspace.accept, name="workspace_accept"),
    path("workspace/orders/<int:pk>/decline/", views_workspace.decline, name="workspace_decline"),
    path("workspace/orders/<int:pk>/assign/", views_workspace.assign, name="workspace_assign"),
    path("workspace/shifts/", views_workspace.shift_add, name="workspace_shift_add"),
    path("workspace/shifts/<int:pk>/remove/", views_workspace.shift_remove, name="workspace_shift_remove"),
    path("catalogue/", views_workspace.catalogue, name="catalogue"),
    path("catalogue/prices/", views_workspace.set_price, name="catalogue_set_price"),
    path("catalogue/offers/", views_workspace.declare_offer, name="catalogue_declare_offer"),
]

# --- settlement (views_settlement.py) ---
from . import views_settlement  # noqa: E402

urlpatterns += [
    path("settlements/", views_settlement.settlement_list, name="settlements"),
    path("settlements/prepare/", views_settlement.prepare, name="settlement_prepare"),
    path("settlements/<int:pk>/", views_settlement.settlement_detail, name="settlement"),
    path("settlements/<int:pk>/approve/", views_settlement.approve, name="settlement_approve"),
    path("settlements/<int:pk>/export/", views_settlement.export, name="settlement_export"),
]

# --- caregiver phone app (views_caregiver.py) ---
from . import views_caregiver  # noqa: E402

urlpatterns += [
    path("m/", views_caregiver.today, name="caregiver_today"),
    path("m/visits/<int:pk>/", views_caregiver.visit, name="caregiver_visit"),
    path("m/visits/<int:pk>/check-in/", views_caregiver.visit_check_in, name="caregiver_check_in"),
    path("m/visits/<int:pk>/check-out/", views_caregiver.visit_check_out, name="caregiver_check_out"),
    path("m/visits/<int:pk>/photo/", views_caregiver.visit_photo, name="caregiver_photo"),
    path("m/manifest.webmanifest", views_caregiver.manifest, name="caregiver_manifest"),
    path("m/sw.js", views_caregiver.service_worker, name="caregiver_sw"),
]

# --- follow-ups and recurring orders (views_followup.py) ---
from . import views_followup  # noqa: E402

urlpatterns += [
    path("follow-ups/", views_followup.follow_up_list, name="follow_ups"),
    path("follow-ups/sample/", views_followup.follow_up_sample, name="follow_up_sample"),
    path("follow-ups/<int:pk>/", views_followup.follow_up_record, name="follow_up_record"),
    path("recurring/", views_followup.recurring_list, name="recurring_list"),
    path("recurring/<int:pk>/stop/", views_followup.recurring_stop, name="recurring_stop"),
]
