"""The reference CSD over HTTP: a small WSGI application in front of one ``Ledger``.

Endpoints (messages in the CSD's standard, MX or MT, per its profile):

- ``POST /messages``: semt.013 / MT524 (AVAI -> BLOK reserves, BLOK -> AVAI releases), answered by
  semt.015 / MT508, or by a status, semt.014 / MT508 with a status sequence.
- ``POST /messages``: sese.023 (deliver free from the blocked sub-balance to the counterparty's account),
  answered by sese.025, or by a status, sese.024.
- ``POST /messages/bulk``: a bulk file of such messages (``iso20022.bulk``: MX ``BlkMsgs``, MT FIN
  messages one after another), each applied in order with the same effect and reply as if sent alone,
  answered by the replies in order as the parts of one ``multipart/mixed`` body. Every message is read
  before any is applied: a file with one unreadable message is refused whole (``400``), nothing applied.
  The messages share one database transaction (``Ledger.in_batch``: each checked before it writes, so a
  refusal writes nothing).
- ``POST /messages``, MT: a delivery is matched from its two sides, MT542 (deliver free) and MT540
  (receive free), in either order; the first is answered by an MT548 (accepted, unmatched ``CMIS``),
  the one that completes the match by MT546 or MT544 (settled), or by an MT548 refusal.
- ``GET /statements/holdings?account=&date=``: semt.002 / MT535.
- ``GET /statements/transactions?account=&since=&until=``: semt.017 / MT536.
- ``POST /endorse`` (block header bytes): JSON ``{"signature": hex, "key_id": ...}``, for a canonical
  block header of the hub's ledger (``csd_adapters.headers``) that names this CSD, once per height: ``400``
  for bytes that are no such header, ``422`` for a header that does not name this CSD, ``409`` for another
  header at a height this CSD has endorsed (the same header again is signed again).
- ``GET /key``, ``GET /health``: JSON.
- ``POST /admin/faults``, ``/admin/accounts``, ``/admin/block``, ``/admin/issue``, ``/admin/seed`` and
  ``GET /admin/check``, ``/admin/faults``: JSON in and out, for tests and operators.
- ``GET /admin/endorsements``: the highest height endorsed, how many heights, how many were released.
  ``POST /admin/endorsements/release`` ``{"from_height": H}``: the operator's decision to endorse the hub's
  blocks again from height H up, after the hub lost sealed blocks and sealed those heights again (what was
  endorsed there is kept in ``refcsd_endorsements_released``).

A refusal by the ledger is a status message carrying its ISO reason code (``LACK``, ``BLOC`` as pending
reasons; ``SAFE``, ``DSEC``, ``REFE`` as rejection reasons; ``NPRP``, ``ABRT``, ``CMTD`` as proprietary
rejection reasons issued by ``REFCSD``). A message that cannot be read is answered ``400`` with the
library's errors; a holdings statement the message layer cannot express ``422``. A contra account's
(issuance, mirror) short position travels like any other: semt.002 ``ShrtLngInd`` ``SHOR``, MT535 ``N``
balances. Admin endpoints require the ``X-Admin-Token`` header when a token is configured (the command
line serves beyond the loopback interface only with one).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import re
import socket
import time
import uuid
from decimal import Decimal
from urllib.parse import parse_qs

from csd_adapters.base import (
    AdapterError,
    BlockedAccount,
    HeaderNotNamingCsd,
    HeaderRefused,
    HeightEndorsedOtherwise,
    InsufficientSecurities,
    NotABlockHeader,
    UnknownAccount,
)
from csd_adapters.profiles import CsdProfile, Standard
from csd_adapters.reference_csd.dialects import dialect_for
from csd_adapters.reference_csd.faults import Fault, Faults
from csd_adapters.reference_csd.ledger import Ledger, SeedError
from iso20022 import bulk
from iso20022 import models as m
from iso20022.errors import Iso20022Error

PROPRIETARY_ISSUER = "REFCSD"
PENDING_REASONS = frozenset({InsufficientSecurities.reason_code, BlockedAccount.reason_code})
ISO_REJECTIONS = frozenset({"SAFE", "DSEC", "REFE", "TXST", "DEPT", "DQUA"})
MAX_BODY = 1_000_000
MAX_BULK_BODY = bulk.BULK_LIMITS.max_bytes
ENDORSE_REFUSALS = {
    NotABlockHeader: "400 Bad Request",
    HeaderNotNamingCsd: "422 Unprocessable Content",
    HeightEndorsedOtherwise: "409 Conflict",
}


class HttpError(Exception):
    """An answer other than 200: plain text, or the JSON ``answer`` when the client is to read it."""

    def __init__(self, status: str, message: str, *, answer: dict | None = None):
        super().__init__(message)
        self.status = status
        self.answer = answer


class ReplyDropped(ConnectionAbortedError):
    """Raised in process when the ``drop_reply`` fault swallows a reply."""


class ReferenceCsd:
    """One CSD: its profile, ledger, dialect and faults, served as a WSGI application."""

    def __init__(self, profile: CsdProfile, ledger: Ledger, *, admin_token: str | None = None) -> None:
        self.profile = profile
        self.ledger = ledger
        self.dialect = dialect_for(profile.standard, profile.bic)
        self.faults = Faults()
        self.admin_token = admin_token

    # ------------------------------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        try:
            if path.startswith("/admin/"):
                status, content_type, parts = self._admin(environ, path)
            else:
                status, content_type, parts = self._with_faults(environ, path)
        except HttpError as exc:
            if exc.answer is not None:
                status, content_type, parts = exc.status, "application/json", [_json(exc.answer)]
            else:
                status, content_type, parts = exc.status, "text/plain; charset=utf-8", [str(exc).encode()]
        if len(parts) == 1:
            body = parts[0]
        else:
            boundary = uuid.uuid4().hex
            body = (
                b"".join(
                    b"--%s\r\nContent-Type: %s\r\n\r\n%s\r\n"
                    % (boundary.encode(), content_type.encode(), part)
                    for part in parts
                )
                + b"--%s--\r\n" % boundary.encode()
            )
            content_type = f"multipart/mixed; boundary={boundary}"
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _with_faults(self, environ, path):
        fault = self.faults.take()
        if fault.fault is Fault.DOWN:
            raise HttpError("503 Service Unavailable", f"{self.profile.code} is down (injected fault)")
        if fault.fault is Fault.SLOW:
            time.sleep(fault.delay)
        body = _body(environ, MAX_BULK_BODY if path == "/messages/bulk" else MAX_BODY)
        status, content_type, reply = self._route(environ, path, body)
        if fault.fault is Fault.DROP_REPLY:
            _drop_connection(environ)
        if fault.fault is Fault.REPLY_TWICE and path.startswith("/messages"):
            _, _, again = self._route(environ, path, body)
            return status, content_type, [*reply, *again]
        return status, content_type, reply

    def _route(self, environ, path: str, body: bytes) -> tuple[str, str, list[bytes]]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST" and path == "/messages":
            return "200 OK", self.dialect.content_type, [self.handle_message(body)]
        if method == "POST" and path == "/messages/bulk":
            return "200 OK", self.dialect.content_type, self.handle_bulk(body)
        status, content_type, reply = self._route_one(environ, path, body)
        return status, content_type, [reply]

    def _route_one(self, environ, path: str, body: bytes) -> tuple[str, str, bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        ok = "200 OK"
        if method == "GET" and path == "/statements/holdings":
            return (
                ok,
                self.dialect.content_type,
                self.holdings_statement(
                    _need(query, "account"), _date(query, "date", self.ledger.today()), query.get("bic")
                ),
            )
        if method == "GET" and path == "/statements/transactions":
            today = self.ledger.today()
            return (
                ok,
                self.dialect.content_type,
                self.transactions_statement(
                    _need(query, "account"),
                    _date(query, "since", today),
                    _date(query, "until", today),
                    query.get("bic"),
                ),
            )
        if method == "POST" and path == "/endorse":
            try:
                signature = self.ledger.endorse(body, csd=self.profile.code)
            except HeaderRefused as exc:
                raise HttpError(ENDORSE_REFUSALS[type(exc)], str(exc)) from exc
            return ok, "application/json", _json({"signature": signature.hex(), "key_id": self.ledger.key_id})
        if method == "GET" and path == "/key":
            return (
                ok,
                "application/json",
                _json({"public_key": self.ledger.public_key.hex(), "key_id": self.ledger.key_id}),
            )
        if method == "GET" and path == "/health":
            return (
                ok,
                "application/json",
                _json(
                    {
                        "status": "ok",
                        "csd": self.profile.code,
                        "standard": self.profile.standard.value,
                        "bic": self.profile.bic,
                        "business_date": self.ledger.today().isoformat(),
                    }
                ),
            )
        raise HttpError("404 Not Found", f"no {method} {path}")

    # -------------------------------------------------------------------------------------- messages

    def handle_message(self, data: bytes) -> bytes:
        """Apply one inbound message to the ledger and return the reply message."""
        return self._answer(self._read(data))

    def handle_bulk(self, data: bytes) -> list[bytes]:
        """Apply the messages of a bulk file in order, in one ledger batch, and return their replies."""
        split = bulk.split_mx if self.profile.standard is Standard.MX else bulk.split_mt
        try:
            parts = split(data)
        except Iso20022Error as exc:
            raise HttpError("400 Bad Request", f"the bulk file cannot be read: {exc}") from exc
        inbound = []
        for n, part in enumerate(parts):
            try:
                inbound.append(self._read(part))
            except HttpError as exc:
                raise HttpError(exc.status, f"message {n} of the bulk file: {exc}") from exc
        return self.ledger.in_batch(lambda: [self._answer(message) for message in inbound])

    def _read(self, data: bytes) -> tuple[m.Message, str | None, str | None]:
        """(body, sender, message id) of an inbound instruction; 400 for anything else."""
        try:
            body, sender, message_id = self.dialect.read(data)
        except Iso20022Error as exc:
            raise HttpError("400 Bad Request", str(exc)) from exc
        if not isinstance(body, m.IntraPositionMovement | m.SettlementInstruction):
            raise HttpError("400 Bad Request", f"{type(body).__name__} is not an instruction this CSD takes")
        return body, sender, message_id

    def _answer(self, message: tuple[m.Message, str | None, str | None]) -> bytes:
        body, sender, message_id = message
        handle = self._movement if isinstance(body, m.IntraPositionMovement) else self._instruction
        return self.dialect.write(handle(body), to_bic=sender, related=message_id)

    def _movement(self, body: m.IntraPositionMovement) -> m.Message:
        balances = (body.from_balance, body.to_balance)
        args = dict(
            reference=body.transaction_id,
            account=body.safekeeping_account,
            isin=body.security.isin,
            quantity=body.quantity.amount,
        )
        try:
            if balances == (m.SubBalance.AVAILABLE, m.SubBalance.BLOCKED):
                outcome = self.ledger.reserve(linked_reference=body.linked_reference, **args)
            elif balances == (m.SubBalance.BLOCKED, m.SubBalance.AVAILABLE):
                outcome = self.ledger.release(**args)
            else:
                return m.IntraPositionStatus(
                    transaction_id=body.transaction_id,
                    processing=_rejected("INVB", "only AVAI -> BLOK and BLOK -> AVAI movements are taken"),
                )
        except AdapterError as exc:
            processing, settlement = _statuses(exc)
            return m.IntraPositionStatus(
                transaction_id=body.transaction_id, processing=processing, settlement=settlement
            )
        return m.IntraPositionConfirmation(
            transaction_id=body.transaction_id,
            account_servicer_transaction_id=outcome.csd_reference,
            security=body.security,
            settled_quantity=body.quantity,
            settlement_date=outcome.settlement_date,
            from_balance=body.from_balance,
            to_balance=body.to_balance,
            safekeeping_account=body.safekeeping_account,
            account_owner_bic=body.account_owner_bic,
        )

    def _instruction(self, body: m.SettlementInstruction) -> m.Message:
        def refuse(code: str, narrative: str) -> m.StatusAdvice:
            return m.StatusAdvice(transaction_id=body.transaction_id, processing=_rejected(code, narrative))

        matched = self.profile.standard is Standard.MT  # MT: both sides instruct (MT542 and MT540)
        sides = (m.Side.DELIVER, m.Side.RECEIVE) if matched else (m.Side.DELIVER,)
        if body.side not in sides or body.payment is not m.Payment.FREE:
            return refuse("TXST", "this CSD settles hub legs as free-of-payment deliveries only")
        if body.counterparty.csd_bic[:8] != self.profile.bic[:8]:
            return refuse("DEPT", f"the counterparty's account must be at {self.profile.bic}")
        if not body.counterparty.safekeeping_account:
            return refuse("SAFE", "the counterparty's safekeeping account is missing")
        movement = dict(reference=body.transaction_id, isin=body.security.isin, quantity=body.quantity.amount)
        try:
            if matched:
                outcome = self.ledger.instruct(
                    side=body.side.value,
                    account=body.safekeeping_account,
                    counterparty_account=body.counterparty.safekeeping_account,
                    **movement,
                )
            else:
                outcome = self.ledger.deliver(
                    account=body.safekeeping_account,
                    credit_account=body.counterparty.safekeeping_account,
                    **movement,
                )
        except AdapterError as exc:
            processing, settlement = _statuses(exc)
            return m.StatusAdvice(
                transaction_id=body.transaction_id, processing=processing, settlement=settlement
            )
        if outcome is None:
            other = "delivering" if body.side is m.Side.RECEIVE else "receiving"
            return m.StatusAdvice(
                transaction_id=body.transaction_id,
                processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED),
                matching=m.MatchingStatus(
                    code=m.MatchingStatusCode.UNMATCHED,
                    reasons=(m.Reason(code="CMIS", narrative=f"awaiting the {other} instruction"),),
                ),
            )
        return m.SettlementConfirmation(
            transaction_id=body.transaction_id,
            account_servicer_transaction_id=outcome.csd_reference,
            side=body.side,
            payment=body.payment,
            effective_settlement_date=outcome.settlement_date,
            security=body.security,
            settled_quantity=body.quantity,
            trade_date=body.trade_date,
            safekeeping_account=body.safekeeping_account,
            account_owner_bic=body.account_owner_bic,
            counterparty=body.counterparty,
            transaction_type=body.transaction_type,
            common_trade_reference=body.common_trade_reference,
        )

    # ------------------------------------------------------------------------------------ statements

    def holdings_statement(self, account: str, as_of: dt.date, to_bic: str | None) -> bytes:
        try:
            positions = self.ledger.positions(account, as_of)
        except UnknownAccount as exc:
            raise _unknown_account(account, exc) from exc
        balances = tuple(
            m.HoldingBalance(
                security=m.Security(isin=p.isin),
                aggregate=p.total,
                quantity_type=m.QuantityType.FACE_AMOUNT if p.face_amount else m.QuantityType.UNIT,
                available=p.available,
                not_available=p.blocked,
                sub_balances=(m.SubBalanceQuantity(balance=m.SubBalance.BLOCKED, quantity=p.blocked),)
                if p.blocked
                else (),
            )
            for p in positions
        )
        statement = m.HoldingsStatement(
            statement_date=as_of,
            safekeeping_account=account,
            balances=balances,
            statement_id=f"H{uuid.uuid4().hex[:15].upper()}",
            frequency="ADHO",
        )
        try:
            return self.dialect.write(statement, to_bic=to_bic, related=None)
        except Iso20022Error as exc:
            raise HttpError("422 Unprocessable Entity", f"the statement cannot be expressed: {exc}") from exc

    def transactions_statement(
        self, account: str, since: dt.date, until: dt.date, to_bic: str | None
    ) -> bytes:
        try:
            movements = self.ledger.movements(account, since, until)
        except UnknownAccount as exc:
            raise _unknown_account(account, exc) from exc
        statement = m.TransactionsStatement(
            period_start=since,
            period_end=until,
            safekeeping_account=account,
            statement_id=f"T{uuid.uuid4().hex[:15].upper()}",
            frequency="ADHO",
            movements=tuple(
                m.StatementMovement(
                    security=m.Security(isin=mv.isin),
                    transaction_id=mv.reference,
                    quantity=m.Quantity(
                        amount=mv.quantity,
                        type=m.QuantityType.FACE_AMOUNT if mv.face_amount else m.QuantityType.UNIT,
                    ),
                    credit_debit=m.CreditDebit.CREDIT if mv.credit else m.CreditDebit.DEBIT,
                    settlement_date=mv.settlement_date,
                    account_servicer_transaction_id=mv.csd_reference,
                    transaction_type="OWNI",
                )
                for mv in movements
            ),
        )
        return self.dialect.write(statement, to_bic=to_bic, related=None)

    # ----------------------------------------------------------------------------------------- admin

    def _admin(self, environ, path: str) -> tuple[str, str, list[bytes]]:
        if self.admin_token is not None:
            given = environ.get("HTTP_X_ADMIN_TOKEN", "")
            if not hmac.compare_digest(given, self.admin_token):
                raise HttpError("403 Forbidden", "admin endpoints need the X-Admin-Token header")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and path == "/admin/check":
            return "200 OK", "application/json", [_json({"discrepancies": self.ledger.discrepancies()})]
        if method == "GET" and path == "/admin/faults":
            return "200 OK", "application/json", [_json(self.faults.describe())]
        if method == "GET" and path == "/admin/endorsements":
            return "200 OK", "application/json", [_json(self.ledger.endorsements())]
        if method != "POST":
            raise HttpError("405 Method Not Allowed", f"{method} {path}")
        try:
            args = json.loads(_body(environ) or b"{}")
            result = self._admin_action(path, args)
        except (ValueError, KeyError, TypeError, SeedError, AdapterError) as exc:
            raise HttpError("400 Bad Request", f"{type(exc).__name__}: {exc}") from exc
        return "200 OK", "application/json", [_json(result)]

    def _admin_action(self, path: str, args: dict) -> dict:
        if path == "/admin/faults":
            self.faults.set(args.get("mode", "none"), count=args.get("count"), delay=args.get("delay", 2.0))
            return self.faults.describe()
        if path == "/admin/accounts":
            self.ledger.open_account(args["number"], args["kind"])
            return {"opened": args["number"]}
        if path == "/admin/block":
            self.ledger.block_account(args["number"], bool(args.get("blocked", True)))
            return {"blocked": bool(args.get("blocked", True))}
        if path == "/admin/issue":
            self.ledger.add_security(args["isin"], face_amount=bool(args.get("face_amount", False)))
            self.ledger.open_account(args.get("issuance", "ISSUANCE"), "ISSUANCE")
            posting = self.ledger.issue(
                reference=args["reference"],
                account=args["account"],
                isin=args["isin"],
                quantity=Decimal(str(args["quantity"])),
                issuance=args.get("issuance", "ISSUANCE"),
            )
            return {"posting": posting.id}
        if path == "/admin/seed":
            return {"result": self.ledger.seed(args)}
        if path == "/admin/endorsements/release":
            return self.ledger.endorsements_release(from_height=args["from_height"])
        raise HttpError("404 Not Found", f"no admin action {path}")


def _rejected(code: str, narrative: str | None) -> m.ProcessingStatus:
    issuer = None if code in ISO_REJECTIONS or code == "INVB" else PROPRIETARY_ISSUER
    return m.ProcessingStatus(
        code=m.ProcessingStatusCode.REJECTED,
        reasons=(m.Reason(code=code, narrative=_narrative(narrative), issuer=issuer),),
    )


def _statuses(exc: AdapterError) -> tuple[m.ProcessingStatus | None, m.SettlementStatus | None]:
    """(processing, settlement) status for a ledger refusal: pending for lack of securities and blocked
    accounts (the conditions a CSD waits on), rejected for everything else."""
    narrative = _narrative(str(exc))
    if exc.reason_code in PENDING_REASONS:
        reason = m.Reason(code=exc.reason_code, narrative=narrative)
        return None, m.SettlementStatus(code=m.SettlementStatusCode.PENDING, reasons=(reason,))
    return _rejected(exc.reason_code or "OTHR", narrative), None


def _narrative(text: str | None) -> str | None:
    """A narrative both standards can carry: the SWIFT x character set, at most 140 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9/?:().,'+ -]", " ", text or "").strip()[:140]
    return cleaned or None


def _drop_connection(environ) -> None:
    """Close the client's connection without a reply (the reply is lost after the work is done)."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise ReplyDropped("reply dropped (injected fault)")


def _body(environ, limit: int = MAX_BODY) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise HttpError("413 Content Too Large", f"at most {limit} bytes")
    return environ["wsgi.input"].read(length) if length else b""


def _need(query: dict, name: str) -> str:
    if not query.get(name):
        raise HttpError("400 Bad Request", f"the {name} parameter is required")
    return query[name]


def _date(query: dict, name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(query[name]) if query.get(name) else default
    except ValueError as exc:
        raise HttpError("400 Bad Request", f"{name} must be a date (YYYY-MM-DD)") from exc


def _unknown_account(account: str, exc: UnknownAccount) -> HttpError:
    """A statement of an account this CSD does not keep: 404 with a JSON answer saying so, which a client
    tells apart from any other 404 (a path not served, a proxy in the way)."""
    return HttpError(
        "404 Not Found",
        str(exc),
        answer={"error": "UnknownAccount", "reason_code": "SAFE", "account": account, "detail": str(exc)},
    )


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True).encode()
