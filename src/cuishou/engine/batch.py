"""The nightly run's orchestration: ``cuishou batch``, its record, history, shards.

``batch_run`` does, in order:

1. Marks earlier runs still "running" whose process is gone as abandoned (same host and
   the process id is not alive, or another host and started more than ``STALE_AFTER``
   ago), and refuses to start while a live run covers the same portfolio.
2. Records the run (``BatchRun``, status running, host and process id).
3. Repayment plans kept or broken and settlements paid or lapsed (``plans_decide``,
   ``settlements_decide``): from the payments alone, so before the current state, which
   then puts a case whose plan broke back on its ladder stage and a settled case's loans
   (with their waiver lines) at 0. (Promises are decided after the current state.)
3a. The current state as of ``as_of`` (``portfolio_recompute``): loans, cases, stages and
   the day's snapshot rows, in one transaction.
4. History: rewrites the snapshot rows of past days (``snapshots_rewrite``, one
   transaction a day):

   - every day from ``date_from`` to ``as_of`` − 1 (``--from``), whole scope;
   - a missed night: the days after the last succeeded run's ``as_of``, at most
     ``GAP_DAYS`` back, whole scope;
   - backdated changes: for the debtors with a ``RecomputeMark`` that existed when the
     run started, the days from the earliest mark's ``from_date`` on, each day only for
     the debtors marked on or before it.

   History comes after the current state because a day's snapshot rows are written for
   the cases that exist: a case the run opens (a reversed payment, a first import
   replayed with ``--from``) gets its past days too.
5. On success, in one transaction: deletes the marks it consumed and records the counts,
   the loans per bucket and the first day it rewrote. On any error: status failed with
   the reason, and the error goes on up.

Each step is a pure function of the data and the day and commits on its own, so a run
that dies part-way (``kill -9``) leaves what it committed correct and the rest as it was;
running again recomputes the same figures and finishes the job. Marks are only deleted
in the last transaction, so history is never forgotten.

With ``shards > 1`` the debtors are split into id ranges of about equal loan counts;
each phase (current, then history) is one task per range through Django's Tasks API
(``cuishou.engine.tasks``), and the run waits for every task of a phase before the next.
With ``shards == 1`` everything runs in the calling process, so a run never waits on a
worker that is not there.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.tasks import TaskResultStatus, task_backends
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import actor_parts, audit_record
from cuishou.cases.plans import plans_decide
from cuishou.cases.promises import promises_decide
from cuishou.cases.settlements import settlements_decide
from cuishou.cases.strategies import strategies_assign, strategies_escalate
from cuishou.core.gcpause import gc_paused
from cuishou.core.timeutil import require_date
from cuishou.engine.choices import RunStatus
from cuishou.engine.models import BatchRun, RecomputeMark
from cuishou.engine.services import (
    ENGINE_ACTOR,
    Scope,
    loan_bucket_counts,
    portfolio_recompute,
    run_page_cache,
    snapshots_rewrite,
)
from cuishou.portfolio.models import Client

GAP_DAYS = 31  # a missed night is filled at most this many days back
STALE_AFTER = dt.timedelta(hours=12)  # a run on another host is taken as dead after this
PICKUP_TIMEOUT = 300.0  # seconds a phase may wait for a worker to take its first task
POLL_SECONDS = 0.25
_MARK_CHUNK = 500
_START_LOCK = 0x63756973  # pg_advisory_xact_lock key of "a run is starting" ("cuis")
_COUNT_KEYS = (
    "loans",
    "loans_recomputed",
    "loans_changed",
    "cases_opened",
    "cases_updated",
    "cases_cured",
    "cases_reopened",
    "cases_paid_off",
    "stage_changes",
    "snapshots",
    "history_snapshots",
    "promises_kept",
    "promises_broken",
    "strategy_assigned",
    "strategy_challengers",
    "strategy_escalations",
    "plans_kept",
    "plans_broken",
    "settlements_unpaid",
    "settlements_paid",
    "settlements_lapsed",
)


class BatchError(Exception):
    """A run that could not start or did not finish; the message says why. ``run`` is
    its record (status failed), or ``None`` when it never started."""

    def __init__(self, message: str, *, run: BatchRun | None = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class Shard:
    """One debtor id range: ``lo <= debtor_id < hi`` (``None``: open-ended)."""

    index: int
    count: int
    lo: int | None
    hi: int | None

    def label(self) -> str:
        lo = "…" if self.lo is None else str(self.lo)
        hi = "…" if self.hi is None else str(self.hi - 1)
        return _("shard %(n)d of %(count)d (debtor ids %(lo)s–%(hi)s)") % {
            "n": self.index,
            "count": self.count,
            "lo": lo,
            "hi": hi,
        }


@dataclass(frozen=True)
class HistoryPlan:
    """The past days a run rewrites: ``full_days`` for the whole scope, ``marked_days``
    for the marked debtors only; ``mark_ids`` are the marks it consumes on success."""

    full_days: tuple[dt.date, ...]
    marked_days: tuple[dt.date, ...]
    mark_ids: tuple[int, ...]

    @property
    def days(self) -> list[dt.date]:
        return sorted({*self.full_days, *self.marked_days})

    @property
    def first_day(self) -> dt.date | None:
        days = self.days
        return days[0] if days else None


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive (empty when first > last)."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _scope_filter(client: Client | None) -> Q:
    """Runs that cover ``client`` (or, for a whole-portfolio run, whole-portfolio runs)."""
    if client is None:
        return Q(client__isnull=True)
    return Q(client__isnull=True) | Q(client=client)


def _overlaps(client: Client | None) -> Q:
    """Runs whose portfolio overlaps this one's."""
    if client is None:
        return Q()
    return Q(client__isnull=True) | Q(client=client)


# --- stale runs -----------------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process runs one batch at a time: an old row of ours is dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_dead(run: BatchRun, *, host: str, now: dt.datetime) -> bool:
    if run.host == host:
        return run.pid is None or not _process_alive(run.pid)
    return run.started_at < now - STALE_AFTER


def runs_abandon_stale(*, actor: Any = ENGINE_ACTOR) -> list[BatchRun]:
    """Mark runs still "running" whose process is gone as abandoned; returns them."""
    host, now = socket.gethostname(), timezone.now()
    abandoned = []
    with transaction.atomic():
        running = BatchRun.objects.select_for_update().filter(status=RunStatus.RUNNING)
        for run in running:
            if not _is_dead(run, host=host, now=now):
                continue
            run.status = RunStatus.ABANDONED
            run.finished_at = now
            note = _(
                "Abandoned: process %(pid)s on %(host)s is gone (found by a run started "
                "%(now)s). Running the batch again completes it."
            ) % {"pid": run.pid, "host": run.host, "now": now.isoformat(timespec="seconds")}
            run.errors = f"{run.errors}\n{note}".strip()
            run.save(update_fields=["status", "finished_at", "errors"])
            audit_record(
                actor=actor, action="batch.abandon", target=run, summary=note, after=_state(run)
            )
            abandoned.append(run)
    return abandoned


# --- the plan ---------------------------------------------------------------------------


def history_plan(
    *, as_of: dt.date, date_from: dt.date | None, client: Client | None
) -> HistoryPlan:
    """Which past days to rewrite, from ``date_from``, the last succeeded run and the
    recompute marks that exist now."""
    full: set[dt.date] = set()
    if date_from is not None:
        full.update(_days(date_from, as_of - dt.timedelta(days=1)))

    last = (
        BatchRun.objects.filter(_scope_filter(client), status=RunStatus.SUCCEEDED)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    if last is not None:
        first_gap = max(last + dt.timedelta(days=1), as_of - dt.timedelta(days=GAP_DAYS))
        full.update(_days(first_gap, as_of - dt.timedelta(days=1)))

    marks = RecomputeMark.objects.all()
    if client is not None:
        marks = marks.filter(client=client)
    rows = list(marks.values_list("id", "from_date"))
    marked: set[dt.date] = set()
    if rows:
        earliest = min(from_date for _id, from_date in rows)
        marked = set(_days(earliest, as_of - dt.timedelta(days=1))) - full

    # Marks are consumed only by a run that leaves no later computed day behind: after a
    # replay of an older date, the days after it still need the rewrite.
    newer = BatchRun.objects.filter(
        _overlaps(client), status=RunStatus.SUCCEEDED, as_of__gt=as_of
    ).exists()
    mark_ids = () if newer else tuple(sorted(mark_id for mark_id, _d in rows))
    return HistoryPlan(
        full_days=tuple(sorted(full)), marked_days=tuple(sorted(marked)), mark_ids=mark_ids
    )


def debtor_ranges(*, client_id: int | None, shards: int) -> list[Shard]:
    """Split the debtors into at most ``shards`` contiguous id ranges of about equal loan
    counts (one window query). The first and last ranges are open-ended, so a debtor added
    meanwhile still falls in one."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    bounds: list[int] = []
    if shards > 1:
        where = "" if client_id is None else f"WHERE client_id = {int(client_id)}"
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT MIN(debtor_id) FROM (
                    SELECT debtor_id, NTILE({int(shards)}) OVER (ORDER BY debtor_id) AS tile
                    FROM portfolio_loan {where}
                ) t GROUP BY tile ORDER BY 1
                """
            )
            bounds = sorted({int(row[0]) for row in cur.fetchall()})[1:]
    edges: list[int | None] = [None, *bounds, None]
    count = len(edges) - 1
    return [Shard(i + 1, count, edges[i], edges[i + 1]) for i in range(count)]


# --- the work of one shard (called inline or by the tasks) ------------------------------


def run_is_running(run_id: int) -> bool:
    return BatchRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).exists()


def shard_history(
    *, scope: Scope, full_days: Iterable[dt.date], marked_days: Iterable[dt.date]
) -> dict[str, int]:
    """Rewrite the snapshot rows of each day for ``scope``: whole on ``full_days``, the
    marked debtors only on ``marked_days``. One transaction per day."""
    full = set(full_days)
    rows = 0
    for day in sorted({*full, *marked_days}):
        day_scope = scope if day in full else replace(scope, marked_on=day)
        rows += snapshots_rewrite(day=day, scope=day_scope)
    return {"history_snapshots": rows}


def shard_current(*, as_of: dt.date, scope: Scope, actor: Any) -> dict[str, int]:
    """The state as of ``as_of`` for ``scope``, in one transaction."""
    return portfolio_recompute(as_of=as_of, scope=scope, actor=actor)


# --- the run ---------------------------------------------------------------------------


def _state(run: BatchRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "as_of": run.as_of,
        "date_from": run.date_from,
        "shards": run.shards,
        "counts": run.counts,
    }


def _add(total: dict[str, int], counts: dict[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value


def _run_start(*, as_of: dt.date, client: Client | None, shards: int, actor: Any) -> BatchRun:
    runs_abandon_stale(actor=actor)
    host = socket.gethostname()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Two runs starting at once: the second waits here, then sees the first.
            # (SQLite's IMMEDIATE transactions serialise this block by themselves.)
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_START_LOCK])
        live = (
            BatchRun.objects.select_for_update()
            .filter(_overlaps(client), status=RunStatus.RUNNING)
            .order_by("started_at")
            .first()
        )
        if live is not None:
            raise BatchError(
                _(
                    "batch run #%(id)d (as of %(as_of)s) is still running: process %(pid)s "
                    "on %(host)s, started %(started)s. Wait for it, or stop that process "
                    "and run again."
                )
                % {
                    "id": live.pk,
                    "as_of": live.as_of,
                    "pid": live.pid,
                    "host": live.host,
                    "started": timezone.localtime(live.started_at).isoformat(timespec="seconds"),
                }
            )
        return BatchRun.objects.create(
            as_of=as_of,
            client=client,
            shards=shards,
            status=RunStatus.RUNNING,
            actor_label=actor_parts(actor)[1],
            host=host[:100],
            pid=os.getpid(),
            started_at=timezone.now(),
        )


def _run_finish(run: BatchRun, *, counts: dict[str, int], plan: HistoryPlan, actor: Any) -> None:
    client = run.client
    with transaction.atomic():
        ids = list(plan.mark_ids)
        for i in range(0, len(ids), _MARK_CHUNK):
            RecomputeMark.objects.filter(pk__in=ids[i : i + _MARK_CHUNK]).delete()
        run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.counts = counts
        run.bucket_counts = loan_bucket_counts(client=client)
        run.date_from = plan.first_day
        run.save(update_fields=["status", "finished_at", "counts", "bucket_counts", "date_from"])
        audit_record(
            actor=actor,
            action="batch.succeed",
            target=run,
            summary=_("batch run as of %(as_of)s succeeded") % {"as_of": run.as_of},
            after={**_state(run), "marks_consumed": len(ids)},
        )


def _run_fail(run: BatchRun, *, reason: str, actor: Any) -> None:
    with transaction.atomic():
        # The run may have been marked abandoned meanwhile; a failure says more.
        run.status = RunStatus.FAILED
        run.finished_at = timezone.now()
        run.errors = reason
        run.save(update_fields=["status", "finished_at", "errors"])
        audit_record(
            actor=actor,
            action="batch.fail",
            target=run,
            summary=reason.splitlines()[0] if reason else "",
            after=_state(run),
        )


def batch_run(
    *,
    as_of: dt.date,
    date_from: dt.date | None = None,
    client: Client | None = None,
    shards: int = 1,
    actor: Any = ENGINE_ACTOR,
    pickup_timeout: float = PICKUP_TIMEOUT,
) -> BatchRun:
    """Run the nightly batch as of ``as_of`` (the current state, then history) and
    return its record. Raises ``BatchError`` when it fails (the step's own error is its
    ``__cause__``); the record then says failed and why."""
    require_date(as_of, field="as_of")
    if date_from is not None and date_from > as_of:
        raise ValueError("date_from is after as_of")
    if shards < 1:
        raise ValueError("shards must be at least 1")
    if connection.in_atomic_block and shards > 1 and _needs_worker():
        raise BatchError(
            _("a sharded run cannot start inside a transaction: workers would not see it")
        )

    run = _run_start(as_of=as_of, client=client, shards=shards, actor=actor)
    client_id = client.pk if client is not None else None
    try:
        plan = history_plan(as_of=as_of, date_from=date_from, client=client)
        counts = dict.fromkeys(_COUNT_KEYS, 0)
        # Plans and settlements are decided from payments alone, before the current
        # state, so that the same run puts a case whose plan broke back on its ladder
        # stage and computes a settled case's loans (with their waivers) at 0.
        _add(counts, plans_decide(as_of=as_of, client_id=client_id, actor=actor))
        _add(counts, settlements_decide(as_of=as_of, client_id=client_id, actor=actor))
        if shards == 1:
            scope = Scope(client_id=client_id)
            with gc_paused(), run_page_cache():
                _add(counts, shard_current(as_of=as_of, scope=scope, actor=actor))
                _add(
                    counts,
                    shard_history(
                        scope=scope, full_days=plan.full_days, marked_days=plan.marked_days
                    ),
                )
        else:
            ranges = debtor_ranges(client_id=client_id, shards=shards)
            _add(
                counts,
                _run_sharded(
                    run, ranges=ranges, plan=plan, actor=actor, pickup_timeout=pickup_timeout
                ),
            )
        # Promises are decided once, after every shard's current state (docs/workflow.md).
        _add(counts, promises_decide(as_of=as_of, client_id=client_id, actor=actor))
        _add(counts, strategies_assign(client_id=client_id, actor=actor))
        counts["strategy_escalations"] = strategies_escalate(
            as_of=as_of, client_id=client_id, actor=actor
        )
        counts["history_days"] = len(plan.days)
        _run_finish(run, counts=counts, plan=plan, actor=actor)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, BatchError) else f"{type(exc).__name__}: {exc}"
        _run_fail(run, reason=reason, actor=actor)
        raise BatchError(reason, run=run) from exc
    except BaseException as exc:  # Ctrl-C, SystemExit: record it, then let it through
        _run_fail(run, reason=f"{type(exc).__name__}: {exc}", actor=actor)
        raise
    return run


# --- shards through the Tasks API -------------------------------------------------------


def _backend_module() -> str:
    return type(task_backends["default"]).__module__


def _needs_worker() -> bool:
    return not _backend_module().startswith("django.tasks.backends.immediate")


def _check_workers() -> None:
    """With RQ, fail at once when no worker listens on the queue (the database backend
    keeps no worker registry: the pickup timeout stands in for it)."""
    if not _backend_module().startswith("django_tasks_rq"):
        return
    import django_rq  # only with the RQ backend
    from rq import Worker

    queue_name = settings.CUISHOU_TASKS_QUEUE
    if Worker.count(queue=django_rq.get_queue(queue_name)) == 0:
        raise BatchError(
            _(
                "no RQ worker listens on queue %(queue)s at %(url)s: start workers with "
                "`cuishou rqworker --job-class django_tasks_rq.Job %(queue)s`, or run "
                "without --shards"
            )
            % {"queue": queue_name, "url": settings.CUISHOU_REDIS_URL}
        )


def _run_sharded(
    run: BatchRun,
    *,
    ranges: list[Shard],
    plan: HistoryPlan,
    actor: Any,
    pickup_timeout: float,
) -> dict[str, int]:
    from cuishou.engine import tasks  # here: tasks imports this module

    _check_workers()
    client_id = run.client_id
    actor_id, actor_label = actor_parts(actor)
    total: dict[str, int] = {}
    pending: list[tuple[Shard, Any]] = [
        (
            shard,
            tasks.batch_shard_current.enqueue(
                run_id=run.pk,
                client_id=client_id,
                debtor_lo=shard.lo,
                debtor_hi=shard.hi,
                as_of=run.as_of.isoformat(),
                actor_id=actor_id,
                actor_label=actor_label,
            ),
        )
        for shard in ranges
    ]
    _add(total, _await(run, pending, phase=_("current state"), pickup_timeout=pickup_timeout))
    if plan.days:
        full = [d.isoformat() for d in plan.full_days]
        marked = [d.isoformat() for d in plan.marked_days]
        pending = [
            (
                shard,
                tasks.batch_shard_history.enqueue(
                    run_id=run.pk,
                    client_id=client_id,
                    debtor_lo=shard.lo,
                    debtor_hi=shard.hi,
                    full_days=full,
                    marked_days=marked,
                ),
            )
            for shard in ranges
        ]
        _add(total, _await(run, pending, phase=_("history"), pickup_timeout=pickup_timeout))
    return total


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


def _await(
    run: BatchRun,
    pending: list[tuple[Shard, Any]],
    *,
    phase: str,
    pickup_timeout: float,
) -> dict[str, int]:
    """Wait for every task of a phase; fail naming the shards that failed, or when no
    worker takes a task within ``pickup_timeout`` seconds."""
    started = time.monotonic()
    deadline = started + settings.CUISHOU_TASKS_TIMEOUT
    while True:
        for _shard, result in pending:
            if not result.is_finished:
                result.refresh()
        if all(result.is_finished for _shard, result in pending):
            break
        now = time.monotonic()
        picked = any(result.status != TaskResultStatus.READY for _shard, result in pending)
        if not picked and now - started > pickup_timeout:
            raise BatchError(
                _(
                    "no worker took the %(phase)s tasks of run #%(id)d within %(seconds)d s: "
                    "start workers (`cuishou db_worker --queue-name %(queue)s`, or "
                    "`cuishou rqworker` with CUISHOU_TASKS=rq), or run without --shards"
                )
                % {
                    "phase": phase,
                    "id": run.pk,
                    "seconds": pickup_timeout,
                    "queue": settings.CUISHOU_TASKS_QUEUE,
                }
            )
        if now > deadline:
            raise BatchError(
                _("the %(phase)s tasks of run #%(id)d did not finish within %(seconds)d s")
                % {"phase": phase, "id": run.pk, "seconds": settings.CUISHOU_TASKS_TIMEOUT}
            )
        time.sleep(POLL_SECONDS)

    total: dict[str, int] = {}
    failures: list[str] = []
    for shard, result in pending:
        if result.status != TaskResultStatus.SUCCESSFUL:
            error = result.errors[-1].traceback if result.errors else ""
            failures.append(
                _("%(shard)s failed in the %(phase)s phase: %(error)s")
                % {"shard": shard.label(), "phase": phase, "error": _last_line(error)}
            )
            continue
        value = result.return_value or {}
        if value.get("skipped"):
            failures.append(
                _("%(shard)s was skipped: the run was no longer running") % {"shard": shard.label()}
            )
            continue
        _add(total, value)
    if failures:
        raise BatchError("\n".join(failures))
    return total
