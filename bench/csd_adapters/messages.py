"""Microseconds per leg message, each side of the wire, printed as one JSON line.

For each standard (MX with NSD's profile, MT with Strate's), one leg's messages are built, read and
answered exactly as the adapters and the reference CSD do, without HTTP or a ledger:

- ``hub_encode``: the adapter writes the request (semt.013 / MT524 to prepare; sese.023 / MT540 and
  MT542 to commit);
- ``csd_read``: the reference CSD's dialect reads it (hardened parse and full validation);
- ``csd_write``: the dialect writes the reply (semt.015 / MT508, sese.025 / MT548 + MT546, and a refusal:
  semt.014 / MT508 status);
- ``hub_decode``: the adapter reads the reply.

``leg_round_trip_us`` sums them for one prepare and one commit, and ``leg_round_trips_per_s`` is one
core's throughput at that cost. Figures are CPU time, the best of ``--repeat`` runs of ``--count`` messages
each. Baselines in the same run, on the same requests: ``floor_syntax_read_us``, the syntax layer alone
(a bare ``etree.fromstring`` for MX, ``parse_fin`` for MT: no validation, no model), what no reader can
beat; and for MX ``baseline_lxml_build_us``, the request written as an lxml tree by ``Writer`` and
serialised by ``etree.tostring``, as the hub wrote before its text writer. ``max_rss_kib``: this process's
peak resident set. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from csd_adapters.base import Leg  # noqa: E402
from csd_adapters.profiles import Standard, profile_for  # noqa: E402
from csd_adapters.reference_csd.dialects import dialect_for  # noqa: E402
from csd_adapters.registry import adapter_for  # noqa: E402
from iso20022 import models as m  # noqa: E402
from iso20022 import mx  # noqa: E402
from iso20022.mt import parse_fin  # noqa: E402
from iso20022.mx import codec, head, registry  # noqa: E402
from iso20022.mx.xmltree import Writer  # noqa: E402

ISIN = "XS000BENCH03"


class _NoTransport:
    def request(self, *args, **kwargs):  # pragma: no cover - never called
        raise AssertionError("no transport in this benchmark")


def _leg(n: int) -> Leg:
    return Leg(
        leg_id=f"BM{n:08d}",
        csd="?",
        isin=ISIN,
        quantity=Decimal(100 + n),
        debit_account="BENCH-A-OWN",
        credit_account="BENCH-B-OWN",
        intended_settlement_date=dt.date(2026, 11, 24),
        transfer_reference=f"T{n}",
    )


def _requests(adapter, leg: Leg) -> dict[str, m.Message]:
    prepare = next(adapter._prepare_steps(leg))
    commit = adapter._commit_steps(leg)
    first = next(commit)
    out = {"prepare": prepare, "commit": first}
    if len(adapter.commit_sides) > 1:
        second = commit.send([_unmatched(first)])
        out["commit_second"] = second
    return out


def _unmatched(instruction: m.SettlementInstruction) -> m.StatusAdvice:
    return m.StatusAdvice(
        transaction_id=instruction.transaction_id,
        processing=m.ProcessingStatus(code=m.ProcessingStatusCode.ACCEPTED),
        matching=m.MatchingStatus(
            code=m.MatchingStatusCode.UNMATCHED, reasons=(m.Reason(code="CMIS", narrative="awaiting"),)
        ),
    )


def _replies(request: m.Message) -> list[m.Message]:
    if isinstance(request, m.IntraPositionMovement):
        return [
            m.IntraPositionConfirmation(
                transaction_id=request.transaction_id,
                account_servicer_transaction_id="R12345",
                security=request.security,
                settled_quantity=request.quantity,
                settlement_date=request.settlement_date,
                from_balance=request.from_balance,
                to_balance=request.to_balance,
                safekeeping_account=request.safekeeping_account,
                account_owner_bic=request.account_owner_bic,
            ),
            m.IntraPositionStatus(
                transaction_id=request.transaction_id,
                settlement=m.SettlementStatus(
                    code=m.SettlementStatusCode.PENDING,
                    reasons=(m.Reason(code="LACK", narrative="account holds less than 100"),),
                ),
            ),
        ]
    return [
        m.SettlementConfirmation(
            transaction_id=request.transaction_id,
            account_servicer_transaction_id="P12345",
            side=request.side,
            payment=request.payment,
            effective_settlement_date=request.intended_settlement_date,
            security=request.security,
            settled_quantity=request.quantity,
            trade_date=request.trade_date,
            safekeeping_account=request.safekeeping_account,
            account_owner_bic=request.account_owner_bic,
            counterparty=request.counterparty,
            transaction_type=request.transaction_type,
            common_trade_reference=request.common_trade_reference,
        ),
        _unmatched(request),
    ]


def _without_message_id(body: m.Message) -> m.Message:
    """The body as the hub built it: MX reading fills in the header's business message id."""
    if getattr(body, "business_message_id", None) is None:
        return body
    return replace(body, business_message_id=None)


def _lxml_build(body: m.Message, header: m.BusinessHeader) -> bytes:
    """The baseline writer: the message as lxml elements made by ``Writer``, serialised by lxml."""
    envelope = etree.Element(codec._ENVELOPE_TAG, nsmap={None: mx.ENVELOPE_NAMESPACE})
    envelope.append(head.build(Writer(registry.HEADER_VERSIONS[0].namespace), header))
    envelope.append(codec.build_document(body))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _time(work: Callable[[int], object], count: int, repeat: int) -> float:
    """The least CPU time (µs) per call of ``work(n)`` for n in range(count), over ``repeat`` runs: CPU
    time and the best run, as other processes share the machine."""
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        for n in range(count):
            work(n)
        runs.append((time.process_time() - started) * 1e6 / count)
    return round(min(runs), 1)


def measure(code: str, count: int, repeat: int) -> dict:
    profile = profile_for(code)
    adapter = adapter_for(profile.adapter, profile=profile, transport=_NoTransport())
    dialect = dialect_for(profile.standard, profile.bic)
    legs = [_leg(n) for n in range(count)]
    requests = [_requests(adapter, leg) for leg in legs]
    floor_read = etree.fromstring if profile.standard is Standard.MX else parse_fin
    figures: dict = {}
    total = 0.0
    for kind in requests[0]:
        bodies = [r[kind] for r in requests]
        encoded = [adapter.encode(b) for b in bodies]
        read = [dialect.read(e) for e in encoded]
        assert [_without_message_id(r[0]) for r in read] == bodies
        replies = [_replies(b) for b in bodies]
        row = {
            "hub_encode": _time(lambda n, bodies=bodies: adapter.encode(bodies[n]), count, repeat),
            "csd_read": _time(lambda n, encoded=encoded: dialect.read(encoded[n]), count, repeat),
            "floor_syntax_read_us": _time(lambda n, encoded=encoded: floor_read(encoded[n]), count, repeat),
        }
        if profile.standard is Standard.MX:
            headers = [mx.parse(e).header for e in encoded]  # as adapter.encode made them
            assert _lxml_build(bodies[0], headers[0]) == encoded[0]
            row["baseline_lxml_build_us"] = _time(
                lambda n, bodies=bodies, headers=headers: _lxml_build(bodies[n], headers[n]), count, repeat
            )
        for index, name in enumerate(("ok", "refused")):
            answers = [r[index] for r in replies]
            written = [dialect.write(a, to_bic=adapter.hub_bic, related="X1") for a in answers]
            assert [adapter.decode(w) for w in written] == answers
            row[f"csd_write_{name}"] = _time(
                lambda n, answers=answers: dialect.write(answers[n], to_bic=adapter.hub_bic, related="X1"),
                count,
                repeat,
            )
            row[f"hub_decode_{name}"] = _time(
                lambda n, written=written: adapter.decode(written[n]), count, repeat
            )
        figures[kind] = row
        total += row["hub_encode"] + row["csd_read"] + row["csd_write_ok"] + row["hub_decode_ok"]
    figures["leg_round_trip_us"] = round(total, 1)
    figures["leg_round_trips_per_s"] = round(1e6 / total, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {
        "bench": "csd_adapters.messages",
        "unit": "us_per_message",
        "baseline": "the syntax layer alone (floor_syntax_read_us); MX: lxml Writer tree + etree.tostring",
    }
    for code in ("NSD", "STRATE"):
        results[f"{profile_for(code).adapter}_{code}"] = measure(code, args.count, args.repeat)
    results["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
