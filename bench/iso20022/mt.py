"""MT (ISO 15022 FIN) parse throughput: the hub's parser against an independent one, same messages.

Run: ``.venv/bin/python bench/iso20022/mt.py [--seconds 3]``. Prints ONE JSON line. Asserts nothing
about time.

What is measured, one process, one core:

- ``hub``: ``iso20022.mt.parse_mt``: FIN envelope, block 4 tree, every field typed (dates, ``Decimal``
  quantities), mandatory content checked, and the shared model built (``SettlementInstruction`` ...).
- ``hub_syntax_only``: ``iso20022.mt.parse_fin``, the syntax layer alone (envelope, tree, typed fields),
  the closest like-for-like with the baseline.
- ``baseline``: ``swift-parser-py`` (PyPI, MIT, "parser for ISO 15022 messages"), ``SwiftParser().process``
  on the same text: blocks and a flat field list with per-field regexps. It is the only installable
  Python package found that claims ISO 15022 / MT5xx support (the others handle MT103/MT940 only). It
  builds no sequence tree and no model, and its regexps do not accept the ``::QUAL//`` qualified fields of
  MT54x (it reports them as field errors instead of values): ``baseline_unparsed_field_share`` says how
  many fields it left unparsed, so its speed is read with that in mind. It runs each message in a
  thread (its own timeout guard), which is part of its public API cost.

The corpus: one message of each type the hub reads (MT540-548, MT524, MT508, MT535, MT536) built from
models, cycled; the 40 KB MT537 sample from the reference corpus is timed on its own (``mt537_large``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._support import percentile  # noqa: E402
from iso20022 import models as m  # noqa: E402
from iso20022.mt import build_mt, parse_fin, parse_mt  # noqa: E402
from iso20022.mt.fields import _typed as typed_fields  # noqa: E402

SECURITY = m.Security(isin="RU0007661625", description="GAZPROM ORD SHS")
COUNTERPARTY = m.Counterparty(bic="STRAZAJJ", csd_bic="STRAZAJJXXX", safekeeping_account="ZA-77")


def corpus() -> list[str]:
    day = date(2026, 11, 24)
    qty = m.Quantity(amount=Decimal(1500))
    amount = m.Amount(value=Decimal("245000.50"), currency="RUB")
    models: list[object] = []
    for side in m.Side:
        for payment in m.Payment:
            ap = payment is m.Payment.AGAINST_PAYMENT
            models.append(
                m.SettlementInstruction(
                    transaction_id="DVP-2026-0001",
                    side=side,
                    payment=payment,
                    trade_date=day,
                    intended_settlement_date=day,
                    security=SECURITY,
                    quantity=qty,
                    safekeeping_account="MS001",
                    account_owner_bic="BANKRUMMXXX",
                    counterparty=COUNTERPARTY,
                    settlement_amount=amount if ap else None,
                )
            )
            models.append(
                m.SettlementConfirmation(
                    transaction_id="DVP-2026-0001",
                    side=side,
                    payment=payment,
                    effective_settlement_date=day,
                    security=SECURITY,
                    settled_quantity=qty,
                    safekeeping_account="MS001",
                    account_owner_bic="BANKRUMMXXX",
                    counterparty=COUNTERPARTY,
                    account_servicer_transaction_id="HUB-1",
                    settled_amount=amount if ap else None,
                )
            )
    models.append(
        m.StatusAdvice(
            transaction_id="DVP-2026-0001",
            processing=m.ProcessingStatus(
                code=m.ProcessingStatusCode.REJECTED,
                reasons=(m.Reason(code="SAFE", narrative="UNKNOWN ACCOUNT"),),
            ),
        )
    )
    models.append(
        m.IntraPositionMovement(
            transaction_id="RSV-1",
            security=SECURITY,
            quantity=qty,
            settlement_date=day,
            from_balance=m.SubBalance.AVAILABLE,
            to_balance=m.SubBalance.BLOCKED,
            safekeeping_account="MS001",
        )
    )
    models.append(
        m.IntraPositionConfirmation(
            transaction_id="RSV-1",
            security=SECURITY,
            settled_quantity=qty,
            settlement_date=day,
            from_balance=m.SubBalance.AVAILABLE,
            to_balance=m.SubBalance.BLOCKED,
            safekeeping_account="MS001",
        )
    )
    models.append(
        m.HoldingsStatement(
            statement_date=day,
            safekeeping_account="MS001",
            balances=tuple(
                m.HoldingBalance(security=SECURITY, aggregate=Decimal(n * 100), available=Decimal(n * 100))
                for n in range(1, 11)
            ),
        )
    )
    models.append(
        m.TransactionsStatement(
            period_start=day,
            period_end=day,
            safekeeping_account="MS001",
            movements=tuple(
                m.StatementMovement(
                    security=SECURITY,
                    transaction_id=f"REF-{n}",
                    quantity=qty,
                    credit_debit=m.CreditDebit.CREDIT,
                    settlement_date=day,
                )
                for n in range(10)
            ),
        )
    )
    return [build_mt(model) for model in models]


def measure(parse, messages: list[str], seconds: float, *, warm: bool = False) -> dict[str, float]:
    """Messages parsed a second, and latencies. The corpus repeats, so the hub's cache of typed fields
    (``iso20022.mt.fields._typed``) is emptied before each message unless ``warm``: every field is typed
    as if the parser had never seen it; time spent emptying it is left out."""
    latencies: list[float] = []
    count = 0
    clock = time.perf_counter
    deadline = clock() + seconds
    while clock() < deadline:
        for text in messages:
            if not warm:
                typed_fields.cache_clear()
            t0 = clock()
            parse(text)
            latencies.append(clock() - t0)
        count += len(messages)
    elapsed = sum(latencies)  # the time spent parsing
    latencies.sort()
    return {
        "messages_per_s": round(count / elapsed, 1),
        "p50_us": round(statistics.median(latencies) * 1e6, 1),
        "p99_us": round(percentile(latencies, 0.99) * 1e6, 1),
        "messages": count,
    }


def peak_kib(parse, messages: list[str]) -> float:
    tracemalloc.start()
    for text in messages:
        parse(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 1024, 1)


def baseline_parser():
    try:
        from swift_parser_py import SwiftParser
    except ImportError:
        return None, None
    from importlib.metadata import version

    return SwiftParser(), version("swift-parser-py")


def unparsed_share(parser, messages: list[str]) -> float:
    fields = errors = 0
    for text in messages:
        for item in parser.process(text)["block4"]["fields"]:
            fields += 1
            errors += isinstance(item.get("ast"), dict) and "error" in item["ast"]
    return round(errors / fields, 3) if fields else 0.0


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    args = options.parse_args()
    messages = corpus()
    sample_path = Path(os.environ.get("ISO20022_REFERENCE", ROOT.parent / "shared" / "iso20022-reference"))
    sample_file = sample_path / "mt" / "MT537_large_prowide-examples.fin"
    sample = [sample_file.read_text()] if sample_file.exists() else []

    result: dict[str, object] = {
        "bench": "iso20022.mt.parse",
        "python": platform.python_version(),
        "corpus": f"{len(messages)} messages, MT540-548/524/508/535/536, "
        f"{round(sum(map(len, messages)) / len(messages))} chars each on average",
        "hub": measure(parse_mt, messages, args.seconds) | {"peak_kib": peak_kib(parse_mt, messages)},
        "hub_syntax_only": measure(parse_fin, messages, args.seconds / 2),
        # each field typed once: the share of a real stream's fields that recur (codes, BICs, accounts,
        # ISINs, dates) parse this fast; references and times do not recur
        "hub_fields_seen_before": measure(parse_mt, messages, args.seconds / 2, warm=True),
    }
    parser, baseline_version = baseline_parser()
    if parser is None:
        result["baseline"] = {
            "name": "swift-parser-py",
            "status": "not installed (pip install swift-parser-py==0.5.0 --no-deps)",
        }
    else:
        base = measure(parser.process, messages, args.seconds)
        result["baseline"] = {
            "name": f"swift-parser-py {baseline_version}",
            **base,
            "peak_kib": peak_kib(parser.process, messages),
            "baseline_unparsed_field_share": unparsed_share(parser, messages),
        }
        result["hub_vs_baseline"] = round(result["hub"]["messages_per_s"] / base["messages_per_s"], 1)
    if sample:
        large = {"chars": len(sample[0]), "hub": measure(parse_mt, sample, args.seconds / 3)}
        if parser is not None:
            large["baseline"] = measure(parser.process, sample, args.seconds / 3)
        result["mt537_large"] = large
    else:
        result["mt537_large"] = {
            "status": f"no sample at {sample_file} (ISO20022_REFERENCE names the folder)"
        }
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
