"""The SQL of the portfolio run, for SQLite and PostgreSQL, in one place.

Every statement is set-based: one statement updates every loan (or case) in scope.

Amounts are summed in integer fen (``ROUND(amount * 100)``) and divided back by 100 when
written: on SQLite a decimal column holds a binary float, and summing fen keeps the
result exact to the fen. On PostgreSQL the same expressions run on ``numeric``.

The two databases differ only in how a date literal is written and how two dates are
subtracted; ``Dialect`` holds those two differences. The run's date is written into the
SQL as a literal (it is a ``datetime.date``, formatted by ``isoformat``, so it cannot carry
anything but digits and dashes); text values go in as parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cuishou.cases.choices import Stage
from cuishou.portfolio.choices import Bucket

# Upper dpd bound of each bucket; above the last bound is M7+. Mirrors
# ``cuishou.portfolio.choices.bucket_for_dpd`` (a test checks they agree).
BUCKET_BANDS: tuple[tuple[int, str], ...] = (
    (0, Bucket.M0.value),
    (30, Bucket.M1.value),
    (60, Bucket.M2.value),
    (90, Bucket.M3.value),
    (120, Bucket.M4.value),
    (150, Bucket.M5.value),
    (180, Bucket.M6.value),
)
BUCKET_OVER = Bucket.M7.value

# The default stage ladder of a new case, by the bucket of its worst loan. Within the grace
# days (or M0) a case starts with a reminder; M4 and later go to legal.
STAGE_LADDER: tuple[tuple[int, str], ...] = (
    (30, Stage.PHONE.value),  # M1
    (60, Stage.WRITTEN.value),  # M2
    (90, Stage.VISIT.value),  # M3
)
STAGE_OVER = Stage.LEGAL.value  # M4+
STAGE_WITHIN_GRACE = Stage.REMINDER.value


@dataclass(frozen=True)
class Dialect:
    vendor: str

    def date(self, value: dt.date) -> str:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise TypeError(f"a date is needed, not {value!r}")
        if self.vendor == "postgresql":
            return f"DATE '{value.isoformat()}'"
        return f"'{value.isoformat()}'"  # SQLite keeps dates as ISO text

    def days_between(self, later: str, earlier: str) -> str:
        if self.vendor == "postgresql":
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def fen(amount: str) -> str:
    return f"ROUND(({amount}) * 100)"


def bucket_case(dpd: str) -> str:
    """``CASE`` giving the bucket of a dpd expression."""
    whens = " ".join(f"WHEN {dpd} <= {bound} THEN '{name}'" for bound, name in BUCKET_BANDS)
    return f"CASE {whens} ELSE '{BUCKET_OVER}' END"


def stage_case(dpd: str, grace: str) -> str:
    """``CASE`` giving the starting stage of a new case from its worst dpd and grace days."""
    whens = " ".join(f"WHEN {dpd} <= {bound} THEN '{stage}'" for bound, stage in STAGE_LADDER)
    return f"CASE WHEN {dpd} <= {grace} THEN '{STAGE_WITHIN_GRACE}' {whens} ELSE '{STAGE_OVER}' END"


def _scope(column: str, client_id: int | None) -> str:
    return "1 = 1" if client_id is None else f"{column} = {int(client_id)}"


def loan_figures(d: Dialect, as_of: dt.date, client_id: int | None) -> str:
    """Per loan: overdue principal and interest (fen), outstanding principal (fen), dpd.

    Overdue means due strictly before ``as_of``: an installment due on the day itself is
    not overdue yet. dpd counts from the oldest such installment with anything unpaid
    (principal or interest); 0 when there is none. A loan without installments is all 0.
    """
    day = d.date(as_of)
    overdue = f"i.due_on < {day}"
    unpaid_p = "i.principal_due - i.principal_paid"
    unpaid_i = "i.interest_due - i.interest_paid"
    return f"""
        SELECT a.loan_id,
               a.overdue_principal_fen,
               a.overdue_interest_fen,
               a.outstanding_principal_fen,
               CASE WHEN a.oldest_unpaid_due IS NULL THEN 0
                    ELSE {d.days_between(day, "a.oldest_unpaid_due")} END AS dpd
        FROM (
            SELECT l.id AS loan_id,
                   COALESCE(SUM(CASE WHEN {overdue} THEN {fen(unpaid_p)} ELSE 0 END), 0)
                       AS overdue_principal_fen,
                   COALESCE(SUM(CASE WHEN {overdue} THEN {fen(unpaid_i)} ELSE 0 END), 0)
                       AS overdue_interest_fen,
                   COALESCE(SUM({fen(unpaid_p)}), 0) AS outstanding_principal_fen,
                   MIN(CASE WHEN {overdue}
                             AND (i.principal_paid < i.principal_due
                                  OR i.interest_paid < i.interest_due)
                            THEN i.due_on END) AS oldest_unpaid_due
            FROM portfolio_loan l
            LEFT JOIN portfolio_installment i ON i.loan_id = l.id
            WHERE {_scope("l.client_id", client_id)}
            GROUP BY l.id
        ) a
    """


def update_loans(d: Dialect, as_of: dt.date, client_id: int | None) -> str:
    """Write each loan's computed state. Parameters: updated_at.

    balance = outstanding principal (every installment, due or not) + overdue interest
    + penalty; penalty is 0 until penalty interest is computed (a later issue)."""
    return f"""
        UPDATE portfolio_loan
        SET overdue_principal = s.overdue_principal_fen / 100.0,
            overdue_interest = s.overdue_interest_fen / 100.0,
            penalty = 0,
            balance = (s.outstanding_principal_fen + s.overdue_interest_fen) / 100.0,
            dpd = s.dpd,
            bucket = {bucket_case("s.dpd")},
            computed_as_of = {d.date(as_of)},
            updated_at = %s
        FROM ({loan_figures(d, as_of, client_id)}) s
        WHERE portfolio_loan.id = s.loan_id
    """


def debtor_figures(client_id: int | None) -> str:
    """Per debtor and client, from the loans just computed: worst dpd, overdue amount and
    balance (fen), penalty (fen), and the longest grace days among their products."""
    return f"""
        SELECT l.client_id, l.debtor_id,
               MAX(l.dpd) AS max_dpd,
               SUM({fen("l.overdue_principal + l.overdue_interest")}) AS overdue_fen,
               SUM({fen("l.penalty")}) AS penalty_fen,
               SUM({fen("l.balance")}) AS balance_fen,
               MAX(p.grace_days) AS grace_days
        FROM portfolio_loan l
        JOIN portfolio_product p ON p.id = l.product_id
        WHERE {_scope("l.client_id", client_id)}
        GROUP BY l.client_id, l.debtor_id
    """


def _case_in_scope(client_id: int | None) -> str:
    return _scope("cases_case.client_id", client_id)


def update_case_figures(
    d: Dialect, as_of: dt.date, client_id: int | None, statuses: list[str]
) -> str:
    """Refresh bucket, dpd and amounts of the cases in ``statuses``. Parameters: updated_at."""
    return f"""
        UPDATE cases_case
        SET dpd = f.max_dpd,
            bucket = {bucket_case("f.max_dpd")},
            overdue_amount = f.overdue_fen / 100.0,
            penalty = f.penalty_fen / 100.0,
            balance = f.balance_fen / 100.0,
            computed_as_of = {d.date(as_of)},
            updated_at = %s
        FROM ({debtor_figures(client_id)}) f
        WHERE cases_case.client_id = f.client_id
          AND cases_case.debtor_id = f.debtor_id
          AND cases_case.status IN ({_quoted(statuses)})
          AND {_case_in_scope(client_id)}
    """


def _nothing_overdue(client_id: int | None) -> str:
    return f"""NOT EXISTS (
            SELECT 1 FROM ({debtor_figures(client_id)}) f
            WHERE f.client_id = cases_case.client_id
              AND f.debtor_id = cases_case.debtor_id
              AND f.overdue_fen > 0)"""


def cases_to_cure(client_id: int | None, statuses: list[str]) -> str:
    """The open cases with nothing overdue: id, status, bucket, dpd (before curing)."""
    return f"""
        SELECT cases_case.id, cases_case.status, cases_case.bucket, cases_case.dpd
        FROM cases_case
        WHERE cases_case.status IN ({_quoted(statuses)})
          AND {_case_in_scope(client_id)}
          AND {_nothing_overdue(client_id)}
        ORDER BY cases_case.id
    """


def cure_cases(
    d: Dialect, as_of: dt.date, client_id: int | None, statuses: list[str], cured: str
) -> str:
    """Mark the open cases with nothing overdue cured. Parameters: status_reason, updated_at."""
    return f"""
        UPDATE cases_case
        SET status = '{cured}', status_reason = %s, updated_at = %s,
            dpd = 0, bucket = '{BUCKET_BANDS[0][1]}', overdue_amount = 0,
            computed_as_of = {d.date(as_of)}
        WHERE cases_case.status IN ({_quoted(statuses)})
          AND {_case_in_scope(client_id)}
          AND {_nothing_overdue(client_id)}
    """


def reopen_cases(client_id: int | None, cured: str, opened: str) -> str:
    """Cured cases overdue again beyond their grace days go back to open (the case file is
    one per debtor and client, so it is reopened rather than opened anew).
    Parameters: status_reason, updated_at. Returns id, bucket, dpd."""
    return f"""
        UPDATE cases_case
        SET status = '{opened}', status_reason = %s, closed_on = NULL, updated_at = %s
        FROM ({debtor_figures(client_id)}) f
        WHERE cases_case.client_id = f.client_id
          AND cases_case.debtor_id = f.debtor_id
          AND cases_case.status = '{cured}'
          AND f.max_dpd > f.grace_days
          AND {_case_in_scope(client_id)}
        RETURNING cases_case.id, cases_case.bucket, cases_case.dpd
    """


def open_cases(d: Dialect, as_of: dt.date, client_id: int | None, opened: str) -> str:
    """A new case for every debtor and client overdue beyond the grace days with no case.
    Parameters: created_at, updated_at. Returns id, stage, bucket, dpd, overdue and
    balance in fen."""
    day = d.date(as_of)
    return f"""
        INSERT INTO cases_case (
            client_id, debtor_id, stage, stage_set_by_hand, status, status_reason,
            assignee_id, bucket, dpd, overdue_amount, penalty, balance,
            computed_as_of, opened_on, closed_on, created_at, updated_at)
        SELECT f.client_id, f.debtor_id, {stage_case("f.max_dpd", "f.grace_days")}, FALSE,
               '{opened}', '', NULL, {bucket_case("f.max_dpd")}, f.max_dpd,
               f.overdue_fen / 100.0, f.penalty_fen / 100.0, f.balance_fen / 100.0,
               {day}, {day}, NULL, %s, %s
        FROM ({debtor_figures(client_id)}) f
        WHERE f.max_dpd > f.grace_days
          AND NOT EXISTS (
              SELECT 1 FROM cases_case c
              WHERE c.client_id = f.client_id AND c.debtor_id = f.debtor_id)
        ORDER BY f.client_id, f.debtor_id
        ON CONFLICT (client_id, debtor_id) DO NOTHING
        RETURNING id, stage, bucket, dpd, {fen("overdue_amount")}, {fen("balance")}
    """


def lock_clients(d: Dialect, client_id: int | None) -> str:
    """Lock the clients in scope (as the importer does), so a run and an import of the same
    client, or two runs, do not interleave. SQLite serialises writers by itself."""
    suffix = " FOR UPDATE" if d.vendor == "postgresql" else ""
    return f"SELECT id FROM portfolio_client WHERE {_scope('id', client_id)} ORDER BY id{suffix}"


def _quoted(values: list[str]) -> str:
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"not a status code: {value!r}")
    return ", ".join(f"'{v}'" for v in values)
