from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.accounts.models import Team
from cuishou.accounts.services import team_create, user_create
from cuishou.portfolio.selectors import ClientNotFoundError, client_get


class Command(BaseCommand):
    help = (
        "Users. `cuishou user add USERNAME --role ROLE [--password P] [--client CODE] "
        "[--team NAME]`"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user with one role")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--password", help="default: a random password, printed once")
        add.add_argument("--client", help="client code (required for --role client)")
        add.add_argument("--team", help="team name (created when missing)")
        add.add_argument("--display-name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "add":
            self._add(**options)

    @transaction.atomic
    def _add(self, **options: Any) -> None:
        # One transaction: a user that cannot be created leaves no new team behind.
        client = None
        if options["client"]:
            try:
                client = client_get(code=options["client"])
            except ClientNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        team = None
        if options["team"]:
            team = Team.objects.filter(name=options["team"]).first() or team_create(
                actor="cli", name=options["team"]
            )
        password = options["password"]
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        try:
            user = user_create(
                actor="cli",
                username=options["username"],
                password=password,
                role=options["role"],
                display_name=options["display_name"],
                team=team,
                client=client,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            _("created user %(name)s (%(role)s)") % {"name": user.username, "role": options["role"]}
        )
        if generated:
            self.stdout.write(_("password: %(password)s") % {"password": password})
