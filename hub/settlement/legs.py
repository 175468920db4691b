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
