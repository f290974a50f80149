"""Platform operators only (superusers). Results are read-only here too: the services are the only writers."""

from django.contrib import admin

from . import services
from .models import Assessment, AssessmentPolicy, CurrentLevel


@admin.register(AssessmentPolicy)
class AssessmentPolicyAdmin(admin.ModelAdmin):
    list_display = ("region", "stack_adjustments", "validity_months", "updated_at")
    raw_id_fields = ("region", "updated_by")


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ("id", "elder", "reason", "status", "agency", "final_level", "template_code", "published_at")
    list_filter = ("status", "reason", "template_code")
    search_fields = ("elder__name",)
    raw_id_fields = ("elder", "agency", "assessor_1", "assessor_2", "reviewed_by", "requested_by", "assigned_by",
                     "submitted_by", "disputed_by", "cancelled_by", "supersedes")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The read-only form shows Annex A: a read of the health record, audited like the pages'.
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            a = self.get_object(request, object_id)
            if a is not None and a.info:
                services.record_health_view(actor=request.user, assessment=a, detail="admin")
        return response


@admin.register(CurrentLevel)
class CurrentLevelAdmin(admin.ModelAdmin):
    list_display = ("elder", "level", "template_code", "valid_until", "reassess_by")
    raw_id_fields = ("elder", "assessment")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
