"""Realistic cross-CSD traffic for the demo and the benchmarks: trades between the demo participants in
the three leg cases, both sides sent through the participant message API as each participant's market
speaks (ISO 20022 or ISO 15022), some of them beyond what the deliverer holds (lack of securities).

``trades_plan`` decides the trades from the registry (deterministic for a seed); ``trade_messages``
renders both instructions of a trade; ``simulation_summary`` reads back what became of them.
"""

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from hub.registry.models import AccountKind, CSDLink, MessageStandard, SecuritiesAccount, Security
from hub.settlement.models import Instruction, Transfer
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import build_mt

CASES = ("issuer_to_investor", "investor_to_issuer", "realignment")


@dataclass(frozen=True, slots=True)
class Side:
    bic: str
    account: str
    csd_bic: str
    standard: str


@dataclass(frozen=True, slots=True)
class Trade:
    reference: str
    case: str
    isin: str
    face_amount: bool
    quantity: Decimal
    deliverer: Side
    receiver: Side
    beyond_holdings: bool


def _sides_by_csd() -> dict[int, list[Side]]:
    sides: dict[int, list[Side]] = {}
    accounts = SecuritiesAccount.objects.filter(kind=AccountKind.OWN).select_related("participant", "csd")
    for account in accounts.order_by("csd__code", "number"):
        sides.setdefault(account.csd_id, []).append(
            Side(
                account.participant.bic, account.number, account.csd.bic, account.participant.outbound_format
            )
        )
    return sides


def trades_plan(*, count: int, lack_share: float, seed: int, prefix: str) -> list[Trade]:
    """``count`` trades spread over the three cases; ``lack_share`` of them ask for more than any demo
    account holds, so they wait for securities until the cut-off and then fail."""
    rng = random.Random(seed)
    sides = _sides_by_csd()
    investors: dict[int, list[int]] = {}
    for link in CSDLink.objects.filter(is_active=True):
        investors.setdefault(link.issuer_csd_id, []).append(link.investor_csd_id)
    securities = [
        s for s in Security.objects.order_by("isin") if len(investors.get(s.issuer_csd_id, [])) >= 2
    ]
    trades = []
    for n in range(count):
        security = rng.choice(securities)
        issuer, holders = security.issuer_csd_id, investors[security.issuer_csd_id]
        case = CASES[n % 3]
        if case == "issuer_to_investor":
            source, target = issuer, rng.choice(holders)
        elif case == "investor_to_issuer":
            source, target = rng.choice(holders), issuer
        else:
            source, target = rng.sample(holders, 2)
        beyond = rng.random() < lack_share
        face = security.denomination == "FAMT"
        # 1 to 20 units, or 100 to 2,000 of face amount: a small share of a demo account's opening
        # position (100,000 units or 1,000,000 face, hub.registry.demo), so that what thousands of
        # transfers in flight hold reserved at once does not empty an account by chance (past the CSD's
        # cut-off such a transfer would fail); only the trades meant to (``lack_share``) lack securities
        lot = Decimal(rng.randint(1, 20) * (100 if face else 1))
        trades.append(
            Trade(
                reference=f"{prefix}{n}",
                case=case,
                isin=security.isin,
                face_amount=face,
                quantity=Decimal(10**9) if beyond else lot,
                deliverer=rng.choice(sides[source]),
                receiver=rng.choice(sides[target]),
                beyond_holdings=beyond,
            )
        )
    return trades


def _instruction(trade: Trade, side: m.Side, today: dt.date) -> m.SettlementInstruction:
    mine, theirs = (
        (trade.deliverer, trade.receiver) if side is m.Side.DELIVER else (trade.receiver, trade.deliverer)
    )
    return m.SettlementInstruction(
        transaction_id=f"{trade.reference}{'D' if side is m.Side.DELIVER else 'R'}",
        side=side,
        payment=m.Payment.FREE,
        trade_date=today,
        intended_settlement_date=today,
        security=m.Security(isin=trade.isin),
        quantity=m.Quantity(
            amount=trade.quantity,
            type=m.QuantityType.FACE_AMOUNT if trade.face_amount else m.QuantityType.UNIT,
        ),
        safekeeping_account=mine.account,
        account_owner_bic=mine.bic,
        counterparty=m.Counterparty(bic=theirs.bic, csd_bic=theirs.csd_bic),
    )


def trade_messages(trade: Trade, *, today: dt.date | None = None) -> list[tuple[str, bytes, str]]:
    """Both instructions of ``trade`` as (sender BIC, message bytes, content type), each in its sender's
    standard. The intended settlement date is today in UTC: every demo CSD is east of UTC, so it is
    today or yesterday there, never in the future."""
    today = today or timezone.now().date()
    out = []
    for side, party in ((m.Side.DELIVER, trade.deliverer), (m.Side.RECEIVE, trade.receiver)):
        body = _instruction(trade, side, today)
        if party.standard == MessageStandard.MT:
            out.append(
                (
                    party.bic,
                    build_mt(body, sender=party.bic, receiver=settings.HUB_BIC).encode(),
                    "text/plain",
                )
            )
        else:
            header = m.BusinessHeader(
                from_bic=party.bic,
                to_bic=settings.HUB_BIC,
                business_message_id=f"B{body.transaction_id}",
                message_definition_id=mx.message_id_for(body),
                creation=timezone.now().replace(microsecond=0),
            )
            out.append((party.bic, mx.build(body, header=header), "application/xml"))
    return out


@dataclass(frozen=True)
class Summary:
    trades: int
    instructions_accepted: int
    instructions_rejected: int
    matched: int
    settled: int
    failed: dict[str, int]
    pending: dict[str, int]
    cases: dict[str, int]

    @property
    def terminal(self) -> int:
        return self.settled + sum(self.failed.values())

    def lines(self) -> list[str]:
        failed = ", ".join(f"{reason} {n}" for reason, n in sorted(self.failed.items())) or "none"
        pending = ", ".join(f"{state} {n}" for state, n in sorted(self.pending.items())) or "none"
        return [
            f"trades sent: {self.trades} ({', '.join(f'{c} {n}' for c, n in sorted(self.cases.items()))})",
            f"instructions accepted: {self.instructions_accepted}, rejected: {self.instructions_rejected}",
            f"matched into transfers: {self.matched}",
            f"settled: {self.settled}",
            f"failed by reason: {failed}",
            f"pending: {pending}",
        ]


def simulation_summary(*, prefix: str, trades: list[Trade]) -> Summary:
    instructions = Instruction.objects.filter(transaction_id__startswith=prefix)
    transfers = Transfer.objects.filter(deliver__transaction_id__startswith=prefix)
    statuses = Counter(transfers.values_list("status", flat=True))
    failed = Counter(transfers.filter(status="FAILED").values_list("failure_reason", flat=True))
    pending = Counter(
        f"{status}{'/' + reason if reason else ''}"
        for status, reason in transfers.exclude(status__in=["SETTLED", "FAILED", "CANCELLED"]).values_list(
            "status", "pending_reason"
        )
    )
    # an ACCEPTED instruction has not been through matching yet; an UNMATCHED one found no counterpart
    waiting = Counter(
        instructions.filter(status__in=["ACCEPTED", "UNMATCHED"]).values_list("status", flat=True)
    )
    if waiting["ACCEPTED"]:
        pending["instructions awaiting matching"] = waiting["ACCEPTED"]
    if waiting["UNMATCHED"]:
        pending["UNMATCHED instructions"] = waiting["UNMATCHED"]
    accepted = instructions.count()
    return Summary(
        trades=len(trades),
        instructions_accepted=accepted,
        instructions_rejected=2 * len(trades) - accepted,
        matched=transfers.count(),
        settled=statuses.get("SETTLED", 0),
        failed=dict(failed),
        pending=dict(pending),
        cases=dict(Counter(t.case for t in trades)),
    )
