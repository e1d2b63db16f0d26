"""``cuishou batch`` as real processes, on a database that several processes share: a
SQLite file, or (when the suite runs on PostgreSQL) a database of its own on the same
server. The pytest test database is no use here: an SQLite one is in memory, and a
PostgreSQL one holds each test's rows in a transaction no other process sees.

One template database (migrated, with ``cuishou demo``'s portfolio and a few recompute
marks) is built per module; each test works on copies of it, so "a clean run" and "the
run that was killed" start from the same data.

- kill -9 part-way: the loans and cases are as before or as after (never half), the run
  is later marked abandoned, and running again gives what a clean run gives;
- database workers (``cuishou db_worker``, the embedded default) and RQ workers over the
  real Redis on 127.0.0.1:6379 (``cuishou rqworker``, a queue of the test's own) run
  ``--shards 3`` to the same result as one process; the RQ tests skip only when Redis is
  not reachable (and not even then with CUISHOU_REDIS_REQUIRED=1, as in CI);
- with no worker, a sharded run fails with the reason instead of waiting for ever.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from rq import Queue, Worker

CUISHOU = str(Path(sys.executable).with_name("cuishou"))
REDIS_URL = os.environ.get("CUISHOU_REDIS_URL", "redis://127.0.0.1:6379/0")
ACCOUNTS = 1500


def redis_unreachable() -> str:
    """Why Redis cannot be used, or "" when it can. With CUISHOU_REDIS_REQUIRED set (CI),
    always "": the RQ tests then run, and fail when Redis is not there."""
    if os.environ.get("CUISHOU_REDIS_REQUIRED"):
        return ""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL}: {exc}"
    return ""


# --- databases that processes share ---------------------------------------------------


@dataclass
class Db:
    url: str
    vendor: str
    name: str  # the file path (SQLite) or the database name (PostgreSQL)

    def connect(self) -> Any:
        if self.vendor == "sqlite":
            return sqlite3.connect(self.name, timeout=60, isolation_level=None)

        return psycopg.connect(self.url, autocommit=True)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with closing(self.connect()) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]

    def scalar(self, sql: str) -> Any:
        rows = self.rows(sql)
        return rows[0][0] if rows else None


@dataclass
class Databases:
    """A template database and its copies; PostgreSQL ones are dropped at the end."""

    folder: Path
    template: Db | None = None
    made: list[Db] = field(default_factory=list)
    today: dt.date | None = None  # the demo's date: what the template is computed as of

    def day(self, offset: int) -> str:
        assert self.today is not None
        return (self.today + dt.timedelta(days=offset)).isoformat()

    @property
    def pg(self) -> dict[str, Any] | None:
        db = settings.DATABASES["default"]
        return db if "postgresql" in db["ENGINE"] else None

    def _pg_url(self, name: str) -> str:
        db = self.pg
        assert db is not None
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"

    def _pg_admin(self, sql: str) -> None:

        with psycopg.connect(self._pg_url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def new(self, label: str, *, template: Db | None = None) -> Db:
        if self.pg is None:
            path = self.folder / f"{label}.sqlite3"
            if template is not None:
                with (
                    closing(sqlite3.connect(template.name)) as src,
                    closing(sqlite3.connect(path)) as dst,
                ):
                    src.backup(dst)
            db = Db(url=f"sqlite:///{path}", vendor="sqlite", name=str(path))
        else:
            test_name = settings.DATABASES["default"]["TEST"]["NAME"] or "test_cuishou"
            name = f"{test_name}_{label}"[:63]
            self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            source = f' TEMPLATE "{template.name}"' if template is not None else ""
            self._pg_admin(f'CREATE DATABASE "{name}"{source}')
            db = Db(url=self._pg_url(name), vendor="postgresql", name=name)
        self.made.append(db)
        return db

    def copy(self, label: str) -> Db:
        assert self.template is not None
        return self.new(label, template=self.template)

    def drop_all(self) -> None:
        if self.pg is None:
            return
        for db in reversed(self.made):
            self._pg_admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


def env_for(db: Db, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CUISHOU_TASKS"))}
    env.update(DATABASE_URL=db.url, CUISHOU_VAR_DIR=str(folder), CUISHOU_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


def cli(
    db: Db, folder: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [CUISHOU, *args],
        env=env or env_for(db, folder),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cuishou {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    folder = tmp_path_factory.mktemp("batch-processes")
    databases = Databases(folder=folder)
    try:
        template = databases.new("tmpl")
        cli(template, folder, "migrate", "--no-input", "-v", "0")
        cli(template, folder, "demo", "--accounts", str(ACCOUNTS), "--no-serve", "--seed", "11")
        # Backdated changes for some debtors: their history is rewritten from three days ago.
        databases.today = dt.date.fromisoformat(
            str(template.scalar("SELECT MAX(computed_as_of) FROM portfolio_loan"))
        )
        three_days_ago = databases.day(-3)
        from_date = f"DATE '{three_days_ago}'" if databases.pg else f"'{three_days_ago}'"
        with closing(template.connect()) as conn:
            conn.execute(
                "INSERT INTO engine_recomputemark"
                " (client_id, debtor_id, from_date, reason, created_at)"
                f" SELECT DISTINCT client_id, debtor_id, {from_date}, 'test', CURRENT_TIMESTAMP"
                " FROM portfolio_loan WHERE debtor_id % 37 = 0"
            )
        databases.template = template
        yield databases
    finally:
        databases.drop_all()
        shutil.rmtree(folder, ignore_errors=True)


def state(db: Db) -> dict[str, Any]:
    """What the run writes: loans' figures, cases, snapshot rows, marks left."""
    return {
        "loans": db.rows(
            "SELECT id, dpd, bucket, overdue_principal, overdue_interest, penalty,"
            " penalty_capped, balance, computed_as_of FROM portfolio_loan ORDER BY id"
        ),
        "cases": db.rows(
            "SELECT id, client_id, debtor_id, status, status_reason, stage, bucket, dpd,"
            " overdue_amount, penalty, balance, computed_as_of FROM cases_case ORDER BY id"
        ),
        "snapshots": db.rows(
            "SELECT as_of, case_id, client_id, bucket, dpd, stage, overdue_amount, balance"
            " FROM engine_casesnapshot ORDER BY as_of, case_id"
        ),
        "marks": db.scalar("SELECT COUNT(*) FROM engine_recomputemark"),
    }


def runs(db: Db) -> list[tuple[Any, ...]]:
    return db.rows("SELECT id, status, shards, pid, errors FROM engine_batchrun ORDER BY id")


def run_counts(db: Db) -> list[tuple[Any, ...]]:
    """Each run's counts and loans per bucket (JSON text on SQLite)."""
    return [
        tuple(json.loads(v) if isinstance(v, str) else v for v in row)
        for row in db.rows("SELECT counts, bucket_counts FROM engine_batchrun ORDER BY id")
    ]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def replay(dbs: Databases) -> list[str]:
    return ["batch", "--from", dbs.day(-40), "--to", dbs.day(-1)]


# --- kill -9 and run again -------------------------------------------------------------


def by_day(snapshots: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    days: dict[str, list[tuple[Any, ...]]] = {}
    for row in snapshots:
        days.setdefault(str(row[0]), []).append(row)
    return days


def test_a_killed_run_leaves_whole_steps_and_running_again_completes_it(dbs: Databases) -> None:
    killed, clean = dbs.copy("killed"), dbs.copy("clean")
    before = state(killed)
    assert before["marks"] > 0 and str(before["loans"][0][-1]) == dbs.day(0)

    proc = subprocess.Popen(
        [CUISHOU, *replay(dbs)],
        env=env_for(killed, dbs.folder),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed once the current state is written, while the 40 past days are rewritten.
        wait_for(
            "the run's current state",
            lambda: killed.scalar(
                f"SELECT COUNT(*) FROM portfolio_loan WHERE computed_as_of = '{dbs.day(-1)}'"
            ),
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after_kill = state(killed)
    [(run_id, status, _shards, _pid, _errors)] = runs(killed)
    assert status == "running", "the run finished before it was killed"

    cli(clean, dbs.folder, *replay(dbs))
    expected = state(clean)
    # Each step is one transaction: the figures are all new, and each past day's snapshot
    # rows are either all as before or all rewritten, never half.
    assert after_kill["loans"] == expected["loans"] != before["loans"]
    assert after_kill["cases"] == expected["cases"]
    old, new, now = (
        by_day(before["snapshots"]),
        by_day(expected["snapshots"]),
        by_day(after_kill["snapshots"]),
    )
    for key in sorted({*old, *new, *now}):
        assert now.get(key) in (old.get(key), new.get(key)), key
    assert after_kill["snapshots"] != expected["snapshots"]  # history was not finished
    assert after_kill["marks"] == before["marks"]  # consumed only by a finished run

    cli(killed, dbs.folder, *replay(dbs))

    (first, first_status, _s, pid, errors), (_id, second_status, *_rest) = runs(killed)
    assert (first, first_status, second_status) == (run_id, "abandoned", "succeeded")
    assert str(pid) in errors
    assert state(killed) == expected
    assert expected["marks"] == 0


def test_a_failing_command_exits_non_zero_with_the_reason_on_stderr(dbs: Databases) -> None:
    db = dbs.template
    assert db is not None
    result = cli(db, dbs.folder, "batch", "--as-of", "2026-02-30", check=False)
    assert result.returncode != 0
    assert "2026-02-30" in result.stderr and result.stdout == ""
    assert runs(db) == []


# --- workers ---------------------------------------------------------------------------


@contextmanager
def workers(command: list[str], env: dict[str, str], folder: Path, n: int = 2) -> Iterator[None]:
    logs = [open(folder / f"worker-{uuid.uuid4().hex[:8]}.log", "w") for _ in range(n)]  # noqa: SIM115
    procs = [
        subprocess.Popen([CUISHOU, *command], env=env, stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def assert_sharded_equals_single(
    dbs: Databases,
    label: str,
    env_extra: dict[str, str],
    worker_command: list[str],
    ready: Callable[[], bool],
) -> None:
    single, sharded = dbs.copy(f"{label}_single"), dbs.copy(f"{label}_sharded")
    args = ["batch", "--from", dbs.day(-5), "--to", dbs.day(-1)]
    cli(single, dbs.folder, *args)
    env = env_for(sharded, dbs.folder, **env_extra)

    with workers(worker_command, env, dbs.folder):
        wait_for("the workers", ready)
        cli(sharded, dbs.folder, *args, "--shards", "3", "--wait", "120", env=env)

    assert state(sharded) == state(single)
    assert [r[1:3] for r in runs(sharded)] == [("succeeded", 3)]
    assert run_counts(sharded) == run_counts(single)


def test_database_workers_run_the_shards_like_one_process(dbs: Databases) -> None:
    queue = f"batch-{uuid.uuid4().hex[:12]}"
    assert_sharded_equals_single(
        dbs,
        "dbq",
        {"CUISHOU_TASKS": "db", "CUISHOU_TASKS_QUEUE": queue},
        [
            "db_worker",
            "--queue-name",
            queue,
            "--no-reload",
            "--interval",
            "0.1",
            "--no-startup-delay",
        ],
        ready=lambda: True,  # no registry: the run waits for a worker to take its tasks
    )


def test_without_a_database_worker_a_sharded_run_fails_instead_of_waiting(dbs: Databases) -> None:
    db = dbs.copy("noworker")
    env = env_for(db, dbs.folder, CUISHOU_TASKS="db", CUISHOU_TASKS_QUEUE="nobody")

    result = cli(db, dbs.folder, "batch", "--shards", "2", "--wait", "1", env=env, check=False)

    assert result.returncode != 0
    assert "db_worker" in result.stderr
    [(_id, status, _shards, _pid, errors)] = runs(db)
    assert status == "failed" and "db_worker" in errors


@pytest.mark.skipif(bool(redis_unreachable()), reason=redis_unreachable() or "Redis is reachable")
def test_rq_workers_run_the_shards_like_one_process(dbs: Databases) -> None:

    queue = f"cuishou-test-{uuid.uuid4().hex[:12]}"
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        assert_sharded_equals_single(
            dbs,
            "rq",
            {"CUISHOU_TASKS": "rq", "CUISHOU_TASKS_QUEUE": queue, "CUISHOU_REDIS_URL": REDIS_URL},
            ["rqworker", "--job-class", "django_tasks_rq.Job", queue],
            ready=lambda: Worker.count(queue=Queue(queue, connection=conn)) >= 2,
        )
    finally:
        Queue(queue, connection=conn).delete(delete_jobs=True)


@pytest.mark.skipif(bool(redis_unreachable()), reason=redis_unreachable() or "Redis is reachable")
def test_without_an_rq_worker_a_sharded_run_fails_at_once(dbs: Databases) -> None:
    db = dbs.copy("norq")
    queue = f"cuishou-test-{uuid.uuid4().hex[:12]}"
    env = env_for(db, dbs.folder, CUISHOU_TASKS="rq", CUISHOU_TASKS_QUEUE=queue)

    result = cli(db, dbs.folder, "batch", "--shards", "2", env=env, check=False)

    assert result.returncode != 0
    assert queue in result.stderr and "rqworker" in result.stderr
    assert [r[1] for r in runs(db)] == ["failed"]
