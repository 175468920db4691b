"""The HTTP transport retries only what may succeed later, within its cap; the registry imports adapters
only when asked; profiles match the demo CSDs."""

import datetime as dt
import time
from decimal import Decimal

import pytest

from csd_adapters import registry
from csd_adapters.base import (
    CsdTimeout,
    CsdUnavailable,
    Leg,
    ProtocolError,
    RequestNotProcessed,
    leg_reference,
)
from csd_adapters.profiles import PROFILES, Standard
from csd_adapters.reference_csd.ledger import Ledger
from csd_adapters.reference_csd.service import ReferenceCsd
from csd_adapters.transport import HttpTransport, Reply, RetryPolicy, Transport, WsgiTransport

from ..conftest import free_port


class Scripted(Transport):
    """A transport whose sends fail or answer as scripted, counting the attempts."""

    def __init__(self, script, **kwargs):
        super().__init__(retry=RetryPolicy(attempts=3, backoff=0.01, cap=0.02), **kwargs)
        self.script = list(script)
        self.attempts = 0

    def _send(self, method, path, body, params, content_type):
        self.attempts += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return Reply(step, "text/plain", (b"reply",))


def test_a_transient_failure_is_retried_until_the_csd_answers():
    transport = Scripted([CsdUnavailable("refused"), CsdTimeout("slow"), 200])
    assert transport.request("POST", "/messages", body=b"x").parts == (b"reply",)
    assert transport.attempts == 3


def test_retries_stop_at_the_cap_and_raise_the_last_transient_error():
    transport = Scripted([503, 503, CsdTimeout("slow"), 200])
    with pytest.raises(CsdTimeout):
        transport.request("GET", "/health")
    assert transport.attempts == 3


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_busy_or_failing_csd_or_one_that_gave_up_waiting_for_the_request_is_asked_again(status):
    transport = Scripted([status, 200])
    assert transport.request("POST", "/messages/bulk", body=b"x").status == 200
    assert transport.attempts == 2


def test_a_csd_failing_inside_beyond_the_cap_is_unavailable_not_a_refusal():
    transport = Scripted([500, 500, 500])
    with pytest.raises(CsdUnavailable) as caught:
        transport.request("POST", "/messages/bulk", body=b"x")
    assert caught.value.permanent is False  # the protocol retries the transfers later; none fails for it


def test_a_permanent_refusal_is_never_retried():
    transport = Scripted([400, 200])
    with pytest.raises(ProtocolError) as caught:
        transport.request("POST", "/messages", body=b"x")
    assert caught.value.permanent is True
    assert transport.attempts == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 415])
def test_a_client_error_says_the_request_was_turned_away_whole(status):
    with pytest.raises(RequestNotProcessed) as caught:
        Scripted([status]).request("POST", "/messages/bulk", body=b"x")
    assert caught.value.permanent is True and caught.value.status == status


@pytest.mark.parametrize("status", [501, 505, 507])
def test_a_server_error_that_is_not_transient_does_not_say_the_request_was_not_processed(status):
    with pytest.raises(ProtocolError) as caught:
        Scripted([status]).request("POST", "/messages/bulk", body=b"x")
    assert not isinstance(caught.value, RequestNotProcessed)


@pytest.mark.parametrize("base_url", ["127.0.0.1:9101", "htp://127.0.0.1:9101", "http://"])
def test_a_request_that_cannot_be_sent_at_all_was_not_processed(base_url):
    transport = HttpTransport(base_url, retry=RetryPolicy(attempts=3, backoff=0.01, cap=0.01))
    with pytest.raises(RequestNotProcessed) as caught:
        transport.request("POST", "/messages/bulk", body=b"x")
    assert caught.value.status is None and caught.value.permanent is True


def test_an_unreachable_csd_is_unavailable_after_bounded_retries():
    transport = HttpTransport(
        f"http://127.0.0.1:{free_port()}",
        connect_timeout=0.5,
        read_timeout=0.5,
        retry=RetryPolicy(attempts=2, backoff=0.01, cap=0.01),
    )
    started = time.monotonic()
    with pytest.raises(CsdUnavailable) as caught:
        transport.request("GET", "/health")
    assert caught.value.permanent is False
    assert time.monotonic() - started < 5


def test_the_in_process_transport_speaks_to_the_same_application_without_a_network(tmp_path):
    csd = ReferenceCsd(PROFILES["STRATE"], Ledger(f"sqlite:///{tmp_path / 'strate.sqlite3'}"))
    adapter = registry.adapter_for("iso15022_mt", profile="STRATE", transport=WsgiTransport(csd))
    csd.faults.set("down", count=1)
    assert adapter.health().ok is True  # the one refused attempt was retried
    csd.faults.set("down")
    assert adapter.health().ok is False


def test_the_registry_names_every_adapter_the_profiles_use_and_imports_lazily():
    assert {p.adapter for p in PROFILES.values()} <= set(registry.ADAPTERS)
    assert registry.adapter_class("iso20022_mx").__name__ == "MxAdapter"
    assert registry.adapter_class("iso15022_mt").__name__ == "MtAdapter"
    with pytest.raises(KeyError, match="no CSD adapter named"):
        registry.adapter_class("carrier_pigeon")


def test_profiles_describe_the_five_demo_csds():
    assert {code: (p.bic, p.standard, p.timezone) for code, p in PROFILES.items()} == {
        "NSD": ("NADCRUMM", Standard.MX, "Europe/Moscow"),
        "STRATE": ("STRAZAJJ", Standard.MT, "Africa/Johannesburg"),
        "CSCS": ("CSCSNGLA", Standard.MT, "Africa/Lagos"),
        "MCDR": ("MCDREGCA", Standard.MX, "Africa/Cairo"),
        "KACD": ("KACDKZKA", Standard.MX, "Asia/Almaty"),
    }
    assert PROFILES["NSD"].cutoff == dt.time(18, 0)


def test_a_leg_id_too_long_for_mt_travels_under_a_stable_16_character_reference():
    long_id = "5f0c2f9e-1111-2222-3333-444455556666"
    assert leg_reference("LEG-42") == "LEG-42"
    assert leg_reference(long_id) == leg_reference(long_id)
    assert len(leg_reference(long_id)) == 16
    assert leg_reference(long_id) != leg_reference(long_id[:-1] + "7")


def test_a_leg_refuses_a_quantity_that_is_not_a_positive_decimal():
    base = dict(
        leg_id="L",
        csd="NSD",
        isin="X",
        debit_account="A",
        credit_account="B",
        intended_settlement_date=dt.date(2026, 1, 5),
        transfer_reference="T",
    )
    with pytest.raises(ValueError):
        Leg(quantity=Decimal(0), **base)
    with pytest.raises(ValueError):
        Leg(quantity=5, **base)


def test_a_ca_bundle_from_the_environment_is_used_over_tls_only(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert HttpTransport("https://csd.example:8443").session.verify == str(bundle)
    # plain HTTP verifies nothing, so the bundle is not named (requests would stat it on every request)
    assert HttpTransport("http://127.0.0.1:9000").session.verify is True
