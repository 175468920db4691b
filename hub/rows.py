"""Set-based writes for the hub's hot tables: ``rows_insert`` appends many rows in one COPY (and
``rows_append`` the same from plain values, with no model object per row), and ``rows_update`` changes
many rows in one UPDATE, each with its own values where they differ (statuses, legs, due times, events,
outbox messages all go through them)."""

import datetime as dt
import io
import operator
from decimal import Decimal
from functools import cache, lru_cache

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


def model_new(model: type[models.Model], /, **values) -> models.Model:
    """``model(**values)`` in about a third of the time, for the objects ``rows_insert`` is given by the
    hundred: Django's keyword path looks at every field for every object, its positional path sets them
    in one pass. Fields are given by name or attribute name (``security`` or ``security_id``); a related
    object given is kept as the object's cached relation, as the keyword path keeps it; a field not given
    takes its default."""
    args = []
    related = []
    for attname, name, field in _construction_plan(model):
        if attname in values:
            args.append(values.pop(attname))
        elif name in values:
            target = values.pop(name)
            args.append(None if target is None else getattr(target, field.target_field.attname))
            related.append((field, target))
        else:
            args.append(field.get_default())
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(values))}")
    obj = model(*args)
    for field, target in related:
        field.set_cached_value(obj, target)
        if target is not None and field.one_to_one:  # and the other way, as Django's setter does
            field.remote_field.set_cached_value(target, obj)
    return obj


@cache
def _construction_plan(model: type[models.Model]) -> list[tuple[str, str | None, models.Field]]:
    """(attribute name, relation name or None, field) of each concrete field, in the model's order."""
    return [(f.attname, f.name if f.is_relation else None, f) for f in model._meta.concrete_fields]


def rows_insert(objs: list[models.Model]) -> list[models.Model]:
    """Insert new rows of one model, in order, in one COPY (``_insert``), and give each object its primary
    key: ``bulk_create`` without its per-value work, for the tables every transfer appends to.
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
    """Insert ``values`` (a row after another, in the order of ``fields``); the new primary keys in order.

    The rows go in one COPY: PostgreSQL reads COPY's text in bulk, where a multi-row INSERT's every value
    is a parameter quoted into the statement by the driver and parsed back by the server (together
    about twice the CPU for the narrow rows these tables take). The keys are taken from the primary key's
    sequence first, in one statement. A batch with a value COPY's text form is not written for here
    goes as INSERT statements."""
    width = len(fields)
    if not values:
        return []
    try:
        lines = [
            "\t".join([_copy_text(value) for value in values[start : start + width]])
            for start in range(0, len(values), width)
        ]
    except _NoCopyText:
        return _insert_statements(model, fields, values, connection)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    pk = model._meta.pk
    with connection.cursor() as cursor:
        if pk in fields:
            at = fields.index(pk)
            pks = [values[start + at] for start in range(0, len(values), width)]
        else:
            cursor.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)", [_sequence(cursor, table, pk), len(lines)]
            )
            pks = [key for (key,) in cursor.fetchall()]
            lines = [f"{key}\t{line}" for key, line in zip(pks, lines, strict=True)]
            columns = f"{quote(pk.column)}, {columns}"
        with connection.wrap_database_errors:
            # identifiers come from the model's metadata; every value is in COPY's data, escaped
            cursor.cursor.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN", io.StringIO("\n".join(lines) + "\n")
            )
    return pks


def _insert_statements(
    model: type[models.Model], fields: list[models.Field], values: list, connection
) -> list[int]:
    """``_insert`` as INSERT statements of ``CHUNK`` rows each."""
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


_sequences: dict[str, str] = {}


def _sequence(cursor, table: str, pk: models.Field) -> str:
    """The sequence that numbers ``table``'s automatic primary key (looked up once a process)."""
    if table not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk.column])
        (_sequences[table],) = cursor.fetchone()
    return _sequences[table]


class _NoCopyText(Exception):
    """A value whose COPY text form ``_copy_text`` does not write (a JSON adapter, say)."""


# COPY's text format: a backslash starts an escape, a tab ends a column, a line end ends a row
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _str_text(value: str) -> str:
    # four scans for the characters COPY reads specially cost a tenth of translating every character
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _bytes_text(value: bytes | memoryview) -> str:
    return "\\\\x" + value.hex()  # bytea's hex input, its backslash escaped for COPY


_COPY_TEXT = {
    str: _str_text,
    int: int.__repr__,
    bool: lambda value: "t" if value else "f",
    type(None): lambda _value: "\\N",
    bytes: _bytes_text,
    memoryview: _bytes_text,
    # the rows of a batch mostly share their time stamps
    dt.datetime: lru_cache(maxsize=256)(dt.datetime.isoformat),
    dt.date: dt.date.isoformat,
    Decimal: Decimal.__str__,
}


def _copy_text(value) -> str:
    """``value`` as a column of COPY's text format, as the driver would have given it to an INSERT."""
    write = _COPY_TEXT.get(type(value))
    if write is not None:
        return write(value)
    if isinstance(value, str):  # a choice's member: its value, as a plain string
        return _str_text(str.__str__(value))
    if isinstance(value, int):
        return int.__repr__(value)
    raise _NoCopyText(type(value).__name__)
