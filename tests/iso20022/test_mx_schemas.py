"""The usage-guideline schemas compiled in threads: libxml2 sets up its built-in schema types on the first
compile in a process, and two threads compiling at that moment broke every later compile in the process
(a CSD call thread then failed each reply it read)."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# a fresh process (the setup happens once per process): two threads start compiling at the same moment,
# the interpreter switching between them as often as it can
FIRST_COMPILES_AT_ONCE = """
import sys
import threading
from iso20022.mx import schemas

sys.setswitchinterval(1e-6)
names = sorted(path.name for path in schemas.SCHEMA_DIR.glob("*.xsd"))
start = threading.Barrier(2)
failures = []

def compile_all():
    start.wait()
    try:
        for name in names:
            schemas.guideline(name)
    except Exception as exc:
        failures.append(repr(exc))

threads = [threading.Thread(target=compile_all) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(failures[0] if failures else "ok")
"""


def _fresh_process() -> str:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_COMPILES_AT_ONCE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return done.stdout.strip() or f"exit {done.returncode}: {done.stderr.strip()[-500:]}"


def test_threads_compiling_their_first_schemas_at_once_all_succeed():
    # before compiles took turns, about two processes in three failed here (one even aborted: a double
    # free in libxml2), and one in ten with the interpreter's usual switching
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _n: _fresh_process(), range(20)))
    assert [o for o in outcomes if o != "ok"] == []
