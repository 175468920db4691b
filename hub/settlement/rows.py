"""One UPDATE for many rows, each with its own values where they differ: the settlement app's batch writes
(statuses, legs, due times) all go through ``rows_update``."""

from django.db import models, transaction

CHUNK = 500  # rows a statement: a CASE per column with two parameters a row


class Each(dict):
    """A value that differs from row to row in a batch write (a status event's cause, a field): by row id."""


def value_for(value, pk: int):
    return value[pk] if isinstance(value, Each) else value


def rows_update(
    model: type[models.Model], ids: list[int], values: dict, *, status: str | None = None
) -> set[int]:
    """Set ``values`` (by field name; a value is the same for every row, or ``Each``) on the rows of
    ``ids``, compare-and-set on ``status`` when it is given. Returns the ids it changed."""
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    fields = {name: model._meta.get_field(name) for name in values}

    def prepared(field, value):
        if field.is_relation and hasattr(value, "pk"):
            value = value.pk
        return field.get_db_prep_save(value, connection)

    changed: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        assignments, params = [], []
        for name, value in values.items():
            column = quote(fields[name].column)
            if isinstance(value, Each):
                # ELSE keeps the CASE typed as the column, even when every value is NULL
                assignments.append(
                    f"{column} = CASE id " + "WHEN %s THEN %s " * len(chunk) + f"ELSE {column} END"
                )
                for pk in chunk:
                    params += [pk, prepared(fields[name], value[pk])]
            else:
                assignments.append(f"{column} = %s")
                params.append(prepared(fields[name], value))
        condition = " AND status = %s" if status is not None else ""
        with connection.cursor() as cursor:
            cursor.execute(
                # identifiers come from the model's metadata; every value is a bound parameter
                f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(chunk))}){condition} RETURNING id",
                [*params, *chunk, *([status] if status is not None else [])],
            )
            changed |= {row[0] for row in cursor.fetchall()}
    return changed
