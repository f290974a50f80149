from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from . import services
from .errors import LoginError
from .middleware import client_ip
from .models import AuditEvent, Region, User


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in through services.sign_in: the same throttle and the same audit as /login/."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = services.sign_in(username=username, password=password,
                                                   ip=client_ip(self.request), request=self.request,
                                                   staff_only=True)
            except LoginError as exc:
                raise ValidationError(exc.message, code=exc.code) from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = ThrottledAdminAuthenticationForm


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
