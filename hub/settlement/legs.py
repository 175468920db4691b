"""The legs of a cross-CSD transfer, derived from the CSD links (ARCHITECTURE.md §3).

S is the deliverer's CSD, T the receiver's, I the issuer CSD of the security:

| case | legs |
|---|---|
| S = I (issuer to investor) | at I: deliverer -> T's omnibus; at T: T's mirror -> receiver |
| T = I (investor to issuer) | at S: deliverer -> S's mirror; at I: S's omnibus -> receiver |
| S, T, I all different | at S: deliverer -> S's mirror; at I: S's omnibus -> T's omnibus; at T: T's mirror -> receiver |

Every leg balances inside its CSD, so each CSD's books stay balanced (invariant 1), participants' total
holdings do not change (invariant 2), and an investor CSD's omnibus at the issuer moves by exactly what
its participants' holdings move (invariant 3). S = T never reaches here: intake refuses it.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from hub.registry.models import CSD, AccountKind, CSDLink, SecuritiesAccount
from hub.settlement.errors import SettlementError
from hub.settlement.models import Transfer


class MissingLinkAccount(SettlementError):
    """A link needed by the transfer has no omnibus or mirror account: reference data to repair."""


@dataclass(frozen=True, slots=True)
class LegPlan:
    position: int
    csd: CSD
    debit: SecuritiesAccount
    credit: SecuritiesAccount
    quantity: Decimal


# A leg's id is the idempotency key of every call to its CSD and, as it is, its reference on the wire and on
# the CSD's statements: MT carries 16 characters (:20C::SEME//), and reconciliation finds a leg on a statement
# by its id, so an id never grows past them.
LEG_ID_LENGTH = 16
# letters only, none read as a digit or as the L before the position: the tail cannot be taken for part of
# the transfer's number or of the leg's position
LEG_ID_TAIL_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"


def leg_ids_new(transfer_id: int, positions: Iterable[int]) -> dict[int, str]:
    """Ids for the legs of a transfer, by position: ``T<transfer id>L<position>`` for operations to read,
    then random letters, one draw for the transfer's legs, up to 16 characters.

    The transfer's id alone is unique within one hub database only: restored from a backup, or a second
    hub environment against the same CSD, the hub would hand out an id the CSD holds already, and take the
    CSD's answer for that other leg (its replay, or a refusal of the reference) for this one's. The tail
    makes every new id unique across them: 8 letters (36 bits) for a transfer below 100,000, 6 (27 bits)
    below ten million, and one letter less for each digit more."""
    positions = list(positions)
    width = max(len(f"T{transfer_id}L{position}") for position in positions)
    tail = "".join(secrets.choice(LEG_ID_TAIL_LETTERS) for _ in range(LEG_ID_LENGTH - width))
    return {position: f"T{transfer_id}L{position}{tail}" for position in positions}


LinkAccounts = dict[tuple[int, int, str], SecuritiesAccount]
"""The omnibus and mirror accounts of every active link, by (investor CSD id, issuer CSD id, kind)."""


def link_accounts_load() -> LinkAccounts:
    """Every active link's accounts in one query: reference data a batch of transfers reads many times."""
    known: LinkAccounts = {}
    for account in SecuritiesAccount.objects.filter(
        kind__in=[AccountKind.OMNIBUS, AccountKind.MIRROR], link__is_active=True
    ).select_related("csd", "link"):
        # a link with two accounts of one kind uses the first in the registry's order
        known.setdefault((account.link.investor_csd_id, account.link.issuer_csd_id, account.kind), account)
    return known


def _link_account(investor: CSD, issuer: CSD, kind: str, known: LinkAccounts) -> SecuritiesAccount:
    account = known.get((investor.pk, issuer.pk, kind))
    if account is None:
        exists = CSDLink.objects.filter(investor_csd=investor, issuer_csd=issuer).exists()
        problem = "has no " + kind.lower() + " account" if exists else "does not exist"
        raise MissingLinkAccount(f"the link of {investor.code} through {issuer.code} {problem}")
    return account


def legs_plan(transfer: Transfer, *, known: LinkAccounts | None = None) -> list[LegPlan]:
    """The legs of ``transfer``; ``known`` is ``link_accounts_load()``, read once for a batch."""
    known = link_accounts_load() if known is None else known
    deliverer = transfer.deliver.account
    receiver = transfer.receive.account
    source, target, issuer = deliverer.csd, receiver.csd, transfer.security.issuer_csd
    quantity = transfer.quantity
    if source.pk == target.pk:
        raise SettlementError(f"deliverer and receiver are both at {source.code}: not a cross-CSD transfer")
    if source.pk == issuer.pk:
        return [
            LegPlan(
                1, issuer, deliverer, _link_account(target, issuer, AccountKind.OMNIBUS, known), quantity
            ),
            LegPlan(2, target, _link_account(target, issuer, AccountKind.MIRROR, known), receiver, quantity),
        ]
    if target.pk == issuer.pk:
        return [
            LegPlan(1, source, deliverer, _link_account(source, issuer, AccountKind.MIRROR, known), quantity),
            LegPlan(2, issuer, _link_account(source, issuer, AccountKind.OMNIBUS, known), receiver, quantity),
        ]
    return [
        LegPlan(1, source, deliverer, _link_account(source, issuer, AccountKind.MIRROR, known), quantity),
        LegPlan(
            2,
            issuer,
            _link_account(source, issuer, AccountKind.OMNIBUS, known),
            _link_account(target, issuer, AccountKind.OMNIBUS, known),
            quantity,
        ),
        LegPlan(3, target, _link_account(target, issuer, AccountKind.MIRROR, known), receiver, quantity),
    ]
