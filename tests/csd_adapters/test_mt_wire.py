"""The MT adapter and a reference CSD speaking MT use every message of the Strate mapping: MT524 and MT508
for reservations, MT540 and MT542 matched into a delivery confirmed by MT544 and MT546, MT548 for
statuses, MT535 and MT536 for statements."""

from decimal import Decimal

import pytest
import requests

from csd_adapters.base import InsufficientSecurities, LegState
from csd_adapters.conformance.suite import empty_account, funded_account, leg_between
from iso20022.mt.fields import format_decimal


@pytest.mark.parametrize("conformance_target", ["iso15022_mt"], indirect=True)
def test_every_message_type_of_the_mt_mapping_is_used_on_the_wire(conformance_target, wire_types):
    target = conformance_target
    debit, credit = funded_account(target), empty_account(target)
    leg = leg_between(target, debit, credit, Decimal(10))
    target.adapter.prepare(leg)
    first = target.adapter.commit(leg)  # MT540 -> MT548 unmatched, MT542 -> MT546
    assert target.adapter.commit(leg) == first  # replayed: MT540 -> MT544, MT542 -> MT546
    aborted = leg_between(target, debit, credit, Decimal(10))
    target.adapter.prepare(aborted)
    assert target.adapter.abort(aborted).state is LegState.ABORTED
    with pytest.raises(InsufficientSecurities):
        target.adapter.prepare(leg_between(target, debit, credit, Decimal(10_000)))
    today = first.settlement_date
    target.adapter.holdings(account=debit, as_of=today)
    target.adapter.transactions(account=debit, since=today, until=today)
    assert {
        "MT524",
        "MT508",
        "MT540",
        "MT542",
        "MT544",
        "MT546",
        "MT548",
        "MT535",
        "MT536",
    } <= wire_types.seen


@pytest.mark.parametrize("conformance_target", ["iso15022_mt"], indirect=True)
def test_the_issuance_accounts_mt535_carries_its_short_position_with_the_n_sign(conformance_target):
    target = conformance_target
    debit, credit = funded_account(target), empty_account(target)
    leg = leg_between(target, debit, credit, Decimal(1))
    target.adapter.prepare(leg)
    today = target.adapter.commit(leg).settlement_date
    held = target.adapter.holdings(account="ISSUANCE", as_of=today).position(target.isin)
    assert held.total < 0 and held.blocked == 0
    raw = requests.get(
        target.control.base_url + "/statements/holdings",
        params={"account": "ISSUANCE", "date": today.isoformat()},
        timeout=10,
    )
    assert raw.status_code == 200
    assert f":93B::AGGR//UNIT/N{format_decimal(-held.total)}" in raw.text
