"""Pages of the services app. Each block belongs to one views module; keep them apart."""

from django.urls import path  # noqa: F401

app_name = "services"

urlpatterns = []

# --- orders: placement, list, detail, actions (views.py) ---

# --- provider workspace and catalogue (views_workspace.py) ---

# --- settlement (views_settlement.py) ---

# --- caregiver phone app (views_caregiver.py) ---
