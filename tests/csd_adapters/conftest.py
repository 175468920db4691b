"""Reference CSDs served by real child processes over HTTP, each on its own PostgreSQL database, and the
conformance targets built on them: NSD's profile (MX) and Strate's (MT)."""

import contextlib
import os
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import requests
from lxml import etree
from stdnum import isin as stdnum_isin

from csd_adapters.conformance import ConformanceTarget, ReferenceCsdControl
from csd_adapters.profiles import profile_for
from csd_adapters.registry import adapter_for
from csd_adapters.transport import RetryPolicy
from iso20022 import bulk
from iso20022.mt import parse_fin

from ..conftest import free_port, running

READ_TIMEOUT = 1.0


def demo_isin(body: str) -> str:
    return body + stdnum_isin.calc_check_digit(body)


KNOWN_ISIN = demo_isin("XS000CONF01")
UNKNOWN_ISIN = demo_isin("XS000NONE01")


def _server_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextlib.contextmanager
def own_database(tmp_path: Path, name: str):
    """A fresh database for one reference CSD: PostgreSQL when the suite runs on it, else SQLite."""
    server = _server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / name}.sqlite3"
        return
    database = f"refcsd_{name}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(server)
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        yield urlunsplit(parts._replace(path=f"/{database}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def reference_csd_process(csd: str, database: str, extra: list[str] | None = None):
    """``python -m csd_adapters.reference_csd serve`` on a free port, once it answers /health."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "csd_adapters.reference_csd",
        "serve",
        "--csd",
        csd,
        "--port",
        str(port),
        "--database",
        database,
        "--threads",
        "16",
        *(extra or []),
    ]
    with running(command, env={"REFERENCE_CSD_ADMIN_TOKEN": ""}) as child:

        def healthy() -> bool:
            try:
                return requests.get(base_url + "/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        child.wait_until(healthy, timeout=30, what=f"reference CSD {csd} did not start")
        yield base_url, child


class WireSchemas:
    """Validates every MX message an adapter exchanges against the official XSDs (reference corpus)."""

    def __init__(self, xsd_dir: Path) -> None:
        self.xsd_dir = xsd_dir
        self._schemas: dict[str, etree.XMLSchema] = {}
        self._lock = threading.Lock()
        self.seen: set[str] = set()
        self.errors: list[str] = []

    def schema(self, namespace: str) -> etree.XMLSchema:
        name = namespace.rsplit(":", 1)[-1]
        with self._lock:
            if name not in self._schemas:
                self._schemas[name] = etree.XMLSchema(etree.parse(str(self.xsd_dir / f"{name}.xsd")))
            return self._schemas[name]

    def check(self, data: bytes) -> None:
        root = etree.fromstring(data)
        documents = list(root) if etree.QName(root).localname == "Envlp" else [root]
        for element in documents:
            namespace = etree.QName(element).namespace
            schema = self.schema(namespace)
            standalone = etree.fromstring(etree.tostring(element))
            with self._lock:
                self.seen.add(namespace.rsplit(":", 1)[-1])
                if not schema.validate(standalone):
                    self.errors.append(f"{namespace}: {schema.error_log}")

    def observe(self, method, path, body, reply) -> None:
        if body and path == "/messages":
            self.check(body)
        if body and path == "/messages/bulk":
            for message in bulk.split_mx(body):
                self.check(message)
        if reply.status == 200 and path.startswith(("/messages", "/statements/")):
            for part in reply.parts:
                self.check(part)


class WireTypes:
    """Records the type of every MT message an adapter exchanges (block 2), requests and replies."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def observe(self, method, path, body, reply) -> None:
        sent = bulk.split_mt(body) if path == "/messages/bulk" else [body]
        for data in (*sent, *reply.parts) if reply.status == 200 else sent:
            if data.startswith(b"{1:"):
                self.seen.add("MT" + parse_fin(data).message_type)


@pytest.fixture(scope="session")
def wire_types() -> WireTypes:
    return WireTypes()


@pytest.fixture(scope="session")
def wire_schemas(reference_dir) -> WireSchemas:
    return WireSchemas(reference_dir / "xsd")


TARGETS = {"iso20022_mx": "NSD", "iso15022_mt": "STRATE"}


@pytest.fixture(scope="session", params=sorted(TARGETS))
def conformance_target(request, tmp_path_factory, wire_schemas, wire_types):
    adapter_name = request.param
    profile = profile_for(TARGETS[adapter_name])
    observer = wire_schemas.observe if profile.standard.value == "MX" else wire_types.observe
    with (
        own_database(tmp_path_factory.mktemp("refcsd"), profile.code.lower()) as database,
        reference_csd_process(profile.code, database) as (base_url, _child),
    ):
        control = ReferenceCsdControl(base_url)
        control.open_account("ISSUANCE", "ISSUANCE")
        adapter = adapter_for(
            adapter_name,
            profile=profile,
            base_url=base_url,
            read_timeout=READ_TIMEOUT,
            retry=RetryPolicy(attempts=4, backoff=0.05, cap=0.5),
            observer=observer,
        )
        yield ConformanceTarget(
            name=profile.code,
            adapter=adapter,
            control=control,
            isin=KNOWN_ISIN,
            unknown_isin=UNKNOWN_ISIN,
            read_timeout=READ_TIMEOUT,
        )
        assert control.discrepancies() == []
    assert wire_schemas.errors == []
