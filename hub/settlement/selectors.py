"""Reads of settlement: instructions and transfers, always scoped to who asks; and, for the services, the
registry rows a batch of them points at."""

import datetime as dt
from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from hub.registry.models import CSD, Participant, SecuritiesAccount, Security
from hub.settlement.models import Instruction, Leg
from hub.settlement.statuses import INSTRUCTION_OPEN


def instructions_rematch_ids(*, older_than: dt.timedelta) -> list[int]:
    """Open instructions not touched for a while: their matching task may have been lost."""
    cutoff = timezone.now() - older_than
    return list(
        Instruction.objects.filter(status__in=INSTRUCTION_OPEN, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:5000]
    )


def instructions_of(participant: Participant) -> QuerySet[Instruction]:
    """The only way to list instructions for a participant: its own, never another's."""
    return Instruction.objects.filter(participant=participant).select_related(
        "security", "account", "csd", "counterparty_csd"
    )


def transfers_due(*, now: dt.datetime) -> list[int]:
    """Transfers whose due time passed more than ``SETTLEMENT_SWEEP_GRACE_SECONDS`` ago: their task was
    lost, or their run died. The grace keeps the sweeper from doubling tasks still waiting in a busy queue
    (a doubled task would cost only a failed claim, but thousands of them cost a worker's time)."""
    from django.conf import settings

    from hub.settlement.models import Transfer

    overdue = now - dt.timedelta(seconds=settings.SETTLEMENT_SWEEP_GRACE_SECONDS)
    return list(
        Transfer.objects.filter(due_at__lte=overdue)
        .order_by("due_at")
        .values_list("pk", flat=True)[: settings.SETTLEMENT_SWEEP_BATCH]
    )


class RegistryRows:
    """The registry rows a batch of instructions, transfers or legs points at (CSDs, securities, accounts,
    participants), each read once and shared by every row that points at it, rather than joined to each
    of them: a join makes a model object per row for every registry row it carries.

    Rows are attached as ``select_related`` would leave them, in each relation's cache: the ids are
    already right, so there is nothing for the relation's setter to check or copy."""

    def __init__(self) -> None:
        self.csds: dict[int, CSD] = {}
        self.securities: dict[int, Security] = {}
        self.accounts: dict[int, SecuritiesAccount] = {}
        self.participants: dict[int, Participant] = {}

    @staticmethod
    def _fill(model, known: dict, ids: set[int]) -> None:
        missing = ids - known.keys()
        if missing:
            known.update(model.objects.in_bulk(missing))

    def read(self, *, csds=(), securities=(), accounts=(), participants=()) -> None:
        self._fill(Security, self.securities, set(securities))
        self._fill(SecuritiesAccount, self.accounts, set(accounts))
        self._fill(Participant, self.participants, set(participants))
        self._fill(
            CSD,
            self.csds,
            set(csds)
            | {s.issuer_csd_id for s in self.securities.values()}
            | {a.csd_id for a in self.accounts.values()},
        )
        for security in self.securities.values():
            _ISSUER_CSD.set_cached_value(security, self.csds[security.issuer_csd_id])
        for account in self.accounts.values():
            _ACCOUNT_CSD.set_cached_value(account, self.csds[account.csd_id])

    def instructions_attach(self, instructions: Iterable[Instruction]) -> None:
        """Read and attach what an instruction's notices and legs read: its participant, account,
        security, CSD and counterparty's CSD."""
        instructions = list(instructions)
        self.read(
            securities={i.security_id for i in instructions},
            accounts={i.account_id for i in instructions},
            participants={i.participant_id for i in instructions},
            csds={c for i in instructions for c in (i.csd_id, i.counterparty_csd_id)},
        )
        for i in instructions:
            _INSTRUCTION_PARTICIPANT.set_cached_value(i, self.participants[i.participant_id])
            _INSTRUCTION_ACCOUNT.set_cached_value(i, self.accounts[i.account_id])
            _INSTRUCTION_SECURITY.set_cached_value(i, self.securities[i.security_id])
            _INSTRUCTION_CSD.set_cached_value(i, self.csds[i.csd_id])
            _INSTRUCTION_COUNTERPARTY_CSD.set_cached_value(i, self.csds[i.counterparty_csd_id])

    def legs_attach(self, legs: Iterable[Leg]) -> None:
        """Read and attach each leg's CSD and accounts."""
        legs = list(legs)
        self.read(
            csds={leg.csd_id for leg in legs},
            accounts={a for leg in legs for a in (leg.debit_account_id, leg.credit_account_id)},
        )
        for leg in legs:
            _LEG_CSD.set_cached_value(leg, self.csds[leg.csd_id])
            _LEG_DEBIT.set_cached_value(leg, self.accounts[leg.debit_account_id])
            _LEG_CREDIT.set_cached_value(leg, self.accounts[leg.credit_account_id])


_ISSUER_CSD = Security._meta.get_field("issuer_csd")
_ACCOUNT_CSD = SecuritiesAccount._meta.get_field("csd")
_INSTRUCTION_PARTICIPANT = Instruction._meta.get_field("participant")
_INSTRUCTION_ACCOUNT = Instruction._meta.get_field("account")
_INSTRUCTION_SECURITY = Instruction._meta.get_field("security")
_INSTRUCTION_CSD = Instruction._meta.get_field("csd")
_INSTRUCTION_COUNTERPARTY_CSD = Instruction._meta.get_field("counterparty_csd")
_LEG_CSD = Leg._meta.get_field("csd")
_LEG_DEBIT = Leg._meta.get_field("debit_account")
_LEG_CREDIT = Leg._meta.get_field("credit_account")
