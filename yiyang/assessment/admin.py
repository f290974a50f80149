"""Platform operators only (superusers). Results are read-only here too: the services are the only writers."""

from django.contrib import admin

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
