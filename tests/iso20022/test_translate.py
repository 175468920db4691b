"""MT <-> MX translation on worked examples: each pair, both ways, output valid against the official XSD."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import BuildError, MalformedMessage, ReasonCode, UnsupportedMessage
from iso20022.mt import build_mt, parse_fin, parse_mt
from iso20022.translate import MT, MX, detect, mt_to_mx, mx_to_mt, translate

GAZPROM = m.Security(isin="RU0007661625", description="GAZPROM ORD SHS")
DAY = dt.date(2026, 11, 24)

PAIRS = {
    "MT543 -> sese.023": m.SettlementInstruction(
        transaction_id="DVP-1",
        side=m.Side.DELIVER,
        payment=m.Payment.AGAINST_PAYMENT,
        trade_date=DAY,
        intended_settlement_date=DAY,
        security=GAZPROM,
        quantity=m.Quantity(amount=Decimal(1500)),
        safekeeping_account="MS001",
        account_owner_bic="BANKRUMMXXX",
        counterparty=m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX", safekeeping_account="ZA-7"),
        settlement_amount=m.Amount(value=Decimal("245000.5"), currency="RUB"),
        own_csd_bic="NADCRUMMXXX",
    ),
    "MT546 -> sese.025": m.SettlementConfirmation(
        transaction_id="DVP-1",
        side=m.Side.DELIVER,
        payment=m.Payment.FREE,
        effective_settlement_date=DAY,
        security=GAZPROM,
        settled_quantity=m.Quantity(amount=Decimal(1500)),
        safekeeping_account="MS001",
        account_owner_bic="BANKRUMMXXX",
        counterparty=m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX"),
        account_servicer_transaction_id="HUB-1",
    ),
    "MT548 -> sese.024": m.StatusAdvice(
        transaction_id="DVP-1",
        processing=m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=(m.Reason(code="SAFE", narrative="SAFEKEEPING ACCOUNT MS001 IS NOT KNOWN AT THE HUB"),),
        ),
    ),
    "MT524 -> semt.013": m.IntraPositionMovement(
        transaction_id="RSV-1",
        security=GAZPROM,
        quantity=m.Quantity(amount=Decimal(1500)),
        settlement_date=DAY,
        from_balance=m.SubBalance.AVAILABLE,
        to_balance=m.SubBalance.BLOCKED,
        safekeeping_account="MS001",
        account_owner_bic="BANKRUMMXXX",
        linked_reference="LEG-1",
    ),
    "MT508 -> semt.015": m.IntraPositionConfirmation(
        transaction_id="RSV-1",
        security=GAZPROM,
        settled_quantity=m.Quantity(amount=Decimal(1500)),
        settlement_date=DAY,
        from_balance=m.SubBalance.AVAILABLE,
        to_balance=m.SubBalance.BLOCKED,
        safekeeping_account="MS001",
    ),
    "MT508 -> semt.014": m.IntraPositionStatus(
        transaction_id="RSV-1", processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED)
    ),
    "MT535 -> semt.002": m.HoldingsStatement(
        statement_date=DAY,
        safekeeping_account="MS001",
        statement_id="S-1",
        balances=(
            m.HoldingBalance(
                security=GAZPROM,
                aggregate=Decimal(2000),
                available=Decimal(500),
                sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=Decimal(1500)),),
            ),
        ),
    ),
    "MT536 -> semt.017": m.TransactionsStatement(
        period_start=DAY,
        period_end=DAY,
        safekeeping_account="MS001",
        movements=(
            m.StatementMovement(
                security=GAZPROM,
                transaction_id="DVP-1",
                quantity=m.Quantity(amount=Decimal(1500)),
                credit_debit=m.CreditDebit.DEBIT,
                settlement_date=DAY,
            ),
        ),
    ),
}


@pytest.fixture(scope="module")
def official_schema(reference_dir):
    cache = {}

    def schema(message_id):
        if message_id not in cache:
            cache[message_id] = etree.XMLSchema(etree.parse(str(reference_dir / "xsd" / f"{message_id}.xsd")))
        return cache[message_id]

    return schema


@pytest.mark.parametrize("pair", PAIRS)
def test_an_mt_translates_to_an_mx_with_the_same_content_valid_against_the_official_schema(
    pair, official_schema
):
    model = PAIRS[pair]
    result = mt_to_mx(build_mt(model, user=(("108", "MUR-7"),)))
    assert result.message.startswith(pair.split(" -> ")[1])
    parsed = mx.parse(result.content)
    assert parsed.header.business_message_id == "MUR-7"
    expected = model
    if isinstance(model, m.SettlementInstruction):  # the MX parser fills it from the header
        expected = type(model)(**{**_fields(model), "business_message_id": "MUR-7"})
    assert parsed.body == expected
    envelope = etree.fromstring(result.content)
    for part in envelope:
        namespace = etree.QName(part).namespace
        official_schema(namespace.rsplit(":", 1)[1]).assertValid(part)


@pytest.mark.parametrize("pair", PAIRS)
def test_an_mx_translates_to_an_mt_with_the_same_content(pair):
    model = PAIRS[pair]
    header = m.BusinessHeader(
        from_bic="NADCRUMMXXX",
        to_bic="BANKRUMMXXX",
        business_message_id="BIZ-1",
        message_definition_id=mx.message_id_for(model),
        creation=dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC),
    )
    result = mx_to_mt(mx.build(model, header=header))
    assert result.message == "MT" + pair[2:5]
    fin = parse_fin(result.content)
    assert (fin.sender, fin.receiver) == ("NADCRUMMXXX", "BANKRUMMXXX")
    assert dict(fin.user) == {"108": "BIZ-1"}
    assert parse_mt(result.content) == model


def test_a_bare_mx_document_translates_with_placeholder_addresses():
    model = PAIRS["MT548 -> sese.024"]
    result = mx_to_mt(mx.build(model))
    assert parse_mt(result.content) == model
    assert b"{3:" not in result.content


def test_translate_detects_the_direction_from_the_content():
    model = PAIRS["MT524 -> semt.013"]
    text = build_mt(model).encode()
    assert detect(text) == MT
    xml = translate(text).content
    assert detect(xml) == MX
    assert parse_mt(translate(xml).content) == model


def test_content_that_is_neither_is_refused():
    with pytest.raises(MalformedMessage):
        detect(b"%PDF-1.7")


def test_an_mx_reference_too_long_for_mt_is_refused_not_truncated():
    model = m.IntraPositionStatus(
        transaction_id="A-REFERENCE-LONGER-THAN-SIXTEEN",
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED),
    )
    with pytest.raises(BuildError, match="16 characters") as refused:
        mx_to_mt(mx.build(model))
    assert refused.value.reason is ReasonCode.REFERENCE


def test_an_mx_text_outside_the_swift_character_set_is_refused_not_altered():
    model = m.StatusAdvice(
        transaction_id="DVP-1",
        processing=m.ProcessingStatus(
            code=m.ProcessingStatusCode.REJECTED,
            reasons=(m.Reason(code="SAFE", narrative="compte inconnu: é"),),
        ),
    )
    with pytest.raises(BuildError, match="character set"):
        mx_to_mt(mx.build(model))


def test_a_long_header_identifier_is_not_put_in_the_mur():
    model = PAIRS["MT548 -> sese.024"]
    header = m.BusinessHeader(
        from_bic="NADCRUMMXXX",
        to_bic="BANKRUMMXXX",
        business_message_id="A-BUSINESS-MESSAGE-ID-OF-35-CHARS-X",
        message_definition_id="sese.024.001.12",
        creation=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
    )
    result = mx_to_mt(mx.build(model, header=header))
    assert parse_fin(result.content).user == ()


def test_an_mt537_has_no_mx_counterpart(reference_dir):
    with pytest.raises(UnsupportedMessage, match="no counterpart"):
        mt_to_mx((reference_dir / "mt" / "MT537_large_prowide-examples.fin").read_bytes())


def _fields(model):
    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}


SHORT_HOLDINGS = m.HoldingsStatement(
    statement_date=DAY,
    safekeeping_account="ISSUANCE",
    statement_id="H-SHORT-1",
    balances=(
        m.HoldingBalance(
            security=GAZPROM,
            aggregate=Decimal(-1000000),
            available=Decimal(-1000002),
            not_available=Decimal(2),
            sub_balances=(
                m.SubBalanceQuantity(balance=m.SubBalance.AVAILABLE, quantity=Decimal(-1000002)),
                m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=Decimal(2)),
            ),
        ),
    ),
)


def test_a_short_position_in_an_mt535_becomes_shor_in_semt002_and_comes_back_with_the_n_sign(
    official_schema,
):
    original = build_mt(SHORT_HOLDINGS)
    assert ":93B::AGGR//UNIT/N1000000," in original
    result = mt_to_mx(original)
    envelope = etree.fromstring(result.content)
    document = envelope[1]
    official_schema("semt.002.001.11").assertValid(document)
    ns = {"d": etree.QName(document).namespace}
    indicators = [e.text for e in document.iterfind(".//d:ShrtLngInd", ns)]
    assert indicators == ["SHOR", "SHOR", "SHOR"]  # aggregate, available, the AVAI sub-balance
    assert mx.parse(result.content).body == SHORT_HOLDINGS
    back = mx_to_mt(result.content).content.decode()
    assert parse_mt(back) == SHORT_HOLDINGS
    assert ":93B::AVAI//UNIT/N1000002," in back and ":93C::AVAI//UNIT/AVAI/N1000002," in back


def test_a_short_not_available_balance_in_an_mt535_cannot_be_translated_to_semt002():
    balance = dataclasses.replace(SHORT_HOLDINGS.balances[0], not_available=Decimal(-2), sub_balances=())
    text = build_mt(dataclasses.replace(SHORT_HOLDINGS, balances=(balance,)))
    assert parse_mt(text).balances[0].not_available == Decimal(-2)  # MT carries it
    with pytest.raises(BuildError, match="NotAvlblBal carries no ShrtLngInd") as refused:
        mt_to_mx(text)
    assert refused.value.reason is ReasonCode.QUANTITY
