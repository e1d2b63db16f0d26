from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_verify


class Command(BaseCommand):
    help = "Audit log tools. `cuishou audit verify` checks the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="verify the hash chain; exit 1 naming the first broken event")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            result = audit_verify()
            if not result.ok:
                raise CommandError(
                    _(
                        "audit chain broken at event %(seq)s: %(reason)s "
                        "(%(n)d events verified before it)"
                    )
                    % {"seq": result.broken_seq, "reason": result.reason, "n": result.count}
                )
            self.stdout.write(_("audit chain intact: %(n)d events") % {"n": result.count})
