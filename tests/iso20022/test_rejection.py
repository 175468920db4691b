"""A refusal names the message it refuses: the references are read from whatever of it can be read."""

import datetime as dt
from decimal import Decimal

from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import build_mt
from iso20022.rejection import References, mt_references, mx_references

CANCELLATION = m.CancellationRequest(
    transaction_id="TX-TO-CANCEL",
    side=m.Side.DELIVER,
    payment=m.Payment.FREE,
    safekeeping_account="NSD-001",
    account_owner_bic="PARTRUMM",
    business_message_id="CXL-1",
    security=m.Security(isin="RU000A0JX0J2"),
    quantity=m.Quantity(amount=Decimal(100)),
    intended_settlement_date=dt.date(2026, 11, 26),
)
HEADER = m.BusinessHeader(
    from_bic="PARTRUMM",
    to_bic="HUBBRUMM",
    business_message_id="BMI-7",
    message_definition_id="sese.020.001.07",
    creation=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
)


def test_an_mx_message_of_a_version_the_hub_does_not_read_still_names_its_references():
    raw = mx.build(CANCELLATION, header=HEADER).replace(b"sese.020.001.07", b"sese.020.001.05")
    assert mx_references(raw) == References(transaction_id="TX-TO-CANCEL", business_message_id="BMI-7")


def test_an_mx_reference_that_is_empty_too_long_or_not_text_is_left_out():
    raw = mx.build(CANCELLATION, header=HEADER)
    assert mx_references(raw.replace(b">TX-TO-CANCEL<", b">" + b"X" * 36 + b"<")).transaction_id is None
    assert mx_references(raw.replace(b">BMI-7<", b">   <")).business_message_id is None
    assert mx_references(raw.replace(b">BMI-7<", b"><Id>BMI-7</Id><")).business_message_id is None
    assert mx_references(raw[:150]) == References()  # not well-formed: nothing to read


def test_an_mt_reference_is_read_past_a_field_the_syntax_refuses():
    raw = build_mt(CANCELLATION, sender="PARTRUMM", receiver="HUBBRUMM")
    assert mt_references(raw) == References(transaction_id="CXL-1")
    assert mt_references(raw.replace("20261126", "20260230")) == References(transaction_id="CXL-1")
    assert mt_references(raw.replace(":20C::SEME//CXL-1", ":20C::SEME//CXL{1")) == References()
    assert mt_references("{1:F01PARTRUMMAXXX0000000000}") == References()
