"""What the adapters make of replies that are not what the leg asked for, of legs the CSD's standard
cannot carry, of a CSD that stops half way through a reply, and what the reference CSD makes of a
quantity beyond what it keeps. In process (the CSD's WSGI application, a SQLite ledger) or against small
socket servers standing in for a broken CSD."""

import contextlib
import socket
import threading
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from csd_adapters.base import (
    CsdTimeout,
    CsdUnavailable,
    LegNotExpressible,
    LegState,
    MessageRejected,
    ProtocolError,
)
from csd_adapters.profiles import profile_for
from csd_adapters.registry import adapter_for
from csd_adapters.transport import Reply, RetryPolicy, Transport, WsgiTransport, _reply
from iso20022 import models as m
from iso20022 import mx
from iso20022.mt import build_mt, parse_mt

from .test_batches import ACCOUNTS, Recorder, csd, leg


class HalfConfirmed(Transport):
    """Between the adapter and the CSD: every confirmation comes back for half the leg's quantity, as a
    CSD that settled part of it would say."""

    def __init__(self, service, standard: str) -> None:
        super().__init__(retry=RetryPolicy(attempts=1))
        self.inner, self.standard = WsgiTransport(service), standard

    def _send(self, method, path, body, params, content_type) -> Reply:
        reply = self.inner._send(method, path, body, params, content_type)
        parts = []
        for part in reply.parts:
            message = mx.parse(part).body if self.standard == "MX" else parse_mt(part)
            if isinstance(message, m.SettlementConfirmation | m.IntraPositionConfirmation):
                half = replace(message.settled_quantity, amount=message.settled_quantity.amount / 2)
                message = replace(message, settled_quantity=half)
                part = (
                    mx.build(message)
                    if self.standard == "MX"
                    else build_mt(message, sender="STRAZAJJ", receiver="CSDHUBZZ")
                )
                part = part if isinstance(part, bytes) else part.encode()
            parts.append(part)
        return Reply(reply.status, reply.content_type, tuple(parts))


@pytest.mark.parametrize("code", ["NSD", "STRATE"])
def test_a_confirmation_of_part_of_the_leg_is_not_taken_for_the_whole(tmp_path, code):
    adapter, _, service = csd(tmp_path, code)
    the_leg = leg(code, 10)
    assert adapter.prepare(the_leg).state is LegState.PREPARED
    adapter.transport = HalfConfirmed(service, profile_for(code).standard.value)
    with pytest.raises(ProtocolError, match="confirmed 5 UNIT"):
        adapter.commit(the_leg)
    (result,) = adapter.prepare_many([leg(code, 10)])
    assert isinstance(result.error, ProtocolError)


@pytest.mark.parametrize(
    ("credit", "quantity"),
    [("DEM_B-OWN", Decimal(10)), (ACCOUNTS[1], Decimal("0.000001"))],
    ids=["account", "decimals"],
)
def test_a_leg_mt_cannot_carry_is_refused_at_prepare_before_anything_is_sent(tmp_path, credit, quantity):
    recorder = Recorder()
    adapter, _, _ = csd(tmp_path, "STRATE", recorder=recorder)
    bad = replace(leg("STRATE"), credit_account=credit, quantity=quantity)
    good = leg("STRATE")
    results = adapter.prepare_many([bad, good])
    assert isinstance(results[0].error, LegNotExpressible) and results[0].error.permanent
    assert results[1].outcome.state is LegState.PREPARED
    sent = b"".join(body for _path, body, _reply in recorder.exchanges)
    assert bad.reference.encode() not in sent and good.reference.encode() in sent


def test_one_leg_that_cannot_be_written_does_not_take_its_commit_batch_down(tmp_path):
    adapter, _, _ = csd(tmp_path, "STRATE")
    legs = [leg("STRATE"), leg("STRATE"), leg("STRATE")]
    assert all(r.outcome for r in adapter.prepare_many(legs))
    legs[1] = replace(legs[1], credit_account="DEM_B-OWN")  # as a leg written before the check existed
    results = adapter.commit_many(legs)
    assert [r.outcome.state for r in (results[0], results[2])] == [LegState.COMMITTED] * 2
    assert isinstance(results[1].error, LegNotExpressible)


@pytest.mark.parametrize("code", ["NSD", "STRATE"])
def test_a_quantity_beyond_what_the_reference_csd_keeps_is_refused_on_its_own_leg(tmp_path, code):
    adapter, ledger, _ = csd(tmp_path, code)
    huge = 10**13  # over 2**63 millionths, and MT still carries its 14 digits
    results = adapter.prepare_many([leg(code), leg(code, huge), leg(code)])
    assert [r.outcome.state for r in (results[0], results[2])] == [LegState.PREPARED] * 2
    assert isinstance(results[1].error, MessageRejected) and results[1].error.reason_code == "DQUA"
    assert ledger.discrepancies() == []


def _broken_csd(answer) -> str:
    """A socket server that reads a request and answers with ``answer(connection)``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            connection, _ = server.accept()
            connection.recv(1 << 16)
            # the adapter may hang up first (a deadline passed): that ends this answer, not the server
            with contextlib.suppress(OSError), connection:
                answer(connection)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_reply_cut_short_is_a_transient_failure_not_a_crash():
    url = _broken_csd(
        lambda c: c.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n<x"
        )
    )
    adapter = adapter_for("iso20022_mx", profile="NSD", base_url=url, retry=RetryPolicy(attempts=1))
    with pytest.raises(CsdUnavailable):
        adapter.prepare_many([replace(leg("NSD"), csd="NSD")])
    assert not adapter.health().ok


def test_a_reply_that_trickles_in_is_cut_off_at_the_read_timeout():
    def trickle(connection) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            connection.sendall(b" ")
            time.sleep(0.1)

    url = _broken_csd(trickle)
    adapter = adapter_for(
        "iso20022_mx", profile="NSD", base_url=url, read_timeout=0.5, retry=RetryPolicy(attempts=1)
    )
    started = time.monotonic()
    with pytest.raises(CsdTimeout):
        adapter.prepare(leg("NSD"))
    assert time.monotonic() - started < 3  # the whole body would take 10 s


@pytest.mark.parametrize("body", [b"[]", b'"ok"', b"null"])
def test_a_health_answer_that_is_not_a_json_object_is_not_ok(body):
    class Answers(Transport):
        def _send(self, *args) -> Reply:
            return _reply(200, "application/json", body)

    health = adapter_for("iso20022_mx", profile="NSD", transport=Answers()).health()
    assert not health.ok and "not a JSON object" in health.detail


def _http_reply(headers: bytes, body: bytes):
    return lambda c: c.sendall(
        b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


def test_a_compressed_reply_is_read_decompressed():
    import gzip

    url = _broken_csd(
        _http_reply(
            b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
            gzip.compress(b'{"status": "ok"}'),
        )
    )
    health = adapter_for("iso20022_mx", profile="NSD", base_url=url, retry=RetryPolicy(attempts=1)).health()
    assert health.ok, health.detail


def test_a_reply_that_does_not_decompress_is_a_transient_failure_not_a_crash():
    url = _broken_csd(
        _http_reply(b"Content-Type: application/xml\r\nContent-Encoding: gzip\r\n", b"not gzip at all")
    )
    adapter = adapter_for("iso20022_mx", profile="NSD", base_url=url, retry=RetryPolicy(attempts=1))
    with pytest.raises(CsdUnavailable):
        adapter.prepare(leg("NSD"))
