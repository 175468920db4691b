"""The demo world's CSDs as real reference ledgers (csd_adapters.reference_csd) in this process, seeded
from the hub's registry, and the checks of invariants 1-4 over the CSDs' own books."""

import datetime as dt
from decimal import Decimal

from csd_adapters.base import leg_reference
from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.reference_csd.ledger import Ledger
from hub.registry.models import CSD, PARTICIPANT_KINDS, CSDLink, SecuritiesAccount, Security
from hub.registry.reference_csds import reference_csd_database, reference_csd_seed_document
from hub.settlement.models import Leg, Transfer


class Books:
    """One reference ledger per demo CSD: seeded here and reached through the in-process adapter, or
    opened read-only-in-spirit on the databases of reference CSD servers (``Books.of_servers``)."""

    def __init__(self, directory, *, seed: bool = True) -> None:
        self.ledgers: dict[str, Ledger] = {}
        self.adapters: dict[str, LedgerAdapter] = {}
        self.clock: dt.datetime | None = None  # the CSDs' clock (the day they book on); None: the real one
        for csd in CSD.objects.all():
            ledger = Ledger(
                reference_csd_database(directory, csd.code),
                timezone=csd.timezone,
                clock=lambda: self.clock or dt.datetime.now(dt.UTC),
            )
            if seed:
                ledger.seed(reference_csd_seed_document(csd=csd))
            self.ledgers[csd.code] = ledger
            self.adapters[csd.code] = LedgerAdapter(ledger=ledger, csd=csd.code)

    @classmethod
    def of_servers(cls, directory) -> "Books":
        """The books the reference CSD servers keep in ``directory`` (as ``reference_csds export`` laid out)."""
        return cls(directory, seed=False)

    def adapter_for(self, csd: CSD) -> LedgerAdapter:
        return self.adapters[csd.code]

    def balance(self, csd: str, account: str, isin: str) -> tuple[Decimal, Decimal]:
        return self.ledgers[csd].balances().get((account, isin), (Decimal(0), Decimal(0)))

    def close(self) -> None:
        for ledger in self.ledgers.values():
            ledger.close()


def invariant_violations(books: Books) -> list[str]:
    """Invariants 1-4 of ARCHITECTURE.md §3, read from the CSDs' own books and the hub's transfers."""
    found = []
    totals: dict[tuple[str, str], Decimal] = {}
    for code, ledger in books.ledgers.items():
        found += [
            f"{code}: {problem}" for problem in ledger.discrepancies()
        ]  # 1: balanced, nothing overdrawn
        for (account, isin), (available, blocked) in ledger.balances().items():
            totals[(code, account, isin)] = available + blocked
    participant_accounts = {
        (a.csd.code, a.number)
        for a in SecuritiesAccount.objects.filter(kind__in=PARTICIPANT_KINDS).select_related("csd")
    }
    for security in Security.objects.select_related("issuer_csd"):
        isin, issuer = security.isin, security.issuer_csd.code
        issued = -totals.get((issuer, "ISSUANCE", isin), Decimal(0))
        held = sum(
            q
            for (code, account, i), q in totals.items()
            if i == isin and (code, account) in participant_accounts
        )
        if held != issued:  # 2
            found.append(f"{isin}: participants hold {held}, {issuer} issued {issued}")
        for link in CSDLink.objects.filter(issuer_csd=security.issuer_csd).select_related("investor_csd"):
            investor = link.investor_csd.code
            investors_held = sum(
                q
                for (code, account, i), q in totals.items()
                if i == isin and code == investor and (code, account) in participant_accounts
            )
            omnibus = totals.get((issuer, f"OMNIBUS-{investor}", isin), Decimal(0))
            if investors_held != omnibus:  # 3
                found.append(
                    f"{isin}: {investor} participants hold {investors_held}, omnibus at {issuer} {omnibus}"
                )
    # 4, from the CSDs' books as well as the hub's rows: a settled transfer's every leg is booked once at
    # its CSD, a failed or cancelled one's at none
    booked: dict[tuple[str, str], int] = {}
    for code, ledger in books.ledgers.items():
        for posting in ledger.postings():
            if posting.kind == "DELIVERY":
                booked[(code, posting.reference)] = booked.get((code, posting.reference), 0) + 1
    for transfer in Transfer.objects.all():
        legs = list(Leg.objects.filter(transfer=transfer).select_related("csd"))
        statuses = {leg.status for leg in legs}
        times = {leg.leg_id: booked.get((leg.csd.code, leg_reference(leg.leg_id)), 0) for leg in legs}
        if transfer.status == "SETTLED" and (statuses != {"COMMITTED"} or set(times.values()) != {1}):
            found.append(f"transfer {transfer.pk} settled with legs {statuses}, booked {times}")
        if transfer.status in ("FAILED", "CANCELLED") and ("COMMITTED" in statuses or any(times.values())):
            found.append(
                f"transfer {transfer.pk} {transfer.status.lower()} with legs {statuses}, booked {times}"
            )
    return found
