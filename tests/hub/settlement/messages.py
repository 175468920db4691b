"""Instructions between the demo participants, as the message layer builds them (MX and MT)."""

import datetime as dt
from decimal import Decimal

from django.conf import settings

from hub.registry.demo import demo_isin
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import build_mt

NSD_SHARES = demo_isin("RU", "01")  # issued at NSD, held at Strate through the NSD link
TRADE = dt.date(2026, 11, 24)
SETTLE = dt.date(2026, 11, 26)

# deliverer at NSD, receiver at Strate
NSD_BROKER, NSD_ACCOUNT = "DEMARUMM", "DEMARUMM-OWN"
STRATE_BROKER, STRATE_ACCOUNT = "DEMAZAJJ", "DEMAZAJJ-OWN"


def instruction(
    side: str = "DELI", *, tx: str = "TX-1", amount: str = "100", isin: str = NSD_SHARES, **overrides
) -> m.SettlementInstruction:
    deliver = side == "DELI"
    values = {
        "transaction_id": tx,
        "side": m.Side(side),
        "payment": m.Payment.FREE,
        "trade_date": TRADE,
        "intended_settlement_date": SETTLE,
        "security": m.Security(isin=isin),
        "quantity": m.Quantity(amount=Decimal(amount)),
        "safekeeping_account": NSD_ACCOUNT if deliver else STRATE_ACCOUNT,
        "account_owner_bic": NSD_BROKER if deliver else STRATE_BROKER,
        "counterparty": m.Counterparty(bic=STRATE_BROKER, csd_bic="STRAZAJJ")
        if deliver
        else m.Counterparty(bic=NSD_BROKER, csd_bic="NADCRUMM"),
    }
    return m.SettlementInstruction(**(values | overrides))


def as_mx(body: m.SettlementInstruction | m.CancellationRequest, *, bmi: str | None = None) -> bytes:
    header = m.BusinessHeader(
        from_bic=body.account_owner_bic,
        to_bic=settings.HUB_BIC,
        business_message_id=bmi or getattr(body, "business_message_id", None) or f"BMI-{body.transaction_id}",
        message_definition_id=mx.message_id_for(body),
        creation=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
    )
    return mx.build(body, header=header)


def as_mt(body: m.SettlementInstruction | m.CancellationRequest) -> bytes:
    return build_mt(body, sender=body.account_owner_bic, receiver=settings.HUB_BIC).encode("ascii")


def cancellation(side: str = "DELI", *, tx: str = "TX-1") -> m.CancellationRequest:
    deliver = side == "DELI"
    return m.CancellationRequest(
        transaction_id=tx,
        side=m.Side(side),
        payment=m.Payment.FREE,
        safekeeping_account=NSD_ACCOUNT if deliver else STRATE_ACCOUNT,
        account_owner_bic=NSD_BROKER if deliver else STRATE_BROKER,
        business_message_id=f"CXL-{tx}-{side}",
        security=m.Security(isin=NSD_SHARES),
        quantity=m.Quantity(amount=Decimal(100)),
        intended_settlement_date=SETTLE,
    )


# (BIC, safekeeping account, CSD BIC) of one demo broker per CSD
NSD_A = (NSD_BROKER, NSD_ACCOUNT, "NADCRUMM")
STRATE_A = (STRATE_BROKER, STRATE_ACCOUNT, "STRAZAJJ")
KACD_A = ("DEMAKZKA", "DEMAKZKA-OWN", "KACDKZKA")


def pair(
    deliverer: tuple, receiver: tuple, *, tx: str, amount: str = "100", isin: str = NSD_SHARES, **overrides
) -> tuple[m.SettlementInstruction, m.SettlementInstruction]:
    """Both sides of one trade: the deliverer's and the receiver's instruction."""
    common = {"amount": amount, "isin": isin, **overrides}
    deliver = instruction(
        "DELI",
        tx=f"{tx}-D",
        safekeeping_account=deliverer[1],
        account_owner_bic=deliverer[0],
        counterparty=m.Counterparty(bic=receiver[0], csd_bic=receiver[2]),
        **common,
    )
    receive = instruction(
        "RECE",
        tx=f"{tx}-R",
        safekeeping_account=receiver[1],
        account_owner_bic=receiver[0],
        counterparty=m.Counterparty(bic=deliverer[0], csd_bic=deliverer[2]),
        **common,
    )
    return deliver, receive
