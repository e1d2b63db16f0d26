"""A loan's computed state, the same JSON as `cuishou loan show --json`, scoped like cases."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router

from cuishou.api.auth import request_user
from cuishou.api.pii import mask_payload
from cuishou.api.schemas import ErrorOut
from cuishou.cases.selectors import loan_visible_to
from cuishou.portfolio.selectors import LoanNotFoundError, loan_get, loan_state

router = Router(tags=["loans"])


@router.get(
    "/{client_code}/{contract_no}",
    response={200: dict[str, Any], 404: ErrorOut},
    summary="A loan's computed state (dpd, bucket, overdue amounts, balance, case)",
)
def loan_show(request: HttpRequest, client_code: str, contract_no: str) -> Any:
    # An unknown loan and one outside the user's scope get the same 404.
    try:
        loan = loan_get(client_code=client_code, contract_no=contract_no)
    except LoanNotFoundError as exc:
        raise Http404 from exc
    if not loan_visible_to(
        request_user(request), client_id=loan.client_id, debtor_id=loan.debtor_id
    ):
        raise Http404
    return mask_payload(loan_state(client_code=client_code, contract_no=contract_no))
