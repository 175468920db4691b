from django.contrib import admin

from hub.registry.models import CSD, CSDLink, Holding, Participant, SecuritiesAccount, Security


@admin.register(CSD)
class CSDAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "bic",
        "country",
        "timezone",
        "message_standard",
        "adapter",
        "status",
        "is_demo",
    ]
    list_filter = ["message_standard", "status", "is_demo"]
    search_fields = ["code", "name", "bic"]


@admin.register(CSDLink)
class CSDLinkAdmin(admin.ModelAdmin):
    list_display = ["investor_csd", "issuer_csd", "is_active"]
    list_filter = ["issuer_csd", "investor_csd", "is_active"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["bic", "name", "lei", "home_csd", "outbound_format", "is_demo"]
    list_filter = ["home_csd", "outbound_format", "is_demo"]
    search_fields = ["bic", "lei", "name"]


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    list_display = ["isin", "description", "issuer_csd", "denomination", "currency"]
    list_filter = ["issuer_csd", "denomination"]
    search_fields = ["isin", "description"]


@admin.register(SecuritiesAccount)
class SecuritiesAccountAdmin(admin.ModelAdmin):
    list_display = ["number", "csd", "kind", "participant", "link", "is_blocked"]
    list_filter = ["csd", "kind", "is_blocked"]
    search_fields = ["number", "participant__bic"]
    list_select_related = ["csd", "participant", "link__issuer_csd", "link__investor_csd"]


@admin.register(Holding)
class HoldingAdmin(admin.ModelAdmin):
    list_display = ["account", "security", "quantity", "as_of"]
    list_filter = ["account__csd", "account__kind", "security"]
    search_fields = ["account__number", "security__isin"]
    list_select_related = ["account__csd", "security"]
