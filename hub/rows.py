"""Set-based writes for the hub's hot tables: ``rows_insert`` appends many rows in one statement (and
``rows_append`` the same from plain values, with no model object per row), and ``rows_update`` changes
many rows in one UPDATE, each with its own values where they differ (statuses, legs, due times, events,
outbox messages all go through them)."""

import datetime as dt
import operator
from functools import cache

from django.db import models, transaction
from django.utils import timezone

CHUNK = 500  # rows a statement (an UPDATE has a CASE per column with two parameters a row)


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


# Fields whose values PostgreSQL's driver takes as the model holds them (text, numbers, flags, bytes, ids:
# psycopg2 adapts subclasses such as a choice's enum member by their base type). Any other field's value
# goes as it is when it is a plain value or an aware datetime, and through the field's own preparation
# otherwise (a Decimal, a JSON value), as bulk_create would do it.
_DIRECT_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.BinaryField,
    models.ForeignKey,
)
_DIRECT_TYPES = {str, int, bool, bytes, type(None)}


@cache
def _insert_plan(model: type[models.Model]) -> tuple[list[models.Field], list[int], list]:
    """The fields an INSERT writes (all but an automatic primary key); the positions of those whose values
    need looking at (any but the fields the driver takes as they are); the fields stamped on insert."""
    fields = [
        f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))
    ]
    looked_at = [n for n, f in enumerate(fields) if not isinstance(f, _DIRECT_FIELDS)]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    return fields, looked_at, stamped


def _db_value(field: models.Field, value, connection):
    if type(value) in _DIRECT_TYPES:
        return value
    if (
        isinstance(value, dt.datetime)
        and value.tzinfo is not None
        and isinstance(field, models.DateTimeField)
    ):
        return value
    return field.get_db_prep_save(value, connection)


def rows_insert(objs: list[models.Model]) -> list[models.Model]:
    """Insert new rows of one model, in order, with one statement per ``CHUNK`` rows, and give each object
    its primary key: ``bulk_create`` without its per-value work, for the tables every transfer appends to.
    Other databases than PostgreSQL go through ``bulk_create`` itself."""
    if not objs:
        return objs
    model = type(objs[0])
    connection = transaction.get_connection()
    fields, looked_at, stamped = _insert_plan(model)
    automatic_pk = len(fields) < len(model._meta.concrete_fields)
    if connection.vendor != "postgresql" or (automatic_pk and any(obj.pk is not None for obj in objs)):
        return model.objects.bulk_create(objs)
    now = timezone.now()
    read = operator.attrgetter(*(f.attname for f in fields))
    values = []
    for obj in objs:
        for f in stamped:
            setattr(obj, f.attname, now)
        row = list(read(obj)) if len(fields) > 1 else [read(obj)]
        for n in looked_at:
            row[n] = _db_value(fields[n], row[n], connection)
        values += row
    for obj, pk in zip(objs, _insert(model, fields, values, connection), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def rows_append(model: type[models.Model], rows: list[dict]) -> list[int]:
    """Insert new rows of one model given as plain values, by attribute name (``transfer_id``, not
    ``transfer``), and return their ids in order: ``rows_insert`` without a model object per row, for
    append-only rows that nobody reads back in the same step (status events, outbox messages). A field
    left out takes its default (a callable one is called for each row); fields stamped on insert
    (``auto_now_add``) take the time now."""
    if not rows:
        return []
    connection = transaction.get_connection()
    fields, looked_at, stamped = _insert_plan(model)
    unknown = {name for row in rows for name in row} - {f.attname for f in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))} to insert")
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in objs]
    now = timezone.now()
    # a callable default (a fresh value each time) is called for each row that leaves its field out
    fresh = [(n, f) for n, f in enumerate(fields) if f.has_default() and callable(f.default)]
    defaults = {
        f.attname: now if f in stamped else None if (n, f) in fresh else f.get_default()
        for n, f in enumerate(fields)
    }
    names = [f.attname for f in fields]
    values = []
    for row in rows:
        line = [row.get(name, defaults[name]) for name in names]
        for n, f in fresh:
            if f.attname not in row:
                line[n] = f.get_default()
        for n in looked_at:
            line[n] = _db_value(fields[n], line[n], connection)
        values += line
    return _insert(model, fields, values, connection)


def _insert(model: type[models.Model], fields: list[models.Field], values: list, connection) -> list[int]:
    """INSERT ``values`` (a row after another, in the order of ``fields``), ``CHUNK`` rows a statement;
    the new primary keys in order."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    width = len(fields)
    placeholders = "(" + ", ".join(["%s"] * width) + ")"
    pk_column = quote(model._meta.pk.column)
    step = CHUNK * width
    pks: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            cursor.execute(
                # identifiers come from the model's metadata; every value is a bound parameter
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([placeholders] * (len(chunk) // width))} RETURNING {pk_column}",
                chunk,
            )
            pks += [pk for (pk,) in cursor.fetchall()]
    return pks
