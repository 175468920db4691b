"""Reference data: CSDs, their links, participants, securities, accounts and the positions the hub knows.

Every rule that matters is checked twice: by model validation (``full_clean``, with a message a person
can act on) and by the database (CHECK and UNIQUE constraints, and triggers for rules that span two
tables, see ``migrations/0002``, ``0005``, ``0008``, ``0009`` and ``0011``), so a row written around the
ORM is refused too.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Left

from hub.registry import validators as v
from hub.registry.dbfunctions import IsinIsValid, TimezoneIsValid
from iso20022.mt import account_fits

BIC_PATTERN = r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$"
LEI_PATTERN = r"^[A-Z0-9]{18}[0-9]{2}$"
QUANTITY = {"max_digits": 24, "decimal_places": 6}
WEBHOOK_SECRET_MIN_LENGTH = 16


def bic_forms(bic: str) -> dict[str, None]:
    """The forms the registry may hold a BIC in, the given one first: as given, its 8 characters, and
    with its primary office's XXX (``DEMAZAJJ``, ``DEMAZAJJXXX``)."""
    short = bic8(bic)
    return dict.fromkeys((bic, short, *((short + "XXX",) if len(short) == 8 else ())))


def bic8(bic: str) -> str:
    """A BIC without its branch when the branch is the primary office (XXX)."""
    return bic[:8] if len(bic) == 8 or bic.endswith("XXX") else bic


def bic_without_xxx():
    """A BIC as one institution: DEMAZAJJXXX (its primary office) is DEMAZAJJ, as intake reads a BIC in a
    message; a branch (DEMAZAJJ123) is its own. An 8-character BIC ending in XXX is left as it is."""
    return Case(When(bic__endswith="XXX", then=Left("bic", 8)), default=F("bic"))


def bic_unique_without_xxx(name: str, what: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        bic_without_xxx(),
        name=name,
        violation_error_message=f"a {what} with this BIC, with or without its primary office's XXX, already exists",
    )


class MessageStandard(models.TextChoices):
    MX = "MX", "ISO 20022 (MX)"
    MT = "MT", "ISO 15022 (MT)"


class CSDStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class Denomination(models.TextChoices):
    UNITS = "UNIT", "Units (shares)"
    FACE_AMOUNT = "FAMT", "Face amount (bonds)"


class CSD(models.Model):
    Status = CSDStatus

    code = models.CharField(max_length=16, unique=True, help_text="Short upper-case code, e.g. NSD, STRATE.")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, validators=[v.validate_country])
    bic = models.CharField("BIC", max_length=11, unique=True, validators=[v.validate_bic])
    timezone = models.CharField(max_length=64, validators=[v.validate_timezone], help_text="IANA time zone")
    calendar = models.CharField(
        max_length=8,
        validators=[v.validate_calendar],
        help_text="Business-day calendar (holidays country code)",
    )
    settlement_cutoff = models.TimeField(help_text="Last time of day, in the CSD's time zone, for settlement")
    message_standard = models.CharField(max_length=2, choices=MessageStandard.choices)
    adapter = models.CharField(max_length=64, help_text="Name of the CSD adapter in csd_adapters' registry")
    adapter_config = models.JSONField(default=dict, blank=True)
    signing_public_key = models.CharField(
        max_length=64,
        blank=True,
        validators=[v.validate_ed25519_public_key],
        help_text="The CSD's Ed25519 public key (base64) for endorsements of ledger blocks: the one in force, "
        "changed only through services.csd_key_change, which keeps every earlier key (CSDKey)",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    is_demo = models.BooleanField(default=False, help_text="Identifiers invented for the demo, not real ones")

    class Meta:
        verbose_name = "CSD"
        verbose_name_plural = "CSDs"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[A-Z][A-Z0-9_]{1,15}$"), name="csd_code_format"
            ),
            models.CheckConstraint(condition=Q(bic__regex=BIC_PATTERN), name="csd_bic_format"),
            bic_unique_without_xxx("csd_bic_unique_without_xxx", "CSD"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="csd_country_format"),
            models.CheckConstraint(condition=TimezoneIsValid(F("timezone")), name="csd_timezone_iana"),
            models.CheckConstraint(
                condition=Q(message_standard__in=MessageStandard.values), name="csd_standard"
            ),
            models.CheckConstraint(condition=Q(status__in=CSDStatus.values), name="csd_status"),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        # checked here rather than when a transfer first needs the CSD's adapter
        problems = v.adapter_config_problems(self.adapter_config)
        if problems:
            raise ValidationError({"adapter_config": problems})


class CSDKey(models.Model):
    """One Ed25519 key a CSD has endorsed ledger blocks with, and when it was in force: from
    ``in_force_from`` until ``retired_at`` (still in force while that is empty). The record of a CSD's keys
    is append-only, so an endorsement a CSD made years ago is still checked with the key it was made with:
    rows are never deleted, and the one change a row takes is its retirement, once. ``CSD.signing_public_key``
    repeats the key in force; ``services.csd_key_change`` writes both (migration 0012's triggers refuse any
    other change of either)."""

    csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="keys")
    key_id = models.CharField(max_length=16, help_text="First 16 hex digits of the SHA-256 of the raw key")
    public_key = models.CharField(max_length=64, validators=[v.validate_ed25519_public_key])
    in_force_from = models.DateTimeField(help_text="When endorsements with this key started to count")
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next key (or none) took over"
    )
    cause = models.CharField(max_length=200, help_text="Who changed the key and why")

    class Meta:
        verbose_name = "CSD key"
        ordering = ["csd_id", "in_force_from"]
        constraints = [
            # a key once retired may have been compromised: it never comes back into force
            models.UniqueConstraint(fields=["csd", "key_id"], name="csdkey_once_per_csd"),
            models.UniqueConstraint(
                fields=["csd"], condition=Q(retired_at__isnull=True), name="csdkey_one_in_force"
            ),
            models.CheckConstraint(condition=Q(key_id__regex=r"^[0-9a-f]{16}$"), name="csdkey_key_id"),
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(retired_at__gte=F("in_force_from")),
                name="csdkey_retired_after_in_force",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.csd_id and self.csd} key {self.key_id}"


class CSDLink(models.Model):
    """Investor CSD B holds securities of issuer CSD A in an omnibus account at A, mirrored in B's books."""

    issuer_csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="links_as_issuer")
    investor_csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="links_as_investor")
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "CSD link"
        ordering = ["issuer_csd__code", "investor_csd__code"]
        constraints = [
            models.UniqueConstraint(fields=["issuer_csd", "investor_csd"], name="csdlink_unique_pair"),
            models.CheckConstraint(condition=~Q(issuer_csd=F("investor_csd")), name="csdlink_two_csds"),
        ]

    def __str__(self) -> str:
        return f"{self.investor_csd_id and self.investor_csd} holds through {self.issuer_csd_id and self.issuer_csd}"

    def clean(self) -> None:
        if not (self.issuer_csd_id and self.investor_csd_id):
            return
        # intake accepts instructions across an active link, and every transfer through it posts to its
        # omnibus and mirror accounts: without them each one would be accepted, matched, then fail (migration
        # 0011's trigger refuses it too)
        kinds = set(self.accounts.values_list("kind", flat=True)) if self.pk else set()
        missing = [
            f"{kind.lower()} account at {csd}"
            for kind, csd in ((AccountKind.OMNIBUS, self.issuer_csd), (AccountKind.MIRROR, self.investor_csd))
            if kind not in kinds
        ]
        if self.is_active and missing:
            raise ValidationError(
                {
                    "is_active": f"an active link needs its {' and '.join(missing)}: save the link inactive, "
                    "add its accounts, then activate it"
                }
            )
        # a link's omnibus account is kept at its issuer CSD and its mirror at its investor CSD: a link that
        # has them cannot change its CSDs (migration 0005's trigger refuses it too)
        if self.pk is None:
            return
        misplaced = self.accounts.filter(
            Q(kind=AccountKind.OMNIBUS) & ~Q(csd_id=self.issuer_csd_id)
            | Q(kind=AccountKind.MIRROR) & ~Q(csd_id=self.investor_csd_id)
        ).select_related("csd")
        if misplaced:
            names = ", ".join(f"{a.kind.lower()} account {a}" for a in misplaced)
            raise ValidationError(
                f"this link has its {names}: a link with accounts keeps its issuer and investor CSDs; "
                "create a new link for other CSDs"
            )


class Participant(models.Model):
    bic = models.CharField("BIC", max_length=11, unique=True, validators=[v.validate_bic])
    lei = models.CharField("LEI", max_length=20, blank=True, validators=[v.validate_lei])
    name = models.CharField(max_length=200)
    home_csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="participants")
    outbound_format = models.CharField(
        max_length=2,
        choices=MessageStandard.choices,
        default=MessageStandard.MX,
        help_text="Format of the status messages and confirmations the hub sends this participant",
    )
    webhook_url = models.URLField(
        blank=True, help_text="Where the hub POSTs each outbound message, signed with HMAC-SHA256 (optional)"
    )
    webhook_secret = models.CharField(
        max_length=64,
        blank=True,
        help_text=f"Shared secret of the webhook HMAC: at least {WEBHOOK_SECRET_MIN_LENGTH} characters "
        "when there is a webhook URL",
    )
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["bic"]
        constraints = [
            models.CheckConstraint(condition=Q(bic__regex=BIC_PATTERN), name="participant_bic_format"),
            bic_unique_without_xxx("participant_bic_unique_without_xxx", "participant"),
            models.CheckConstraint(
                condition=Q(lei="") | Q(lei__regex=LEI_PATTERN), name="participant_lei_format"
            ),
            models.CheckConstraint(
                condition=Q(outbound_format__in=MessageStandard.values), name="participant_outbound_format"
            ),
        ]

    def __str__(self) -> str:
        return self.bic

    def clean(self) -> None:
        errors = {}
        # an HMAC under an empty or short key is a signature anyone can forge (delivery refuses it too)
        if self.webhook_url and len(self.webhook_secret) < WEBHOOK_SECRET_MIN_LENGTH:
            errors["webhook_secret"] = (
                f"a webhook URL needs a secret of at least {WEBHOOK_SECRET_MIN_LENGTH} characters"
            )
        # its own and client accounts are kept at its home CSD (migration 0005's trigger refuses it too)
        if self.pk is not None and self.home_csd_id:
            elsewhere = sorted(
                set(self.accounts.exclude(csd_id=self.home_csd_id).values_list("csd__code", flat=True))
            )
            if elsewhere:
                errors["home_csd"] = (
                    f"{self} has accounts at {', '.join(elsewhere)}, and a participant's accounts are kept at "
                    "its home CSD: it cannot move while it has them"
                )
        if errors:
            raise ValidationError(errors)


class ParticipantToken(models.Model):
    """An API credential of a participant. Only a SHA-256 hash of the key is stored; the key is shown once."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, to tell keys apart")
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "created_at"]

    def __str__(self) -> str:
        return f"{self.participant_id and self.participant} {self.key_prefix}…"


class CSDToken(models.Model):
    """An API credential of a CSD for the CSD ledger API (``/api/v1/ledger/``), kept apart from participants'
    tokens: its keys start ``csd_`` (participants' ``hub_``), and each API takes its own kind only. Only a
    SHA-256 hash of the key is stored; the key is shown once."""

    csd = models.ForeignKey(CSD, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, help_text="First characters of the key, to tell keys apart")
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CSD token"
        ordering = ["csd", "created_at"]

    def __str__(self) -> str:
        return f"{self.csd_id and self.csd} {self.key_prefix}…"


class Security(models.Model):
    Denomination = Denomination

    isin = models.CharField("ISIN", max_length=12, unique=True, validators=[v.validate_isin])
    issuer_csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="issued_securities")
    description = models.CharField(max_length=140)
    denomination = models.CharField(max_length=4, choices=Denomination.choices, default=Denomination.UNITS)
    currency = models.CharField(
        max_length=3, blank=True, validators=[v.validate_currency], help_text="Currency of the face amount"
    )

    class Meta:
        verbose_name_plural = "securities"
        ordering = ["isin"]
        constraints = [
            models.CheckConstraint(condition=IsinIsValid(F("isin")), name="security_isin_check_digit"),
            models.CheckConstraint(
                condition=Q(denomination__in=Denomination.values), name="security_denomination"
            ),
            models.CheckConstraint(
                condition=(Q(denomination="FAMT") & Q(currency__regex=r"^[A-Z]{3}$"))
                | (Q(denomination="UNIT") & Q(currency="")),
                name="security_currency_iff_face_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.isin

    def clean(self) -> None:
        # its issuance account and the omnibus accounts holding it are at its issuer CSD, and every
        # investor CSD holds it through a link to that CSD (migration 0008's trigger refuses it too)
        if self.pk is None or not self.issuer_csd_id:
            return
        issuer_before = type(self).objects.filter(pk=self.pk).values_list("issuer_csd_id", flat=True).first()
        if issuer_before not in (None, self.issuer_csd_id) and self.holdings.exists():
            raise ValidationError(
                {
                    "issuer_csd": f"{self} has positions, booked through its issuer CSD: it cannot move to "
                    "another issuer CSD while it has them"
                }
            )


class AccountKind(models.TextChoices):
    OWN = "OWN", "Participant own account"
    CLIENT = "CLIENT", "Participant client account"
    OMNIBUS = "OMNIBUS", "Omnibus account of an investor CSD (at the issuer CSD)"
    MIRROR = "MIRROR", "Mirror account (at the investor CSD)"
    ISSUANCE = "ISSUANCE", "Issuance account (at the issuer CSD)"


PARTICIPANT_KINDS = (AccountKind.OWN, AccountKind.CLIENT)
LINK_KINDS = (AccountKind.OMNIBUS, AccountKind.MIRROR)
# Contra accounts stand for securities held elsewhere; they may go negative, every other account never.
CONTRA_KINDS = (AccountKind.ISSUANCE, AccountKind.MIRROR)


class SecuritiesAccount(models.Model):
    csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="accounts")
    number = models.CharField(max_length=35, help_text="Safekeeping account number in the CSD's books")
    kind = models.CharField(max_length=8, choices=AccountKind.choices)
    participant = models.ForeignKey(
        Participant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text="Owner of an own or client account; must be a participant of this CSD",
    )
    link = models.ForeignKey(
        CSDLink,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
        help_text="For an omnibus account (kept at the issuer CSD) or a mirror account (at the investor CSD)",
    )
    is_blocked = models.BooleanField(default=False)

    class Meta:
        ordering = ["csd__code", "number"]
        constraints = [
            models.UniqueConstraint(fields=["csd", "number"], name="account_unique_number_per_csd"),
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="account_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=PARTICIPANT_KINDS, participant__isnull=False)
                | (~Q(kind__in=PARTICIPANT_KINDS) & Q(participant__isnull=True)),
                name="account_participant_iff_participant_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LINK_KINDS, link__isnull=False)
                | (~Q(kind__in=LINK_KINDS) & Q(link__isnull=True)),
                name="account_link_iff_omnibus_or_mirror",
            ),
            models.UniqueConstraint(
                fields=["link", "kind"],
                condition=Q(link__isnull=False),
                name="account_one_omnibus_and_mirror_per_link",
            ),
            models.UniqueConstraint(
                fields=["csd"], condition=Q(kind=AccountKind.ISSUANCE), name="account_one_issuance_per_csd"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.csd_id and self.csd}:{self.number}"

    @property
    def is_contra(self) -> bool:
        return self.kind in CONTRA_KINDS

    def clean(self) -> None:
        errors = {}
        if self.participant_id and self.csd_id and self.participant.home_csd_id != self.csd_id:
            errors["participant"] = (
                f"{self.participant} is a participant of {self.participant.home_csd}, not of {self.csd}"
            )
        if self.link_id and self.csd_id:
            link = self.link
            if self.kind == AccountKind.OMNIBUS and link.issuer_csd_id != self.csd_id:
                errors["link"] = (
                    f"an omnibus account for '{link}' is kept at {link.issuer_csd}, not at {self.csd}"
                )
            if self.kind == AccountKind.MIRROR and link.investor_csd_id != self.csd_id:
                errors["link"] = (
                    f"a mirror account for '{link}' is kept at {link.investor_csd}, not at {self.csd}"
                )
        elif self.kind in LINK_KINDS:
            errors["link"] = (
                f"an {self.get_kind_display().lower()} needs the CSD link it serves; "
                "create the link between the two CSDs first"
            )
        if self.csd_id and self.csd.message_standard == MessageStandard.MT and not account_fits(self.number):
            # every leg at the CSD names its accounts in MT fields (:97A::SAFE//)
            errors["number"] = (
                f"{self.csd} speaks ISO 15022: an account number there is at most 35 characters of the SWIFT "
                "x character set (letters, digits, / - ? : ( ) . , ' + and space)"
            )
        if self.kind in PARTICIPANT_KINDS and not self.participant_id:
            errors["participant"] = "an own or client account needs its participant"
        # every transfer through an active link posts to its omnibus and mirror accounts: they stay where they
        # are while it is active (migration 0009's trigger refuses it too)
        stored = (
            type(self)
            .objects.filter(pk=self.pk, link__is_active=True)
            .select_related("csd", "link__issuer_csd", "link__investor_csd")
            .first()
            if self.pk is not None
            else None
        )
        if stored is not None:
            for field in ("csd", "number", "kind", "link"):
                name = self._meta.get_field(field).attname
                if getattr(self, name) != getattr(stored, name):
                    errors.setdefault(
                        field,
                        f"{stored} is the {stored.kind.lower()} account of the active link '{stored.link}': "
                        f"its {field} cannot change while the link is active; deactivate the link first",
                    )
        if errors:
            raise ValidationError(errors)


class Holding(models.Model):
    """The position of one security in one account as the hub knows it (opening position or last statement)."""

    account = models.ForeignKey(SecuritiesAccount, on_delete=models.PROTECT, related_name="holdings")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="holdings")
    quantity = models.DecimalField(**QUANTITY)
    as_of = models.DateTimeField()

    class Meta:
        ordering = ["account", "security"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "security"], name="holding_unique_per_account_security"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.security} {self.quantity}"

    def clean(self) -> None:
        if self.account_id and self.quantity is not None and self.quantity < 0 and not self.account.is_contra:
            raise ValidationError(
                {
                    "quantity": f"{self.account} is a {self.account.get_kind_display().lower()}; it cannot go negative"
                }
            )
