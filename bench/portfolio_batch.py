"""Benchmark: the nightly portfolio run over a generated portfolio, against a floor.

    .venv/bin/python bench/portfolio_batch.py [--accounts N] [--installments K]
        [--db sqlite|postgres] [--postgres-url URL] [--shards S [--workers W]]
        [--no-ledger] [--analyze] [--profile-sql] [--keep]

Builds a throwaway database (an SQLite file in a temporary folder, or the PostgreSQL
database ``cuishou_bench_batch``, dropped and created again), migrates it and fills it with
set-based SQL (``INSERT … SELECT`` over a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL; not the ORM, not the importer): 3 clients with 2 products each (penalty
0.0005 a day, 360 or 365 days, 复利 on or off, 0 or 3 grace days, cost cap 0.24), about
0.8 debtors per loan (a quarter of the debtors have two loans with the same client),
N loans (default 1,000,000) disbursed over the past 18 months with K monthly
installments each (default 6). About 70 % of the loans have paid every installment due;
the others stopped paying at some installment (dpd from a day to about 500, a third of
them with a part payment on it). Unless ``--no-ledger``: about 170,000 payments per
million loans posted through the system (dated allocations: the part payments, and one
current loan in ten paying its last installment 1 … 20 days late) and a penalty pause on
one delinquent loan in 50.

Then it runs the batch through the engine's public entry point
(``cuishou.engine.batch.batch_run``, else ``cuishou.engine.services.portfolio_recompute``)
twice: as of the generation day (the first run opens the cases: ``first_run_seconds``)
and as of the next day (a normal night: ``seconds``). In the same process, on the same
database, it measures the floor: one ``GROUP BY`` read of every installment giving each
loan's unpaid principal and interest and oldest unpaid due date (all rows fetched), plus
one ``UPDATE`` of one integer column of every loan (``dpd``, rewritten to the value it
has, committed). ``floor_seconds`` is the sum of the two.

The last line is one JSON object:
``{"bench": "portfolio_batch", "accounts": N, "seconds": s, "floor_seconds": f,
"ratio": s/f, "accounts_per_s": r, ...}``.

``--shards S`` passes S to ``batch_run`` and, with the database task backend (the
default here), starts W ``db_worker`` processes (default S) on the bench database.

PostgreSQL gets ``VACUUM ANALYZE`` after the load and after each run (what autovacuum
does between two nights), not timed; SQLite gets ``ANALYZE`` after the load only with
``--analyze`` (nothing runs it in production). ``--profile-sql`` times every statement of
the two runs and prints the slowest, with the time spent in Python (fetching, building
rows) after each; with ``--shards`` it sees only the calling process's statements.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _common import Sql, drop_postgres, fresh_postgres  # noqa: E402 (after the path)

TODAY = dt.date(2026, 11, 29)  # the generation day: the first run is as of this date
PG_NAME = "cuishou_bench_batch"
DEBTORS_PER_LOAN = 0.8
MONTHS_BACK = 18
CURRENT_PERCENT = 70

# (code, name, share of debtors in tenths, products)
# product: (name, annual rate, penalty annual rate, basis, 复利, grace days)
CLIENTS: list[tuple[str, str, int, list[tuple[str, str, str, int, bool, int]]]] = [
    (
        "BANKA",
        "甲银行信用卡中心",
        5,
        [
            ("信用卡分期", "0.150000", "0.182500", 365, False, 3),
            ("现金贷", "0.240000", "0.180000", 360, True, 0),
        ],
    ),
    (
        "CFCB",
        "乙消费金融",
        3,
        [
            ("消费贷", "0.180000", "0.182500", 365, True, 3),
            ("车贷", "0.080000", "0.180000", 360, False, 0),
        ],
    ),
    (
        "MFC",
        "丙小额贷款",
        2,
        [
            ("小额贷", "0.200000", "0.182500", 365, True, 0),
            ("经营贷", "0.120000", "0.180000", 360, False, 3),
        ],
    ),
]


# Attribute hashes: x · multiplier mod prime, a different pair per attribute, so the
# generated portfolio is the same on every run and on both databases.
HASHES = {
    "client": (2654435761, 1000003),
    "product": (2246822519, 999983),
    "month": (3266489917, 999979),
    "day": (668265263, 999961),
    "state": (374761393, 999959),
    "first_unpaid": (2870177453, 999953),
    "partial": (1181783497, 999931),
    "amount": (2028178513, 999917),
    "own_rate": (1645333507, 999907),
    "late": (2468013579, 999883),
    "pause": (1357924687, 999863),
    "mobile": (3121238909, 999999937),
}


def h(name: str, x: str) -> str:
    multiplier, prime = HASHES[name]
    return f"((({x}) * {multiplier}) % {prime})"


@dataclass
class Generated:
    debtors: int = 0
    loans: int = 0
    installments: int = 0
    payments: int = 0
    pauses: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def generate(accounts: int, k: int, *, vendor: str, now: dt.datetime, ledger: bool) -> Generated:
    """Fill the migrated database: clients and products (ORM, six rows), then debtors,
    loans and installments (set-based SQL). Runs in a child process on a fresh connection."""
    from django.db import connection, transaction

    from cuishou.portfolio.models import Client, Product

    s = Sql(vendor)
    stamp = s.timestamp(now)  # a literal: with parameters, every % would need doubling
    out = Generated()
    debtors = max(1, round(accounts * DEBTORS_PER_LOAN))
    out.debtors = debtors
    t0 = time.perf_counter()
    product_rows: list[tuple[int, int, int, int, int]] = []  # client idx, product idx, ids, bp
    for ci, (code, name, _share, products) in enumerate(CLIENTS):
        client = Client.objects.create(code=code, name=name)
        for pi, (pname, rate, penalty, basis, compound, grace) in enumerate(products):
            product = Product.objects.create(
                client=client,
                name=pname,
                annual_rate=Decimal(rate),
                penalty_annual_rate=Decimal(penalty),
                day_count_basis=basis,
                compound_penalty=compound,
                grace_days=grace,
                annual_cost_cap=Decimal("0.24"),
            )
            product_rows.append((ci, pi, client.pk, product.pk, round(Decimal(rate) * 10000)))

    with connection.cursor() as cur:
        if s.pg:
            # Foreign keys are valid by construction; skip the per-row deferred checks.
            cur.execute("SET session_replication_role = replica")
            cur.execute("SET work_mem = '256MB'")
            cur.execute("SET maintenance_work_mem = '1GB'")
        else:
            cur.execute("PRAGMA foreign_keys = OFF")
            cur.execute("PRAGMA synchronous = OFF")
            cur.execute("PRAGMA cache_size = -1000000")
        with transaction.atomic():
            cur.execute(
                "CREATE TEMP TABLE gen_product (ci INTEGER, pi INTEGER, client_id BIGINT,"
                " product_id BIGINT, rate_bp INTEGER, PRIMARY KEY (ci, pi))"
            )
            cur.executemany("INSERT INTO gen_product VALUES (%s, %s, %s, %s, %s)", product_rows)
            # Client of a debtor by its hash, in tenths (5 / 3 / 2): both loans of a debtor
            # with two are with the same client.
            whens, acc = [], 0
            for ci, (_c, _n, share, _p) in enumerate(CLIENTS[:-1]):
                acc += share
                whens.append(f"WHEN {h('client', 'debtor_id')} % 10 < {acc} THEN {ci}")
            client_of_debtor = f"CASE {' '.join(whens)} ELSE {len(CLIENTS) - 1} END"

            t = time.perf_counter()
            cur.execute(
                f"""{s.with_numbers(debtors)}
                INSERT INTO portfolio_debtor
                    (id, id_number, name, mobile, birth_date, gender, created_at, updated_at)
                SELECT i, {s.padded("110105", "i", 12)}, '债务人' || {s.text("i")},
                       '1' || {s.text("3 + i % 7")} || {s.padded("", h("mobile", "i"), 9)},
                       NULL, '', {stamp}, {stamp}
                FROM n"""
            )
            out.timings["debtors"] = time.perf_counter() - t

            # One row per loan: its debtor, client, product, disbursement month (m months
            # ago) and day, how many installments are due before TODAY (nd), whether it is
            # current (state 0) or stopped paying at installment first_unpaid (state 1).
            t = time.perf_counter()
            second_loan_debtor = f"((i - {debtors} - 1) * 4) % {debtors} + 1"
            debtor_of_loan = f"CASE WHEN i <= {debtors} THEN i ELSE {second_loan_debtor} END"
            due_before_today = f"m - 1 + CASE WHEN d < {TODAY.day} THEN 1 ELSE 0 END"
            cur.execute(
                "CREATE TEMP TABLE gen_loan (i BIGINT PRIMARY KEY, debtor_id BIGINT, ci INTEGER,"
                " pi INTEGER, m INTEGER, d INTEGER, nd INTEGER, state INTEGER,"
                " first_unpaid INTEGER, partial INTEGER, per_fen BIGINT, own_rate INTEGER)"
            )
            cur.execute(
                f"""{s.with_numbers(accounts)},
                base AS (
                    SELECT i, {debtor_of_loan} AS debtor_id,
                           1 + {h("month", "i")} % {MONTHS_BACK} AS m,
                           1 + {h("day", "i")} % 28 AS d
                    FROM n),
                due AS (
                    SELECT base.*, {client_of_debtor} AS ci,
                           CASE WHEN {due_before_today} > {k} THEN {k}
                                ELSE {due_before_today} END AS nd
                    FROM base)
                INSERT INTO gen_loan
                SELECT i, debtor_id, ci, {h("product", "i")} % 2, m, d, nd,
                       CASE WHEN nd = 0 OR {h("state", "i")} % 100 < {CURRENT_PERCENT}
                            THEN 0 ELSE 1 END,
                       CASE WHEN nd = 0 THEN 0 ELSE nd - {h("first_unpaid", "i")} % nd END,
                       CASE WHEN {h("partial", "i")} % 3 = 0 THEN 1 ELSE 0 END,
                       (500 + {h("amount", "i")} % 9501) * 100,
                       CASE WHEN {h("own_rate", "i")} % 20 = 0 THEN 1 ELSE 0 END
                FROM due"""
            )
            out.timings["plan"] = time.perf_counter() - t

            t = time.perf_counter()
            this_month = TODAY.year * 12 + TODAY.month - 1
            cur.execute(
                f"""
                INSERT INTO portfolio_loan (
                    id, client_id, contract_no, debtor_id, product_id, principal, annual_rate,
                    penalty_annual_rate, disbursed_on, currency, status, computed_as_of, dpd,
                    bucket, overdue_principal, overdue_interest, penalty, penalty_capped,
                    balance, last_import_id, created_at, updated_at)
                SELECT g.i, p.client_id, {s.padded("HT", "g.i", 9)}, g.debtor_id, p.product_id,
                       {s.money(f"g.per_fen * {k}")}, p.rate_bp / 10000.0,
                       CASE WHEN g.own_rate = 1 THEN 0.15 END,
                       {s.date(f"{this_month} - g.m", "g.d")},
                       'CNY', 'active', NULL, 0, 'M0', 0, 0, 0, {s.false()}, 0, NULL,
                       {stamp}, {stamp}
                FROM gen_loan g JOIN gen_product p ON p.ci = g.ci AND p.pi = g.pi
                ORDER BY g.i"""
            )
            out.timings["loans"] = time.perf_counter() - t

            # Installment q is due q months after the disbursement, on the same day. It is
            # paid in full when due before TODAY (current loan) or before the first unpaid
            # one (delinquent loan); the first unpaid one may be part paid.
            t = time.perf_counter()
            interest_fen = f"(g.per_fen * {k} * p.rate_bp / 120000)"
            paid = "((g.state = 0 AND q.s <= g.nd) OR (g.state = 1 AND q.s < g.first_unpaid))"
            part = "(g.state = 1 AND g.partial = 1 AND q.s = g.first_unpaid)"
            cur.execute(
                f"""{s.with_numbers(k, "q", "s")}
                INSERT INTO portfolio_installment (
                    id, loan_id, seq, due_on, principal_due, interest_due, principal_paid,
                    interest_paid)
                SELECT (g.i - 1) * {k} + q.s, g.i, q.s,
                       {s.date(f"{this_month} - g.m + q.s", "g.d")},
                       {s.money("g.per_fen")}, {s.money(interest_fen)},
                       CASE WHEN {paid} THEN {s.money("g.per_fen")}
                            WHEN {part} THEN {s.money("g.per_fen / 2")} ELSE 0 END,
                       CASE WHEN {paid} OR {part} THEN {s.money(interest_fen)} ELSE 0 END
                FROM gen_loan g JOIN gen_product p ON p.ci = g.ci AND p.pi = g.pi
                CROSS JOIN q
                ORDER BY g.i, q.s"""
            )
            out.timings["installments"] = time.perf_counter() - t
            tables = ["portfolio_debtor", "portfolio_loan", "portfolio_installment"]
            if ledger:
                t = time.perf_counter()
                out.payments, out.pauses = _generate_ledger(cur, s, k, stamp)
                out.timings["ledger"] = time.perf_counter() - t
                tables += ["payments_payment", "payments_paymentallocation"]
            cur.execute("DROP TABLE gen_loan")
            cur.execute("DROP TABLE gen_product")
            if s.pg:
                for table in tables:
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT MAX(id) FROM {table}))"
                    )
        out.timings["commit"] = time.perf_counter() - t0 - sum(out.timings.values())
        cur.execute("SELECT COUNT(*) FROM portfolio_loan")
        out.loans = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM portfolio_installment")
        out.installments = cur.fetchone()[0]
    return out


def _generate_ledger(cur: Any, s: Sql, k: int, stamp: str) -> tuple[int, int]:
    """Payments posted through the system (dated allocations) and penalty pauses.

    One payment per loan at most, allocated to one installment's principal and interest
    (its paid amounts include it, as ``payment_post`` keeps them): the part payment of a
    delinquent loan (a third of them), and for one current loan in ten the last
    installment due, paid 1 … 20 days late. One delinquent loan in 50 has an open-ended
    pause from 30 days before TODAY."""
    paid_seq = "CASE WHEN g.state = 1 THEN g.first_unpaid ELSE g.nd END"
    cur.execute(
        "CREATE TEMP TABLE gen_pay (i BIGINT PRIMARY KEY, installment_id BIGINT,"
        " p_fen BIGINT, i_fen BIGINT, value_date DATE)"
    )
    cur.execute(
        f"""
        INSERT INTO gen_pay
        SELECT g.i, i.id, CASE WHEN g.state = 1 THEN g.per_fen / 2 ELSE g.per_fen END,
               g.per_fen * {k} * p.rate_bp / 120000,
               {s.least(s.plus_days("i.due_on", f"1 + {h('late', 'g.i')} % 20"), s.day(TODAY))}
        FROM gen_loan g
        JOIN gen_product p ON p.ci = g.ci AND p.pi = g.pi
        JOIN portfolio_installment i ON i.id = (g.i - 1) * {k} + {paid_seq}
        WHERE (g.state = 1 AND g.partial = 1)
           OR (g.state = 0 AND g.nd > 0 AND {h("late", "g.i")} % 10 = 0)
        ORDER BY g.i"""
    )
    cur.execute(
        f"""
        INSERT INTO payments_payment (
            id, loan_id, amount, value_date, channel, reference, status, posted_at,
            posted_by_id, reversed_at, reversed_by_id, reversal_reason)
        SELECT i, i, {s.money("p_fen + i_fen")}, value_date, 'bank_transfer',
               {s.padded("BENCH", "i", 9)}, 'posted', {stamp}, NULL, NULL, NULL, ''
        FROM gen_pay ORDER BY i"""
    )
    payments = cur.rowcount
    for offset, component, column in ((1, "principal", "p_fen"), (0, "interest", "i_fen")):
        cur.execute(
            f"""
            INSERT INTO payments_paymentallocation (
                id, payment_id, loan_id, installment_id, component, amount, value_date,
                is_reversed)
            SELECT 2 * i - {offset}, i, i, installment_id, '{component}', {s.money(column)},
                   value_date, {s.false()}
            FROM gen_pay WHERE {column} > 0 ORDER BY i"""
        )
    cur.execute(
        f"""
        INSERT INTO portfolio_penaltypause
            (loan_id, starts_on, ends_on, reason, created_by_id, created_at)
        SELECT g.i, {s.day(TODAY - dt.timedelta(days=30))}, NULL, '协商还款期间停息', NULL,
               {stamp}
        FROM gen_loan g WHERE g.state = 1 AND {h("pause", "g.i")} % 50 = 0 ORDER BY g.i"""
    )
    pauses = cur.rowcount
    cur.execute("DROP TABLE gen_pay")
    return payments, pauses


def _in_child(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``target`` in a forked process (its own connection and memory, so the parent's
    peak RSS is the batch's) and return its result."""
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            child_end.send(("ok", target(*args, **kwargs)))
        except BaseException as exc:  # reported in the parent
            import traceback

            child_end.send(("error", f"{exc!r}\n{traceback.format_exc()}"))
            raise

    proc = ctx.Process(target=run)
    proc.start()
    status, value = parent_end.recv()
    proc.join()
    if status != "ok":
        raise SystemExit(f"generation failed: {value}")
    return value


@dataclass
class Statement:
    sql: str
    seconds: float
    after: float = 0.0  # Python time until the next statement (fetching, building rows, …)
    many: bool = False


class SqlTimer:
    """``connection.execute_wrapper`` that records each statement's time."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self._last_end: float | None = None

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        start = time.perf_counter()
        if self._last_end is not None and self.statements:
            self.statements[-1].after = start - self._last_end
        try:
            return execute(sql, params, many, context)
        finally:
            end = time.perf_counter()
            self.statements.append(Statement(sql, end - start, many=many))
            self._last_end = end

    def close(self, end: float) -> None:
        if self._last_end is not None and self.statements:
            self.statements[-1].after = end - self._last_end

    def report(self, title: str, top: int = 12) -> None:
        total = sum(st.seconds for st in self.statements)
        python = sum(st.after for st in self.statements)
        print(
            f"--- SQL profile, {title}: {len(self.statements)} statements, "
            f"{total:.2f} s in the database, {python:.2f} s between statements"
        )
        groups: dict[str, list[Statement]] = {}
        for st in self.statements:
            groups.setdefault(_shape(st.sql), []).append(st)
        ranked = sorted(groups.items(), key=lambda kv: -sum(s.seconds + s.after for s in kv[1]))
        for shape, items in ranked[:top]:
            secs = sum(s.seconds for s in items)
            after = sum(s.after for s in items)
            many = " (executemany)" if any(s.many for s in items) else ""
            print(f"{secs:8.2f} s  +{after:6.2f} s after  ×{len(items)}{many}  {shape[:400]}")


def _shape(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql).strip()
    return re.sub(r"'\d{4}-\d{2}-\d{2}'", "'DATE'", text)


def run_batch(as_of: dt.date, shards: int) -> tuple[str, Any]:
    """One run through the engine's public entry point."""
    try:
        from cuishou.engine.batch import batch_run
    except ImportError:
        from cuishou.engine.services import portfolio_recompute

        return "portfolio_recompute", portfolio_recompute(as_of=as_of, actor="bench")
    return "batch_run", batch_run(as_of=as_of, shards=shards, actor="bench")


def measure_floor() -> tuple[float, float, int]:
    """(a) one GROUP BY read of the installments, every row fetched; (b) one UPDATE of one
    integer column of every loan (to the value it holds), committed."""
    from django.db import connection, transaction

    t = time.perf_counter()
    rows = 0
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT loan_id,
                   SUM(principal_due - principal_paid),
                   SUM(interest_due - interest_paid),
                   MIN(CASE WHEN principal_paid < principal_due OR interest_paid < interest_due
                            THEN due_on END)
            FROM portfolio_installment
            GROUP BY loan_id"""
        )
        while batch := cur.fetchmany(10_000):
            rows += len(batch)
    read_s = time.perf_counter() - t

    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE portfolio_loan SET dpd = ABS(dpd)")
    write_s = time.perf_counter() - t
    return read_s, write_s, rows


def start_workers(count: int, log: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` database-backed task workers on the bench database, for ``--shards``;
    their output goes to ``log`` (stdout ends with the JSON line)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "cuishou.manage", "db_worker", "--no-reload"]
    command += ["--queue-name", os.environ["CUISHOU_TASKS_QUEUE"], "--interval", "0.1"]
    command += ["--no-startup-delay"]
    with log.open("ab") as out:
        workers = [
            subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            for _ in range(count)
        ]
    time.sleep(3)  # let them import Django and start polling before the first run
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--installments", type=int, default=6)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="the server to create the database %(prog)s uses on (default: %(default)s)",
    )
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument(
        "--workers",
        type=int,
        help="database-backed task workers to start for --shards (default: as many as shards;"
        " none with CUISHOU_TASKS=rq, whose workers you start yourself)",
    )
    parser.add_argument(
        "--ledger",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="payments posted through the system (dated allocations) and penalty pauses;"
        " --no-ledger leaves them out (the engine may then take a faster path)",
    )
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the SQLite file too")
    parser.add_argument("--profile-sql", action="store_true", help="time every statement")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.accounts < 1 or args.installments < 1:
        parser.error("--accounts and --installments must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="cuishou-bench-batch-"))
    os.environ["CUISHOU_VAR_DIR"] = str(tmp)
    if args.db == "postgres":
        os.environ["DATABASE_URL"] = fresh_postgres(args.postgres_url, PG_NAME)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "cuishou.settings"
    os.environ.setdefault("CUISHOU_TASKS", "db")
    os.environ.setdefault("CUISHOU_TASKS_QUEUE", "bench_batch")
    # Production settings: DEBUG would keep every statement in connection.queries.
    os.environ["CUISHOU_DEBUG"] = "0"
    os.environ.setdefault("CUISHOU_SECRET_KEY", "bench-only-not-a-secret")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cuishou.cases.choices import OPEN_STATUSES

    workers: list[subprocess.Popen[bytes]] = []

    def settle(when: str, *, sqlite_too: bool = False) -> None:
        """PostgreSQL: VACUUM ANALYZE, what autovacuum does between two nights (else the
        next full-table update meets a table of dead rows and no free space for HOT
        updates). SQLite updates in place: ANALYZE only after the load, with --analyze."""
        if connection.vendor != "postgresql" and not sqlite_too:
            return
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        print(
            f"{'VACUUM ' if connection.vendor == 'postgresql' else ''}ANALYZE {when}: "
            f"{time.perf_counter() - t:.1f} s"
        )

    try:
        t = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"{connection.vendor} database migrated in {time.perf_counter() - t:.1f} s")

        now = timezone.now()
        t = time.perf_counter()
        gen: Generated = _in_child(
            generate,
            args.accounts,
            args.installments,
            vendor=connection.vendor,
            now=now,
            ledger=args.ledger,
        )
        generate_s = time.perf_counter() - t
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in gen.timings.items())
        print(
            f"generated {gen.loans} loans of {gen.debtors} debtors with {gen.installments} "
            f"installments, {gen.payments} payments and {gen.pauses} penalty pauses "
            f"in {generate_s:.1f} s ({parts})"
        )
        analyzed = args.db == "postgres" or args.analyze
        if analyzed:
            settle("after the load", sqlite_too=True)
        if args.db == "sqlite":
            size = sum(f.stat().st_size for f in tmp.glob("bench.sqlite3*"))
            print(f"database file {size / 1e6:.0f} MB")

        if args.shards > 1 and os.environ["CUISHOU_TASKS"] == "db":
            count = args.shards if args.workers is None else args.workers
            workers = start_workers(count, tmp / "workers.log")
            print(f"started {count} db_worker processes (log: {tmp / 'workers.log'})")
        runs: dict[str, float] = {}
        entry = ""
        for label, as_of in (("first", TODAY), ("steady", TODAY + dt.timedelta(days=1))):
            timer = SqlTimer()
            t = time.perf_counter()
            if args.profile_sql:
                with connection.execute_wrapper(timer):
                    entry, result = run_batch(as_of, args.shards)
            else:
                entry, result = run_batch(as_of, args.shards)
            end = time.perf_counter()
            runs[label] = end - t
            timer.close(end)
            shown = getattr(result, "counts", result)
            print(f"{label} run ({entry}, as of {as_of}): {runs[label]:.2f} s  {shown}")
            if args.profile_sql:
                timer.report(f"{label} run")
            settle(f"after the {label} run")

        with connection.cursor() as cur:
            cur.execute("SELECT bucket, COUNT(*) FROM portfolio_loan GROUP BY bucket ORDER BY 1")
            buckets = dict(cur.fetchall())
            cur.execute(
                "SELECT COUNT(*) FROM cases_case WHERE status IN (%s, %s)", list(OPEN_STATUSES)
            )
            cases_open = cur.fetchone()[0]
            # Totals to compare runs and databases (the figures must agree).
            cur.execute(
                "SELECT SUM(ROUND(overdue_principal * 100)), SUM(ROUND(overdue_interest * 100)),"
                " SUM(ROUND(penalty * 100)), SUM(ROUND(balance * 100)), SUM(dpd),"
                " SUM(CASE WHEN penalty_capped THEN 1 ELSE 0 END) FROM portfolio_loan"
            )
            totals = [int(v or 0) for v in cur.fetchone()]
        print(f"loans per bucket: {buckets}; open cases: {cases_open}")
        print(
            "totals (fen): overdue principal {}, overdue interest {}, penalty {}, balance {};"
            " dpd sum {}; capped loans {}".format(*totals)
        )

        read_s, write_s, rows = measure_floor()
        floor_s = read_s + write_s
        print(
            f"floor: GROUP BY read of {gen.installments} installments into {rows} rows "
            f"{read_s:.2f} s + UPDATE of every loan's dpd {write_s:.2f} s = {floor_s:.2f} s"
        )
        seconds = runs["steady"]
        print(
            json.dumps(
                {
                    "bench": "portfolio_batch",
                    "accounts": args.accounts,
                    "seconds": round(seconds, 2),
                    "floor_seconds": round(floor_s, 2),
                    "ratio": round(seconds / floor_s, 2),
                    "accounts_per_s": round(args.accounts / seconds),
                    "first_run_seconds": round(runs["first"], 2),
                    "floor_read_seconds": round(read_s, 2),
                    "floor_write_seconds": round(write_s, 2),
                    "db": args.db,
                    "installments": gen.installments,
                    "debtors": gen.debtors,
                    "shards": args.shards,
                    "payments": gen.payments,
                    "pauses": gen.pauses,
                    "entry": entry,
                    "analyzed": analyzed,
                    "generate_seconds": round(generate_s, 2),
                    "cases_open": cases_open,
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                },
                ensure_ascii=False,
            )
        )
    finally:
        stop_workers(workers)
        if args.keep:
            print(f"kept: {os.environ['DATABASE_URL']}", file=sys.stderr)
        else:
            if args.db == "postgres":
                drop_postgres(args.postgres_url, PG_NAME)
            connection.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
