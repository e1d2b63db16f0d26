from __future__ import annotations

import datetime as dt
import time
import unicodedata
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.core.timeutil import today_shanghai
from cuishou.portfolio.demo.services import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DemoError,
    demo_build,
    demo_exists,
)

ADDRESS = "127.0.0.1:8000"


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = (
        "Build a synthetic demo portfolio and one user per role, then serve "
        f"http://{ADDRESS}. `cuishou demo [--accounts N] [--no-serve] [--if-empty] [--seed S]`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=500, help="loans to generate")
        parser.add_argument("--seed", type=int, default=2026, help="same seed, same portfolio")
        parser.add_argument("--no-serve", action="store_true", help="build, do not serve")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but print the logins) when a client exists already",
        )
        parser.add_argument(
            "--address", default=ADDRESS, help="host:port to serve on (default %(default)s)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["accounts"] < 2:
            raise CommandError(_("--accounts must be at least 2"))
        if options["if_empty"] and demo_exists():
            self.stdout.write(_("The database already holds a portfolio; the demo is not rebuilt."))
        else:
            started = time.monotonic()
            today = today_shanghai()
            try:
                result = demo_build(accounts=options["accounts"], seed=options["seed"], today=today)
            except DemoError as exc:
                raise CommandError(str(exc)) from exc
            engine = result.engine
            self.stdout.write(
                _(
                    "Demo portfolio as of %(today)s: %(loans)d loans of clients %(clients)s; "
                    "%(cases)d cases opened; %(assigned)s. (%(seconds).1f s)"
                )
                % {
                    "today": today.isoformat(),
                    "loans": result.loans,
                    "clients": ", ".join(result.clients),
                    "cases": engine.get("cases_opened", 0),
                    "assigned": ", ".join(f"{u}: {n}" for u, n in result.assigned.items()),
                    "seconds": time.monotonic() - started,
                }
            )
            if result.visit_issue:
                tomorrow = today + dt.timedelta(days=1)
                self.stdout.write(
                    _(
                        "Field visits: issue %(issue)s confirmed and allocated to 外访一组 and "
                        "外访二组; plan it with `cuishou plan-visits --date %(day)s`."
                    )
                    % {"issue": result.visit_issue, "day": tomorrow.isoformat()}
                )
        self._print_logins(options["address"])
        if not options["no_serve"]:
            # No autoreloader: it would run this command again in a child process.
            call_command("runserver", options["address"], use_reloader=False)

    def _print_logins(self, address: str) -> None:
        rows = [(_("username"), _("role"), _("password"))]
        rows += [(login.username, str(login.role), DEMO_PASSWORD) for login in DEMO_LOGINS]
        widths = [max(_width(row[i]) for row in rows) for i in range(3)]
        lines = [
            "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        self.stdout.write("")
        self.stdout.write(_("Demo logins:"))
        for line in lines:
            self.stdout.write(line.rstrip())
        self.stdout.write("")
        self.stdout.write(_("Open http://%(address)s/ and log in.") % {"address": address})
