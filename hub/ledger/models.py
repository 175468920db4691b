"""Entries, blocks, endorsements and EVM anchors of the shared ledger.

Entries and blocks are append-only, and the database enforces it (triggers from ``migrations/0002``): an
entry may be updated once, from unsealed to sealed in a block, and never after; blocks and endorsements
are never updated; none of the three is ever deleted. Corrections are new entries.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

HEX64 = r"^[0-9a-f]{64}$"
KEY_ID = r"^[0-9a-f]{16}$"


class EntryKind(models.TextChoices):
    COMMIT = "COMMIT", "Commit decision of a transfer"
    SETTLED = "SETTLED", "Transfer settled"
    ABORT = "ABORT", "Transfer aborted"
    HUB_KEY = "HUB_KEY", "Hub signing key announced (first key or rotation)"


class Block(models.Model):
    height = models.PositiveBigIntegerField(unique=True)
    version = models.PositiveSmallIntegerField(default=1)
    previous_hash = models.CharField(max_length=64)
    merkle_root = models.CharField(max_length=64)
    entry_count = models.PositiveIntegerField()
    sealed_at = models.DateTimeField()
    hub_key_id = models.CharField(max_length=16)
    csds = models.CharField(max_length=2000, blank=True, help_text="Codes of the CSDs involved, sorted")
    block_hash = models.CharField(max_length=64, unique=True)
    hub_signature = models.CharField(max_length=100, help_text="Base64 Ed25519 signature of the header")

    class Meta:
        ordering = ["height"]
        constraints = [
            models.CheckConstraint(condition=Q(height__gte=1), name="ledger_block_height_positive"),
            models.CheckConstraint(condition=Q(entry_count__gte=1), name="ledger_block_not_empty"),
            models.CheckConstraint(condition=Q(block_hash__regex=HEX64), name="ledger_block_hash_hex"),
            models.CheckConstraint(condition=Q(merkle_root__regex=HEX64), name="ledger_block_root_hex"),
            models.CheckConstraint(condition=Q(hub_key_id__regex=KEY_ID), name="ledger_block_key_id"),
        ]

    def __str__(self) -> str:
        return f"block {self.height}"

    @property
    def csd_codes(self) -> list[str]:
        return self.csds.split(",") if self.csds else []


class Entry(models.Model):
    Kind = EntryKind

    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    reference = models.CharField(max_length=100, help_text="What the entry is about, e.g. the transfer id")
    csds = models.CharField(max_length=2000, blank=True, help_text="Codes of the CSDs involved, sorted")
    record = models.TextField(help_text="The canonical record (JSON) whose hash the entry carries")
    record_hash = models.CharField(max_length=64)
    appended_at = models.DateTimeField()
    block = models.ForeignKey(Block, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")

    class Meta:
        verbose_name_plural = "entries"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(block__isnull=True), name="ledger_entry_pending"),
            models.Index(fields=["kind", "reference"], name="ledger_entry_reference"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="ledger_entry_kind"),
            models.CheckConstraint(
                condition=Q(record_hash__regex=HEX64), name="ledger_entry_record_hash_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"

    @property
    def csd_codes(self) -> list[str]:
        return self.csds.split(",") if self.csds else []


class Endorsement(models.Model):
    """A CSD's signature of a block header: the CSD agrees the block is what the hub says it is."""

    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="endorsements")
    csd = models.CharField(max_length=16)
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=100)
    # when the hub stored it, by the database's clock (``hub.clock``), under the lock that orders it against
    # a change of the CSD's key: the key it was made with must have been in force then
    endorsed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["block_id", "csd"]  # the column: ordering by the relation would join blocks
        constraints = [
            models.UniqueConstraint(fields=["block", "csd"], name="ledger_endorsement_once_per_csd"),
            models.CheckConstraint(condition=Q(key_id__regex=KEY_ID), name="ledger_endorsement_key_id"),
        ]

    def __str__(self) -> str:
        return f"{self.csd} endorses {self.block}"


class AnchorStatus(models.TextChoices):
    SENT = "SENT", "Transaction signed and recorded, not (or no longer) on the chain as far as the hub knows"
    MINED = "MINED", "Root read back from the contract, its chain block not yet LEDGER_EVM_CONFIRMATIONS deep"
    CONFIRMED = "CONFIRMED", "Root read back from the contract, its chain block LEDGER_EVM_CONFIRMATIONS deep"
    FAILED = (
        "FAILED",
        "Reverted: not sent again until an operator retries (manage.py ledger_anchor --retry-failed)",
    )


class EvmAnchor(models.Model):
    """One block's root anchored on an EVM chain. The signed transaction and its nonce are written here
    before it is sent, so a lost response is settled by reading the chain, never by sending anew."""

    Status = AnchorStatus

    block = models.OneToOneField(Block, on_delete=models.PROTECT, related_name="evm_anchor")
    chain_id = models.PositiveBigIntegerField()
    contract = models.CharField(max_length=42)
    sender = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    raw_tx = models.TextField(help_text="The signed transaction (hex), to broadcast again unchanged")
    gas_price = models.PositiveBigIntegerField(null=True, blank=True, help_text="Wei per gas it offers")
    status = models.CharField(max_length=10, choices=AnchorStatus.choices, default=AnchorStatus.SENT)
    receipt_block = models.PositiveBigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True, help_text="When the transaction recorded was signed")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True, help_text="Why the anchor failed (status FAILED)")

    class Meta:
        ordering = ["block_id"]
        # every anchoring run reads the anchors mined in the last chain blocks again
        indexes = [models.Index(fields=["receipt_block"], name="ledger_anchor_receipt_block")]
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "sender", "nonce"], name="ledger_anchor_nonce_once"),
            models.CheckConstraint(condition=Q(status__in=AnchorStatus.values), name="ledger_anchor_status"),
        ]

    def __str__(self) -> str:
        return f"{self.block} on chain {self.chain_id} ({self.status})"


class AlarmKind(models.TextChoices):
    ENDORSED_OTHERWISE = "OTHERWISE", "A CSD endorsed other blocks at the hub's heights"
    SEALING_STOPPED = "SEALING", "The hub seals no new blocks"
    ANCHOR_CONFLICT = "ANCHOR", "The anchor contract holds other roots than the hub's blocks"


class Alarm(models.Model):
    """A condition of the ledger that waits on an operator, kept while it lasts: the sealing task raises
    (or refreshes) it each run that meets it and removes it at the first run that does not. ``/health/``
    reports every one. Not part of the ledger's record: rows are updated and deleted."""

    Kind = AlarmKind

    kind = models.CharField(max_length=10, choices=AlarmKind.choices)
    csd = models.CharField(max_length=16, blank=True, help_text="The CSD concerned; blank for the hub's own")
    first_height = models.PositiveBigIntegerField(null=True, blank=True, help_text="Lowest height concerned")
    last_height = models.PositiveBigIntegerField(null=True, blank=True, help_text="Highest height concerned")
    message = models.TextField(help_text="What is wrong and what to do, for operators")
    raised_at = models.DateTimeField(help_text="When a run first met it")
    seen_at = models.DateTimeField(help_text="When a run last met it")

    class Meta:
        ordering = ["kind", "csd"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "csd"], name="ledger_alarm_once"),
            models.CheckConstraint(condition=Q(kind__in=AlarmKind.values), name="ledger_alarm_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}{f' ({self.csd})' if self.csd else ''}"
