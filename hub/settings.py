"""Settings of the CSD interoperability hub, read from environment variables.

With nothing set the hub runs on its embedded default: SQLite in ``var/`` and a Celery broker kept in
folders under ``var/`` (kombu's filesystem transport), so a real worker and beat run without any outside
service. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis. With ``DEBUG`` off
(the default) the hub refuses to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import redis
from celery.app.backends import by_url as celery_backend_by_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue
from kombu.transport import resolve_transport
from stdnum import bic as stdnum_bic

from hub.env import envbool, envchoice, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent


def _folder(value: str) -> Path:
    """A folder setting; a relative one is taken from the project folder, where runhub starts web, worker
    and beat, so that every process of the hub means the same folder whatever folder it was started in."""
    return (BASE_DIR / value).resolve()


VAR_DIR = _folder(envstr("HUB_VAR_DIR", "var"))

DEBUG = envbool("DEBUG", False)

SECRET_KEY = envstr("SECRET_KEY")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-key-never-used-with-debug-off"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]"]
else:
    missing = [
        name for name, value in (("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS)) if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"DEBUG is off (production mode) and {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            "not set. Set SECRET_KEY to a long random string and ALLOWED_HOSTS to the host names the hub "
            "serves (comma-separated), or set DEBUG=true for a local development run."
        )
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "hub.registry",
    "hub.messaging",
    "hub.settlement",
    "hub.ops",
    "hub.api",
    "hub.ledger",
    "hub.reconciliation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "hub.api.middleware.length_required",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------

DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {
            # connections are kept for DB_CONN_MAX_AGE seconds, and checked before each reuse (a request, a
            # Celery task), so a restarted database costs one failed check, not a failed request
            "default": dj_database_url.parse(
                DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL this hub understands: {exc}"
        ) from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "hub.sqlite3",
            # web, worker and beat share the file: wait for locks, write-ahead log for concurrent readers
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
    # reconciliation (PostgreSQL only) keeps one live break per difference with a NULLS NOT DISTINCT unique
    # constraint, which SQLite cannot create; on the embedded default its runs refuse to start anyway
    SILENCED_SYSTEM_CHECKS = ["models.W047"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------------------------

EMBEDDED_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        "processed_folder": str(EMBEDDED_BROKER_DIR / "processed"),
        "store_processed": False,
        # kombu's default is a second between looks at the queue folder: a worker then took two or three
        # tasks a second, and a demo's simulation outran it
        "polling_interval": 0.1,
    }
    _default_backend = f"file://{EMBEDDED_BROKER_DIR / 'results'}"
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
        # a worker takes from its queues in the order CELERY_TASK_QUEUES gives them, not in turn
        "queue_order_strategy": "priority",
    }
    _default_backend = CELERY_BROKER_URL
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", _default_backend)


def _broker_url_problem(url: str) -> str:
    """Why kombu cannot use ``url`` as a broker ("": it can). Workers would otherwise die on it at start-up
    with kombu's traceback, and the web answer 503 for a broker that is merely misnamed."""
    scheme, sep, _rest = url.partition("://")
    if not sep or not scheme:
        return "it is not a URL (transport://...)"
    try:
        resolve_transport(scheme)
    except KeyError:
        return f"kombu knows no transport {scheme!r} (e.g. redis://host:6379/0, filesystem://)"
    except ImportError as exc:
        return f"its transport needs a library that is not installed ({exc})"
    return ""


if _problem := _broker_url_problem(CELERY_BROKER_URL):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r} is not a broker the hub can use: {_problem}"
    )
try:
    celery_backend_by_url(CELERY_RESULT_BACKEND)
except (ImportError, ImproperlyConfigured, ValueError) as exc:
    raise ImproperlyConfigured(
        f"CELERY_RESULT_BACKEND={CELERY_RESULT_BACKEND!r} is not a result backend Celery can use ({exc}); "
        "e.g. redis://host:6379/1, or leave it unset to use the broker"
    ) from None
CELERY_RESULT_EXPIRES = envint("CELERY_RESULT_EXPIRES", 3600, minimum=0)
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_QUEUE", "hub")
# Work that finishes transfers goes before work that starts new ones. The ledger's tasks (sealing,
# endorsing, anchoring, and the release of committable transfers) have a queue of their own, and so do the
# runs of transfers whose commit decision is final; on Redis a worker empties them, in that order, before it
# takes from the default queue. Otherwise a backlog of new instructions would hold back the commits behind
# it, and the reservations of every transfer prepared meanwhile would pile up at the CSDs until they ran
# short of securities.
CELERY_LEDGER_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.ledger"
CELERY_COMMIT_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.commit"
CELERY_TASK_QUEUES = (
    Queue(CELERY_LEDGER_QUEUE),
    Queue(CELERY_COMMIT_QUEUE),
    Queue(CELERY_TASK_DEFAULT_QUEUE),
)
CELERY_TASK_ROUTES = {
    "hub.ledger.*": {"queue": CELERY_LEDGER_QUEUE},
    "hub.settlement.transfers_anchor_and_release": {"queue": CELERY_LEDGER_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# one task at a time per worker process: settlement tasks are batches of hundreds of transfers, and a
# process holding more than it runs would leave the others idle
CELERY_WORKER_PREFETCH_MULTIPLIER = envint("CELERY_PREFETCH_MULTIPLIER", 1, minimum=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes the database connection after every task unless told to reuse it; a new
# PostgreSQL connection per task costs more than many a task. Workers reuse it instead, and hub.celery
# applies DB_CONN_MAX_AGE and the health check around each task, as Django does around a request.
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 1000, minimum=1)
# the embedded default is one worker process per core at most; production sets its own
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", 2, minimum=1)

HEALTH_WORKER_TIMEOUT_SECONDS = envint("HEALTH_WORKER_TIMEOUT_SECONDS", 5, minimum=1)
# how long a web process keeps the worker probe's result (it sends one probe at a time)
HEALTH_WORKER_CACHE_SECONDS = envint("HEALTH_WORKER_CACHE_SECONDS", 10, minimum=0)
# how long /health/ gives the broker, and then the result backend, to connect and answer before it reports
# them down: a load balancer's probe gives up after a few seconds, and a hub that answered later would look
# hung rather than say what is down
HEALTH_CHECK_TIMEOUT_SECONDS = envint("HEALTH_CHECK_TIMEOUT_SECONDS", 2, minimum=1)
# The result backend carries the worker probe's answer and nothing else (every other task ignores its
# result), so its client gives up as the health check does: a Redis that does not connect or answer within
# the timeout is down, after the one reconnection Celery always makes. Celery's defaults held /health/
# about twenty seconds on one that refused connections (twenty reconnections, a second apart) and many
# minutes on one that never answered (two minutes' wait for each reply).
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = HEALTH_CHECK_TIMEOUT_SECONDS
CELERY_REDIS_SOCKET_TIMEOUT = HEALTH_CHECK_TIMEOUT_SECONDS
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 0}}
# and that holds by default: a task stores its result only when it asks to (the probe, hub.ops.ping), so a
# result backend that is down never fails a task whose work is done, and no result piles up unread
CELERY_TASK_IGNORE_RESULT = True

# --- Participant message API -----------------------------------------------------------------------------

HUB_BIC = envstr("HUB_BIC", "CSDHZAJJ")  # the hub's own BIC in headers and FIN blocks (a demo identifier)
if not stdnum_bic.is_valid(HUB_BIC) or stdnum_bic.compact(HUB_BIC) != HUB_BIC:
    raise ImproperlyConfigured(
        f"HUB_BIC={HUB_BIC!r} is not a BIC (ISO 9362): give the hub's BIC as 8 or 11 upper-case characters, "
        "e.g. CSDHZAJJ; every header the hub writes names it, and participants' messages must name it too."
    )
# one request may carry a bulk file of many messages (at most 32 MiB, the message layer's bulk limit);
# single messages have their own limits in iso20022
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("API_MAX_REQUEST_BYTES", 32 * 1024 * 1024, minimum=1024)
BULK_MAX_MESSAGES = envint("BULK_MAX_MESSAGES", 10_000, minimum=1)
OUTBOX_PAGE_MAX = envint("OUTBOX_PAGE_MAX", 1000, minimum=1)
# Rate limits per participant (hub.api.ratelimit): requests per fixed window, writes (messages sent) and
# reads (outbox, instructions, accounts) counted apart. The defaults leave an honest client room (the
# settlement bench sends a participant's share of 40,000 instructions as some twenty bulk files) and hold a
# runaway one to a share of the web workers.
API_RATE_LIMIT_WINDOW_SECONDS = envint("API_RATE_LIMIT_WINDOW_SECONDS", 10, minimum=1)
API_RATE_LIMIT_WRITES = envint("API_RATE_LIMIT_WRITES", 1000, minimum=1)
API_RATE_LIMIT_READS = envint("API_RATE_LIMIT_READS", 1000, minimum=1)
# Counts are kept where every web process sees them: the broker's Redis when there is one, else (the
# embedded default, no server) a SQLite file in the var folder, shared by the web processes of one machine.
API_RATE_LIMIT_REDIS_URL = envstr(
    "API_RATE_LIMIT_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None,
)
API_RATE_LIMIT_SQLITE_PATH = VAR_DIR / "api-rate-limits.sqlite3"
# keys are named after the queue, which already keeps two hubs (or two test runs) on one Redis apart
API_RATE_LIMIT_NAMESPACE = CELERY_TASK_DEFAULT_QUEUE


def _redis_url_problem(url: str) -> str:
    """Why ``url`` is no Redis URL redis-py can use ("": it is one); redis-py drops a database number that
    is not a number without a word, which would count in database 0."""
    try:
        redis.ConnectionPool.from_url(url)
    except ValueError as exc:
        return str(exc)
    database = urlsplit(url).path.strip("/") if not url.startswith("unix://") else ""
    if database and not database.isdigit():
        return f"the database {database!r} is not a number"
    return ""


if API_RATE_LIMIT_REDIS_URL and (_store_problem := _redis_url_problem(API_RATE_LIMIT_REDIS_URL)):
    # the URL itself is not repeated: it may hold a password
    _store_source = (
        "API_RATE_LIMIT_REDIS_URL"
        if envstr("API_RATE_LIMIT_REDIS_URL")
        else "CELERY_BROKER_URL (where rate limits are counted when API_RATE_LIMIT_REDIS_URL is not set)"
    )
    raise ImproperlyConfigured(
        f"{_store_source} is not a Redis URL the rate limiter can use: {_store_problem}; "
        "set API_RATE_LIMIT_REDIS_URL to one, e.g. redis://host:6379/0"
    )
WEBHOOK_TIMEOUT_SECONDS = envint("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
WEBHOOK_MAX_ATTEMPTS = envint("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_BACKOFF_BASE_SECONDS = envint("WEBHOOK_BACKOFF_BASE_SECONDS", 5, minimum=1)
WEBHOOK_BACKOFF_CAP_SECONDS = envint("WEBHOOK_BACKOFF_CAP_SECONDS", 600, minimum=1)
# webhooks leave through this HTTP proxy when set; the usual HTTP(S)_PROXY variables are not read, so a proxy
# meant for package downloads, say, never carries participants' messages unless the operator says so here
WEBHOOK_PROXY_URL = envstr("WEBHOOK_PROXY_URL", "")
WEBHOOK_NO_PROXY = envlist("WEBHOOK_NO_PROXY")
if WEBHOOK_PROXY_URL:
    _proxy = urlsplit(WEBHOOK_PROXY_URL)
    try:
        _proxy_port = _proxy.port
    except ValueError:
        _proxy_port = -1
    if _proxy.scheme != "http" or not _proxy.hostname or _proxy_port == -1 or _proxy.path not in ("", "/"):
        raise ImproperlyConfigured(
            f"WEBHOOK_PROXY_URL={_proxy._replace(netloc=_proxy.hostname or '').geturl()!r} is not an HTTP "
            "proxy's address: give http://[user:password@]host:port (the hub speaks plain HTTP to the proxy "
            "and tunnels https webhooks through it with CONNECT)"
        )

# --- Settlement protocol --------------------------------------------------------------------------------

# off: settle on any day (the local demo, end-to-end tests); on: only on business days of the CSD calendar
SETTLEMENT_BUSINESS_DAYS_ONLY = envbool("SETTLEMENT_BUSINESS_DAYS_ONLY", True)
# on: a transfer does not start at a CSD past its settlement cut-off; it waits for the next settlement day
# there (as T2S recycles what missed the day), so that the CSD's end-of-day close holds the day's postings
SETTLEMENT_CUTOFFS_ENFORCED = envbool("SETTLEMENT_CUTOFFS_ENFORCED", True)
SETTLEMENT_LEASE_SECONDS = envint("SETTLEMENT_LEASE_SECONDS", 60, minimum=1)
SETTLEMENT_RETRY_BASE_SECONDS = envint("SETTLEMENT_RETRY_BASE_SECONDS", 2, minimum=1)
SETTLEMENT_RETRY_CAP_SECONDS = envint("SETTLEMENT_RETRY_CAP_SECONDS", 120, minimum=1)
# a CSD answering this many times in a row with something that leaves a leg's outcome unknown (a reply about
# transactions never sent, say) is no CSD that is simply down: the leg shows it and it is logged at ERROR
SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS = envint("SETTLEMENT_OUTCOME_UNKNOWN_ALERT_ATTEMPTS", 5, minimum=1)
SETTLEMENT_LACK_RECYCLE_SECONDS = envint("SETTLEMENT_LACK_RECYCLE_SECONDS", 30, minimum=1)
# /health/ reports a transfer held this long past the anchor (PREPARED, COMMITTING) or while releasing its
# legs (ABORTING), each over within seconds when its CSDs answer, and a transfer left due this long with no
# run taking it (no worker, no beat, a backlog): both wait on an operator (manage.py settlement_stuck)
SETTLEMENT_STUCK_ALERT_SECONDS = envint("SETTLEMENT_STUCK_ALERT_SECONDS", 600, minimum=1)
SETTLEMENT_OVERDUE_ALERT_SECONDS = envint("SETTLEMENT_OVERDUE_ALERT_SECONDS", 300, minimum=1)
# a transfer whose commit decision awaits its block is released by the ledger task; this is the safety net
SETTLEMENT_LEDGER_RECHECK_SECONDS = envint("SETTLEMENT_LEDGER_RECHECK_SECONDS", 10, minimum=1)
# commit decisions gathered this long into one block before sealing and endorsement are asked for (200 ms
# measured against 500 with bench/settlement in alternating pairs: a little faster, every transfer sooner)
SETTLEMENT_ANCHOR_BATCH_MILLISECONDS = envint("SETTLEMENT_ANCHOR_BATCH_MILLISECONDS", 200, minimum=0)
SETTLEMENT_SWEEP_BATCH = envint("SETTLEMENT_SWEEP_BATCH", 2000, minimum=1)
# how long past its due time a transfer must be before the sweeper re-drives it
SETTLEMENT_SWEEP_GRACE_SECONDS = envint("SETTLEMENT_SWEEP_GRACE_SECONDS", 10, minimum=0)
# how long an instruction stays ACCEPTED (its matching task lost, or still queued) before the matching
# sweep queues its matching again
SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS = envint("SETTLEMENT_MATCH_SWEEP_GRACE_SECONDS", 60, minimum=0)
# transfers one protocol run takes together: each step calls each CSD once for all of their legs
SETTLEMENT_BATCH_SIZE = envint("SETTLEMENT_BATCH_SIZE", 500, minimum=1)
SETTLEMENT_SUSPENSION_RECHECK_SECONDS = envint("SETTLEMENT_SUSPENSION_RECHECK_SECONDS", 60, minimum=1)

# --- Internationalisation, static files ----------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = _folder(envstr("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- REST framework and OpenAPI -----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CSD interoperability hub",
    "DESCRIPTION": "Cross-CSD settlement: ISO 20022 message API, reference data, health.",
    "VERSION": "0.1.0",
    # choice sets sharing a field name ("kind", "status") get these names, not ones with a hash in them
    "ENUM_NAME_OVERRIDES": {
        "BreakKindEnum": "hub.reconciliation.models.BreakKind",
        "BreakStatusEnum": "hub.reconciliation.models.BreakStatus",
        "RunKindEnum": "hub.reconciliation.models.RunKind",
        "RunStatusEnum": "hub.reconciliation.models.RunStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        # logging itself takes upper-case names only, and fails start-up with a traceback on any other
        "level": envchoice("LOG_LEVEL", "INFO", choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")),
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Shared ledger (hub/ledger) ------------------------------------------------------------------------
# Keys are Ed25519 seeds (32 bytes, base64), given in the environment or in files. With
# LEDGER_GENERATE_DEV_KEYS on (the default when DEBUG is on) missing keys are generated once into
# LEDGER_KEY_DIR and logged as development keys; with it off the hub refuses to seal without a hub key.

LEDGER_BACKEND = envstr("LEDGER_BACKEND", "local")
if LEDGER_BACKEND not in ("local", "evm"):
    raise ImproperlyConfigured(f"LEDGER_BACKEND={LEDGER_BACKEND!r}: use 'local' or 'evm'")
LEDGER_KEY_DIR = _folder(envstr("LEDGER_KEY_DIR", str(VAR_DIR / "ledger-keys")))
LEDGER_HUB_KEY = envstr("LEDGER_HUB_KEY")
LEDGER_HUB_KEY_FILE = envstr("LEDGER_HUB_KEY_FILE")
LEDGER_GENERATE_DEV_KEYS = envbool("LEDGER_GENERATE_DEV_KEYS", DEBUG)
# who signs endorsements for the CSDs: a dotted path to an Endorser (hub.ledger.endorsers); by default a
# CSD whose key the registry holds endorses through its adapter, any other with a local development key
LEDGER_ENDORSER = envstr("LEDGER_ENDORSER", "hub.ledger.endorsers.RegistryEndorser")
LEDGER_BLOCK_MAX_ENTRIES = envint("LEDGER_BLOCK_MAX_ENTRIES", 10_000, minimum=1)
LEDGER_SEAL_INTERVAL_SECONDS = envint("LEDGER_SEAL_INTERVAL_SECONDS", 2, minimum=1)
# sealing asked for after a commit waits this long, so that one block gathers the entries of many
# transactions (0: at once, one request per commit)
LEDGER_SEAL_REQUEST_MILLISECONDS = envint("LEDGER_SEAL_REQUEST_MILLISECONDS", 500, minimum=0)

LEDGER_EVM_URL = envstr("LEDGER_EVM_URL")
LEDGER_EVM_CONTRACT = envstr("LEDGER_EVM_CONTRACT")
LEDGER_EVM_PRIVATE_KEY = envstr("LEDGER_EVM_PRIVATE_KEY")
LEDGER_EVM_PRIVATE_KEY_FILE = envstr("LEDGER_EVM_PRIVATE_KEY_FILE")
# the contract build to deploy: match the Besu network's milestone (see hub/ledger/contracts/)
LEDGER_EVM_VERSION = envstr("LEDGER_EVM_VERSION", "shanghai")
LEDGER_EVM_TIMEOUT_SECONDS = envint("LEDGER_EVM_TIMEOUT_SECONDS", 10, minimum=1)
LEDGER_EVM_RECEIPT_TIMEOUT_SECONDS = envint("LEDGER_EVM_RECEIPT_TIMEOUT_SECONDS", 120, minimum=1)
# chain blocks one eth_getLogs call may span: at most the node's limit (Besu --rpc-max-logs-range)
LEDGER_EVM_LOGS_RANGE_BLOCKS = envint("LEDGER_EVM_LOGS_RANGE_BLOCKS", 1000, minimum=1)
# chain blocks, the anchoring one included, before an anchor counts as CONFIRMED: 1 on a chain with
# immediate finality (Besu QBFT); more on a chain that can reorganise
LEDGER_EVM_CONFIRMATIONS = envint("LEDGER_EVM_CONFIRMATIONS", 1, minimum=1)
# how many chain blocks under the head confirmed anchors are re-read at every anchoring run, so that a
# reorganisation that dropped one is anchored again (0: never re-read)
LEDGER_EVM_RECHECK_BLOCKS = envint("LEDGER_EVM_RECHECK_BLOCKS", 64, minimum=0)
if 0 < LEDGER_EVM_RECHECK_BLOCKS <= LEDGER_EVM_CONFIRMATIONS:
    # an anchor is confirmed LEDGER_EVM_CONFIRMATIONS - 1 blocks under the head: a window no deeper than
    # the confirmations lets it go by the time (or before) it is confirmed, and it is never re-read
    raise ImproperlyConfigured(
        f"LEDGER_EVM_RECHECK_BLOCKS={LEDGER_EVM_RECHECK_BLOCKS} re-reads no confirmed anchor with "
        f"LEDGER_EVM_CONFIRMATIONS={LEDGER_EVM_CONFIRMATIONS}: set it above the confirmations, or 0 to "
        "re-read none"
    )
if LEDGER_BACKEND == "evm":
    _missing_evm = [
        name
        for name, value in (
            ("LEDGER_EVM_URL", LEDGER_EVM_URL),
            ("LEDGER_EVM_CONTRACT", LEDGER_EVM_CONTRACT),
            (
                "LEDGER_EVM_PRIVATE_KEY or LEDGER_EVM_PRIVATE_KEY_FILE",
                LEDGER_EVM_PRIVATE_KEY or LEDGER_EVM_PRIVATE_KEY_FILE,
            ),
        )
        if not value
    ]
    if _missing_evm:
        raise ImproperlyConfigured(
            f"LEDGER_BACKEND=evm needs {', '.join(_missing_evm)}: the node's JSON-RPC URL, the anchor contract's "
            "address (deploy it with manage.py ledger_evm_deploy) and the hub's account key (hex)."
        )
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", LEDGER_EVM_CONTRACT):
        raise ImproperlyConfigured(
            f"LEDGER_EVM_CONTRACT={LEDGER_EVM_CONTRACT!r} is not an EVM address (0x and 40 hex digits): set it "
            "to the address manage.py ledger_evm_deploy printed."
        )
