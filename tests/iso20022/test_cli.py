"""``python -m iso20022`` as integration teams run it: a real subprocess, files on disk."""

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from iso20022 import models as m
from iso20022.mt import build_mt, parse_mt

ROOT = Path(__file__).resolve().parents[2]

INSTRUCTION = m.SettlementInstruction(
    transaction_id="REF-1",
    side=m.Side.DELIVER,
    payment=m.Payment.FREE,
    trade_date=date(2026, 11, 20),
    intended_settlement_date=date(2026, 11, 24),
    security=m.Security(isin="RU0007661625"),
    quantity=m.Quantity(amount=Decimal(100)),
    safekeeping_account="MS001",
    account_owner_bic="BANKRUMMXXX",
    counterparty=m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX"),
    own_csd_bic="NADCRUMMXXX",
)


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iso20022", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def mt_file(tmp_path):
    path = tmp_path / "instruction.fin"
    path.write_text(build_mt(INSTRUCTION))
    return path


def test_help_names_the_three_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in (b"validate", b"translate", b"show"):
        assert command in result.stdout


def test_a_valid_mt_validates_with_exit_status_zero(mt_file):
    result = run("validate", str(mt_file))
    assert result.returncode == 0, result.stderr
    assert b"valid" in result.stderr


def test_an_invalid_mt_exits_one_with_each_error_on_its_own_stderr_line(tmp_path):
    text = build_mt(INSTRUCTION).replace("20261124", "20261131").replace("UNIT/100,", "UNIT/100")
    path = tmp_path / "bad.fin"
    path.write_text(text)
    result = run("validate", str(path))
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 2
    assert "line 7, TRADDET/98A" in lines[0] and lines[0].endswith("[DDAT]")
    assert "FIAC/36B" in lines[1] and lines[1].endswith("[DQUA]")


def test_a_message_missing_mandatory_fields_lists_every_missing_field(tmp_path):
    text = build_mt(INSTRUCTION).replace(":97A::SAFE//MS001\r\n", "").replace(":22F::SETR//TRAD\r\n", "")
    path = tmp_path / "incomplete.fin"
    path.write_text(text)
    result = run("validate", str(path))
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "FIAC/:97A::SAFE" in stderr and "[SAFE]" in stderr
    assert "SETDET/:22F::SETR" in stderr


def test_show_prints_the_business_content_as_json(mt_file):
    result = run("show", str(mt_file))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["format"] == "MT" and shown["message"] == "MT542"
    assert shown["model"] == "SettlementInstruction"
    assert shown["content"]["quantity"] == {"amount": "100", "type": "UNIT"}
    assert shown["content"]["intended_settlement_date"] == "2026-11-24"
    assert shown["content"]["side"] == "DELI"


def test_show_prints_the_sequence_tree_of_an_mt537(reference_dir):
    result = run("show", str(reference_dir / "mt" / "MT537_large_prowide-examples.fin"))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["message"] == "MT537" and shown["model"] is None
    genl = shown["content"][0]
    assert genl["sequence"] == "GENL"
    assert {"tag": "98A", "qualifier": "STAT", "issuer": None, "value": "2005-05-25", "line": 7} in genl[
        "items"
    ]


def test_standard_input_is_read_for_a_dash(mt_file):
    result = run("validate", "-", stdin=mt_file.read_bytes())
    assert result.returncode == 0, result.stderr


def test_content_that_is_neither_mt_nor_mx_is_refused():
    result = run("validate", "-", stdin=b"hello")
    assert result.returncode == 1
    assert b"neither a FIN message" in result.stderr


def test_an_mt537_cannot_be_translated_and_says_why(reference_dir):
    result = run("translate", str(reference_dir / "mt" / "MT537_large_prowide-examples.fin"))
    assert result.returncode == 1
    assert b"no counterpart" in result.stderr and b"[TXST]" in result.stderr


def test_a_missing_file_exits_two():
    result = run("show", "/nonexistent/message.fin")
    assert result.returncode == 2
    assert b"cannot read" in result.stderr


def test_translate_turns_an_mt_into_an_mx_envelope_on_stdout(mt_file):
    result = run("translate", str(mt_file))
    assert result.returncode == 0, result.stderr
    assert b"<Envlp" in result.stdout and b"sese.023.001.11" in result.stdout
    assert b"<ISIN>RU0007661625</ISIN>" in result.stdout


def test_translate_turns_the_mx_back_into_the_same_mt(mt_file, tmp_path):
    mx_file = tmp_path / "instruction.xml"
    mx_file.write_bytes(run("translate", str(mt_file)).stdout)
    result = run("translate", str(mx_file))
    assert result.returncode == 0, result.stderr
    assert parse_mt(result.stdout) == INSTRUCTION


def test_an_mx_validates_and_shows_like_an_mt(mt_file, tmp_path):
    mx_file = tmp_path / "instruction.xml"
    mx_file.write_bytes(run("translate", str(mt_file)).stdout)
    assert run("validate", str(mx_file)).returncode == 0
    shown = json.loads(run("show", str(mx_file)).stdout)
    assert shown["format"] == "MX" and shown["message"] == "sese.023.001.11"
    assert shown["header"]["from_bic"] == "BANKRUMMXXX"
    assert shown["content"]["security"]["isin"] == "RU0007661625"


def test_an_invalid_mx_exits_one_with_its_errors(mt_file, tmp_path):
    mx_file = tmp_path / "instruction.xml"
    xml = run("translate", str(mt_file)).stdout.replace(b"<ISIN>RU0007661625</ISIN>", b"<ISIN>RU00</ISIN>")
    mx_file.write_bytes(xml)
    result = run("validate", str(mx_file))
    assert result.returncode == 1
    assert b"ISIN" in result.stderr and b"[DSEC]" in result.stderr
