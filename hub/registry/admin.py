from django import forms
from django.contrib import admin

from hub.readonly import ReadOnlyAdmin
from hub.registry.models import CSD, CSDLink, Holding, Participant, SecuritiesAccount, Security
from hub.registry.selectors import accounts_of_active_links
from hub.registry.services import csd_link_accounts_lock


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


class CSDLinkForm(forms.ModelForm):
    class Meta:
        model = CSDLink
        fields = ["issuer_csd", "investor_csd", "is_active"]

    def clean(self):
        # the admin validates and saves in one transaction: the link's accounts are held from here, before
        # the model's validation looks for them, so that the database's check at commit (migration 0010)
        # finds what validation found, and a link without them gets this form's error, not a server error
        if self.cleaned_data.get("is_active"):
            csd_link_accounts_lock(link=self.instance)
        return super().clean()


@admin.register(CSDLink)
class CSDLinkAdmin(admin.ModelAdmin):
    form = CSDLinkForm
    list_display = ["investor_csd", "issuer_csd", "is_active"]
    list_filter = ["issuer_csd", "investor_csd", "is_active"]


class ParticipantForm(forms.ModelForm):
    """The webhook secret is written here, never shown: blank keeps the one there is."""

    webhook_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=f"{Participant._meta.get_field('webhook_secret').help_text}. Not shown: leave blank to keep it",
    )

    # a webhook typed without its scheme is taken as https (webhooks are delivered over TLS in production),
    # as Django 6 will do for every URL field
    webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=Participant._meta.get_field("webhook_url").max_length,
        help_text=Participant._meta.get_field("webhook_url").help_text,
    )

    class Meta:
        model = Participant
        fields = [
            "bic",
            "lei",
            "name",
            "home_csd",
            "outbound_format",
            "webhook_url",
            "webhook_secret",
            "is_demo",
        ]

    def clean_webhook_secret(self) -> str:
        return self.cleaned_data["webhook_secret"] or self.instance.webhook_secret


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    form = ParticipantForm
    list_display = ["bic", "name", "lei", "home_csd", "outbound_format", "is_demo"]
    list_filter = ["home_csd", "outbound_format", "is_demo"]
    search_fields = ["bic", "lei", "name"]

    def get_fields(self, request, obj=None):
        # a user who may only view sees every field as text, the secret too: it is left out for them
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            fields = [field for field in fields if field != "webhook_secret"]
        return fields


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

    def get_deleted_objects(self, objs, request):
        # an active link's accounts are listed as what stops the deletion, as Django lists protected rows,
        # rather than left to the database's trigger (a server error)
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        held = [
            f"{account}: the {account.kind.lower()} account of the active link '{account.link}'; "
            "deactivate the link first"
            for account in accounts_of_active_links(accounts=objs)
        ]
        return deleted, model_count, perms_needed, [*protected, *held]


@admin.register(Holding)
class HoldingAdmin(ReadOnlyAdmin):
    """Positions are read here, never written: they come from the seed and the CSDs' statements, and one
    typed in by hand would break the book invariants (a participant's holdings against its CSD's omnibus,
    the issued total) with no posting behind it."""

    list_display = ["account", "security", "quantity", "as_of"]
    list_filter = ["account__csd", "account__kind", "security"]
    search_fields = ["account__number", "security__isin"]
    list_select_related = ["account__csd", "security"]
