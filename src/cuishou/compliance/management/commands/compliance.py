from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.compliance.services import check_lines


class Command(BaseCommand):
    help = (
        "Compliance tools. `cuishou compliance check FILE.jsonl [--record]` decides each "
        "planned contact (one JSON object per line) and prints one JSON line per input line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="decide planned contacts from a JSON-lines file")
        check.add_argument("file", help="JSON lines; - reads standard input")
        check.add_argument(
            "--record",
            action="store_true",
            help="store allowed attempts as made, so later lines see them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "check":
            raise CommandError(_("unknown action"))
        name = options["file"]
        if name == "-":
            lines: Any = sys.stdin
        else:
            path = Path(name)
            if not path.is_file():
                raise CommandError(_("%(file)s: no such file") % {"file": name})
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as exc:
                raise CommandError(
                    _("%(file)s: not UTF-8 (%(why)s)") % {"file": name, "why": exc}
                ) from exc
        actor = "cli:compliance"
        for result in check_lines(lines, record=options["record"], actor=actor):
            self.stdout.write(json.dumps(result, ensure_ascii=False))
