"""The evm backend against anvil over JSON-RPC: roots anchored, read back and matched, for each Besu
milestone's contract build; and a client killed between send and receipt neither anchors twice nor loses
a block when it runs again."""

import datetime as dt
import random
import signal
import sys
import time

import pytest
from django.core.management import call_command
from web3 import Web3

from hub.ledger import evm, selectors, services, tasks, verifier
from hub.ledger.errors import AnchorUnavailable
from hub.ledger.models import Block, EvmAnchor

from ..conftest import database_url_for_children, running
from .conftest import append_and_seal, drafts, transactional_on_postgresql
from .evm_support import anvil_node, funded_account, rpc


def evm_settings(settings, url: str, account, address: str) -> dict:
    values = {
        "LEDGER_BACKEND": "evm",
        "LEDGER_EVM_URL": url,
        "LEDGER_EVM_CONTRACT": address,
        "LEDGER_EVM_PRIVATE_KEY": "0x" + bytes(account.key).hex(),
    }
    for name, value in values.items():
        setattr(settings, name, value)
    return values


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("milestone", ["london", "paris", "shanghai", "cancun"])
def test_roots_are_anchored_on_anvil_read_back_and_matched(settings, milestone):
    settings.LEDGER_EVM_VERSION = milestone
    with anvil_node("--hardfork", milestone) as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        evm_settings(settings, url, hub, evm.contract_deploy(w3=w3, account=hub))
        services.entries_append(drafts=drafts(40))
        settings.LEDGER_BLOCK_MAX_ENTRIES = 15
        assert tasks.seal_blocks() == [1, 2, 3]
        assert EvmAnchor.objects.filter(status=EvmAnchor.Status.CONFIRMED).count() == 3
        anchorer = evm.configured_anchorer()
        assert [anchorer.anchored_root(b.height) for b in Block.objects.all()] == [
            b.merkle_root for b in Block.objects.all()
        ]
        call_command("ledger_verify", "--anchors")


def anchor_command(env: dict) -> tuple[list[str], dict]:
    return [sys.executable, "manage.py", "ledger_anchor"], {
        **env,
        "DATABASE_URL": database_url_for_children(),
        "LEDGER_EVM_RECEIPT_TIMEOUT_SECONDS": "300",
    }


def in_pool(url: str, tx_hash: str) -> bool:
    return rpc(url, "eth_getTransactionByHash", tx_hash) is not None


def anchored_events(w3: Web3, address: str) -> list:
    contract = w3.eth.contract(address=address, abi=evm.contract_artifact()["abi"])
    return contract.events.Anchored().get_logs(from_block=0)


@pytest.mark.slow
@transactional_on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mined_before_restart", [True, False], ids=["lost-response", "still-pending"])
def test_a_client_killed_between_send_and_receipt_neither_anchors_twice_nor_loses_a_block(
    settings, mined_before_restart
):
    with anvil_node() as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        address = evm.contract_deploy(w3=w3, account=hub)
        env = evm_settings(settings, url, hub, address)
        append_and_seal(30, block_size=8)
        rpc(
            url, "evm_setAutomine", False
        )  # sent transactions wait in the pool: the client waits for receipts

        command, child_env = anchor_command(env)
        with running(command, env=child_env) as client:
            client.wait_until(
                lambda: (
                    EvmAnchor.objects.count() == 4
                    and all(in_pool(url, a.tx_hash) for a in EvmAnchor.objects.all())
                ),
                timeout=60,
                what="the client did not send its anchors",
            )
            assert client.process.poll() is None, "the client should still be waiting for receipts"
            client.stop(signal.SIGKILL)
        sent = dict(EvmAnchor.objects.values_list("block__height", "tx_hash"))
        assert set(EvmAnchor.objects.values_list("status", flat=True)) == {"SENT"}
        nonce_after_sends = w3.eth.get_transaction_count(hub.address, "pending")

        if mined_before_restart:
            rpc(url, "evm_mine")  # the transactions went through; the client never heard
        with running(command, env=child_env) as client:
            if not mined_before_restart:
                time.sleep(2)
                rpc(url, "evm_mine")
            client.wait_until(
                lambda: client.process.poll() == 0, timeout=60, what="the restarted client did not finish"
            )
            assert "4 blocks anchored" in client.output()

        assert dict(EvmAnchor.objects.values_list("block__height", "tx_hash")) == sent
        assert set(EvmAnchor.objects.values_list("status", flat=True)) == {"CONFIRMED"}
        assert w3.eth.get_transaction_count(hub.address, "pending") == nonce_after_sends
        events = anchored_events(w3, address)
        assert sorted(e.args.height for e in events) == [1, 2, 3, 4]
        anchorer = evm.configured_anchorer()
        assert selectors.anchors_verify(anchorer=anchorer) == []
        assert services.blocks_anchor_pending() == []
        assert w3.eth.get_transaction_count(hub.address, "pending") == nonce_after_sends


@pytest.mark.slow
@transactional_on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_anchorers_at_once_send_one_transaction_per_block(settings):
    import threading

    from django.db import connection

    with anvil_node() as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        address = evm.contract_deploy(w3=w3, account=hub)
        evm_settings(settings, url, hub, address)
        append_and_seal(60, block_size=6)
        nonce_before = w3.eth.get_transaction_count(hub.address)
        barrier, outcomes = threading.Barrier(3), []

        def anchor_all() -> None:
            try:
                barrier.wait(timeout=30)
                outcomes.append(len(evm.configured_anchorer().anchor_pending()))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcomes.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=anchor_all) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(isinstance(o, int) for o in outcomes), outcomes
        assert w3.eth.get_transaction_count(hub.address) - nonce_before == Block.objects.count() == 11
        assert sorted(e.args.height for e in anchored_events(w3, address)) == list(range(1, 12))
        assert set(EvmAnchor.objects.values_list("status", flat=True)) == {"CONFIRMED"}


@pytest.mark.slow
@pytest.mark.django_db
def test_a_csd_checks_a_proof_and_its_anchored_root_through_its_own_node_with_the_standalone_verifier(
    settings, tmp_path
):
    import json
    import subprocess

    from .test_verifier_standalone import VERIFIER

    with anvil_node() as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        address = evm.contract_deploy(w3=w3, account=hub)
        evm_settings(settings, url, hub, address)
        services.entries_append(drafts=drafts(9))
        tasks.seal_blocks()
        entry_id = Block.objects.get(height=1).entries.filter(kind="COMMIT").first().id
        proof = selectors.entry_proof(entry_id=entry_id)
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        result = subprocess.run(
            [sys.executable, str(VERIFIER), str(tmp_path / "proof.json"), "--rpc", url],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"OK: the block's root is anchored in {address}" in result.stdout

        assert "note: anchor contract taken from the proof itself" in result.stdout

        elsewhere = evm.contract_deploy(w3=w3, account=hub)  # a contract that never saw this block
        assert [
            str(f) for f in verifier.verify_anchor({**proof, "anchor": {"contract": elsewhere}}, url)
        ] == [f"anchor: block 1 is not anchored in {elsewhere}"]
        # a CSD that names the contract it trusts is not led to another one by the proof
        assert verifier.verify_anchor(proof, url, contract=address) == []
        assert [
            str(f)
            for f in verifier.verify_anchor(
                {**proof, "anchor": {**proof["anchor"], "contract": elsewhere}}, url, contract=address
            )
        ] == [f"anchor: the proof names contract {elsewhere}, not {address}"]


@pytest.fixture
def unmined_anchor():
    """A block whose anchor was sent to anvil, which mines nothing meanwhile: the run gave up waiting."""
    with anvil_node() as url:
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        anchorer = evm.Anchorer(
            w3=w3, contract_address=evm.contract_deploy(w3=w3, account=hub), account=hub, receipt_timeout=1
        )
        append_and_seal(3, block_size=8)
        rpc(url, "evm_setAutomine", False)
        with pytest.raises(AnchorUnavailable, match="no receipt"):
            services.blocks_anchor_pending(anchorer=anchorer)
        yield url, w3, anchorer, EvmAnchor.objects.get()


@pytest.mark.slow
@pytest.mark.django_db
def test_an_anchor_priced_below_a_risen_gas_price_is_signed_again_at_its_nonce_with_a_higher_one(
    unmined_anchor,
):
    url, w3, anchorer, sent = unmined_anchor
    rpc(url, "anvil_setNextBlockBaseFeePerGas", hex(sent.gas_price * 50))
    rpc(url, "evm_mine")  # fees rise: the anchor stays in the pool, never mined at its price
    rpc(url, "evm_setAutomine", True)
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.status, anchor.nonce) == ("CONFIRMED", sent.nonce) and anchor.tx_hash != sent.tx_hash
    assert anchor.gas_price > sent.gas_price * 50 * 7 // 8  # at least the base fee of the block it went in
    assert w3.eth.get_transaction_count(anchorer.account.address) == sent.nonce + 1
    assert selectors.anchors_verify(anchorer=anchorer) == []


@pytest.mark.slow
@pytest.mark.django_db
def test_an_anchor_unmined_past_the_receipt_timeout_is_signed_again_at_its_nonce_an_eighth_dearer(
    unmined_anchor,
):
    url, w3, anchorer, sent = unmined_anchor
    EvmAnchor.objects.update(sent_at=sent.sent_at - dt.timedelta(seconds=anchorer.receipt_timeout + 1))
    with pytest.raises(AnchorUnavailable, match="no receipt"):  # still nothing mined
        services.blocks_anchor_pending(anchorer=anchorer)
    replaced = EvmAnchor.objects.get()
    assert replaced.nonce == sent.nonce and replaced.tx_hash != sent.tx_hash
    assert replaced.gas_price >= sent.gas_price + sent.gas_price // 8 + 1
    for _ in range(6):  # an eighth dearer each time it waits, but never above twice the network's price
        EvmAnchor.objects.update(sent_at=sent.sent_at - dt.timedelta(seconds=anchorer.receipt_timeout + 1))
        with pytest.raises(AnchorUnavailable, match="no receipt"):
            services.blocks_anchor_pending(anchorer=anchorer)
    replaced = EvmAnchor.objects.get()
    assert sent.gas_price * 3 // 2 < replaced.gas_price <= 2 * w3.eth.gas_price
    rpc(url, "evm_mine")
    [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
    assert (anchor.status, anchor.tx_hash) == ("CONFIRMED", replaced.tx_hash)
    assert w3.eth.get_transaction_count(anchorer.account.address) == sent.nonce + 1


def chain_of_irregular_blocks(url: str, *, since: int, until: int) -> None:
    """Blocks stamped from ``since`` to about ``until``, a second to over an hour apart and at random, as a
    chain that went quiet and busy by turns would show them."""
    gaps, stamp = random.Random(20261207), since
    while stamp < until:
        stamp += gaps.choice([1, 1, 2, 3, 12, 60, 599, 1800, 3599, 3600, 3601, 5400])
        rpc(url, "evm_mine", min(stamp, until))


@pytest.mark.slow
@pytest.mark.django_db
def test_the_log_search_starts_at_the_last_chain_block_stamped_an_hour_before_the_block_was_sealed(
    monkeypatch,
):
    from .test_evm_contract import NodeLogRangeLimit

    now = int(time.time())  # the chain is laid out around the moment the block is sealed
    with anvil_node("--timestamp", str(now - 12 * 3600)) as url:
        chain_of_irregular_blocks(url, since=now - 12 * 3600, until=now - 3 * 3600)
        for before in (5400, 3601, 3599, 2400, 1200):  # some either side of the hour before sealing
            rpc(url, "evm_mine", now - before)
        w3 = evm.connect(url, timeout=10)
        hub = funded_account(w3, anvil=True)
        address = evm.contract_deploy(w3=w3, account=hub)
        anchorer = evm.Anchorer(w3=w3, contract_address=address, account=hub, logs_range=7)
        [block] = append_and_seal(3, block_size=8)
        services.blocks_anchor_pending(anchorer=anchorer)
        last = w3.eth.get_block("latest")["timestamp"]
        chain_of_irregular_blocks(url, since=last, until=last + 6 * 3600)
        EvmAnchor.objects.all().delete()  # a database restored from a backup taken before the anchor

        latest = w3.eth.block_number
        stamps = [w3.eth.get_block(number)["timestamp"] for number in range(latest + 1)]

        def linear(moment: int) -> int:
            return max((number for number, stamp in enumerate(stamps) if stamp <= moment), default=0)

        moments = {stamp + shift for stamp in stamps for shift in (-1, 0, 1)} | {
            stamps[0] - 60,
            stamps[-1] + 60,
        }
        assert {moment: anchorer._chain_block_at(moment, latest) for moment in moments} == {
            moment: linear(moment) for moment in moments
        }

        sealed = int(block.sealed_at.timestamp())
        floor = linear(sealed - 3600)
        assert 0 < floor < linear(sealed)  # blocks older than the hour before are skipped, newer ones are not
        node = NodeLogRangeLimit(monkeypatch, w3, most=7)
        [anchor] = services.blocks_anchor_pending(anchorer=anchorer)
        assert anchor.status == "CONFIRMED" and node.searched[0] == (floor, floor + 6)
