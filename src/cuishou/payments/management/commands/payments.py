"""``cuishou payments post``: post a payment on a loan from the command line."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.core.money import parse_amount
from cuishou.payments.choices import PaymentChannel
from cuishou.payments.reconcile import statement_import
from cuishou.payments.selectors import payment_json
from cuishou.payments.services import payment_post
from cuishou.portfolio.models import Client
from cuishou.portfolio.selectors import LoanNotFoundError, loan_get


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # pragma: no cover - no user name in this environment
        return "cli"


def _errors(exc: ValidationError) -> str:
    return "; ".join(str(m) for m in exc.messages)


class Command(BaseCommand):
    help = (
        "Payments. `cuishou payments post --client CODE --contract NO --amount 1500.00 "
        "--value-date YYYY-MM-DD [--channel C] [--reference R] [--key K]` posts one payment "
        "and prints it with its allocation as JSON. `cuishou payments import-statement FILE "
        "--client CODE [--dry-run]` reconciles a bank statement and prints a JSON summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        post = sub.add_parser("post", help="post a payment on a loan")
        post.add_argument("--client", required=True, help="the client's code")
        post.add_argument("--contract", required=True, help="the contract number")
        post.add_argument("--amount", required=True, help="e.g. 1500.00")
        post.add_argument("--value-date", required=True, help="YYYY-MM-DD")
        post.add_argument(
            "--channel",
            default=PaymentChannel.BANK_TRANSFER.value,
            help=f"one of {', '.join(PaymentChannel.values)}",
        )
        post.add_argument("--reference", default="", help="the bank's reference")
        post.add_argument(
            "--key", default="", help="idempotency key: running again with it posts nothing new"
        )

        statement = sub.add_parser(
            "import-statement", help="reconcile a bank statement (CSV or .xlsx) of a client"
        )
        statement.add_argument("file", help="the statement: .csv (UTF-8 or GB18030) or .xlsx")
        statement.add_argument("--client", required=True, help="the client's code")
        statement.add_argument(
            "--dry-run", action="store_true", help="match and count, write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import-statement":
            self._import_statement(options)
            return
        try:
            loan = loan_get(client_code=options["client"], contract_no=options["contract"])
        except LoanNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        try:
            amount = parse_amount(options["amount"])
        except ValueError as exc:
            raise CommandError(
                _("--amount: not an amount: %(text)r (e.g. 1500.00)") % {"text": options["amount"]}
            ) from exc
        try:
            value_date = dt.date.fromisoformat(options["value_date"])
        except ValueError as exc:
            raise CommandError(
                _("--value-date: not a date YYYY-MM-DD: %(text)r") % {"text": options["value_date"]}
            ) from exc
        try:
            payment = payment_post(
                actor=_who(),
                loan=loan,
                amount=amount,
                value_date=value_date,
                channel=options["channel"],
                reference=options["reference"],
                idempotency_key=options["key"],
            )
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from exc
        self.stdout.write(json.dumps(payment_json(payment), ensure_ascii=False))

    def _import_statement(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("cannot read %(file)s: %(e)s") % {"file": path, "e": exc}) from exc
        client = Client.objects.filter(code=options["client"]).first()
        if client is None:
            raise CommandError(_("no client with code %(code)r") % {"code": options["client"]})
        result = statement_import(
            actor=_who(),
            client=client,
            data=data,
            file_name=path.name,
            dry_run=options["dry_run"],
        )
        if result.errors:
            for error in result.errors:
                self.stdout.write(str(error))
            raise CommandError(_("%(n)d bad lines: nothing was posted") % {"n": len(result.errors)})
        self.stdout.write(json.dumps(result.summary))
