"""One webhook POST with a deadline on the whole exchange, not only on each read.

``requests`` bounds each socket read, so an endpoint that sends a byte now and then holds the caller as
long as it likes. Here the connection is the caller's own: a timer shuts its socket when the deadline
passes, whatever the exchange is waiting for (connecting, sending, the status line, the headers), and the
call ends with ``DeadlineExceeded``. Redirects are not followed: a webhook is delivered to its URL or not
at all (a followed 302 would turn the POST into a GET without the message, and point the hub anywhere).

Through an HTTP proxy (``WEBHOOK_PROXY_URL``), an ``https`` webhook is reached through a CONNECT tunnel, so
the proxy sees only the host and port and TLS is checked against the webhook's own host name; a plain
``http`` webhook is posted to the proxy with its absolute URL. The deadline covers the proxy's part too.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from requests.utils import requote_uri


class DeadlineExceeded(OSError):
    """The endpoint did not answer in full within the deadline."""


def _basic(username: str, password: str | None) -> str:
    return "Basic " + base64.b64encode(f"{unquote(username)}:{unquote(password or '')}".encode()).decode()


def proxy_applies(host: str, *, no_proxy: Iterable[str]) -> bool:
    """Whether a webhook on ``host`` goes through the proxy: not when ``no_proxy`` names the host or a
    domain it is in (``example.net`` and ``.example.net`` both cover ``hooks.example.net``)."""
    host = host.lower().rstrip(".")
    for entry in no_proxy:
        domain = entry.lower().strip().lstrip(".").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return False
    return True


def post_within(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
    proxy: str = "",
    no_proxy: Iterable[str] = (),
) -> int:
    """POST ``body`` to ``url`` and return the HTTP status, within ``deadline`` seconds in all, through the
    HTTP proxy ``proxy`` (``http://[user:password@]host:port``) unless it is empty or ``no_proxy`` covers
    the URL's host. Raises ``OSError`` (``DeadlineExceeded`` among them) or ``http.client.HTTPException``
    when it cannot."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    # as a browser or requests would send them: the path percent-encoded, credentials in the URL as Basic
    path = requote_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    if parts.username is not None:
        headers = {**headers, "Authorization": _basic(parts.username, parts.password)}
    via = urlsplit(proxy) if proxy and proxy_applies(parts.hostname, no_proxy=no_proxy) else None
    host, port = (via.hostname, via.port or 80) if via else (parts.hostname, parts.port)
    proxy_headers = (
        {"Proxy-Authorization": _basic(via.username, via.password)} if via and via.username else {}
    )
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=deadline, context=ssl.create_default_context()
        )
        if via:  # TLS runs inside the tunnel, end to end with the webhook's host
            connection.set_tunnel(parts.hostname, parts.port or 443, headers=proxy_headers)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=deadline)
        if via:  # the proxy forwards the request named by its absolute URL (http.client sends its Host)
            netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            path = f"http://{netloc}{path}"
            headers = {**headers, **proxy_headers}
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
