from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cuishou.core.timeutil import today_shanghai
from cuishou.engine.batch import PICKUP_TIMEOUT, BatchError, batch_run
from cuishou.engine.models import BatchRun
from cuishou.portfolio.selectors import ClientNotFoundError, client_get


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("%(flag)s: %(value)s is not a date (YYYY-MM-DD)") % {"flag": flag, "value": value}
        ) from None


class Command(BaseCommand):
    help = (
        "The nightly run: every loan's figures, the cases and the day's snapshots as of a "
        "day (default today in Asia/Shanghai), after rewriting the past days a backdated "
        "change or a missed night touched. `--from A --to B` replays A…B. "
        "`--shards N` splits the debtors into N tasks for the task workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="YYYY-MM-DD (default: today in Asia/Shanghai)")
        parser.add_argument(
            "--from", dest="date_from", help="YYYY-MM-DD: rewrite history from this day"
        )
        parser.add_argument("--to", dest="date_to", help="YYYY-MM-DD: the last day (as of)")
        parser.add_argument("--client", help="client code (default: every client)")
        parser.add_argument(
            "--shards", type=int, default=1, help="debtor ranges run as tasks (default 1)"
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=PICKUP_TIMEOUT,
            help="seconds to wait for a worker to take a shard (default %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _date(options["as_of"], "--as-of")
        date_from = _date(options["date_from"], "--from")
        date_to = _date(options["date_to"], "--to")
        today = today_shanghai()
        if as_of is not None and date_to is not None:
            raise CommandError(_("give --as-of or --to, not both (they name the same day)"))
        as_of = date_to or as_of or today
        if as_of > today:
            raise CommandError(
                _("%(as_of)s is in the future (today in Asia/Shanghai is %(today)s)")
                % {"as_of": as_of, "today": today}
            )
        if date_from is not None and date_from > as_of:
            raise CommandError(
                _("--from %(from)s is after %(to)s") % {"from": date_from, "to": as_of}
            )
        if options["shards"] < 1:
            raise CommandError(_("--shards must be at least 1"))
        client = None
        if options["client"]:
            try:
                client = client_get(code=options["client"])
            except ClientNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        try:
            run = batch_run(
                as_of=as_of,
                date_from=date_from,
                client=client,
                shards=options["shards"],
                pickup_timeout=options["wait"],
            )
        except BatchError as exc:
            if exc.run is None:
                raise CommandError(str(exc)) from exc
            raise CommandError(
                _("batch run #%(id)d as of %(as_of)s failed: %(reason)s")
                % {"id": exc.run.pk, "as_of": as_of, "reason": exc}
            ) from exc
        self.stdout.write(self._summary(run))

    def _summary(self, run: BatchRun) -> str:
        c = run.counts
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
        lines = [
            _(
                "Batch run #%(id)d as of %(as_of)s (%(scope)s, %(shards)s) "
                "succeeded in %(seconds).1f s."
            )
            % {
                "id": run.pk,
                "as_of": run.as_of,
                "scope": run.client.code if run.client else _("every client"),
                "shards": ngettext("%(n)d shard", "%(n)d shards", run.shards) % {"n": run.shards},
                "seconds": seconds,
            }
        ]
        if c.get("history_days"):
            lines.append(
                _("History: %(days)d days rewritten from %(first)s, %(rows)d snapshot rows.")
                % {
                    "days": c["history_days"],
                    "first": run.date_from,
                    "rows": c.get("history_snapshots", 0),
                }
            )
        else:
            lines.append(_("History: no past day needed rewriting."))
        lines.append(
            _(
                "Loans: %(loans)d, %(recomputed)d recomputed, %(changed)d changed. "
                "Cases: %(opened)d opened, %(updated)d updated, "
                "%(cured)d cured, %(paid_off)d closed as paid in full, %(reopened)d reopened; "
                "%(stages)d stage changes; "
                "%(snapshots)d snapshot rows."
            )
            % {
                "loans": c.get("loans", 0),
                "recomputed": c.get("loans_recomputed", 0),
                "changed": c.get("loans_changed", 0),
                "opened": c.get("cases_opened", 0),
                "updated": c.get("cases_updated", 0),
                "cured": c.get("cases_cured", 0),
                "paid_off": c.get("cases_paid_off", 0),
                "reopened": c.get("cases_reopened", 0),
                "stages": c.get("stage_changes", 0),
                "snapshots": c.get("snapshots", 0),
            }
        )
        lines.append(
            _(
                "Promises: %(kept)d kept, %(broken)d broken. Strategies: %(assigned)d cases "
                "assigned (%(challengers)d to a challenger), %(escalated)d escalated."
            )
            % {
                "kept": c.get("promises_kept", 0),
                "broken": c.get("promises_broken", 0),
                "assigned": c.get("strategy_assigned", 0),
                "challengers": c.get("strategy_challengers", 0),
                "escalated": c.get("strategy_escalations", 0),
            }
        )
        buckets = ", ".join(f"{b} {n}" for b, n in run.bucket_counts.items())
        lines.append(_("Loans per bucket: %(buckets)s.") % {"buckets": buckets})
        return "\n".join(lines)
