"""``cuishou allocate [--client CODE] [--team NAME] [--rebalance] [--dry-run]``."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.accounts.models import Team
from cuishou.cases.allocation import cases_allocate
from cuishou.portfolio.selectors import ClientNotFoundError, client_get


class Command(BaseCommand):
    help = "Allocate the open cases to collectors and field visitors by capacity and skill."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client", help="only this client's cases (its code)")
        parser.add_argument("--team", help="only this team's people and cases (its name)")
        parser.add_argument(
            "--rebalance",
            action="store_true",
            help="also move cases that already have an eligible person (never hand-set ones)",
        )
        parser.add_argument("--dry-run", action="store_true", help="plan only, write nothing")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        client = None
        if options["client"]:
            try:
                client = client_get(code=options["client"])
            except ClientNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        team = None
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first()
            if team is None:
                raise CommandError(_("unknown team %(name)s") % {"name": options["team"]})
        started = time.perf_counter()
        result = cases_allocate(
            actor="allocate",
            client=client,
            team=team,
            rebalance=options["rebalance"],
            dry_run=options["dry_run"],
        )
        seconds = time.perf_counter() - started
        summary = {
            "considered": result.considered,
            "assigned": result.assigned,
            "kept": result.kept,
            "unallocated": result.unallocated,
            "dry_run": bool(options["dry_run"]),
            "seconds": round(seconds, 2),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        line = (
            _(
                "%(considered)d open cases: %(assigned)d allocated, %(kept)d kept where they were, "
                "%(unallocated)d without an eligible person with room (%(seconds).1f s)."
            )
            % summary
        )
        if options["dry_run"]:
            line = _("Dry run, nothing written. %(line)s") % {"line": line}
        self.stdout.write(line)
