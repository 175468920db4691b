"""Real EVMs for the anchor tests: eth-tester (py-evm, in process) and anvil (JSON-RPC, a child process)."""

import contextlib
from collections.abc import Iterator

import pytest
import requests
from eth_account import Account
from web3 import Web3

from ..conftest import REPO_ROOT, free_port, running

ANVIL = REPO_ROOT / "node_modules" / ".bin" / "anvil"


def funded_account(w3: Web3, *, anvil: bool) -> Account:
    """A fresh account of the hub, given Ether by the node (anvil) or by a prefunded tester account."""
    account = Account.create()
    if anvil:
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])
    else:
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**21})
        w3.eth.wait_for_transaction_receipt(tx)
    return account


def rpc(url: str, method: str, *params):
    answer = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    )
    body = answer.json()
    assert "error" not in body, body
    return body["result"]


@contextlib.contextmanager
def anvil_node(*extra: str) -> Iterator[str]:
    """anvil on 127.0.0.1 on a free port (installed by `make test` from package.json via npm ci)."""
    if not ANVIL.exists():
        pytest.fail(f"{ANVIL} is missing: run `npm ci` (make test does) to install anvil from package.json")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra]) as node:

        def answers() -> bool:
            try:
                return bool(rpc(url, "eth_chainId"))
            except requests.RequestException:
                return False

        node.wait_until(answers, timeout=30, what="anvil did not start")
        yield url
