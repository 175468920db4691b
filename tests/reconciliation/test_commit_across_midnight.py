"""A transfer whose commit phase crosses midnight: its leg at NSD is booked on Thursday, Strate cannot be
reached until Friday morning, when its leg is booked and the transfer settles. Each CSD's statement of
transactions shows its leg on the day it booked it, and check 4 expects each leg on that day: the date the
CSD gave in its confirmation, kept on the leg. Each participant's sese.025 / MT54x says the same date as
its own CSD's statement."""

import datetime as dt

from hub.messaging.models import OutboundMessage
from hub.reconciliation.models import Break
from hub.reconciliation.selectors import isin_suspended
from iso20022 import mx
from iso20022.mt import parse_mt
from tests.hub.settlement.messages import NSD_A, STRATE_A

from .conftest import SHARES, CannotCommit

THURSDAY_EVENING = dt.datetime(2026, 11, 26, 17, 0, tzinfo=dt.UTC)  # every CSD past its cut-off
FRIDAY_MORNING = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)
FRIDAY_NOON = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def test_each_leg_of_a_transfer_settled_across_midnight_is_expected_on_the_day_its_csd_booked_it(world):
    world.adapters["STRATE"] = strate = CannotCommit(ledger=world.ledgers["STRATE"], csd="STRATE")
    transfer = world.advance(world.instruct(NSD_A, STRATE_A, tx="MIDNIGHT"))
    assert transfer.status == "COMMITTING"
    world.reconcile(now=THURSDAY_EVENING, kind="EOD")  # Thursday's close holds NSD's leg only

    world.clock, strate.down = FRIDAY_MORNING, False
    assert world.advance(transfer, now=FRIDAY_MORNING).status == "SETTLED"
    booked = dict(transfer.legs.values_list("csd__code", "settlement_date"))
    assert booked == {"NSD": dt.date(2026, 11, 26), "STRATE": dt.date(2026, 11, 27)}

    friday = world.reconcile(now=FRIDAY_NOON)
    assert friday.status == "DONE" and friday.breaks_seen == 0, list(
        Break.objects.values_list("kind", "account")
    )
    assert not Break.objects.filter(status__in=("OPEN", "ACK")).exists()
    assert not isin_suspended(SHARES, now=TUESDAY)


def test_each_participant_is_confirmed_with_the_date_its_own_leg_was_booked_on(world):
    world.adapters["STRATE"] = strate = CannotCommit(ledger=world.ledgers["STRATE"], csd="STRATE")
    transfer = world.advance(world.instruct(NSD_A, STRATE_A, tx="TWODAYS"))
    assert transfer.status == "COMMITTING"
    world.clock, strate.down = FRIDAY_MORNING, False
    assert world.advance(transfer, now=FRIDAY_MORNING).status == "SETTLED"

    # the deliverer's leg was debited at NSD on Thursday, the receiver's credited at Strate on Friday
    settled = OutboundMessage.objects.filter(status="SETTLED")
    deliverer = settled.get(participant__bic=NSD_A[0], transaction_id="TWODAYS-D")
    receiver = settled.get(participant__bic=STRATE_A[0], transaction_id="TWODAYS-R")
    assert mx.parse(bytes(deliverer.payload)).body.effective_settlement_date == dt.date(2026, 11, 26)
    assert parse_mt(bytes(receiver.payload)).effective_settlement_date == dt.date(2026, 11, 27)
