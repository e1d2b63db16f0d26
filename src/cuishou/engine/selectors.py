"""Reads of the engine's figures without writing anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet

from cuishou.core.money import fen_to_decimal
from cuishou.core.timeutil import require_date
from cuishou.engine import sql
from cuishou.engine.choices import RunStatus
from cuishou.engine.models import BatchRun, CaseSnapshot
from cuishou.portfolio.choices import bucket_for_dpd


@dataclass(frozen=True)
class LoanFigures:
    """A loan's figures as of the end of a day (see docs/engine.md)."""

    loan_id: int
    as_of: dt.date
    dpd: int
    bucket: str
    overdue_principal: Decimal
    overdue_interest: Decimal
    outstanding_principal: Decimal
    penalty_accrued: Decimal
    penalty_paid: Decimal
    penalty: Decimal  # owed: accrued (capped) − paid, never below 0
    penalty_capped: bool
    balance: Decimal


def loan_figures_as_of(*, loan_id: int, as_of: dt.date) -> LoanFigures:
    """The figures of one loan as of ``as_of``, computed by the same SQL as the nightly
    run (nothing is written). Raises LookupError for an unknown loan."""
    require_date(as_of, field="as_of")
    d = sql.Dialect(connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql.loan_figures(d, as_of, sql.Scope(loan_id=int(loan_id))))
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"no loan with id {loan_id}")
    values = dict(zip(sql.LOAN_COLUMNS, row, strict=True))
    dpd = int(values["dpd"])
    return LoanFigures(
        loan_id=int(values["loan_id"]),
        as_of=as_of,
        dpd=dpd,
        bucket=bucket_for_dpd(dpd),
        overdue_principal=fen_to_decimal(int(values["overdue_principal_fen"])),
        overdue_interest=fen_to_decimal(int(values["overdue_interest_fen"])),
        outstanding_principal=fen_to_decimal(int(values["outstanding_principal_fen"])),
        penalty_accrued=fen_to_decimal(int(values["penalty_accrued_fen"])),
        penalty_paid=fen_to_decimal(int(values["penalty_paid_fen"])),
        penalty=fen_to_decimal(int(values["penalty_fen"])),
        penalty_capped=bool(values["penalty_capped"]),
        balance=fen_to_decimal(int(values["balance_fen"])),
    )


def loan_computed_as_of(*, client_id: int, computed_as_of: dt.date | None) -> dt.date | None:
    """The day a loan's stored figures are known to hold as of: its own ``computed_as_of``
    (when a run last changed them) or the last succeeded run over its client, whichever
    is later (a run leaves a loan whose figures did not change alone)."""
    last_run = (
        BatchRun.objects.filter(status=RunStatus.SUCCEEDED)
        .filter(Q(client__isnull=True) | Q(client_id=client_id))
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if computed_as_of is None or last_run is None:
        return computed_as_of
    return max(computed_as_of, last_run)


def snapshot_days(*, limit: int = 62) -> list[dt.date]:
    """The days of the latest succeeded runs, newest first (the days worth browsing)."""
    return list(
        BatchRun.objects.filter(status=RunStatus.SUCCEEDED)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .distinct()[:limit]
    )


def snapshots_for_day(
    *, day: dt.date | None, client_id: int | None = None, bucket: str | None = None
) -> tuple[QuerySet[CaseSnapshot], dict[str, int]]:
    """A day's snapshot rows (of one client, in one bucket when given), ordered by case,
    and the rows per bucket of that day and client (before the bucket filter)."""
    rows = CaseSnapshot.objects.filter(as_of=day) if day else CaseSnapshot.objects.none()
    if client_id is not None:
        rows = rows.filter(client_id=client_id)
    per_bucket = {
        r["bucket"]: r["n"] for r in rows.values("bucket").annotate(n=Count("case_id")).order_by()
    }
    if bucket:
        rows = rows.filter(bucket=bucket)
    return rows.select_related("case", "client").order_by("case_id"), per_bucket
