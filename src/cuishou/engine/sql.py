"""The SQL of the portfolio run, for SQLite and PostgreSQL, in one place.

Every statement is set-based: one statement computes or updates every loan (or case) in
scope. The definitions are in ``docs/engine.md``; this module is their SQL.

Amounts are computed in integer fen (``CAST(ROUND(amount * 100) AS BIGINT)``) and divided
back by 100 only when written: on SQLite a decimal column holds a binary float, and integer
fen keep every sum exact. Penalty interest is summed in fen-days (fen × days) per loan and
turned into fen once, rounding half up, so the result does not depend on how the days are
grouped.

The run's date is written into the SQL as a literal (a ``datetime.date``, formatted by
``isoformat``, so it carries nothing but digits and dashes); numbers are ``int``-checked;
text values go in as parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cuishou.cases.choices import STAGE_ORDER, Stage
from cuishou.core.timeutil import require_date
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

# The default ladder (a client's ``StageRule`` rows override it bucket by bucket). Within
# the grace days a case is at the reminder stage.
DEFAULT_LADDER: dict[str, str] = {
    Bucket.M0.value: Stage.REMINDER.value,
    Bucket.M1.value: Stage.PHONE.value,
    Bucket.M2.value: Stage.WRITTEN.value,
    Bucket.M3.value: Stage.VISIT.value,
    Bucket.M4.value: Stage.LEGAL.value,
    Bucket.M5.value: Stage.LEGAL.value,
    Bucket.M6.value: Stage.LEGAL.value,
    Bucket.M7.value: Stage.LEGAL.value,
}
STAGE_WITHIN_GRACE = Stage.REMINDER.value
# Which rule gave a case its stage (named in the audit event of a stage change).
RULE_GRACE, RULE_CLIENT, RULE_DEFAULT = "grace", "client", "default"

MICRO = 1_000_000  # rates have six decimal places

# The dated ledger the figures read: payment allocations and the lines a settlement
# waived (``cases.WaiverLine``), which count exactly like a payment with that value date
# (docs/payments.md). Both tables have the same columns (loan_id, installment_id,
# component, amount, value_date, is_reversed). Each statement reads them one at a time
# and adds the results: read as one UNION ALL, the allocations lose the order of their
# installment index, and grouping them needs a sort of every allocation.
LEDGER_TABLES = ("payments_paymentallocation", "cases_waiverline")
ALLOCATIONS, WAIVERS = LEDGER_TABLES


@dataclass(frozen=True)
class Dialect:
    vendor: str

    @property
    def pg(self) -> bool:
        return self.vendor == "postgresql"

    def date(self, value: dt.date) -> str:
        require_date(value, field="date")
        if self.pg:
            return f"DATE '{value.isoformat()}'"
        return f"'{value.isoformat()}'"  # SQLite keeps dates as ISO text

    def days_between(self, later: str, earlier: str) -> str:
        if self.pg:
            return f"({later} - {earlier})"
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def minus_days(self, day: dt.date, days: str) -> str:
        """The date ``days`` (an integer expression) before ``day``."""
        if self.pg:
            return f"({self.date(day)} - {days})"
        return f"date({self.date(day)}, (-({days})) || ' days')"

    def plus_days(self, date_expr: str, days: str) -> str:
        if self.pg:
            return f"({date_expr} + {days})"
        return f"date({date_expr}, ({days}) || ' days')"

    def greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(args)})"

    def least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({', '.join(args)})"

    def div_half_up(self, num: str, den: str) -> str:
        """round_half_up(num / den) for non-negative integers, without overflow on PG."""
        if self.pg:
            return f"CAST(ROUND(({num}) / ({den})) AS BIGINT)"
        return f"((2 * ({num}) + ({den})) / (2 * ({den})))"

    def div_floor(self, num: str, den: str) -> str:
        if self.pg:
            return f"CAST(FLOOR(({num}) / ({den})) AS BIGINT)"
        return f"(({num}) / ({den}))"

    def wide(self, expr: str) -> str:
        """``expr`` widened before a product that may pass 64 bits (PostgreSQL raises on
        bigint overflow; SQLite would turn it into a float, beyond any real loan)."""
        return f"CAST({expr} AS NUMERIC)" if self.pg else expr

    def fence(self) -> str:
        """Appended to a subquery in FROM so that it is not merged into the outer query
        (which would copy its expressions, correlated subqueries included, into every
        place the outer query names a column)."""
        return "OFFSET 0" if self.pg else "LIMIT -1 OFFSET 0"

    def true(self) -> str:
        return "TRUE" if self.pg else "1"

    def as_bool(self, condition: str) -> str:
        if self.pg:
            return f"({condition})"
        return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"


@dataclass(frozen=True)
class Scope:
    """Which loans and cases a statement covers: a client, a debtor id range (a shard),
    the debtors a backdated change marked (history replays), one loan, or a list of
    loans (a bulk posting's penalty)."""

    client_id: int | None = None
    debtor_lo: int | None = None  # debtor_id >= debtor_lo
    debtor_hi: int | None = None  # debtor_id <  debtor_hi
    marked_on: dt.date | None = None  # debtors with a RecomputeMark from on or before this day
    loan_id: int | None = None
    loan_ids: tuple[int, ...] | None = None

    def where(self, d: Dialect, alias: str, *, loan: bool) -> str:
        """The predicate on ``alias`` (a loan when ``loan``, else a case or any row with
        client_id and debtor_id)."""
        parts = ["1 = 1"]
        if self.client_id is not None:
            parts.append(f"{alias}.client_id = {int(self.client_id)}")
        if self.debtor_lo is not None:
            parts.append(f"{alias}.debtor_id >= {int(self.debtor_lo)}")
        if self.debtor_hi is not None:
            parts.append(f"{alias}.debtor_id < {int(self.debtor_hi)}")
        if self.marked_on is not None:
            parts.append(
                f"""EXISTS (SELECT 1 FROM engine_recomputemark m
                    WHERE m.client_id = {alias}.client_id AND m.debtor_id = {alias}.debtor_id
                      AND m.from_date <= {d.date(self.marked_on)})"""
            )
        if self.loan_id is not None:
            if not loan:
                raise ValueError("a one-loan scope applies to loans only")
            parts.append(f"{alias}.id = {int(self.loan_id)}")
        if self.loan_ids is not None:
            if not loan:
                raise ValueError("a scope of loans applies to loans only")
            listed = ", ".join(str(int(i)) for i in self.loan_ids) or "NULL"
            parts.append(f"{alias}.id IN ({listed})")
        return " AND ".join(parts)


def fen(amount: str) -> str:
    return f"CAST(ROUND(({amount}) * 100) AS BIGINT)"


def bucket_case(dpd: str) -> str:
    """``CASE`` giving the bucket of a dpd expression."""
    whens = " ".join(f"WHEN {dpd} <= {bound} THEN '{name}'" for bound, name in BUCKET_BANDS)
    return f"CASE {whens} ELSE '{BUCKET_OVER}' END"


def default_stage_case(bucket: str) -> str:
    whens = " ".join(f"WHEN '{b}' THEN '{s}'" for b, s in DEFAULT_LADDER.items())
    return f"CASE {bucket} {whens} END"


def stage_rank(stage: str) -> str:
    whens = " ".join(f"WHEN '{s}' THEN {rank}" for rank, s in enumerate(STAGE_ORDER))
    return f"CASE {stage} {whens} ELSE 0 END"


def _quoted(values: list[str]) -> str:
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"not a code: {value!r}")
    return ", ".join(f"'{v}'" for v in values)


# --- per loan -----------------------------------------------------------------------


def _products(d: Dialect, as_of: dt.date) -> str:
    """Each product's terms plus the last due date that is past its grace days as of the
    day (computed once per product, not once per installment)."""
    return f"""
        SELECT pp.id, pp.grace_days, pp.day_count_basis, pp.compound_penalty,
               pp.annual_cost_cap, pp.penalty_annual_rate,
               {d.minus_days(as_of, "pp.grace_days")} AS grace_until
        FROM portfolio_product pp
    """


def _ledger_sums(d: Dialect, as_of: dt.date, scope: Scope, table: str) -> str:
    """Per installment with dated (not reversed) rows of one ledger table: what was paid
    after the day (still unpaid as of it), the fen-days those payments did not stop, and
    the last value date (for the grace rule: paid after the grace period).

    It needs nothing of the product, so it reads the ledger rows and their installments
    alone (over the whole portfolio, in the order of the ledger's installment index, with
    no sort), and the loans are looked up once per installment, not once per row. A row
    paid after its due date (and before the day) stopped a fen-day count at its value
    date: it bore ``min(value date, day) − due`` days."""
    day = d.date(as_of)
    amount = fen("a.amount")
    late = f"a.value_date > {day}"
    bore = d.days_between(d.least("a.value_date", day), "i.due_on")
    bore_when = f"a.value_date > i.due_on AND i.due_on < {day}"
    unpaid_now = fen("i.principal_due - i.principal_paid + i.interest_due - i.interest_paid")
    if _is_whole(scope):
        rows = f"FROM {table} a JOIN portfolio_installment i ON i.id = a.installment_id"
        where = "1 = 1"
    else:
        rows = f"""FROM portfolio_loan l
        JOIN {table} a ON a.loan_id = l.id
        JOIN portfolio_installment i ON i.id = a.installment_id"""
        where = scope.where(d, "l", loan=True)
    # PostgreSQL wants the installment's key among the groups (its columns depend on it);
    # SQLite, grouping by the ledger's installment id alone, reads that index in order.
    group_by = "a.installment_id, i.id" if d.pg else "a.installment_id"
    return f"""
        SELECT a.installment_id, i.loan_id, i.due_on, {unpaid_now} AS unpaid_now,
               SUM(CASE WHEN a.component = 'principal' AND {late} THEN {amount} ELSE 0 END)
                   AS p_late,
               SUM(CASE WHEN a.component = 'interest' AND {late} THEN {amount} ELSE 0 END)
                   AS i_late,
               SUM(CASE WHEN a.component = 'principal' AND {bore_when}
                        THEN {amount} * {bore} ELSE 0 END) AS p_bore,
               SUM(CASE WHEN a.component = 'interest' AND {bore_when}
                        THEN {amount} * {bore} ELSE 0 END) AS i_bore,
               MAX(a.value_date) AS last_paid
        {rows}
        WHERE NOT a.is_reversed AND a.installment_id IS NOT NULL AND {where}
        GROUP BY {group_by}
    """


def _ledger_per_installment(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per installment with dated ledger rows: the sums of ``_ledger_sums`` over both
    tables. The allocations' sums (many, read in index order) are joined to the waivers'
    sums (few), and installments with waiver lines only are added below them; the sums
    cannot simply be added per loan, as eligibility for penalty reads the installment's
    last value date over both."""
    waivers = _ledger_sums(d, as_of, scope, WAIVERS)
    sums = ("p_late", "i_late", "p_bore", "i_bore")
    added = ", ".join(f"a.{c} + COALESCE(w.{c}, 0) AS {c}" for c in sums)
    both = d.greatest("a.last_paid", "w.last_paid")
    last = f"CASE WHEN w.last_paid IS NULL THEN a.last_paid ELSE {both} END"
    return f"""
        SELECT a.installment_id, a.loan_id, a.due_on, a.unpaid_now, {added},
               {last} AS last_paid
        FROM ({_ledger_sums(d, as_of, scope, ALLOCATIONS)}) a
        LEFT JOIN ({waivers}) w ON w.installment_id = a.installment_id
        UNION ALL
        SELECT w.installment_id, w.loan_id, w.due_on, w.unpaid_now,
               {", ".join(f"w.{c}" for c in sums)}, w.last_paid
        FROM ({waivers}) w
        WHERE NOT EXISTS (
            SELECT 1 FROM {ALLOCATIONS} pa
            WHERE pa.installment_id = w.installment_id AND NOT pa.is_reversed)
    """


def _ledger_rows(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per installment with dated ledger rows, in the columns of the corrections: the
    amounts paid after the day, the oldest installment they leave unpaid, and the
    fen-days the payments did not stop on installments that bear penalty (past their
    grace days as of the day, and unpaid or paid after the grace period)."""
    day = d.date(as_of)
    paid_after_grace = f"{d.days_between('x.last_paid', 'x.due_on')} > p.grace_days"
    eligible = f"x.due_on < p.grace_until AND (x.unpaid_now > 0 OR {paid_after_grace})"
    return f"""
        SELECT x.loan_id,
               CASE WHEN x.due_on < {day} THEN x.p_late ELSE 0 END AS op_late,
               CASE WHEN x.due_on < {day} THEN x.i_late ELSE 0 END AS oi_late,
               x.p_late AS outp_late,
               CASE WHEN x.due_on < {day} AND x.p_late + x.i_late > 0
                    THEN x.due_on END AS late_oldest,
               CASE WHEN {eligible} THEN x.p_bore ELSE 0 END AS fdp,
               CASE WHEN {eligible} THEN x.i_bore ELSE 0 END AS fdi,
               0 AS paid
        FROM ({_ledger_per_installment(d, as_of, scope)}) x
        JOIN portfolio_loan l ON l.id = x.loan_id
        JOIN ({_products(d, as_of)} {d.fence()}) p ON p.id = l.product_id
    """


def _pause_fen_days(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per loan with penalty pauses: the fen-days (principal, interest) that fall on paused
    accrual days, to subtract. For an installment the accrual days in a pause are
    t in [max(starts_on, due + 1), min(ends_on, D)], each on the amount unpaid at the end
    of day t − 1, i.e. end-of-day balances of days [a, b] with a = max(starts_on − 1, due),
    b = min(ends_on, D) − 1.

    The installments of the paused loans that bear penalty (past grace, and unpaid or paid
    after the grace period) are found once, with their [a, b], and then give their unpaid
    amounts' fen-days and, joined to the ledger, those of the amounts paid in the span."""
    day = d.date(as_of)
    start = d.greatest(d.plus_days("z.starts_on", "-1"), "i.due_on")
    end = d.plus_days(d.least(f"COALESCE(z.ends_on, {day})", day), "-1")
    span = d.greatest("0", f"{d.days_between(end, start)} + 1")
    unpaid_p = fen("i.principal_due - i.principal_paid")
    unpaid_i = fen("i.interest_due - i.interest_paid")
    # Paid after the grace period (for the grace rule), looked up per installment: pauses
    # touch few installments, and the ledger is indexed by installment.
    after_grace = " OR ".join(
        f"""EXISTS (
        SELECT 1 FROM {table} g
        WHERE g.installment_id = i.id AND NOT g.is_reversed
          AND g.component IN ('principal', 'interest')
          AND {d.days_between("g.value_date", "i.due_on")} > p.grace_days)"""
        for table in LEDGER_TABLES
    )
    eligible = f"i.due_on < p.grace_until AND ({unpaid_p} + {unpaid_i} > 0 OR {after_grace})"
    # Pauses are few: SQLite must start from them (CROSS JOIN fixes its join order), not
    # from every installment. PostgreSQL plans this by itself and has no CROSS JOIN … ON.
    join = "JOIN" if d.pg else "CROSS JOIN"
    spans = f"""
            SELECT i.id AS installment_id, i.loan_id, {start} AS span_start, {span} AS span,
                   {unpaid_p} AS unpaid_p, {unpaid_i} AS unpaid_i
            FROM portfolio_penaltypause z
            {join} portfolio_loan l ON l.id = z.loan_id
            {join} ({_products(d, as_of)}) p ON p.id = l.product_id
            {join} portfolio_installment i ON i.loan_id = z.loan_id
            WHERE {scope.where(d, "l", loan=True)} AND z.starts_on <= {day}
              AND {eligible}"""
    amount = fen("a.amount")
    # Days of [a, b] before the value date: the payment still counted as unpaid then.
    bore = d.least(d.greatest("0", d.days_between("a.value_date", "e.span_start")), "e.span")
    paid_rows = "".join(
        f"""
            UNION ALL
            SELECT e.loan_id,
                   CASE WHEN a.component = 'principal' THEN {amount} * {bore} ELSE 0 END,
                   CASE WHEN a.component = 'interest' THEN {amount} * {bore} ELSE 0 END
            FROM e {join} {table} a ON a.installment_id = e.installment_id AND NOT a.is_reversed"""
        for table in LEDGER_TABLES
    )
    return f"""
        WITH e AS MATERIALIZED ({spans})
        SELECT w.loan_id, SUM(w.fd_p) AS fd_p, SUM(w.fd_i) AS fd_i FROM (
            SELECT e.loan_id, e.unpaid_p * e.span AS fd_p, e.unpaid_i * e.span AS fd_i
            FROM e
            {paid_rows}
        ) w
        GROUP BY w.loan_id
    """


def _penalty_paid(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Penalty paid (or waived) by the day, per loan; a loan may have a row per ledger
    table (the corrections add them up)."""
    return " UNION ALL ".join(
        f"""
        SELECT a.loan_id, SUM({fen("a.amount")}) AS paid
        FROM {table} a
        JOIN portfolio_loan l ON l.id = a.loan_id
        WHERE a.component = 'penalty' AND NOT a.is_reversed
          AND a.value_date <= {d.date(as_of)} AND {scope.where(d, "l", loan=True)}
        GROUP BY a.loan_id"""
        for table in LEDGER_TABLES
    )


LOAN_COLUMNS = (
    "loan_id",
    "client_id",
    "debtor_id",
    "grace_days",
    "dpd",
    "overdue_principal_fen",
    "overdue_interest_fen",
    "outstanding_principal_fen",
    "penalty_accrued_fen",
    "penalty_paid_fen",
    "penalty_fen",
    "penalty_capped",
    "balance_fen",
)
# The working table's columns after ``LOAN_COLUMNS`` (``figures_from(flags=True)``).
FLAG_COLUMNS = ("bucket", "changed", "bucket_changed")


def _within_grace(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per loan: the fen-days (principal, interest) of overdue installments still within
    their grace days (due on or after the product's ``grace_until``), which the scan
    counted and which accrue nothing yet. Only installments due in the last
    ``MAX(grace_days)`` days can be such, so this reads a range of the due-date index."""
    day = d.date(as_of)
    up = "(i.principal_due - i.principal_paid)"
    ui = "(i.interest_due - i.interest_paid)"
    n_days = d.days_between(day, "i.due_on")
    longest = "(SELECT COALESCE(MAX(g.grace_days), 0) FROM portfolio_product g)"
    return f"""
        SELECT i.loan_id,
               SUM(CASE WHEN {up} > 0 THEN {up} * {n_days} ELSE 0 END) AS fdp,
               SUM(CASE WHEN {ui} > 0 THEN {ui} * {n_days} ELSE 0 END) AS fdi
        FROM portfolio_installment i
        JOIN portfolio_loan l ON l.id = i.loan_id
        JOIN ({_products(d, as_of)}) p ON p.id = l.product_id
        WHERE i.due_on >= {d.minus_days(as_of, longest)} AND i.due_on < {day}
          AND i.due_on >= p.grace_until
          AND {scope.where(d, "l", loan=True)}
        GROUP BY i.loan_id
    """


def _corrections(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per loan that has any: everything the installment scan does not see, in one row
    (one lookup per loan): dated allocations (amounts paid after the day, fen-days they
    did not stop, the oldest installment they leave unpaid), the fen-days of installments
    still within grace and of paused days (subtracted), and penalty paid."""
    yuan_days_to_fen = fen
    return f"""
        SELECT c.loan_id,
               SUM(c.op_late) AS op_late, SUM(c.oi_late) AS oi_late,
               SUM(c.outp_late) AS outp_late, MIN(c.late_oldest) AS late_oldest,
               SUM(c.fdp) AS fdp, SUM(c.fdi) AS fdi, SUM(c.paid) AS paid
        FROM (
            {_ledger_rows(d, as_of, scope)}
            UNION ALL
            SELECT w.loan_id, 0, 0, 0, NULL,
                   -{yuan_days_to_fen("w.fdp")}, -{yuan_days_to_fen("w.fdi")}, 0
            FROM ({_within_grace(d, as_of, scope)}) w
            UNION ALL
            SELECT z.loan_id, 0, 0, 0, NULL, -z.fd_p, -z.fd_i, 0
            FROM ({_pause_fen_days(d, as_of, scope)}) z
            UNION ALL
            SELECT pp.loan_id, 0, 0, 0, NULL, 0, 0, pp.paid
            FROM ({_penalty_paid(d, as_of, scope)}) pp
        ) c
        GROUP BY c.loan_id
    """


# The condition of the partial index ``installment_unpaid_idx`` (portfolio.Installment),
# written the same way so that SQLite sees the index applies.
UNPAID = "(i.principal_paid < i.principal_due OR i.interest_paid < i.interest_due)"

SCAN_COLUMNS = ("loan_id", "op", "oi", "outp", "oldest", "fdp", "fdi")
CORRECTION_COLUMNS = (
    "loan_id",
    "op_late",
    "oi_late",
    "outp_late",
    "late_oldest",
    "fdp",
    "fdi",
    "paid",
)


def _is_whole(scope: Scope) -> bool:
    return (
        scope.client_id is None
        and scope.debtor_lo is None
        and scope.debtor_hi is None
        and scope.marked_on is None
        and scope.loan_id is None
        and scope.loan_ids is None
    )


def installment_scan(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per loan with anything unpaid today: the columns of ``SCAN_COLUMNS`` from today's
    paid amounts (fen; fen-days for the penalty, before grace, pauses and dated
    allocations, which ``_corrections`` supplies).

    The scan reads only the installments with anything unpaid (a partial index by loan; a
    paid installment adds nothing owed) and does as little per row as it can: amounts are
    summed per loan and turned into fen once per loan (a handful of two-decimal amounts
    sum exactly enough to round to the right fen). Over the whole portfolio it reads the
    index alone, in loan order, joining nothing; a scoped run starts from its loans."""
    day = d.date(as_of)
    overdue = f"i.due_on < {day}"
    up = "(i.principal_due - i.principal_paid)"
    ui = "(i.interest_due - i.interest_paid)"
    n_days = d.days_between(day, "i.due_on")

    def f(aggregate: str) -> str:
        return f"COALESCE({fen(aggregate)}, 0)"

    # Every row has something unpaid, so the oldest due date is the oldest unpaid one, and
    # a fully paid component multiplies its days by 0 (paid never exceeds due).
    figures = f"""
               {f(f"SUM(CASE WHEN {overdue} THEN {up} END)")} AS op,
               {f(f"SUM(CASE WHEN {overdue} THEN {ui} END)")} AS oi,
               {f(f"SUM({up})")} AS outp,
               CASE WHEN MIN(i.due_on) < {day} THEN MIN(i.due_on) END AS oldest,
               {f(f"SUM(CASE WHEN {overdue} THEN {up} * {n_days} END)")} AS fdp,
               {f(f"SUM(CASE WHEN {overdue} THEN {ui} * {n_days} END)")} AS fdi"""
    if _is_whole(scope):
        return f"""
        SELECT i.loan_id, {figures}
        FROM portfolio_installment i
        WHERE {UNPAID}
        GROUP BY i.loan_id
    """
    return f"""
        SELECT l.id AS loan_id, {figures}
        FROM portfolio_loan l
        JOIN portfolio_installment i ON i.loan_id = l.id AND {UNPAID}
        WHERE {scope.where(d, "l", loan=True)}
        GROUP BY l.id
    """


def unchanged_current(d: Dialect, loan: str, scan: str) -> str:
    """The loan ``loan`` (aliased row of portfolio_loan) has, as of the run's day, the
    figures it has stored, and they are those of a current loan: computed, nothing overdue,
    no penalty, and a balance that is its unpaid principal (``scan``: its row of the
    installment scan, NULL when it has nothing unpaid). Such a loan with no dated ledger
    row and no pause has nothing to compute: overdue amounts, dpd and penalty are 0 and
    the balance is what the unpaid installments say, which the stored balance is checked
    against (an import, a reversal or an edit that changed the installments is seen).
    Most of a portfolio is such loans."""
    a, s = loan, scan
    return (
        f"({a}.computed_as_of IS NOT NULL AND {a}.dpd = 0 AND {a}.overdue_principal = 0"
        f" AND {a}.overdue_interest = 0 AND {a}.penalty = 0"
        f" AND NOT {a}.penalty_capped"
        f" AND CASE WHEN {s}.loan_id IS NULL THEN {a}.balance = 0"
        f" ELSE {s}.oldest IS NULL AND {s}.outp = {fen(f'{a}.balance')} END)"
    )


def figures_from(
    d: Dialect,
    as_of: dt.date,
    *,
    where: str,
    scan: str,
    corrections: str,
    flags: bool = False,
) -> str:
    """Per loan (``portfolio_loan``, aliased ``l``) that ``where`` keeps, as of the end of
    ``as_of``: the columns of ``LOAN_COLUMNS`` (amounts in integer fen), from the
    installment scan (``scan``, aliased ``s``) and the corrections (``corrections``,
    aliased ``x``), tables or subqueries with one row per loan, which ``where`` may read.

    With ``flags``, also the columns of ``FLAG_COLUMNS``: the bucket, whether the figures
    differ from those the loan has stored (or it was never computed) and whether its
    stored bucket does, compared here, where the loan's row is read anyway, so that the
    writes visit only the loans that change (``update_loans``, ``update_loan_buckets``)."""
    day = d.date(as_of)
    op = "(COALESCE(s.op, 0) + COALESCE(x.op_late, 0))"
    oi = "(COALESCE(s.oi, 0) + COALESCE(x.oi_late, 0))"
    outp = "(COALESCE(s.outp, 0) + COALESCE(x.outp_late, 0))"
    oldest = (
        "CASE WHEN x.late_oldest IS NULL THEN s.oldest"
        " WHEN s.oldest IS NULL THEN x.late_oldest"
        f" ELSE {d.least('s.oldest', 'x.late_oldest')} END"
    )
    fdp = "(COALESCE(s.fdp, 0) + COALESCE(x.fdp, 0))"
    fdi = "(COALESCE(s.fdi, 0) + COALESCE(x.fdi, 0))"
    compound = "p.compound_penalty" if d.pg else "p.compound_penalty <> 0"
    fen_days = f"({fdp} + CASE WHEN {compound} THEN {fdi} ELSE 0 END)"
    annual = "COALESCE(l.penalty_annual_rate, p.penalty_annual_rate)"
    rate = f"CAST(ROUND({annual} * {MICRO}) AS BIGINT)"
    days_lent = d.greatest("0", d.days_between(day, "l.disbursed_on"))
    basis = f"p.day_count_basis * {MICRO}"
    cap_rate = f"CAST(ROUND(p.annual_cost_cap * {MICRO}) AS BIGINT)"
    cap = d.div_floor(f"{d.wide(fen('l.principal'))} * {cap_rate} * {days_lent}", basis)
    # With ``flags``: the loan's stored figures, carried through to be compared.
    stored_columns = {
        "s_computed": "computed_as_of",
        "s_dpd": "dpd",
        "s_op": "overdue_principal",
        "s_oi": "overdue_interest",
        "s_penalty": "penalty",
        "s_capped": "penalty_capped",
        "s_balance": "balance",
        "s_bucket": "bucket",
    }
    stored = passed = ""
    if flags:
        stored = "".join(f", l.{col} AS {name}" for name, col in stored_columns.items())
        passed = "".join(f", t.{name}" for name in stored_columns)
    # Contractual interest due by the day, for the cap: paid installments count too, so
    # it is read per loan (through the (loan, seq) key), and only for a loan that bears
    # penalty at all.
    charged = f"""COALESCE({
        fen(f'''(SELECT SUM(ch.interest_due) FROM portfolio_installment ch
                   WHERE ch.loan_id = l.id AND ch.due_on <= {day})''')
    }, 0)"""
    with_penalty = f"""
        SELECT l.id AS loan_id, l.client_id, l.debtor_id, p.grace_days,
               {op} AS op, {oi} AS oi, {outp} AS outp, {oldest} AS oldest_unpaid_due,
               {d.div_half_up(f"{d.wide(fen_days)} * {rate}", basis)} AS raw,
               CASE WHEN {fen_days} > 0 THEN {cap} - {charged} ELSE 0 END AS room,
               COALESCE(x.paid, 0) AS paid{stored}
        FROM portfolio_loan l
        JOIN ({_products(d, as_of)}) p ON p.id = l.product_id
        LEFT JOIN {scan} s ON s.loan_id = l.id
        LEFT JOIN {corrections} x ON x.loan_id = l.id
        WHERE {where}
        {d.fence()}
    """
    accrued = d.greatest("0", d.least("t.raw", "t.room"))
    owed = d.greatest("0", f"{accrued} - t.paid")
    figures = f"""
        SELECT t.loan_id, t.client_id, t.debtor_id, t.grace_days,
               CASE WHEN t.oldest_unpaid_due IS NULL THEN 0
                    ELSE {d.days_between(day, "t.oldest_unpaid_due")} END AS dpd,
               t.op AS overdue_principal_fen,
               t.oi AS overdue_interest_fen,
               t.outp AS outstanding_principal_fen,
               {accrued} AS penalty_accrued_fen,
               t.paid AS penalty_paid_fen,
               {owed} AS penalty_fen,
               {d.as_bool(f"t.raw > {accrued}")} AS penalty_capped,
               t.outp + t.oi + {owed} AS balance_fen{passed}
        FROM ({with_penalty}) t
    """
    if not flags:
        return figures
    # The comparisons are those of the stored decimal columns with the new figures, as
    # the loan's columns hold them (fen / 100).
    differs = " OR ".join(
        [
            "u.s_computed IS NULL",
            "u.s_dpd <> u.dpd",
            "u.s_op <> u.overdue_principal_fen / 100.0",
            "u.s_oi <> u.overdue_interest_fen / 100.0",
            "u.s_penalty <> u.penalty_fen / 100.0",
            "u.s_capped <> u.penalty_capped",
            "u.s_balance <> u.balance_fen / 100.0",
        ]
    )
    bucket = bucket_case("u.dpd")
    return f"""
        SELECT {", ".join(f"u.{c}" for c in LOAN_COLUMNS)},
               {bucket} AS bucket,
               {d.as_bool(differs)} AS changed,
               {d.as_bool(f"u.s_bucket <> {bucket}")} AS bucket_changed
        FROM ({figures} {d.fence()}) u
    """


def loan_figures(d: Dialect, as_of: dt.date, scope: Scope) -> str:
    """Per loan in scope, as of the end of ``as_of``: the columns of ``LOAN_COLUMNS``, in
    one statement that writes nothing (``loan_figures_as_of`` reads one loan with it).
    The nightly run computes the same figures in steps through working tables
    (``loan_table_statements``)."""
    return figures_from(
        d,
        as_of,
        where=scope.where(d, "l", loan=True),
        scan=f"({installment_scan(d, as_of, scope)})",
        corrections=f"({_corrections(d, as_of, scope)})",
    )


# --- the run's working tables ---------------------------------------------------------


LOAN_TABLE = "eng_loan"
CASE_TABLE = "eng_case"
SCAN_TABLE = "eng_scan"  # the installment scan, per loan with anything unpaid
CORRECTION_TABLE = "eng_fix"  # the corrections, per loan that has any
WORK_TABLES = (LOAN_TABLE, CASE_TABLE, SCAN_TABLE, CORRECTION_TABLE)


def drop_work_tables(d: Dialect) -> list[str]:
    return [f"DROP TABLE IF EXISTS {table}" for table in WORK_TABLES]


def _temp_table(d: Dialect, name: str, columns: str) -> str:
    on_commit = " ON COMMIT DROP" if d.pg else ""
    # On SQLite an INTEGER PRIMARY KEY is the rowid: rows inserted in loan order append.
    key = "BIGINT" if d.pg else "INTEGER"
    return f"CREATE TEMP TABLE {name} (loan_id {key} PRIMARY KEY{columns}){on_commit}"


def loan_table_statements(d: Dialect, as_of: dt.date, scope: Scope) -> list[str]:
    """Fill the loans' working table (``LOAN_TABLE``, columns ``LOAN_COLUMNS``) with the
    figures as of ``as_of`` of every loan in scope that can have any, in steps:

    1. the installment scan (``installment_scan``) into ``SCAN_TABLE``;
    2. the corrections (dated allocations, grace, pauses, penalty paid) into
       ``CORRECTION_TABLE``;
    3. the figures (``figures_from``) of the loans with corrections and of every loan in
       scope but those whose stored figures are those of a current loan and still hold
       (``unchanged_current``): nothing to compute or write for them
       (``fill_case_table`` adds their stored balances to their debtors' cases). One
       pass over the loans in scope, each looked up by id in the two tables.

    ``loan_figures`` is the same computation as one read-only statement."""
    bool_type = "BOOLEAN" if d.pg else "INTEGER"
    scan_cols = ", op BIGINT, oi BIGINT, outp BIGINT, oldest DATE, fdp BIGINT, fdi BIGINT"
    fix_cols = (
        ", op_late BIGINT, oi_late BIGINT, outp_late BIGINT, late_oldest DATE,"
        " fdp BIGINT, fdi BIGINT, paid BIGINT"
    )
    loan_cols = f""", client_id BIGINT, debtor_id BIGINT,
            grace_days INTEGER, dpd INTEGER,
            overdue_principal_fen BIGINT, overdue_interest_fen BIGINT,
            outstanding_principal_fen BIGINT, penalty_accrued_fen BIGINT,
            penalty_paid_fen BIGINT, penalty_fen BIGINT, penalty_capped {bool_type},
            balance_fen BIGINT, bucket VARCHAR(3), changed {bool_type},
            bucket_changed {bool_type}"""
    statements = [
        _temp_table(d, SCAN_TABLE, scan_cols),
        f"INSERT INTO {SCAN_TABLE} ({', '.join(SCAN_COLUMNS)}) {installment_scan(d, as_of, scope)}",
        _temp_table(d, CORRECTION_TABLE, fix_cols),
        f"INSERT INTO {CORRECTION_TABLE} ({', '.join(CORRECTION_COLUMNS)})"
        f" {_corrections(d, as_of, scope)}",
    ]
    if d.pg:  # PostgreSQL never analyses temp tables by itself
        statements += [f"ANALYZE {t}" for t in (SCAN_TABLE, CORRECTION_TABLE)]
    recomputed = (
        f"{scope.where(d, 'l', loan=True)}"
        f" AND (x.loan_id IS NOT NULL OR NOT {unchanged_current(d, 'l', 's')})"
    )
    statements += [
        _temp_table(d, LOAN_TABLE, loan_cols),
        f"""INSERT INTO {LOAN_TABLE} ({", ".join((*LOAN_COLUMNS, *FLAG_COLUMNS))})
        {
            figures_from(
                d,
                as_of,
                where=recomputed,
                scan=SCAN_TABLE,
                corrections=CORRECTION_TABLE,
                flags=True,
            )
        }""",
    ]
    return statements


def loans_in_scope(d: Dialect, scope: Scope) -> str:
    return f"SELECT COUNT(*) FROM portfolio_loan l WHERE {scope.where(d, 'l', loan=True)}"


def _changed_loans(d: Dialect, flag: str) -> str:
    """The WHERE of an update of the loans the working table flags. SQLite would scan
    every loan and look each up in the working table; the ``IN`` makes it start from the
    flagged rows. PostgreSQL joins them by itself."""
    where = f"portfolio_loan.id = s.loan_id AND s.{flag}"
    if d.pg:
        return where
    return f"{where} AND portfolio_loan.id IN (SELECT loan_id FROM {LOAN_TABLE} WHERE {flag})"


def update_loans(d: Dialect, as_of: dt.date) -> str:
    """Write the computed state of each loan whose figures changed (or that was never
    computed) from the working table. Parameters: updated_at.

    A loan whose figures are what the last run wrote is left alone: its figures as of
    ``computed_as_of`` are its figures as of this day too, and a current loan is most of
    a portfolio (on PostgreSQL every rewritten row is a new row version in every index).
    ``loan_state`` shows the later of the loan's date and the last run's. The bucket is
    written apart (``update_loan_buckets``): it is in an index, and few loans change
    bucket on a night while every overdue loan's dpd does."""
    return f"""
        UPDATE portfolio_loan
        SET overdue_principal = s.overdue_principal_fen / 100.0,
            overdue_interest = s.overdue_interest_fen / 100.0,
            penalty = s.penalty_fen / 100.0,
            penalty_capped = s.penalty_capped,
            balance = s.balance_fen / 100.0,
            dpd = s.dpd,
            computed_as_of = {d.date(as_of)},
            updated_at = %s
        FROM {LOAN_TABLE} s
        WHERE {_changed_loans(d, "changed")}
    """


def update_loan_buckets(d: Dialect) -> str:
    """Write the bucket of each loan whose bucket changed, from the working table."""
    return f"""
        UPDATE portfolio_loan SET bucket = s.bucket
        FROM {LOAN_TABLE} s
        WHERE {_changed_loans(d, "bucket_changed")}
    """


def create_case_table(d: Dialect) -> str:
    on_commit = " ON COMMIT DROP" if d.pg else ""
    # On SQLite, without a rowid the key's b-tree holds the row: a lookup by debtor and
    # client is one search, not two.
    rowid = "" if d.pg else " WITHOUT ROWID"
    return f"""
        CREATE TEMP TABLE {CASE_TABLE} (
            client_id BIGINT, debtor_id BIGINT, max_dpd INTEGER, bucket VARCHAR(3),
            overdue_fen BIGINT, penalty_fen BIGINT, balance_fen BIGINT, grace_days INTEGER,
            ladder_stage VARCHAR(16), ladder_rule VARCHAR(8), case_id BIGINT,
            PRIMARY KEY (client_id, debtor_id)){rowid}{on_commit}
    """


def fill_case_table(d: Dialect) -> str:
    """Per debtor and client from the loans' working table: worst dpd and its bucket, the
    summed amounts (with the stored balances of the debtor's loans the run left out), the
    longest grace, and the stage the strategy table gives. Debtors with nothing overdue
    and no case are left out: no case opens, changes or gets a snapshot row for them; nor
    do debtors all of whose loans the run left out (their case, cured, keeps its figures).

    The grace days are the longest of all the debtor's loans with the client, paid-off
    ones included (which the working table leaves out). They only decide anything when
    0 < worst dpd <= the longest grace of any product, so only then are the debtor's
    loans read for them (by the (debtor, client) index, as for the balances left out).

    ``case_id`` is the debtor's case with the client, when there is one: the statements
    on cases find their case by its key, not by debtor and client again
    (``case_ids_refresh`` adds the cases the run opens)."""
    longest = "(SELECT COALESCE(MAX(pg.grace_days), 0) FROM portfolio_product pg)"
    all_loans_grace = """(SELECT MAX(pl.grace_days) FROM portfolio_loan al
                JOIN portfolio_product pl ON pl.id = al.product_id
                WHERE al.debtor_id = g.debtor_id AND al.client_id = g.client_id)"""
    # The debtor's loans the run left out (``unchanged_current``) still owe their stored
    # balance (nothing else: they have nothing overdue and no penalty).
    # A loan of the working table is known by its id in the index: its row is only read
    # (for the balance) when the run left it out, the CASE deciding before the column.
    left_out = f"""COALESCE((SELECT SUM(CASE WHEN k.loan_id IS NULL THEN {fen("ol.balance")} END)
                FROM portfolio_loan ol LEFT JOIN {LOAN_TABLE} k ON k.loan_id = ol.id
                WHERE ol.debtor_id = g.debtor_id AND ol.client_id = g.client_id), 0)"""
    return f"""
        INSERT INTO {CASE_TABLE} (client_id, debtor_id, max_dpd, bucket, overdue_fen,
                                  penalty_fen, balance_fen, grace_days, ladder_stage,
                                  ladder_rule, case_id)
        SELECT f.client_id, f.debtor_id, f.max_dpd, f.bucket, f.overdue_fen, f.penalty_fen,
               f.balance_fen, f.grace_days,
               CASE WHEN f.max_dpd <= f.grace_days THEN '{STAGE_WITHIN_GRACE}'
                    ELSE COALESCE(r.stage, {default_stage_case("f.bucket")}) END,
               CASE WHEN f.max_dpd <= f.grace_days THEN '{RULE_GRACE}'
                    WHEN r.stage IS NOT NULL THEN '{RULE_CLIENT}'
                    ELSE '{RULE_DEFAULT}' END,
               f.case_id
        FROM (
            SELECT g.client_id, g.debtor_id, g.max_dpd, g.overdue_fen, g.penalty_fen,
                   g.balance_fen + {left_out} AS balance_fen,
                   {bucket_case("g.max_dpd")} AS bucket, g.case_id,
                   CASE WHEN g.max_dpd > 0 AND g.max_dpd <= {longest}
                        THEN {all_loans_grace} ELSE g.grace_days END AS grace_days
            FROM (
                SELECT s.client_id, s.debtor_id, MAX(s.dpd) AS max_dpd,
                       SUM(s.overdue_principal_fen + s.overdue_interest_fen) AS overdue_fen,
                       SUM(s.penalty_fen) AS penalty_fen,
                       SUM(s.balance_fen) AS balance_fen,
                       MAX(s.grace_days) AS grace_days,
                       (SELECT c.id FROM cases_case c
                        WHERE c.client_id = s.client_id AND c.debtor_id = s.debtor_id) AS case_id
                FROM {LOAN_TABLE} s
                GROUP BY s.client_id, s.debtor_id
                {d.fence()}
            ) g
            -- Only debtors the run has something to do with: overdue, or with a case.
            WHERE g.max_dpd > 0 OR g.case_id IS NOT NULL
            {d.fence()}
        ) f
        LEFT JOIN cases_stagerule r ON r.client_id = f.client_id AND r.bucket = f.bucket
    """


def analyze(d: Dialect) -> list[str]:
    """Fresh statistics on the working tables (PostgreSQL never analyses temp tables by
    itself, and the joins below want them)."""
    if d.pg:
        return [f"ANALYZE {LOAN_TABLE}", f"ANALYZE {CASE_TABLE}"]
    return []


def _case_scope(d: Dialect, scope: Scope) -> str:
    return scope.where(d, "cases_case", loan=False)


def _nothing_overdue(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """FROM … WHERE of the cases in ``statuses`` whose debtor has nothing overdue, as
    ``c``. Few debtors are cured on a night: SQLite starts from them (CROSS JOIN fixes
    its join order), not from every open case."""
    join = "JOIN" if d.pg else "CROSS JOIN"
    return f"""
        FROM {CASE_TABLE} f
        {join} cases_case c ON c.id = f.case_id
        WHERE f.overdue_fen = 0 AND f.balance_fen > 0 AND c.status IN ({_quoted(statuses)})
          AND {scope.where(d, "c", loan=False)}
    """


def cases_paid_off(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """The cases in ``statuses`` whose debtor owes the client nothing any more (balance,
    penalty included, is 0): id. The run closes them as paid in full."""
    join = "JOIN" if d.pg else "CROSS JOIN"
    return f"""
        SELECT c.id
        FROM {CASE_TABLE} f
        {join} cases_case c ON c.id = f.case_id
        WHERE f.balance_fen = 0 AND f.overdue_fen = 0 AND c.status IN ({_quoted(statuses)})
          AND {scope.where(d, "c", loan=False)}
        ORDER BY c.id
    """


def cases_to_cure(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """The open cases with nothing overdue: id, status, bucket, dpd (before curing)."""
    return f"""
        SELECT c.id, c.status, c.bucket, c.dpd {_nothing_overdue(d, scope, statuses)}
        ORDER BY c.id
    """


def update_case_figures(d: Dialect, as_of: dt.date, scope: Scope, statuses: list[str]) -> str:
    """Refresh dpd and amounts of the cases in ``statuses``; the bucket, in an index and
    changing for few cases a night, is written apart (``update_case_buckets``).
    Parameters: updated_at."""
    return f"""
        UPDATE cases_case
        SET dpd = f.max_dpd,
            overdue_amount = f.overdue_fen / 100.0,
            penalty = f.penalty_fen / 100.0,
            balance = f.balance_fen / 100.0,
            computed_as_of = {d.date(as_of)},
            updated_at = %s
        FROM {CASE_TABLE} f
        WHERE cases_case.id = f.case_id
          AND cases_case.status IN ({_quoted(statuses)})
          AND {_case_scope(d, scope)}
    """


def update_case_buckets(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """The bucket of the cases in ``statuses`` whose bucket changed."""
    return f"""
        UPDATE cases_case
        SET bucket = f.bucket
        FROM {CASE_TABLE} f
        WHERE cases_case.id = f.case_id
          AND cases_case.status IN ({_quoted(statuses)})
          AND cases_case.bucket <> f.bucket
          AND {_case_scope(d, scope)}
    """


def cure_cases(d: Dialect, as_of: dt.date, scope: Scope, statuses: list[str], cured: str) -> str:
    """Mark the open cases with nothing overdue cured. Parameters: status_reason, updated_at."""
    return f"""
        UPDATE cases_case
        SET status = '{cured}', status_reason = %s, updated_at = %s,
            dpd = 0, bucket = '{BUCKET_BANDS[0][1]}', overdue_amount = 0,
            computed_as_of = {d.date(as_of)}
        WHERE cases_case.id IN (SELECT c.id {_nothing_overdue(d, scope, statuses)})
    """


def reopen_cases(
    d: Dialect, as_of: dt.date, scope: Scope, status: str, opened: str, closure: str = ""
) -> str:
    """Cases in ``status`` (and, when given, closed as ``closure``) overdue again beyond
    their grace days go back to open with today's figures: cured ones, and ones closed as
    paid in full when a payment bounced. The case file is one per debtor and client, so
    it is reopened rather than opened anew.
    Parameters: status_reason, updated_at. Returns id, bucket, dpd."""
    closed_as = f"AND cases_case.closure = '{closure}'" if closure else ""
    return f"""
        UPDATE cases_case
        SET status = '{opened}', status_reason = %s, closed_on = NULL, closure = '',
            updated_at = %s, dpd = f.max_dpd, bucket = f.bucket,
            overdue_amount = f.overdue_fen / 100.0, penalty = f.penalty_fen / 100.0,
            balance = f.balance_fen / 100.0, computed_as_of = {d.date(as_of)}
        FROM {CASE_TABLE} f
        WHERE cases_case.id = f.case_id
          AND cases_case.status = '{status}' {closed_as}
          AND f.max_dpd > f.grace_days
          AND {_case_scope(d, scope)}
        RETURNING cases_case.id, cases_case.bucket, cases_case.dpd
    """


def open_cases(d: Dialect, as_of: dt.date, opened: str) -> str:
    """A new case for every debtor and client overdue beyond the grace days with no case.
    Parameters: created_at, updated_at. Returns id, stage, bucket, dpd, overdue and
    balance in fen."""
    day = d.date(as_of)
    false = "FALSE" if d.pg else "0"
    return f"""
        INSERT INTO cases_case (
            client_id, debtor_id, stage, stage_set_by_hand, status, status_reason,
            assignee_id, bucket, dpd, overdue_amount, penalty, balance,
            computed_as_of, opened_on, closed_on, created_at, updated_at)
        SELECT f.client_id, f.debtor_id, f.ladder_stage, {false},
               '{opened}', '', NULL, f.bucket, f.max_dpd,
               f.overdue_fen / 100.0, f.penalty_fen / 100.0, f.balance_fen / 100.0,
               {day}, {day}, NULL, %s, %s
        FROM {CASE_TABLE} f
        WHERE f.max_dpd > f.grace_days AND f.case_id IS NULL
        ORDER BY f.client_id, f.debtor_id
        ON CONFLICT (client_id, debtor_id) DO NOTHING
        RETURNING id, stage, bucket, dpd, {fen("overdue_amount")}, {fen("balance")}
    """


def case_ids_refresh(d: Dialect) -> str:
    """Give the working table the ids of the cases the run just opened."""
    return f"""
        UPDATE {CASE_TABLE}
        SET case_id = (SELECT c.id FROM cases_case c
                       WHERE c.client_id = {CASE_TABLE}.client_id
                         AND c.debtor_id = {CASE_TABLE}.debtor_id)
        WHERE case_id IS NULL
    """


def _new_stage(hand: str, current: str, ladder: str) -> str:
    """The ladder's stage, except that a stage set by hand is a floor."""
    return (
        f"CASE WHEN {hand} AND {stage_rank(current)} > {stage_rank(ladder)} "
        f"THEN {current} ELSE {ladder} END"
    )


def _hand(d: Dialect, alias: str) -> str:
    return f"{alias}.stage_set_by_hand" if d.pg else f"{alias}.stage_set_by_hand <> 0"


def _on_plan(alias: str) -> str:
    """The case has an active repayment plan: the run keeps its stage (docs/payments.md)."""
    return (
        "EXISTS (SELECT 1 FROM cases_repaymentplan rp"
        f" WHERE rp.case_id = {alias}.id AND rp.status = 'active')"
    )


def stage_changes(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """Open cases whose stage the strategy table moves: id, old stage, new stage, bucket,
    whether the old one was set by hand, the rule (grace, client or default)."""
    new = _new_stage(_hand(d, "c"), "c.stage", "f.ladder_stage")
    return f"""
        SELECT c.id, c.stage, {new}, f.bucket, c.stage_set_by_hand, f.ladder_rule
        FROM {CASE_TABLE} f
        {"JOIN" if d.pg else "CROSS JOIN"} cases_case c ON c.id = f.case_id
        WHERE c.status IN ({_quoted(statuses)})
          AND {scope.where(d, "c", loan=False)}
          AND c.stage <> {new}
          AND NOT {_on_plan("c")}
        ORDER BY c.id
    """


def update_stages(d: Dialect, scope: Scope, statuses: list[str]) -> str:
    """Move open cases to the stage the strategy table gives (a hand-set stage is a floor).
    Parameters: updated_at."""
    new = _new_stage(_hand(d, "cases_case"), "cases_case.stage", "f.ladder_stage")
    return f"""
        UPDATE cases_case
        SET stage = {new}, updated_at = %s
        FROM {CASE_TABLE} f
        WHERE cases_case.id = f.case_id
          AND cases_case.status IN ({_quoted(statuses)})
          AND {_case_scope(d, scope)}
          AND cases_case.stage <> {new}
          AND NOT {_on_plan("cases_case")}
    """


def delete_snapshots(d: Dialect, day: dt.date, scope: Scope) -> str:
    return f"""
        DELETE FROM engine_casesnapshot
        WHERE as_of = {d.date(day)}
          AND case_id IN (SELECT c.id FROM cases_case c
                          WHERE {scope.where(d, "c", loan=False)})
    """


def insert_snapshots(d: Dialect, day: dt.date, closed: list[str], *, current: bool) -> str:
    """One row per case whose debtor has anything overdue on the day (cases closed or
    written off by then excepted: a past day rewritten keeps a case closed later). On
    the current day the stage is the case's; on a past day it
    is what the strategy table gives for that day's bucket (a hand-set stage a floor).
    It reads the cases in id order (the order it writes) and looks each debtor up."""
    stage = "c.stage" if current else _new_stage(_hand(d, "c"), "c.stage", "f.ladder_stage")
    return f"""
        INSERT INTO engine_casesnapshot
            (as_of, case_id, client_id, bucket, dpd, stage, overdue_amount, balance)
        SELECT {d.date(day)}, c.id, c.client_id, f.bucket, f.max_dpd, {stage},
               f.overdue_fen / 100.0, f.balance_fen / 100.0
        FROM cases_case c
        JOIN {CASE_TABLE} f ON f.client_id = c.client_id AND f.debtor_id = c.debtor_id
        WHERE f.max_dpd > 0
          AND (c.status NOT IN ({_quoted(closed)}) OR c.closed_on > {d.date(day)})
        ORDER BY c.id
    """


def bucket_counts(d: Dialect, scope: Scope) -> str:
    """Loans per client and bucket (bucket, count): grouped in the order of the
    (client, bucket) index, which reads it without a sort; the caller adds the clients."""
    return f"""
        SELECT l.bucket, COUNT(*) FROM portfolio_loan l
        WHERE {scope.where(d, "l", loan=True)}
        GROUP BY l.client_id, l.bucket
    """


def lock_clients(d: Dialect, client_id: int | None) -> str:
    """Lock the clients in scope (as the importer does), so a run and an import of the same
    client do not interleave. SQLite serialises writers by itself."""
    where = "1 = 1" if client_id is None else f"id = {int(client_id)}"
    suffix = " FOR SHARE" if d.pg else ""
    return f"SELECT id FROM portfolio_client WHERE {where} ORDER BY id{suffix}"
