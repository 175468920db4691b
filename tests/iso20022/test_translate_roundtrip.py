"""Property: MX -> MT -> MX and MT -> MX -> MT keep every mapped field, for generated messages, and the
MX translated from an MT is valid against the official ISO 20022 schemas.

The strategies generate models that both syntaxes can carry (see ``iso20022/MAPPING.md``): references
of at most 16 SWIFT characters, text in the SWIFT x character set, quantities that fit 15 characters,
and the ISO code lists the MX builders accept.
"""

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.identifiers import isin_check_digit
from iso20022.mt import build_mt, parse_fin, parse_mt
from iso20022.mx import codes
from iso20022.mx.blocks import HUB_TRANSACTION_TYPES
from iso20022.translate import mt_to_mx, mx_to_mt

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

references = st.from_regex(r"[A-Z0-9][A-Z0-9\-]{0,15}", fullmatch=True).filter(lambda r: r != "NONREF")
bics = st.from_regex(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", fullmatch=True)
accounts = st.from_regex(r"[A-Z0-9][A-Z0-9\-]{0,33}[A-Z0-9]", fullmatch=True)
words = st.from_regex(r"[A-Z0-9][A-Z0-9 .,:\-]{0,120}[A-Z0-9]", fullmatch=True)
narratives = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,()':\-]{0,190}[A-Za-z0-9]", fullmatch=True)
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
transaction_types = st.sampled_from(sorted(HUB_TRANSACTION_TYPES))
sides = st.sampled_from(list(m.Side))
payments = st.sampled_from(list(m.Payment))
quantity_types = st.sampled_from(list(m.QuantityType))


@st.composite
def isins(draw):
    body = draw(st.from_regex(r"[A-Z]{2}[A-Z0-9]{9}", fullmatch=True))
    return body + isin_check_digit(body)


@st.composite
def decimals(draw, places=4):
    whole = draw(st.integers(min_value=0, max_value=10**9))
    fraction = draw(st.integers(min_value=0, max_value=10**places - 1))
    value = Decimal(whole) + Decimal(fraction).scaleb(-places)
    return value if value > 0 else Decimal(1)


@st.composite
def signed_decimals(draw, places=4):
    """A balance, long or short: a contra account's position travels as ``N`` (MT) or ``SHOR`` (MX)."""
    value = draw(decimals(places))
    return -value if draw(st.booleans()) else value


securities = st.builds(
    lambda isin, description: m.Security(isin=isin, description=description), isins(), st.none() | words
)
quantities = st.builds(lambda amount, kind: m.Quantity(amount=amount, type=kind), decimals(), quantity_types)
amounts = st.builds(
    lambda value, currency: m.Amount(value=value, currency=currency),
    decimals(places=2),
    st.sampled_from(["EUR", "USD", "RUB", "ZAR", "KZT"]),
)


@st.composite
def counterparties(draw):
    client_bic = draw(st.none() | bics)
    return m.Counterparty(
        bic=draw(bics),
        csd_bic=draw(bics),
        safekeeping_account=draw(st.none() | accounts),
        client_bic=client_bic,
        client_account=draw(st.none() | accounts) if client_bic else None,
    )


def reasons_for(allowed):
    """Reasons an MX status accepts: ISO codes of its list, or one proprietary code with an issuer."""
    proprietary = st.builds(
        lambda code, issuer, text: m.Reason(code=code, issuer=issuer, narrative=text),
        st.from_regex(r"[A-Z0-9]{4}", fullmatch=True),
        st.from_regex(r"[A-Z]{4,8}", fullmatch=True),
        st.none() | narratives,
    )
    if allowed is None:
        return st.lists(proprietary, max_size=1).map(tuple)
    iso = st.builds(
        lambda code, text: m.Reason(code=code, narrative=text),
        st.sampled_from(sorted(allowed)),
        st.none() | narratives,
    )
    return st.lists(iso | proprietary, max_size=2).map(tuple)


def statuses(model, elements, code_lists):
    """A status whose code maps to an element of ``code_lists`` (element -> reason code list)."""
    usable = sorted((code for code, element in elements.items() if element in code_lists), key=str)
    return st.sampled_from(usable).flatmap(
        lambda code: reasons_for(code_lists[elements[code]]).map(lambda rs: model(code=code, reasons=rs))
    )


@st.composite
def instructions(draw):
    payment = draw(payments)
    client_bic = draw(st.none() | bics)
    return m.SettlementInstruction(
        transaction_id=draw(references),
        side=draw(sides),
        payment=payment,
        trade_date=draw(dates),
        intended_settlement_date=draw(dates),
        security=draw(securities),
        quantity=draw(quantities),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(bics),
        counterparty=draw(counterparties()),
        transaction_type=draw(transaction_types),
        common_trade_reference=draw(st.none() | references),
        settlement_amount=draw(amounts) if payment is m.Payment.AGAINST_PAYMENT else None,
        client_bic=client_bic,
        client_account=draw(st.none() | accounts) if client_bic else None,
        own_csd_bic=draw(st.none() | bics),
    )


@st.composite
def confirmations(draw):
    payment = draw(payments)
    return m.SettlementConfirmation(
        transaction_id=draw(references),
        side=draw(sides),
        payment=payment,
        effective_settlement_date=draw(dates),
        security=draw(securities),
        settled_quantity=draw(quantities),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(bics),
        counterparty=draw(counterparties()),
        account_servicer_transaction_id=draw(st.none() | references),
        market_infrastructure_transaction_id=draw(st.none() | references),
        trade_date=draw(st.none() | dates),
        transaction_type=draw(transaction_types),
        common_trade_reference=draw(st.none() | references),
        settled_amount=draw(amounts) if payment is m.Payment.AGAINST_PAYMENT else None,
    )


@st.composite
def status_advices(draw):
    details = draw(
        st.none()
        | st.builds(
            lambda side, payment, security, quantity, day, trade, account, owner, cp, tx: (
                m.TransactionDetails(
                    side=side,
                    payment=payment,
                    security=security,
                    quantity=quantity,
                    intended_settlement_date=day,
                    trade_date=trade,
                    safekeeping_account=account,
                    account_owner_bic=owner,
                    counterparty=cp,
                    transaction_type=tx,
                )
            ),
            sides,
            payments,
            securities,
            quantities,
            dates,
            st.none() | dates,
            accounts,  # MT548 gives details only with their account
            st.none() | bics,
            st.none() | counterparties(),
            transaction_types,
        )
    )
    return m.StatusAdvice(
        transaction_id=draw(references),
        account_servicer_transaction_id=draw(st.none() | references),
        market_infrastructure_transaction_id=draw(st.none() | references),
        processing=draw(statuses(m.ProcessingStatus, codes.PROCESSING_ELEMENTS, codes.SESE024_PROCESSING)),
        matching=draw(
            st.none() | statuses(m.MatchingStatus, codes.MATCHING_ELEMENTS, codes.SESE024_MATCHING)
        ),
        settlement=draw(
            st.none() | statuses(m.SettlementStatus, codes.SETTLEMENT_ELEMENTS, codes.SESE024_SETTLEMENT)
        ),
        details=details,
    )


@st.composite
def cancellation_requests(draw):
    return m.CancellationRequest(
        transaction_id=draw(references),
        side=draw(sides),
        payment=draw(payments),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(bics),
        business_message_id=draw(references),
        account_servicer_transaction_id=draw(st.none() | references),
        security=draw(securities),
        quantity=draw(quantities),
        intended_settlement_date=draw(dates),
    )


@st.composite
def cancellation_statuses(draw):
    with_details = draw(st.booleans())
    return m.CancellationStatus(
        cancellation_request_reference=draw(references),
        transaction_id=draw(references),
        side=draw(sides),
        payment=draw(payments),
        processing=draw(statuses(m.ProcessingStatus, codes.PROCESSING_ELEMENTS, codes.SESE027_PROCESSING)),
        account_servicer_transaction_id=draw(st.none() | references),
        safekeeping_account=draw(accounts) if with_details else None,  # MT548: details with their account
        account_owner_bic=draw(st.none() | bics) if with_details else None,
        security=draw(securities) if with_details else None,
        quantity=draw(quantities) if with_details else None,
        intended_settlement_date=draw(dates) if with_details else None,
    )


def balances(allowed):
    return st.sampled_from(sorted((b for b in m.SubBalance if b.value in allowed), key=str))


@st.composite
def movements(draw):
    return m.IntraPositionMovement(
        transaction_id=draw(references),
        security=draw(securities),
        quantity=draw(quantities),
        settlement_date=draw(dates),
        from_balance=draw(balances(codes.BALANCE_11)),
        to_balance=draw(balances(codes.BALANCE_11)),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(st.none() | bics),
        linked_reference=draw(st.none() | references),
    )


@st.composite
def intra_confirmations(draw):
    return m.IntraPositionConfirmation(
        transaction_id=draw(references),
        security=draw(securities),
        settled_quantity=draw(quantities),
        settlement_date=draw(dates),
        from_balance=draw(balances(codes.BALANCE_11)),
        to_balance=draw(balances(codes.BALANCE_11)),
        safekeeping_account=draw(accounts),
        account_owner_bic=draw(st.none() | bics),
        account_servicer_transaction_id=draw(st.none() | references),
    )


@st.composite
def intra_statuses(draw):
    processing = draw(
        st.none() | statuses(m.ProcessingStatus, codes.PROCESSING_ELEMENTS, codes.SEMT014_PROCESSING)
    )
    settlement = draw(
        statuses(m.SettlementStatus, codes.SETTLEMENT_ELEMENTS, codes.SEMT014_SETTLEMENT)
        if processing is None
        else st.none() | statuses(m.SettlementStatus, codes.SETTLEMENT_ELEMENTS, codes.SEMT014_SETTLEMENT)
    )
    details = draw(st.booleans())
    return m.IntraPositionStatus(
        transaction_id=draw(references),
        account_servicer_transaction_id=draw(st.none() | references),
        processing=processing,
        settlement=settlement,
        security=draw(securities) if details else None,
        quantity=draw(quantities) if details else None,
        settlement_date=draw(dates) if details else None,
        safekeeping_account=draw(st.none() | accounts) if details else None,
        account_owner_bic=draw(st.none() | bics) if details else None,
        from_balance=draw(st.none() | balances(codes.BALANCE_13)) if details else None,
        to_balance=draw(st.none() | balances(codes.BALANCE_13)) if details else None,
    )


def _page(draw):
    page = draw(st.integers(min_value=1, max_value=99999))
    return {"page_number": page, "last_page": draw(st.booleans())}


@st.composite
def holdings(draw):
    def balance(quantity_type):
        return st.builds(
            lambda security, aggregate, available, not_available, subs: m.HoldingBalance(
                security=security,
                aggregate=aggregate,
                quantity_type=quantity_type,
                available=available,
                not_available=not_available,
                sub_balances=subs,
            ),
            securities,
            signed_decimals(),
            st.none() | signed_decimals(),
            st.none() | decimals(),  # semt.002 NotAvlblBal has no ShrtLngInd: never short across
            st.lists(
                st.builds(
                    lambda b, q: m.SubBalanceQuantity(balance=b, quantity=q),
                    balances(codes.BALANCE_12),
                    signed_decimals(),
                ),
                max_size=3,
            ).map(tuple),
        )

    return m.HoldingsStatement(
        statement_date=draw(dates),
        safekeeping_account=draw(accounts),
        balances=tuple(draw(st.lists(quantity_types.flatmap(balance), max_size=4))),
        account_owner_bic=draw(st.none() | bics),
        statement_id=draw(st.none() | references),
        **_page(draw),
        frequency=draw(st.sampled_from(sorted(codes.STATEMENT_FREQUENCIES))),
        update_type=draw(st.sampled_from(sorted(codes.STATEMENT_UPDATE_TYPES))),
        basis=draw(st.sampled_from(sorted(codes.HOLDINGS_BASES))),
    )


@st.composite
def transaction_statements(draw):
    pool = draw(st.lists(securities, min_size=1, max_size=3))
    postings = st.builds(
        lambda security, ref, quantity, cd, day, asrf, miti, payment, tx: m.StatementMovement(
            security=security,
            transaction_id=ref,
            quantity=quantity,
            credit_debit=cd,
            settlement_date=day,
            account_servicer_transaction_id=asrf,
            market_infrastructure_transaction_id=miti,
            payment=payment,
            transaction_type=tx,
        ),
        st.sampled_from(pool),
        references,
        quantities,
        st.sampled_from(list(m.CreditDebit)),
        dates,
        st.none() | references,
        st.none() | references,
        payments,
        transaction_types,
    )
    start = draw(dates)
    return m.TransactionsStatement(
        period_start=start,
        period_end=start + dt.timedelta(days=draw(st.integers(0, 31))),
        safekeeping_account=draw(accounts),
        movements=tuple(draw(st.lists(postings, max_size=6))),
        account_owner_bic=draw(st.none() | bics),
        statement_id=draw(st.none() | references),
        **_page(draw),
        frequency=draw(st.sampled_from(sorted(codes.STATEMENT_FREQUENCIES))),
        update_type=draw(st.sampled_from(sorted(codes.STATEMENT_UPDATE_TYPES))),
        basis=draw(st.sampled_from(sorted(codes.TRANSACTIONS_BASES))),
    )


ANY_MESSAGE = st.one_of(
    instructions(),
    confirmations(),
    status_advices(),
    cancellation_requests(),
    cancellation_statuses(),
    movements(),
    intra_confirmations(),
    intra_statuses(),
    holdings(),
    transaction_statements(),
)


def _with_header_id(model, business_message_id):
    """The MX parsers fill ``business_message_id`` (instruction, cancellation request) from the AppHdr."""
    if isinstance(model, m.SettlementInstruction | m.CancellationRequest):
        return dataclasses.replace(model, business_message_id=business_message_id)
    return model


def _bic11(bic):
    """FIN addresses are 12-character LT addresses: a BIC8 comes back with the branch XXX."""
    return bic if len(bic) == 11 else bic + "XXX"


@PROPERTY
@given(model=ANY_MESSAGE, header_id=references, sender=bics, receiver=bics)
def test_mx_to_mt_to_mx_keeps_every_mapped_field(model, header_id, sender, receiver):
    model = _with_header_id(model, header_id)
    header = m.BusinessHeader(
        from_bic=sender,
        to_bic=receiver,
        business_message_id=header_id,
        message_definition_id=mx.message_id_for(model),
        creation=dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC),
    )
    original = mx.build(model, header=header)
    back = mx.parse(mt_to_mx(mx_to_mt(original).content).content)
    assert back.body == model
    assert back.message_id == mx.message_id_for(model)
    assert (back.header.from_bic, back.header.to_bic, back.header.business_message_id) == (
        _bic11(sender),
        _bic11(receiver),
        header_id,
    )


_SCHEMAS: dict[str, etree.XMLSchema] = {}


def _assert_officially_valid(envelope: bytes, reference_dir) -> None:
    for part in etree.fromstring(envelope):
        message_id = etree.QName(part).namespace.rsplit(":", 1)[1]
        if message_id not in _SCHEMAS:
            _SCHEMAS[message_id] = etree.XMLSchema(
                etree.parse(str(reference_dir / "xsd" / f"{message_id}.xsd"))
            )
        _SCHEMAS[message_id].assertValid(part)


@PROPERTY
@given(model=ANY_MESSAGE, sender=bics, receiver=bics)
def test_mt_to_mx_to_mt_keeps_every_mapped_field(model, sender, receiver, reference_dir):
    original = build_mt(model, sender=sender, receiver=receiver)
    translated = mt_to_mx(original).content
    _assert_officially_valid(translated, reference_dir)
    back = mx_to_mt(translated).content.decode()
    assert parse_mt(back) == parse_mt(original)
    before, after = parse_fin(original), parse_fin(back)
    assert after.text == before.text  # block 4 field for field, sequence for sequence
    assert (after.sender, after.receiver, after.message_type) == (
        before.sender,
        before.receiver,
        before.message_type,
    )


@PROPERTY
@given(model=holdings(), short_not_available=st.booleans())
def test_an_mt535_builds_and_parses_back_to_its_model_with_long_and_short_balances(
    model, short_not_available
):
    if short_not_available:  # MT535 carries the N sign on every balance, NAVL included
        model = dataclasses.replace(
            model,
            balances=tuple(
                dataclasses.replace(b, not_available=-b.not_available if b.not_available else Decimal(-1))
                for b in model.balances
            ),
        )
    text = build_mt(model)
    assert parse_mt(text) == model
    assert build_mt(parse_mt(text)) == text
