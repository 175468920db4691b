"""The anchor contract on a real EVM (eth-tester, py-evm in process): each root once, by the hub only,
with an event; and the anchoring client against it. The committed build is what the source compiles to."""

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from hub.ledger import evm, selectors, services, verifier
from hub.ledger.errors import AnchorConflict, AnchorsIncomplete, AnchorUnavailable
from hub.ledger.models import Block, EvmAnchor

from ..conftest import REPO_ROOT
from .conftest import append_and_seal
from .evm_support import funded_account

ROOT_A, ROOT_B, HASH = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32


@pytest.fixture
def chain():
    w3 = Web3(EthereumTesterProvider())
    hub = funded_account(w3, anvil=False)
    address = evm.contract_deploy(w3=w3, account=hub)
    return w3, hub, w3.eth.contract(address=address, abi=evm.contract_artifact()["abi"])


def call_as(w3, account, function):
    tx = function.build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address),
            "gas": 300_000,
            "gasPrice": w3.eth.gas_price,
        }
    )
    return w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )


def test_recompiling_the_contract_source_reproduces_the_committed_builds():
    result = subprocess.run(
        [sys.executable, "-m", "hub.ledger.contracts.build", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_root_is_stored_once_by_height_and_announced_by_an_event(chain):
    w3, hub, contract = chain
    receipt = call_as(w3, hub, contract.functions.anchor(1, ROOT_A, HASH))
    assert contract.functions.root_at(1).call() == ROOT_A
    assert contract.functions.height_of(ROOT_A).call() == 1
    assert contract.functions.count().call() == 1
    [event] = contract.events.Anchored().process_receipt(receipt)
    assert (event.args.height, event.args.merkle_root, event.args.block_hash) == (1, ROOT_A, HASH)


@pytest.mark.parametrize(
    ("height", "root", "reason"),
    [
        (1, ROOT_B, "height already anchored"),
        (2, ROOT_A, "root already anchored"),
        (0, ROOT_B, "heights start at 1"),
    ],
)
def test_the_contract_refuses_a_height_or_a_root_anchored_before(chain, height, root, reason):
    w3, hub, contract = chain
    call_as(w3, hub, contract.functions.anchor(1, ROOT_A, HASH))
    with pytest.raises((ContractLogicError, TransactionFailed), match=reason):
        contract.functions.anchor(height, root, HASH).call({"from": hub.address})
    assert contract.functions.count().call() == 1


def test_the_contract_refuses_any_caller_but_the_hub(chain):
    w3, _hub, contract = chain
    stranger = funded_account(w3, anvil=False)
    with pytest.raises((ContractLogicError, TransactionFailed), match="only the hub anchors"):
        contract.functions.anchor(1, ROOT_A, HASH).call({"from": stranger.address})
    receipt = call_as(w3, stranger, contract.functions.anchor(1, ROOT_A, HASH))
    assert receipt["status"] == 0 and contract.functions.root_at(1).call() == b"\x00" * 32


@pytest.mark.django_db
def test_sealed_blocks_are_anchored_read_back_and_never_sent_twice(chain):
    w3, hub, contract = chain
    append_and_seal(50, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    anchors = services.blocks_anchor_pending(anchorer=anchorer)
    assert [a.block.height for a in anchors] == [1, 2, 3, 4, 5]
    assert all(a.status == EvmAnchor.Status.CONFIRMED for a in anchors)
    for block in Block.objects.all():
        assert anchorer.anchored_root(block.height) == block.merkle_root
    assert selectors.anchors_verify(anchorer=anchorer) == []
    nonce = w3.eth.get_transaction_count(hub.address)
    assert services.blocks_anchor_pending(anchorer=anchorer) == []
    services.block_anchor(block=Block.objects.get(height=2), anchorer=anchorer)
    assert w3.eth.get_transaction_count(hub.address) == nonce
    proof = selectors.entry_proof(entry_id=Block.objects.get(height=3).entries.first().id)
    assert proof["anchor"]["tx_hash"] == EvmAnchor.objects.get(block__height=3).tx_hash


@pytest.mark.django_db
def test_blocks_deleted_from_the_tip_of_the_database_are_found_missing_against_the_chain(chain):
    from django.db import connection

    w3, hub, contract = chain
    append_and_seal(30, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    services.blocks_anchor_pending(anchorer=anchorer)
    assert selectors.anchors_verify(anchorer=anchorer) == []
    with connection.cursor() as cursor:  # as a superuser could, triggers off
        cursor.execute("SET session_replication_role = replica")
        tip = Block.objects.order_by("-height").first()
        cursor.execute("DELETE FROM ledger_evmanchor WHERE block_id = %s", [tip.pk])
        cursor.execute("DELETE FROM ledger_endorsement WHERE block_id = %s", [tip.pk])
        cursor.execute("DELETE FROM ledger_entry WHERE block_id = %s", [tip.pk])
        cursor.execute("DELETE FROM ledger_block WHERE id = %s", [tip.pk])
        cursor.execute("SET session_replication_role = origin")
    assert selectors.chain_verify().first_break is None  # the database alone cannot tell
    assert [str(f) for f in selectors.anchors_verify(anchorer=anchorer)] == [
        f"block {tip.height}: the chain holds the roots of {tip.height} blocks, the database only "
        f"{tip.height - 1}: blocks are missing"
    ]


@pytest.mark.django_db
def test_a_different_root_on_the_chain_at_a_blocks_height_is_a_conflict_not_an_overwrite(chain):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    call_as(w3, hub, contract.functions.anchor(1, ROOT_A, HASH))
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    with pytest.raises(AnchorConflict, match=f"holds root {ROOT_A.hex()} at height 1"):
        services.block_anchor(block=block, anchorer=anchorer)
    assert [str(f) for f in selectors.anchors_verify(anchorer=anchorer)] == [
        f"block 1: the chain holds another root, {ROOT_A.hex()}"
    ]


@pytest.mark.django_db
def test_a_transaction_recorded_but_never_sent_is_sent_as_recorded_not_signed_anew(chain):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    recorded = anchorer._record_new(block)  # the process died right after committing this row
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.tx_hash, anchor.nonce) == (recorded.tx_hash, recorded.nonce)
    assert anchor.status == EvmAnchor.Status.CONFIRMED
    assert anchorer.anchored_root(1) == block.merkle_root


@pytest.mark.django_db
def test_a_recorded_transaction_whose_nonce_went_to_something_else_is_replaced_and_anchored_once(chain):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    recorded = anchorer._record_new(block)
    other = hub.sign_transaction(
        {
            "to": hub.address,
            "value": 1,
            "gas": 21_000,
            "gasPrice": w3.eth.gas_price,
            "nonce": recorded.nonce,
            "chainId": w3.eth.chain_id,
        }
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert anchor.nonce == recorded.nonce + 1 and anchor.tx_hash != recorded.tx_hash
    assert anchor.status == EvmAnchor.Status.CONFIRMED
    assert contract.functions.count().call() == 1


def test_the_standalone_verifiers_selector_is_the_contracts_root_reader():
    [reader] = [item for item in evm.contract_artifact()["abi"] if item.get("name") == "root_at"]
    signature = f"root_at({','.join(i['type'] for i in reader['inputs'])})"
    assert Web3.keccak(text=signature)[:4].hex().removeprefix("0x") == verifier.ROOT_AT_SELECTOR


@pytest.mark.django_db
def test_an_account_the_contract_does_not_take_anchors_from_is_one_clear_error_and_nothing_is_sent(
    chain, settings, monkeypatch, caplog
):
    from hub.settlement.tasks import transfers_anchor_and_release

    w3, _hub, contract = chain
    stranger = funded_account(w3, anvil=False)  # LEDGER_EVM_PRIVATE_KEY is not the deployer's key
    settings.LEDGER_BACKEND = "evm"
    monkeypatch.setattr(
        evm,
        "configured_anchorer",
        lambda: evm.Anchorer(w3=w3, contract_address=contract.address, account=stranger),
    )
    append_and_seal(30, block_size=8)
    for _run in range(3):  # the task that releases transfers goes on, every run
        assert transfers_anchor_and_release() == 0
    assert w3.eth.get_transaction_count(stranger.address) == 0
    assert not EvmAnchor.objects.exists()
    refused = [r for r in caplog.records if "is not the anchor contract's hub" in r.getMessage()]
    assert len(refused) == 3 and refused[0].levelname == "ERROR"
    with pytest.raises(CommandError, match=f"account {stranger.address} is not the anchor contract's hub"):
        call_command("ledger_anchor")


@pytest.mark.django_db
def test_a_reverted_anchor_is_recorded_as_failed_not_sent_again_and_sent_anew_when_an_operator_retries(
    chain, settings, monkeypatch
):
    w3, hub, contract = chain
    settings.LEDGER_BACKEND = "evm"
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    monkeypatch.setattr(evm, "configured_anchorer", lambda: anchorer)
    append_and_seal(10, block_size=8)
    monkeypatch.setattr(evm, "ANCHOR_GAS", 30_000)  # enough to be mined, too little to store a root
    services.blocks_seal_and_finalise()
    nonce = w3.eth.get_transaction_count(hub.address)
    failed = list(EvmAnchor.objects.values_list("block__height", "status", "failure"))
    assert [(height, status) for height, status, _ in failed] == [(1, "FAILED"), (2, "FAILED")]
    assert all("reverted (transaction 0x" in failure for _, _, failure in failed)
    services.blocks_seal_and_finalise()
    assert services.blocks_anchor_pending() == []
    assert w3.eth.get_transaction_count(hub.address) == nonce  # no gas spent again on a cause still there
    assert [str(f) for f in selectors.anchors_verify(anchorer=anchorer)][0].startswith(
        "block 1: its root is not anchored on the chain: its anchor failed: the anchor of block 1 reverted"
    )

    monkeypatch.setattr(evm, "ANCHOR_GAS", 250_000)  # the cause mended
    out = io.StringIO()
    call_command("ledger_anchor", "--retry-failed", stdout=out)
    assert out.getvalue() == "2 blocks anchored\n"
    assert list(EvmAnchor.objects.values_list("status", "failure")) == [("CONFIRMED", ""), ("CONFIRMED", "")]
    assert selectors.anchors_verify(anchorer=anchorer) == []


@pytest.mark.django_db
def test_a_height_whose_anchor_conflicts_holds_up_that_height_alone(chain):
    w3, hub, contract = chain
    append_and_seal(20, block_size=8)
    call_as(w3, hub, contract.functions.anchor(2, ROOT_A, HASH))
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    with pytest.raises(
        AnchorsIncomplete, match=f"1 blocks not anchored: block 2: the contract holds root {ROOT_A.hex()}"
    ):
        services.blocks_anchor_pending(anchorer=anchorer)
    assert list(EvmAnchor.objects.values_list("block__height", "status")) == [
        (1, "CONFIRMED"),
        (3, "CONFIRMED"),
    ]


class NodeLogRangeLimit:
    """The node refuses a log search over more than ``most`` chain blocks, as Besu does past
    ``--rpc-max-logs-range``; ``searched`` holds the ranges asked for."""

    def __init__(self, monkeypatch, w3, *, most: int) -> None:
        self.w3, self.most, self.searched = w3, most, []
        self.real = w3.eth.get_logs
        monkeypatch.setattr(w3.eth, "get_logs", self.get_logs)

    def number(self, value) -> int:
        if value == "latest":
            return self.w3.eth.block_number
        return int(value, 16) if isinstance(value, str) else int(value)

    def get_logs(self, params):
        start, end = self.number(params.get("fromBlock", 0)), self.number(params.get("toBlock", "latest"))
        self.searched.append((start, end))
        if end - start + 1 > self.most:
            raise Web3RPCError("{'code': -32602, 'message': 'Requested range exceeds maximum range limit'}")
        return self.real(params)


@pytest.mark.django_db
def test_a_lost_response_on_a_long_chain_is_settled_by_the_recorded_transactions_receipt(chain, monkeypatch):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub, logs_range=100)
    sent = anchorer._send(anchorer._record_new(block))  # mined; the process died before it read the receipt
    mined_in = w3.eth.get_transaction_receipt(sent.tx_hash)["blockNumber"]
    w3.testing.mine(300)
    node = NodeLogRangeLimit(monkeypatch, w3, most=100)
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.tx_hash, anchor.status, anchor.receipt_block) == (sent.tx_hash, "CONFIRMED", mined_in)
    assert node.searched == []


@pytest.mark.django_db
def test_an_anchor_whose_row_was_lost_is_found_again_by_log_searches_the_node_accepts(chain, monkeypatch):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub, logs_range=100)
    [anchored] = services.blocks_anchor_pending(anchorer=anchorer)
    EvmAnchor.objects.all().delete()  # a database restored from a backup taken before the anchor
    w3.testing.mine(300)
    node = NodeLogRangeLimit(monkeypatch, w3, most=50)  # tighter than the hub was told: refused, not crashed
    with pytest.raises(AnchorUnavailable, match="Requested range exceeds maximum range limit"):
        services.blocks_anchor_pending(anchorer=anchorer)
    node.most, node.searched = 100, []
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.block, anchor.tx_hash, anchor.status) == (block, anchored.tx_hash, "CONFIRMED")
    assert anchor.receipt_block == anchored.receipt_block
    assert node.searched and all(end - start < 100 for start, end in node.searched)


def raced_replacement(chain):
    """A block's anchor mined at once (eth-tester mines every transaction it is sent), and its row as a
    racing replacement left it: naming a dearer transaction at the same nonce, which is never mined."""
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub, receipt_timeout=5)
    mined = anchorer._send(anchorer._record_new(block))
    replacement = anchorer._signed(block, mined.nonce, mined.gas_price * 2)
    EvmAnchor.objects.filter(id=mined.id).update(**replacement)
    return anchorer, mined, replacement


@pytest.mark.django_db
def test_an_anchor_whose_row_names_a_replacement_never_mined_is_confirmed_as_the_transaction_mined(chain):
    anchorer, mined, replacement = raced_replacement(chain)
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert anchor.status == "CONFIRMED" and anchor.tx_hash == mined.tx_hash != replacement["tx_hash"]
    assert (anchor.nonce, anchor.gas_price, anchor.sender) == (mined.nonce, mined.gas_price, mined.sender)
    receipt = chain[0].eth.get_transaction_receipt(mined.tx_hash)
    assert anchor.receipt_block == receipt["blockNumber"]
    proof = selectors.entry_proof(entry_id=anchor.block.entries.order_by("id").first().id)
    assert proof["anchor"]["tx_hash"] == mined.tx_hash  # a CSD is pointed at the transaction on the chain


@pytest.mark.django_db
@pytest.mark.parametrize("awaited", ["the row's replacement", "a transaction the row no longer names"])
def test_waiting_for_a_receipt_sees_the_block_anchored_by_another_transaction_at_once(chain, awaited):
    anchorer, mined, replacement = raced_replacement(chain)
    waiting = EvmAnchor.objects.get()  # what this process holds while it waits
    if awaited == "a transaction the row no longer names":
        EvmAnchor.objects.filter(id=waiting.id).update(tx_hash=mined.tx_hash, raw_tx=mined.raw_tx)
    anchor = anchorer._await(waiting)  # the receipt of the one it holds never comes
    assert (anchor.status, anchor.tx_hash) == ("CONFIRMED", mined.tx_hash)
    assert EvmAnchor.objects.get().tx_hash == mined.tx_hash


@pytest.mark.django_db
def test_a_row_from_before_gas_prices_were_recorded_is_sent_again_at_the_price_it_was_signed_with(chain):
    w3, hub, contract = chain
    [block] = append_and_seal(3, block_size=12)
    anchorer = evm.Anchorer(w3=w3, contract_address=contract.address, account=hub)
    recorded = anchorer._record_new(block)  # signed and recorded, never sent (the process died)
    EvmAnchor.objects.update(gas_price=None)  # as migration 0007 left the rows it found
    assert recorded.gas_price == w3.eth.gas_price  # the network's price has not risen above it
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.status, anchor.tx_hash, anchor.raw_tx) == ("CONFIRMED", recorded.tx_hash, recorded.raw_tx)
    assert anchor.gas_price == recorded.gas_price  # read from the signed bytes, and kept


@pytest.mark.parametrize("kind", ["legacy", "EIP-2930", "EIP-1559"])
def test_the_gas_price_a_signed_transaction_offers_is_read_from_its_bytes(kind):
    account = evm.Account.create()
    tx = {"nonce": 7, "gas": 250_000, "to": "0x" + "11" * 20, "value": 0, "data": b"\x01", "chainId": 1337}
    price = {"gasPrice": 3_141_592_653}
    if kind == "EIP-2930":
        price |= {"accessList": []}
    if kind == "EIP-1559":
        price = {"maxFeePerGas": 3_141_592_653, "maxPriorityFeePerGas": 1_000}
    raw = "0x" + bytes(account.sign_transaction(tx | price).raw_transaction).hex()
    assert evm.signed_gas_price(raw) == 3_141_592_653
    assert evm.signed_gas_price("0xdeadbeef") is None and evm.signed_gas_price("") is None
