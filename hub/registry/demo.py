"""The demo world: five CSDs of Russia, Africa, the Middle East and Central Asia, linked in several
directions, with participants, securities and opening positions that satisfy invariants 1-3.

NSD (NADCRUMM) and Strate (STRAZAJJ) carry their real BICs. Every other identifier (the other CSDs'
BICs, every participant BIC and LEI, every ISIN) is invented for the demo and marked ``is_demo``; the
ISINs and LEIs still carry correct check digits.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from stdnum import isin as stdnum_isin
from stdnum.iso7064 import mod_97_10

from hub.registry.models import (
    CSD,
    AccountKind,
    CSDLink,
    Denomination,
    Holding,
    MessageStandard,
    Participant,
    SecuritiesAccount,
    Security,
)
from hub.registry.services import csd_link_activate, reference_row_ensure

OPENING = dt.datetime(2026, 1, 2, 0, 0, tzinfo=dt.UTC)

# code, name, country, BIC, time zone, standard, cut-off (local), real identifiers?
CSDS = [
    ("NSD", "National Settlement Depository", "RU", "NADCRUMM", "Europe/Moscow", "MX", "18:00", True),
    ("STRATE", "Strate", "ZA", "STRAZAJJ", "Africa/Johannesburg", "MT", "16:00", True),
    (
        "CSCS",
        "Central Securities Clearing System (demo)",
        "NG",
        "CSCSNGLA",
        "Africa/Lagos",
        "MT",
        "15:00",
        False,
    ),
    (
        "MCDR",
        "Misr for Central Clearing, Depository and Registry (demo)",
        "EG",
        "MCDREGCA",
        "Africa/Cairo",
        "MX",
        "14:30",
        False,
    ),
    (
        "KACD",
        "Central Securities Depository of Kazakhstan (demo)",
        "KZ",
        "KACDKZKA",
        "Asia/Almaty",
        "MX",
        "17:00",
        False,
    ),
]
ADAPTERS = {MessageStandard.MX: "iso20022_mx", MessageStandard.MT: "iso15022_mt"}

# Investor CSD holds through issuer CSD: (investor, issuer). Several directions, so all three leg cases
# (issuer to investor, investor to issuer, and realignment through a third CSD) can be shown.
LINKS = [
    ("STRATE", "NSD"),
    ("KACD", "NSD"),
    ("MCDR", "NSD"),
    ("NSD", "STRATE"),
    ("CSCS", "STRATE"),
    ("MCDR", "STRATE"),
    ("NSD", "KACD"),
    ("STRATE", "CSCS"),
    ("STRATE", "MCDR"),
]

# Per issuer CSD: (suffix, description, denomination, currency). ISINs are built from the country code.
SECURITIES = {
    "NSD": [
        ("01", "Demo Energy ord. shares", "UNIT", ""),
        ("02", "Demo Russia OFZ 2031 bond", "FAMT", "RUB"),
    ],
    "STRATE": [
        ("01", "Demo Mining ord. shares", "UNIT", ""),
        ("02", "Demo SA Government 2030 bond", "FAMT", "ZAR"),
    ],
    "CSCS": [("01", "Demo Lagos Bank ord. shares", "UNIT", "")],
    "MCDR": [("01", "Demo Nile Telecom ord. shares", "UNIT", "")],
    "KACD": [("01", "Demo Steppe Oil ord. shares", "UNIT", "")],
}

PARTICIPANTS_PER_CSD = ("A", "B")
# Opening position of each participant account in each security it holds, before multiplying.
LOT = Decimal(100_000)


@dataclass(frozen=True)
class SeedReport:
    created: dict[str, int]
    present: dict[str, int]

    def __str__(self) -> str:
        parts = [
            f"{name}: {self.created[name]} created, {self.present[name]} already there"
            for name in self.created
        ]
        return "; ".join(parts)


def demo_isin(country: str, suffix: str) -> str:
    body = f"{country}000DEMO{suffix}"
    return body + stdnum_isin.calc_check_digit(body)


def demo_lei(csd_code: str, letter: str) -> str:
    body = f"DEMO{csd_code[:4]:0<4}{letter}".ljust(18, "0")
    return body + mod_97_10.calc_check_digits(body)  # ISO 17442 check digits


def demo_participant_bic(csd_bic: str, letter: str) -> str:
    return f"DEM{letter}{csd_bic[4:8]}"


class _Seeder:
    def __init__(self) -> None:
        self.created: dict[str, int] = {}
        self.present: dict[str, int] = {}

    def ensure(self, model, lookup: dict, values: dict | None = None):
        return self.ensure_created(model, lookup, values)[0]

    def ensure_created(self, model, lookup: dict, values: dict | None = None) -> tuple:
        row, created = reference_row_ensure(model=model, lookup=lookup, values=values or {})
        name = model._meta.verbose_name_plural
        self.created.setdefault(name, 0)
        self.present.setdefault(name, 0)
        (self.created if created else self.present)[name] += 1
        return row, created


def _accounts_and_positions(
    seed: _Seeder,
    csds: dict[str, CSD],
    links: dict[tuple[str, str], CSDLink],
    participants: dict[str, list[Participant]],
    securities: list[Security],
) -> None:
    """Accounts and opening positions of the demo's own participants and securities only: a participant or
    a security an operator added at a demo CSD is not the demo's to give positions to (a second run would
    otherwise open positions for it that no omnibus or issuance account accounts for)."""
    participant_accounts: dict[str, list[SecuritiesAccount]] = {}
    for code, csd in csds.items():
        seed.ensure(SecuritiesAccount, {"csd": csd, "number": "ISSUANCE"}, {"kind": AccountKind.ISSUANCE})
        accounts = []
        for participant in sorted(participants[code], key=lambda p: p.bic):
            for kind in (AccountKind.OWN, AccountKind.CLIENT):
                accounts.append(
                    seed.ensure(
                        SecuritiesAccount,
                        {"csd": csd, "number": f"{participant.bic}-{kind}"},
                        {"kind": kind, "participant": participant},
                    )
                )
        participant_accounts[code] = accounts
    for (investor, issuer), link in links.items():
        seed.ensure(
            SecuritiesAccount,
            {"csd": csds[issuer], "number": f"OMNIBUS-{investor}"},
            {"kind": AccountKind.OMNIBUS, "link": link},
        )
        seed.ensure(
            SecuritiesAccount,
            {"csd": csds[investor], "number": f"MIRROR-{issuer}"},
            {"kind": AccountKind.MIRROR, "link": link},
        )

    # Each security: every participant account at the issuer and at each investor CSD holds a lot; the
    # investor CSD's total sits in its omnibus at the issuer and, as contra, in its mirror; the issuance
    # account carries minus everything issued.
    for security in securities:
        issuer = security.issuer_csd.code
        lot = LOT * (10 if security.denomination == Denomination.FACE_AMOUNT else 1)
        positions: list[tuple[SecuritiesAccount, Decimal]] = [(a, lot) for a in participant_accounts[issuer]]
        for (investor, link_issuer), link in links.items():
            if link_issuer != issuer:
                continue
            held = lot * len(participant_accounts[investor])
            positions += [(a, lot) for a in participant_accounts[investor]]
            positions.append((SecuritiesAccount.objects.get(link=link, kind=AccountKind.OMNIBUS), held))
            positions.append((SecuritiesAccount.objects.get(link=link, kind=AccountKind.MIRROR), -held))
        issued = sum(q for a, q in positions if a.csd_id == security.issuer_csd_id)
        positions.append(
            (SecuritiesAccount.objects.get(csd=security.issuer_csd, kind=AccountKind.ISSUANCE), -issued)
        )
        for account, quantity in positions:
            seed.ensure(
                Holding, {"account": account, "security": security}, {"quantity": quantity, "as_of": OPENING}
            )


@transaction.atomic
def demo_seed() -> SeedReport:
    """Create the demo world; rows already there are left as they are, so a second run changes nothing."""
    seed = _Seeder()
    csds: dict[str, CSD] = {}
    participants: dict[str, list[Participant]] = {}
    securities: list[Security] = []
    for code, name, country, bic, tz, standard, cutoff, real in CSDS:
        csds[code] = seed.ensure(
            CSD,
            {"code": code},
            {
                "name": name,
                "country": country,
                "bic": bic,
                "timezone": tz,
                "calendar": country,
                "settlement_cutoff": dt.time.fromisoformat(cutoff),
                "message_standard": standard,
                "adapter": ADAPTERS[standard],
                "is_demo": not real,
            },
        )
    for csd in csds.values():
        participants[csd.code] = []
        for letter in PARTICIPANTS_PER_CSD:
            participants[csd.code].append(
                seed.ensure(
                    Participant,
                    {"bic": demo_participant_bic(csd.bic, letter)},
                    {
                        "lei": demo_lei(csd.code, letter),
                        "name": f"Demo Broker {letter} ({csd.code})",
                        "home_csd": csd,
                        "outbound_format": csd.message_standard,
                        "is_demo": True,
                    },
                )
            )
        for suffix, description, denomination, currency in SECURITIES[csd.code]:
            securities.append(
                seed.ensure(
                    Security,
                    {"isin": demo_isin(csd.country, suffix)},
                    {
                        "issuer_csd": csd,
                        "description": description,
                        "denomination": denomination,
                        "currency": currency,
                    },
                )
            )
    links: dict[tuple[str, str], CSDLink] = {}
    new_links = []
    for investor, issuer in LINKS:
        # a new link is opened to settlement once it has its omnibus and mirror accounts
        link, created = seed.ensure_created(
            CSDLink, {"investor_csd": csds[investor], "issuer_csd": csds[issuer]}, {"is_active": False}
        )
        links[(investor, issuer)] = link
        if created:
            new_links.append(link)
    _accounts_and_positions(seed, csds, links, participants, securities)
    for link in new_links:
        csd_link_activate(link=link)
    return SeedReport(created=seed.created, present=seed.present)
