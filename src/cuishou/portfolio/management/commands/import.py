from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.portfolio.importer import import_portfolio
from cuishou.portfolio.selectors import ClientNotFoundError, client_get


class Command(BaseCommand):
    help = (
        "Import a portfolio file (.xlsx, .zip of CSVs or a folder of CSVs) for a client. "
        "All or nothing: bad rows are listed as SHEET:ROW:COLUMN: reason and exit non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--client", required=True, help="client code")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate only; write nothing but the run"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.exists():
            raise CommandError(_("no such file or folder: %(path)s") % {"path": path})
        try:
            client = client_get(code=options["client"])
        except ClientNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        try:
            who = f"cli:{getpass.getuser()}"
        except OSError:  # pragma: no cover - no user name in this environment
            who = "cli"
        result = import_portfolio(
            client=client,
            source=path,
            file_name=path.name,
            actor=who,
            dry_run=options["dry_run"],
        )
        self.stdout.write(result.report_text())
        if not result.ok:
            raise CommandError(
                _("import rejected: %(n)d bad rows, nothing was written (import run %(run)s)")
                % {"n": len(result.errors), "run": result.run.pk}
            )
