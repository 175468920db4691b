"""`manage.py seed_demo` builds a demo world whose books satisfy invariants 1-3, and is idempotent."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from hub.registry.models import CSD, AccountKind, CSDLink, Holding, Participant, SecuritiesAccount, Security
from hub.registry.selectors import book_violations

pytestmark = pytest.mark.django_db

MODELS = (CSD, CSDLink, Participant, Security, SecuritiesAccount, Holding)


def snapshot() -> dict[str, list[tuple]]:
    return {m.__name__: sorted(m.objects.values_list(), key=repr) for m in MODELS}


def test_seed_demo_creates_nsd_strate_and_at_least_three_other_csds_with_links_in_several_directions(capsys):
    call_command("seed_demo")
    csds = {c.code: c for c in CSD.objects.all()}
    assert (
        csds["NSD"].bic == "NADCRUMM" and csds["NSD"].timezone == "Europe/Moscow" and not csds["NSD"].is_demo
    )
    assert csds["STRATE"].bic == "STRAZAJJ" and csds["STRATE"].timezone == "Africa/Johannesburg"
    others = [c for c in csds.values() if c.code not in ("NSD", "STRATE")]
    assert len(others) >= 3 and all(c.is_demo for c in others)
    issuers = set(Security.objects.values_list("issuer_csd__code", flat=True))
    assert len(issuers) >= 3
    directions = set(CSDLink.objects.values_list("investor_csd__code", "issuer_csd__code"))
    assert ("STRATE", "NSD") in directions and ("NSD", "STRATE") in directions
    for link in CSDLink.objects.all():
        kinds = set(link.accounts.values_list("kind", flat=True))
        assert kinds == {AccountKind.OMNIBUS, AccountKind.MIRROR}
    assert "invariants 1-3 hold" in capsys.readouterr().out


def test_seeded_books_satisfy_invariants_one_to_three():
    call_command("seed_demo")
    assert book_violations() == []
    # and they are not trivially empty: every security is held outside its issuer CSD too
    for security in Security.objects.all():
        outside = Holding.objects.filter(
            security=security, account__kind__in=[AccountKind.OWN, AccountKind.CLIENT]
        )
        assert outside.exclude(account__csd=security.issuer_csd).aggregate(t=Sum("quantity"))["t"] > 0


def test_a_second_seed_changes_nothing():
    call_command("seed_demo")
    before = snapshot()
    call_command("seed_demo")
    assert snapshot() == before


def test_the_invariant_check_catches_an_undue_creation_and_an_omnibus_drift():
    call_command("seed_demo")
    holding = Holding.objects.filter(account__kind=AccountKind.OWN).first()
    Holding.objects.filter(pk=holding.pk).update(quantity=holding.quantity + 7)
    found = {(v.invariant, v.isin) for v in book_violations()}
    assert (1, holding.security.isin) in found and (2, holding.security.isin) in found

    Holding.objects.filter(pk=holding.pk).update(quantity=holding.quantity)
    omnibus = Holding.objects.filter(account__kind=AccountKind.OMNIBUS).first()
    Holding.objects.filter(pk=omnibus.pk).update(quantity=omnibus.quantity - Decimal(3))
    drift = [v for v in book_violations() if v.invariant == 3]
    assert (
        len(drift) == 1 and drift[0].actual == omnibus.quantity - 3 and drift[0].expected == omnibus.quantity
    )


def test_a_second_seed_leaves_a_participant_and_a_security_an_operator_added_alone():
    call_command("seed_demo")
    nsd = CSD.objects.get(code="NSD")
    added = Participant.objects.create(bic="SABRRUMM", name="A real bank", home_csd=nsd)
    # a security an operator added at a demo CSD, with an ISIN of its own (not one the demo invents)
    shares = Security.objects.create(isin="RU0009029540", issuer_csd=nsd, description="Real shares")
    before = snapshot()
    call_command("seed_demo")
    assert snapshot() == before
    assert not SecuritiesAccount.objects.filter(participant=added).exists()
    assert not Holding.objects.filter(security=shares).exists()
    assert book_violations() == []


def test_a_seed_that_finds_the_books_broken_writes_nothing():
    call_command("seed_demo")
    kacd_shares = Security.objects.get(issuer_csd__code="KACD")
    Holding.objects.filter(security=kacd_shares).delete()  # the seed would open these positions again
    drifted = Holding.objects.filter(account__kind=AccountKind.OWN).exclude(security=kacd_shares).first()
    Holding.objects.filter(pk=drifted.pk).update(quantity=drifted.quantity + 7)
    before = snapshot()
    with pytest.raises(CommandError, match="the books break the invariants"):
        call_command("seed_demo")
    assert snapshot() == before


def test_every_demo_link_is_active_with_its_omnibus_and_mirror_accounts():
    call_command("seed_demo")
    for link in CSDLink.objects.all():
        assert link.is_active
        link.full_clean()
