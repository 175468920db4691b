"""Matching of deliver and receive instructions (CSDR RTS 2018/1229 art. 5, as T2S applies it).

Mandatory fields go into a matching key, computed the same way from either side, so that the counterpart
of an instruction is found through an index on (key, side, status) rather than by scanning. Optional
fields are compared afterwards on the few candidates: they match when equal, or when either side left
them blank.
"""

import hashlib
from dataclasses import dataclass

from hub.settlement.models import Side

# the hub settles free of payment only, so payment type, amount and currency drop out of the key
KEY_VERSION = "fop-1"


def matching_key(
    *,
    side: str,
    isin: str,
    quantity,
    trade_date,
    intended_settlement_date,
    sender_bic: str,
    sender_csd_bic: str,
    counterparty_bic: str,
    counterparty_csd_bic: str,
) -> str:
    if side == Side.DELIVER:
        deliverer, receiver = (sender_bic, sender_csd_bic), (counterparty_bic, counterparty_csd_bic)
    else:
        deliverer, receiver = (counterparty_bic, counterparty_csd_bic), (sender_bic, sender_csd_bic)
    fields = [
        KEY_VERSION,
        isin,
        f"{quantity.normalize():f}",
        trade_date.isoformat(),
        intended_settlement_date.isoformat(),
        *deliverer,
        *receiver,
    ]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Compared:
    """What matching reads of an instruction beyond its key: plain values, read for every open candidate
    of a batch's keys without building a model for each."""

    pk: int
    matching_key: str
    side: str
    account_number: str
    common_trade_reference: str
    counterparty_account: str
    client_bic: str
    client_account: str
    counterparty_client_bic: str
    counterparty_client_account: str


# the columns of ``Compared``, in its order, as a query names them
COMPARED_COLUMNS = (
    "pk",
    "matching_key",
    "side",
    "account__number",
    "common_trade_reference",
    "counterparty_account",
    "client_bic",
    "client_account",
    "counterparty_client_bic",
    "counterparty_client_account",
)


def _compatible(a: str, b: str) -> bool:
    return not a or not b or a == b


def optional_fields_match(one: Compared, other: Compared) -> bool:
    """Common trade reference, client BICs and accounts: equal, or blank on either side."""
    return (
        _compatible(one.common_trade_reference, other.common_trade_reference)
        # what one side says of its counterparty must agree with what the counterparty says of itself
        and _compatible(one.counterparty_account, other.account_number)
        and _compatible(other.counterparty_account, one.account_number)
        and _compatible(one.counterparty_client_bic, other.client_bic)
        and _compatible(other.counterparty_client_bic, one.client_bic)
        and _compatible(one.counterparty_client_account, other.client_account)
        and _compatible(other.counterparty_client_account, one.client_account)
    )
