"""Writes to reference data. Every row is validated (``full_clean``) before it reaches the database."""

from typing import TypeVar

from django.db import models

ModelT = TypeVar("ModelT", bound=models.Model)


def reference_row_ensure(*, model: type[ModelT], lookup: dict, values: dict) -> tuple[ModelT, bool]:
    """The row identified by ``lookup``; created from ``lookup | values`` after validation if absent.

    An existing row is returned as it is, so running a seed again changes nothing. Returns (row, created).
    """
    existing = model.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    row = model(**lookup, **values)
    row.full_clean()
    row.save(force_insert=True)
    return row, True
