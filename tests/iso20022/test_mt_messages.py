"""Each MT type parses into its model and builds back; what the hub needs is mandatory."""

from datetime import date
from decimal import Decimal

import pytest

from iso20022 import models as m
from iso20022.errors import BuildError, InvalidContent, MalformedMessage, ReasonCode, UnsupportedMessage
from iso20022.mt import build_mt, message_type_for, parse_mt, validate_mt
from iso20022.mt.fin import FinMessage

APPLE = m.Security(isin="US0378331005", description="APPLE INC")
GAZPROM = m.Security(isin="RU0007661625")
COUNTERPARTY = m.Counterparty(
    bic="STRAZAJJ",
    csd_bic="STRAZAJJXXX",
    safekeeping_account="ZA-77",
    client_bic="CLNTZAJJ",
    client_account="CL-1",
)


def instruction(side=m.Side.DELIVER, payment=m.Payment.FREE, **changes):
    values = dict(
        transaction_id="REF-1",
        side=side,
        payment=payment,
        trade_date=date(2026, 11, 20),
        intended_settlement_date=date(2026, 11, 24),
        security=APPLE,
        quantity=m.Quantity(amount=Decimal(100)),
        safekeeping_account="123",
        account_owner_bic="BANKRUMMXXX",
        counterparty=COUNTERPARTY,
        common_trade_reference="TRADE-9",
        client_bic="OWNCRUMM",
        client_account="OWN-1",
        own_csd_bic="NADCRUMM",
        settlement_amount=m.Amount(value=Decimal("1000.50"), currency="USD")
        if payment is m.Payment.AGAINST_PAYMENT
        else None,
    )
    values.update(changes)
    return m.SettlementInstruction(**values)


def confirmation(side=m.Side.RECEIVE, payment=m.Payment.AGAINST_PAYMENT):
    return m.SettlementConfirmation(
        transaction_id="REF-1",
        side=side,
        payment=payment,
        effective_settlement_date=date(2026, 11, 24),
        security=APPLE,
        settled_quantity=m.Quantity(amount=Decimal("2500000"), type=m.QuantityType.FACE_AMOUNT),
        safekeeping_account="123",
        account_owner_bic="BANKRUMMXXX",
        counterparty=m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX"),
        account_servicer_transaction_id="HUB-42",
        market_infrastructure_transaction_id="T2S-1",
        trade_date=date(2026, 11, 20),
        common_trade_reference="TRADE-9",
        settled_amount=m.Amount(value=Decimal("99.99"), currency="ZAR")
        if payment is m.Payment.AGAINST_PAYMENT
        else None,
    )


STATUS = m.StatusAdvice(
    transaction_id="REF-1",
    account_servicer_transaction_id="HUB-42",
    processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED),
    matching=m.MatchingStatus(
        code=m.MatchingStatusCode.UNMATCHED,
        reasons=(
            m.Reason(code="CMIS"),
            m.Reason(
                code="DDAT", narrative="SETTLEMENT DATE DIFFERS FROM THE COUNTERPARTY INSTRUCTION BY ONE DAY"
            ),
        ),
    ),
    settlement=m.SettlementStatus(
        code=m.SettlementStatusCode.PENDING, reasons=(m.Reason(code="LACK", issuer="NSDR"),)
    ),
    details=m.TransactionDetails(
        side=m.Side.DELIVER,
        payment=m.Payment.FREE,
        security=APPLE,
        quantity=m.Quantity(amount=Decimal(100)),
        intended_settlement_date=date(2026, 11, 24),
        trade_date=date(2026, 11, 20),
        safekeeping_account="123",
        account_owner_bic="BANKRUMMXXX",
        counterparty=m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX"),
        transaction_type="OWNE",
    ),
)
REJECTION = m.StatusAdvice(
    transaction_id="REF-2",
    processing=m.ProcessingStatus(
        code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="SAFE", narrative="UNKNOWN ACCOUNT"),)
    ),
)
CANCELLATION = m.CancellationRequest(
    transaction_id="REF-1",
    side=m.Side.DELIVER,
    payment=m.Payment.FREE,
    safekeeping_account="123",
    account_owner_bic="BANKRUMMXXX",
    business_message_id="CXL-1",
    security=APPLE,
    quantity=m.Quantity(amount=Decimal(100)),
    intended_settlement_date=date(2026, 11, 24),
)
CANCELLATION_STATUS = m.CancellationStatus(
    cancellation_request_reference="CXL-1",
    transaction_id="REF-1",
    side=m.Side.RECEIVE,
    payment=m.Payment.AGAINST_PAYMENT,
    processing=m.ProcessingStatus(code=m.ProcessingStatusCode.CANCELLED),
    account_servicer_transaction_id="HUB-42",
)
CANCELLATION_STATUS_WITH_DETAILS = m.CancellationStatus(
    cancellation_request_reference="CXL-1",
    transaction_id="REF-1",
    side=m.Side.DELIVER,
    payment=m.Payment.FREE,
    processing=m.ProcessingStatus(code=m.ProcessingStatusCode.DENIED, reasons=(m.Reason(code="DSET"),)),
    safekeeping_account="123",
    account_owner_bic="BANKRUMMXXX",
    security=APPLE,
    quantity=m.Quantity(amount=Decimal(100)),
    intended_settlement_date=date(2026, 11, 24),
)
MOVEMENT = m.IntraPositionMovement(
    transaction_id="RSV-1",
    security=GAZPROM,
    quantity=m.Quantity(amount=Decimal(500)),
    settlement_date=date(2026, 11, 24),
    from_balance=m.SubBalance.AVAILABLE,
    to_balance=m.SubBalance.BLOCKED,
    safekeeping_account="NSD-ACC-1",
    account_owner_bic="BANKRUMMXXX",
    linked_reference="LEG-7",
)
INTRA_CONFIRMATION = m.IntraPositionConfirmation(
    transaction_id="RSV-1",
    security=GAZPROM,
    settled_quantity=m.Quantity(amount=Decimal(500)),
    settlement_date=date(2026, 11, 24),
    from_balance=m.SubBalance.AVAILABLE,
    to_balance=m.SubBalance.BLOCKED,
    safekeeping_account="NSD-ACC-1",
    account_owner_bic="BANKRUMMXXX",
    account_servicer_transaction_id="NSD-9",
)
INTRA_STATUS = m.IntraPositionStatus(
    transaction_id="RSV-1",
    account_servicer_transaction_id="NSD-9",
    processing=m.ProcessingStatus(code=m.ProcessingStatusCode.REJECTED, reasons=(m.Reason(code="DQUA"),)),
    security=GAZPROM,
    quantity=m.Quantity(amount=Decimal(500)),
    settlement_date=date(2026, 11, 24),
    safekeeping_account="NSD-ACC-1",
    from_balance=m.SubBalance.AVAILABLE,
    to_balance=m.SubBalance.BLOCKED,
)
INTRA_STATUS_ONLY = m.IntraPositionStatus(
    transaction_id="RSV-2", settlement=m.SettlementStatus(code=m.SettlementStatusCode.PENDING)
)
HOLDINGS = m.HoldingsStatement(
    statement_date=date(2026, 11, 24),
    safekeeping_account="NSD-ACC-1",
    account_owner_bic="BANKRUMMXXX",
    statement_id="STMT-1",
    page_number=2,
    last_page=False,
    balances=(
        m.HoldingBalance(
            security=GAZPROM,
            aggregate=Decimal(1500),
            available=Decimal(1000),
            not_available=Decimal(500),
            sub_balances=(
                m.SubBalanceQuantity(balance=m.SubBalance.AVAILABLE, quantity=Decimal(1000)),
                m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=Decimal(500)),
            ),
        ),
        m.HoldingBalance(
            security=APPLE, aggregate=Decimal("250000"), quantity_type=m.QuantityType.FACE_AMOUNT
        ),
    ),
)
EMPTY_HOLDINGS = m.HoldingsStatement(statement_date=date(2026, 11, 24), safekeeping_account="NSD-ACC-1")
TRANSACTIONS = m.TransactionsStatement(
    period_start=date(2026, 11, 1),
    period_end=date(2026, 11, 24),
    safekeeping_account="NSD-ACC-1",
    statement_id="STMT-2",
    frequency="ADHO",
    movements=(
        m.StatementMovement(
            security=GAZPROM,
            transaction_id="REF-1",
            quantity=m.Quantity(amount=Decimal(5)),
            credit_debit=m.CreditDebit.CREDIT,
            settlement_date=date(2026, 11, 2),
            account_servicer_transaction_id="HUB-1",
            market_infrastructure_transaction_id="M-1",
        ),
        m.StatementMovement(
            security=GAZPROM,
            transaction_id="REF-2",
            quantity=m.Quantity(amount=Decimal(2)),
            credit_debit=m.CreditDebit.DEBIT,
            settlement_date=date(2026, 11, 3),
            payment=m.Payment.AGAINST_PAYMENT,
            transaction_type="OWNI",
        ),
        m.StatementMovement(
            security=APPLE,
            transaction_id="REF-3",
            quantity=m.Quantity(amount=Decimal(1)),
            credit_debit=m.CreditDebit.DEBIT,
            settlement_date=date(2026, 11, 4),
        ),
        m.StatementMovement(
            security=GAZPROM,
            transaction_id="REF-4",
            quantity=m.Quantity(amount=Decimal(9)),
            credit_debit=m.CreditDebit.CREDIT,
            settlement_date=date(2026, 11, 5),
        ),
    ),
)

EXAMPLES = {
    "540": instruction(m.Side.RECEIVE, m.Payment.FREE),
    "541": instruction(m.Side.RECEIVE, m.Payment.AGAINST_PAYMENT),
    "542": instruction(m.Side.DELIVER, m.Payment.FREE),
    "543": instruction(m.Side.DELIVER, m.Payment.AGAINST_PAYMENT),
    "542-cancel": CANCELLATION,
    "544": confirmation(m.Side.RECEIVE, m.Payment.FREE),
    "545": confirmation(m.Side.RECEIVE, m.Payment.AGAINST_PAYMENT),
    "546": confirmation(m.Side.DELIVER, m.Payment.FREE),
    "547": confirmation(m.Side.DELIVER, m.Payment.AGAINST_PAYMENT),
    "548": STATUS,
    "548-rejection": REJECTION,
    "548-cancellation": CANCELLATION_STATUS,
    "548-cancellation-details": CANCELLATION_STATUS_WITH_DETAILS,
    "524": MOVEMENT,
    "508": INTRA_CONFIRMATION,
    "508-status": INTRA_STATUS,
    "508-status-only": INTRA_STATUS_ONLY,
    "535": HOLDINGS,
    "535-empty": EMPTY_HOLDINGS,
    "536": TRANSACTIONS,
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_message_type_builds_from_its_model_and_parses_back_to_it(name):
    model = EXAMPLES[name]
    text = build_mt(model)
    assert text[29:33] == "{2:I" and text[33:36] == name[:3] == message_type_for(model)
    assert parse_mt(text) == model
    assert build_mt(parse_mt(text)) == text
    assert validate_mt(text) == []


HAND_WRITTEN_543 = """{1:F01BANKRUMMAXXX0000000000}{2:I543NADCRUMMXXXXN}{4:
:16R:GENL
:20C::SEME//DVP-2026-0001
:23G:NEWM
:16S:GENL
:16R:TRADDET
:98A::TRAD//20261120
:98A::SETT//20261124
:35B:ISIN RU0007661625
GAZPROM ORD SHS
:16S:TRADDET
:16R:FIAC
:36B::SETT//UNIT/1500,
:97A::SAFE//MS0012345678
:16S:FIAC
:16R:SETDET
:22F::SETR//TRAD
:16R:SETPRTY
:95P::REAG//STRAZAJJ
:16S:SETPRTY
:16R:SETPRTY
:95P::PSET//STRAZAJJ
:16S:SETPRTY
:16R:AMT
:19A::SETT//RUB245000,
:16S:AMT
:16S:SETDET
-}"""


def test_a_hand_written_mt543_reads_as_a_delivery_against_payment():
    model = parse_mt(HAND_WRITTEN_543)
    assert model.side is m.Side.DELIVER and model.payment is m.Payment.AGAINST_PAYMENT
    assert model.transaction_id == "DVP-2026-0001"
    assert model.security == m.Security(isin="RU0007661625", description="GAZPROM ORD SHS")
    assert model.quantity == m.Quantity(amount=Decimal(1500))
    assert model.settlement_amount == m.Amount(value=Decimal(245000), currency="RUB")
    assert model.account_owner_bic == "BANKRUMMXXX"  # from block 1 when FIAC has no :95P::ACOW
    assert model.counterparty == m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJ")


def _without(text, line):
    return "\n".join(x for x in text.split("\n") if x != line)


@pytest.mark.parametrize(
    ("missing", "reason", "fragment"),
    [
        (":20C::SEME//DVP-2026-0001", ReasonCode.REFERENCE, "GENL/:20C::SEME"),
        (":98A::SETT//20261124", ReasonCode.SETTLEMENT_DATE, "TRADDET/:98a::SETT"),
        (":98A::TRAD//20261120", ReasonCode.TRADE_DATE, "TRADDET/:98a::TRAD"),
        (":36B::SETT//UNIT/1500,", ReasonCode.QUANTITY, "FIAC/:36B::SETT"),
        (":97A::SAFE//MS0012345678", ReasonCode.SAFEKEEPING_ACCOUNT, "FIAC/:97A::SAFE"),
        (":19A::SETT//RUB245000,", ReasonCode.AMOUNT, "AMT/:19A::SETT"),
        (":35B:ISIN RU0007661625", ReasonCode.SECURITY, None),
    ],
)
def test_a_missing_mandatory_field_is_refused_with_its_reason_and_path(missing, reason, fragment):
    text = _without(HAND_WRITTEN_543, missing)
    if missing.startswith(":35B:"):
        text = _without(text, "GAZPROM ORD SHS")
    with pytest.raises(InvalidContent) as refused:
        parse_mt(text)
    assert refused.value.reason is reason
    if fragment:
        assert refused.value.first.path == fragment
    assert refused.value.first.line is not None


def test_an_isin_with_a_wrong_check_digit_is_refused_with_reason_dsec():
    with pytest.raises(InvalidContent, match="check digit") as refused:
        parse_mt(HAND_WRITTEN_543.replace("RU0007661625", "RU0007661626"))
    assert refused.value.reason is ReasonCode.SECURITY


def test_a_trade_date_with_a_time_is_read_as_its_date():
    model = parse_mt(HAND_WRITTEN_543.replace(":98A::TRAD//20261120", ":98C::TRAD//20261120093015"))
    assert model.trade_date == date(2026, 11, 20)


def test_a_settlement_date_given_as_a_code_is_refused_with_ddat():
    with pytest.raises(InvalidContent, match="gives no date") as refused:
        parse_mt(HAND_WRITTEN_543.replace(":98A::SETT//20261124", ":98B::SETT//UKWN"))
    assert refused.value.reason is ReasonCode.SETTLEMENT_DATE


def test_a_missing_mandatory_sequence_is_refused_naming_it():
    lines = HAND_WRITTEN_543.split("\n")
    start, end = lines.index(":16R:FIAC"), lines.index(":16S:FIAC")
    with pytest.raises(InvalidContent, match="mandatory sequence FIAC is missing"):
        parse_mt("\n".join(lines[:start] + lines[end + 1 :]))


def test_the_counterparty_and_place_of_settlement_are_required():
    text = HAND_WRITTEN_543.replace(":95P::REAG//STRAZAJJ", ":95P::BUYR//STRAZAJJ").replace("PSET", "RECU")
    errors = validate_mt(text)
    assert {e.reason for e in errors} == {ReasonCode.PARTY, ReasonCode.PLACE_OF_SETTLEMENT}


def test_an_unknown_message_type_is_refused_as_unsupported():
    with pytest.raises(UnsupportedMessage) as refused:
        parse_mt(HAND_WRITTEN_543.replace("{2:I543", "{2:I103"))
    assert refused.value.reason is ReasonCode.UNSUPPORTED
    assert "MT103" in str(refused.value)


def test_a_function_the_hub_does_not_read_is_refused_rather_than_misread():
    text = build_mt(EXAMPLES["546"]).replace(":23G:NEWM", ":23G:RVSL")
    with pytest.raises(InvalidContent, match="RVSL is not one the hub reads") as refused:
        parse_mt(text)
    assert refused.value.reason is ReasonCode.UNSUPPORTED


def test_a_consolidated_holdings_statement_is_refused_rather_than_merged_into_one_account():
    text = (
        build_mt(HOLDINGS)
        .replace(":17B::CONS//N", ":17B::CONS//Y")
        .replace(":16R:SUBSAFE\r\n", ":16R:SUBSAFE\r\n:97A::SAFE//SUB-2\r\n")
    )
    errors = validate_mt(text)
    assert [e.reason for e in errors] == [ReasonCode.UNSUPPORTED, ReasonCode.UNSUPPORTED]
    assert "consolidated" in errors[0].message and "sub-account" in errors[1].message


SHORT_HOLDINGS = m.HoldingsStatement(
    statement_date=date(2026, 11, 24),
    safekeeping_account="ISSUANCE",
    balances=(
        m.HoldingBalance(
            security=GAZPROM,
            aggregate=Decimal("-1500.5"),
            available=Decimal("-1500.5"),
            not_available=Decimal(-2),
            sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.PLEDGED, quantity=Decimal(-2)),),
        ),
    ),
)


def test_a_short_position_is_written_with_the_n_sign_and_read_back_negative():
    text = build_mt(SHORT_HOLDINGS)
    assert ":93B::AGGR//UNIT/N1500,5\r\n" in text
    assert ":93B::AVAI//UNIT/N1500,5\r\n" in text
    assert ":93B::NAVL//UNIT/N2,\r\n" in text
    assert ":93C::PLED//UNIT/NAVL/N2,\r\n" in text
    assert parse_mt(text) == SHORT_HOLDINGS


def test_an_n_balance_in_a_received_mt535_is_read_as_a_short_position():
    text = build_mt(HOLDINGS).replace(":93B::AGGR//UNIT/1500,", ":93B::AGGR//UNIT/N1500,")
    assert parse_mt(text).balances[0].aggregate == Decimal(-1500)


def test_a_sign_without_a_number_is_still_refused_with_dqua():
    text = build_mt(HOLDINGS).replace(":93B::AGGR//UNIT/1500,", ":93B::AGGR//UNIT/N")
    with pytest.raises(MalformedMessage) as refused:
        parse_mt(text)
    assert refused.value.reason is ReasonCode.QUANTITY


def test_a_corporate_action_posting_is_refused_rather_than_read_as_a_settlement():
    text = build_mt(TRANSACTIONS).replace(":22F::TRAN//SETT", ":22F::TRAN//CORP", 1)
    with pytest.raises(InvalidContent, match="TRAN//CORP is not a settlement posting"):
        parse_mt(text)


def test_a_status_code_outside_the_iso_list_is_refused():
    text = build_mt(REJECTION).replace(":25D::IPRC//REJT", ":25D::IPRC//XXXX")
    with pytest.raises(InvalidContent, match="XXXX is not one of"):
        parse_mt(text)


def test_a_reservation_of_an_unknown_sub_balance_is_refused():
    text = build_mt(MOVEMENT).replace(":93A::TOBA//BLOK", ":93A::TOBA//ZZZZ")
    with pytest.raises(InvalidContent) as refused:
        parse_mt(text)
    assert "ZZZZ" in str(refused.value)


def test_an_against_payment_instruction_without_amount_cannot_be_built():
    from iso20022.errors import BuildError

    with pytest.raises(BuildError, match="settlement amount"):
        build_mt(instruction(m.Side.DELIVER, m.Payment.AGAINST_PAYMENT, settlement_amount=None))


def test_a_reference_longer_than_sixteen_characters_cannot_be_written_in_mt():
    from iso20022.errors import BuildError

    with pytest.raises(BuildError, match=":20C::SEME"):
        build_mt(instruction(transaction_id="A-REFERENCE-OF-35-CHARACTERS-000001"))


def test_the_large_mt537_sample_parses(reference_dir):
    text = (reference_dir / "mt" / "MT537_large_prowide-examples.fin").read_text()
    message = parse_mt(text)
    assert isinstance(message, FinMessage)
    assert message.message_type == "537"
    genl = message.text.sequence("GENL")
    assert genl.value("22H", "STST") == "PENA"
    assert genl.value("98A", "STAT") == date(2005, 5, 25)
    penalties = list(message.text.sequences("PENA"))
    assert len(penalties) == 62
    detail = penalties[0].find("PENACUR", "PENACOUNT", "PENDET")
    assert detail.value("19A", "AMCO").amount == Decimal(1)
    assert detail.find("CALDET", "FIA").value("35B").isin == "JP000K0VF054"
    address = list(message.text.sequences("ADDINFO"))[-1].field("95Q", "MERE")
    assert address.value.split("\n")[0] == "UBS AG FOOBAR BRANCH"
    assert address.line == 2438


def test_an_mt537_without_its_statement_structure_is_refused(reference_dir):
    text = (reference_dir / "mt" / "MT537_large_prowide-examples.fin").read_text()
    errors = validate_mt(text.replace(":22H::STST//PENA\n", ""))
    assert [e.path for e in errors] == ["GENL/:22H::STST"]


# ------------------------------------------------------------------------------ robustness

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from iso20022.errors import Iso20022Error  # noqa: E402

_TEXTS = [build_mt(model) for model in EXAMPLES.values()]


@st.composite
def _mutated(draw):
    lines = draw(st.sampled_from(_TEXTS)).split("\r\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "replace"]))
        if action == "delete" and len(lines) > 1:
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "swap" and index + 1 < len(lines):
            lines[index], lines[index + 1] = lines[index + 1], lines[index]
        elif action == "replace" and lines[index]:
            position = draw(st.integers(0, len(lines[index]) - 1))
            char = draw(st.sampled_from(list(":/-,{}NX0 \\n")))
            lines[index] = lines[index][:position] + char + lines[index][position + 1 :]
    return "\r\n".join(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_mutated())
def test_a_damaged_message_is_read_or_refused_with_error_values_never_a_crash(text):
    try:
        parse_mt(text)
    except Iso20022Error as refused:
        assert refused.errors and all(error.message for error in refused.errors)


def _with(text: str, after: str, *lines: str) -> str:
    """``text`` with ``lines`` inserted after the line ``after``."""
    out = []
    for line in text.split("\n"):
        out.append(line)
        if line == after:
            out.extend(lines)
    return "\n".join(out)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # a second counterparty agent would have replaced the first
        ((":16S:SETPRTY", ":16R:SETPRTY", ":95P::REAG//OTHRDEFF", ":16S:SETPRTY"), ReasonCode.PARTY),
        # an intermediary the hub cannot pass on to the CSD
        ((":16S:SETPRTY", ":16R:SETPRTY", ":95P::REI1//INTEDEFF", ":16S:SETPRTY"), ReasonCode.PARTY),
        # a settlement condition (no partial settlement) the MX guideline refuses too
        ((":22F::SETR//TRAD", ":22F::STCO//NPAR"), ReasonCode.UNSUPPORTED),
    ],
    ids=["party-twice", "intermediary", "settlement-condition"],
)
def test_content_the_hub_would_drop_is_refused_not_dropped(change, reason):
    after, *lines = change
    with pytest.raises(InvalidContent) as refused:
        parse_mt(_with(HAND_WRITTEN_543, after, *lines))
    assert refused.value.reason is reason


def test_the_settlement_amount_is_read_from_whichever_amt_sequence_holds_it():
    text = _with(HAND_WRITTEN_543, ":22F::SETR//TRAD", ":16R:AMT", ":19A::DEAL//RUB244000,", ":16S:AMT")
    assert parse_mt(text).settlement_amount == m.Amount(value=Decimal(245000), currency="RUB")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (":20C::SEME//DVP-2026-0001", ":20C::SEME//DVP//0001", ReasonCode.REFERENCE),  # FIN rule T26
        (":20C::SEME//DVP-2026-0001", ":20C::SEME///DVP-0001", ReasonCode.REFERENCE),
        (
            ":19A::SETT//RUB245000,",
            ":19A::SETT//RUB245000,123456",
            ReasonCode.AMOUNT,
        ),  # ISO 20022: 5 decimals
        ("GAZPROM ORD SHS", "GAZPROM\nORD\nSHS\nCLASS A\nMOSCOW", ReasonCode.SECURITY),  # 35B: 4*35x
    ],
)
def test_a_field_beyond_its_format_is_refused_with_its_reason(old, new, reason):
    with pytest.raises((InvalidContent, MalformedMessage)) as refused:
        parse_mt(HAND_WRITTEN_543.replace(old, new))
    assert refused.value.reason is reason


def test_what_mt_cannot_carry_is_refused_when_written_rather_than_written_wrong():
    with pytest.raises(BuildError) as refused:
        build_mt(instruction(transaction_id="TX//1"), sender="BANKRUMMXXX", receiver="NADCRUMMXXX")
    assert refused.value.reason is ReasonCode.REFERENCE
    long_name = m.Security(isin="US0378331005", description="A-" * 70)  # 140 characters: MX's limit
    with pytest.raises(BuildError):
        build_mt(instruction(security=long_name), sender="BANKRUMMXXX", receiver="NADCRUMMXXX")


def test_a_confirmation_of_nothing_is_refused():
    text = build_mt(confirmation(payment=m.Payment.FREE), sender="STRAZAJJXXX", receiver="BANKRUMMXXX")
    with pytest.raises(InvalidContent) as refused:
        parse_mt(text.replace("FAMT/2500000,", "FAMT/0,"))
    assert refused.value.reason is ReasonCode.QUANTITY


@pytest.mark.parametrize("value", ["-100", "100.123456"])
def test_an_mx_amount_its_schema_cannot_hold_is_refused_when_written(value):
    from iso20022 import mx

    dvp = instruction(
        payment=m.Payment.AGAINST_PAYMENT, settlement_amount=m.Amount(value=Decimal(value), currency="USD")
    )
    with pytest.raises(BuildError) as refused:
        mx.build(dvp)
    assert refused.value.reason is ReasonCode.AMOUNT


def test_mt548_writes_its_transaction_details_in_the_field_order_and_never_without_an_account():
    import dataclasses

    text = build_mt(STATUS, sender="NADCRUMMXXX", receiver="BANKRUMMXXX")
    settran = text[text.index(":16R:SETTRAN") : text.index(":16S:SETTRAN")].split("\r\n")
    tags = [line[1:4] for line in settran[1:] if line.startswith(":")]
    order = ["35B", "36B", "95P", "97A", "22F", "22H", "98A", "16R"]  # 16R: the parties come last
    first = [tags.index(tag) for tag in order]
    assert first == sorted(first), tags
    no_account = dataclasses.replace(
        STATUS, details=dataclasses.replace(STATUS.details, safekeeping_account=None)
    )
    with pytest.raises(BuildError) as refused:
        build_mt(no_account, sender="NADCRUMMXXX", receiver="BANKRUMMXXX")
    assert refused.value.reason is ReasonCode.SAFEKEEPING_ACCOUNT


def test_a_holdings_balance_of_another_kind_than_its_aggregate_is_refused_in_mt_and_mx():
    from iso20022 import mx

    text = build_mt(HOLDINGS, sender="NADCRUMMXXX", receiver="BANKRUMMXXX")
    with pytest.raises(InvalidContent) as refused:
        parse_mt(text.replace(":93C::BLOK//UNIT/NAVL/500,", ":93C::BLOK//FAMT/NAVL/500,"))
    assert refused.value.reason is ReasonCode.QUANTITY
    xml = mx.build(HOLDINGS).replace(
        b"<Unit>500</Unit></Qty></Qty></Qty>", b"<FaceAmt>500</FaceAmt></Qty></Qty></Qty>"
    )
    with pytest.raises(InvalidContent, match="under an aggregate"):
        mx.parse(xml)


def test_an_mt54x_naming_its_own_agent_beside_the_counterpartys_is_read_when_the_agent_is_the_owner():
    # as SWIFT market practice writes it: DEAG (the sender), REAG (the counterparty), PSET
    text = HAND_WRITTEN_543.replace(
        ":16R:SETPRTY\n:95P::REAG//STRAZAJJ",
        ":16R:SETPRTY\n:95P::DEAG//BANKRUMM\n:16S:SETPRTY\n:16R:SETPRTY\n:95P::REAG//STRAZAJJ",
    )
    assert parse_mt(text).counterparty.bic == "STRAZAJJ"
    with pytest.raises(InvalidContent) as refused:
        parse_mt(text.replace(":95P::DEAG//BANKRUMM", ":95P::DEAG//OTHRRUMM"))
    assert refused.value.reason is ReasonCode.PARTY


def test_a_place_of_safekeeping_at_a_custodian_is_not_taken_for_the_senders_csd():
    text = HAND_WRITTEN_543.replace(
        ":97A::SAFE//MS0012345678", ":97A::SAFE//MS0012345678\n:94F::SAFE//CUST/DEMARUMM"
    )
    assert parse_mt(text).own_csd_bic is None
    text = HAND_WRITTEN_543.replace(
        ":97A::SAFE//MS0012345678", ":97A::SAFE//MS0012345678\n:94F::SAFE//NCSD/NADCRUMM"
    )
    assert parse_mt(text).own_csd_bic == "NADCRUMM"
