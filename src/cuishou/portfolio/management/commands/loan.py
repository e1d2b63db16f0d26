from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

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
            f"principal {state['principal']} {state['currency']}, annual rate "
            f"{state['annual_rate']}, disbursed {state['disbursed_on']}",
            f"as of {state['computed_as_of'] or '-'}: dpd {state['dpd']} ({state['bucket']}), "
            f"overdue principal {state['overdue_principal']}, overdue interest "
            f"{state['overdue_interest']}, penalty {state['penalty']}, "
            f"balance {state['balance']}",
            f"case: {case['stage'] + ' / ' + case['status'] if case else '-'}",
            "schedule:",
        ]
        for i in state["schedule"]:
            lines.append(
                f"  {i['seq']:>3}  {i['due_on']}  principal {i['principal_paid']}/"
                f"{i['principal_due']}  interest {i['interest_paid']}/{i['interest_due']}"
            )
        self.stdout.write("\n".join(lines))
