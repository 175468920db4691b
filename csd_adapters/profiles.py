"""How each demo CSD is reached: its message standard, BIC, time zone and settlement cut-off.

The same five CSDs as the hub's demo registry (``hub/registry/demo.py``). NSD and Strate carry their real
BICs; the other BICs are invented for the demo. A profile is data: the adapter registry turns its
``adapter`` name into the class that speaks ``standard``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo


class Standard(StrEnum):
    MX = "MX"  # ISO 20022
    MT = "MT"  # ISO 15022


@dataclass(frozen=True, slots=True, kw_only=True)
class CsdProfile:
    code: str
    bic: str
    standard: Standard
    timezone: str
    cutoff: dt.time
    is_demo: bool = True

    @property
    def adapter(self) -> str:
        return "iso20022_mx" if self.standard is Standard.MX else "iso15022_mt"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def business_date(self, now: dt.datetime | None = None) -> dt.date:
        """Today in the CSD's own time zone."""
        return (now or dt.datetime.now(dt.UTC)).astimezone(self.zone).date()

    def with_bic(self, bic: str) -> CsdProfile:
        return CsdProfile(
            code=self.code,
            bic=bic,
            standard=self.standard,
            timezone=self.timezone,
            cutoff=self.cutoff,
            is_demo=self.is_demo,
        )


PROFILES: dict[str, CsdProfile] = {
    p.code: p
    for p in (
        CsdProfile(
            code="NSD",
            bic="NADCRUMM",
            standard=Standard.MX,
            timezone="Europe/Moscow",
            cutoff=dt.time(18, 0),
            is_demo=False,
        ),
        CsdProfile(
            code="STRATE",
            bic="STRAZAJJ",
            standard=Standard.MT,
            timezone="Africa/Johannesburg",
            cutoff=dt.time(16, 0),
            is_demo=False,
        ),
        CsdProfile(
            code="CSCS", bic="CSCSNGLA", standard=Standard.MT, timezone="Africa/Lagos", cutoff=dt.time(15, 0)
        ),
        CsdProfile(
            code="MCDR", bic="MCDREGCA", standard=Standard.MX, timezone="Africa/Cairo", cutoff=dt.time(14, 30)
        ),
        CsdProfile(
            code="KACD", bic="KACDKZKA", standard=Standard.MX, timezone="Asia/Almaty", cutoff=dt.time(17, 0)
        ),
    )
}


def profile_for(code: str) -> CsdProfile:
    try:
        return PROFILES[code.upper()]
    except KeyError:
        raise KeyError(f"no CSD profile {code!r}; known: {', '.join(PROFILES)}") from None
