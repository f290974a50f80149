"""Platform operators only (superusers): the catalogue is edited here until its pages exist; prices, offers,
rules and orders are read-only (the services write them, with the audit log)."""

from django.contrib import admin

from .models import Order, ProviderOffer, ServiceItem, ServicePrice, SubsidyRule


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
    list_display = ("pk", "elder", "provider", "item", "scheduled_start", "status", "total", "subsidy", "copay")
    list_filter = ("status",)
