"""Compiles the anchor contract offline into one artifact per EVM version (a Besu network's milestone).

    python -m hub.ledger.contracts.build          # (re)writes LedgerAnchor.<evm version>.json
    python -m hub.ledger.contracts.build --check  # exit 1 if an artifact differs from a fresh compile

The artifacts are committed, so running the hub needs no compiler; the test suite recompiles and compares.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "LedgerAnchor.vy"
EVM_VERSIONS = ("london", "paris", "shanghai", "cancun")


def artifact_path(evm_version: str) -> Path:
    return HERE / f"LedgerAnchor.{evm_version}.json"


def compile_artifact(evm_version: str) -> dict:
    vyper = [sys.executable, "-m", "vyper"]
    version = subprocess.run([*vyper, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    output = subprocess.run(
        [*vyper, "-f", "abi,bytecode", "--evm-version", evm_version, str(SOURCE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return {
        "contract": "LedgerAnchor",
        "source": SOURCE.name,
        "compiler": f"vyper {version}",
        "evm_version": evm_version,
        "abi": json.loads(output[0]),
        "bytecode": output[1].strip(),
    }


def artifact_text(artifact: dict) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for evm_version in EVM_VERSIONS:
        text = artifact_text(compile_artifact(evm_version))
        path = artifact_path(evm_version)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale contract artifacts: {', '.join(stale)}; run python -m hub.ledger.contracts.build")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
