"""Fixtures shared by the whole suite."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def reference_root() -> Path:
    """The shared ISO 20022 reference corpus (official XSDs, real samples), never copied into the repo."""
    configured = os.environ.get("ISO20022_REFERENCE")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "iso20022-reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    root = reference_root()
    if not (root / "MANIFEST.md").exists():
        pytest.fail(f"ISO 20022 reference corpus not found at {root}; set ISO20022_REFERENCE")
    return root
