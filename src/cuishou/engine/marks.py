"""Recompute marks: a change that reaches back in time tells the next run where to start.

A backdated payment, a reversal or a penalty pause changes a debtor's history from some
past day on. The service that makes the change adds a mark in its own transaction; the
next ``cuishou batch`` rewrites that debtor's snapshots and figures from the mark's date.
A change effective today or later needs no mark: tonight's run computes today anyway.
"""

from __future__ import annotations

import datetime as dt

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
