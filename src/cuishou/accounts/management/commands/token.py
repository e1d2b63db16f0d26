from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.accounts.models import User
from cuishou.accounts.services import api_token_create


class Command(BaseCommand):
    help = "API tokens. `cuishou token create USERNAME --name NAME` prints the key once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a bearer token; the key is shown once")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create":
            user = User.objects.filter(username=options["username"], is_active=True).first()
            if user is None:
                raise CommandError(_("no active user %(name)s") % {"name": options["username"]})
            _token, key = api_token_create(actor="cli", user=user, name=options["name"])
            self.stdout.write(key)
