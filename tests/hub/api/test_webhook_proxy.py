"""Webhooks through an HTTP proxy (WEBHOOK_PROXY_URL): plain http forwarded by absolute URL, https tunnelled
with CONNECT so the proxy never sees the message, and hosts in WEBHOOK_NO_PROXY reached directly."""

import base64
import contextlib
import http.client
import http.server
import socket
import socketserver
import threading

import pytest

from hub.messaging.models import WebhookDelivery
from hub.messaging.services import webhook_deliver
from hub.messaging.webhook_http import post_within, proxy_applies
from hub.registry.models import Participant

from ..settlement.messages import as_mx, instruction
from .conftest import post

SECRET = "s3cret-of-the-participant"


class Endpoint(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the handler API names it so
        Endpoint.received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy: POSTs by absolute URL are forwarded, CONNECT opens a byte tunnel."""

    seen: list[tuple[str, str, str | None]] = []

    def do_POST(self) -> None:  # noqa: N802
        Proxy.seen.append(("POST", self.path, self.headers.get("Proxy-Authorization")))
        target = http.client.urlsplit(self.path)
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        forwarded = {k: v for k, v in self.headers.items() if k.lower() != "proxy-authorization"}
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request("POST", path, body=body, headers=forwarded)
        status = upstream.getresponse().status
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_CONNECT(self) -> None:  # noqa: N802
        Proxy.seen.append(("CONNECT", self.path, self.headers.get("Proxy-Authorization")))
        host, port = self.path.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=5)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()

        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):  # either end hanging up ends the tunnel
                while data := source.recv(65536):
                    sink.sendall(data)
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pump, args=(upstream, self.connection), daemon=True)
        back.start()
        pump(self.connection, upstream)
        back.join(5)

    def log_message(self, *args) -> None:
        pass


class TlsListener(socketserver.BaseRequestHandler):
    """Where an https webhook's tunnel ends: keeps the first bytes it gets (a TLS ClientHello) and hangs up."""

    first_bytes: list[bytes] = []

    def handle(self) -> None:
        TlsListener.first_bytes.append(self.request.recv(5))


def serve(server: socketserver.BaseServer) -> int:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


@pytest.fixture
def servers():
    Endpoint.received, Proxy.seen, TlsListener.first_bytes = [], [], []
    started = [
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint),
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy),
        socketserver.ThreadingTCPServer(("127.0.0.1", 0), TlsListener),
    ]
    yield [serve(server) for server in started]
    for server in started:
        server.shutdown()
        server.server_close()


def test_a_plain_http_webhook_is_forwarded_by_the_proxy_with_its_credentials(servers):
    endpoint, proxy, _ = servers
    status = post_within(
        f"http://127.0.0.1:{endpoint}/hook?x=1",
        body=b"<Document/>",
        headers={"Content-Type": "application/xml"},
        deadline=5,
        proxy=f"http://hub%40ops:pa%3Ass@127.0.0.1:{proxy}",
    )
    assert status == 204
    assert Proxy.seen == [
        (
            "POST",
            f"http://127.0.0.1:{endpoint}/hook?x=1",
            "Basic " + base64.b64encode(b"hub@ops:pa:ss").decode(),
        )
    ]
    assert Endpoint.received == [("/hook?x=1", b"<Document/>")]


def test_an_https_webhook_goes_through_a_connect_tunnel_and_the_proxy_never_sees_the_message(servers):
    _, proxy, tls = servers
    with pytest.raises(OSError):  # the far end is no TLS server: the handshake fails, inside the tunnel
        post_within(
            f"https://127.0.0.1:{tls}/hook",
            body=b"<Document>secret</Document>",
            headers={},
            deadline=5,
            proxy=f"http://127.0.0.1:{proxy}",
        )
    assert Proxy.seen == [("CONNECT", f"127.0.0.1:{tls}", None)]
    assert TlsListener.first_bytes and TlsListener.first_bytes[0][:1] == b"\x16"  # a TLS handshake record


def test_a_host_in_no_proxy_is_reached_directly(servers):
    endpoint, proxy, _ = servers
    status = post_within(
        f"http://127.0.0.1:{endpoint}/hook",
        body=b"x",
        headers={},
        deadline=5,
        proxy=f"http://127.0.0.1:{proxy}",
        no_proxy=["127.0.0.1"],
    )
    assert status == 204 and Proxy.seen == [] and len(Endpoint.received) == 1


def test_no_proxy_names_hosts_and_the_domains_they_are_in():
    assert not proxy_applies("hooks.example.net", no_proxy=["example.net"])
    assert not proxy_applies("hooks.example.net", no_proxy=[".example.net"])
    assert not proxy_applies("EXAMPLE.net", no_proxy=["example.net"])
    assert proxy_applies("badexample.net", no_proxy=["example.net"])
    assert proxy_applies("example.net", no_proxy=[])


def test_a_webhook_delivery_leaves_through_the_configured_proxy(nsd_broker, servers, settings):
    endpoint, proxy, _ = servers
    settings.WEBHOOK_PROXY_URL = f"http://127.0.0.1:{proxy}"
    url = f"http://127.0.0.1:{endpoint}/hook"
    Participant.objects.filter(bic="DEMARUMM").update(webhook_url=url, webhook_secret=SECRET)
    post(nsd_broker, as_mx(instruction("DELI", tx="VIA-PROXY")))
    assert webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk).delivery.status == "DELIVERED"
    assert [(method, path) for method, path, _ in Proxy.seen] == [("POST", url)]
    assert Endpoint.received[0][0] == "/hook"
