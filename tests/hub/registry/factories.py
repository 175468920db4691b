"""Small builders of valid reference data for tests; each test changes what it is about."""

import datetime as dt

from hub.registry.models import CSD, AccountKind, CSDLink, Participant, SecuritiesAccount, Security


def csd(code: str = "NSD", **overrides) -> CSD:
    values = {
        "code": code,
        "name": f"{code} depository",
        "country": "RU",
        "bic": "NADCRUMM",
        "timezone": "Europe/Moscow",
        "calendar": "RU",
        "settlement_cutoff": dt.time(18),
        "message_standard": "MX",
        "adapter": "iso20022_mx",
    } | overrides
    return CSD(**values)


def saved_csd(code: str = "NSD", **overrides) -> CSD:
    row = csd(code, **overrides)
    row.full_clean()
    row.save()
    return row


def two_linked_csds() -> tuple[CSD, CSD, CSDLink]:
    """NSD and Strate, and Strate's link through NSD, inactive: it is activated (``csd_link_activate``) once
    a test has given it its omnibus and mirror accounts, as the database requires."""
    issuer = saved_csd("NSD")
    investor = saved_csd(
        "STRATE",
        bic="STRAZAJJ",
        country="ZA",
        timezone="Africa/Johannesburg",
        calendar="ZA",
        message_standard="MT",
        adapter="iso15022_mt",
    )
    link = CSDLink.objects.create(issuer_csd=issuer, investor_csd=investor, is_active=False)
    return issuer, investor, link


def participant(home: CSD, bic: str = "DEMARUMM") -> Participant:
    return Participant.objects.create(bic=bic, name="Demo broker", home_csd=home)


def security(issuer: CSD, isin: str = "RU0009029540") -> Security:
    return Security.objects.create(isin=isin, issuer_csd=issuer, description="Demo shares")


def account(at: CSD, number: str, kind: str = AccountKind.OWN, **relations) -> SecuritiesAccount:
    return SecuritiesAccount.objects.create(csd=at, number=number, kind=kind, **relations)
