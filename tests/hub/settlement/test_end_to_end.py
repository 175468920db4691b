"""End to end: participants post instructions through the HTTP API; a real Celery worker and beat on Redis
and PostgreSQL run matching, the protocol and the ledger; five reference CSDs answer over HTTP in MX or MT.

Then the crash stories: a worker killed with SIGKILL again and again while transfers move through their
steps, a CSD that applies an operation and drops its reply, and Redis restarted in the middle of a run.
Every transfer must end in exactly one terminal state, nothing may be settled twice, invariants 1-4 must
hold in the CSDs' own books and the shared ledger must verify.
"""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db.models import Count, Max
from kombu import pools as kombu_pools

from csd_adapters.reference_csd import schema as refcsd
from csd_adapters.transport import RetryPolicy
from hub.celery import app
from hub.ledger.models import Block, Entry
from hub.ledger.selectors import chain_verify
from hub.ledger.services import blocks_seal_and_finalise
from hub.messaging.models import OutboundMessage
from hub.ops.schedules import periodic_task_ensure
from hub.registry.reference_csds import reference_csd_processes, reference_csds_export
from hub.settlement.models import Instruction, Leg, Transfer
from hub.settlement.services import instruction_match
from iso20022 import bulk, mx
from iso20022.models import SettlementConfirmation
from iso20022.mt import parse_mt

from ...conftest import Child, celery_command, database_url_for_children, free_port
from ..api.conftest import client_for, post
from .books import Books, invariant_violations
from .messages import KACD_A, NSD_A, NSD_SHARES, STRATE_A, as_mt, as_mx, pair

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROTOCOL_ENV = {
    "LEDGER_ENDORSER": "hub.ledger.endorsers.AdapterEndorser",  # every CSD endorses blocks with its own key
    "SETTLEMENT_BUSINESS_DAYS_ONLY": "false",  # the suite runs on any day of the week
    "SETTLEMENT_CUTOFFS_ENFORCED": "false",  # and at any time of day
    "SETTLEMENT_LEASE_SECONDS": "4",  # a killed worker's transfers are taken over quickly
    "SETTLEMENT_RETRY_BASE_SECONDS": "1",
    "SETTLEMENT_RETRY_CAP_SECONDS": "3",
    "SETTLEMENT_LEDGER_RECHECK_SECONDS": "3",
    "SETTLEMENT_SWEEP_GRACE_SECONDS": "1",
}
SWEEP_EVERY_SECONDS = 2
SLOW = 0.4  # seconds a slowed reference CSD waits before it handles a request


def wait_for(condition, *, timeout: float, what: str, logs: tuple[Child, ...] = ()) -> None:
    """Poll ``condition`` until it holds; on timeout, fail with every transfer's state and the last lines
    of the ``logs`` children (a worker's, say: why a run stopped)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            state = [
                (
                    t.pk,
                    t.status,
                    t.due_at,
                    t.attempts,
                    t.failure_reason,
                    list(t.legs.values_list("leg_id", "status", "reason_code")),
                )
                for t in Transfer.objects.all()
            ]
            tails = "".join(f"\n--- {' '.join(c.command[:6])}:\n{c.output()[-6000:]}" for c in logs)
            pytest.fail(f"timed out waiting for {what}; transfers: {state}{tails}")
        time.sleep(0.3)


@pytest.fixture
def csds(tmp_path):
    """The demo world, its five CSDs each served by a reference CSD process over HTTP."""
    call_command("seed_demo", verbosity=0)
    reference_csds_export(
        directory=tmp_path, ports={code: free_port() for code in ("NSD", "STRATE", "CSCS", "MCDR", "KACD")}
    )
    servers = [
        Child(process.command, {})
        for process in reference_csd_processes(directory=tmp_path, python=sys.executable)
    ]
    try:
        for server, process in zip(
            servers, reference_csd_processes(directory=tmp_path, python=sys.executable), strict=True
        ):
            server.wait_until(
                lambda url=process.base_url: _up(url), timeout=60, what="reference CSD did not start"
            )
        yield {
            p.name.removeprefix("refcsd-").upper(): p.base_url
            for p in reference_csd_processes(directory=tmp_path, python=sys.executable)
        }
    finally:
        for server in servers:
            server.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def hub_env(**extra: str) -> dict:
    # the sweeper runs every couple of seconds in these tests, instead of the production schedule
    return {"DATABASE_URL": database_url_for_children(), **PROTOCOL_ENV, **extra}


def start_worker(env: dict) -> Child:
    worker = Child(celery_command("worker", "-l", "info", "-c", "2", "-n", f"e2e-{time.time_ns()}@%h"), env)
    worker.wait_until(lambda: "ready." in worker.output(), timeout=60, what="worker did not start")
    return worker


def start_beat(env: dict) -> Child:
    """Beat with the sweeper and the ledger's sealing every couple of seconds. The schedules are written
    here because a transactional test empties every table, the data migrations' schedules included."""
    for task in (
        "hub.settlement.transfers_sweep",
        "hub.ledger.seal_blocks",
        "hub.settlement.transfers_anchor_and_release",
    ):
        periodic_task_ensure(
            django_apps,
            name=f"test: {task}",
            task=task,
            every_seconds=SWEEP_EVERY_SECONDS,
            description="end-to-end test schedule",
        )
    return Child(celery_command("beat", "-l", "info", "--pidfile=", "--max-interval", "1"), env)


def today_pair(deliverer, receiver, tx: str):
    today = dt.datetime.now(dt.UTC).date()  # every demo CSD is east of UTC: its local date is no earlier
    return pair(deliverer, receiver, tx=tx, trade_date=today, intended_settlement_date=today)


def send_pairs(pairs, *, receives_in_bulk: bool = False) -> None:
    """Each side as its own message; with ``receives_in_bulk`` the receiving sides go last, one bulk file per
    receiver, so that they are matched, and their transfers settled, in batches."""
    clients = {}
    files: dict[str, list[bytes]] = {}
    for deliver, receive in pairs:
        for body in (deliver, receive):
            bic = body.account_owner_bic
            client = clients.setdefault(bic, client_for(bic))
            mt = bic == STRATE_A[0]  # Strate's broker speaks ISO 15022
            message = as_mt(body) if mt else as_mx(body)
            if receives_in_bulk and body is receive:
                files.setdefault(bic, []).append(message)
                continue
            response = post(client, message, mt=mt)
            assert response.status_code == 202, response.content
    for bic, messages in files.items():
        mt = bic == STRATE_A[0]
        data = bulk.join_mt(messages) if mt else bulk.join_mx(messages)
        response = post(clients[bic], data, mt=mt, path="/api/v1/messages/bulk/")
        assert response.status_code == 200, response.content
        assert {r["http_status"] for r in response.json()["results"]} == {202}, response.content


def all_terminal(expected: int) -> bool:
    rows = list(Transfer.objects.values_list("status", flat=True))
    return len(rows) == expected and all(s in ("SETTLED", "FAILED", "CANCELLED") for s in rows)


def ledger_final() -> bool:
    """Every entry is sealed, and every block carries every endorsement it needs (beat's sealing task gets
    them). An entry still unsealed would make a block later, perhaps after the workers have stopped."""
    return not Entry.objects.filter(block__isnull=True).exists() and chain_verify().first_break is None


def assert_settled_exactly_once(books: Books) -> None:
    """Every delivery booked at every CSD is the posting of one leg of a settled transfer, as the leg says
    (accounts, ISIN, quantity), and every such leg has one: nothing applied twice (under its own reference
    or another), nothing lost, nothing left reserved."""
    for code, ledger in books.ledgers.items():
        booked = sorted(
            (p.reference, p.debit_account, p.credit_account, p.isin, p.quantity)
            for p in ledger.postings()
            if p.kind == "DELIVERY"
        )
        legs = sorted(
            (
                leg.leg_id,
                leg.debit_account.number,
                leg.credit_account.number,
                leg.transfer.security.isin,
                leg.quantity,
            )
            for leg in Leg.objects.filter(csd__code=code, transfer__status="SETTLED").select_related(
                "debit_account", "credit_account", "transfer__security"
            )
        )
        assert booked == legs, (code, booked, legs)
        reserved = {key: blocked for key, (_available, blocked) in ledger.balances().items() if blocked}
        assert reserved == {}, (code, reserved)
    assert invariant_violations(books) == []
    report = chain_verify()
    assert report.first_break is None, report.first_break


def assert_told_of_its_own_settlement(instruction: Instruction) -> None:
    """The instruction's owner was told, in its own standard, that it was accepted, then matched, then
    settled; the one confirmation is of its own side and reference, account, security and quantity."""
    sent = OutboundMessage.objects.filter(
        participant=instruction.participant, transaction_id=instruction.transaction_id
    ).order_by("sequence")
    statuses = [m.status for m in sent]
    assert statuses[0] == "ACCEPTED" and statuses[-1] == "SETTLED", (instruction.transaction_id, statuses)
    assert "MATCHED" in statuses and statuses.count("SETTLED") == 1, (instruction.transaction_id, statuses)
    assert not {"REJECTED", "FAILED", "CANCELLED"} & set(statuses), (instruction.transaction_id, statuses)
    confirmation = sent.get(status="SETTLED")
    payload = bytes(confirmation.payload)
    if instruction.participant.outbound_format == "MT":
        # MT546 deliver free, MT544 receive free
        assert confirmation.message_type == ("MT546" if instruction.side == "DELI" else "MT544")
        body = parse_mt(payload)
    else:
        assert confirmation.message_type == "sese.025.001.11"
        body = mx.parse(payload).body
    assert isinstance(body, SettlementConfirmation), body
    assert (
        body.transaction_id,
        body.side.value,
        body.account_owner_bic,
        body.safekeeping_account,
        body.security.isin,
        body.settled_quantity.amount,
        body.counterparty.bic,
    ) == (
        instruction.transaction_id,
        instruction.side,
        instruction.participant.bic,
        instruction.account.number,
        instruction.security.isin,
        instruction.quantity,
        instruction.counterparty_bic,
    )


def test_each_leg_case_settles_end_to_end_and_every_party_gets_its_messages(csds, tmp_path):
    env = hub_env()
    worker = start_worker(env)
    try:
        send_pairs(
            [
                today_pair(NSD_A, STRATE_A, "E2E-SI"),
                today_pair(STRATE_A, NSD_A, "E2E-IS"),
                today_pair(STRATE_A, KACD_A, "E2E-RE"),
            ]
        )
        wait_for(lambda: all_terminal(3), timeout=120, what="three transfers to settle", logs=(worker,))
        wait_for(ledger_final, timeout=60, what="the last blocks to be endorsed", logs=(worker,))
    finally:
        worker.stop()
    assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}
    assert sorted(transfer.legs.count() for transfer in Transfer.objects.all()) == [2, 2, 3]
    instructions = list(Instruction.objects.select_related("participant", "account", "security"))
    assert len(instructions) == 6
    for instruction in instructions:
        assert_told_of_its_own_settlement(instruction)
    for bic in ("DEMARUMM", "DEMAZAJJ", "DEMAKZKA"):  # nothing about anyone else's instructions
        own = set(Instruction.objects.filter(participant__bic=bic).values_list("transaction_id", flat=True))
        told = set(
            OutboundMessage.objects.filter(participant__bic=bic).values_list("transaction_id", flat=True)
        )
        assert told == own, (bic, told, own)
    books = Books.of_servers(tmp_path)
    try:
        assert_settled_exactly_once(books)
        assert books.balance("KACD", "DEMAKZKA-OWN", NSD_SHARES)[0] == Decimal(100_100)
    finally:
        books.close()


# the steps a worker is killed in, each with what shows it was there when it died: a CSD that applied the
# worker's last request for a leg (its reply lost with the worker) or endorsed a block the hub never heard of
KILL_STEPS = {
    "prepare": Transfer.objects.filter(status="PREPARING", legs__status="PENDING"),
    "anchor": Block.objects.annotate(signed=Count("endorsements")).filter(signed=0),
    "commit": Transfer.objects.filter(status="COMMITTING", legs__status="PREPARED"),
}


def steps_caught_in_flight(books: Books) -> set[str]:
    """The steps whose CSD calls a worker was killed in: a leg reserved at its CSD but PENDING at the hub
    (prepare), a leg posted at its CSD but not COMMITTED at the hub (commit), a block a CSD endorsed whose
    endorsement the hub does not hold (anchor). Read once the CSDs have answered what was in flight."""
    caught = set()
    at_csds = {}
    for code, ledger in books.ledgers.items():
        with ledger.engine.connect() as c:
            rows = c.execute(sa.select(refcsd.reservations.c.reference, refcsd.reservations.c.state)).all()
        at_csds |= {reference: state for reference, state in rows}
        endorsed = ledger.endorsements()["highest"] or 0
        if endorsed > (Block.objects.filter(endorsements__csd=code).aggregate(h=Max("height"))["h"] or 0):
            caught.add("anchor")
    for leg_id, status in Leg.objects.values_list("leg_id", "status"):
        if status == "PENDING" and at_csds.get(leg_id) == "RESERVED":
            caught.add("prepare")
        if status == "PREPARED" and at_csds.get(leg_id) == "COMMITTED":
            caught.add("commit")
    return caught


def test_a_worker_killed_in_each_step_loses_nothing_and_settles_nothing_twice(csds, tmp_path):
    for code in (
        "NSD",
        "STRATE",
        "KACD",
    ):  # slow CSDs keep the worker inside every call long enough to die there
        requests.post(f"{csds[code]}/admin/faults", json={"mode": "slow", "delay": SLOW}, timeout=5)
    env = hub_env()
    beat = start_beat(env)
    books = Books.of_servers(tmp_path)
    caught: set[str] = set()
    try:
        send_pairs(
            [today_pair(NSD_A, STRATE_A, f"K-SI{i}") for i in range(3)]
            + [today_pair(STRATE_A, KACD_A, f"K-RE{i}") for i in range(3)],
            receives_in_bulk=True,  # batches of several transfers die mid-protocol too
        )
        deadline = time.monotonic() + 180
        for step, there in KILL_STEPS.items():
            while step not in caught and time.monotonic() < deadline:
                worker = start_worker(env)
                wait_for(there.exists, timeout=60, what=f"a worker in the {step} step", logs=(worker,))
                time.sleep(SLOW / 4)  # its calls to the CSDs are under way, none answered yet
                os.killpg(worker.process.pid, signal.SIGKILL)  # the worker and its pool, with no warning
                worker.process.wait()
                worker.stop()
                time.sleep(SLOW + 0.5)  # the CSDs apply what was in flight; its replies go nowhere
                caught |= steps_caught_in_flight(books)
        assert caught == set(KILL_STEPS), caught  # the kills did land inside each step
        worker = start_worker(env)
        try:
            wait_for(lambda: all_terminal(6), timeout=120, what="every transfer to end after the kills")
            wait_for(ledger_final, timeout=60, what="the last blocks to be endorsed")
        finally:
            worker.stop()
        assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}
        assert_settled_exactly_once(books)
    finally:
        books.close()
        beat.stop()


def test_a_csd_that_applies_and_drops_its_reply_is_replayed_without_settling_twice(csds, tmp_path, settings):
    """Strate applies a prepare and drops its reply; later NSD (MX: one sese.023 that posts) and Strate
    (MT: the first of its two instructions) each apply a commit and drop the reply; each time the hub sends
    it again and the CSD answers the replay. Which request a reply is dropped for follows from the order of
    the protocol: a CSD drops the reply to the next request it gets at a moment when that can only be a
    prepare (none of its legs prepared yet, so no commit decision to endorse), then only a commit (every
    leg prepared, every block endorsed, and no worker running while the fault is set). Strate's replies
    are lost once, so the transport's own retry sends the request again; NSD's commit loses the reply to
    every attempt the transport makes, so it gives up (CSD unavailable) and the protocol's retry, with
    backoff, sends the commit once more: the CSD then answers a replay of a posting it booked long ago."""

    def fault(code: str, mode: str, **extra) -> None:
        requests.post(f"{csds[code]}/admin/faults", json={"mode": mode, **extra}, timeout=5)

    def dropped(code: str) -> bool:
        return requests.get(f"{csds[code]}/admin/faults", timeout=5).json()["mode"] == "none"

    def legs_prepared_at(code: str) -> bool:
        return Leg.objects.filter(csd__code=code).count() == 2 and set(
            Leg.objects.filter(csd__code=code).values_list("status", flat=True)
        ) == {"PREPARED"}

    fault("NSD", "down")  # the transfers wait for NSD in PREPARING
    fault("STRATE", "drop_reply", count=1)
    env = hub_env()
    beat = start_beat(env)
    worker = start_worker(env)
    try:
        send_pairs([today_pair(NSD_A, STRATE_A, "DROP-1"), today_pair(STRATE_A, NSD_A, "DROP-2")])
        wait_for(
            lambda: legs_prepared_at("STRATE"), timeout=60, what="Strate's legs prepared", logs=(worker,)
        )
        assert dropped("STRATE")  # and the reply to the first prepare it got was lost
        # Strate down in turn: NSD prepares its legs, endorses the commit decisions' blocks, and the
        # transfers wait in PREPARED for Strate's endorsement, which this process then gets, no worker running
        fault("STRATE", "down")
        fault("NSD", "none")
        wait_for(
            lambda: (
                set(Transfer.objects.values_list("status", flat=True)) == {"PREPARED"}
                and Block.objects.filter(endorsements__csd="NSD").exists()
            ),
            timeout=60,
            what="both transfers prepared, NSD's endorsements",
            logs=(worker, beat),
        )
        worker.stop()
        fault("STRATE", "none")
        settings.LEDGER_ENDORSER = PROTOCOL_ENV["LEDGER_ENDORSER"]
        blocks_seal_and_finalise()
        assert not Block.objects.filter(csds__contains="STRATE").exclude(endorsements__csd="STRATE").exists()
        assert not Leg.objects.filter(status="COMMITTED").exists()
        # what each gets next is a commit: at NSD, twice as many as the transport's attempts, since the two
        # transfers' NSD legs may go in two calls at once (two worker processes) that share the drops: no
        # call can then have its reply within its attempts unless drops are left over, and every one must
        # be used; at Strate, one
        fault("NSD", "drop_reply", count=2 * RetryPolicy().attempts)
        fault("STRATE", "drop_reply", count=1)
        worker = start_worker(env)
        wait_for(
            lambda: all_terminal(2),
            timeout=150,
            what="transfers to settle despite the dropped replies",
            logs=(worker, beat),
        )
        # every drop was used, and the transfers settled: NSD answered a request after the transport's last
        # attempt, which only the protocol's own retry sends (the worker says so)
        assert dropped("NSD") and dropped("STRATE")
        assert re.search(r"; retry \d+ at", worker.output()), worker.output()[-4000:]
        wait_for(ledger_final, timeout=60, what="the last blocks to be endorsed", logs=(worker, beat))
    finally:
        worker.stop()
        beat.stop()
    assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}
    books = Books.of_servers(tmp_path)
    try:
        assert_settled_exactly_once(books)
    finally:
        books.close()


@pytest.fixture
def private_redis(monkeypatch):
    """A Redis of this test's own, so restarting it disturbs nobody else."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(
        lambda: (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout == b"PONG\n"
        ),
        timeout=20,
        what="redis",
    )
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its own configuration
    monkeypatch.setenv("CELERY_RESULT_BACKEND", url)
    _drop_broker_connections()
    holder = {"process": server, "command": command, "port": port}
    yield holder
    holder["process"].kill()
    holder["process"].wait()
    monkeypatch.undo()
    _drop_broker_connections()


def _drop_broker_connections() -> None:
    """This process's Celery and kombu keep broker connections in pools: after the broker URL changes,
    start anew."""
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_redis_restarted_mid_run_loses_no_transfer(csds, tmp_path, private_redis):
    """Redis keeps nothing on disk here, so every queued task dies with it; the transfers' due times in
    PostgreSQL are all that is left, and the sweeper must finish the job. A worker may exit when its broker
    vanishes under it; like the supervisor in production (compose: restart unless-stopped), the test
    starts it again."""
    for code in ("NSD", "STRATE"):
        requests.post(f"{csds[code]}/admin/faults", json={"mode": "slow", "delay": 0.3}, timeout=5)
    url = f"redis://127.0.0.1:{private_redis['port']}/0"
    env = hub_env(CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url)
    beat = start_beat(env)
    workers = [start_worker(env)]
    try:
        send_pairs([today_pair(NSD_A, STRATE_A, f"R-{i}") for i in range(3)])
        wait_for(lambda: Transfer.objects.count() == 3, timeout=60, what="the pairs to match")
        assert not all_terminal(3)  # Redis dies with the run under way, not after it
        private_redis["process"].kill()
        private_redis["process"].wait()
        time.sleep(2)
        private_redis["process"] = subprocess.Popen(private_redis["command"], stdout=subprocess.DEVNULL)

        def settled_with_a_supervisor() -> bool:
            if workers[-1].process.poll() is not None:
                workers.append(start_worker(env))
            return all_terminal(3)

        wait_for(settled_with_a_supervisor, timeout=180, what="transfers to settle after Redis came back")
        wait_for(ledger_final, timeout=60, what="the last blocks to be endorsed")
    finally:
        for worker in workers:
            worker.stop()
        beat.stop()
    assert set(Transfer.objects.values_list("status", flat=True)) == {"SETTLED"}
    books = Books.of_servers(tmp_path)
    try:
        assert_settled_exactly_once(books)
    finally:
        books.close()


def test_the_sweeper_alone_drives_a_transfer_whose_task_was_lost(csds):
    send_pairs([today_pair(NSD_A, STRATE_A, "LOST")])  # no worker runs yet: the match tasks wait in the queue
    instruction_match(instruction_id=Instruction.objects.get(transaction_id="LOST-D").pk)
    assert Transfer.objects.get().due_at is not None  # its durable outbox entry
    app.control.purge()  # the broker loses every queued task, the transfer's included
    env = hub_env()
    beat = start_beat(env)
    worker = start_worker(env)
    try:
        wait_for(
            lambda: all_terminal(1), timeout=90, what="the sweeper to drive the transfer", logs=(worker, beat)
        )
    finally:
        worker.stop()
        beat.stop()
    assert Transfer.objects.get().status == "SETTLED"


def test_simulate_sends_all_three_cases_through_the_api_and_summarises(csds, live_server, capsys):
    env = hub_env()
    beat = start_beat(env)
    worker = start_worker(env)
    try:
        call_command("simulate", count=9, rate=30, base_url=live_server.url, lack_share=0, seed=3, wait=120)
    finally:
        worker.stop()
        beat.stop()
    out = capsys.readouterr().out
    assert "trades sent: 9 (investor_to_issuer 3, issuer_to_investor 3, realignment 3)" in out
    assert "instructions accepted: 18, rejected: 0" in out
    assert "settled: 9" in out and "failed by reason: none" in out
    assert Transfer.objects.filter(status="SETTLED").count() == 9
