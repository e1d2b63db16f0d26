"""The nightly run's shard tasks (Django's Tasks API): each loads its arguments and calls
the engine. ``cuishou.engine.batch`` enqueues them and waits for them.

Arguments are JSON values (ids, ISO dates) so every backend can store them. A task of a
run that is no longer running (failed, abandoned) does nothing: a worker that takes it
late must not write an old day's figures over a newer run's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.tasks import task

from cuishou.engine import batch
from cuishou.engine.services import Scope

SKIPPED = {"skipped": 1}


@task(queue_name=settings.CUISHOU_TASKS_QUEUE)
def batch_shard_history(
    *,
    run_id: int,
    client_id: int | None,
    debtor_lo: int | None,
    debtor_hi: int | None,
    full_days: list[str],
    marked_days: list[str],
) -> dict[str, int]:
    """Rewrite the past days' snapshot rows of one debtor range."""
    if not batch.run_is_running(run_id):
        return SKIPPED
    return batch.shard_history(
        scope=Scope(client_id=client_id, debtor_lo=debtor_lo, debtor_hi=debtor_hi),
        full_days=[dt.date.fromisoformat(d) for d in full_days],
        marked_days=[dt.date.fromisoformat(d) for d in marked_days],
    )


@task(queue_name=settings.CUISHOU_TASKS_QUEUE)
def batch_shard_current(
    *,
    run_id: int,
    client_id: int | None,
    debtor_lo: int | None,
    debtor_hi: int | None,
    as_of: str,
    actor_id: int | None,
    actor_label: str,
) -> dict[str, int]:
    """The state as of ``as_of`` of one debtor range."""
    if not batch.run_is_running(run_id):
        return SKIPPED
    actor: Any = actor_label
    if actor_id is not None:
        actor = get_user_model().objects.filter(pk=actor_id).first() or actor_label
    return batch.shard_current(
        as_of=dt.date.fromisoformat(as_of),
        scope=Scope(client_id=client_id, debtor_lo=debtor_lo, debtor_hi=debtor_hi),
        actor=actor,
    )
