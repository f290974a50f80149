"""Platform operators only (superusers): programmes and per-jurisdiction settings are edited here; rules,
rolls and lines are read-only (the services are their only writers, with the audit log)."""

from django.contrib import admin

from .models import BenefitSettings, Programme, Roll, RollLine, RuleVersion


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "pays_to_bank", "position")


@admin.register(BenefitSettings)
class BenefitSettingsAdmin(admin.ModelAdmin):
    list_display = ("jurisdiction", "pay_month_of_death", "lookback_months", "absence_days", "street_review",
                    "background_threshold")
    raw_id_fields = ("jurisdiction",)


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnly):
    list_display = ("programme", "jurisdiction", "version", "status", "valid_from", "valid_until", "adopted_at")
    list_filter = ("programme", "status")


@admin.register(Roll)
class RollAdmin(ReadOnly):
    list_display = ("programme", "jurisdiction", "month", "status", "line_count", "total_amount", "open_checks")
    list_filter = ("programme", "status")


@admin.register(RollLine)
class RollLineAdmin(ReadOnly):
    list_display = ("roll", "elder", "for_month", "kind", "amount", "status")
    list_filter = ("kind", "status")
    raw_id_fields = ("roll", "elder", "rule")
