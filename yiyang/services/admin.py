"""Platform operators only (superusers): the catalogue is edited here until its pages exist; prices, offers,
rules and orders are read-only (the services write them, with the audit log)."""

from django.contrib import admin

from .models import (
    AllowanceEntry,
    CaregiverShift,
    FollowUpCall,
    Order,
    ProviderOffer,
    RecurringOrder,
    ServiceItem,
    ServicePrice,
    SubsidyRule,
)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "unit", "standard_minutes", "required_skill", "is_active")
    list_filter = ("category", "is_active")


@admin.register(ServicePrice)
class ServicePriceAdmin(ReadOnly):
    list_display = ("item", "jurisdiction", "valid_from", "valid_until", "market_price", "inclusive_price")


@admin.register(ProviderOffer)
class ProviderOfferAdmin(ReadOnly):
    list_display = ("provider", "item", "price", "valid_from", "valid_until")


@admin.register(SubsidyRule)
class SubsidyRuleAdmin(ReadOnly):
    list_display = ("jurisdiction", "valid_from", "valid_until", "note")


@admin.register(Order)
class OrderAdmin(ReadOnly):
    list_display = ("pk", "elder", "provider", "item", "scheduled_start", "status", "total", "subsidy", "allowance",
                    "copay")
    list_filter = ("status",)


@admin.register(CaregiverShift)
class CaregiverShiftAdmin(ReadOnly):
    list_display = ("caregiver", "day", "start", "end", "note")
    list_filter = ("day",)


@admin.register(AllowanceEntry)
class AllowanceEntryAdmin(ReadOnly):
    list_display = ("elder", "month", "kind", "amount", "order", "roll_line", "created_at")
    list_filter = ("kind", "month")


@admin.register(FollowUpCall)
class FollowUpCallAdmin(ReadOnly):
    list_display = ("order", "month", "called_at", "outcome", "satisfaction")
    list_filter = ("outcome", "month")


@admin.register(RecurringOrder)
class RecurringOrderAdmin(ReadOnly):
    list_display = ("elder", "provider", "item", "weekdays", "time", "starts_on", "ends_on", "active")
    list_filter = ("active",)
