from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.visits.evidence import evidence_check


class Command(BaseCommand):
    help = "Evidence tools. `cuishou evidence verify` re-hashes every stored evidence file."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "verify",
            help="re-hash every stored file; one line per mismatch, a JSON summary last; "
            "exit 1 when any file is missing or changed",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            checked = mismatched = 0
            for result in evidence_check():
                checked += 1
                if result["ok"]:
                    continue
                mismatched += 1
                self.stdout.write(
                    _("evidence %(id)s %(file)s: expected %(expected)s, found %(found)s") % result
                )
            self.stdout.write(json.dumps({"checked": checked, "mismatched": mismatched}))
            if mismatched:
                raise CommandError(
                    _("%(n)d of %(total)d evidence files are missing or changed.")
                    % {"n": mismatched, "total": checked}
                )
