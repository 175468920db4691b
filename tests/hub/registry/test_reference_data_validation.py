"""Invalid reference data is refused twice: by model validation, with a message a person can act on, and
by the database itself when the ORM's validation is bypassed."""

import datetime as dt
import importlib
import re
import string
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InternalError, connection, transaction
from stdnum import isin as stdnum_isin

from hub.registry import dbfunctions
from hub.registry.dbfunctions import ISIN_FUNCTION, TIMEZONE_FUNCTION
from hub.registry.models import CSD, AccountKind, CSDLink, Holding, Participant, SecuritiesAccount, Security
from hub.registry.services import csd_link_activate
from hub.registry.validators import iana_timezones, isin_is_valid, timezone_is_valid, validate_isin
from iso20022.identifiers import isin_check_digit

from .factories import account, csd, participant, saved_csd, security, two_linked_csds

pytestmark = pytest.mark.django_db

DATABASE_REFUSAL = (IntegrityError, InternalError)


def refused_by_database(write) -> str:
    with pytest.raises(DATABASE_REFUSAL) as caught, transaction.atomic():
        write()
    return str(caught.value)


def test_a_valid_csd_passes_validation():
    csd().full_clean()


def test_isin_with_a_wrong_check_digit_is_refused_by_validation_and_by_the_database():
    issuer = saved_csd()
    bad = Security(isin="RU0009029541", issuer_csd=issuer, description="x")
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "not a valid ISIN" in str(caught.value.message_dict["isin"])
    assert "security_isin_check_digit" in refused_by_database(
        lambda: Security.objects.bulk_create(
            [Security(isin="RU0009029541", issuer_csd=issuer, description="x")]
        )
    )
    assert not Security.objects.exists()


# The migration whose SQL holds the ISIN prefixes PostgreSQL's CHECK function takes: a later one that
# replaces the function with another list takes its place here.
ISIN_PREFIXES_MIGRATION = "hub.registry.migrations.0010_isin_known_prefixes"
TWO_CHARACTERS = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]


def isin_with_prefix(prefix: str, national: str = "037833100") -> str:
    """A well-formed ISIN with the right check digit: ``prefix`` before a national number (Apple's)."""
    return prefix + national + isin_check_digit(prefix + national)


def stdnum_isin_prefixes() -> list[str]:
    """The prefixes python-stdnum takes, found through its public ``is_valid`` (its list is private)."""
    return [prefix for prefix in TWO_CHARACTERS if stdnum_isin.is_valid(isin_with_prefix(prefix))]


def insert_security(isin: str, issuer: CSD) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_security (isin, issuer_csd_id, description, denomination, currency)"
            " VALUES (%s, %s, 'x', 'UNIT', '')",
            [isin, issuer.pk],
        )


def test_the_isin_prefixes_written_into_the_postgresql_check_are_python_stdnums_sorted():
    sql = importlib.import_module(ISIN_PREFIXES_MIGRATION).POSTGRES_ISIN_KNOWN_PREFIXES
    written = re.findall(r"'([A-Z]{2})'", re.search(r"ARRAY\[(.*?)\]", sql, re.DOTALL).group(1))
    assert written == sorted(set(written)), f"{ISIN_PREFIXES_MIGRATION}: write the prefixes once each, sorted"
    known = stdnum_isin_prefixes()
    assert written == known, (
        f"python-stdnum takes the ISIN prefixes {sorted(set(known) - set(written))} that "
        f"{ISIN_PREFIXES_MIGRATION} leaves out and refuses {sorted(set(written) - set(known))} that it lists "
        f"(an upgrade of stdnum?): write a migration that replaces {ISIN_FUNCTION} on PostgreSQL with "
        "stdnum's list, and name it in ISIN_PREFIXES_MIGRATION"
    )


def test_the_databases_isin_check_takes_exactly_the_prefixes_python_stdnum_takes():
    taken = []
    with connection.cursor() as cursor:
        for prefix in TWO_CHARACTERS:
            cursor.execute(f"SELECT {ISIN_FUNCTION}(%s)", [isin_with_prefix(prefix)])  # noqa: S608 - a constant
            if cursor.fetchone()[0]:
                taken.append(prefix)
    assert taken == stdnum_isin_prefixes()


@pytest.mark.parametrize("prefix", ["12", "ZZ", "AA", "XX"])
def test_isin_with_an_unknown_prefix_and_a_right_check_digit_is_refused_by_the_database(prefix):
    issuer = saved_csd()
    isin = isin_with_prefix(prefix)
    with pytest.raises(ValidationError):
        validate_isin(isin)
    assert not isin_is_valid(isin)  # the CHECK constraint's function on the embedded SQLite default
    assert "security_isin_check_digit" in refused_by_database(
        lambda: Security.objects.bulk_create([Security(isin=isin, issuer_csd=issuer, description="x")])
    )
    apple = security(issuer, isin="US0378331005")
    assert "security_isin_check_digit" in refused_by_database(
        lambda: Security.objects.filter(pk=apple.pk).update(isin=isin)
    )
    assert "security_isin_check_digit" in refused_by_database(lambda: insert_security(isin, issuer))
    assert list(Security.objects.values_list("isin", flat=True)) == ["US0378331005"]


@pytest.mark.parametrize("prefix", ["XS", "EU", "QS", "DE", "ZA"])
def test_isin_with_an_isin_agency_code_or_a_country_passes_the_database_check_however_it_is_written(prefix):
    issuer = saved_csd()
    created, updated, inserted = (
        isin_with_prefix(prefix, n) for n in ("037833100", "000000001", "A1B2C3D4E")
    )
    for isin in (created, updated, inserted):
        validate_isin(isin)
    Security.objects.bulk_create([Security(isin=created, issuer_csd=issuer, description="x")])
    apple = security(issuer, isin="US0378331005")
    Security.objects.filter(pk=apple.pk).update(isin=updated)
    insert_security(inserted, issuer)
    assert set(Security.objects.values_list("isin", flat=True)) == {created, updated, inserted}


def test_a_correct_isin_passes_the_database_check():
    issuer = saved_csd()
    Security.objects.bulk_create([Security(isin="US0378331005", issuer_csd=issuer, description="Apple")])
    assert Security.objects.filter(isin="US0378331005").exists()


@pytest.mark.parametrize("bic", ["NADCRUM", "NADCZZMM", "nadcrumm", "NADCRUMM12"])
def test_bad_bic_is_refused_by_validation(bic):
    with pytest.raises(ValidationError) as caught:
        csd(bic=bic).full_clean()
    assert "bic" in caught.value.message_dict


def test_bad_bic_is_refused_by_the_database():
    assert "csd_bic_format" in refused_by_database(lambda: CSD.objects.bulk_create([csd(bic="nadc-rumm")]))


def test_unknown_timezone_is_refused_by_validation_and_by_the_database():
    with pytest.raises(ValidationError) as caught:
        csd(timezone="Europe/Atlantis").full_clean()
    assert "IANA time zone" in str(caught.value.message_dict["timezone"])
    assert "csd_timezone_iana" in refused_by_database(
        lambda: CSD.objects.bulk_create([csd(timezone="Mars/Olympus")])
    )


def test_unknown_country_currency_calendar_and_lei_are_refused():
    with pytest.raises(ValidationError) as caught:
        csd(country="XX", calendar="XX").full_clean()
    assert {"country", "calendar"} <= set(caught.value.message_dict)
    issuer = saved_csd()
    with pytest.raises(ValidationError) as caught:
        Security(
            isin="RU0009029540", issuer_csd=issuer, description="bond", denomination="FAMT", currency="RUX"
        ).full_clean()
    assert "ISO 4217" in str(caught.value.message_dict["currency"])
    broker = participant(issuer)
    broker.lei = "529900T8BM49AURSDO56"  # check digits off by one
    with pytest.raises(ValidationError) as caught:
        broker.full_clean()
    assert "LEI" in str(caught.value.message_dict["lei"])


def test_omnibus_account_without_a_link_is_refused_by_validation_and_by_the_database():
    issuer = saved_csd()
    orphan = SecuritiesAccount(csd=issuer, number="OMNIBUS-NOWHERE", kind=AccountKind.OMNIBUS)
    with pytest.raises(ValidationError) as caught:
        orphan.full_clean()
    assert "create the link between the two CSDs first" in str(caught.value.message_dict["link"])
    assert "account_link_iff_omnibus_or_mirror" in refused_by_database(
        lambda: SecuritiesAccount.objects.create(
            csd=issuer, number="OMNIBUS-NOWHERE", kind=AccountKind.OMNIBUS
        )
    )


def test_omnibus_account_at_the_investor_side_of_a_link_is_refused_by_validation_and_by_the_database():
    issuer, investor, link = two_linked_csds()
    wrong_side = SecuritiesAccount(csd=investor, number="OMNIBUS", kind=AccountKind.OMNIBUS, link=link)
    with pytest.raises(ValidationError) as caught:
        wrong_side.full_clean()
    assert "is kept at NSD, not at STRATE" in str(caught.value.message_dict["link"])
    message = refused_by_database(lambda: account(investor, "OMNIBUS", AccountKind.OMNIBUS, link=link))
    assert "issuer CSD of its link" in message
    account(issuer, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    account(investor, "MIRROR-NSD", AccountKind.MIRROR, link=link)


def test_a_mirror_account_at_the_issuer_is_refused_by_the_database():
    issuer, _investor, link = two_linked_csds()
    assert "investor CSD of its link" in refused_by_database(
        lambda: account(issuer, "MIRROR", AccountKind.MIRROR, link=link)
    )


def test_a_participant_account_at_another_csd_is_refused():
    issuer, investor, _link = two_linked_csds()
    broker = participant(issuer)
    misplaced = SecuritiesAccount(csd=investor, number="X-OWN", kind=AccountKind.OWN, participant=broker)
    with pytest.raises(ValidationError):
        misplaced.full_clean()
    assert "home CSD" in refused_by_database(lambda: account(investor, "X-OWN", participant=broker))


def test_an_account_at_a_csd_speaking_mt_must_be_writable_in_an_mt_field():
    strate = saved_csd("STRATE", bic="STRAZAJJ", country="ZA", message_standard="MT", adapter="iso15022_mt")
    nsd = saved_csd("NSD")
    broker = participant(strate, bic="DEMAZAJJ")
    with pytest.raises(ValidationError, match="SWIFT x character set"):
        SecuritiesAccount(
            csd=strate, number="DEM_B-OWN", kind=AccountKind.OWN, participant=broker
        ).full_clean()
    SecuritiesAccount(csd=strate, number="DEM-B-OWN", kind=AccountKind.OWN, participant=broker).full_clean()
    # an ISO 20022 account identifier may hold an underscore
    SecuritiesAccount(
        csd=nsd, number="DEM_A-OWN", kind=AccountKind.OWN, participant=participant(nsd)
    ).full_clean()


def test_a_participant_account_may_not_go_negative_but_a_contra_account_may():
    issuer, investor, link = two_linked_csds()
    shares = security(issuer)
    own = account(issuer, "A-OWN", participant=participant(issuer))
    mirror = account(investor, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    now = dt.datetime.now(dt.UTC)
    short = Holding(account=own, security=shares, quantity=Decimal("-1"), as_of=now)
    with pytest.raises(ValidationError):
        short.full_clean()
    assert "negative" in refused_by_database(lambda: Holding.objects.bulk_create([short]))
    Holding.objects.create(account=mirror, security=shares, quantity=Decimal("-5"), as_of=now)
    Holding.objects.create(account=own, security=shares, quantity=Decimal("5"), as_of=now)
    assert "negative" in refused_by_database(lambda: Holding.objects.filter(account=own).update(quantity=-5))


def test_a_link_needs_two_different_csds_and_is_unique():
    issuer, investor, link = two_linked_csds()
    from hub.registry.models import CSDLink

    assert "csdlink_two_csds" in refused_by_database(
        lambda: CSDLink.objects.create(issuer_csd=issuer, investor_csd=issuer)
    )
    refused_by_database(lambda: CSDLink.objects.create(issuer_csd=issuer, investor_csd=investor))


def test_a_csd_has_one_issuance_account():
    issuer = saved_csd()
    account(issuer, "ISSUANCE", AccountKind.ISSUANCE)
    refused_by_database(lambda: account(issuer, "ISSUANCE-2", AccountKind.ISSUANCE))


def test_an_lei_in_lower_case_is_refused_by_validation_not_left_to_the_database():
    broker = participant(saved_csd())
    broker.lei = "529900t8bm49aursdo55"  # right check digits, but the database's format is upper case
    with pytest.raises(ValidationError) as caught:
        broker.full_clean()
    assert "upper-case" in str(caught.value.message_dict["lei"])
    broker.lei = "529900T8BM49AURSDO55"
    broker.full_clean()


@pytest.mark.parametrize("isin", ["US0378331005\n", "\tUS0378331005", "US0378331005\r"])
def test_an_isin_with_a_line_break_or_tab_around_it_is_refused_by_validation_and_the_sqlite_check(isin):
    with pytest.raises(ValidationError):
        validate_isin(isin)
    assert not isin_is_valid(isin)  # the CHECK constraint's function on the embedded SQLite default


def test_a_participant_with_accounts_cannot_move_to_another_home_csd():
    nsd, strate, _link = two_linked_csds()
    broker = participant(nsd)
    account(nsd, "DEMARUMM-OWN", participant=broker)
    broker.home_csd = strate
    with pytest.raises(ValidationError) as caught:
        broker.full_clean()
    assert "has accounts at NSD" in str(caught.value.message_dict["home_csd"])
    assert "home CSD" in refused_by_database(
        lambda: Participant.objects.filter(pk=broker.pk).update(home_csd=strate)
    )
    # one without accounts may move
    idle = participant(nsd, bic="DEMBRUMM")
    idle.home_csd = strate
    idle.full_clean()
    idle.save()


def test_a_link_with_accounts_cannot_be_turned_round_or_moved_to_other_csds():
    nsd, strate, link = two_linked_csds()
    account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    link.issuer_csd, link.investor_csd = strate, nsd  # the accounts would sit on the wrong sides
    with pytest.raises(ValidationError) as caught:
        link.full_clean()
    assert "omnibus account NSD:OMNIBUS-STRATE" in str(caught.value.messages)
    assert "link" in refused_by_database(
        lambda: CSDLink.objects.filter(pk=link.pk).update(issuer_csd=strate, investor_csd=nsd)
    )
    kacd = saved_csd("KACD", bic="KACDKZKA", country="KZ", timezone="Asia/Almaty", calendar="KZ")
    assert "link" in refused_by_database(lambda: CSDLink.objects.filter(pk=link.pk).update(investor_csd=kacd))
    CSDLink.objects.filter(pk=link.pk).update(is_active=False)  # what does not move the accounts is fine


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"base_url": "http://127.0.0.1:9101", "colour": "red"}, "unknown key 'colour'"),
        ({"base_url": "ftp://127.0.0.1:9101"}, "an http or https URL"),
        ({"base_url": "http://"}, "an http or https URL"),
        ({"base_url": "http://127.0.0.1:99999"}, "an http or https URL"),
        ({"base_url": 9101}, "an http or https URL"),
        ({"base_url": "http://127.0.0.1:9101", "read_timeout": "ten"}, "read_timeout"),
        ({"base_url": "http://127.0.0.1:9101", "connect_timeout": 0}, "connect_timeout"),
        ({"base_url": "http://127.0.0.1:9101", "read_timeout": -1}, "read_timeout"),
        ({"base_url": "http://127.0.0.1:9101", "read_timeout": True}, "read_timeout"),
        (["http://127.0.0.1:9101"], "an object"),
    ],
)
def test_an_adapter_config_the_adapter_cannot_use_is_refused_by_validation(config, problem):
    with pytest.raises(ValidationError) as caught:
        csd(adapter_config=config).full_clean()
    assert problem in str(caught.value.message_dict["adapter_config"])


def test_an_adapter_config_with_a_base_url_and_timeouts_passes_validation():
    csd(adapter_config={}).full_clean()  # not exported yet: the adapter says what to do when asked for
    csd(adapter_config={"base_url": "http://refcsd-nsd:9100"}).full_clean()
    csd(
        adapter_config={"base_url": "https://nsd.example:8443/hub", "connect_timeout": 2, "read_timeout": 7.5}
    ).full_clean()


def test_a_bic_with_its_primary_offices_xxx_names_the_same_participant_as_without_it():
    nsd = saved_csd()
    participant(nsd, bic="DEMARUMM")
    twin = Participant(bic="DEMARUMMXXX", name="The same bank again", home_csd=nsd)
    with pytest.raises(ValidationError, match="with or without its primary office's XXX"):
        twin.full_clean()
    assert "participant_bic_unique_without_xxx" in refused_by_database(
        lambda: Participant.objects.bulk_create([twin])
    )
    # a branch is another participant
    branch = Participant(bic="DEMARUMM123", name="A branch", home_csd=nsd)
    branch.full_clean()
    branch.save()


def test_a_bic_with_its_primary_offices_xxx_names_the_same_csd_as_without_it():
    saved_csd("NSD", bic="NADCRUMMXXX")
    twin = csd("NSD2", bic="NADCRUMM")
    with pytest.raises(ValidationError, match="with or without its primary office's XXX"):
        twin.full_clean()
    assert "csd_bic_unique_without_xxx" in refused_by_database(lambda: CSD.objects.bulk_create([twin]))


def test_a_link_is_active_only_with_its_omnibus_account_at_the_issuer_and_its_mirror_at_the_investor():
    nsd, strate, _link = two_linked_csds()
    kacd = saved_csd("KACD", bic="KACDKZKA", country="KZ", timezone="Asia/Almaty", calendar="KZ")
    bare = CSDLink(issuer_csd=nsd, investor_csd=kacd)  # active by default, and nothing to settle through
    with pytest.raises(ValidationError) as caught:
        bare.full_clean()
    assert "omnibus account at NSD and mirror account at KACD" in str(caught.value.message_dict["is_active"])
    link = CSDLink(issuer_csd=nsd, investor_csd=kacd, is_active=False)
    link.full_clean()
    link.save()
    account(nsd, "OMNIBUS-KACD", AccountKind.OMNIBUS, link=link)
    with pytest.raises(ValidationError, match="mirror account at KACD"):
        csd_link_activate(link=link)
    assert not CSDLink.objects.get(pk=link.pk).is_active
    account(kacd, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    csd_link_activate(link=link)
    assert CSDLink.objects.get(pk=link.pk).is_active


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules"])
def test_a_time_zone_that_is_the_machines_own_or_a_placeholder_is_refused_by_validation_and_the_database(
    zone,
):
    # 'localtime' is whatever zone the server runs in: a CSD's business day and cut-off would follow it
    with pytest.raises(ValidationError) as caught:
        csd(timezone=zone).full_clean()
    assert "IANA time zone" in str(caught.value.message_dict["timezone"])
    assert not timezone_is_valid(zone)  # the CHECK constraint's function on the embedded SQLite default
    assert "csd_timezone_iana" in refused_by_database(lambda: CSD.objects.bulk_create([csd(timezone=zone)]))


def test_a_security_with_positions_keeps_its_issuer_csd():
    nsd, strate, _link = two_linked_csds()
    shares = security(nsd)
    issuance = account(nsd, "ISSUANCE", AccountKind.ISSUANCE)
    now = dt.datetime.now(dt.UTC)
    Holding.objects.create(account=issuance, security=shares, quantity=Decimal("-5"), as_of=now)
    shares.issuer_csd = strate  # its issuance account and every omnibus account holding it are at NSD
    with pytest.raises(ValidationError) as caught:
        shares.full_clean()
    assert "has positions" in str(caught.value.message_dict["issuer_csd"])
    assert "issuer CSD" in refused_by_database(
        lambda: Security.objects.filter(pk=shares.pk).update(issuer_csd=strate)
    )
    unheld = security(nsd, isin="US0378331005")
    unheld.issuer_csd = strate
    unheld.full_clean()
    unheld.save()


def test_an_active_links_omnibus_and_mirror_accounts_cannot_be_deleted_by_the_database():
    nsd, strate, link = two_linked_csds()
    omnibus = account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    mirror = account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    csd_link_activate(link=link)
    assert "active CSD link" in refused_by_database(
        lambda: SecuritiesAccount.objects.filter(pk=omnibus.pk).delete()
    )

    def delete_mirror_in_sql():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM registry_securitiesaccount WHERE id = %s", [mirror.pk])

    assert "active CSD link" in refused_by_database(delete_mirror_in_sql)
    assert SecuritiesAccount.objects.filter(link=link).count() == 2
    # an account no active link uses may go: a participant's, and the link's own once it is deactivated
    own = account(nsd, "DEMARUMM-OWN", participant=participant(nsd))
    SecuritiesAccount.objects.filter(pk=own.pk).delete()
    CSDLink.objects.filter(pk=link.pk).update(is_active=False)
    SecuritiesAccount.objects.filter(pk=omnibus.pk).delete()
    delete_mirror_in_sql()
    assert not SecuritiesAccount.objects.filter(link=link).exists()


def test_an_active_links_omnibus_and_mirror_accounts_cannot_be_moved_by_validation_or_the_database():
    nsd, strate, link = two_linked_csds()
    omnibus = account(nsd, "OMNIBUS-STRATE", AccountKind.OMNIBUS, link=link)
    mirror = account(strate, "MIRROR-NSD", AccountKind.MIRROR, link=link)
    csd_link_activate(link=link)
    kacd = saved_csd("KACD", bic="KACDKZKA", country="KZ", timezone="Asia/Almaty", calendar="KZ")
    other = CSDLink.objects.create(issuer_csd=kacd, investor_csd=strate, is_active=False)
    omnibus.number = "OMNIBUS-STRATE-2"
    with pytest.raises(ValidationError) as caught:
        omnibus.full_clean()
    assert "active link" in str(caught.value.message_dict["number"])
    mirror.link = other  # a mirror account at the investor CSD of the other link: only the guard refuses it
    with pytest.raises(ValidationError) as caught:
        mirror.full_clean()
    assert "active link" in str(caught.value.message_dict["link"])
    moves = {
        "number": (omnibus, {"number": "OMNIBUS-STRATE-2"}),
        "link": (mirror, {"link": other}),
        "csd": (omnibus, {"csd": kacd, "link": other}),
        "kind": (omnibus, {"kind": AccountKind.ISSUANCE, "link": None}),
    }
    for row, change in moves.values():
        assert "active CSD link" in refused_by_database(
            lambda row=row, change=change: SecuritiesAccount.objects.filter(pk=row.pk).update(**change)
        )
    SecuritiesAccount.objects.filter(pk=mirror.pk).update(is_blocked=True)  # what does not move it is fine
    CSDLink.objects.filter(pk=link.pk).update(is_active=False)
    SecuritiesAccount.objects.filter(pk=omnibus.pk).update(number="OMNIBUS-STRATE-2")
    mirror.full_clean()
    mirror.save()
    assert SecuritiesAccount.objects.get(pk=mirror.pk).link == other


def database_takes_zone(zone: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {TIMEZONE_FUNCTION}(%s)", [zone])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("zone", "taken"),
    [
        ("Europe/Moscow", True),
        ("Africa/Johannesburg", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Etc/GMT-3", True),
        ("MSK", False),  # an abbreviation, which PostgreSQL's AT TIME ZONE would take
        ("UTC+3", False),  # a POSIX rule, which PostgreSQL's TimeZone setting would take
        ("posix/Europe/Moscow", False),  # listed by pg_timezone_names, not by the validator
        ("europe/moscow", False),
    ],
)
def test_the_databases_time_zone_rule_takes_exactly_the_validators_names(zone, taken):
    assert timezone_is_valid(zone) is taken
    assert database_takes_zone(zone) is taken


def test_after_migrate_the_databases_time_zone_rule_takes_what_a_newer_tzdata_gives_the_validator(
    monkeypatch,
):
    newer = iana_timezones() | {"America/Ciudad_Nueva"}  # a zone a later tzdata might add
    monkeypatch.setattr(dbfunctions, "iana_timezones", lambda: newer)
    assert not database_takes_zone("America/Ciudad_Nueva")
    dbfunctions.timezone_function_refresh(sender=None, using=connection.alias)  # what migrate ends with
    assert database_takes_zone("America/Ciudad_Nueva") and database_takes_zone("Europe/Moscow")
