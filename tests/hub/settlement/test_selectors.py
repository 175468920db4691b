"""RegistryRows reads each registry row a batch points at once and leaves it where select_related would."""

import pytest
from django.core.management import call_command

from hub.settlement.models import Instruction
from hub.settlement.selectors import INSTRUCTION_REGISTRY, RegistryRows

from .test_matching import pair


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def test_attached_registry_rows_are_those_a_join_reads_each_read_once(demo, django_assert_num_queries):
    deliver, receive = pair()
    joined = {
        row.pk: row
        for row in Instruction.objects.select_related(
            *INSTRUCTION_REGISTRY, "account__csd", "security__issuer_csd"
        ).filter(pk__in=[deliver.pk, receive.pk])
    }
    rows = list(Instruction.objects.filter(pk__in=[deliver.pk, receive.pk]))
    # securities, accounts, participants, then every CSD they or the instructions name: four queries
    with django_assert_num_queries(4):
        RegistryRows().attach(rows, *INSTRUCTION_REGISTRY)
    with django_assert_num_queries(0):  # attached, not fetched on access
        for row in rows:
            for relation in INSTRUCTION_REGISTRY:
                assert getattr(row, relation) == getattr(joined[row.pk], relation)
            assert row.account.csd == joined[row.pk].account.csd
            assert row.security.issuer_csd.code == joined[row.pk].security.issuer_csd.code
    # both sides name the same security: one object shared, not a copy per row
    assert rows[0].security is rows[1].security
