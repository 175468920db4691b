"""Every MX message the MX adapter and the reference CSD exchange validates against the official ISO 20022
schemas (head.001.001.02 and each document), for every kind of message on the wire."""

from decimal import Decimal

import pytest
import requests
from lxml import etree

from csd_adapters.base import InsufficientSecurities, LegNotPrepared, UnknownAccount
from csd_adapters.conformance.suite import empty_account, funded_account, leg_between


@pytest.mark.parametrize("conformance_target", ["iso20022_mx"], indirect=True)
def test_every_mx_message_on_the_wire_validates_against_the_official_schema(conformance_target, wire_schemas):
    target = conformance_target
    debit, credit = funded_account(target), empty_account(target)
    leg = leg_between(target, debit, credit, Decimal(10))
    target.adapter.prepare(leg)
    target.adapter.commit(leg)
    aborted = leg_between(target, debit, credit, Decimal(10))
    target.adapter.prepare(aborted)
    target.adapter.abort(aborted)
    with pytest.raises(InsufficientSecurities):  # semt.014 with a pending reason
        target.adapter.prepare(leg_between(target, debit, credit, Decimal(10_000)))
    with pytest.raises(UnknownAccount):  # semt.014 rejected
        target.adapter.prepare(leg_between(target, "NOSUCH-OWN", credit, Decimal(1)))
    with pytest.raises(LegNotPrepared):  # sese.024 rejected with a proprietary reason
        target.adapter.commit(leg_between(target, debit, credit, Decimal(1)))
    with pytest.raises(UnknownAccount):  # sese.024 rejected with an ISO reason
        unprepared_credit = leg_between(target, debit, "NOSUCH-OWN", Decimal(1))
        target.adapter.prepare(unprepared_credit)
        target.adapter.commit(unprepared_credit)
    today = leg.intended_settlement_date
    target.adapter.holdings(account=debit, as_of=today)
    target.adapter.transactions(account=debit, since=today, until=today)

    assert wire_schemas.errors == []
    assert {
        "head.001.001.02",
        "semt.013.001.06",
        "semt.014.001.07",
        "semt.015.001.09",
        "sese.023.001.11",
        "sese.024.001.12",
        "sese.025.001.11",
        "semt.002.001.11",
        "semt.017.001.12",
    } <= wire_schemas.seen


@pytest.mark.parametrize("conformance_target", ["iso20022_mx"], indirect=True)
def test_the_issuance_accounts_semt002_carries_its_short_position_valid_against_the_official_schema(
    conformance_target, wire_schemas
):
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
    wire_schemas.check(raw.content)
    assert wire_schemas.errors == []
    document = etree.fromstring(raw.content)  # a bare Document: no bic asked for, no AppHdr
    ns = {"d": etree.QName(document).namespace}
    aggregate = document.find("d:SctiesBalCtdyRpt/d:BalForAcct/d:AggtBal", ns)
    assert aggregate.findtext("d:ShrtLngInd", namespaces=ns) == "SHOR"
    assert Decimal(aggregate.findtext("d:Qty/d:Qty/d:Qty/d:Unit", namespaces=ns)) == -held.total


def test_a_message_invalid_against_the_schema_is_caught_by_the_wire_check(wire_schemas):
    from iso20022 import models as m
    from iso20022 import mx

    good = mx.build(
        m.StatusAdvice(
            transaction_id="L1",
            processing=m.ProcessingStatus(
                code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="SAFE"),)
            ),
        )
    )
    before = len(wire_schemas.errors)
    wire_schemas.check(good)
    assert len(wire_schemas.errors) == before
    wire_schemas.check(good.replace(b"<Cd>SAFE</Cd>", b"<Cd>NOPE1</Cd>"))
    assert len(wire_schemas.errors) == before + 1
    del wire_schemas.errors[before:]
