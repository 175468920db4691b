"""The demo world with one reference ledger per CSD (``books``), shared by the settlement stories."""

import pytest
from django.core.management import call_command

from .books import Books


@pytest.fixture
def books(db, tmp_path):
    call_command("seed_demo", verbosity=0)
    books = Books(tmp_path)
    yield books
    books.close()
