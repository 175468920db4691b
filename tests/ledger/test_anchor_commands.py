"""ledger_verify --anchors and ledger_anchor when the EVM side cannot be used: a message to act on and an
exit status of its own, never a traceback."""

import re

import pytest
from django.core.management import CommandError, call_command
from web3 import EthereumTesterProvider, Web3

from hub.ledger import evm, selectors, services
from hub.ledger.errors import AnchorUnavailable
from hub.ledger.models import Block

from ..conftest import free_port
from .conftest import append_and_seal
from .evm_support import funded_account
from .test_tampering import flip_hex, triggers_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def evm_settings(settings):
    settings.LEDGER_EVM_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.LEDGER_EVM_CONTRACT = "0x" + "11" * 20
    settings.LEDGER_EVM_PRIVATE_KEY = "0x" + "22" * 32
    return settings


def verify_anchors() -> CommandError:
    with pytest.raises(CommandError) as raised:
        call_command("ledger_verify", "--anchors")
    return raised.value


def test_with_the_evm_node_down_ledger_verify_says_the_anchors_went_unchecked_with_an_exit_status_of_its_own(
    evm_settings,
):
    append_and_seal(3, block_size=8)
    error = verify_anchors()
    assert error.returncode == 3
    assert str(error).startswith("could not check the anchors: the EVM node is unreachable")
    assert str(error).endswith("(the chain in the database verifies: 1 blocks, 4 entries)")


def test_a_broken_chain_is_reported_as_broken_even_when_the_anchors_cannot_be_checked(evm_settings, capsys):
    append_and_seal(20, block_size=8)
    with triggers_off() as sql:
        sql.execute(
            "UPDATE ledger_block SET merkle_root = %s WHERE height = 2",
            [flip_hex(Block.objects.get(height=2).merkle_root)],
        )
    error = verify_anchors()
    assert error.returncode == 1 and str(error).startswith("BROKEN: first break at block 2")
    assert "and could not check the anchors: the EVM node is unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "LEDGER_EVM_CONTRACT",
            "not-an-address",
            "LEDGER_EVM_CONTRACT='not-an-address' is not an EVM address",
        ),
        (
            "LEDGER_EVM_PRIVATE_KEY",
            "0x12",
            "the hub's EVM account key (LEDGER_EVM_PRIVATE_KEY or _FILE) cannot be used",
        ),
        ("LEDGER_EVM_URL", "", "LEDGER_EVM_URL is not set"),
    ],
)
def test_unusable_evm_settings_are_named_by_every_command_and_do_not_stop_sealing(
    evm_settings, setting, value, message
):
    setattr(evm_settings, setting, value)
    evm_settings.LEDGER_BACKEND = "evm"
    append_and_seal(3, block_size=8)
    error = verify_anchors()
    assert error.returncode == 3 and message in str(error)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("ledger_anchor")
    assert services.blocks_seal_and_finalise() == []  # logged: the anchors wait, sealing goes on


def test_an_address_without_the_anchor_contract_is_named_not_a_traceback(settings, monkeypatch):
    w3 = Web3(EthereumTesterProvider())
    account = w3.eth.account.create()
    nothing_there = "0x" + "11" * 20
    monkeypatch.setattr(
        evm,
        "configured_anchorer",
        lambda: evm.Anchorer(w3=w3, contract_address=nothing_there, account=account),
    )
    append_and_seal(3, block_size=8)
    error = verify_anchors()
    assert error.returncode == 3
    assert f"{Web3.to_checksum_address(nothing_there)} answers no call of the anchor contract" in str(error)


def test_what_the_anchors_showed_before_the_node_dropped_is_reported_as_a_break(monkeypatch, capsys):
    w3 = Web3(EthereumTesterProvider())
    hub = funded_account(w3, anvil=False)
    anchorer = evm.Anchorer(w3=w3, contract_address=evm.contract_deploy(w3=w3, account=hub), account=hub)
    append_and_seal(30, block_size=12)
    services.blocks_anchor_pending(anchorer=anchorer)
    tip = Block.objects.order_by("-height").first()
    with triggers_off() as sql:  # the last block deleted: the database alone cannot tell
        sql.execute("DELETE FROM ledger_evmanchor WHERE block_id = %s", [tip.pk])
        sql.execute("DELETE FROM ledger_endorsement WHERE block_id = %s", [tip.pk])
        sql.execute("DELETE FROM ledger_entry WHERE block_id = %s", [tip.pk])
        sql.execute("DELETE FROM ledger_block WHERE id = %s", [tip.pk])
    assert selectors.chain_verify().first_break is None
    read = anchorer.anchored_root

    def node_drops_after_one_root(height: int):
        if height > 1:
            raise AnchorUnavailable("the EVM node is unreachable: connection reset")
        return read(height)

    monkeypatch.setattr(anchorer, "anchored_root", node_drops_after_one_root)
    monkeypatch.setattr(evm, "configured_anchorer", lambda: anchorer)
    error = verify_anchors()
    assert error.returncode == 1
    assert str(error).startswith(
        f"BROKEN: first break at block {tip.height}: the chain holds the roots of {tip.height} blocks, "
        f"the database only {tip.height - 1}"
    )
    assert "and could not check the anchors: the EVM node is unreachable" in capsys.readouterr().err
