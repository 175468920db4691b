"""One webhook POST with a deadline on the whole exchange, not only on each read.

``requests`` bounds each socket read, so an endpoint that sends a byte now and then holds the caller as
long as it likes. Here the connection is the caller's own: a timer shuts its socket when the deadline
passes, whatever the exchange is waiting for (connecting, sending, the status line, the headers), and the
call ends with ``DeadlineExceeded``. Redirects are not followed: a webhook is delivered to its URL or not
at all (a followed 302 would turn the POST into a GET without the message, and point the hub anywhere).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
from urllib.parse import unquote, urlsplit

from requests.utils import requote_uri


class DeadlineExceeded(OSError):
    """The endpoint did not answer in full within the deadline."""


def post_within(url: str, *, body: bytes, headers: dict[str, str], deadline: float) -> int:
    """POST ``body`` to ``url`` and return the HTTP status, within ``deadline`` seconds in all. Raises
    ``OSError`` (``DeadlineExceeded`` among them) or ``http.client.HTTPException`` when it cannot."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    # as a browser or requests would send them: the path percent-encoded, credentials in the URL as Basic
    path = requote_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers = {**headers, "Authorization": "Basic " + base64.b64encode(credentials).decode()}
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=deadline, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=deadline)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline, expire)
    timer.daemon = True
    timer.start()
    try:
        connection.connect()  # bounded by the socket timeout; the timer cannot reach a socket not yet made
        if expired.is_set():
            raise DeadlineExceeded(f"no connection within {deadline:g}s")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # what the endpoint says is not used; reading a little lets it finish
        return response.status
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set() and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(f"no full answer within {deadline:g}s") from exc
        raise
    finally:
        timer.cancel()
        connection.close()
