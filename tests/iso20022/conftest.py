"""The message layer is a pure library: its tests run without Django (``pytest -p no:django``), so the
repository root is put on ``sys.path`` here, as pytest-django would do for the rest of the suite."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
