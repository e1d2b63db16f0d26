"""Many rows in and out through the open connection, the fast way on each database.

- ``rows_insert``: ``COPY … FROM STDIN`` on PostgreSQL (a multi-row ``INSERT`` with
  thousands of ``%s`` costs PostgreSQL's client more to parse than the database to run);
  on SQLite, multi-row ``INSERT … VALUES`` statements of up to ``_SQLITE_ROWS`` rows
  straight on the driver's cursor (a third of an ``executemany``'s time into a table
  without indexes, three quarters into one with three: ``executemany`` steps and resets
  the statement once per row).
- ``fetch_in``: a query over a long list of ids or keys: ``= ANY(%s)`` with one array on
  PostgreSQL, ``IN (…)`` in chunks on SQLite.
- ``ids_reserve``: primary keys for rows about to be inserted, so related rows can be
  written in the same pass (the sequence on PostgreSQL; on SQLite, whose write
  transactions are ``BEGIN IMMEDIATE`` here, the table's AUTOINCREMENT counter, moved on).

Values go in as the database adapters take them: amounts as text ``"123.45"`` (what
Django sends for a Decimal), dates as ``YYYY-MM-DD`` text, times from
``connection.ops.adapt_datetimefield_value``. Nothing here commits: run it inside the
caller's ``transaction.atomic()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

IN_CHUNK = 5000  # ids per IN list on SQLite (its limit is 32,766 parameters)
_SQLITE_ROWS = 500  # rows per multi-row statement on SQLite
_SQLITE_PARAMS = 32_000  # under SQLite's 32,766 parameters a statement


def _raw_cursor() -> Any:
    connection.ensure_connection()
    return connection.connection.cursor()


def rows_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``."""
    names = ", ".join(columns)
    cur = _raw_cursor()
    try:
        if connection.vendor == "postgresql":
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            _sqlite_many(cur, f"INSERT INTO {table} ({names}) VALUES ", "", len(columns), rows)
    finally:
        cur.close()


def _sqlite_many(cur: Any, head: str, tail: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
    """Run ``head`` + ``(?, …), (?, …)…`` + ``tail`` over ``rows`` (``width`` values each),
    as few statements as SQLite's parameter limit allows; the full-size statement is
    built once and kept by the driver's statement cache."""
    per = max(1, min(_SQLITE_ROWS, _SQLITE_PARAMS // width))
    mark = "(" + ", ".join(["?"] * width) + ")"
    full = head + ", ".join([mark] * per) + tail
    batch: list[Any] = []
    count = 0
    for row in rows:
        batch.extend(row)
        count += 1
        if count == per:
            cur.execute(full, batch)
            batch, count = [], 0
    if count:
        cur.execute(head + ", ".join([mark] * count) + tail, batch)


def fetch_in(
    sql: str,
    values: Sequence[Any],
    params: Sequence[Any] = (),
    *,
    array_type: str = "bigint",
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (``%s`` placeholders; ``{values}`` where ``IN ({values})`` goes, after
    ``params``) over ``values`` and return every row."""
    if not values:
        return []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            query = sql.replace("IN ({values})", f"= ANY(%s::{array_type}[])")
            cur.execute(query, [*params, list(values)])
            return list(cur.fetchall())
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), IN_CHUNK):
            part = values[start : start + IN_CHUNK]
            cur.execute(sql.format(values=", ".join(["%s"] * len(part))), [*params, *part])
            rows.extend(cur.fetchall())
        return rows


def ids_reserve(table: str, n: int) -> list[int]:
    """``n`` fresh primary keys of ``table`` (an auto-increment ``id``), in ascending order,
    which no other writer will be given."""
    if n <= 0:
        return []
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, n],
            )
            return sorted(int(row[0]) for row in cur.fetchall())
        # SQLite: the write lock is held since BEGIN IMMEDIATE; AUTOINCREMENT never reuses
        # an id, so start after both the counter and the largest id stored.
        cur.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),"
            f" COALESCE((SELECT MAX(id) FROM {table}), 0))",
            [table],
        )
        start = int(cur.fetchone()[0]) + 1
        cur.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [start + n - 1, table])
        if cur.rowcount == 0:
            cur.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, start + n - 1]
            )
        return list(range(start, start + n))


def rows_update(
    table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> None:
    """Set ``columns`` ((name, PostgreSQL type) each) of the rows of ``table`` whose ``id``
    is the last value of each row: one ``UPDATE … FROM unnest(…)`` on PostgreSQL, an
    ``executemany`` on SQLite."""
    if not rows:
        return
    cur = _raw_cursor()
    try:
        if connection.vendor == "postgresql":
            names = [name for name, _type in columns]
            arrays = ", ".join(f"%s::{kind}[]" for _name, kind in columns)
            sets = ", ".join(f"{name} = v.{name}" for name in names)
            cur.execute(
                f"UPDATE {table} t SET {sets} FROM unnest({arrays}, %s::bigint[])"
                f" AS v({', '.join(names)}, id) WHERE t.id = v.id",
                [*([row[i] for row in rows] for i in range(len(columns))), [r[-1] for r in rows]],
            )
        else:
            # UPDATE … FROM a VALUES list (SQLite 3.33+), many rows a statement.
            names = [name for name, _type in columns]
            head = f"WITH v({', '.join(names)}, id) AS (VALUES "
            sets = ", ".join(f"{name} = v.{name}" for name in names)
            tail = f") UPDATE {table} SET {sets} FROM v WHERE {table}.id = v.id"
            _sqlite_many(cur, head, tail, len(columns) + 1, rows)
    finally:
        cur.close()
