"""The reference CSD's command line: its admin endpoints are never open to the network by default."""

import pytest

from csd_adapters.reference_csd import __main__ as command_line
from csd_adapters.reference_csd.server import ReferenceCsdServer

EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 (what the command must refuse without a token)


@pytest.fixture
def served(monkeypatch):
    """The hosts ``serve`` went on to listen on, without listening."""
    hosts = []
    monkeypatch.setattr(ReferenceCsdServer, "run", lambda server: hosts.append(server.cfg.bind[0]))
    monkeypatch.delenv("REFERENCE_CSD_ADMIN_TOKEN", raising=False)
    return hosts


def _serve(tmp_path, host: str, *extra: str) -> int:
    database = f"sqlite:///{tmp_path / 'nsd.sqlite3'}"
    return command_line.main(["serve", "--csd", "NSD", "--host", host, "--database", database, *extra])


def test_serving_on_every_interface_without_an_admin_token_is_refused(tmp_path, served, capsys):
    assert _serve(tmp_path, EVERY_INTERFACE) == 2
    assert served == []
    assert "needs an admin token" in capsys.readouterr().err


def test_serving_on_every_interface_with_an_admin_token_goes_ahead(tmp_path, served):
    assert _serve(tmp_path, EVERY_INTERFACE, "--admin-token", "a-long-random-string") == 0
    assert served == ["0.0.0.0:9101"]


def test_the_token_may_come_from_the_environment(tmp_path, served, monkeypatch):
    monkeypatch.setenv("REFERENCE_CSD_ADMIN_TOKEN", "a-long-random-string")
    assert _serve(tmp_path, "10.1.2.3") == 0
    assert served == ["10.1.2.3:9101"]


@pytest.mark.parametrize(
    ("host", "bind"),
    [
        ("127.0.0.1", "127.0.0.1:9101"),
        ("127.0.0.2", "127.0.0.2:9101"),
        ("::1", "[::1]:9101"),
        ("localhost", "localhost:9101"),
    ],
)
def test_a_loopback_host_may_serve_without_a_token(tmp_path, served, host, bind):
    assert _serve(tmp_path, host) == 0
    assert served == [bind]


@pytest.mark.parametrize("host", [EVERY_INTERFACE, "::", "192.168.1.10", "refcsd-nsd"])
def test_any_other_host_is_not_loopback(host):
    assert not command_line._loopback(host)
