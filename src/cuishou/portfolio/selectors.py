"""Reads of the portfolio."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from cuishou.cases.models import Case
from cuishou.core.masking import mask_id_number
from cuishou.core.money import format_money, format_rate
from cuishou.engine.selectors import loan_computed_as_of
from cuishou.portfolio.models import Client, Loan


class ClientNotFoundError(LookupError):
    """No client with that code."""


class LoanNotFoundError(LookupError):
    """No such client, or no such contract for that client."""


def client_get(*, code: str) -> Client:
    """The client with this code; ``ClientNotFoundError`` says how to add one."""
    client = Client.objects.filter(code=code).first()
    if client is None:
        raise ClientNotFoundError(
            _("unknown client %(code)s (add it with `cuishou client add`)") % {"code": code}
        )
    return client


def loan_get(*, client_code: str, contract_no: str) -> Loan:
    if not Client.objects.filter(code=client_code).exists():
        raise LoanNotFoundError(_("unknown client %(code)s") % {"code": client_code})
    loan = (
        Loan.objects.select_related("client", "debtor", "product")
        .filter(client__code=client_code, contract_no=contract_no)
        .first()
    )
    if loan is None:
        raise LoanNotFoundError(
            _("client %(code)s has no contract %(no)s") % {"code": client_code, "no": contract_no}
        )
    return loan


def loan_state(*, client_code: str, contract_no: str) -> dict[str, Any]:
    """The loan's stored and computed state as plain JSON values (amounts as "0.00").

    dpd, bucket, overdue amounts, penalty and balance are as of ``computed_as_of`` (the
    last engine run over the loan's client); ``case`` is the debtor's case with this
    client, or null."""
    loan = loan_get(client_code=client_code, contract_no=contract_no)
    computed_as_of = loan_computed_as_of(
        client_id=loan.client_id, computed_as_of=loan.computed_as_of
    )
    case = (
        Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id)
        .only("stage", "status")
        .first()
    )
    schedule = [
        {
            "seq": i.seq,
            "due_on": i.due_on.isoformat(),
            "principal_due": format_money(i.principal_due),
            "interest_due": format_money(i.interest_due),
            "principal_paid": format_money(i.principal_paid),
            "interest_paid": format_money(i.interest_paid),
        }
        for i in loan.installments.order_by("seq")
    ]
    return {
        "contract_no": loan.contract_no,
        "client": loan.client.code,
        "debtor": {"name": loan.debtor.name, "id_number": mask_id_number(loan.debtor.id_number)},
        "product": loan.product.name,
        "principal": format_money(loan.principal),
        "annual_rate": format_rate(loan.annual_rate),
        "penalty_annual_rate": format_rate(loan.penalty_annual_rate),
        "disbursed_on": loan.disbursed_on.isoformat(),
        "currency": loan.currency,
        "status": loan.status,
        "computed_as_of": computed_as_of.isoformat() if computed_as_of else None,
        "dpd": loan.dpd,
        "bucket": loan.bucket,
        "overdue_principal": format_money(loan.overdue_principal),
        "overdue_interest": format_money(loan.overdue_interest),
        "penalty": format_money(loan.penalty),
        "penalty_capped": loan.penalty_capped,
        "balance": format_money(loan.balance),
        "case": {"stage": case.stage, "status": case.status} if case else None,
        "schedule": schedule,
    }
