urlpatterns: list = []  # the import pages (import_views.py) are added here
