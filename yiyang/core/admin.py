from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import AuditEvent, Region, User


@admin.register(User)
class YiyangUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "region", "organisation", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = UserAdmin.fieldsets + (("Yiyang", {"fields": ("role", "region", "organisation", "display_name",
                                                              "phone")}),)
    raw_id_fields = ("region", "organisation")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    search_fields = ("code", "name", "initials")
    list_filter = ("level",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_username", "action", "object_type", "object_id", "ip")
    list_filter = ("action",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
