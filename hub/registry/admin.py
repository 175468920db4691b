from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from hub.readonly import ReadOnlyAdmin
from hub.registry.models import (
    CSD,
    CSDKey,
    CSDLink,
    CSDToken,
    Holding,
    Participant,
    SecuritiesAccount,
    Security,
)
from hub.registry.selectors import accounts_of_active_links
from hub.registry.services import csd_key_change, csd_key_check, csd_link_accounts_lock


class CSDKeyInline(admin.TabularInline):
    """The CSD's keys, oldest first: shown, never written here (the form's new key field changes them)."""

    model = CSDKey
    fields = ["key_id", "public_key", "in_force_from", "retired_at", "cause"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class CSDForm(forms.ModelForm):
    """The key in force is shown, not edited: a new key is given in its own field and goes through
    ``csd_key_change``, which retires the old one and keeps it (typing over the field would have made
    every endorsement the CSD made with its old key stop verifying)."""

    new_signing_public_key = forms.CharField(
        required=False,
        max_length=64,
        label="New signing public key",
        help_text="The CSD's new Ed25519 public key (base64), when it changes its key: the key in force is "
        "retired and kept, so what the CSD endorsed with it still verifies. Blank keeps the key in force",
    )

    class Meta:
        model = CSD
        fields = [
            "code",
            "name",
            "country",
            "bic",
            "timezone",
            "calendar",
            "settlement_cutoff",
            "message_standard",
            "adapter",
            "adapter_config",
            "status",
            "is_demo",
        ]

    def clean_new_signing_public_key(self) -> str:
        public_key = self.cleaned_data["new_signing_public_key"].strip()
        if public_key:
            try:
                csd_key_check(csd=self.instance, public_key=public_key)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["signing_public_key"]) from None
        return public_key


@admin.register(CSD)
class CSDAdmin(admin.ModelAdmin):
    form = CSDForm
    readonly_fields = ["signing_public_key"]
    inlines = [CSDKeyInline]
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

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        public_key = form.cleaned_data.get("new_signing_public_key")
        if public_key:
            csd_key_change(csd=obj, public_key=public_key, cause=f"admin, by {request.user.get_username()}")


@admin.register(CSDKey)
class CSDKeyAdmin(ReadOnlyAdmin):
    """Every key a CSD has had: written only by ``csd_key_change`` (the CSD page's new key field)."""

    list_display = ["csd", "key_id", "in_force_from", "retired_at", "cause"]
    list_filter = ["csd"]
    search_fields = ["csd__code", "key_id"]
    list_select_related = ["csd"]


@admin.register(CSDToken)
class CSDTokenAdmin(ReadOnlyAdmin):
    """The CSDs' keys of the CSD ledger API, live and revoked: issued and revoked only by ``issue_csd_token``
    and ``revoke_csd_token`` (the key itself is never stored, so there is nothing here to copy)."""

    list_display = ["csd", "key_prefix", "label", "created_at", "revoked_at"]
    list_filter = ["csd"]
    search_fields = ["csd__code", "key_prefix", "label"]
    list_select_related = ["csd"]
    fields = list_display


class CSDLinkForm(forms.ModelForm):
    class Meta:
        model = CSDLink
        fields = ["issuer_csd", "investor_csd", "is_active"]

    def clean(self):
        # the admin validates and saves in one transaction: the link's accounts are held from here, before
        # the model's validation looks for them, so that the database's check at commit (migration 0011)
        # finds what validation found, and a link without them gets this form's error, not a server error
        if self.cleaned_data.get("is_active"):
            csd_link_accounts_lock(link=self.instance)
        return super().clean()


@admin.register(CSDLink)
class CSDLinkAdmin(admin.ModelAdmin):
    form = CSDLinkForm
    list_display = ["investor_csd", "issuer_csd", "is_active"]
    list_filter = ["issuer_csd", "investor_csd", "is_active"]

    def get_changeform_initial_data(self, request) -> dict:
        # a new link has no accounts yet, so it cannot be saved active: the form starts with it inactive
        return {"is_active": False, **super().get_changeform_initial_data(request)}


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
