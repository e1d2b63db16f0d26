"""``cuishou batch`` in-process (tasks run inline, ImmediateBackend): the command's output
and errors, the run record, history replay (``--from``, recompute marks, a missed night),
marks consumed only by a run that succeeded, stale runs, and shards equal to one run.

The processes (kill -9 and re-run, database and RQ workers) are in test_batch_processes.py.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.core.timeutil import today_shanghai
from cuishou.engine import batch as batch_module
from cuishou.engine.batch import BatchError, batch_run, debtor_ranges
from cuishou.engine.choices import RunStatus
from cuishou.engine.models import BatchRun, CaseSnapshot, RecomputeMark
from cuishou.payments.services import payment_post
from cuishou.portfolio.models import Loan
from tests.engine.reference import STORED_FIELDS
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def overdue_loan(client: Any, *, due: str, debtor: Any = None, installments: int = 1) -> Loan:
    """A loan whose installments (1500.00 + 75.00 each, monthly from ``due``) are unpaid."""
    loan = LoanFactory(
        client=client, debtor=debtor or DebtorFactory(), disbursed_on=D("2026-05-01")
    )
    first = D(due)
    for seq in range(installments):
        InstallmentFactory(
            loan=loan,
            seq=seq + 1,
            due_on=dt.date(
                first.year + (first.month + seq - 1) // 12,
                (first.month + seq - 1) % 12 + 1,
                first.day,
            ),
            principal_due=Decimal("1500.00"),
            interest_due=Decimal("75.00"),
        )
    return loan


def snapshot_days(loan: Loan) -> dict[str, int]:
    """The debtor's snapshot rows with the loan's client: day → dpd."""
    rows = CaseSnapshot.objects.filter(
        case__debtor_id=loan.debtor_id, client_id=loan.client_id
    ).order_by("as_of")
    return {row.as_of.isoformat(): row.dpd for row in rows}


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("batch", *args, stdout=out)
    return out.getvalue()


# --- the command ----------------------------------------------------------------------


def test_command_prints_the_run_and_loans_per_bucket() -> None:
    client = ClientFactory(code="HX")
    overdue_loan(client, due="2026-10-10")  # 36 days past due on 2026-11-15: M2
    overdue_loan(client, due="2026-11-05")  # 10 days: M1
    LoanFactory(client=client)  # no schedule: nothing overdue

    out = run_command("--as-of", "2026-11-15")

    run = BatchRun.objects.get()
    assert f"Batch run #{run.pk} as of 2026-11-15 (every client, 1 shard) succeeded" in out
    assert "History: no past day needed rewriting." in out
    assert "Loans: 3, 3 recomputed, 3 changed. Cases: 2 opened" in out
    assert "Loans per bucket: M0 1, M1 1, M2 1, M3 0, M4 0, M5 0, M6 0, M7+ 0." in out


def test_command_from_to_replays_the_days_and_names_them() -> None:
    client = ClientFactory(code="HX")
    loan = overdue_loan(client, due="2026-10-10")

    out = run_command("--from", "2026-11-10", "--to", "2026-11-15", "--client", "HX")

    assert "(HX, 1 shard)" in out
    assert "History: 5 days rewritten from 2026-11-10, 5 snapshot rows." in out
    assert snapshot_days(loan) == {
        "2026-11-10": 31,
        "2026-11-11": 32,
        "2026-11-12": 33,
        "2026-11-13": 34,
        "2026-11-14": 35,
        "2026-11-15": 36,
    }
    run = BatchRun.objects.get()
    assert (run.as_of, run.date_from, run.client) == (D("2026-11-15"), D("2026-11-10"), client)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-02-30"], "--as-of: 2026-02-30 is not a date (YYYY-MM-DD)"),
        (["--from", "yesterday"], "--from: yesterday is not a date (YYYY-MM-DD)"),
        (["--from", "2026-11-16", "--to", "2026-11-15"], "--from 2026-11-16 is after 2026-11-15"),
        (["--as-of", "2026-11-15", "--to", "2026-11-15"], "give --as-of or --to, not both"),
        (["--client", "NOPE"], "unknown client NOPE"),
        (["--shards", "0"], "--shards must be at least 1"),
    ],
)
def test_command_refuses_bad_input_and_runs_nothing(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as exc:
        run_command(*args)
    assert message in str(exc.value)
    assert not BatchRun.objects.exists()


def test_command_refuses_a_day_in_the_future() -> None:
    tomorrow = today_shanghai() + dt.timedelta(days=1)
    with pytest.raises(CommandError, match="is in the future"):
        run_command("--as-of", tomorrow.isoformat())
    assert not BatchRun.objects.exists()


# --- the run record -------------------------------------------------------------------


def test_run_record_says_when_where_and_what() -> None:
    client = ClientFactory()
    overdue_loan(client, due="2026-10-10")
    overdue_loan(client, due="2026-06-10")  # 158 days: M6
    before = timezone.now()

    run = batch_run(as_of=D("2026-11-15"), actor="cron")

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert (run.host, run.pid, run.shards, run.actor_label) == (
        socket.gethostname(),
        os.getpid(),
        1,
        "cron",
    )
    assert before <= run.started_at <= run.finished_at <= timezone.now()
    assert run.date_from is None and run.errors == ""
    assert run.counts["loans"] == 2 and run.counts["cases_opened"] == 2
    assert run.counts["snapshots"] == 2 and run.counts["history_days"] == 0
    assert run.bucket_counts["M2"] == 1 and run.bucket_counts["M6"] == 1
    assert AuditEvent.objects.filter(action="batch.succeed", object_id=str(run.pk)).exists()


# --- history: marks, gaps -------------------------------------------------------------


def test_backdated_payment_rewrites_the_debtors_history_and_consumes_the_mark() -> None:
    client = ClientFactory()
    paid = overdue_loan(client, due="2026-10-10")
    other = overdue_loan(client, due="2026-10-10")
    batch_run(as_of=D("2026-11-10"))
    batch_run(as_of=D("2026-11-15"), date_from=D("2026-11-11"))
    assert (
        snapshot_days(paid)
        == snapshot_days(other)
        == {f"2026-11-{day}": day + 21 for day in range(10, 16)}
    )

    # Paid in full with value date 12 November, posted later: history changes from then.
    payment_post(
        actor=UserFactory(), loan=paid, amount=Decimal("1575.00"), value_date=D("2026-11-12")
    )
    assert RecomputeMark.objects.filter(
        debtor_id=paid.debtor_id, from_date=D("2026-11-12")
    ).exists()

    run = batch_run(as_of=D("2026-11-16"))

    # Nothing was overdue from 12 November on: those rows are gone; the day before stays.
    assert snapshot_days(paid) == {"2026-11-10": 31, "2026-11-11": 32}
    assert snapshot_days(other) == {f"2026-11-{day}": day + 21 for day in range(10, 17)}
    # The payment paid the loan off: the case is closed as paid in full.
    closed = Case.objects.get(debtor_id=paid.debtor_id)
    assert (closed.status, closed.closure) == ("closed", "paid_in_full")
    assert not RecomputeMark.objects.exists()
    run.refresh_from_db()
    assert run.date_from == D("2026-11-12") and run.counts["history_days"] == 4


def test_a_failing_step_fails_the_run_and_keeps_the_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ClientFactory()
    loan = overdue_loan(client, due="2026-10-10")
    RecomputeMark.objects.create(
        client=client, debtor_id=loan.debtor_id, from_date=D("2026-11-12"), reason="backdated"
    )

    def broken(**kwargs: Any) -> dict[str, int]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(batch_module, "portfolio_recompute", broken)
    with pytest.raises(BatchError, match="RuntimeError: disk full") as exc:
        batch_run(as_of=D("2026-11-15"))

    run = BatchRun.objects.get()
    assert exc.value.run == run
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert "RuntimeError: disk full" in run.errors
    assert RecomputeMark.objects.count() == 1
    loan.refresh_from_db()
    assert loan.computed_as_of is None  # the current state was never written

    # Fixed and run again: the mark's days are rewritten and the mark is consumed.
    monkeypatch.undo()
    batch_run(as_of=D("2026-11-15"))
    assert snapshot_days(loan) == {f"2026-11-{day}": day + 21 for day in range(12, 16)}
    assert not RecomputeMark.objects.exists()


def test_a_replay_of_an_older_day_keeps_the_marks_for_the_later_days() -> None:
    client = ClientFactory()
    loan = overdue_loan(client, due="2026-10-10")
    batch_run(as_of=D("2026-11-15"))
    RecomputeMark.objects.create(
        client=client, debtor_id=loan.debtor_id, from_date=D("2026-11-12"), reason="reversal"
    )

    batch_run(as_of=D("2026-11-13"))

    assert RecomputeMark.objects.count() == 1  # 14 and 15 November still need it


def test_a_missed_night_is_filled() -> None:
    client = ClientFactory()
    loan = overdue_loan(client, due="2026-10-10")
    batch_run(as_of=D("2026-11-10"))

    run = batch_run(as_of=D("2026-11-14"))  # 11, 12 and 13 November had no run

    assert snapshot_days(loan) == {f"2026-11-{day}": day + 21 for day in range(10, 15)}
    run.refresh_from_db()
    assert run.date_from == D("2026-11-11") and run.counts["history_days"] == 3


def test_a_gap_is_filled_at_most_31_days_back() -> None:
    client = ClientFactory()
    overdue_loan(client, due="2026-06-10")
    batch_run(as_of=D("2026-08-01"))

    run = batch_run(as_of=D("2026-11-15"))

    run.refresh_from_db()
    assert run.date_from == D("2026-10-15") and run.counts["history_days"] == 31


def test_a_failed_run_is_no_anchor_for_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ClientFactory()
    loan = overdue_loan(client, due="2026-10-10")
    batch_run(as_of=D("2026-11-10"))
    monkeypatch.setattr(batch_module, "portfolio_recompute", lambda **kw: 1 / 0)
    with pytest.raises(BatchError):
        batch_run(as_of=D("2026-11-12"))
    monkeypatch.undo()

    batch_run(as_of=D("2026-11-13"))

    assert list(snapshot_days(loan)) == [f"2026-11-{day}" for day in range(10, 14)]


# --- stale and live runs --------------------------------------------------------------


def _running(*, host: str, pid: int | None, hours_ago: float) -> BatchRun:
    return BatchRun.objects.create(
        as_of=D("2026-11-14"),
        status=RunStatus.RUNNING,
        host=host,
        pid=pid,
        started_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_runs_whose_process_is_gone_are_marked_abandoned() -> None:
    here = _running(host=socket.gethostname(), pid=_dead_pid(), hours_ago=0.1)
    elsewhere = _running(host="other-host", pid=123, hours_ago=13)

    run = batch_run(as_of=D("2026-11-15"))

    for old in (here, elsewhere):
        old.refresh_from_db()
        assert old.status == RunStatus.ABANDONED
        assert old.finished_at is not None
        assert "is gone" in old.errors and "Running the batch again completes it" in old.errors
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


@pytest.mark.parametrize("where", ["this host, live process", "another host, 1 hour ago"])
def test_a_live_run_of_the_same_portfolio_blocks_a_second(where: str) -> None:
    if where.startswith("this"):
        live = _running(host=socket.gethostname(), pid=os.getppid(), hours_ago=0.1)
    else:
        live = _running(host="other-host", pid=123, hours_ago=1)

    with pytest.raises(BatchError, match=f"batch run #{live.pk} .* is still running"):
        batch_run(as_of=D("2026-11-15"))

    live.refresh_from_db()
    assert live.status == RunStatus.RUNNING
    assert BatchRun.objects.count() == 1


def test_a_live_run_of_another_client_does_not_block() -> None:
    a, b = ClientFactory(), ClientFactory()
    live = _running(host="other-host", pid=123, hours_ago=1)
    live.client = a
    live.save(update_fields=["client"])

    run = batch_run(as_of=D("2026-11-15"), client=b)

    assert run.status == RunStatus.SUCCEEDED


# --- shards -----------------------------------------------------------------------------


def test_debtor_ranges_split_the_loans_about_evenly() -> None:
    client = ClientFactory()
    debtors = [DebtorFactory() for _ in range(9)]
    for debtor in debtors:
        LoanFactory(client=client, debtor=debtor)
    ids = sorted(d.pk for d in debtors)

    ranges = debtor_ranges(client_id=None, shards=3)

    assert [(r.lo, r.hi) for r in ranges] == [(None, ids[3]), (ids[3], ids[6]), (ids[6], None)]
    assert debtor_ranges(client_id=None, shards=1)[0].lo is None
    assert len(debtor_ranges(client_id=None, shards=20)) == 9  # never an empty range


def _state() -> dict[str, Any]:
    """Everything the run writes, keyed by what stays the same across runs (case ids do
    not on PostgreSQL, whose sequences ignore rollbacks)."""
    loans = {
        row[0]: row[1:] for row in Loan.objects.values_list("id", *STORED_FIELDS, "computed_as_of")
    }
    cases = {
        (c.client_id, c.debtor_id): (
            c.status,
            c.stage,
            c.bucket,
            c.dpd,
            c.overdue_amount,
            c.balance,
            c.computed_as_of,
        )
        for c in Case.objects.all()
    }
    snapshots = {
        (s.as_of, s.case.client_id, s.case.debtor_id): (
            s.bucket,
            s.dpd,
            s.stage,
            s.overdue_amount,
            s.balance,
        )
        for s in CaseSnapshot.objects.select_related("case")
    }
    marks = RecomputeMark.objects.count()
    return {"loans": loans, "cases": cases, "snapshots": snapshots, "marks": marks}


def test_the_sharded_run_equals_the_single_run() -> None:
    a = ClientFactory()
    b = ClientFactory()
    product = ProductFactory(client=a, penalty_annual_rate=Decimal("0.18"), grace_days=3)
    for i in range(12):
        client = a if i % 3 else b
        loan = overdue_loan(client, due=f"2026-{6 + i % 5:02d}-{10 + i:02d}", installments=3)
        if client == a and i % 2:
            Loan.objects.filter(pk=loan.pk).update(product=product)
        if i % 4 == 0:  # a second loan of the same debtor
            overdue_loan(client, due="2026-11-01", debtor=loan.debtor)
    batch_run(as_of=D("2026-11-08"))  # some cases open before the runs compared
    paid = Loan.objects.filter(client=a).order_by("id").first()
    assert paid is not None
    payment_post(
        actor=UserFactory(), loan=paid, amount=Decimal("5000.00"), value_date=D("2026-11-09")
    )

    with transaction.atomic():
        single_run = batch_run(as_of=D("2026-11-15"), date_from=D("2026-11-05"))
        single = _state()
        transaction.set_rollback(True)
    assert _state() != single  # rolled back: the sharded run starts from the same data

    sharded_run = batch_run(as_of=D("2026-11-15"), date_from=D("2026-11-05"), shards=3)

    assert _state() == single
    assert single["marks"] == 0 and len(single["snapshots"]) > 50
    sharded_run.refresh_from_db()
    assert sharded_run.shards == 3 and sharded_run.status == RunStatus.SUCCEEDED
    assert sharded_run.counts == single_run.counts
    assert sharded_run.bucket_counts == single_run.bucket_counts


def test_a_failing_shard_fails_the_run_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ClientFactory()
    loans = [overdue_loan(client, due="2026-10-10") for _ in range(6)]
    RecomputeMark.objects.create(
        client=client, debtor_id=loans[0].debtor_id, from_date=D("2026-11-12"), reason="x"
    )
    real = batch_module.shard_current
    middle = sorted(loan.debtor_id for loan in loans)[2]

    def broken(*, as_of: dt.date, scope: Any, actor: Any) -> dict[str, int]:
        if scope.debtor_lo == middle:
            raise ValueError("bad row in shard")
        return real(as_of=as_of, scope=scope, actor=actor)

    monkeypatch.setattr(batch_module, "shard_current", broken)
    with pytest.raises(BatchError) as exc:
        batch_run(as_of=D("2026-11-15"), shards=3)

    run = BatchRun.objects.get()
    assert run.status == RunStatus.FAILED
    expected = f"shard 2 of 3 (debtor ids {middle}–"
    assert expected in str(exc.value) and expected in run.errors
    assert "ValueError: bad row in shard" in run.errors
    assert RecomputeMark.objects.count() == 1


# --- the admin --------------------------------------------------------------------------


def test_admin_lists_runs_read_only_and_a_days_snapshots(client: Any) -> None:
    hx, jy = ClientFactory(code="HX"), ClientFactory(code="JY")
    overdue_loan(hx, due="2026-10-10")  # 36 days on 15 November: M2
    overdue_loan(jy, due="2026-11-05")  # 10 days: M1
    run = batch_run(as_of=D("2026-11-15"), date_from=D("2026-11-14"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    runs_page = client.get("/admin/engine/batchrun/")
    assert runs_page.status_code == 200
    assert "/admin/engine/batchrun/snapshots/?as_of=2026-11-15" in runs_page.text
    assert client.get("/admin/engine/batchrun/add/").status_code == 403
    assert client.get(f"/admin/engine/batchrun/{run.pk}/change/").status_code == 200

    latest = client.get("/admin/engine/batchrun/snapshots/")  # the last run's day
    assert latest.status_code == 200
    assert "2 snapshot rows on 2026-11-15." in latest.text
    assert "M2 (1)" in latest.text and "M1 (1)" in latest.text

    day_before = client.get(
        "/admin/engine/batchrun/snapshots/", {"as_of": "2026-11-14", "client": hx.pk}
    )
    assert "1 snapshot row on 2026-11-14." in day_before.text
    assert "<td>35</td>" in day_before.text  # HX's dpd that day

    bad = client.get("/admin/engine/batchrun/snapshots/", {"as_of": "15/11/2026"})
    assert "15/11/2026 is not a date (YYYY-MM-DD)" in bad.text


def test_snapshots_page_needs_the_view_permission(client: Any) -> None:
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/admin/engine/batchrun/snapshots/").status_code == 403
