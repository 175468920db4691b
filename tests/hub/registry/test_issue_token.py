"""Operations issue a participant's API key by its BIC, written with or without its primary office's XXX."""

import pytest
from django.core.management import CommandError, call_command

from hub.registry.selectors import participant_for_token

from .factories import participant, saved_csd

pytestmark = pytest.mark.django_db


def issued_to(capsys, bic: str):
    call_command("issue_token", bic)
    return participant_for_token(capsys.readouterr().out.strip())


@pytest.mark.parametrize(
    ("registered", "named"),
    [("DEMARUMM", "DEMARUMMXXX"), ("DEMARUMMXXX", "DEMARUMM"), ("DEMARUMM", "demarumm")],
)
def test_issue_token_finds_a_participant_named_by_either_form_of_its_bic(capsys, registered, named):
    broker = participant(saved_csd(), bic=registered)
    assert issued_to(capsys, named) == broker


def test_issue_token_does_not_take_a_branch_for_the_primary_office(capsys):
    participant(saved_csd(), bic="DEMARUMM")
    with pytest.raises(CommandError, match="no participant with BIC DEMARUMM001"):
        call_command("issue_token", "DEMARUMM001")


def test_issue_token_needs_a_known_participant():
    with pytest.raises(CommandError, match="no participant with BIC NOPERUMM"):
        call_command("issue_token", "NOPERUMM")
