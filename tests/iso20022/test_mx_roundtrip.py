"""Every MX message the hub builds, for many generated inputs: valid against the official ISO 20022 schema
and the hub's usage guideline, and parsed back into exactly the model it was built from."""

import dataclasses
import datetime as dt
import string
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import BuildError
from iso20022.identifiers import isin_check_digit
from iso20022.mx import codes, registry
from iso20022.mx.blocks import HUB_TRANSACTION_TYPES
from iso20022.mx.schemas import guideline

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ------------------------------------------------------------------------------------------ strategies

ids = st.text(string.ascii_uppercase + string.digits + "-/", min_size=1, max_size=35)
texts = st.text(
    st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\u2028\u2029"),
    min_size=1,
    max_size=35,
).filter(lambda s: s.strip() != "")
bics = st.from_regex(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", fullmatch=True)
accounts = ids
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))
quantities = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("9999999999999"), places=5)
balances = st.decimals(min_value=Decimal(0), max_value=Decimal("9999999999999"), places=5)
# a contra account (issuance, mirror) is short: semt.002 writes the absolute quantity with ShrtLngInd SHOR
signed_balances = st.decimals(
    min_value=Decimal("-9999999999999"), max_value=Decimal("9999999999999"), places=5
)
currencies = st.sampled_from(["EUR", "USD", "RUB", "ZAR", "KES", "NGN", "EGP", "KZT"])
transaction_types = st.sampled_from(sorted(HUB_TRANSACTION_TYPES))
narratives = st.none() | st.text(
    st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=210
).filter(lambda s: s.strip() != "")


@st.composite
def isins(draw):
    body = draw(st.from_regex(r"[A-Z]{2}[A-Z0-9]{9}", fullmatch=True))
    return body + isin_check_digit(body)


securities = st.builds(m.Security, isin=isins(), description=st.none() | texts)
quantity_values = st.builds(m.Quantity, amount=quantities, type=st.sampled_from(m.QuantityType))
amounts = st.builds(
    m.Amount, value=st.decimals(min_value=0, max_value=Decimal("9999999999"), places=2), currency=currencies
)
counterparties = st.builds(
    m.Counterparty,
    bic=bics,
    csd_bic=bics,
    safekeeping_account=st.none() | accounts,
    client_bic=st.none() | bics,
    client_account=st.none() | accounts,
)
sub_balances = st.sampled_from(m.SubBalance)


def reasons_from(allowed: frozenset[str] | None):
    proprietary = st.builds(
        m.Reason, code=st.from_regex(r"[A-Z0-9]{4}", fullmatch=True), narrative=narratives, issuer=ids
    )
    if allowed is None:
        return st.lists(proprietary, max_size=1).map(tuple)
    iso = st.builds(m.Reason, code=st.sampled_from(sorted(allowed)), narrative=narratives)
    return st.lists(iso | proprietary, max_size=3).map(tuple)


def statuses(cls, elements: dict, code_lists: dict, to_code: dict):
    """A status of model class ``cls`` whose element is one of ``code_lists``, with fitting reasons."""
    return st.sampled_from(sorted(code_lists)).flatmap(
        lambda element: st.builds(
            cls, code=st.just(to_code[element]), reasons=reasons_from(code_lists[element])
        )
    )


def processing(code_lists):
    return statuses(m.ProcessingStatus, codes.PROCESSING_ELEMENTS, code_lists, codes.PROCESSING_CODES)


@st.composite
def instructions(draw):
    payment = draw(st.sampled_from(m.Payment))
    return m.SettlementInstruction(
        transaction_id=draw(ids),
        side=draw(st.sampled_from(m.Side)),
        payment=payment,
        trade_date=draw(dates),
        intended_settlement_date=draw(dates),
        security=draw(securities),
        quantity=draw(quantity_values),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(bics),
        counterparty=draw(counterparties),
        transaction_type=draw(transaction_types),
        common_trade_reference=draw(st.none() | ids),
        settlement_amount=draw(amounts)
        if payment is m.Payment.AGAINST_PAYMENT
        else draw(st.none() | amounts),
        client_bic=draw(st.none() | bics),
        client_account=draw(st.none() | accounts),
        own_csd_bic=draw(st.none() | bics),
    )


transaction_details = st.builds(
    m.TransactionDetails,
    side=st.sampled_from(m.Side),
    payment=st.sampled_from(m.Payment),
    security=securities,
    quantity=quantity_values,
    intended_settlement_date=dates,
    trade_date=st.none() | dates,
    safekeeping_account=st.none() | accounts,
    account_owner_bic=st.none() | bics,
    counterparty=st.none() | counterparties,
    transaction_type=transaction_types,
)

status_advices = st.builds(
    m.StatusAdvice,
    transaction_id=ids,
    account_servicer_transaction_id=st.none() | ids,
    market_infrastructure_transaction_id=st.none() | ids,
    processing=st.none() | processing(codes.SESE024_PROCESSING),
    matching=st.none()
    | statuses(m.MatchingStatus, codes.MATCHING_ELEMENTS, codes.SESE024_MATCHING, codes.MATCHING_CODES),
    settlement=st.none()
    | statuses(
        m.SettlementStatus, codes.SETTLEMENT_ELEMENTS, codes.SESE024_SETTLEMENT, codes.SETTLEMENT_CODES
    ),
    details=st.none() | transaction_details,
)

confirmations = st.builds(
    m.SettlementConfirmation,
    transaction_id=ids,
    side=st.sampled_from(m.Side),
    payment=st.sampled_from(m.Payment),
    effective_settlement_date=dates,
    security=securities,
    settled_quantity=quantity_values,
    safekeeping_account=accounts,
    account_owner_bic=bics,
    counterparty=counterparties,
    account_servicer_transaction_id=st.none() | ids,
    market_infrastructure_transaction_id=st.none() | ids,
    trade_date=st.none() | dates,
    transaction_type=transaction_types,
    common_trade_reference=st.none() | ids,
    settled_amount=st.none() | amounts,
)


@st.composite
def cancellation_requests(draw):
    with_details = draw(st.booleans())
    return m.CancellationRequest(
        transaction_id=draw(ids),
        side=draw(st.sampled_from(m.Side)),
        payment=draw(st.sampled_from(m.Payment)),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(st.none() | bics),
        account_servicer_transaction_id=draw(st.none() | ids),
        security=draw(securities) if with_details else None,
        quantity=draw(quantity_values) if with_details else None,
        intended_settlement_date=draw(dates) if with_details else None,
    )


@st.composite
def cancellation_statuses(draw):
    with_details = draw(st.booleans())
    return m.CancellationStatus(
        cancellation_request_reference=draw(ids),
        transaction_id=draw(ids),
        side=draw(st.sampled_from(m.Side)),
        payment=draw(st.sampled_from(m.Payment)),
        processing=draw(processing(codes.SESE027_PROCESSING)),
        account_servicer_transaction_id=draw(st.none() | ids),
        safekeeping_account=draw(st.none() | accounts) if with_details else None,
        account_owner_bic=draw(st.none() | bics) if with_details else None,
        security=draw(securities) if with_details else None,
        quantity=draw(quantity_values) if with_details else None,
        intended_settlement_date=draw(dates) if with_details else None,
    )


movements = st.builds(
    m.IntraPositionMovement,
    transaction_id=ids,
    security=securities,
    quantity=quantity_values,
    settlement_date=dates,
    from_balance=sub_balances,
    to_balance=sub_balances,
    safekeeping_account=accounts,
    account_owner_bic=st.none() | bics,
    linked_reference=st.none() | ids,
)


@st.composite
def intra_position_statuses(draw):
    with_details = draw(st.booleans())
    return m.IntraPositionStatus(
        transaction_id=draw(ids),
        account_servicer_transaction_id=draw(st.none() | ids),
        processing=draw(st.none() | processing(codes.SEMT014_PROCESSING)),
        settlement=draw(
            st.none()
            | statuses(
                m.SettlementStatus,
                codes.SETTLEMENT_ELEMENTS,
                codes.SEMT014_SETTLEMENT,
                codes.SETTLEMENT_CODES,
            )
        ),
        security=draw(securities) if with_details else None,
        quantity=draw(quantity_values) if with_details else None,
        settlement_date=draw(dates) if with_details else None,
        safekeeping_account=draw(st.none() | accounts) if with_details else None,
        account_owner_bic=draw(st.none() | bics) if with_details else None,
        from_balance=draw(st.none() | sub_balances) if with_details else None,
        to_balance=draw(st.none() | sub_balances) if with_details else None,
    )


intra_position_confirmations = st.builds(
    m.IntraPositionConfirmation,
    transaction_id=ids,
    security=securities,
    settled_quantity=quantity_values,
    settlement_date=dates,
    from_balance=sub_balances,
    to_balance=sub_balances,
    safekeeping_account=accounts,
    account_owner_bic=st.none() | bics,
    account_servicer_transaction_id=st.none() | ids,
)

holding_balances = st.builds(
    m.HoldingBalance,
    security=securities,
    aggregate=signed_balances,
    quantity_type=st.sampled_from(m.QuantityType),
    available=st.none() | signed_balances,
    not_available=st.none() | balances,  # NotAvlblBal has no ShrtLngInd
    sub_balances=st.lists(
        st.builds(m.SubBalanceQuantity, balance=sub_balances, quantity=signed_balances), max_size=4
    ).map(tuple),
)

statement_codes = {
    "frequency": st.sampled_from(sorted(codes.STATEMENT_FREQUENCIES)),
    "update_type": st.sampled_from(sorted(codes.STATEMENT_UPDATE_TYPES)),
    "page_number": st.integers(min_value=1, max_value=99999),
    "last_page": st.booleans(),
    "statement_id": st.none() | ids,
    "account_owner_bic": st.none() | bics,
    "safekeeping_account": accounts,
}

holdings_statements = st.builds(
    m.HoldingsStatement,
    statement_date=dates,
    balances=st.lists(holding_balances, max_size=5).map(tuple),
    basis=st.sampled_from(sorted(codes.HOLDINGS_BASES)),
    **statement_codes,
)

statement_movements = st.builds(
    m.StatementMovement,
    security=st.sampled_from(
        [m.Security(isin="US0378331005"), m.Security(isin="RU000A0JX0J2", description="OFZ")]
    )
    | securities,
    transaction_id=ids,
    quantity=quantity_values,
    credit_debit=st.sampled_from(m.CreditDebit),
    settlement_date=dates,
    account_servicer_transaction_id=st.none() | ids,
    market_infrastructure_transaction_id=st.none() | ids,
    payment=st.sampled_from(m.Payment),
    transaction_type=transaction_types,
)

transactions_statements = st.builds(
    m.TransactionsStatement,
    period_start=dates,
    period_end=dates,
    movements=st.lists(statement_movements, max_size=6).map(tuple),
    basis=st.sampled_from(sorted(codes.TRANSACTIONS_BASES)),
    **statement_codes,
)

headers = st.builds(
    m.BusinessHeader,
    from_bic=bics,
    to_bic=bics,
    business_message_id=ids,
    message_definition_id=st.just("placeholder"),
    creation=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2099, 12, 31),
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=3)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]
        ),
    ),
    business_service=st.none() | ids,
    related_business_message_id=st.none() | ids,
)

STRATEGIES = {
    "sese.023.001.11": instructions(),
    "sese.024.001.12": status_advices,
    "sese.025.001.11": confirmations,
    "sese.020.001.07": cancellation_requests(),
    "sese.027.001.07": cancellation_statuses(),
    "semt.013.001.06": movements,
    "semt.014.001.07": intra_position_statuses(),
    "semt.015.001.09": intra_position_confirmations,
    "semt.002.001.11": holdings_statements,
    "semt.017.001.12": transactions_statements,
}

# ------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def official(reference_dir):
    @cache
    def schema(message_id: str) -> etree.XMLSchema:
        return etree.XMLSchema(etree.parse(str(reference_dir / "xsd" / f"{message_id}.xsd")))

    return schema


def assert_valid(schema: etree.XMLSchema, element: etree._Element, what: str) -> None:
    assert schema.validate(element), f"{what}: {[e.message for e in schema.error_log]}"


# --------------------------------------------------------------------------------------------- tests


def test_every_supported_message_has_a_generator():
    assert set(STRATEGIES) == set(mx.supported())


@pytest.mark.parametrize("message_id", sorted(STRATEGIES))
def test_built_message_is_valid_against_official_schema_and_parses_back_equal(message_id, official):
    @SETTINGS
    @given(model=STRATEGIES[message_id])
    def check(model):
        xml = mx.build(model)
        document = etree.fromstring(xml)
        assert etree.QName(document).namespace == registry.ISO_NAMESPACE_PREFIX + message_id
        assert_valid(official(message_id), document, "official")
        assert_valid(guideline(f"{message_id}.xsd"), document, "usage guideline")
        parsed = mx.parse(xml)
        assert parsed.message_id == message_id
        assert parsed.header is None
        assert parsed.body == model

    check()


@pytest.mark.parametrize("message_id", sorted(STRATEGIES))
def test_enveloped_message_carries_a_valid_header_and_parses_back_equal(message_id, official):
    @SETTINGS
    @given(model=STRATEGIES[message_id], header=headers)
    def check(model, header):
        header = _with_definition(header, message_id)
        if hasattr(model, "business_message_id"):
            model = _replace(model, business_message_id=header.business_message_id)
        xml = mx.build(model, header=header)
        envelope = etree.fromstring(xml)
        assert etree.QName(envelope).localname == mx.ENVELOPE_ROOT
        app_header, document = envelope
        assert_valid(official("head.001.001.02"), app_header, "official header")
        assert_valid(official(message_id), document, "official document")
        parsed = mx.parse(xml)
        assert parsed.header == header
        assert parsed.body == model

    check()


def test_a_decimal_quantity_is_written_without_exponent_or_trailing_zeros():
    model = an_instruction(quantity=m.Quantity(amount=Decimal("1E+3")))
    xml = mx.build(model).decode()
    assert "<Unit>1000</Unit>" in xml
    model = an_instruction(quantity=m.Quantity(amount=Decimal("12.50000")))
    assert "<Unit>12.5</Unit>" in mx.build(model).decode()


def _with_definition(header: m.BusinessHeader, message_id: str) -> m.BusinessHeader:
    return _replace(header, message_definition_id=message_id)


def _replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


def an_instruction(**changes):
    """One fixed, valid model to edit in example-based tests."""
    model = m.SettlementInstruction(
        transaction_id="TX-1",
        side=m.Side.DELIVER,
        payment=m.Payment.FREE,
        trade_date=dt.date(2026, 11, 23),
        intended_settlement_date=dt.date(2026, 11, 25),
        security=m.Security(isin="RU000A0JX0J2"),
        quantity=m.Quantity(amount=Decimal(100)),
        safekeeping_account="NSD-001",
        account_owner_bic="PARTRUMM",
        counterparty=m.Counterparty(bic="BANKZAJJ", csd_bic="STRAZAJJ", safekeeping_account="ZA-7"),
    )
    return _replace(model, **changes)


def a_short_holding(**changes):
    """The issuance account of an issuer CSD: short by what it issued, nothing blocked."""
    balance = m.HoldingBalance(
        security=m.Security(isin="RU000A0JX0J2"),
        aggregate=Decimal(-500000),
        available=Decimal(-500000),
        not_available=Decimal(0),
    )
    return m.HoldingsStatement(
        statement_date=dt.date(2026, 11, 24),
        safekeeping_account="ISSUANCE",
        balances=(_replace(balance, **changes),),
    )


def test_a_short_position_is_written_as_shor_with_its_absolute_quantity_and_read_back_negative(official):
    model = a_short_holding(
        sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.PLEDGED, quantity=Decimal("-2.5")),)
    )
    document = etree.fromstring(mx.build(model))
    assert_valid(official("semt.002.001.11"), document, "official")
    assert_valid(guideline("semt.002.001.11.xsd"), document, "usage guideline")
    ns = {"d": etree.QName(document).namespace}
    line = document.find("d:SctiesBalCtdyRpt/d:BalForAcct", ns)
    assert line.findtext("d:AggtBal/d:ShrtLngInd", namespaces=ns) == "SHOR"
    assert line.findtext("d:AggtBal/d:Qty/d:Qty/d:Qty/d:Unit", namespaces=ns) == "500000"
    assert line.findtext("d:AvlblBal/d:ShrtLngInd", namespaces=ns) == "SHOR"
    assert line.findtext("d:AvlblBal/d:Qty/d:Qty/d:Unit", namespaces=ns) == "500000"
    assert line.findtext("d:BalBrkdwn/d:Qty/d:ShrtLngInd", namespaces=ns) == "SHOR"
    assert line.findtext("d:BalBrkdwn/d:Qty/d:Qty/d:Qty/d:Unit", namespaces=ns) == "2.5"
    assert mx.parse(mx.build(model)).body == model


def test_a_long_available_balance_may_carry_an_explicit_long_indicator():
    xml = mx.build(a_short_holding(aggregate=Decimal(7), available=Decimal(7))).decode()
    assert "<ShrtLngInd>SHOR</ShrtLngInd>" not in xml
    explicit = xml.replace("<AvlblBal>", "<AvlblBal><ShrtLngInd>LONG</ShrtLngInd>")
    assert explicit.count("<ShrtLngInd>LONG</ShrtLngInd>") == 2  # AggtBal's and AvlblBal's
    assert mx.parse(explicit.encode()).body.balances[0].available == Decimal(7)


def test_a_short_not_available_balance_cannot_be_written_because_semt002_has_no_indicator_for_it():
    with pytest.raises(BuildError, match="NotAvlblBal carries no ShrtLngInd"):
        mx.build(a_short_holding(aggregate=Decimal(-3), available=Decimal(0), not_available=Decimal(-3)))
