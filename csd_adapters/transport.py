"""Getting bytes to a CSD and its reply back: HTTP (``requests``), or a WSGI application called in process.

Every HTTP call has a connect and a read timeout. Transient failures (cannot connect, connection lost,
no reply in time, 408 request timeout, 429 too many requests, 500 internal error, 502/503/504) are
retried with exponential backoff, jitter and a cap on both the delay and the number of attempts, then
raised as ``CsdUnavailable`` or ``CsdTimeout``; everything else is raised at once: 422 as
``MessageRejected``, any other client error (4xx), or a request that could not be sent at all (a base URL
that is none), as ``RequestNotProcessed`` (the CSD applied nothing of it), and any other answer that is
no reply as ``ProtocolError``. Retrying is safe only because
every operation is idempotent on its leg reference. A 404 to a statement request is ``UnknownAccount``
only when the CSD's answer says so (JSON, reason code ``SAFE``, the account asked for); any other 404 is a
``ProtocolError``.

A reply is a list of message parts: one normally, more when the CSD sends a ``multipart/mixed`` body
(a duplicated reply).
"""

from __future__ import annotations

import abc
import email.parser
import email.policy
import io
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
import urllib3

from csd_adapters.base import (
    AdapterError,
    CsdTimeout,
    CsdUnavailable,
    HeaderNotNamingCsd,
    HeightEndorsedOtherwise,
    MessageRejected,
    NotABlockHeader,
    ProtocolError,
    RequestNotProcessed,
    UnknownAccount,
)

# a CSD that is busy (429), failed inside (500: its database restarted, say) or gave up waiting for the
# request (408) may answer the same request later; every request is idempotent on its leg reference, so
# sending it again is safe
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# a CSD's refusal to endorse what it was sent, by HTTP status (the reference CSD's, see its service)
ENDORSE_REFUSALS = {400: NotABlockHeader, 409: HeightEndorsedOtherwise, 422: HeaderNotNamingCsd}


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    parts: tuple[bytes, ...]


Observer = Callable[[str, str, bytes, Reply], None]
"""Called with (method, path, request body, reply) after every exchange: for audit logs and tests."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first call included
    backoff: float = 0.05  # seconds before the first retry, doubled each time
    cap: float = 1.0  # longest wait between two attempts

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


class Transport(abc.ABC):
    """Sends one request to the CSD and returns its reply, retrying transient failures."""

    def __init__(self, *, retry: RetryPolicy | None = None, observer: Observer | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.observer = observer

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        params: dict | None = None,
        content_type: str = "application/octet-stream",
    ) -> Reply:
        attempt = 1
        while True:
            try:
                reply = self._send(method, path, body, params or {}, content_type)
                if reply.status in TRANSIENT_STATUSES:
                    raise CsdUnavailable(f"{method} {path}: HTTP {reply.status}: {_text(reply)}")
                break
            except AdapterError as exc:
                if exc.permanent or attempt >= self.retry.attempts:
                    raise
                time.sleep(self.retry.delay(attempt))
                attempt += 1
        if self.observer is not None:
            self.observer(method, path, body, reply)
        if reply.status == 404 and path.startswith("/statements/"):
            raise _statement_not_found(method, path, params or {}, reply)
        if path == "/endorse" and reply.status in ENDORSE_REFUSALS:
            raise ENDORSE_REFUSALS[reply.status](_text(reply))
        if reply.status == 422:
            raise MessageRejected(_text(reply))
        if 400 <= reply.status < 500:  # a client error turns the request away whole
            raise RequestNotProcessed(
                f"{method} {path}: HTTP {reply.status}: {_text(reply)}", status=reply.status
            )
        if reply.status >= 400:  # a server error other than the transient ones (501, 505 ...)
            raise ProtocolError(f"{method} {path}: HTTP {reply.status}: {_text(reply)}")
        return reply

    @abc.abstractmethod
    def _send(self, method: str, path: str, body: bytes, params: dict, content_type: str) -> Reply:
        """One exchange with the CSD, without retries: the subclass's way of reaching it."""


class HttpTransport(Transport):
    """HTTP to ``base_url`` with a pooled session (thread-safe for the requests this module makes)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
        pool_size: int = 16,
    ) -> None:
        super().__init__(retry=retry, observer=observer)
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        # the environment's proxy settings are read once here, not on every request (requests would
        # also look for a ~/.netrc file each time)
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and self.base_url.startswith("https:"):
            # only over TLS: requests looks at a bundle path on disk on every request
            self.session.verify = bundle
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _send(self, method, path, body, params, content_type) -> Reply:
        # the read timeout bounds each wait for bytes; the whole body must also be in within it once the
        # headers are, so that a CSD sending its body a byte now and then cannot hold a worker for ever
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                data=body or None,
                params=params,
                headers={"Content-Type": content_type} if body else {},
                timeout=self.timeout,
                stream=True,
            )
            try:
                response.raw.decode_content = True  # a gzip or deflate reply, as response.content would
                content = _read_within(response.raw, time.monotonic() + self.timeout[1])
            except BaseException:
                response.close()  # a connection left half read cannot serve another request
                raise
            response.raw.release_conn()
        except requests.exceptions.ConnectTimeout as exc:
            raise CsdUnavailable(f"{method} {path}: no connection within {self.timeout[0]}s") from exc
        except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError) as exc:
            raise CsdTimeout(f"{method} {path}: no reply within {self.timeout[1]}s") from exc
        except requests.exceptions.Timeout as exc:
            raise CsdTimeout(f"{method} {path}: no reply in time: {exc}") from exc
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            # while the body is read: the reply cut short (the CSD died, the link dropped), a broken TLS
            # record, a body that does not decompress
            urllib3.exceptions.HTTPError,
        ) as exc:
            raise CsdUnavailable(f"{method} {path}: connection failed or lost: {exc}") from exc
        except requests.RequestException as exc:
            # neither a connection nor a timeout: a base URL that is none (no scheme, an invalid host), a
            # redirect loop; the CSD processed nothing, and sending it again changes nothing
            raise RequestNotProcessed(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        return _reply(response.status_code, response.headers.get("Content-Type", ""), content)


def _read_within(raw: urllib3.HTTPResponse, deadline: float) -> bytes:
    """The whole body of ``raw``, or ``CsdTimeout`` once ``deadline`` (``time.monotonic()``) has passed:
    each read returns what has arrived, so the deadline is checked however slowly the bytes come."""
    chunks = []
    while chunk := raw.read1(1 << 16):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise CsdTimeout("the reply did not arrive in full within the read timeout")
    return b"".join(chunks)


class WsgiTransport(Transport):
    """Calls a WSGI application in this process: the same bytes as over HTTP, without the network."""

    def __init__(self, app, *, retry: RetryPolicy | None = None, observer: Observer | None = None) -> None:
        super().__init__(retry=retry, observer=observer)
        self.app = app

    def _send(self, method, path, body, params, content_type) -> Reply:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(params),
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "SERVER_NAME": "in-process",
            "SERVER_PORT": "0",
            "wsgi.url_scheme": "http",
        }
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, dict(headers)

        try:
            content = b"".join(self.app(environ, start_response))
        except ConnectionError as exc:
            raise CsdUnavailable(f"{method} {path}: connection lost: {exc}") from exc
        return _reply(
            int(captured["status"].split()[0]), captured["headers"].get("Content-Type", ""), content
        )


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_PART = re.compile(rb"\A((?:[A-Za-z-]+:[^\r\n]*\r\n)*)\r\n(.*)\r\n\Z", re.DOTALL)


def _reply(status: int, content_type: str, content: bytes) -> Reply:
    if not content_type.startswith("multipart/"):
        return Reply(status, content_type, (content,))
    fast = _plain_parts(content_type, content)
    if fast is not None:
        return Reply(status, *fast)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + content
    )
    parts = tuple(part.get_payload(decode=True) for part in message.iter_parts())
    inner = next(iter(message.iter_parts())).get_content_type() if parts else ""
    if not parts:
        raise ProtocolError("an empty multipart reply")
    return Reply(status, inner, parts)


def _plain_parts(content_type: str, content: bytes) -> tuple[str, tuple[bytes, ...]] | None:
    """(content type of the first part, parts) of a multipart body whose parts carry their bytes as they
    are (a bulk reply of hundreds of parts), or ``None`` to leave anything else to the email parser."""
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        return None
    delimiter = b"--" + boundary.group(1).encode()
    chunks = content.split(delimiter)
    if len(chunks) < 3 or chunks[0].strip() or chunks[-1].strip() not in (b"--", b"--\r\n"):
        return None
    parts, inner = [], ""
    for chunk in chunks[1:-1]:
        match = _PART.match(chunk[2:] if chunk.startswith(b"\r\n") else b"")
        if match is None or b"transfer-encoding" in match.group(1).lower():
            return None
        if not parts:
            for header in match.group(1).decode("latin-1").split("\r\n"):
                name, _, value = header.partition(":")
                if name.strip().lower() == "content-type":
                    inner = value.split(";")[0].strip().lower()
        parts.append(match.group(2))
    return inner, tuple(parts)


def _statement_not_found(method: str, path: str, params: dict, reply: Reply) -> AdapterError:
    """A 404 to a statement request means the CSD keeps no such account only when the CSD says so: a JSON
    answer with the reason code ``SAFE`` naming the account asked for (what the reference CSD sends). Any
    other 404 (a proxy that lost its route, a wrong base URL, a path the CSD does not serve) says nothing
    about the account, and is a ``ProtocolError``."""
    answer = None
    if len(reply.parts) == 1 and reply.content_type.split(";")[0].strip() == "application/json":
        try:
            answer = json.loads(reply.parts[0])
        except ValueError:
            answer = None
    if (
        isinstance(answer, dict)
        and answer.get("reason_code") == UnknownAccount.reason_code
        and answer.get("account") == params.get("account")
    ):
        return UnknownAccount(str(answer.get("detail") or f"no account {params.get('account')}")[:500])
    return ProtocolError(f"{method} {path}: HTTP 404, not an unknown-account answer: {_text(reply)}")


def _text(reply: Reply) -> str:
    return b"\n".join(reply.parts).decode(errors="replace")[:500]
