"""Reorganisations against anvil: an anchor counts as CONFIRMED only once its chain block is deep enough,
and a confirmed anchor whose transaction a reorganisation dropped is anchored again, at its own nonce, so
the anchors after it are mined; a root the contract now holds another of is an alarm, not a reorganisation.

``anvil_reorg(depth, transactions)`` replaces the last ``depth`` chain blocks with as many new ones that
hold only the transactions given: what a chain that can reorganise does to the hub's anchors."""

import pytest
from django.core.management import call_command
from django.db.models import F
from web3 import Web3

from hub.ledger import evm, selectors, services, tasks
from hub.ledger.errors import AnchorsIncomplete
from hub.ledger.models import EvmAnchor

from .conftest import append_and_seal, drafts
from .evm_support import anvil_node, funded_account, rpc
from .test_anvil import evm_settings


def signed(w3: Web3, account, tx: dict) -> str:
    tx = {"nonce": w3.eth.get_transaction_count(account.address), "chainId": w3.eth.chain_id, **tx}
    tx = {"gas": 250_000, "gasPrice": w3.eth.gas_price, **tx}
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


@pytest.fixture
def chain():
    """anvil, the hub's funded account and an anchor contract it deployed."""
    with anvil_node() as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        yield url, w3, hub, evm.contract_deploy(w3=w3, account=hub)


@pytest.mark.slow
@pytest.mark.django_db
def test_confirmed_anchors_a_reorganisation_dropped_are_anchored_again_at_their_nonces_and_later_ones_mined(
    settings, chain
):
    url, w3, hub, address = chain
    evm_settings(settings, url, hub, address)
    settings.LEDGER_BLOCK_MAX_ENTRIES = 4
    services.entries_append(drafts=drafts(19))  # and the hub key's announcement: 20 entries
    assert tasks.seal_blocks() == [1, 2, 3, 4, 5]  # anvil mines each anchor in a chain block of its own
    assert set(EvmAnchor.objects.values_list("status", flat=True)) == {"CONFIRMED"}
    nonces = dict(EvmAnchor.objects.values_list("block__height", "nonce"))
    assert nonces == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}  # nonce 0 deployed the contract
    # as a row set to the transaction the chain mined keeps it: no signed bytes, a gas price that holds
    EvmAnchor.objects.filter(block__height=4).update(raw_tx="", gas_price=F("gas_price") * 4)

    rpc(url, "anvil_reorg", 3, [])  # a branch without the last three anchors wins
    anchorer = evm.configured_anchorer()
    assert [str(f) for f in selectors.anchors_verify(anchorer=anchorer)] == [
        f"block {height}: its root is not anchored on the chain" for height in (3, 4, 5)
    ]
    assert w3.eth.get_transaction_count(hub.address) == 3  # the hub's rows say 6: a gap of three nonces

    services.entries_append(drafts=drafts(4, start=19))
    assert tasks.seal_blocks() == [6]
    assert set(EvmAnchor.objects.values_list("status", flat=True)) == {"CONFIRMED"}
    assert dict(EvmAnchor.objects.values_list("block__height", "nonce")) == nonces | {6: 6}
    assert w3.eth.get_transaction_count(hub.address) == 7
    assert selectors.anchors_verify(anchorer=anchorer) == []
    call_command("ledger_verify", "--anchors")


@pytest.mark.slow
@pytest.mark.django_db
def test_an_anchor_dropped_while_another_transaction_took_its_nonce_is_found_by_its_depth_and_sent_anew(
    chain,
):
    url, w3, hub, address = chain

    def anchorer(recheck_blocks: int) -> evm.Anchorer:
        return evm.Anchorer(w3=w3, contract_address=address, account=hub, recheck_blocks=recheck_blocks)

    [block] = append_and_seal(3, block_size=8)
    [sent] = services.blocks_anchor_pending(anchorer=anchorer(64))
    # the branch that wins holds another transaction of the hub's account at the anchor's nonce
    rpc(url, "anvil_reorg", 1, [[signed(w3, hub, {"to": hub.address, "nonce": sent.nonce}), 0]])
    assert w3.eth.get_transaction_count(hub.address) == sent.nonce + 1
    # its nonce is used, so only reading the roots of the last chain blocks tells it is gone
    assert services.blocks_anchor_pending(anchorer=anchorer(0)) == []
    assert EvmAnchor.objects.get().status == "CONFIRMED" and anchorer(0).anchored_root(1) is None

    [again] = services.blocks_anchor_pending(anchorer=anchorer(64))
    assert (again.status, again.nonce) == ("CONFIRMED", sent.nonce + 1)
    assert anchorer(64).anchored_root(1) == block.merkle_root


@pytest.mark.slow
@pytest.mark.django_db
def test_an_anchor_confirmed_at_a_nonce_the_chain_has_not_reached_is_read_again_however_deep(chain):
    url, w3, hub, address = chain
    anchorer = evm.Anchorer(w3=w3, contract_address=address, account=hub, recheck_blocks=0)
    [block] = append_and_seal(3, block_size=8)
    [sent] = services.blocks_anchor_pending(anchorer=anchorer)
    rpc(url, "anvil_reorg", 1, [])
    [again] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (again.status, again.nonce, again.tx_hash) == ("CONFIRMED", sent.nonce, sent.tx_hash)
    assert anchorer.anchored_root(1) == block.merkle_root


@pytest.mark.slow
@pytest.mark.django_db
def test_an_anchor_is_mined_then_confirmed_once_its_chain_block_is_as_deep_as_the_confirmations(chain):
    url, w3, hub, address = chain
    anchorer = evm.Anchorer(w3=w3, contract_address=address, account=hub, confirmations=3)
    [block] = append_and_seal(3, block_size=8)
    [mined] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (mined.status, mined.receipt_block) == ("MINED", w3.eth.block_number)
    assert "anchor" not in selectors.entry_proof(entry_id=block.entries.first().id)
    rpc(url, "evm_mine")
    assert [a.status for a in services.blocks_anchor_pending(anchorer=anchorer)] == ["MINED"]

    rpc(url, "anvil_reorg", 2, [])  # dropped before it was confirmed: sent again, as it was
    [again] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (again.status, again.tx_hash, again.receipt_block) == ("MINED", mined.tx_hash, w3.eth.block_number)
    rpc(url, "evm_mine")
    rpc(url, "evm_mine")
    [confirmed] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (confirmed.status, confirmed.receipt_block) == ("CONFIRMED", again.receipt_block)
    assert selectors.entry_proof(entry_id=block.entries.first().id)["anchor"]["tx_hash"] == mined.tx_hash
    assert w3.eth.get_transaction_count(hub.address) == mined.nonce + 1


@pytest.mark.slow
@pytest.mark.django_db
def test_a_confirmed_root_the_contract_now_holds_another_of_is_a_conflict_and_an_alarm(chain):
    url, w3, hub, address = chain
    anchorer = evm.Anchorer(w3=w3, contract_address=address, account=hub)
    [block] = append_and_seal(3, block_size=8)
    [sent] = services.blocks_anchor_pending(anchorer=anchorer)
    other = anchorer.contract.functions.anchor(1, b"\xab" * 32, b"\xcd" * 32).build_transaction(
        {"from": hub.address, "nonce": sent.nonce, "gas": 250_000, "gasPrice": w3.eth.gas_price}
    )
    rpc(url, "anvil_reorg", 1, [[signed(w3, hub, other), 0]])  # the hub's account anchored another root

    with pytest.raises(AnchorsIncomplete, match="the contract holds root (ab){32} at height 1"):
        services.blocks_anchor_pending(anchorer=anchorer)
    [alarm] = selectors.alarms_open()
    assert (alarm.kind, alarm.first_height, alarm.last_height) == ("ANCHOR", 1, 1)
    assert "holds other roots than the hub's blocks at height 1" in alarm.message
    assert EvmAnchor.objects.get().status == "SENT"
    assert w3.eth.get_transaction_count(hub.address) == sent.nonce + 1  # nothing sent over it

    rpc(url, "anvil_reorg", 1, [])  # that branch loses in turn: the hub's root is anchored again
    [again] = services.blocks_anchor_pending(anchorer=anchorer)
    assert again.status == "CONFIRMED" and anchorer.anchored_root(1) == block.merkle_root
    assert selectors.alarms_open() == []
