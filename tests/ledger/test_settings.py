"""The ledger's settings: the embedded default is the local backend with development keys only when
DEBUG is on; the evm backend refuses to start without what it needs."""

import os
import subprocess
import sys

from ..conftest import REPO_ROOT

LEDGER_VARIABLES = ("DJANGO_SETTINGS_MODULE", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_QUEUE")


def run_django(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k not in LEDGER_VARIABLES}
    clean |= {"DJANGO_SETTINGS_MODULE": "hub.settings", "HUB_VAR_DIR": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRINT = "from django.conf import settings as s; print(s.LEDGER_BACKEND, s.LEDGER_GENERATE_DEV_KEYS, s.LEDGER_KEY_DIR)"


def test_the_embedded_default_is_the_local_backend_with_development_keys_in_the_var_folder(tmp_path):
    result = run_django(PRINT, tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["local", "True", str(tmp_path / "ledger-keys")]


def test_production_mode_generates_no_keys_unless_told_to(tmp_path):
    result = run_django(PRINT, tmp_path, DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="hub.example")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["local", "False"]


def test_the_evm_backend_refuses_to_start_without_its_node_contract_and_account(tmp_path):
    result = run_django(
        "", tmp_path, DEBUG="true", LEDGER_BACKEND="evm", LEDGER_EVM_URL="http://127.0.0.1:8545"
    )
    assert result.returncode != 0
    assert (
        "LEDGER_BACKEND=evm needs LEDGER_EVM_CONTRACT, LEDGER_EVM_PRIVATE_KEY or LEDGER_EVM_PRIVATE_KEY_FILE"
        in (result.stderr)
    )


def test_an_unknown_backend_is_refused_by_name(tmp_path):
    result = run_django("", tmp_path, DEBUG="true", LEDGER_BACKEND="fabric")
    assert result.returncode != 0 and "LEDGER_BACKEND='fabric': use 'local' or 'evm'" in result.stderr


def test_the_evm_backend_refuses_to_start_with_a_contract_address_that_is_none(tmp_path):
    result = run_django(
        "",
        tmp_path,
        DEBUG="true",
        LEDGER_BACKEND="evm",
        LEDGER_EVM_URL="http://127.0.0.1:8545",
        LEDGER_EVM_CONTRACT="0x1234",
        LEDGER_EVM_PRIVATE_KEY="0x" + "22" * 32,
    )
    assert result.returncode != 0
    assert "LEDGER_EVM_CONTRACT='0x1234' is not an EVM address (0x and 40 hex digits)" in result.stderr


def test_the_evm_confirmations_and_recheck_window_default_to_a_finality_chain_and_are_checked_at_start_up(
    tmp_path,
):
    show = "from django.conf import settings as s; print(s.LEDGER_EVM_CONFIRMATIONS, s.LEDGER_EVM_RECHECK_BLOCKS)"
    result = run_django(show, tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "64"]
    result = run_django("", tmp_path, DEBUG="true", LEDGER_EVM_CONFIRMATIONS="0")
    assert result.returncode != 0 and "LEDGER_EVM_CONFIRMATIONS=0 is below the minimum of 1" in result.stderr
    # a window no deeper than the confirmations lets an anchor go as it is confirmed: never re-read
    result = run_django(
        "", tmp_path, DEBUG="true", LEDGER_EVM_CONFIRMATIONS="12", LEDGER_EVM_RECHECK_BLOCKS="12"
    )
    assert result.returncode != 0
    assert "LEDGER_EVM_RECHECK_BLOCKS=12 re-reads no confirmed anchor with LEDGER_EVM_CONFIRMATIONS=12" in (
        result.stderr
    )
    result = run_django(
        show, tmp_path, DEBUG="true", LEDGER_EVM_CONFIRMATIONS="12", LEDGER_EVM_RECHECK_BLOCKS="0"
    )
    assert result.returncode == 0 and result.stdout.split() == ["12", "0"]
