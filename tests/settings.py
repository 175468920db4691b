"""Test settings: the project's settings, with the values production mode requires filled in.

The environment is set (not only these settings) so that processes the tests start, a Celery worker or
gunicorn, read the same configuration. Each test session gets its own Celery queue, so two runs sharing
one Redis never take each other's tasks.
"""

import atexit
import os
import shutil
import tempfile
import uuid

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("CELERY_QUEUE", f"test-{uuid.uuid4().hex[:12]}")
os.environ.setdefault("HEALTH_WORKER_TIMEOUT_SECONDS", "5")
# the shared ledger: development keys generated once per test session into a temporary folder, made by the
# session's own process (the processes it starts inherit it) and removed when that process ends
if "LEDGER_KEY_DIR" not in os.environ:
    os.environ["LEDGER_KEY_DIR"] = tempfile.mkdtemp(prefix="ledger-keys-")
    atexit.register(shutil.rmtree, os.environ["LEDGER_KEY_DIR"], ignore_errors=True)
os.environ.setdefault("LEDGER_GENERATE_DEV_KEYS", "true")
# every request to seal goes out at once, so a test sees exactly the requests it made (the window that
# gathers them under load has its own test)
os.environ.setdefault("LEDGER_SEAL_REQUEST_MILLISECONDS", "0")
# the suite runs at any time of day: the tests of the cut-off rule switch it on, on a fixed clock
os.environ.setdefault("SETTLEMENT_CUTOFFS_ENFORCED", "false")

from hub.settings import *  # noqa: E402, F403
from hub.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # a file, not memory, so a worker process can share the test database
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # one test database per run: two runs on one server (a checkout and a CI clone) never collide
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

from hub.settings import STATIC_ROOT  # noqa: E402

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from it; collectstatic is not run in tests
# no manifest in tests: pages render without collectstatic (the gunicorn test runs collectstatic itself)
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
