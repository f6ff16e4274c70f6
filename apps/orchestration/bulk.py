"""Write many changed rows of one model at once: the sync's Run and Step updates.

Django's bulk_update builds a `CASE WHEN id = ... THEN ...` per column and row (in Python,
then evaluated by the database row by row: 200 s for 20,000 steps here). Here, on PostgreSQL,
one statement per batch with one array parameter per column:

    UPDATE runs_step AS t SET phase = v.phase, ...
      FROM unnest(%s::bigint[], %s::varchar(12)[], ...) AS v(id, phase, ...) WHERE t.id = v.id

each value prepared by its field (as a save would). On
other databases, one `UPDATE ... WHERE id = %s` run with executemany (SQLite does those at
memory speed; there is no network round trip to save).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from django.db import connection
from django.db.models import Field, Model

# Rows per statement: a sync of 1,000 workflows x 20 steps writes its steps in two.
BATCH_SIZE = 10_000


def _is_json(field: Field) -> bool:
    return field.get_internal_type() == "JSONField"


# Fields whose Python values psycopg sends as they are (Django's preparation of them on
# PostgreSQL returns the value unchanged): preparing 16 columns x 20,000 steps through the
# fields was a third of the write's CPU.
_PLAIN_ON_POSTGRES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "IntegerField",
        "TextField",
        "UUIDField",
    }
)


def _json_text(value: Any, encoder: type[json.JSONEncoder] | None = None) -> str | None:
    if value is None:
        return None
    if encoder is None:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # an integer past 64 bits, a type of its own: the encoder decides
            pass
    return json.dumps(value, cls=encoder)


def _same(value: Any) -> object:
    return value


def _preparer(field: Field) -> Callable[[Any], object]:
    """How a value of this field goes to the database, as a save would prepare it."""
    if _is_json(field):
        encoder = field.encoder  # type: ignore[attr-defined]
        return _json_text if encoder is None else lambda value: _json_text(value, encoder)
    if connection.vendor == "postgresql" and field.get_internal_type() in _PLAIN_ON_POSTGRES:
        return _same
    return lambda value: field.get_db_prep_save(value, connection)


def _cursor() -> Any:
    """A cursor of Django's connection (its query log, wrappers and errors apply). On
    PostgreSQL it binds parameters on the server: the arrays go as binary values made by
    psycopg's C dumpers, not quoted into the statement's text in Python (a regex and a join
    per value: most of the write's CPU at 20,000 steps, and a statement of megabytes for the
    server to parse)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def update_rows(objs: Sequence[Model], field_names: Sequence[str]) -> int:
    """Write `field_names` of every obj (all of one model, all saved) by primary key; returns
    the number of rows written. Signals and auto_now are not applied, as with bulk_update."""
    if not objs:
        return 0
    names = [type(objs[0])._meta.get_field(name).attname for name in field_names]
    rows = [(obj.pk, *(getattr(obj, name) for name in names)) for obj in objs]
    return update_values(type(objs[0]), field_names, rows)


def update_values(
    model: type[Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Write rows of (primary key, *values of `field_names`) into the model's table: the
    sync's writes, without a model instance a row. Returns the number of rows written."""
    if not rows:
        return 0
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    pk = meta.pk
    assert pk is not None
    table = connection.ops.quote_name(meta.db_table)
    quote = connection.ops.quote_name
    columns = [pk, *fields]
    prepare = [_preparer(c) for c in columns]

    written = 0
    with _cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {assignments} WHERE {quote(pk.column)} = %s"
            params = [
                [*(p(v) for p, v in zip(prepare[1:], row[1:], strict=True)), prepare[0](row[0])]
                for row in rows
            ]
            cursor.executemany(sql, params)
            return len(params)
        # One array a column, unnested into rows: the statement's text stays small whatever
        # the number of rows (a VALUES list with a cast on every value took seconds to send
        # and parse at 20,000 steps). JSON goes as text and is cast on the way in.
        arrays = ", ".join(
            f"%b::{'text' if _is_json(c) else c.db_type(connection)}[]" for c in columns
        )
        names = ", ".join(quote(c.column) for c in columns)
        assignments = ", ".join(
            f"{quote(f.column)} = v.{quote(f.column)}" + ("::jsonb" if _is_json(f) else "")
            for f in fields
        )
        sql = (
            f"UPDATE {table} AS t SET {assignments} FROM unnest({arrays}) AS v({names}) "
            f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}"
        )
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            params = [[p(row[i]) for row in batch] for i, p in enumerate(prepare)]
            cursor.execute(sql, params)
            written += cursor.rowcount
    return written
