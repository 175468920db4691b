"""Batches on the wire: bulk files (``iso20022.bulk``), how the adapters cut and send them, and how the
reference CSD takes a bulk file it cannot read. In process (the CSD's WSGI application, a SQLite ledger);
the conformance kit covers batches over real HTTP."""

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest

from csd_adapters.base import (
    Leg,
    LegState,
    OutcomeUnknown,
    ProtocolError,
    RequestNotProcessed,
    UnknownAccount,
)
from csd_adapters.profiles import profile_for
from csd_adapters.reference_csd.ledger import Ledger, seed_document
from csd_adapters.reference_csd.service import ReferenceCsd
from csd_adapters.registry import adapter_for
from csd_adapters.transport import Reply, Transport, WsgiTransport
from iso20022 import bulk
from iso20022.errors import MalformedMessage
from iso20022.mt import parse_fin

from .conftest import KNOWN_ISIN

ACCOUNTS = ("A-OWN", "B-OWN")


class Recorder:
    def __init__(self) -> None:
        self.exchanges: list[tuple[str, bytes, Reply]] = []

    def observe(self, method, path, body, reply) -> None:
        self.exchanges.append((path, body, reply))


def csd(tmp_path, code: str, recorder: Recorder | None = None, batch_size: int = 500):
    profile = profile_for(code)
    ledger = Ledger(f"sqlite:///{tmp_path / code}.sqlite3", timezone=profile.timezone)
    ledger.seed(
        seed_document(
            [("ISSUANCE", "ISSUANCE"), (ACCOUNTS[0], "OWN"), (ACCOUNTS[1], "OWN")],
            [("ISSUANCE", KNOWN_ISIN, Decimal(-1000)), (ACCOUNTS[0], KNOWN_ISIN, Decimal(1000))],
        )
    )
    service = ReferenceCsd(profile, ledger)
    transport = WsgiTransport(service, observer=recorder.observe if recorder else None)
    adapter = adapter_for(profile.adapter, profile=profile, transport=transport, batch_size=batch_size)
    return adapter, ledger, service


def leg(code: str, quantity: int = 10, credit: str = ACCOUNTS[1]) -> Leg:
    return Leg(
        leg_id=str(uuid.uuid4()),
        csd=code,
        isin=KNOWN_ISIN,
        quantity=Decimal(quantity),
        debit_account=ACCOUNTS[0],
        credit_account=credit,
        intended_settlement_date=dt.date.today(),
        transfer_reference="T" + uuid.uuid4().hex[:8],
    )


# ------------------------------------------------------------------------------------------ bulk files


def test_an_mt_bulk_file_splits_back_into_its_messages_with_or_without_dollar_separators():
    messages = [
        b"{1:F01AAAAAAAAAXXX0000000000}{2:I524BBBBBBBBXXXXN}{4:\r\n:20C::SEME//L%d\r\n-}" % n
        for n in range(3)
    ]
    joined = bulk.join_mt(messages)
    assert b"$" in joined
    assert bulk.split_mt(joined) == messages
    assert bulk.split_mt(b"\r\n".join(messages)) == messages


def test_an_mx_bulk_file_splits_back_into_its_messages(tmp_path):
    adapter, _, _ = csd(tmp_path, "NSD")
    body = adapter._prepare_steps(leg("NSD")).send(None)
    messages = [adapter.encode(body), adapter.encode(body)]
    joined = bulk.join_mx(messages)
    assert joined.count(b"<Envlp ") == 2 and b'<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01">' in joined
    split = bulk.split_mx(joined)
    assert [adapter.decode(part) for part in split] == [body, body]


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01"/>',
        b'<Other xmlns="urn:x"><Document xmlns="urn:y"/></Other>',
        b'<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01"></BlkMsgs>',
        b'<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01"><Document xmlns="urn:y"/>',
    ],
)
def test_an_mx_bulk_file_that_is_hostile_empty_or_broken_is_refused(data):
    with pytest.raises(MalformedMessage):
        bulk.split_mx(data)


def test_a_bulk_file_mixing_standards_is_refused_whole_rather_than_losing_a_message():
    fin = b"{1:F01AAAAAAAAAXXX0000000000}{2:I524BBBBBBBBXXXXN}{4:\r\n-}"
    envelope = b'<Envlp xmlns="urn:csd-hub:xsd:envlp.001.01"/>'
    for mixed in (fin + b"\r\n$" + envelope, fin + b"\r\n$" + envelope + b"\r\n$" + fin, fin + b"junk"):
        with pytest.raises(MalformedMessage, match="not a FIN message"):
            bulk.split_mt(mixed)
    xml = b'<BlkMsgs xmlns="urn:csd-hub:xsd:blk.001.01">%s' + envelope + b"%s</BlkMsgs>"
    for before, after in ((fin, b""), (b"", fin), (b"\n  ", b" text")):
        with pytest.raises(MalformedMessage, match="text between its messages"):
            bulk.split_mx(xml % (before, after))
    assert len(bulk.split_mx(xml % (b"\n  ", b"\n"))) == 1  # layout between elements is fine


def test_bulk_files_are_refused_beyond_their_limits():
    message = b"{1:F01AAAAAAAAAXXX0000000000}{2:I524BBBBBBBBXXXXN}{4:\r\n-}"
    with pytest.raises(MalformedMessage):
        bulk.split_mt(bulk.join_mt([message] * 3), max_messages=2)
    with pytest.raises(MalformedMessage):
        bulk.split_mt(b"garbage" + message)
    with pytest.raises(MalformedMessage):
        bulk.split_mt(message * 3, max_bytes=100)
    with pytest.raises(MalformedMessage):
        bulk.join_mx([b"<Document/>"])  # no namespace of its own: it would take the bulk file's


# --------------------------------------------------------------------------------------- the adapters


def test_an_mt_commit_batch_sends_every_mt540_then_every_mt542_still_unmatched(tmp_path):
    recorder = Recorder()
    adapter, ledger, _ = csd(tmp_path, "STRATE", recorder)
    legs = [leg("STRATE"), leg("STRATE", credit="NOSUCH-OWN"), leg("STRATE")]
    assert all(r.outcome for r in adapter.prepare_many(legs))
    recorder.exchanges.clear()
    results = adapter.commit_many(legs)
    assert [r.outcome.state if r.outcome else type(r.error) for r in results] == [
        LegState.COMMITTED,
        UnknownAccount,
        LegState.COMMITTED,
    ]
    rounds = [
        (
            [parse_fin(m).message_type for m in bulk.split_mt(body)],
            [parse_fin(p).message_type for p in reply.parts],
        )
        for path, body, reply in recorder.exchanges
        if path == "/messages/bulk"
    ]
    assert rounds == [(["540", "540", "540"], ["548", "548", "548"]), (["542", "542"], ["546", "546"])]
    assert ledger.discrepancies() == []
    assert ledger.balances()[(ACCOUNTS[1], KNOWN_ISIN)] == (Decimal(20), 0)


def test_a_batch_larger_than_batch_size_goes_in_several_bulk_files(tmp_path):
    recorder = Recorder()
    adapter, ledger, _ = csd(tmp_path, "NSD", recorder, batch_size=2)
    legs = [leg("NSD") for _ in range(5)]
    results = adapter.prepare_many(legs)
    assert [r.leg_id for r in results] == [leg.leg_id for leg in legs]
    assert len({r.outcome.csd_reference for r in results}) == 5
    sizes = [len(bulk.split_mx(body)) for path, body, _ in recorder.exchanges]
    assert sizes == [2, 2, 1]
    assert ledger.balances()[(ACCOUNTS[0], KNOWN_ISIN)] == (Decimal(950), Decimal(50))


def test_a_leg_the_bulk_reply_says_nothing_of_is_a_protocol_error_on_that_leg(tmp_path):
    adapter, _, service = csd(tmp_path, "NSD")

    class ForgetsTheLast(Transport):
        def _send(self, method, path, body, params, content_type):
            reply = WsgiTransport(service)._send(method, path, body, params, content_type)
            return Reply(reply.status, reply.content_type, reply.parts[:-1])

    adapter.transport = ForgetsTheLast()
    legs = [leg("NSD"), leg("NSD"), leg("NSD")]
    results = adapter.prepare_many(legs)
    assert [r.outcome.state for r in results[:2]] == [LegState.PREPARED] * 2
    assert isinstance(results[2].error, ProtocolError)


class Altered(Transport):
    """The reference CSD behind a link that changes its bulk replies with ``alter(reply)``."""

    def __init__(self, service, alter) -> None:
        super().__init__()
        self.inner, self.alter = WsgiTransport(service), alter

    def _send(self, method, path, body, params, content_type):
        reply = self.inner._send(method, path, body, params, content_type)
        return self.alter(reply) if path == "/messages/bulk" else reply


def garbled(part: bytes) -> bytes:
    return part.replace(b"<Document", b"<Documnt", 1)


def test_an_unreadable_reply_part_is_the_error_of_its_own_leg_only(tmp_path):
    adapter, ledger, service = csd(tmp_path, "NSD")
    adapter.transport = Altered(
        service, lambda r: Reply(r.status, r.content_type, (garbled(r.parts[0]),) + r.parts[1:])
    )
    legs = [leg("NSD"), leg("NSD"), leg("NSD")]
    results = adapter.prepare_many(legs)
    assert isinstance(results[0].error, ProtocolError) and "unreadable reply" in str(results[0].error)
    assert [r.outcome.state for r in results[1:]] == [LegState.PREPARED] * 2
    assert ledger.balances()[(ACCOUNTS[0], KNOWN_ISIN)] == (Decimal(970), Decimal(30))  # the CSD applied all


@pytest.mark.parametrize(
    "alter",
    [
        # a server error other than the transient ones: the CSD may have applied the file
        pytest.param(lambda r: Reply(501, "text/plain", (b"not implemented",)), id="501"),
        # a reply about transactions the hub never sent
        pytest.param(
            lambda r: Reply(
                r.status,
                r.content_type,
                tuple(p.replace(b"<AcctOwnrTxId>", b"<AcctOwnrTxId>X", 1) for p in r.parts),
            ),
            id="never-sent",
        ),
        # an unreadable part when every leg has a reply besides (the CSD replied twice)
        pytest.param(
            lambda r: Reply(r.status, r.content_type, r.parts + (garbled(r.parts[0]),)), id="extra-unreadable"
        ),
    ],
)
def test_an_answer_to_the_whole_bulk_file_refuses_no_leg_and_leaves_the_outcome_unknown(tmp_path, alter):
    adapter, ledger, service = csd(tmp_path, "NSD")
    adapter.transport = Altered(service, alter)
    legs = [leg("NSD"), leg("NSD")]
    with pytest.raises(OutcomeUnknown) as caught:
        adapter.prepare_many(legs)
    assert caught.value.permanent is False  # sent again later, as for a CSD that is down
    adapter.transport = WsgiTransport(service)
    assert [r.outcome.state for r in adapter.prepare_many(legs)] == [LegState.PREPARED] * 2


class TurnedAway(Transport):
    """A link that answers every bulk file with an HTTP client error, without passing it on to the CSD."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status, self.sent = status, 0

    def _send(self, method, path, body, params, content_type):
        self.sent += 1
        return Reply(self.status, "text/html", (b"<html>turned away</html>",))


@pytest.mark.parametrize("status", [401, 403, 404, 405, 415])
def test_a_bulk_file_turned_away_whole_is_a_permanent_error_of_each_of_its_legs(tmp_path, status):
    adapter, ledger, _service = csd(tmp_path, "NSD")
    adapter.transport = TurnedAway(status)
    legs = [leg("NSD"), leg("NSD")]
    results = adapter.prepare_many(legs)
    assert [type(r.error) for r in results] == [RequestNotProcessed] * 2
    assert all(r.error.permanent and r.error.status == status for r in results)
    assert f"HTTP {status}" in str(results[0].error)
    assert adapter.transport.sent == 1  # not sent again: the same request gets the same answer
    assert ledger.balances()[(ACCOUNTS[0], KNOWN_ISIN)] == (Decimal(1000), 0)


class Poisoning(Transport):
    """The reference CSD behind a link that spoils, in every bulk file, the message of the leg under
    ``reference``, so that the CSD cannot read it (and so answers 400 to the whole file, applying nothing)."""

    def __init__(self, service, reference: str) -> None:
        super().__init__()
        self.inner, self.reference = WsgiTransport(service), reference
        self.files: list[int] = []  # the number of messages in each bulk file sent

    def _send(self, method, path, body, params, content_type):
        if path == "/messages/bulk":
            messages = bulk.split_mx(body)
            self.files.append(len(messages))
            body = bulk.join_mx(
                [
                    m.replace(b"<ISIN>", b"<ISN>", 1).replace(b"</ISIN>", b"</ISN>", 1)
                    if f"<TxId>{self.reference}</TxId>".encode() in m
                    else m
                    for m in messages
                ]
            )
        return self.inner._send(method, path, body, params, content_type)


@pytest.mark.parametrize("poisoned", [0, 5, 10])
def test_one_message_the_csd_cannot_read_is_its_own_legs_error_and_the_rest_of_the_file_goes_through(
    tmp_path, poisoned
):
    adapter, ledger, service = csd(tmp_path, "NSD")
    legs = [leg("NSD") for _ in range(11)]
    adapter.transport = link = Poisoning(service, legs[poisoned].reference)
    results = adapter.prepare_many(legs)
    error = results[poisoned].error
    assert isinstance(error, RequestNotProcessed) and error.status == 400 and error.permanent
    assert "bulk file" in str(error)
    assert [r.outcome.state for i, r in enumerate(results) if i != poisoned] == [LegState.PREPARED] * 10
    assert ledger.balances()[(ACCOUNTS[0], KNOWN_ISIN)] == (Decimal(900), Decimal(100))
    # the whole file, then each half that still holds the message, down to the message itself: every
    # halving costs two requests, never more
    assert link.files[0] == 11 and 1 in link.files
    assert len(link.files) <= 1 + 2 * math.ceil(math.log2(11))


def test_a_file_turned_away_for_another_reason_than_its_content_is_not_split(tmp_path):
    adapter, _ledger, _service = csd(tmp_path, "NSD")
    adapter.transport = TurnedAway(404)
    results = adapter.prepare_many([leg("NSD") for _ in range(8)])
    assert all(isinstance(r.error, RequestNotProcessed) for r in results)
    assert adapter.transport.sent == 1


def test_legs_of_another_csd_are_refused_before_anything_is_sent(tmp_path):
    recorder = Recorder()
    adapter, _, _ = csd(tmp_path, "NSD", recorder)
    with pytest.raises(ValueError):
        adapter.prepare_many([leg("NSD"), leg("MCDR")])
    assert recorder.exchanges == []


# ------------------------------------------------------------------------------------- the reference CSD


def test_a_bulk_file_with_one_unreadable_message_is_refused_whole_and_nothing_is_applied(tmp_path):
    adapter, ledger, service = csd(tmp_path, "NSD")
    good = adapter.encode(adapter._prepare_steps(leg("NSD")).send(None))
    broken = good.replace(b"<ISIN>", b"<ISN>", 1).replace(b"</ISIN>", b"</ISN>", 1)
    assert broken != good
    transport = WsgiTransport(service)
    reply = transport._send("POST", "/messages/bulk", bulk.join_mx([good, broken]), {}, "application/xml")
    assert reply.status == 400
    assert b"message 1 of the bulk file" in reply.parts[0]
    assert ledger.balances()[(ACCOUNTS[0], KNOWN_ISIN)] == (Decimal(1000), 0)
