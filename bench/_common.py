"""What the benchmarks share: the SQL dialect of their set-based generators and a
throwaway PostgreSQL database. Not a benchmark itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Sql:
    """The few expressions that differ between SQLite and PostgreSQL."""

    vendor: str

    @property
    def pg(self) -> bool:
        return self.vendor == "postgresql"

    def with_numbers(self, n: int, table: str = "n", column: str = "i") -> str:
        """``WITH`` a CTE ``table(column)`` of 1 … n."""
        if self.pg:
            return f"WITH {table}({column}) AS (SELECT generate_series(1, {int(n)})::bigint)"
        return (
            f"WITH RECURSIVE {table}({column}) AS (SELECT 1 UNION ALL "
            f"SELECT {column} + 1 FROM {table} WHERE {column} < {int(n)})"
        )

    def padded(self, prefix: str, value: str, width: int) -> str:
        if self.pg:
            return f"'{prefix}' || lpad(({value})::text, {width}, '0')"
        return f"printf('{prefix}%0{width}d', {value})"

    def text(self, value: str) -> str:
        return f"({value})::text" if self.pg else f"CAST({value} AS TEXT)"

    def date(self, month_index: str, day: str) -> str:
        """The date of day ``day`` (1 … 28) of month ``month_index`` (year × 12 + month − 1)."""
        if self.pg:
            m = f"({month_index})::int"
            return f"make_date({m} / 12, {m} % 12 + 1, ({day})::int)"
        return f"printf('%04d-%02d-%02d', ({month_index}) / 12, ({month_index}) % 12 + 1, {day})"

    def timestamp(self, value: dt.datetime) -> str:
        """An aware datetime as a literal, stored as Django stores it (UTC)."""
        utc = value.astimezone(dt.UTC)
        if self.pg:
            return f"TIMESTAMPTZ '{utc.isoformat()}'"
        return f"'{utc.replace(tzinfo=None).isoformat(sep=' ')}'"

    def day(self, value: dt.date) -> str:
        return f"DATE '{value.isoformat()}'" if self.pg else f"'{value.isoformat()}'"

    def plus_days(self, day: str, days: str) -> str:
        if self.pg:
            return f"(({day}) + ({days})::int)"
        return f"date({day}, '+' || ({days}) || ' days')"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"min({a}, {b})"

    def money(self, fen: str) -> str:
        return f"(({fen}) / 100.0)"

    def false(self) -> str:
        return "FALSE" if self.pg else "0"

    def days_before(self, value: dt.date, days: str) -> str:
        if self.pg:
            return f"({self.day(value)} - ({days})::int)"
        return f"date({self.day(value)}, '-' || ({days}) || ' days')"


def fresh_postgres(server_url: str, name: str) -> str:
    """Drop and create the database ``name`` on the server; return its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_postgres(server_url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
