"""Worked stories of what the protocol makes of a CSD's answers that are not a leg's outcome: a request the
CSD turned away whole (an HTTP client error: it applied nothing), and an answer that says nothing sure of
the legs (their outcome unknown: sent again).

NSD is reached through its MX adapter and the reference CSD's service, in this process, behind a link
(``NsdBehindALink``) that can answer for it; the other CSDs through the in-process adapter.
"""

import datetime as dt
import logging
from decimal import Decimal

from csd_adapters.mx import MxAdapter
from csd_adapters.reference_csd.service import ReferenceCsd
from csd_adapters.transport import Reply, RetryPolicy, WsgiTransport
from hub.ledger.services import blocks_seal_and_finalise
from hub.registry.adapters import csd_profile
from hub.registry.models import CSD

from .books import invariant_violations
from .messages import NSD_A, STRATE_A, pair
from .test_protocol import NOON_IN_MOSCOW, SHARES, advance_batch, matched


class NsdBehindALink:
    """NSD's books behind its MX adapter and the reference CSD's service, and a link between that answers
    each request with ``answer(path, body, forward)``: ``forward()`` passes the request on to NSD (or
    ``forward(changed)``, another body in its place) and returns NSD's reply; an answer that does not call
    it never reaches NSD (a proxy that lost its route, say). ``passed_on`` lets every request through."""

    def __init__(self, books, answer) -> None:
        profile = csd_profile(CSD.objects.get(code="NSD"))
        link = self

        class Link(WsgiTransport):
            def _send(self, method, path, body, params, content_type):
                link.requests.append((path, body))
                send = super()._send

                def forward(changed: bytes | None = None) -> Reply:
                    return send(method, path, body if changed is None else changed, params, content_type)

                return link.answer(path, body, forward)

        self.answer = answer
        self.requests: list[tuple[str, bytes]] = []
        retry = RetryPolicy(attempts=1)
        self.adapter = MxAdapter(
            profile=profile, transport=Link(ReferenceCsd(profile, books.ledgers["NSD"]), retry=retry)
        )
        self.books = books

    def adapter_for(self, csd_row: CSD):
        return self.adapter if csd_row.code == "NSD" else self.books.adapter_for(csd_row)


def passed_on(path, body, forward):
    return forward()


def not_found(path, body, forward):
    return Reply(404, "text/html", (b"<html>no route to /messages/bulk</html>",))


def about_transactions_never_sent(path, body, forward):
    """NSD's reply, changed on the way so that it names other transactions than the legs sent: NSD may have
    applied them, the hub cannot tell."""
    reply = forward()
    if path != "/messages/bulk":
        return reply
    parts = tuple(p.replace(b"<AcctOwnrTxId>", b"<AcctOwnrTxId>X", 1) for p in reply.parts)
    return Reply(reply.status, reply.content_type, parts)


def errors_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_csd_turning_the_prepare_away_with_a_404_fails_the_transfer_at_once_not_retried_for_ever(
    books, caplog
):
    nsd = NsdBehindALink(books, not_found)
    transfer = matched(*pair(NSD_A, STRATE_A, tx="P404"))
    advance_batch([transfer], nsd.adapter_for)
    transfer.refresh_from_db()
    # NSD applied nothing: the transfer aborts with the reason, and Strate's reservation is released
    assert transfer.status == "ABORTING" and transfer.failure_reason == "OTHR"
    assert "NSD: POST /messages/bulk: HTTP 404" in transfer.failure_detail
    assert dict(transfer.legs.values_list("csd__code", "status")) == {"NSD": "PENDING", "STRATE": "ABORTED"}
    assert books.balance("STRATE", "MIRROR-NSD", SHARES)[1] == 0
    # NSD turns the release away too: the leg shows why, and operations see it
    assert dict(transfer.legs.values_list("csd__code", "reason_code"))["NSD"] == "OTHR"
    assert any(
        "NSD refused the abort of" in message and "HTTP 404" in message for message in errors_logged(caplog)
    )
    # once NSD's route is mended, the release goes through and the transfer fails
    nsd.answer = passed_on
    advance_batch([transfer], nsd.adapter_for, now=NOON_IN_MOSCOW + dt.timedelta(minutes=3))
    transfer.refresh_from_db()
    assert transfer.status == "FAILED" and transfer.failure_reason == "OTHR"
    assert invariant_violations(books) == []


def test_a_csd_turning_the_commit_away_after_the_anchor_is_an_error_operations_see_on_the_leg(books, caplog):
    transfer = matched(*pair(NSD_A, STRATE_A, tx="C404"))
    advance_batch([transfer], books.adapter_for)
    blocks_seal_and_finalise()
    nsd = NsdBehindALink(books, not_found)
    advance_batch([transfer], nsd.adapter_for)
    transfer.refresh_from_db()
    # after the anchor only forward: the transfer waits, its leg shows why, and the error is logged
    assert transfer.status == "COMMITTING" and transfer.attempts == 0
    assert dict(transfer.legs.values_list("csd__code", "reason_code"))["NSD"] == "OTHR"
    assert any(
        "NSD refused the commit of" in message and "HTTP 404" in message for message in errors_logged(caplog)
    )
    nsd.answer = passed_on
    advance_batch([transfer], nsd.adapter_for, now=NOON_IN_MOSCOW + dt.timedelta(minutes=3))
    transfer.refresh_from_db()
    assert transfer.status == "SETTLED"
    assert books.balance("STRATE", "DEMAZAJJ-OWN", SHARES) == (Decimal(100_100), 0)
    assert invariant_violations(books) == []


def test_an_outcome_left_unknown_attempt_after_attempt_is_an_error_operations_see_on_the_leg(
    books, caplog, settings
):
    settings.SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS = 3
    nsd = NsdBehindALink(books, about_transactions_never_sent)
    transfer = matched(*pair(NSD_A, STRATE_A, tx="UNKN"))
    now = NOON_IN_MOSCOW
    for attempt in (1, 2):
        advance_batch([transfer], nsd.adapter_for, now=now)
        transfer.refresh_from_db()
        assert transfer.status == "PREPARING" and transfer.attempts == attempt
        assert dict(transfer.legs.values_list("csd__code", "reason_code"))["NSD"] == ""
        now += dt.timedelta(minutes=5)
    assert errors_logged(caplog) == []  # so far, as for a CSD that is down: warnings
    advance_batch([transfer], nsd.adapter_for, now=now)
    transfer.refresh_from_db()
    assert transfer.status == "PREPARING" and transfer.attempts == 3  # still sent again: NSD may hold it
    nsd_leg = transfer.legs.get(csd__code="NSD")
    assert nsd_leg.reason_code == "OTHR"
    (error,) = errors_logged(caplog)
    assert f"the outcome of the prepare of {nsd_leg.leg_id} at NSD is still unknown after 3 attempts" in error
    assert "transactions never sent" in error
    # NSD's answers reach the hub again: the leg is reserved, and its reason goes
    nsd.answer = passed_on
    advance_batch([transfer], nsd.adapter_for, now=now + dt.timedelta(minutes=5))
    transfer.refresh_from_db()
    assert transfer.status == "PREPARED" and transfer.legs.get(csd__code="NSD").reason_code == ""


def test_one_leg_nsd_cannot_read_fails_its_own_transfer_and_holds_up_no_other_batched_with_it(books, caplog):
    from iso20022 import bulk

    def spoiling_7777(path, body, forward):
        """NSD cannot read a movement of 7777 (a stand-in for any message it cannot read): it answers 400
        to the whole bulk file that holds one, and applies nothing of it."""
        if path != "/messages/bulk":
            return forward()
        spoilt = [
            m.replace(b"<ISIN>", b"<ISN>", 1).replace(b"</ISIN>", b"</ISN>", 1) if b">7777<" in m else m
            for m in bulk.split_mx(body)
        ]
        return forward(bulk.join_mx(spoilt))

    nsd = NsdBehindALink(books, spoiling_7777)
    poisoned = matched(*pair(NSD_A, STRATE_A, tx="POISON", amount="7777"))
    others = [matched(*pair(NSD_A, STRATE_A, tx=f"OK{i}", amount=str(10 + i))) for i in range(5)]
    advance_batch([poisoned, *others], nsd.adapter_for)
    for transfer in others:
        transfer.refresh_from_db()
        assert transfer.status == "PREPARED"
    poisoned.refresh_from_db()
    assert poisoned.status == "ABORTING" and poisoned.failure_reason == "OTHR"
    assert "NSD: POST /messages/bulk: HTTP 400: message 0 of the bulk file" in poisoned.failure_detail
    assert poisoned.legs.get(csd__code="STRATE").status == "ABORTED"
    # NSD cannot read its release either: it stays to be released, and operations see why
    assert poisoned.legs.get(csd__code="NSD").reason_code == "OTHR"
    assert any(f"transfer {poisoned.pk}: NSD refused the abort" in e for e in errors_logged(caplog))
    assert books.balance("NSD", "DEMARUMM-OWN", SHARES) == (Decimal(100_000 - 60), Decimal(60))
    # each file NSD turned away went again in halves: a few requests more, not one per leg
    bulk_requests = [body for path, body in nsd.requests if path == "/messages/bulk"]
    assert len(bulk_requests) <= 2 * (1 + 2 * 3)  # the prepares, then the release, of 6 legs
