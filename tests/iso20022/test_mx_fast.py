"""The fast readers of the leg path (``iso20022.mx.fast``) return exactly what the general readers
return, or ``None`` to hand the message to them; ``mx.parse`` gives the same result either way."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.mx import fast, head, registry
from iso20022.mx.codec import _node, _split
from tests.iso20022.test_mx_roundtrip import STRATEGIES, headers

FAST = (
    "sese.023.001.11",
    "sese.024.001.12",
    "sese.025.001.11",
    "semt.013.001.06",
    "semt.014.001.07",
    "semt.015.001.09",
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _general_body(message_id: str, element: etree._Element, business_message_id: str | None) -> m.Message:
    version = next(v for v in registry.MESSAGE_VERSIONS if v.message_id == message_id)
    return version.codec.parse(_node(element), business_message_id)


def _trees(xml: bytes):
    """The message as built, and pretty-printed (whitespace between elements)."""
    yield etree.fromstring(xml)
    yield etree.fromstring(etree.tostring(etree.fromstring(xml), pretty_print=True))


@pytest.mark.parametrize("message_id", FAST)
def test_a_fast_body_reader_returns_what_the_general_reader_returns(message_id):
    @SETTINGS
    @given(model=STRATEGIES[message_id], business_message_id=st.none() | st.just("BIZ-1"))
    def check(model, business_message_id):
        for document in _trees(mx.build(model)):
            body = document[0]
            quick = fast.read_body(message_id, body, business_message_id)
            if quick is not None:
                assert quick == _general_body(message_id, body, business_message_id)

    check()


@pytest.mark.parametrize("message_id", FAST)
def test_the_plain_leg_messages_are_read_by_the_fast_reader(message_id):
    @SETTINGS
    @given(model=STRATEGIES[message_id])
    def check(model):
        amount = getattr(model, "settlement_amount", None) or getattr(model, "settled_amount", None)
        if amount is not None:
            return  # cash legs are read by the general reader
        statuses = [getattr(model, name, None) for name in ("processing", "matching", "settlement")]
        if any(status is not None and len(status.reasons) > 1 for status in statuses):
            return  # so are statuses with several reasons
        body = etree.fromstring(mx.build(model))[0]
        assert fast.read_body(message_id, body, None) is not None

    check()


def test_a_fast_header_reader_returns_what_the_general_reader_returns():
    @SETTINGS
    @given(header=headers)
    def check(header):
        header = m.BusinessHeader(**{**_fields(header), "message_definition_id": "semt.015.001.09"})
        xml = mx.build(_a_confirmation(), header=header)
        for envelope in _trees(xml):
            app_header, _ = _split(envelope)
            quick = fast.read_header(app_header)
            assert quick is not None
            assert quick == head.parse(_node(app_header)) == header

    check()


def test_a_header_without_offset_is_read_as_utc_by_both_readers():
    xml = mx.build(_a_confirmation(), header=_a_header()).replace(b"+00:00</CreDt>", b"</CreDt>")
    app_header, _ = _split(etree.fromstring(xml))
    assert fast.read_header(app_header) == head.parse(_node(app_header))
    assert fast.read_header(app_header).creation.tzinfo is dt.UTC


def test_anything_unusual_is_left_to_the_general_reader():
    movement = m.IntraPositionMovement(
        transaction_id="T1",
        security=m.Security(isin="XS000BENCH03"),
        quantity=m.Quantity(amount=1),
        settlement_date=dt.date(2026, 11, 24),
        from_balance=m.SubBalance.AVAILABLE,
        to_balance=m.SubBalance.BLOCKED,
        safekeeping_account="A-OWN",
        linked_reference="L1",
    )
    document = etree.fromstring(mx.build(movement))
    body = document[0]
    assert fast.read_body("semt.013.001.06", body, None) == movement
    links = body.find("{*}Lnkgs")
    body.insert(list(body).index(links), etree.fromstring(etree.tostring(links)))
    assert fast.flatten(body) is None
    assert fast.read_body("semt.013.001.06", body, None) is None
    bad_isin = etree.fromstring(mx.build(movement).replace(b"XS000BENCH03", b"XS000BENCH04"))[0]
    assert fast.read_body("semt.013.001.06", bad_isin, None) is None
    assert fast.read_body("semt.002.001.11", body, None) is None


def _fields(header: m.BusinessHeader) -> dict:
    return {name: getattr(header, name) for name in header.__dataclass_fields__}


def _a_header() -> m.BusinessHeader:
    return m.BusinessHeader(
        from_bic="NADCRUMM",
        to_bic="CSDHUBZZ",
        business_message_id="NADCRUMM-1",
        message_definition_id="semt.015.001.09",
        creation=dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        related_business_message_id="X1",
    )


def _a_confirmation() -> m.IntraPositionConfirmation:
    return m.IntraPositionConfirmation(
        transaction_id="T1",
        security=m.Security(isin="XS000BENCH03"),
        settled_quantity=m.Quantity(amount=1),
        settlement_date=dt.date(2026, 11, 24),
        from_balance=m.SubBalance.AVAILABLE,
        to_balance=m.SubBalance.BLOCKED,
        safekeeping_account="A-OWN",
    )
