"""Instructions as participants sent them, transfers made of two matched instructions, and their timelines."""

from django.db import models
from django.db.models import F, Q

from hub.messaging.models import InboundMessage
from hub.registry.models import CSD, QUANTITY, Participant, SecuritiesAccount, Security
from hub.settlement.statuses import INSTRUCTION_OPEN, InstructionStatus, TransferStatus


class Side(models.TextChoices):
    DELIVER = "DELI", "Deliver"
    RECEIVE = "RECE", "Receive"


class Instruction(models.Model):
    """One side's settlement instruction (free of payment), as accepted from its participant."""

    # looked up by the leading column of ``instruction_unique_reference``: no index of its own
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="instructions", db_index=False
    )
    transaction_id = models.CharField(max_length=35, help_text="The account owner's reference (TxId / SEME)")
    business_message_id = models.CharField(max_length=35, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    # Foreign keys that no query looks instructions up by carry no index of their own (db_index=False):
    # each index is written again on every status move of the instruction.
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = models.DecimalField(**QUANTITY)
    trade_date = models.DateField()
    intended_settlement_date = models.DateField()
    account = models.ForeignKey(
        SecuritiesAccount, on_delete=models.PROTECT, related_name="instructions", db_index=False
    )
    csd = models.ForeignKey(
        CSD, on_delete=models.PROTECT, related_name="+", help_text="The participant's CSD", db_index=False
    )
    counterparty_bic = models.CharField(max_length=11)
    counterparty_csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="+", db_index=False)
    counterparty_account = models.CharField(max_length=35, blank=True)
    common_trade_reference = models.CharField(max_length=52, blank=True)
    client_bic = models.CharField(max_length=11, blank=True)
    client_account = models.CharField(max_length=35, blank=True)
    counterparty_client_bic = models.CharField(max_length=11, blank=True)
    counterparty_client_account = models.CharField(max_length=35, blank=True)
    matching_key = models.CharField(max_length=64, help_text="SHA-256 of the mandatory matching fields")
    match_deadline = models.DateField(help_text="Cancelled if still unmatched after this business day")
    status = models.CharField(
        max_length=10, choices=InstructionStatus.choices, default=InstructionStatus.ACCEPTED
    )
    cancellation_requested = models.BooleanField(default=False)
    cancellation_message = models.ForeignKey(
        InboundMessage,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # read from the instruction, never looked up by
        help_text="The cancellation request last accepted pending the counterparty's, as received: its "
        "final answer names it",
    )
    transfer = models.ForeignKey(
        "Transfer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source_message = models.ForeignKey(InboundMessage, on_delete=models.PROTECT, related_name="instructions")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Both indexes hold open instructions only: an instruction leaves them when it matches, and each
        # later status write (every one adds an entry to every index whose condition the row meets) skips
        # them. Matching looks up the open instructions of the other side with the same key; recycling
        # looks for open instructions past their deadline, or untouched for a while.
        indexes = [
            models.Index(
                fields=["matching_key", "side", "status"],
                name="instruction_matching",
                condition=Q(status__in=INSTRUCTION_OPEN),
            ),
            models.Index(
                fields=["status", "match_deadline"],
                name="instruction_recycling",
                condition=Q(status__in=INSTRUCTION_OPEN),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "transaction_id"], name="instruction_unique_reference"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="instruction_quantity_positive"),
            models.CheckConstraint(condition=~Q(csd=F("counterparty_csd")), name="instruction_cross_csd"),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="instruction_side"),
            models.CheckConstraint(
                condition=Q(status__in=InstructionStatus.values), name="instruction_status"
            ),
            models.CheckConstraint(
                condition=Q(intended_settlement_date__gte=F("trade_date")),
                name="instruction_settles_after_trade",
            ),
            models.CheckConstraint(
                condition=Q(transfer__isnull=True)
                | Q(status__in=["MATCHED", "SETTLED", "FAILED", "CANCELLED"]),
                name="instruction_transfer_only_once_matched",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id and self.participant}/{self.transaction_id} {self.side} {self.status}"


class Transfer(models.Model):
    """Two matched instructions: deliver from one CSD's participant, receive at another's."""

    deliver = models.OneToOneField(
        Instruction, on_delete=models.PROTECT, related_name="transfer_as_deliverer"
    )
    receive = models.OneToOneField(Instruction, on_delete=models.PROTECT, related_name="transfer_as_receiver")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="transfers", db_index=False)
    quantity = models.DecimalField(**QUANTITY)
    intended_settlement_date = models.DateField()
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.MATCHED)
    # The durable outbox of the protocol: a non-terminal transfer always has a due time. A step claims the
    # transfer by moving it into the future (a lease); the sweeper re-drives whatever is overdue, so work
    # lost with a killed worker or a lost task is picked up again.
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Consecutive transient failures, for backoff")
    pending_reason = models.CharField(max_length=4, blank=True, help_text="Why settlement waits, e.g. LACK")
    failure_reason = models.CharField(max_length=4, blank=True)
    failure_detail = models.CharField(max_length=200, blank=True)
    commit_entry_id = models.BigIntegerField(
        null=True, blank=True, help_text="The COMMIT entry on the ledger"
    )
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When settlement started (MATCHED -> PREPARING), on the protocol's clock: the business day "
        "it started on at each CSD is the one its legs must be reserved and anchored in",
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="transfer_status_age"),
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="transfer_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_quantity_positive"),
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="transfer_status"),
            models.CheckConstraint(condition=~Q(deliver=F("receive")), name="transfer_two_instructions"),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} {self.security_id and self.security} {self.quantity} {self.status}"


class LegStatus(models.TextChoices):
    PENDING = "PENDING", "Not yet reserved"
    PREPARED = "PREPARED", "Reserved at the CSD"
    COMMITTED = "COMMITTED", "Posted at the CSD"
    ABORTED = "ABORTED", "Released (or closed before any reservation)"


class Leg(models.Model):
    """One posting inside one CSD: move ``quantity`` of the security from ``debit_account`` to
    ``credit_account``, both at ``csd``. ``leg_id`` is the idempotency key of every call to the CSD."""

    # as on instructions, only the foreign keys legs are looked up by have an index: the transfer's is the
    # first column of leg_unique_position, and leg_id's is its unique constraint's (a unique field would
    # add a second index, for LIKE)
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="legs", db_index=False)
    position = models.PositiveSmallIntegerField(help_text="1, 2 or 3: the order the securities travel")
    leg_id = models.CharField(max_length=16)
    csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="legs")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+", db_index=False)
    quantity = models.DecimalField(**QUANTITY)
    debit_account = models.ForeignKey(
        SecuritiesAccount, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    credit_account = models.ForeignKey(
        SecuritiesAccount, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField(max_length=10, choices=LegStatus.choices, default=LegStatus.PENDING)
    csd_reference = models.CharField(max_length=35, blank=True)
    reason_code = models.CharField(max_length=4, blank=True, help_text="The CSD's last refusal, e.g. LACK")
    settlement_date = models.DateField(
        null=True, blank=True, help_text="The date the CSD booked the leg on, as its confirmation gave it"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["transfer_id", "position"]  # the column: ordering by the relation would join transfers
        constraints = [
            models.UniqueConstraint(fields=["transfer", "position"], name="leg_unique_position"),
            models.UniqueConstraint(fields=["leg_id"], name="leg_unique_id"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="leg_quantity_positive"),
            models.CheckConstraint(condition=~Q(debit_account=F("credit_account")), name="leg_two_accounts"),
            models.CheckConstraint(condition=Q(status__in=LegStatus.values), name="leg_status"),
        ]
        indexes = [
            # the few legs waiting for securities, found by the position a settlement has just credited;
            # the condition leaves out the status, so that a leg's moves (PREPARED, COMMITTED) change no
            # indexed value and PostgreSQL can write them as heap-only updates (the table keeps room for
            # them on each page: fillfactor, migration 0009)
            models.Index(
                fields=["debit_account", "security"], condition=Q(reason_code="LACK"), name="leg_lacking"
            ),
            # the few legs a CSD gives no usable answer for, which operations are shown (``transfers_stuck``):
            # empty while every CSD answers, and, like the index above, no leg's move rewrites it
            models.Index(fields=["transfer"], condition=Q(reason_code="OTHR"), name="leg_no_usable_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.leg_id} at {self.csd_id and self.csd}: {self.quantity} {self.status}"


class StatusEvent(models.Model):
    """One status move of an instruction or a transfer: the append-only timeline."""

    # one of the two is set: each has a partial index of the rows where it is (``Meta.indexes``)
    instruction = models.ForeignKey(
        Instruction, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    cause = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=4, blank=True)
    actor = models.CharField(max_length=64, help_text="Participant BIC, 'system' or an operator's username")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        # a timeline is read by its instruction or its transfer; an event of the one leaves the other's
        # index alone (a full index would file every event under NULL too)
        indexes = [
            models.Index(
                fields=["instruction"], condition=Q(instruction__isnull=False), name="event_of_instruction"
            ),
            models.Index(fields=["transfer"], condition=Q(transfer__isnull=False), name="event_of_transfer"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(instruction__isnull=False, transfer__isnull=True)
                | Q(instruction__isnull=True, transfer__isnull=False),
                name="event_of_instruction_or_transfer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.cause})"
