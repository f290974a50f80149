from django.contrib import admin

from .models import RouteLock, RoutePlan, RouteStop


class RouteStopInline(admin.TabularInline):
    model = RouteStop
    extra = 0
    can_delete = False
    raw_id_fields = ("order", "caregiver")
    readonly_fields = ("order", "caregiver", "position", "arrival", "start", "end", "travel_seconds", "locked",
                       "started", "unassigned_code", "unassigned_reason")


@admin.register(RoutePlan)
class RoutePlanAdmin(admin.ModelAdmin):
    list_display = ("provider", "day", "version", "status", "created_at", "published_at")
    list_filter = ("status",)
    date_hierarchy = "day"
    raw_id_fields = ("provider", "created_by", "published_by")
    inlines = [RouteStopInline]


@admin.register(RouteLock)
class RouteLockAdmin(admin.ModelAdmin):
    list_display = ("order", "caregiver", "locked_by", "locked_at")
    raw_id_fields = ("order", "caregiver", "locked_by")
