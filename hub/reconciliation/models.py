"""Runs, the statements they pulled (stored as rows, so every check is one SQL statement over them), and
the breaks the checks found, with the audit trail of each break.

- A **run** reconciles one CSD (or every CSD) once: it pulls the statements, stores them, runs the checks.
- A **statement** is one CSD's statement of holdings at the close of ``as_of`` (role CURRENT), with the
  movements of its statement of transactions since its **baseline** (the previous end-of-day statement).
  A run that finds no end-of-day statement of an earlier day pulls one itself (role BASELINE).
- A **break** is one difference; while it stays open, every run that sees it again updates its figures and
  keeps its first-seen time, and the runs that found it are kept as stretches (``Sighting``). A break no
  longer seen is resolved by the run.
"""

from django.db import models
from django.db.models import Q

from hub.registry.models import CSD, QUANTITY, SecuritiesAccount


class RunKind(models.TextChoices):
    INTRADAY = "INTRADAY", "Intraday (scheduled)"
    END_OF_DAY = "EOD", "End of day (scheduled)"
    ON_DEMAND = "DEMAND", "On demand"


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class Run(models.Model):
    Kind = RunKind
    Status = RunStatus

    csd = models.ForeignKey(
        CSD, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="None: every CSD"
    )
    kind = models.CharField(max_length=8, choices=RunKind.choices)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.CharField(max_length=64, help_text="'beat', 'command' or an operator's username")
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cross_checks = models.BooleanField(
        default=False,
        help_text="The run's checks were made in full: checks 2, 3 and 5 for every active link and ISIN "
        "(every active CSD with a recent statement of its participant and omnibus accounts), and no CSD's "
        "contra or omnibus account, nor all of its accounts, left out; otherwise the notes say what was not",
    )
    breaks_opened = models.PositiveIntegerField(default=0)
    breaks_seen = models.PositiveIntegerField(default=0, help_text="Breaks found, new or still open")
    breaks_resolved = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True, help_text="What the run could not check, and why")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=RunKind.values), name="recon_run_kind"),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="recon_run_status"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.csd_id and self.csd or 'all'} {self.status}"


class StatementRole(models.TextChoices):
    CURRENT = "CURRENT", "Holdings now and the movements since the baseline"
    BASELINE = "BASELINE", "Holdings at the previous close, pulled because none was stored"


class Statement(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="statements")
    csd = models.ForeignKey(CSD, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=StatementRole.choices)
    as_of = models.DateField(help_text="Holdings at the close of this business day, in the CSD's time zone")
    end_of_day = models.BooleanField(help_text="A closing statement: a baseline for later days")
    baseline = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    movements_since = models.DateField(null=True, blank=True)
    movements_until = models.DateField(null=True, blank=True)
    pulled_at = models.DateTimeField()
    covered_accounts = models.ManyToManyField(
        SecuritiesAccount,
        related_name="+",
        blank=True,
        help_text="A closing statement: every account it was asked for (holdings given, or a gap). An "
        "account registered later is not in it, so a run from this baseline has no close for it",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["csd", "role", "end_of_day", "as_of"], name="recon_statement_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=StatementRole.values), name="recon_statement_role"),
            models.CheckConstraint(
                condition=Q(role=StatementRole.BASELINE) | Q(baseline__isnull=False),
                name="recon_statement_current_has_baseline",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.csd_id and self.csd} {self.role.lower()} statement at the close of {self.as_of}"


class Position(models.Model):
    """One line of a statement of holdings: the total (available plus blocked) of one ISIN."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(SecuritiesAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, help_text="The account's kind, copied for set-based checks")
    isin = models.CharField(max_length=12)
    quantity = models.DecimalField(**QUANTITY)

    class Meta:
        constraints = [
            # one line per ISIN: the checks join on it, and two would each be taken for the whole
            models.UniqueConstraint(fields=["statement", "account", "isin"], name="recon_position_one_line")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.isin} {self.quantity}"


class Movement(models.Model):
    """One settled posting on a statement of transactions, signed: positive credits the account."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(SecuritiesAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8)
    reference = models.CharField(max_length=35, help_text="The leg's wire reference")
    isin = models.CharField(max_length=12)
    quantity = models.DecimalField(**QUANTITY)
    settlement_date = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["statement", "account", "reference"], name="recon_movement_line")]

    def __str__(self) -> str:
        return f"{self.reference} {self.account_id} {self.isin} {self.quantity}"


class Gap(models.Model):
    """A statement the CSD could not give; the checks leave that account out instead of guessing."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="gaps")
    account = models.ForeignKey(SecuritiesAccount, on_delete=models.PROTECT, related_name="+")
    what = models.CharField(
        max_length=12,
        help_text="holdings or transactions; baseline: an account the run's baseline did not cover "
        "(registered after it was taken)",
    )
    reason = models.CharField(max_length=300)

    def __str__(self) -> str:
        return f"no {self.what} of account {self.account_id}: {self.reason}"


class BreakKind(models.TextChoices):
    BALANCE = "BALANCE", "Previous close plus movements differs from the balance (RTS 2017/392 art. 59)"
    OMNIBUS = "OMNIBUS", "Omnibus at the issuer CSD differs from the investor CSD's participants"
    ISSUED_TOTAL = "ISSUED", "Total held across CSDs differs from the quantity issued"
    MOVEMENT_MISSING = "MV_MISS", "A settled leg is missing from the CSD's statement of transactions"
    MOVEMENT_MISMATCH = "MV_DIFF", "A settled leg shows another quantity, ISIN or date at the CSD"
    MOVEMENT_UNKNOWN = "MV_UNKN", "The CSD shows a cross-CSD movement the hub did not settle"
    LEDGER_CHAIN = "LG_CHAIN", "The shared ledger does not verify"
    LEDGER_RECORD = "LG_REC", "A settled transfer's COMMIT entry does not match its rows"
    LEDGER_OPEN = "LG_OPEN", "A transfer's COMMIT entry is on the ledger, but the transfer is not settled"
    LEDGER_NOT_SETTLED = "LG_NOSTL", "A settled transfer has no SETTLED entry on the ledger"
    LEG_OPEN = "LEG_OPEN", "A leg is committed at its CSD, but its transfer is not settled"


# Kinds each run checks for its own CSDs; the others are checked across every CSD at once.
PER_CSD_KINDS = (
    BreakKind.BALANCE,
    BreakKind.MOVEMENT_MISSING,
    BreakKind.MOVEMENT_MISMATCH,
    BreakKind.MOVEMENT_UNKNOWN,
)


# Kinds found by check 5 (the ledger against the hub's rows): resolved by any run that made it.
LEDGER_KINDS = (
    BreakKind.LEDGER_CHAIN,
    BreakKind.LEDGER_RECORD,
    BreakKind.LEDGER_OPEN,
    BreakKind.LEDGER_NOT_SETTLED,
    BreakKind.LEG_OPEN,
)


class BreakStatus(models.TextChoices):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACK", "Acknowledged"
    RESOLVED = "RESOLVED"


LIVE_STATUSES = (BreakStatus.OPEN, BreakStatus.ACKNOWLEDGED)


class Break(models.Model):
    Kind = BreakKind
    Status = BreakStatus

    kind = models.CharField(max_length=8, choices=BreakKind.choices)
    csd = models.ForeignKey(CSD, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    isin = models.CharField(max_length=12, blank=True)
    account = models.CharField(max_length=35, blank=True, help_text="Account number at the CSD")
    reference = models.CharField(max_length=100, blank=True, help_text="Leg reference, transfer or entry")
    expected = models.DecimalField(**QUANTITY, null=True, blank=True)
    actual = models.DecimalField(**QUANTITY, null=True, blank=True)
    difference = models.DecimalField(**QUANTITY, null=True, blank=True, help_text="actual - expected")
    detail = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=8, choices=BreakStatus.choices, default=BreakStatus.OPEN)
    first_seen_at = models.DateTimeField()
    first_seen_run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")
    last_seen_at = models.DateTimeField()
    last_seen_run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")
    suspends_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="End of the next business day: still open then, the ISIN is suspended",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    checked_from = models.DateField(
        null=True,
        blank=True,
        help_text="A break in one CSD's statements: the first day of the window it was found in. A run "
        "over a later window starts from a close that holds the difference and cannot see it again, so "
        "only a run over this window (or an operator) resolves it.",
    )
    checked_until = models.DateField(
        null=True,
        blank=True,
        help_text="A break in one CSD's statements: the last day of the latest window it was found in. A run "
        "whose window ends earlier (a late close of the day before) cannot see a difference made after it, "
        "so it does not resolve the break.",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["isin", "status"], name="recon_break_isin_status"),
            models.Index(fields=["status", "kind"], name="recon_break_status_kind"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BreakKind.values), name="recon_break_kind"),
            models.CheckConstraint(condition=Q(status__in=BreakStatus.values), name="recon_break_status"),
            models.CheckConstraint(
                condition=Q(status=BreakStatus.RESOLVED, resolved_at__isnull=False)
                | (~Q(status=BreakStatus.RESOLVED) & Q(resolved_at__isnull=True)),
                name="recon_break_resolved_at_iff_resolved",
            ),
            # one live break per difference: a run that sees it again updates it (the upsert's target)
            models.UniqueConstraint(
                fields=["kind", "csd", "isin", "account", "reference"],
                condition=Q(status__in=LIVE_STATUSES),
                nulls_distinct=False,
                name="recon_break_one_live_per_key",
            ),
        ]

    def __str__(self) -> str:
        where = " ".join(
            x for x in (self.csd_id and self.csd.code, self.isin, self.account, self.reference) if x
        )
        return f"{self.kind} {where} {self.status}"


class Sighting(models.Model):
    """A stretch of runs of one scope (one CSD, or every CSD) that found a break, each of them: every run of
    that scope numbered from ``first_run`` to ``last_run``. A run that finds the break again right after the
    stretch's last run of its scope extends it, so a break seen run after run costs one row, not one per
    run; a run of the scope between two that did not find it (or failed) starts another stretch."""

    brk = models.ForeignKey(Break, on_delete=models.CASCADE, related_name="sightings", db_column="break_id")
    first_run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")
    last_run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(first_run__lte=models.F("last_run")), name="recon_sighting_order"
            )
        ]

    def __str__(self) -> str:
        return f"break {self.brk_id} seen by runs {self.first_run_id} to {self.last_run_id}"


class BreakEvent(models.Model):
    """The audit trail: every status move of a break, who made it and why. Append-only."""

    brk = models.ForeignKey(Break, on_delete=models.CASCADE, related_name="events", db_column="break_id")
    from_status = models.CharField(max_length=8, blank=True)
    to_status = models.CharField(max_length=8)
    actor = models.CharField(max_length=64, help_text="'system' (a run) or an operator's username")
    note = models.CharField(max_length=500, blank=True)
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} by {self.actor}"
