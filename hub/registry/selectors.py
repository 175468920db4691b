"""Reads over reference data, including the book invariants 1-3 of ARCHITECTURE.md §3.

The checks are set-based: a handful of aggregate queries, whatever the number of positions.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Prefetch, QuerySet, Sum

from hub.registry.models import (
    CONTRA_KINDS,
    CSD,
    PARTICIPANT_KINDS,
    AccountKind,
    CSDToken,
    Holding,
    Participant,
    ParticipantToken,
    SecuritiesAccount,
    bic_forms,
)
from hub.registry.services import token_hash

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BookViolation:
    invariant: int
    where: str
    isin: str
    expected: Decimal
    actual: Decimal

    def __str__(self) -> str:
        return f"invariant {self.invariant} at {self.where} for {self.isin}: expected {self.expected}, got {self.actual}"


def _totals(queryset: QuerySet, *keys: str) -> dict[tuple, Decimal]:
    rows = queryset.values(*keys).annotate(total=Sum("quantity")).order_by()
    return {tuple(row[k] for k in keys): row["total"] for row in rows}


def _balanced_books() -> list[BookViolation]:
    """Invariant 1: every posting balances, so a CSD's books of an ISIN add up to zero; only contra
    accounts (issuance, mirror) are ever negative."""
    found = [
        BookViolation(1, csd, isin, ZERO, total)
        for (csd, isin), total in _totals(
            Holding.objects.all(), "account__csd__code", "security__isin"
        ).items()
        if total != ZERO
    ]
    negatives = Holding.objects.filter(quantity__lt=0).exclude(account__kind__in=CONTRA_KINDS)
    for row in negatives.values("account__csd__code", "account__number", "security__isin", "quantity"):
        where = f"{row['account__csd__code']}:{row['account__number']}"
        found.append(BookViolation(1, where, row["security__isin"], ZERO, row["quantity"]))
    return found


def _issued_equals_held() -> list[BookViolation]:
    """Invariant 2: participants' holdings of an ISIN across all CSDs equal what its issuer CSD issued."""
    held = _totals(Holding.objects.filter(account__kind__in=PARTICIPANT_KINDS), "security__isin")
    issuance = Holding.objects.filter(
        account__kind=AccountKind.ISSUANCE, account__csd=F("security__issuer_csd")
    )
    issued = {key: -total for key, total in _totals(issuance, "security__isin").items()}
    return [
        BookViolation(2, "all CSDs", isin, issued.get((isin,), ZERO), held.get((isin,), ZERO))
        for (isin,) in sorted(set(held) | set(issued))
        if issued.get((isin,), ZERO) != held.get((isin,), ZERO)
    ]


def _links_match_omnibus() -> list[BookViolation]:
    """Invariant 3: for every link (B holds through A), B's participants' total of each of A's ISINs equals
    B's omnibus balance at A, and B's mirror account carries the same amount as its contra."""
    keys = ("investor", "issuer", "security__isin")
    investor_held = _totals(
        Holding.objects.filter(account__kind__in=PARTICIPANT_KINDS)
        .exclude(account__csd=F("security__issuer_csd"))
        .annotate(investor=F("account__csd__code"), issuer=F("security__issuer_csd__code")),
        *keys,
    )

    def by_link(kind: str) -> dict[tuple, Decimal]:
        return _totals(
            Holding.objects.filter(account__kind=kind).annotate(
                investor=F("account__link__investor_csd__code"), issuer=F("account__link__issuer_csd__code")
            ),
            *keys,
        )

    omnibus = by_link(AccountKind.OMNIBUS)
    mirror = by_link(AccountKind.MIRROR)
    found = []
    for key in sorted(set(investor_held) | set(omnibus) | set(mirror)):
        investor, issuer, isin = key
        held = investor_held.get(key, ZERO)
        if omnibus.get(key, ZERO) != held:
            found.append(
                BookViolation(3, f"{investor} omnibus at {issuer}", isin, held, omnibus.get(key, ZERO))
            )
        if -mirror.get(key, ZERO) != held:
            found.append(
                BookViolation(3, f"{investor} mirror of {issuer}", isin, -held, mirror.get(key, ZERO))
            )
    return found


def book_violations() -> list[BookViolation]:
    """Every way the hub's positions break invariants 1-3; an empty list means the books hold."""
    return _balanced_books() + _issued_equals_held() + _links_match_omnibus()


def participant_by_bic(bic: str) -> Participant | None:
    """The participant a BIC names, in either case and with or without its primary office's XXX
    (``DEMAZAJJ`` finds ``DEMAZAJJXXX`` and the other way round), or None."""
    return Participant.objects.filter(bic__in=bic_forms(bic.upper())).first()


def participant_for_token(key: str) -> Participant | None:
    """The participant a live API key belongs to, or None for an unknown or revoked key."""
    token = (
        ParticipantToken.objects.select_related("participant__home_csd")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True)
        .first()
    )
    return token.participant if token else None


def csd_by_code(code: str) -> CSD | None:
    """The CSD a code names, in either case, or None."""
    return CSD.objects.filter(code=code.upper()).first()


def csd_for_token(key: str) -> CSD | None:
    """The CSD a live key of the CSD ledger API belongs to, or None for an unknown or revoked key."""
    token = (
        CSDToken.objects.select_related("csd")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True)
        .first()
    )
    return token.csd if token else None


def accounts_of(participant: Participant, *, holdings_each: int):
    """A participant's own securities accounts, never another's, each with its first ``holdings_each``
    positions by ISIN (in ``first_holdings``): a custodian's account may hold thousands of securities, so a
    page of accounts does not carry them all (``holdings_of`` pages through the rest)."""
    first = holdings_by_isin()[:holdings_each]  # sliced per account (Django numbers the rows of each)
    return (
        SecuritiesAccount.objects.filter(participant=participant)
        .select_related("csd")
        .prefetch_related(Prefetch("holdings", queryset=first, to_attr="first_holdings"))
        .order_by("number")
    )


def account_of(participant: Participant, number: str) -> SecuritiesAccount | None:
    """One of a participant's own accounts by number, or None (another's is not found either)."""
    return SecuritiesAccount.objects.filter(participant=participant, number=number).first()


def holdings_by_isin():
    return Holding.objects.select_related("security").order_by("security__isin")


def holdings_of(account: SecuritiesAccount):
    """An account's positions, by ISIN."""
    return holdings_by_isin().filter(account=account)


def accounts_of_active_links(*, accounts) -> list[SecuritiesAccount]:
    """Those of ``accounts`` that are an active link's omnibus or mirror account: they cannot be deleted
    until the link is deactivated (migration 0009's trigger refuses it too)."""
    return list(
        SecuritiesAccount.objects.filter(
            pk__in=[a.pk for a in accounts], link__is_active=True
        ).select_related("csd", "link__issuer_csd", "link__investor_csd")
    )
