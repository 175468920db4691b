"""The ``evm`` anchor backend: each sealed block's Merkle root is stored once in the LedgerAnchor contract.

How it never anchors a block twice and never loses one:

1. Before anything is sent, the contract is read: a root already there settles the block.
2. A new transaction gets the next nonce of the hub's account (the hub keeps its own nonces, under a
   lock), is signed, and the row holding its nonce, hash and signed bytes is committed; only then is it
   sent. A crash after this point leaves a row that says exactly what may be on the chain.
3. On restart a recorded transaction is settled by reading the chain: the root in the contract, else the
   receipt, else, if its nonce is still unused, the same signed bytes are broadcast again (a second copy of
   one signed transaction can be mined at most once); but if the network's gas price has risen above it,
   or it has waited longer than the receipt timeout at the head of the account's queue, it is signed again
   at the same nonce with a higher gas price (an eighth more at least, never more than twice the network's
   price), recorded in place of the first before it is sent: one of the two can be mined, never both. A
   transaction whose nonce went to something else is replaced with a new one at a new nonce, and the
   contract refuses a height twice anyway.
4. A transaction that reverted is recorded as FAILED with the reason, and not sent again until an operator
   asks (``manage.py ledger_anchor --retry-failed``): a cause that does not go away would otherwise spend
   gas on every run. Before anything is sent, the contract's ``hub`` is compared with the hub's account,
   so an account the contract refuses is one clear error, not a reverted transaction per block.
5. A block whose anchor conflicts or reverted holds up that block alone: the other heights go on.
6. A mined anchor is MINED until its chain block is ``confirmations`` deep (itself included), then
   CONFIRMED. Every run reads again the roots of the anchors confirmed in the last ``recheck_blocks`` chain
   blocks, and of any confirmed at a nonce the chain's transaction count has not reached (its transaction
   is not on the chain, whatever the depth): a root gone (a reorganisation dropped the transaction) sends
   the anchor back to SENT, and step 3 sends it again at its own nonce, which fills the nonce the chain
   lost before later anchors need it; a root replaced by another one is sent back too, and is a conflict.
"""

import datetime as dt
import itertools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import rlp
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    ProviderConnectionError,
    TransactionNotFound,
    Web3RPCError,
    Web3TypeError,
)

from hub.ledger.errors import (
    AnchorAccountNotHub,
    AnchorConflict,
    AnchorFailed,
    AnchorSettingsInvalid,
    AnchorsIncomplete,
    AnchorUnavailable,
    LedgerError,
)
from hub.ledger.models import Block, EvmAnchor

log = logging.getLogger(__name__)

# an anchor whose root was read back from the contract: a run has nothing to wait for
ON_CHAIN = (EvmAnchor.Status.MINED, EvmAnchor.Status.CONFIRMED)

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ANCHOR_GAS = 250_000
NONCE_LOCK = 0x45564D4E  # "EVMN"
EMPTY_ROOT = b"\x00" * 32
# a replacement at one nonce offers at least an eighth more than the one it replaces (nodes want a tenth)
REPRICE_STEP = 8
REPRICE_CEILING = 2  # times the network's gas price: a replacement never offers more
# how far the hub's clock and the chain's block stamps may differ, when a log search starts from a moment
CLOCK_MARGIN_SECONDS = 3600
# while it waits for a receipt, how often the client asks the contract whether the block's root is there
ROOT_CHECK_SECONDS = 1.0
# what a node answers when a copy of a transaction it already has, or has mined, comes again
ALREADY_THERE = ("already known", "known transaction", "nonce too low", "already imported")
# roots read in one JSON-RPC batch when confirmed anchors are re-read (Besu allows 1024 a batch by default)
ROOTS_PER_BATCH = 200


def contract_artifact(evm_version: str | None = None) -> dict:
    """The compiled contract for a Besu milestone (``LEDGER_EVM_VERSION``), see ``contracts/build.py``."""
    version = evm_version or settings.LEDGER_EVM_VERSION
    path = CONTRACTS_DIR / f"LedgerAnchor.{version}.json"
    if not path.exists():
        available = sorted(p.name.split(".")[1] for p in CONTRACTS_DIR.glob("LedgerAnchor.*.json"))
        raise AnchorFailed(
            f"no contract build for EVM version {version!r}; available: {', '.join(available)}"
        )
    return json.loads(path.read_text())


def signed_gas_price(raw_tx: str) -> int | None:
    """The gas price a signed transaction offers, read from its bytes (hex): ``gasPrice`` of a legacy or
    EIP-2930 transaction, ``maxFeePerGas`` of an EIP-1559 one; None for bytes that are no transaction."""
    try:
        raw = bytes.fromhex(raw_tx.removeprefix("0x"))
        if raw[:1] >= b"\xc0":  # legacy: the RLP list [nonce, gasPrice, gas, to, value, data, v, r, s]
            return int.from_bytes(rlp.decode(raw)[1], "big")
        where = {b"\x01": 2, b"\x02": 3}.get(raw[:1])  # typed: [chainId, nonce, gasPrice or maxPriority...]
        if where is None:
            return None
        return int.from_bytes(rlp.decode(raw[1:])[where], "big")
    except (ValueError, TypeError, IndexError, rlp.exceptions.DecodingError):
        return None


def connect(url: str, *, timeout: float) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))


def contract_deploy(*, w3: Web3, account: LocalAccount, evm_version: str | None = None) -> str:
    """Deploys the anchor contract from the hub's account (which becomes the only account that may anchor);
    returns its address."""
    artifact = contract_artifact(evm_version)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor().build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": w3.eth.chain_id,
            "gas": 1_000_000,
            "gasPrice": w3.eth.gas_price,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(
        tx_hash, timeout=settings.LEDGER_EVM_RECEIPT_TIMEOUT_SECONDS
    )
    if receipt["status"] != 1:
        raise AnchorFailed(f"deploying the anchor contract reverted (transaction {tx_hash.hex()})")
    return receipt["contractAddress"]


@dataclass
class Anchorer:
    """Anchors blocks from one account into one contract on one chain."""

    w3: Web3
    contract_address: str
    account: LocalAccount
    receipt_timeout: float = 120
    poll_interval: float = 0.05
    logs_range: int = 1000  # chain blocks per log search: at most what the node allows
    confirmations: int = 1  # chain blocks, the anchoring one included, before an anchor is CONFIRMED
    recheck_blocks: int = 64  # chain blocks under the head whose confirmed anchors each run reads again

    def __post_init__(self) -> None:
        self.contract = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.contract_address), abi=contract_artifact()["abi"]
        )
        self._chain_id: int | None = None
        self._hub_checked = False

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._node(lambda: self.w3.eth.chain_id)
        return self._chain_id

    # --- the public operations -----------------------------------------------------------------------

    def anchor(self, block: Block) -> EvmAnchor:
        """Anchors one block and waits for its receipt."""
        anchor = self._settle_or_send(block)
        return anchor if anchor.status in ON_CHAIN else self._await(anchor)

    def anchor_pending(self, *, retry_failed: bool = False) -> list[EvmAnchor]:
        """Anchors every block not yet confirmed, oldest first: all transactions are sent (consecutive
        nonces), then their receipts are awaited. A block whose anchor FAILED is left alone unless
        ``retry_failed``. A block that conflicts or reverts does not stop the others: once every block has
        been tried, AnchorsIncomplete names each such block. Confirmed anchors are read again first
        (``confirmed_recheck``), so a root a reorganisation dropped is anchored again in the same run, at
        its own nonce, before any new block takes a later one."""
        self.confirmed_recheck()
        settled = (
            [EvmAnchor.Status.CONFIRMED]
            if retry_failed
            else [EvmAnchor.Status.CONFIRMED, EvmAnchor.Status.FAILED]
        )
        if not retry_failed:
            waiting = EvmAnchor.objects.filter(status=EvmAnchor.Status.FAILED).count()
            if waiting:
                log.warning(
                    "ledger anchor: %s blocks' anchors failed and wait for an operator: see their reasons, "
                    "mend the cause, then run manage.py ledger_anchor --retry-failed",
                    waiting,
                )
        blocks = Block.objects.exclude(evm_anchor__status__in=settled).order_by("height")
        failures: dict[int, LedgerError] = {}
        in_flight = []
        for block in blocks:
            try:
                in_flight.append(self._settle_or_send(block, retry_failed=retry_failed))
            except (AnchorConflict, AnchorFailed) as exc:  # this block's own: the next heights go on
                failures[block.height] = exc
        anchors = []
        for anchor in in_flight:
            try:
                anchors.append(anchor if anchor.status in ON_CHAIN else self._await(anchor))
            except AnchorFailed as exc:
                failures[anchor.block.height] = exc
        for exc in failures.values():
            log.error("ledger anchor: %s", exc)
        if failures:
            raise AnchorsIncomplete(failures)
        return anchors

    def anchored_root(self, height: int) -> str | None:
        root = self._node(lambda: self.contract.functions.root_at(height).call())
        return None if root == EMPTY_ROOT else root.hex()

    def anchored_count(self) -> int:
        """How many blocks the contract holds roots of (heights are anchored in order, from 1)."""
        return self._node(lambda: self.contract.functions.count().call())

    def confirmed_recheck(self) -> list[int]:
        """Reads again the roots of confirmed anchors: those mined in the last ``recheck_blocks`` chain
        blocks (or above the head, which a reorganisation can lower), and those whose nonce the account's
        transaction count on the chain has not reached, however old: a transaction at such a nonce is not
        on the chain. An anchor whose root is gone from the contract (a reorganisation dropped its
        transaction), or was replaced by another root (no reorganisation does that), goes back to SENT;
        returns their heights. Anchoring then sends the first kind again and names the second a conflict."""
        head = self._node(lambda: self.w3.eth.block_number)
        used = self._node(lambda: self.w3.eth.get_transaction_count(self.account.address, "latest"))
        ahead = Q(chain_id=self.chain_id, sender=self.account.address, nonce__gte=used)
        recent = Q(receipt_block__gt=head - self.recheck_blocks) if self.recheck_blocks else Q(pk__in=[])
        anchors = list(
            EvmAnchor.objects.filter(recent | ahead, status=EvmAnchor.Status.CONFIRMED)
            .select_related("block")
            .order_by("block__height")
        )
        roots = self._anchored_roots([anchor.block.height for anchor in anchors])
        moved = []
        for anchor in anchors:
            on_chain = roots[anchor.block.height]
            if on_chain == anchor.block.merkle_root:
                continue
            level = logging.WARNING
            if on_chain is None:
                why = "was confirmed, and its root is gone from the contract (a reorganisation dropped it)"
            else:
                level = logging.ERROR
                why = (
                    f"was confirmed, and the contract now holds another root at its height, {on_chain}: no "
                    "reorganisation does that (an anchor from the hub's account by someone else, or the hub's "
                    "blocks replaced); it needs an operator"
                )
            if self._unconfirmed(anchor, why=why, level=level):
                moved.append(anchor.block.height)
        return moved

    # --- steps ---------------------------------------------------------------------------------------

    def _settle_or_send(self, block: Block, *, retry_failed: bool = False) -> EvmAnchor:
        anchor = EvmAnchor.objects.filter(block=block).first()
        if anchor is not None and anchor.status == EvmAnchor.Status.CONFIRMED:
            return anchor
        on_chain = self.anchored_root(block.height)
        if on_chain is not None:
            if on_chain != block.merkle_root:
                raise AnchorConflict(
                    f"the contract holds root {on_chain} at height {block.height}, the hub's {block} has "
                    f"{block.merkle_root}"
                )
            return self._confirm_from_chain(block, anchor)
        if anchor is not None and anchor.status == EvmAnchor.Status.MINED:
            self._unconfirmed(anchor, why="was mined, and its root is gone before it was confirmed")
            anchor.refresh_from_db()
        self._check_hub()
        if anchor is None:
            return self._send(self._record_new(block))
        if anchor.status == EvmAnchor.Status.FAILED:
            if not retry_failed:
                raise AnchorFailed(f"the anchor of {block} failed before: {anchor.failure}")
            log.warning(
                "ledger anchor: %s failed before (%s); sending a new transaction", block, anchor.failure
            )
            return self._send(self._record_new(block, replacing=anchor))
        receipt = self._receipt(anchor.tx_hash)
        if receipt is not None and receipt["status"] == 1:
            # mined between the read above and now: the contract says so on the next read
            return self._confirm_from_chain(block, anchor)
        if receipt is not None:
            raise self._failed(anchor, receipt)
        used = self._node(lambda: self.w3.eth.get_transaction_count(self.account.address, "latest"))
        if used <= anchor.nonce:
            log.info("ledger anchor: %s still pending at nonce %s, sending it again", block, anchor.nonce)
            return self._send(self._priced(anchor, at_head=used == anchor.nonce))
        log.warning(
            "ledger anchor: transaction %s for %s was replaced by another use of its nonce; sending a new one",
            anchor.tx_hash,
            block,
        )
        return self._send(self._record_new(block, replacing=anchor))

    def _check_hub(self) -> None:
        """Refuses to send from an account the contract does not take anchors from (read once)."""
        if self._hub_checked:
            return
        hub = self._node(lambda: self.contract.functions.hub().call())
        if Web3.to_checksum_address(hub) != self.account.address:
            raise AnchorAccountNotHub(
                f"the hub's EVM account {self.account.address} is not the anchor contract's hub ({hub}), so "
                f"{self.contract.address} would refuse its anchors: set LEDGER_EVM_PRIVATE_KEY (or _FILE) to "
                "the account that deployed LEDGER_EVM_CONTRACT, or deploy a contract from this account"
            )
        self._hub_checked = True

    def _failed(self, anchor: EvmAnchor, receipt) -> AnchorFailed:
        """Records a reverted anchor as FAILED, with why, so that it is not sent again on every run."""
        reason = (
            f"the anchor of block {anchor.block.height} reverted (transaction {anchor.tx_hash}, chain block "
            f"{receipt['blockNumber']}, from {anchor.sender}); the root is not on the chain"
        )
        EvmAnchor.objects.filter(id=anchor.id, tx_hash=anchor.tx_hash).update(
            status=EvmAnchor.Status.FAILED, failure=reason
        )
        return AnchorFailed(reason)

    def _record_new(self, block: Block, replacing: EvmAnchor | None = None) -> EvmAnchor:
        """Signs a transaction at the next nonce and commits it to the database before it is sent."""
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [NONCE_LOCK])
            if replacing is None:
                already = EvmAnchor.objects.filter(block=block).first()
                if already is not None:  # another anchorer recorded it while this one waited for the lock
                    return already
            nonce = self._next_nonce()
            values = {
                "chain_id": self.chain_id,
                "contract": self.contract.address,
                "sender": self.account.address,
                "nonce": nonce,
                **self._signed(block, nonce, self._node(lambda: self.w3.eth.gas_price)),
                "status": EvmAnchor.Status.SENT,
                "failure": "",
            }
            if replacing is not None:
                EvmAnchor.objects.filter(id=replacing.id).update(**values)
                replacing.refresh_from_db()
                return replacing
            return EvmAnchor.objects.create(block=block, **values)

    def _signed(self, block: Block, nonce: int, gas_price: int) -> dict:
        """The anchoring transaction of a block, signed, as the columns that record it."""
        tx = self.contract.functions.anchor(
            block.height, bytes.fromhex(block.merkle_root), bytes.fromhex(block.block_hash)
        ).build_transaction(
            {
                "from": self.account.address,
                "nonce": nonce,
                "chainId": self.chain_id,
                "gas": ANCHOR_GAS,
                "gasPrice": gas_price,
            }
        )
        signed = self.account.sign_transaction(tx)
        return {
            "tx_hash": "0x" + bytes(signed.hash).hex(),
            "raw_tx": "0x" + bytes(signed.raw_transaction).hex(),
            "gas_price": gas_price,
            "sent_at": timezone.now(),
        }

    def _priced(self, anchor: EvmAnchor, *, at_head: bool) -> EvmAnchor:
        """What to send again for an anchor still unmined: the transaction recorded while its price holds;
        signed again at its nonce, dearer, once the network's gas price is above it (a node refuses it as
        underpriced, or never mines it), or once it has waited past the receipt timeout at the head of the
        account's queue (behind an earlier nonce, waiting is no matter of price). Never above
        REPRICE_CEILING times the network's price: a halted chain would otherwise raise it on every run."""
        price = self._node(lambda: self.w3.eth.gas_price)
        if not anchor.raw_tx:
            # a row rebuilt from the chain keeps no signed bytes (its transaction, dropped by a
            # reorganisation, is sent again): signed again at its nonce
            return self._repriced(anchor, max(price, anchor.gas_price or 0))
        waited = at_head and timezone.now() - anchor.sent_at > dt.timedelta(seconds=self.receipt_timeout)
        if anchor.gas_price is None:  # recorded before migration 0007: its signed bytes say
            anchor = self._gas_price_recorded(anchor)
        if anchor.gas_price is not None and anchor.gas_price >= price and not waited:
            return anchor
        old = price if anchor.gas_price is None else anchor.gas_price
        wanted = max(price, old + old // REPRICE_STEP + 1)
        if wanted > price * REPRICE_CEILING:
            return anchor
        return self._repriced(anchor, wanted)

    def _gas_price_recorded(self, anchor: EvmAnchor) -> EvmAnchor:
        """A row recorded without its gas price (before migration 0007) gets the price its signed
        transaction offers, read from the bytes (compare-and-set on the hash); bytes that cannot be read
        leave it without one, and it is then priced as the network's price."""
        offered = signed_gas_price(anchor.raw_tx)
        if offered is None:
            log.warning(
                "ledger anchor: the signed transaction of %s cannot be read for its gas price", anchor.block
            )
            return anchor
        EvmAnchor.objects.filter(id=anchor.id, tx_hash=anchor.tx_hash, gas_price__isnull=True).update(
            gas_price=offered
        )
        anchor.refresh_from_db()
        return anchor

    def _repriced(self, anchor: EvmAnchor, gas_price: int) -> EvmAnchor:
        """The same anchor at the same nonce, signed again at a higher gas price and recorded in place of
        the one it replaces before it is sent (one of the two can be mined, never both). Compare-and-set
        on the hash: another anchorer's replacement, made meanwhile, is kept."""
        values = self._signed(anchor.block, anchor.nonce, gas_price)
        if EvmAnchor.objects.filter(id=anchor.id, tx_hash=anchor.tx_hash).update(**values):
            log.warning(
                "ledger anchor: %s not mined at gas price %s; replaced at nonce %s by %s at %s",
                anchor.block,
                anchor.gas_price,
                anchor.nonce,
                values["tx_hash"],
                gas_price,
            )
        anchor.refresh_from_db()
        return anchor

    def _next_nonce(self) -> int:
        on_chain = self._node(lambda: self.w3.eth.get_transaction_count(self.account.address, "pending"))
        recorded = (
            EvmAnchor.objects.filter(chain_id=self.chain_id, sender=self.account.address)
            .order_by("-nonce")
            .values_list("nonce", flat=True)
            .first()
        )
        return max(on_chain, -1 if recorded is None else recorded + 1)

    def _send(self, anchor: EvmAnchor) -> EvmAnchor:
        try:
            self.w3.eth.send_raw_transaction(anchor.raw_tx)
        except Web3RPCError as exc:
            if not any(marker in str(exc).lower() for marker in ALREADY_THERE):
                raise AnchorUnavailable(
                    f"the node refused the anchor of block {anchor.block_id}: {exc}"
                ) from exc
        except (OSError, ConnectionError) as exc:
            raise AnchorUnavailable(f"the EVM node is unreachable: {exc}") from exc
        return anchor

    def _await(self, anchor: EvmAnchor) -> EvmAnchor:
        """Waits for the anchor's receipt. The row is read again at each poll, since another anchorer may
        have replaced its transaction meanwhile; and the contract is asked (at once, then every
        ROOT_CHECK_SECONDS) whether the block's root is there, since the transaction mined may be another
        one than the row names (a replacement and the one it replaced race: either can be mined)."""
        block = anchor.block
        deadline = time.monotonic() + self.receipt_timeout
        root_check = time.monotonic()
        while (receipt := self._receipt(anchor.tx_hash)) is None:
            now = time.monotonic()
            if now >= root_check:
                root_check = now + ROOT_CHECK_SECONDS
                if self.anchored_root(block.height) == block.merkle_root:
                    return self._confirm_from_chain(block, anchor)
            if now > deadline:
                raise AnchorUnavailable(
                    f"no receipt for {anchor.tx_hash} (block {anchor.block_id}) after {self.receipt_timeout}s"
                )
            time.sleep(self.poll_interval)
            anchor = EvmAnchor.objects.get(id=anchor.id)
            if anchor.status != EvmAnchor.Status.SENT:  # another anchorer settled it meanwhile
                return anchor
        if receipt["status"] != 1:
            if self.anchored_root(block.height) == block.merkle_root:
                return self._confirm_from_chain(block, anchor)
            raise self._failed(anchor, receipt)
        return self._confirm(anchor, receipt["blockNumber"])

    def _confirm_from_chain(self, block: Block, anchor: EvmAnchor | None) -> EvmAnchor:
        """The root is in the contract: record the transaction that put it there. The recorded transaction's
        receipt says so in one call; else (another transaction anchored it, or no row survived) the
        ``Anchored`` event is searched for, in bounded ranges from the chain block of the block's sealing."""
        if anchor is None:  # another anchorer's row, committed meanwhile, or none (a restored database)
            anchor = EvmAnchor.objects.filter(block=block).first()
        if anchor is not None:
            receipt = self._receipt(anchor.tx_hash)
            if receipt is not None and receipt["status"] == 1 and receipt["to"] == self.contract.address:
                return self._confirm(anchor, receipt["blockNumber"])
        event = self._anchored_event(block)
        tx_hash = "0x" + bytes(event["transactionHash"]).hex()
        if anchor is None:
            anchor = self._rebuild(block, tx_hash)
        elif anchor.tx_hash != tx_hash:
            anchor = self._mined_instead(anchor, tx_hash)
        return self._confirm(anchor, event["blockNumber"])

    def _mined_instead(self, anchor: EvmAnchor, tx_hash: str) -> EvmAnchor:
        """The row names a transaction that was not mined, and ``tx_hash`` anchored its block (a replacement
        raced the transaction it replaced, and the other one won): the row is set to the transaction mined,
        as the chain gives it (hash, sender, nonce, gas price; its signed bytes are not kept, nothing will
        send it again). Compare-and-set on the hash the row held: another anchorer's write meanwhile wins."""
        tx = self._node(lambda: self.w3.eth.get_transaction(tx_hash))
        log.warning(
            "ledger anchor: %s was anchored by %s (nonce %s), not by %s, which its row named: now it names it",
            anchor.block,
            tx_hash,
            tx["nonce"],
            anchor.tx_hash,
        )
        try:
            with transaction.atomic():
                EvmAnchor.objects.filter(id=anchor.id, tx_hash=anchor.tx_hash).update(
                    tx_hash=tx_hash,
                    sender=tx["from"],
                    nonce=tx["nonce"],
                    gas_price=tx["gasPrice"],
                    raw_tx="",
                )
        except IntegrityError:
            # another row holds that nonce (which the hub never signs twice): this row is left as it is
            log.error("ledger anchor: %s: another anchor row holds nonce %s", anchor.block, tx["nonce"])
        anchor.refresh_from_db()
        return anchor

    def _anchored_event(self, block: Block):
        """The ``Anchored`` event of a block's height. Nodes refuse a log search over too many chain blocks
        (Besu: ``--rpc-max-logs-range``), so it goes ``logs_range`` blocks at a time: forward from the chain
        block of the hour before the block was sealed (nothing anchored it earlier, whatever the clocks
        say), then, should that find nothing, back from there."""
        latest = self._node(lambda: self.w3.eth.block_number)
        floor = self._chain_block_at(int(block.sealed_at.timestamp()) - CLOCK_MARGIN_SECONDS, latest)
        step = self.logs_range
        forward = ((start, min(start + step - 1, latest)) for start in range(floor, latest + 1, step))
        back = ((max(end - step + 1, 0), end) for end in range(floor - 1, -1, -step))
        event = self.contract.events.Anchored()
        for start, end in itertools.chain(forward, back):
            logs = self._node(
                lambda start=start, end=end: event.get_logs(
                    from_block=start, to_block=end, argument_filters={"height": block.height}
                )
            )
            if logs:
                return logs[0]
        raise AnchorUnavailable(
            f"the contract holds the root of {block}, and the node has no Anchored event for it"
        )

    def _chain_block_at(self, moment: int, latest: int) -> int:
        """The last chain block stamped at or before ``moment`` (Unix seconds), by bisection; 0 if none."""
        low, high = 0, latest
        while low < high:
            middle = (low + high + 1) // 2
            stamp = self._node(lambda middle=middle: self.w3.eth.get_block(middle)["timestamp"])
            if stamp <= moment:
                low = middle
            else:
                high = middle - 1
        return low

    def _rebuild(self, block: Block, tx_hash: str) -> EvmAnchor:
        """The row of an anchor found on the chain but not in the database, rebuilt from its transaction."""
        tx = self._node(lambda: self.w3.eth.get_transaction(tx_hash))
        try:
            with transaction.atomic():
                return EvmAnchor.objects.create(
                    block=block,
                    chain_id=self.chain_id,
                    contract=self.contract.address,
                    sender=tx["from"],
                    nonce=tx["nonce"],
                    tx_hash=tx_hash,
                    raw_tx="",
                )
        except IntegrityError:  # written by another anchorer in the meantime
            return EvmAnchor.objects.get(block=block)

    def _confirm(self, anchor: EvmAnchor, chain_block: int) -> EvmAnchor:
        """Records the chain block the anchor was mined in: CONFIRMED once it is ``confirmations`` deep
        (counting itself), MINED until then; a later run reads the root again and confirms it, or, should
        a reorganisation have dropped it meanwhile, sends it again."""
        deep = (
            self.confirmations <= 1
            or self._node(lambda: self.w3.eth.block_number) - chain_block + 1 >= self.confirmations
        )
        EvmAnchor.objects.filter(id=anchor.id).update(
            status=EvmAnchor.Status.CONFIRMED if deep else EvmAnchor.Status.MINED,
            receipt_block=chain_block,
            confirmed_at=timezone.now() if deep else None,
        )
        anchor.refresh_from_db()
        return anchor

    def _unconfirmed(self, anchor: EvmAnchor, *, why: str, level: int = logging.WARNING) -> bool:
        """Sends an anchor whose root is not in the contract (any more) back to SENT, so that it is settled
        as any recorded transaction the chain does not hold: sent again as it was, at its nonce, or signed
        anew. Compare-and-set on its status and hash: another anchorer's write meanwhile wins."""
        moved = EvmAnchor.objects.filter(id=anchor.id, status=anchor.status, tx_hash=anchor.tx_hash).update(
            status=EvmAnchor.Status.SENT, receipt_block=None, confirmed_at=None
        )
        if moved:
            log.log(
                level,
                "ledger anchor: %s %s (transaction %s at nonce %s, chain block %s): anchoring it again",
                anchor.block,
                why,
                anchor.tx_hash,
                anchor.nonce,
                anchor.receipt_block,
            )
        return bool(moved)

    def _anchored_roots(self, heights: list[int]) -> dict[int, str | None]:
        """The contract's root at each height (None where there is none), read in JSON-RPC batches."""
        roots = {}
        for start in range(0, len(heights), ROOTS_PER_BATCH):
            chunk = heights[start : start + ROOTS_PER_BATCH]

            def read(chunk=chunk) -> list[bytes]:
                try:
                    batch = self.w3.batch_requests()
                except Web3TypeError:  # a provider that batches nothing (eth-tester's): a call a root
                    return [self.contract.functions.root_at(height).call() for height in chunk]
                with batch:
                    for height in chunk:
                        batch.add(self.contract.functions.root_at(height))
                    return batch.execute()

            roots.update(
                (height, None if root == EMPTY_ROOT else root.hex())
                for height, root in zip(chunk, self._node(read), strict=True)
            )
        return roots

    def _receipt(self, tx_hash: str):
        try:
            return self._node(lambda: self.w3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None

    def _node(self, call):
        try:
            return call()
        except TransactionNotFound:  # an answer: the caller reads it as "no receipt yet"
            raise
        except BadFunctionCallOutput as exc:  # no code, or other code, at the address
            raise AnchorSettingsInvalid(
                f"{self.contract.address} answers no call of the anchor contract on the chain at the node: "
                "check LEDGER_EVM_CONTRACT (manage.py ledger_evm_deploy prints it) and LEDGER_EVM_URL"
            ) from exc
        except (OSError, ConnectionError, ProviderConnectionError) as exc:
            raise AnchorUnavailable(f"the EVM node is unreachable: {exc}") from exc
        except Web3RPCError as exc:  # the node refused the call (a log range too wide, say): try again later
            raise AnchorUnavailable(f"the EVM node refused a call: {exc}") from exc


def account_from_settings() -> LocalAccount:
    key = settings.LEDGER_EVM_PRIVATE_KEY
    if not key and settings.LEDGER_EVM_PRIVATE_KEY_FILE:
        key = Path(settings.LEDGER_EVM_PRIVATE_KEY_FILE).read_text().strip()
    return Account.from_key(key)


def configured_anchorer() -> Anchorer:
    """The anchorer the settings describe; AnchorSettingsInvalid names a setting that cannot be used."""
    if not settings.LEDGER_EVM_URL:
        raise AnchorSettingsInvalid("LEDGER_EVM_URL is not set: the JSON-RPC URL of the hub's EVM node")
    if not Web3.is_address(settings.LEDGER_EVM_CONTRACT or ""):
        raise AnchorSettingsInvalid(
            f"LEDGER_EVM_CONTRACT={settings.LEDGER_EVM_CONTRACT!r} is not an EVM address (0x and 40 hex "
            "digits): set it to the address manage.py ledger_evm_deploy printed"
        )
    if not (settings.LEDGER_EVM_PRIVATE_KEY or settings.LEDGER_EVM_PRIVATE_KEY_FILE):
        raise AnchorSettingsInvalid("LEDGER_EVM_PRIVATE_KEY or LEDGER_EVM_PRIVATE_KEY_FILE is not set")
    try:
        account = account_from_settings()
    except (ValueError, OSError) as exc:  # the messages name no part of the key
        raise AnchorSettingsInvalid(
            f"the hub's EVM account key (LEDGER_EVM_PRIVATE_KEY or _FILE) cannot be used: {exc}"
        ) from None
    return Anchorer(
        w3=connect(settings.LEDGER_EVM_URL, timeout=settings.LEDGER_EVM_TIMEOUT_SECONDS),
        contract_address=settings.LEDGER_EVM_CONTRACT,
        account=account,
        receipt_timeout=settings.LEDGER_EVM_RECEIPT_TIMEOUT_SECONDS,
        logs_range=settings.LEDGER_EVM_LOGS_RANGE_BLOCKS,
        confirmations=settings.LEDGER_EVM_CONFIRMATIONS,
        recheck_blocks=settings.LEDGER_EVM_RECHECK_BLOCKS,
    )
