"""Command line of the reference CSD.

    python -m csd_adapters.reference_csd serve --csd NSD --port 9101 [--database URL] [--seed FILE]
    python -m csd_adapters.reference_csd seed --csd NSD --positions FILE [--database URL]
    python -m csd_adapters.reference_csd key --csd NSD [--database URL]

The database defaults to ``var/reference_csd/<csd>.sqlite3``; ``--database postgres://...`` uses a
PostgreSQL database instead (one per CSD, never the hub's). The seed file is JSON::

    {"opening_date": "2026-01-02",
     "securities": [{"isin": "RU000DEMO019", "face_amount": false}],
     "accounts": [{"number": "ISSUANCE", "kind": "ISSUANCE"}, {"number": "DEMANADC-OWN", "kind": "OWN"}],
     "positions": [{"account": "ISSUANCE", "isin": "RU000DEMO019", "quantity": "-100000"},
                   {"account": "DEMANADC-OWN", "isin": "RU000DEMO019", "quantity": "100000"}]}

Account kinds: ISSUANCE and MIRROR (contra accounts, may go negative), OMNIBUS, OWN, CLIENT. The positions
of each security must sum to zero. ``opening_date`` (optional, default today in the CSD's time zone) is
the settlement date of the opening postings. Seeding an empty ledger books them; seeding again with the same file
does nothing; a different file is refused.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from pathlib import Path

from csd_adapters.profiles import PROFILES, profile_for


def default_database(csd: str) -> str:
    root = Path(os.environ.get("REFERENCE_CSD_DIR", "var/reference_csd"))
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(root / f'{csd.lower()}.sqlite3').resolve()}"


def _loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m csd_adapters.reference_csd",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A reference CSD: a book-entry securities ledger speaking "
        "ISO 20022 MX or ISO 15022 MT over HTTP.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--csd",
            required=True,
            type=str.upper,
            choices=sorted(PROFILES),
            help="which CSD's profile (standard, BIC, time zone) to take",
        )
        sub.add_argument(
            "--database",
            help="database URL: sqlite:///file or postgres://... (default: var/reference_csd/<csd>.sqlite3)",
        )

    serve = commands.add_parser("serve", help="serve the CSD over HTTP")
    common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9101)
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument("--seed", type=Path, help="seed file (JSON) to book before serving")
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("REFERENCE_CSD_ADMIN_TOKEN"),
        help="token required on /admin/* (default: $REFERENCE_CSD_ADMIN_TOKEN; none: open, which only a "
        "loopback --host allows)",
    )
    seed = commands.add_parser("seed", help="book opening positions from a JSON file")
    common(seed)
    seed.add_argument("--positions", type=Path, required=True)
    key = commands.add_parser("key", help="print the CSD's Ed25519 public key and key id")
    common(key)
    return parser


def main(argv: list[str] | None = None) -> int:
    from csd_adapters.reference_csd.ledger import Ledger, SeedError

    args = _parser().parse_args(argv)
    profile = profile_for(args.csd)
    url = args.database or default_database(profile.code)
    if args.command == "serve" and not args.admin_token and not _loopback(args.host):
        # the admin endpoints seed books, issue securities, inject faults and release endorsements: open
        # only to this machine's own processes
        print(
            f"{profile.code}: serving on {args.host} needs an admin token (--admin-token or "
            "REFERENCE_CSD_ADMIN_TOKEN): without one, /admin/* would be open to the network",
            file=sys.stderr,
        )
        return 2
    if args.command in ("seed", "key") or args.seed:
        ledger = Ledger(url, timezone=profile.timezone)
        try:
            if args.command == "key":
                print(
                    json.dumps(
                        {"csd": profile.code, "public_key": ledger.public_key.hex(), "key_id": ledger.key_id}
                    )
                )
                return 0
            seed_file = args.positions if args.command == "seed" else args.seed
            try:
                print(f"{profile.code}: {ledger.seed(json.loads(seed_file.read_text()))}")
            except (SeedError, ValueError, KeyError) as exc:
                print(f"{profile.code}: cannot seed from {seed_file}: {exc}", file=sys.stderr)
                return 2
        finally:
            ledger.close()
        if args.command == "seed":
            return 0

    from csd_adapters.reference_csd.server import ReferenceCsdServer
    from csd_adapters.reference_csd.service import ReferenceCsd

    def build() -> ReferenceCsd:
        return ReferenceCsd(profile, Ledger(url, timezone=profile.timezone), admin_token=args.admin_token)

    print(
        f"{profile.code} reference CSD ({profile.standard.value}, {profile.bic}) on "
        f"http://{args.host}:{args.port}",
        flush=True,
    )
    ReferenceCsdServer(build, host=args.host, port=args.port, threads=args.threads).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
