"""A loan's computed state, the same JSON as `cuishou loan show --json`, scoped like cases."""

from __future__ import annotations

import importlib
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router

from cuishou.api.auth import request_user
from cuishou.api.pii import mask_payload
from cuishou.api.schemas import ErrorOut
from cuishou.cases.models import Case
from cuishou.cases.selectors import loan_visible_to
from cuishou.core.money import format_money
from cuishou.portfolio.models import Loan

router = Router(tags=["loans"])


def _fallback_state(loan: Loan) -> dict[str, Any]:
    """The contract's minimum, used only while ``portfolio.selectors.loan_state`` is absent."""
    case = Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id).first()
    return {
        "contract_no": loan.contract_no,
        "client": loan.client.code,
        "dpd": loan.dpd,
        "bucket": loan.bucket,
        "overdue_principal": format_money(loan.overdue_principal),
        "overdue_interest": format_money(loan.overdue_interest),
        "penalty": format_money(loan.penalty),
        "balance": format_money(loan.balance),
        "case": None if case is None else {"stage": case.stage, "status": case.status},
    }


def _loan_state(loan: Loan) -> dict[str, Any]:
    try:
        selectors = importlib.import_module("cuishou.portfolio.selectors")
    except ImportError:
        return _fallback_state(loan)
    loan_state = getattr(selectors, "loan_state", None)
    if loan_state is None:
        return _fallback_state(loan)
    state: dict[str, Any] = loan_state(client_code=loan.client.code, contract_no=loan.contract_no)
    return state


@router.get(
    "/{client_code}/{contract_no}",
    response={200: dict[str, Any], 404: ErrorOut},
    summary="A loan's computed state (dpd, bucket, overdue amounts, balance, case)",
)
def loan_show(request: HttpRequest, client_code: str, contract_no: str) -> Any:
    loan = (
        Loan.objects.select_related("client")
        .filter(client__code=client_code, contract_no=contract_no)
        .first()
    )
    if loan is None or not loan_visible_to(
        request_user(request), client_id=loan.client_id, debtor_id=loan.debtor_id
    ):
        raise Http404("No such loan")
    return mask_payload(_loan_state(loan))
