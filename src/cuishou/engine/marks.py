"""Recompute marks: a change that reaches back in time tells the next run where to start.

A backdated payment, a reversal or a penalty pause changes a debtor's history from some
past day on. The service that makes the change adds a mark in its own transaction; the
next ``cuishou batch`` rewrites that debtor's snapshots and figures from the mark's date.
A change effective today or later needs no mark: tonight's run computes today anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from cuishou.core.rows import rows_insert
from cuishou.core.timeutil import today_shanghai
from cuishou.engine.models import RecomputeMark

_REASON_MAX = RecomputeMark._meta.get_field("reason").max_length or 200


def recompute_mark_add(*, client_id: int, debtor_id: int, from_date: dt.date, reason: str) -> None:
    """Mark the debtor's history with the client for rewriting from ``from_date``, when that
    day is before today (Asia/Shanghai). A plain insert: run it inside the transaction of
    the change it describes, so the mark commits (or rolls back) with it."""
    if from_date >= today_shanghai():
        return
    RecomputeMark.objects.create(
        client_id=client_id, debtor_id=debtor_id, from_date=from_date, reason=reason[:_REASON_MAX]
    )


def recompute_marks_add_many(marks: Iterable[tuple[int, int, dt.date, str]]) -> int:
    """``recompute_mark_add`` for many changes at once: (client id, debtor id, from date,
    reason) each, the same rule (only days before today), one bulk insert. Returns how
    many marks were written. Run it inside the transaction of the changes."""
    today = today_shanghai()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (client_id, debtor_id, from_date.isoformat(), reason[:_REASON_MAX], now)
        for client_id, debtor_id, from_date, reason in marks
        if from_date < today
    ]
    if rows:
        rows_insert(
            RecomputeMark._meta.db_table,
            ("client_id", "debtor_id", "from_date", "reason", "created_at"),
            rows,
        )
    return len(rows)
