"""The portfolio run: every loan's computed state, then the cases that follow from it.

``portfolio_recompute`` is set-based (the statements are in ``cuishou.engine.sql``): a
handful of SQL statements whatever the portfolio's size, never a loop of ORM saves. The
definitions (dpd, bucket, penalty interest with grace, 复利, pauses and the cost cap,
balances, the case lifecycle and the stage ladder) are in ``docs/engine.md``.

A run works in two temporary tables: the loans' figures as of the day, then the figures
per debtor and client (with the stage the strategy table gives). From those it

- writes the computed state of the loans whose figures changed;
- opens a case for every debtor and client newly overdue beyond the grace days, refreshes
  the open ones (and cured ones, so their figures stay current), cures the ones with
  nothing overdue, closes the ones that owe nothing as paid in full (archived, one by
  one: few a night) and reopens cured ones, and ones closed as paid in full whose
  payment bounced, overdue again (one case file per debtor and client);
- moves open cases to the stage the strategy table gives (a hand-set stage is a floor);
- writes the day's snapshot rows.

``snapshots_rewrite`` recomputes a past day's snapshot rows only (history after a
backdated change): the figures are a pure function of the data and the day.

Opened, cured, closed, reopened and re-staged cases are audited, one event each, appended in one
batch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from cuishou.audit.services import AuditEntry, audit_record_many
from cuishou.cases.choices import CLOSED_STATUSES, OPEN_STATUSES, CaseStatus, Closure
from cuishou.cases.closure import cases_close_paid_off
from cuishou.core.money import fen_to_decimal
from cuishou.core.sqlite import run_page_cache
from cuishou.core.timeutil import require_date
from cuishou.engine import sql
from cuishou.engine.sql import Scope
from cuishou.portfolio.choices import Bucket
from cuishou.portfolio.models import Client

__all__ = [
    "ENGINE_ACTOR",
    "Scope",
    "loan_bucket_counts",
    "portfolio_recompute",
    "run_page_cache",
    "snapshots_rewrite",
]

PAID = Closure.PAID_IN_FULL.value
ENGINE_ACTOR = "engine"
_RULE_NAMES = {
    sql.RULE_GRACE: "within the grace days",
    sql.RULE_CLIENT: "the client's strategy table",
    sql.RULE_DEFAULT: "the default ladder",
}


def _scope_of(client: Client | None, scope: Scope | None) -> Scope:
    scope = scope or Scope()
    if client is not None:
        if scope.client_id not in (None, client.pk):
            raise ValueError("client and scope name different clients")
        scope = Scope(
            client_id=client.pk,
            debtor_lo=scope.debtor_lo,
            debtor_hi=scope.debtor_hi,
            marked_on=scope.marked_on,
            loan_id=scope.loan_id,
        )
    if scope.loan_id is not None:
        raise ValueError("a run covers clients or debtor ranges, not one loan")
    return scope


def _prepare(cur: CursorWrapper, d: sql.Dialect, as_of: dt.date, scope: Scope) -> None:
    """Fill the two working tables with the figures as of ``as_of``."""
    if d.pg:
        # One big analytic statement: JIT compiling it costs more than it saves, and its
        # sorts and hashes want more memory than the default 4 MB. Both for this
        # transaction only.
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '256MB'")
    for statement in sql.drop_work_tables(d):
        cur.execute(statement)
    for statement in sql.loan_table_statements(d, as_of, scope):
        cur.execute(statement)
    cur.execute(sql.create_case_table(d))
    cur.execute(sql.fill_case_table(d))
    for statement in sql.analyze(d):
        cur.execute(statement)


def _drop(cur: CursorWrapper, d: sql.Dialect) -> None:
    for statement in sql.drop_work_tables(d):
        cur.execute(statement)


def portfolio_recompute(
    *,
    as_of: dt.date,
    client: Client | None = None,
    scope: Scope | None = None,
    actor: Any = ENGINE_ACTOR,
) -> dict[str, int]:
    """Recompute every loan in scope (``client``, a debtor range, or all) as of ``as_of``
    and open, update, cure, reopen and re-stage the cases; write the day's snapshots.
    Returns counts: loans (in scope), loans_recomputed (the others have nothing unpaid,
    no dated allocation or pause, and all-zero figures stored: nothing to compute),
    loans_changed (written: their figures changed),
    cases_opened, cases_updated, cases_cured, cases_reopened, stage_changes, snapshots."""
    require_date(as_of, field="as_of")
    scope = _scope_of(client, scope)
    with run_page_cache(), transaction.atomic():
        d = sql.Dialect(connection.vendor)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        counts: dict[str, int] = {}
        entries: list[AuditEntry] = []
        with connection.cursor() as cur:
            cur.execute(sql.lock_clients(d, scope.client_id))
            _prepare(cur, d, as_of, scope)
            cur.execute(sql.loans_in_scope(d, scope))
            counts["loans"] = int(cur.fetchone()[0])
            cur.execute(f"SELECT COUNT(*) FROM {sql.LOAN_TABLE}")
            counts["loans_recomputed"] = int(cur.fetchone()[0])
            cur.execute(sql.update_loans(d, as_of), [now])
            counts["loans_changed"] = max(cur.rowcount, 0)
            cur.execute(sql.update_loan_buckets(d))

            # Read before the figures change, so the audit shows what the case was.
            cur.execute(sql.cases_to_cure(d, scope, OPEN_STATUSES))
            to_cure = cur.fetchall()

            tracked = [*OPEN_STATUSES, CaseStatus.CURED.value]
            cur.execute(sql.update_case_figures(d, as_of, scope, tracked), [now])
            counts["cases_updated"] = max(cur.rowcount, 0)
            cur.execute(sql.update_case_buckets(d, scope, tracked))

            reason = f"nothing overdue as of {as_of.isoformat()}"
            cur.execute(
                sql.cure_cases(d, as_of, scope, OPEN_STATUSES, CaseStatus.CURED.value),
                [reason, now],
            )
            counts["cases_cured"] = len(to_cure)
            entries += [
                _case_event(
                    "case.cure",
                    case_id,
                    as_of,
                    reason,
                    before={"status": status, "bucket": bucket, "dpd": dpd},
                    after={"status": CaseStatus.CURED.value, "bucket": Bucket.M0.value, "dpd": 0},
                )
                for case_id, status, bucket, dpd in to_cure
            ]

            reason = f"overdue again as of {as_of.isoformat()}"
            counts["cases_reopened"] = 0
            # Cured cases, and cases closed as paid in full whose payment bounced.
            for status, closure in ((CaseStatus.CURED, ""), (CaseStatus.CLOSED, PAID)):
                cur.execute(
                    sql.reopen_cases(d, as_of, scope, status.value, CaseStatus.OPEN.value, closure),
                    [reason, now],
                )
                reopened = sorted(cur.fetchall())
                counts["cases_reopened"] += len(reopened)
                before = {"status": status.value, **({"closure": closure} if closure else {})}
                entries += [
                    _case_event(
                        "case.reopen",
                        case_id,
                        as_of,
                        reason,
                        before=before,
                        after={"status": CaseStatus.OPEN.value, "bucket": bucket, "dpd": dpd},
                    )
                    for case_id, bucket, dpd in reopened
                ]

            cur.execute(sql.open_cases(d, as_of, CaseStatus.OPEN.value), [now, now])
            opened = sorted(cur.fetchall())
            if opened:
                cur.execute(sql.case_ids_refresh(d))
            counts["cases_opened"] = len(opened)
            entries += [
                _case_event(
                    "case.open",
                    case_id,
                    as_of,
                    f"opened as of {as_of.isoformat()}: {bucket}, {dpd} days past due",
                    after={
                        "status": CaseStatus.OPEN.value,
                        "stage": stage,
                        "bucket": bucket,
                        "dpd": dpd,
                        "overdue_amount": fen_to_decimal(int(overdue_fen)),
                        "balance": fen_to_decimal(int(balance_fen)),
                    },
                )
                for case_id, stage, bucket, dpd, overdue_fen, balance_fen in opened
            ]

            cur.execute(sql.stage_changes(d, scope, OPEN_STATUSES))
            moves = cur.fetchall()
            if moves:
                cur.execute(sql.update_stages(d, scope, OPEN_STATUSES), [now])
            counts["stage_changes"] = len(moves)
            entries += [
                _case_event(
                    "case.stage",
                    case_id,
                    as_of,
                    f"stage {old} → {new} ({bucket}, {_RULE_NAMES[rule]})",
                    before={"stage": old, "stage_set_by_hand": bool(hand)},
                    after={"stage": new, "bucket": bucket, "rule": rule},
                )
                for case_id, old, new, bucket, hand, rule in moves
            ]

            # Owing nothing any more closes the case as paid in full (archived, audited).
            cur.execute(sql.cases_paid_off(d, scope, tracked))
            paid_off = [int(r[0]) for r in cur.fetchall()]
            counts["cases_paid_off"] = cases_close_paid_off(
                case_ids=paid_off, as_of=as_of, actor=actor
            )

            counts["snapshots"] = _write_snapshots(cur, d, as_of, scope, current=True)
            _drop(cur, d)
        audit_record_many(actor=actor, entries=entries)
    return counts


def snapshots_rewrite(*, day: dt.date, scope: Scope | None = None) -> int:
    """Replace the snapshot rows of ``day`` for the cases in scope with what the data says
    as of that day (history after a backdated change). Returns the rows written."""
    require_date(day, field="day")
    scope = _scope_of(None, scope)
    with run_page_cache(), transaction.atomic():
        d = sql.Dialect(connection.vendor)
        with connection.cursor() as cur:
            _prepare(cur, d, day, scope)
            written = _write_snapshots(cur, d, day, scope, current=False)
            _drop(cur, d)
    return written


def _write_snapshots(
    cur: CursorWrapper, d: sql.Dialect, day: dt.date, scope: Scope, *, current: bool
) -> int:
    cur.execute(sql.delete_snapshots(d, day, scope))
    cur.execute(sql.insert_snapshots(d, day, CLOSED_STATUSES, current=current))
    return max(cur.rowcount, 0)


def loan_bucket_counts(*, client: Client | None = None) -> dict[str, int]:
    """Loans per bucket as last computed (every bucket present, 0 when empty)."""
    d = sql.Dialect(connection.vendor)
    counts = {b.value: 0 for b in Bucket}
    with connection.cursor() as cur:
        cur.execute(sql.bucket_counts(d, _scope_of(client, None)))
        for bucket, n in cur.fetchall():
            counts[bucket] = counts.get(bucket, 0) + int(n)  # a row per client and bucket
    return counts


def _case_event(
    action: str,
    case_id: int,
    as_of: dt.date,
    summary: str,
    *,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> AuditEntry:
    """One audit event of the run about a case; ``after`` gets the run's date."""
    return AuditEntry(
        action=action,
        object_type="cases.case",
        object_id=str(case_id),
        case_id=case_id,
        summary=summary,
        before=before,
        after={**after, "as_of": as_of},
    )
