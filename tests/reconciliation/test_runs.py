"""A run of every CSD over a clean system, and what a run records."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

from django.core.management import call_command

from csd_adapters import base as csd_base
from csd_adapters.base import MessageRejected
from csd_adapters.inprocess import LedgerAdapter
from csd_adapters.mx import MxAdapter
from csd_adapters.transport import Reply, Transport
from hub.reconciliation.models import Break, Gap, Position, Run, Statement
from hub.reconciliation.services import run_check, run_request
from hub.reconciliation.statements import statements_pull
from hub.registry.demo import demo_isin
from hub.registry.models import CSD, Holding, SecuritiesAccount, Security
from tests.hub.settlement.messages import NSD_A, STRATE_A

from .conftest import EVENING_BEFORE, ISSUED, LATER_THAT_DAY, SHARES, World, breaks, undue_creation

BOND = demo_isin("RU", "02")  # issued at NSD, counted in face amount
THURSDAY_EVENING = dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC)  # every CSD past its cut-off
FRIDAY_MORNING = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)


def test_a_clean_system_with_a_settled_transfer_reports_zero_breaks(world):
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert run.cross_checks and run.breaks_seen == 0 and breaks(run) == set()
    assert Break.objects.count() == 0
    current = Statement.objects.filter(run=run, role="CURRENT")
    assert current.count() == 5
    nsd = current.get(csd__code="NSD")
    assert (str(nsd.movements_since), str(nsd.movements_until)) == ("2026-11-26", "2026-11-26")
    assert nsd.baseline.as_of.isoformat() == "2026-11-25" and nsd.baseline.end_of_day


def test_an_account_the_csd_does_not_know_is_a_gap_left_out_of_the_checks_never_guessed(world):
    nsd = CSD.objects.get(code="NSD")
    owner = SecuritiesAccount.objects.get(csd=nsd, number="DEMARUMM-OWN").participant
    SecuritiesAccount.objects.create(csd=nsd, number="DEMARUMM-NEW", kind="OWN", participant=owner)
    undue_creation(world)  # would break the issued total (check 3), were it made
    run = world.reconcile()
    assert run.status == "DONE", run.error
    gaps = set(Gap.objects.filter(statement__run=run).values_list("account__number", "what"))
    # registered after Wednesday's close, the account is not in that baseline either
    assert gaps == {
        ("DEMARUMM-NEW", "holdings"),
        ("DEMARUMM-NEW", "transactions"),
        ("DEMARUMM-NEW", "baseline"),
    }
    assert "DEMARUMM-NEW: no statement of holdings (UnknownAccount" in run.notes
    assert breaks(run) == set()  # a participant account missing: the issued total is not guessed
    # the contra accounts are no gap: their short positions were read from their statements
    issuance = Position.objects.get(
        statement__run=run,
        statement__csd=nsd,
        statement__role="CURRENT",
        account__number="ISSUANCE",
        isin=SHARES,
    )
    assert issuance.quantity == -ISSUED - 500


class NotFound(Transport):
    """Between the hub and NSD, a proxy that lost its route: every request gets a 404 page."""

    def _send(self, method, path, body, params, content_type):
        return Reply(status=404, content_type="text/html", parts=(b"<html>Not Found</html>",))


def test_a_csd_answering_404_to_every_request_makes_an_incomplete_run_never_a_clean_one(world):
    world.adapters["NSD"] = MxAdapter(profile="NSD", transport=NotFound())
    undue_creation(world)  # would break the issued total (check 3), were it made
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert not run.cross_checks and breaks(run) == set()
    reasons = set(Gap.objects.filter(statement__run=run).values_list("reason", flat=True))
    assert all(reason.startswith("ProtocolError: GET /statements/") for reason in reasons)
    notes = run.notes.splitlines()
    assert notes[:2] == [
        "NSD: no statement of holdings of any of its accounts: check 1 not made there, nor checks 2 and 3 "
        "where they need its holdings",
        "NSD: no statement of transactions of any of its accounts: checks 1 and 4 not made there",
    ]
    assert "NSD: check 1 not made for its issuance account ISSUANCE (no statement of it)" in notes
    assert "NSD: check 1 not made for its omnibus account OMNIBUS-STRATE (no statement of it)" in notes
    assert any(line.startswith("check 3 not made for the ISINs issued at NSD") for line in notes)
    assert (
        "check 2 not made for STRATE's omnibus account OMNIBUS-STRATE at NSD: no statement of the omnibus "
        "account from NSD" in notes
    )


class NoIssuance(LedgerAdapter):
    def holdings(self, *, account, as_of):
        if account == "ISSUANCE":
            raise MessageRejected("statement refused")
        return super().holdings(account=account, as_of=as_of)


def test_a_run_without_the_statement_of_a_contra_account_is_not_complete(world):
    world.adapters["NSD"] = NoIssuance(ledger=world.ledgers["NSD"], csd="NSD")
    run = world.reconcile()
    assert run.status == "DONE" and breaks(run) == set()
    assert not run.cross_checks
    assert (
        run.notes.splitlines()[0]
        == "NSD: check 1 not made for its issuance account ISSUANCE (no statement of it)"
    )


class TwoPlaces(LedgerAdapter):
    """NSD states DEMARUMM-OWN's shares on two lines, as a CSD with two places of safekeeping would."""

    def __init__(self, *, ledger, csd, second_line=D(40)) -> None:
        super().__init__(ledger=ledger, csd=csd)
        self.second_line = second_line

    def holdings(self, *, account, as_of):
        stated = super().holdings(account=account, as_of=as_of)
        if account != "DEMARUMM-OWN":
            return stated
        lines = []
        for p in stated.positions:
            if p.isin == SHARES:
                lines.append(replace(p, available=p.available - D(40)))
                p = csd_base.Position(isin=SHARES, available=self.second_line, blocked=D(0))
            lines.append(p)
        return replace(stated, positions=tuple(lines))


def test_one_isin_on_two_lines_of_a_holdings_statement_is_read_as_their_sum(world):
    world.adapters["NSD"] = TwoPlaces(ledger=world.ledgers["NSD"], csd="NSD")
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert run.cross_checks and breaks(run) == set()
    held = Position.objects.filter(
        statement__run=run, statement__role="CURRENT", account__number="DEMARUMM-OWN", isin=SHARES
    )
    assert list(held.values_list("quantity", flat=True)) == [D(99_900)]


def test_a_difference_in_an_isin_stated_on_two_lines_is_one_break_of_their_sum(world):
    world.adapters["NSD"] = TwoPlaces(ledger=world.ledgers["NSD"], csd="NSD", second_line=D(45))
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert breaks(run) == {
        ("BALANCE", "NSD", SHARES, "DEMARUMM-OWN", "", D(99_900), D(99_905), D(5)),
        ("ISSUED", "NSD", SHARES, "", "", ISSUED, ISSUED + 5, D(5)),
    }


def test_a_transfer_settling_while_the_statements_are_pulled_is_not_expected_on_them(world):
    run = run_request(csd=None, kind=Run.Kind.ON_DEMAND, requested_by="test", enqueue=False)
    csds = CSD.objects.filter(status="ACTIVE").order_by("code")
    pulled = [
        statements_pull(csd=csd, adapter_for=world.adapter_for, now=LATER_THAT_DAY, end_of_day=False)
        for csd in csds
    ]
    # settled after the statements were asked for, before the checks run
    world.settle(NSD_A, STRATE_A, tx="RACE", now=LATER_THAT_DAY + dt.timedelta(minutes=5))
    run = run_check(run=run, pulled=pulled, now=LATER_THAT_DAY)
    assert run.status == "DONE" and breaks(run) == set()
    # the next run asks again, and finds it
    assert world.reconcile(now=LATER_THAT_DAY + dt.timedelta(minutes=15)).breaks_seen == 0


def test_an_account_registered_after_the_close_is_left_out_of_the_daily_balance_until_its_first_close(
    db, tmp_path
):
    call_command("seed_demo", verbosity=0)
    world = World(tmp_path)  # the CSD keeps DEMARUMM-CLIENT and its holdings from the start
    client = SecuritiesAccount.objects.get(csd__code="NSD", number="DEMARUMM-CLIENT")
    registered = {f: getattr(client, f) for f in ("csd_id", "number", "kind", "participant_id")}
    Holding.objects.filter(account=client).delete()
    client.delete()  # the hub does not know the account yet when Wednesday closes
    world.reconcile(now=EVENING_BEFORE, kind=Run.Kind.END_OF_DAY)
    SecuritiesAccount.objects.create(**registered)  # on-boarded on Thursday morning; nothing moves on it

    thursday = world.reconcile()
    assert thursday.status == "DONE", thursday.error
    assert breaks(thursday) == set() and thursday.cross_checks  # its holdings today are known: checks 2, 3
    assert (
        "NSD DEMARUMM-CLIENT: not in the baseline (registered after the close of 2026-11-25 was taken; "
        "checked from its first close)" in thursday.notes.splitlines()
    )
    world.reconcile(now=THURSDAY_EVENING, kind=Run.Kind.END_OF_DAY)
    friday = world.reconcile(now=FRIDAY_MORNING)  # from Thursday's close, which covers it
    assert breaks(friday) == set() and "DEMARUMM-CLIENT" not in friday.notes
    assert Position.objects.filter(statement__run=friday, account__number="DEMARUMM-CLIENT").exists()
    world.close()


class BondInUnits(LedgerAdapter):
    """NSD states its bond, which the registry counts in face amount, in units on DEMARUMM-OWN's statements."""

    def holdings(self, *, account, as_of):
        stated = super().holdings(account=account, as_of=as_of)
        if account != "DEMARUMM-OWN":
            return stated
        lines = tuple(replace(p, face_amount=False) if p.isin == BOND else p for p in stated.positions)
        return replace(stated, positions=lines)


def test_a_quantity_of_another_kind_than_the_registrys_is_a_gap_never_compared(world):
    assert Security.objects.get(isin=BOND).denomination == "FAMT"
    world.adapters["NSD"] = BondInUnits(ledger=world.ledgers["NSD"], csd="NSD")
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert breaks(run) == set()
    gap = Gap.objects.get(statement__run=run)
    assert (gap.account.number, gap.what) == ("DEMARUMM-OWN", "holdings")
    assert (
        f"NSD DEMARUMM-OWN: no statement of holdings ({BOND} is stated in units, but the registry counts it "
        "in face amount)" in run.notes.splitlines()
    )


def test_a_transfer_whose_run_was_claimed_before_the_pull_and_committed_after_it_is_not_expected(world):
    from hub.settlement.models import Transfer
    from hub.settlement.protocol import transfer_advance

    from .conftest import CannotCommit

    for code in ("NSD", "STRATE"):
        world.adapters[code] = CannotCommit(ledger=world.ledgers[code], csd=code)
    transfer = world.advance(world.instruct(NSD_A, STRATE_A, tx="CLAIMED"))
    assert transfer.status == "COMMITTING"  # both legs reserved, neither posted
    pulled_at = LATER_THAT_DAY
    run = run_request(csd=None, kind=Run.Kind.ON_DEMAND, requested_by="test", enqueue=False)
    pulled = [
        statements_pull(csd=csd, adapter_for=world.adapter_for, now=pulled_at, end_of_day=False)
        for csd in CSD.objects.filter(status="ACTIVE").order_by("code")
    ]
    # a protocol run claimed the transfer a second before the pull; its commit reached the CSDs after it
    for code in ("NSD", "STRATE"):
        world.adapters[code].down = False
    claimed_at = pulled_at - dt.timedelta(seconds=1)
    Transfer.objects.filter(pk=transfer.pk).update(due_at=claimed_at)
    transfer_advance(
        transfer_id=transfer.pk,
        adapter_for=world.adapter_for,
        now=claimed_at,
        clock=lambda: pulled_at + dt.timedelta(seconds=1),  # the CSDs have answered
    )
    transfer.refresh_from_db()
    assert transfer.status == "SETTLED"
    run = run_check(run=run, pulled=pulled, now=pulled_at)
    assert run.status == "DONE" and breaks(run) == set()


def test_a_run_whose_baseline_covers_none_of_a_csds_accounts_is_not_complete(world):
    # a close stored before closes recorded the accounts they covered, and not taken to cover any
    covered = Statement.covered_accounts.through.objects.filter(statement__csd__code="NSD")
    assert covered.delete()[0] > 0
    run = world.reconcile()
    assert run.status == "DONE", run.error
    assert breaks(run) == set() and not run.cross_checks
    notes = run.notes.splitlines()
    assert notes[0] == (
        "NSD: none of its accounts is in its baseline (the close of 2026-11-25): check 1 not made there"
    )
    assert "NSD: check 1 not made for its issuance account ISSUANCE (not in the baseline)" in notes
    assert "NSD: check 1 not made for its omnibus account OMNIBUS-STRATE (not in the baseline)" in notes


def test_a_csds_own_account_registered_after_the_close_leaves_the_run_incomplete_until_its_first_close(world):
    nsd = CSD.objects.get(code="NSD")
    issuance = SecuritiesAccount.objects.get(csd=nsd, number="ISSUANCE")
    Statement.covered_accounts.through.objects.filter(securitiesaccount=issuance).delete()
    run = world.reconcile()
    assert not run.cross_checks
    assert run.notes.splitlines()[0] == (
        "NSD: check 1 not made for its issuance account ISSUANCE (not in the baseline)"
    )
    world.reconcile(now=THURSDAY_EVENING, kind=Run.Kind.END_OF_DAY)
    friday = world.reconcile(now=FRIDAY_MORNING)
    assert friday.cross_checks and friday.notes == ""
