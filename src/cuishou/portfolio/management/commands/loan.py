from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cuishou.portfolio.selectors import LoanNotFoundError, loan_state


class Command(BaseCommand):
    help = "Loans. `cuishou loan show CONTRACT_NO --client CODE [--json]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="show a loan's computed state")
        show.add_argument("contract_no")
        show.add_argument("--client", required=True)
        show.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            state = loan_state(client_code=options["client"], contract_no=options["contract_no"])
        except LoanNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(state, ensure_ascii=False))
            return
        case = state["case"]
        lines = [
            f"{state['client']} {state['contract_no']}  {state['debtor']['name']} "
            f"({state['debtor']['id_number']})  {state['product']}",
            _("principal %(principal)s %(currency)s, annual rate %(rate)s, disbursed %(on)s")
            % {
                "principal": state["principal"],
                "currency": state["currency"],
                "rate": state["annual_rate"],
                "on": state["disbursed_on"],
            },
            _(
                "as of %(as_of)s: dpd %(dpd)d (%(bucket)s), overdue principal %(principal)s, "
                "overdue interest %(interest)s, penalty %(penalty)s, balance %(balance)s"
            )
            % {
                "as_of": state["computed_as_of"] or "-",
                "dpd": state["dpd"],
                "bucket": state["bucket"],
                "principal": state["overdue_principal"],
                "interest": state["overdue_interest"],
                "penalty": state["penalty"],
                "balance": state["balance"],
            },
            *(
                [_("penalty capped: charges reached the product's annual cost cap")]
                if state["penalty_capped"]
                else []
            ),
            _("case: %(case)s") % {"case": f"{case['stage']} / {case['status']}" if case else "-"},
            _("schedule:"),
        ]
        for i in state["schedule"]:
            lines.append(
                f"  {i['seq']:>3}  {i['due_on']}  "
                + _("principal %(paid)s/%(due)s  interest %(interest_paid)s/%(interest_due)s")
                % {
                    "paid": i["principal_paid"],
                    "due": i["principal_due"],
                    "interest_paid": i["interest_paid"],
                    "interest_due": i["interest_due"],
                }
            )
        self.stdout.write("\n".join(lines))
