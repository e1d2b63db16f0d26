from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.portfolio.choices import PolicyPack
from cuishou.portfolio.services import client_add


class Command(BaseCommand):
    help = "Clients (委托方). `cuishou client add CODE --name NAME [--pack CN|US]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a client")
        add.add_argument("code")
        add.add_argument("--name", required=True)
        add.add_argument("--pack", default=PolicyPack.CN.value, choices=PolicyPack.values)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "add":
            try:
                client = client_add(
                    actor="cli",
                    code=options["code"],
                    name=options["name"],
                    pack=options["pack"],
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            self.stdout.write(
                _("client %(code)s added: %(name)s (%(pack)s)")
                % {"code": client.code, "name": client.name, "pack": client.policy_pack}
            )
