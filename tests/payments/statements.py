"""What the statement tests share: the day they run on and the statement header."""

from __future__ import annotations

import datetime as dt

import pytest

TODAY = dt.date(2026, 11, 20)
HEADER = "txn_id,date,amount,payer_name,payer_account,memo"


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """Posting, reconciliation and the recompute marks all see ``TODAY``."""
    for where in (
        "cuishou.payments.services.today_shanghai",
        "cuishou.payments.reconcile.today_shanghai",
        "cuishou.engine.marks.today_shanghai",
    ):
        monkeypatch.setattr(where, lambda: TODAY)
    return TODAY
