"""Write validated frames to the database, set-based, through the open connection.

The clean frames go into temporary staging tables (``executemany`` on SQLite, ``COPY``
on PostgreSQL); then one ``INSERT … SELECT … ON CONFLICT (…) DO UPDATE … WHERE <changed>``
per table upserts them (SQLite ≥ 3.24 and PostgreSQL understand the same statement).
The ``WHERE <changed>`` makes a re-import of the same data write nothing, and the row
counts the database reports are the rows really created or changed.

Must run inside the caller's ``transaction.atomic()``: nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.db import connection
from django.utils import timezone

from cuishou.core.masking import mask_id_number
from cuishou.core.money import fen_to_decimal, format_money

STAGE_CHUNK = 50_000

# (name, kind) with kind one of text, int, float, date
LOAN_STAGE = (
    ("contract_no", "text"),
    ("id_number", "text"),
    ("product", "text"),
    ("principal_fen", "int"),
    ("rate_u", "int"),
    ("penalty_u", "int"),
    ("disbursed_on", "date"),
    ("currency", "text"),
    ("segment", "text"),
    ("limitation_on", "date"),
)
DEBTOR_STAGE = (
    ("id_number", "text"),
    ("name", "text"),
    ("mobile", "text"),
    ("birth_date", "date"),
    ("gender", "text"),
)
INSTALLMENT_STAGE = (
    ("contract_no", "text"),
    ("seq", "int"),
    ("due_on", "date"),
    ("principal_due", "int"),
    ("interest_due", "int"),
    ("principal_paid", "int"),
    ("interest_paid", "int"),
)
CONTACT_STAGE = (
    ("contract_no", "text"),
    ("name", "text"),
    ("relation", "text"),
    ("phone", "text"),
    ("email", "text"),
    ("workplace", "int"),
    ("opt_call", "int"),
    ("opt_sms", "int"),
    ("opt_email", "int"),
)
ADDRESS_STAGE = (
    ("contract_no", "text"),
    ("kind", "text"),
    ("text", "text"),
    ("province", "text"),
    ("city", "text"),
    ("district", "text"),
    ("lat", "float"),
    ("lon", "float"),
)
_TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "float": "REAL", "date": "TEXT"},
    "postgresql": {"text": "text", "int": "bigint", "float": "double precision", "date": "date"},
}


def _money(fen: Any) -> str | None:
    return None if fen is None else format_money(fen_to_decimal(int(fen)))


def _rate(micro: Any) -> str | None:
    if micro is None:
        return None
    return str((Decimal(int(micro)) / 1_000_000).normalize())


def _date(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class LoanChange:
    loan_id: int
    contract_no: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


# Optional loan columns whose stored value a file without the column keeps (a client's
# segment; the limitation date, which decides whether a suit may be filed), with the value
# a new loan gets: leaving a column out is not saying "none".
KEPT_WHEN_ABSENT: dict[str, str] = {"segment": "''", "limitation_on": "NULL"}


class PortfolioWriter:
    def __init__(self, *, client_id: int, run_id: int) -> None:
        connection.ensure_connection()
        self.vendor = connection.vendor
        if self.vendor not in _TYPES:  # pragma: no cover - the two databases we run on
            raise NotImplementedError(f"portfolio import does not support {self.vendor}")
        self.client_id = client_id
        self.run_id = run_id
        self.raw = connection.connection
        self.cur = self.raw.cursor()
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        self.counts: dict[str, int] = {}
        self.debtors_existed = 0
        if self.vendor == "sqlite":
            # A large page cache keeps the indexes being filled in memory (default 2 MB).
            self.cur.execute("PRAGMA cache_size = -262144")

    # --- plumbing ---------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.vendor == "sqlite" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(self._sql(sql), tuple(params))
        return max(self.cur.rowcount, 0)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(self._sql(sql), tuple(params))
        return list(self.cur.fetchall())

    def stage(self, name: str, columns: Sequence[tuple[str, str]], frame: pl.DataFrame) -> None:
        """Create the temporary table ``name`` and load ``frame`` into it."""
        types = _TYPES[self.vendor]
        names = [c for c, _kind in columns]
        self.cur.execute(f"DROP TABLE IF EXISTS {name}")
        ddl = ", ".join(f"{c} {types[kind]}" for c, kind in columns)
        self.cur.execute(f"CREATE TEMP TABLE {name} ({ddl})")
        frame = frame.select(names)
        if self.vendor == "postgresql":
            with self.cur.copy(f"COPY {name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in _rows(frame):
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _c in names)
            self.cur.executemany(
                f"INSERT INTO {name} ({', '.join(names)}) VALUES ({placeholders})",
                _rows(frame),
            )

    def stage_all(
        self,
        *,
        loans: pl.DataFrame,
        debtors: pl.DataFrame,
        installments: pl.DataFrame,
        contacts: pl.DataFrame,
        addresses: pl.DataFrame,
        keep_loan_columns: frozenset[str] = frozenset(),
    ) -> None:
        """Stage the file's rows. ``keep_loan_columns`` (optional loan columns the file
        does not have, of ``KEPT_WHEN_ABSENT``) take what the loan has stored, so a file
        that leaves them out changes nothing there (a new loan gets the empty value)."""
        self.stage("imp_loan", LOAN_STAGE, loans)
        for column in sorted(keep_loan_columns & KEPT_WHEN_ABSENT.keys()):
            self.execute(
                f"""UPDATE imp_loan SET {column} = COALESCE((
                        SELECT l.{column} FROM portfolio_loan l
                        WHERE l.client_id = %s AND l.contract_no = imp_loan.contract_no),
                    {KEPT_WHEN_ABSENT[column]})""",
                [self.client_id],
            )
        self.stage("imp_debtor", DEBTOR_STAGE, debtors)
        self.stage("imp_inst", INSTALLMENT_STAGE, installments)
        self.stage("imp_contact", CONTACT_STAGE, contacts)
        self.stage("imp_addr", ADDRESS_STAGE, addresses)
        self.cur.execute("CREATE INDEX imp_inst_key ON imp_inst (contract_no, seq)")
        self.cur.execute("DROP TABLE IF EXISTS imp_inst_contract")
        self.cur.execute(
            "CREATE TEMP TABLE imp_inst_contract AS SELECT DISTINCT contract_no FROM imp_inst"
        )
        if self.vendor == "postgresql":
            for table in ("imp_loan", "imp_debtor", "imp_inst", "imp_contact", "imp_addr"):
                self.cur.execute(f"ANALYZE {table}")

    def drop_stages(self) -> None:
        for table in (
            "imp_loan",
            "imp_debtor",
            "imp_inst",
            "imp_inst_contract",
            "imp_contact",
            "imp_addr",
        ):
            self.cur.execute(f"DROP TABLE IF EXISTS {table}")

    # --- what a later file changes (asked before writing) --------------------------

    def existing_contracts(self) -> int:
        """How many contracts named anywhere in the file the client already has."""
        return self.fetch(
            """
            SELECT COUNT(*) FROM portfolio_loan l
            WHERE l.client_id = %s AND (
                l.contract_no IN (SELECT contract_no FROM imp_loan)
                OR l.contract_no IN (SELECT contract_no FROM imp_inst_contract))
            """,
            [self.client_id],
        )[0][0]

    def loan_changes(self) -> dict[int, LoanChange]:
        """Per existing loan the file changes: the changed fields before and after."""
        changes: dict[int, LoanChange] = {}
        rows = self.fetch(
            """
            SELECT l.id, s.contract_no,
                CAST(ROUND(l.principal * 100) AS BIGINT), s.principal_fen,
                CAST(ROUND(l.annual_rate * 1000000) AS BIGINT), s.rate_u,
                CAST(ROUND(l.penalty_annual_rate * 1000000) AS BIGINT), s.penalty_u,
                l.disbursed_on, s.disbursed_on, l.currency, s.currency,
                p.name, s.product, d.id_number, s.id_number, l.segment, s.segment,
                l.limitation_on, s.limitation_on
            FROM imp_loan s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            JOIN portfolio_product p ON p.id = l.product_id
            JOIN portfolio_debtor d ON d.id = l.debtor_id
            WHERE ROUND(l.principal * 100) <> s.principal_fen
                OR ROUND(l.annual_rate * 1000000) <> s.rate_u
                OR COALESCE(ROUND(l.penalty_annual_rate * 1000000), -1)
                    <> COALESCE(s.penalty_u, -1)
                OR l.disbursed_on <> s.disbursed_on
                OR l.currency <> s.currency
                OR l.segment <> s.segment
                OR COALESCE(l.limitation_on, '0001-01-01')
                    <> COALESCE(s.limitation_on, '0001-01-01')
                OR p.name <> s.product
                OR d.id_number <> s.id_number
            """,
            [self.client_id],
        )
        for row in rows:
            loan_id, contract_no = row[0], row[1]
            change = changes.setdefault(loan_id, LoanChange(loan_id, contract_no))
            pairs = {
                "principal": (_money(row[2]), _money(row[3])),
                "annual_rate": (_rate(row[4]), _rate(row[5])),
                "penalty_annual_rate": (_rate(row[6]), _rate(row[7])),
                "disbursed_on": (_date(row[8]), _date(row[9])),
                "currency": (row[10], row[11]),
                "product": (row[12], row[13]),
                "debtor": (mask_id_number(row[14]), mask_id_number(row[15])),
                "segment": (row[16], row[17]),
                "limitation_on": (_date(row[18]), _date(row[19])),
            }
            for name, (old, new) in pairs.items():
                if old != new:
                    change.before[name] = old
                    change.after[name] = new
        self._schedule_changes(changes)
        return changes

    def _schedule_changes(self, changes: dict[int, LoanChange]) -> None:
        names = ("due_on", "principal_due", "interest_due", "principal_paid", "interest_paid")

        def values(row: Sequence[Any]) -> dict[str, Any] | None:
            if row[0] is None:
                return None
            money = {n: _money(v) for n, v in zip(names[1:], row[1:], strict=True)}
            return {"due_on": _date(row[0]), **money}

        changed = self.fetch(
            """
            SELECT l.id, l.contract_no, s.seq,
                i.due_on, CAST(ROUND(i.principal_due * 100) AS BIGINT),
                CAST(ROUND(i.interest_due * 100) AS BIGINT),
                CAST(ROUND(i.principal_paid * 100) AS BIGINT),
                CAST(ROUND(i.interest_paid * 100) AS BIGINT),
                s.due_on, s.principal_due, s.interest_due, s.principal_paid, s.interest_paid
            FROM imp_inst s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            LEFT JOIN portfolio_installment i ON i.loan_id = l.id AND i.seq = s.seq
            WHERE i.id IS NULL
                OR i.due_on <> s.due_on
                OR ROUND(i.principal_due * 100) <> s.principal_due
                OR ROUND(i.interest_due * 100) <> s.interest_due
                OR ROUND(i.principal_paid * 100) <> s.principal_paid
                OR ROUND(i.interest_paid * 100) <> s.interest_paid
            """,
            [self.client_id],
        )
        removed = self.fetch(
            f"""
            SELECT l.id, l.contract_no, i.seq,
                i.due_on, CAST(ROUND(i.principal_due * 100) AS BIGINT),
                CAST(ROUND(i.interest_due * 100) AS BIGINT),
                CAST(ROUND(i.principal_paid * 100) AS BIGINT),
                CAST(ROUND(i.interest_paid * 100) AS BIGINT)
            FROM portfolio_installment i JOIN portfolio_loan l ON l.id = i.loan_id
            WHERE {self._removed_condition()}
            """,
            [self.client_id],
        )
        for row in [*changed, *removed]:
            loan_id, contract_no, seq = row[0], row[1], str(row[2])
            old = values(row[3:8])
            new = values(row[8:13]) if len(row) > 8 else None
            if old is not None and new is not None:
                keys = [k for k in old if old[k] != new[k]]
                old = {k: old[k] for k in keys}
                new = {k: new[k] for k in keys}
            change = changes.setdefault(loan_id, LoanChange(loan_id, contract_no))
            change.before.setdefault("installments", {})[seq] = old
            change.after.setdefault("installments", {})[seq] = new

    def _removed_condition(self) -> str:
        """Installments of a contract in the installments sheet whose period the file
        no longer lists (the file's schedule replaces the stored one)."""
        return """
            l.client_id = %s
            AND l.contract_no IN (SELECT contract_no FROM imp_inst_contract)
            AND NOT EXISTS (
                SELECT 1 FROM imp_inst s WHERE s.contract_no = l.contract_no AND s.seq = i.seq)
        """

    # --- writes -------------------------------------------------------------------

    def write(self) -> dict[str, int]:
        counts = self.counts
        now, client = self.now, self.client_id
        debtors_before = self.fetch(
            "SELECT COUNT(*) FROM imp_debtor s JOIN portfolio_debtor d ON d.id_number = s.id_number"
        )[0][0]
        written = self.execute(
            """
            INSERT INTO portfolio_debtor (id_number, name, mobile, birth_date, gender,
                created_at, updated_at)
            SELECT s.id_number, s.name, s.mobile, s.birth_date, s.gender, %s, %s
            FROM imp_debtor s WHERE true
            ON CONFLICT (id_number) DO UPDATE
            SET name = excluded.name, mobile = excluded.mobile, updated_at = excluded.updated_at
            WHERE portfolio_debtor.name <> excluded.name
                OR portfolio_debtor.mobile <> excluded.mobile
            """,
            [now, now],
        )
        self.debtors_existed = debtors_before
        counts["debtors_created"] = self._count("imp_debtor") - debtors_before
        counts["debtors_updated"] = written - counts["debtors_created"]

        loans_before = self.fetch(
            """SELECT COUNT(*) FROM imp_loan s JOIN portfolio_loan l
               ON l.client_id = %s AND l.contract_no = s.contract_no""",
            [client],
        )[0][0]
        written = self.execute(
            """
            INSERT INTO portfolio_loan (client_id, contract_no, debtor_id, product_id, principal,
                annual_rate, penalty_annual_rate, disbursed_on, currency, segment,
                limitation_on, status, computed_as_of,
                dpd, bucket, overdue_principal, overdue_interest, penalty, balance,
                last_import_id, created_at, updated_at)
            SELECT %s, s.contract_no, d.id, p.id, s.principal_fen / 100.0,
                s.rate_u / 1000000.0, s.penalty_u / 1000000.0, s.disbursed_on, s.currency,
                s.segment, s.limitation_on, 'active', NULL, 0, 'M0', 0, 0, 0, 0, %s, %s, %s
            FROM imp_loan s
            JOIN portfolio_debtor d ON d.id_number = s.id_number
            JOIN portfolio_product p ON p.client_id = %s AND p.name = s.product
            WHERE true
            ON CONFLICT (client_id, contract_no) DO UPDATE
            SET debtor_id = excluded.debtor_id, product_id = excluded.product_id,
                principal = excluded.principal, annual_rate = excluded.annual_rate,
                penalty_annual_rate = excluded.penalty_annual_rate,
                disbursed_on = excluded.disbursed_on, currency = excluded.currency,
                segment = excluded.segment, limitation_on = excluded.limitation_on,
                last_import_id = excluded.last_import_id, updated_at = excluded.updated_at
            WHERE portfolio_loan.debtor_id <> excluded.debtor_id
                OR portfolio_loan.product_id <> excluded.product_id
                OR ROUND(portfolio_loan.principal * 100) <> ROUND(excluded.principal * 100)
                OR ROUND(portfolio_loan.annual_rate * 1000000)
                    <> ROUND(excluded.annual_rate * 1000000)
                OR COALESCE(ROUND(portfolio_loan.penalty_annual_rate * 1000000), -1)
                    <> COALESCE(ROUND(excluded.penalty_annual_rate * 1000000), -1)
                OR portfolio_loan.disbursed_on <> excluded.disbursed_on
                OR portfolio_loan.currency <> excluded.currency
                OR portfolio_loan.segment <> excluded.segment
                OR COALESCE(portfolio_loan.limitation_on, '0001-01-01')
                    <> COALESCE(excluded.limitation_on, '0001-01-01')
            """,
            [client, self.run_id, now, now, client],
        )
        counts["loans_created"] = self._count("imp_loan") - loans_before
        counts["loans_updated"] = written - counts["loans_created"]

        counts["installments_removed"] = self.execute(
            f"""
            DELETE FROM portfolio_installment WHERE id IN (
                SELECT i.id FROM portfolio_installment i
                JOIN portfolio_loan l ON l.id = i.loan_id
                WHERE {self._removed_condition()})
            """,
            [client],
        )
        counts["installments_written"] = self.execute(
            """
            INSERT INTO portfolio_installment (loan_id, seq, due_on, principal_due, interest_due,
                principal_paid, interest_paid)
            SELECT l.id, s.seq, s.due_on, s.principal_due / 100.0, s.interest_due / 100.0,
                s.principal_paid / 100.0, s.interest_paid / 100.0
            FROM imp_inst s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            WHERE true
            ON CONFLICT (loan_id, seq) DO UPDATE
            SET due_on = excluded.due_on, principal_due = excluded.principal_due,
                interest_due = excluded.interest_due, principal_paid = excluded.principal_paid,
                interest_paid = excluded.interest_paid
            WHERE portfolio_installment.due_on <> excluded.due_on
                OR ROUND(portfolio_installment.principal_due * 100)
                    <> ROUND(excluded.principal_due * 100)
                OR ROUND(portfolio_installment.interest_due * 100)
                    <> ROUND(excluded.interest_due * 100)
                OR ROUND(portfolio_installment.principal_paid * 100)
                    <> ROUND(excluded.principal_paid * 100)
                OR ROUND(portfolio_installment.interest_paid * 100)
                    <> ROUND(excluded.interest_paid * 100)
            """,
            [client],
        )
        self._write_contacts()
        self._write_addresses()
        return counts

    def _count(self, table: str) -> int:
        return int(self.fetch(f"SELECT COUNT(*) FROM {table}")[0][0])

    def _write_contacts(self) -> None:
        counts, now, client = self.counts, self.now, self.client_id
        # The loans sheet's mobile: the debtor's own primary phone.
        written = self.execute(
            """
            INSERT INTO portfolio_contactpoint (debtor_id, related_person_id, kind, value, status,
                source, is_primary, created_at, updated_at)
            SELECT d.id, NULL, 'phone', s.mobile, 'unverified', 'import', true, %s, %s
            FROM imp_debtor s JOIN portfolio_debtor d ON d.id_number = s.id_number
            WHERE true
            ON CONFLICT (debtor_id, kind, value) DO UPDATE
            SET is_primary = true, related_person_id = NULL, updated_at = excluded.updated_at
            WHERE portfolio_contactpoint.is_primary = false
                OR portfolio_contactpoint.related_person_id IS NOT NULL
            """,
            [now, now],
        )
        # A debtor has one primary phone: the mobile of the latest file. (Debtors new in
        # this file have only the one, so this is skipped on a first import.)
        if self.debtors_existed:
            self.execute(
                """
                UPDATE portfolio_contactpoint SET is_primary = false, updated_at = %s
                WHERE is_primary = true AND kind = 'phone'
                    AND debtor_id IN (
                        SELECT d.id FROM imp_debtor s JOIN portfolio_debtor d
                        ON d.id_number = s.id_number)
                    AND value <> (
                        SELECT d2.mobile FROM portfolio_debtor d2
                        WHERE d2.id = portfolio_contactpoint.debtor_id)
                """,
                [now],
            )
        # ON CONFLICT DO NOTHING also absorbs duplicates within the statement, so no
        # DISTINCT / GROUP BY is needed for these two.
        counts["related_persons_created"] = self.execute(
            """
            INSERT INTO portfolio_relatedperson (debtor_id, name, relation, refused_contact,
                source, created_at, updated_at)
            SELECT l.debtor_id, s.name, s.relation, false, 'import', %s, %s
            FROM imp_contact s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            WHERE s.relation <> 'self'
            ON CONFLICT (debtor_id, name, relation) DO NOTHING
            """,
            [now, now, client],
        )
        points = """
            SELECT l.debtor_id, rp.id AS rp_id, '{kind}' AS kind, s.{column} AS value,
                s.workplace AS workplace
            FROM imp_contact s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            LEFT JOIN portfolio_relatedperson rp ON s.relation <> 'self'
                AND rp.debtor_id = l.debtor_id AND rp.name = s.name
                AND rp.relation = s.relation
            WHERE s.{column} IS NOT NULL
        """
        written += self.execute(
            f"""
            INSERT INTO portfolio_contactpoint (debtor_id, related_person_id, kind, value, status,
                source, is_primary, is_workplace, created_at, updated_at)
            SELECT x.debtor_id, x.rp_id, x.kind, x.value, 'unverified', 'import', false,
                x.workplace = 1, %s, %s
            FROM (
                {points.format(kind="phone", column="phone")}
                UNION ALL
                {points.format(kind="email", column="email")}
            ) x
            WHERE true
            ON CONFLICT (debtor_id, kind, value) DO NOTHING
            """,
            [now, now, client, client],
        )
        # A workplace mark on a number or address already on file. The file only adds the
        # mark: taking it off is done in the admin (audited).
        written += self.execute(
            f"""
            UPDATE portfolio_contactpoint SET is_workplace = true, updated_at = %s
            WHERE is_workplace = false AND related_person_id IS NULL AND id IN (
                SELECT cp.id FROM ({self._file_points()}) x
                JOIN portfolio_contactpoint cp ON cp.debtor_id = x.debtor_id
                    AND cp.kind = x.kind AND cp.value = x.value
                WHERE x.workplace = 1)
            """,
            [now, client, client],
        )
        counts["contact_points_written"] = written
        self._write_opt_outs()

    def _file_points(self) -> str:
        """The file's contact rows as (debtor, kind, value, workplace, opt-outs) rows, one
        per phone and per e-mail; two ``%s`` for the client."""
        row = """
            SELECT l.debtor_id, '{kind}' AS kind, s.{column} AS value, s.workplace,
                {calls} AS opt_call, {sms} AS opt_sms, {email} AS opt_email
            FROM imp_contact s
            JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
            WHERE s.{column} IS NOT NULL
        """
        return (
            row.format(kind="phone", column="phone", calls="s.opt_call", sms="s.opt_sms", email="0")
            + " UNION ALL "
            + row.format(kind="email", column="email", calls="0", sms="0", email="s.opt_email")
        )

    def _write_opt_outs(self) -> None:
        """An opt-out in the file, once per number or address and channel: a withdrawn
        consent entry from the client's file, unless the file's opt-out is on record
        already (so a later consent the debtor gave is not undone by importing again)."""
        channels = " UNION ALL ".join(
            f"SELECT x.debtor_id, x.kind, x.value, '{ch}' AS channel FROM "
            f"({self._file_points()}) x WHERE x.opt_{ch} = 1"
            for ch in ("call", "sms", "email")
        )
        note = f"import {self.run_id}"
        self.counts["opt_outs_recorded"] = self.execute(
            f"""
            INSERT INTO portfolio_contactconsent (contact_point_id, channel, state, at, source,
                note, recorded_by_id, recorded_at)
            SELECT DISTINCT cp.id, o.channel, 'withdrawn', %s, 'import', %s,
                (SELECT r.actor_id FROM portfolio_importrun r WHERE r.id = %s), %s
            FROM ({channels}) o
            JOIN portfolio_contactpoint cp ON cp.debtor_id = o.debtor_id
                AND cp.kind = o.kind AND cp.value = o.value
            WHERE NOT EXISTS (
                SELECT 1 FROM portfolio_contactconsent c
                WHERE c.contact_point_id = cp.id AND c.channel = o.channel
                    AND c.source = 'import' AND c.state = 'withdrawn')
            """,
            [self.now, note, self.run_id, self.now] + [self.client_id] * 6,
        )

    def opt_outs_written(self) -> list[tuple[int, int, str]]:
        """(consent id, contact point id, channel) of the opt-outs this import recorded."""
        return [
            (int(a), int(b), str(c))
            for a, b, c in self.fetch(
                """
                SELECT id, contact_point_id, channel FROM portfolio_contactconsent
                WHERE source = 'import' AND note = %s ORDER BY id
                """,
                [f"import {self.run_id}"],
            )
        ]

    def _write_addresses(self) -> None:
        columns = """portfolio_address (debtor_id, kind, text, province, city, district,
                lat, lon, source, is_valid, created_at, updated_at)"""
        if not self.debtors_existed:
            # Every debtor is new: nothing to update, duplicates are simply skipped.
            self.counts["addresses_written"] = self.execute(
                f"""
                INSERT INTO {columns}
                SELECT l.debtor_id, s.kind, s.text, s.province, s.city, s.district, s.lat, s.lon,
                    'import', true, %s, %s
                FROM imp_addr s
                JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
                WHERE true
                ON CONFLICT (debtor_id, kind, text) DO NOTHING
                """,
                [self.now, self.now, self.client_id],
            )
            return
        # An upsert may touch a row once per statement (PostgreSQL): one row per key.
        self.counts["addresses_written"] = self.execute(
            f"""
            INSERT INTO {columns}
            SELECT g.debtor_id, g.kind, g.text, g.province, g.city, g.district, g.lat, g.lon,
                'import', true, %s, %s
            FROM (
                SELECT l.debtor_id, s.kind, s.text, MAX(s.province) AS province,
                    MAX(s.city) AS city, MAX(s.district) AS district,
                    MAX(s.lat) AS lat, MAX(s.lon) AS lon
                FROM imp_addr s
                JOIN portfolio_loan l ON l.client_id = %s AND l.contract_no = s.contract_no
                GROUP BY l.debtor_id, s.kind, s.text) g
            WHERE true
            ON CONFLICT (debtor_id, kind, text) DO UPDATE
            SET province = excluded.province, city = excluded.city,
                district = excluded.district, lat = excluded.lat, lon = excluded.lon,
                updated_at = excluded.updated_at
            WHERE portfolio_address.province <> excluded.province
                OR portfolio_address.city <> excluded.city
                OR portfolio_address.district <> excluded.district
                OR COALESCE(ROUND(portfolio_address.lat * 1000000), -999999999)
                    <> COALESCE(ROUND(excluded.lat * 1000000), -999999999)
                OR COALESCE(ROUND(portfolio_address.lon * 1000000), -999999999)
                    <> COALESCE(ROUND(excluded.lon * 1000000), -999999999)
            """,
            [self.now, self.now, self.client_id],
        )


def _rows(frame: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as tuples, a slice at a time (bounded memory)."""
    for start in range(0, frame.height, STAGE_CHUNK):
        yield from frame.slice(start, STAGE_CHUNK).iter_rows()
