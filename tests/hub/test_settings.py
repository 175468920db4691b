"""Configuration comes from the environment through strict readers; production mode refuses to start
without the values it needs, and with nothing set the hub runs on its embedded default."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from hub.env import envbool, envint, envlist

from ..conftest import REPO_ROOT

CONFIG_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "CELERY_QUEUE",
    "API_RATE_LIMIT_WINDOW_SECONDS",
    "API_RATE_LIMIT_WRITES",
    "API_RATE_LIMIT_READS",
    "API_RATE_LIMIT_REDIS_URL",
)


def run_django(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    clean |= {"DJANGO_SETTINGS_MODULE": "hub.settings", "HUB_VAR_DIR": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_mode_refuses_to_start_without_secret_key_and_allowed_hosts(tmp_path):
    result = run_django("pass", tmp_path)
    assert result.returncode != 0
    assert "DEBUG is off (production mode) and SECRET_KEY and ALLOWED_HOSTS are not set" in result.stderr


def test_production_mode_names_the_one_missing_value(tmp_path):
    result = run_django("pass", tmp_path, SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_with_nothing_set_but_debug_the_hub_uses_sqlite_and_a_serverless_broker(tmp_path):
    code = (
        "from django.conf import settings; import json; "
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], str(settings.DATABASES['default']['NAME']), "
        "settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND]))"
    )
    result = run_django(code, tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    engine, name, broker, backend = json.loads(result.stdout.strip().splitlines()[-1])
    assert engine == "django.db.backends.sqlite3" and name.startswith(str(tmp_path))
    assert broker == "filesystem://" and backend.startswith(f"file://{tmp_path}")


def test_database_and_broker_urls_switch_to_postgresql_and_redis(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.CELERY_RESULT_BACKEND)"
    result = run_django(
        code,
        tmp_path,
        DEBUG="true",
        DATABASE_URL="postgres://u@db:5432/hub",
        CELERY_BROKER_URL="redis://cache:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://cache:6379/0"]


def test_a_malformed_value_stops_start_up_with_its_name(tmp_path):
    result = run_django("pass", tmp_path, DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG='maybe' is not a boolean" in result.stderr


def test_strict_readers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert envbool("X_BOOL", False) is True
    assert envint("X_INT", 1) == 12
    assert envlist("X_LIST") == ["a", "b", "c"]
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_INT='twelve' is not an integer"):
        envint("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="X_INT=0 is below the minimum of 1"):
        envint("X_INT", 5, minimum=1)


def test_a_log_level_is_read_in_any_case(tmp_path):
    code = "import logging; print(logging.getLevelName(logging.getLogger().level))"
    result = run_django(code, tmp_path, DEBUG="true", LOG_LEVEL="debug")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "DEBUG"


def test_an_unknown_log_level_stops_start_up_with_its_name_not_a_traceback_from_logging(tmp_path):
    result = run_django("pass", tmp_path, DEBUG="true", LOG_LEVEL="verbose")
    assert result.returncode != 0
    assert "LOG_LEVEL='verbose' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG" in result.stderr
    assert "Unable to configure root logger" not in result.stderr


@pytest.mark.parametrize("bic", ["hub", "csdhzajj", "CSDHZAJ", "CSDH ZAJJ", "CSDHZZJJ"])
def test_a_hub_bic_that_is_no_bic_stops_start_up_with_its_name(tmp_path, bic):
    # the hub writes it into every header and FIN block, and refuses messages that name another receiver
    result = run_django("pass", tmp_path, DEBUG="true", HUB_BIC=bic)
    assert result.returncode != 0
    assert f"HUB_BIC={bic!r} is not a BIC" in result.stderr


def test_the_hub_bic_may_name_its_primary_office(tmp_path):
    code = "from django.conf import settings; print(settings.HUB_BIC)"
    result = run_django(code, tmp_path, DEBUG="true", HUB_BIC="CSDHZAJJXXX")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "CSDHZAJJXXX"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis//cache:6379/0", "not a URL"),
        ("foo://cache", "kombu knows no transport 'foo'"),
        ("sqs://", "needs a library that is not installed"),
    ],
)
def test_a_broker_url_the_hub_cannot_use_stops_start_up_with_its_name(tmp_path, url, problem):
    result = run_django("pass", tmp_path, DEBUG="true", CELERY_BROKER_URL=url)
    assert result.returncode != 0
    assert f"CELERY_BROKER_URL={url!r}" in result.stderr and problem in result.stderr
    assert "Traceback" not in result.stderr.split("ImproperlyConfigured")[-1]


def test_a_result_backend_url_the_hub_cannot_use_stops_start_up_with_its_name(tmp_path):
    result = run_django("pass", tmp_path, DEBUG="true", CELERY_RESULT_BACKEND="foo://cache")
    assert result.returncode != 0
    assert "CELERY_RESULT_BACKEND='foo://cache' is not a result backend Celery can use" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "minimum"),
    [("CELERY_VISIBILITY_TIMEOUT", "0", 1), ("DB_CONN_MAX_AGE", "-5", 0), ("CELERY_RESULT_EXPIRES", "-1", 0)],
)
def test_a_number_of_seconds_below_what_makes_sense_stops_start_up(tmp_path, name, value, minimum):
    # a visibility timeout of 0 has Redis hand every task a worker holds to another worker at once
    outside = {"DATABASE_URL": "postgres://u@db:5432/hub", "CELERY_BROKER_URL": "redis://cache:6379/0"}
    result = run_django("pass", tmp_path, DEBUG="true", **outside, **{name: value})
    assert result.returncode != 0
    assert f"{name}={value} is below the minimum of {minimum}" in result.stderr


def test_a_relative_var_dir_is_the_same_folder_whatever_folder_a_process_starts_in(tmp_path):
    # runhub starts web, worker and beat in the project folder: had each read HUB_VAR_DIR from where it
    # started, the web would queue into one broker folder and database and the worker read another
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = os.path.relpath(tmp_path / "var", REPO_ROOT)
    code = "from django.conf import settings; print(settings.VAR_DIR)"
    found = []
    for cwd in (REPO_ROOT, elsewhere):
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=cwd,
            env={k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
            | {"DJANGO_SETTINGS_MODULE": "hub.settings", "DEBUG": "true", "HUB_VAR_DIR": relative}
            | {"PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        found.append(result.stdout.split()[-1])
    assert found == [str(tmp_path / "var")] * 2


@pytest.mark.parametrize(
    "url",
    ["https://proxy.example:3128", "proxy.example:3128", "http://:3128", "http://proxy:port", "http://p:1/x"],
)
def test_a_webhook_proxy_that_is_not_an_http_proxys_address_stops_start_up(tmp_path, url):
    result = run_django("pass", tmp_path, DEBUG="true", WEBHOOK_PROXY_URL=url)
    assert result.returncode != 0
    assert "WEBHOOK_PROXY_URL=" in result.stderr and "is not an HTTP proxy's address" in result.stderr


def test_a_webhook_proxys_password_is_not_repeated_when_it_is_refused(tmp_path):
    result = run_django("pass", tmp_path, DEBUG="true", WEBHOOK_PROXY_URL="https://ops:hunter22@proxy:3128")
    assert result.returncode != 0
    assert "is not an HTTP proxy's address" in result.stderr and "hunter22" not in result.stderr


def test_a_webhook_proxy_and_its_exceptions_are_read(tmp_path):
    code = "from django.conf import settings; print(settings.WEBHOOK_PROXY_URL, settings.WEBHOOK_NO_PROXY)"
    result = run_django(
        code, tmp_path, DEBUG="true", WEBHOOK_PROXY_URL="http://proxy:3128", WEBHOOK_NO_PROXY="a.example, .b"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "http://proxy:3128 ['a.example', '.b']"


RATE_LIMITS = (
    "from django.conf import settings; import json; print(json.dumps([settings.API_RATE_LIMIT_WINDOW_SECONDS, "
    "settings.API_RATE_LIMIT_WRITES, settings.API_RATE_LIMIT_READS, settings.API_RATE_LIMIT_REDIS_URL, "
    "str(settings.API_RATE_LIMIT_SQLITE_PATH)]))"
)


def rate_limits(result: subprocess.CompletedProcess) -> list:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_rate_limits_default_to_a_sqlite_file_on_the_embedded_default_and_to_the_brokers_redis(tmp_path):
    embedded = rate_limits(run_django(RATE_LIMITS, tmp_path, DEBUG="true"))
    assert embedded == [10, 1000, 1000, None, str(tmp_path / "api-rate-limits.sqlite3")]
    on_redis = rate_limits(
        run_django(RATE_LIMITS, tmp_path, DEBUG="true", CELERY_BROKER_URL="redis://cache:6379/0")
    )
    assert on_redis[3] == "redis://cache:6379/0"


def test_rate_limits_and_their_store_are_read_from_the_environment(tmp_path):
    result = run_django(
        RATE_LIMITS,
        tmp_path,
        DEBUG="true",
        CELERY_BROKER_URL="redis://cache:6379/0",
        API_RATE_LIMIT_WINDOW_SECONDS="1",
        API_RATE_LIMIT_WRITES="50",
        API_RATE_LIMIT_READS="200",
        API_RATE_LIMIT_REDIS_URL="rediss://limits:6380/3",
    )
    assert rate_limits(result)[:4] == [1, 50, 200, "rediss://limits:6380/3"]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("API_RATE_LIMIT_WINDOW_SECONDS", "0", "API_RATE_LIMIT_WINDOW_SECONDS=0 is below the minimum of 1"),
        ("API_RATE_LIMIT_WRITES", "0", "API_RATE_LIMIT_WRITES=0 is below the minimum of 1"),
        ("API_RATE_LIMIT_READS", "lots", "API_RATE_LIMIT_READS='lots' is not an integer"),
        ("API_RATE_LIMIT_REDIS_URL", "http://cache:6379/0", "API_RATE_LIMIT_REDIS_URL is not a Redis URL"),
        ("API_RATE_LIMIT_REDIS_URL", "redis://cache:port/0", "Port could not be cast to integer"),
        (
            "API_RATE_LIMIT_REDIS_URL",
            "redis://:s3cret@cache:6379/zero",
            "the database 'zero' is not a number",
        ),
    ],
)
def test_a_rate_limit_setting_the_hub_cannot_use_stops_start_up_with_its_name(tmp_path, name, value, says):
    result = run_django("pass", tmp_path, DEBUG="true", **{name: value})
    assert result.returncode != 0
    assert says in result.stderr
    # a Redis URL may hold a password: the refusal does not repeat it
    assert "s3cret" not in result.stderr
