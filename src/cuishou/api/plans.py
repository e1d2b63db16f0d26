"""Repayment plans, settlements and receipts over HTTP, through the same services and
with the same permissions as the case page (``cuishou.web.settlements``):

- a plan is agreed or cancelled by a role with ``cases.agree_plan`` on a case in its
  scope; anyone who sees the case sees its plans, kept or broken as the nightly run
  decided them;
- a settlement is asked for with ``cases.request_settlement``; it is approved or rejected
  by a holder of ``cases.approve_settlement`` whose role's limit covers the discount,
  never the one who asked (403 naming the role that decides it otherwise);
- a receipt (PDF) is made for a posted payment with ``cases.add_receipt`` and downloaded
  by whoever may see the payment.

A case outside the user's scope is 404; a service's ValidationError is 422 with the
fields it names (``{"detail": {"field": ["why"]}}``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from cuishou.api.auth import request_user
from cuishou.api.schemas import ErrorOut, Money
from cuishou.cases.choices import PlanCovers, SettlementStatus
from cuishou.cases.models import Receipt, RepaymentPlan, Settlement
from cuishou.cases.plans import plan_cancel, plan_create
from cuishou.cases.receipts import payment_get_for_user, receipt_create
from cuishou.cases.selectors import case_get_for_user, case_visible_queryset
from cuishou.cases.settlements import (
    APPROVE_PERMISSION,
    settlement_decide,
    settlement_request,
    user_may_decide_settlement,
)
from cuishou.core.money import format_money

case_router = Router(tags=["plans and settlements"])
settlement_router = Router(tags=["plans and settlements"])
receipt_router = Router(tags=["receipts"])


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _invalid(err: ValidationError) -> Status:
    detail = err.message_dict if hasattr(err, "error_dict") else err.messages
    return Status(422, {"detail": detail})


# --- repayment plans ------------------------------------------------------------------


class PlanInstallmentIn(Schema):
    due_on: dt.date
    amount: Decimal


class PlanIn(Schema):
    covers: str = PlanCovers.OVERDUE.value
    installments: list[PlanInstallmentIn]
    consent_note: str


class PlanCancelIn(Schema):
    reason: str


class PlanInstallmentOut(Schema):
    seq: int
    due_on: dt.date
    amount: Money
    paid_amount: Money
    status: str


class PlanOut(Schema):
    id: int
    case_id: int
    agreed_on: dt.date
    covers: str
    amount: Money
    consent_note: str
    grace_days: int
    status: str
    decided_as_of: dt.date | None
    created_by: str | None
    created_at: dt.datetime
    installments: list[PlanInstallmentOut]


def _plan_out(plan: RepaymentPlan) -> PlanOut:
    return PlanOut(
        id=plan.pk,
        case_id=plan.case_id,
        agreed_on=plan.agreed_on,
        covers=plan.covers,
        amount=format_money(plan.amount),
        consent_note=plan.consent_note,
        grace_days=plan.grace_days,
        status=plan.status,
        decided_as_of=plan.decided_as_of,
        created_by=_username(plan.created_by),
        created_at=plan.created_at,
        installments=[
            PlanInstallmentOut(
                seq=i.seq,
                due_on=i.due_on,
                amount=format_money(i.amount),
                paid_amount=format_money(i.paid_amount),
                status=i.status,
            )
            for i in plan.installments.all()
        ],
    )


def _plan(plan_id: int) -> RepaymentPlan:
    plan = (
        RepaymentPlan.objects.select_related("created_by")
        .prefetch_related("installments")
        .filter(pk=plan_id)
        .first()
    )
    if plan is None:
        raise Http404(f"no plan {plan_id}")
    return plan


@case_router.post(
    "/{int:case_id}/plans",
    response={201: PlanOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Agree a repayment plan: dated installments adding up to what it covers",
)
def plan_new(request: HttpRequest, case_id: int, payload: PlanIn) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    try:
        plan = plan_create(
            actor=user,
            case=case,
            installments=[(i.due_on, i.amount) for i in payload.installments],
            consent_note=payload.consent_note,
            covers=payload.covers,
        )
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _plan_out(_plan(plan.pk)))


@case_router.get(
    "/{int:case_id}/plans",
    response={200: list[PlanOut], 404: ErrorOut},
    summary="The case's repayment plans, newest first, with each installment's state",
)
def plan_list(request: HttpRequest, case_id: int) -> Any:
    case = case_get_for_user(request_user(request), case_id)
    plans = case.plans.select_related("created_by").prefetch_related("installments")
    return [_plan_out(p) for p in plans]


@case_router.post(
    "/{int:case_id}/plans/{int:plan_id}/cancel",
    response={200: PlanOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Cancel the active plan, with a reason (collection resumes)",
)
def plan_cancel_view(
    request: HttpRequest, case_id: int, plan_id: int, payload: PlanCancelIn
) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    plan = _plan(plan_id)
    if plan.case_id != case.pk:
        raise Http404(f"no plan {plan_id} on case {case_id}")
    try:
        plan_cancel(actor=user, plan=plan, reason=payload.reason)
    except ValidationError as err:
        return _invalid(err)
    return _plan_out(_plan(plan.pk))


# --- settlements ----------------------------------------------------------------------


class SettlementIn(Schema):
    penalty: Decimal | None = None
    interest: Decimal | None = None
    principal: Decimal | None = None
    deadline: dt.date
    reason: str


class DecisionIn(Schema):
    note: str = ""


class SettlementOut(Schema):
    id: int
    case_id: int
    status: str
    balance: Money
    penalty_waived: Money
    interest_waived: Money
    principal_waived: Money
    discount: Money
    settled_amount: Money
    deadline: dt.date
    reason: str
    approver_role: str | None
    requested_by: str | None
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    approved_on: dt.date | None
    completed_on: dt.date | None
    paid_amount: Money
    waived_amount: Money
    may_decide: bool


def _settlement_out(s: Settlement, user: Any) -> SettlementOut:
    return SettlementOut(
        id=s.pk,
        case_id=s.case_id,
        status=s.status,
        balance=format_money(s.balance),
        penalty_waived=format_money(s.penalty_waived),
        interest_waived=format_money(s.interest_waived),
        principal_waived=format_money(s.principal_waived),
        discount=format_money(s.discount),
        settled_amount=format_money(s.settled_amount),
        deadline=s.deadline,
        reason=s.reason,
        approver_role=s.approver_role or None,
        requested_by=_username(s.requested_by),
        requested_at=s.requested_at,
        decided_by=_username(s.decided_by),
        decided_at=s.decided_at,
        decision_note=s.decision_note,
        approved_on=s.approved_on,
        completed_on=s.completed_on,
        paid_amount=format_money(s.paid_amount),
        waived_amount=format_money(s.waived_amount),
        may_decide=(
            s.status == SettlementStatus.PENDING
            and s.requested_by_id != user.pk
            and user_may_decide_settlement(user, s)
        ),
    )


def _visible_settlements(user: Any) -> Any:
    return Settlement.objects.filter(case__in=case_visible_queryset(user)).select_related(
        "requested_by", "decided_by"
    )


def _settlement(user: Any, settlement_id: int) -> Settlement:
    settlement = _visible_settlements(user).filter(pk=settlement_id).first()
    if settlement is None:
        raise Http404(f"no settlement {settlement_id}")
    return settlement


@case_router.post(
    "/{int:case_id}/settlements",
    response={201: SettlementOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Ask for a settlement: a discount on penalty, interest and/or principal",
)
def settlement_new(request: HttpRequest, case_id: int, payload: SettlementIn) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    try:
        settlement = settlement_request(
            actor=user,
            case=case,
            penalty=payload.penalty,
            interest=payload.interest,
            principal=payload.principal,
            deadline=payload.deadline,
            reason=payload.reason,
        )
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _settlement_out(_settlement(user, settlement.pk), user))


@case_router.get(
    "/{int:case_id}/settlements",
    response={200: list[SettlementOut], 404: ErrorOut},
    summary="The case's settlements, newest first",
)
def case_settlement_list(request: HttpRequest, case_id: int) -> Any:
    user = request_user(request)
    case = case_get_for_user(user, case_id)
    return [_settlement_out(s, user) for s in _visible_settlements(user).filter(case=case)]


@settlement_router.get(
    "",
    response={200: list[SettlementOut], 403: ErrorOut, 422: ErrorOut},
    summary="Settlements in my scope (default: those waiting for a decision), oldest first",
)
def settlement_list(request: HttpRequest, status: str = SettlementStatus.PENDING.value) -> Any:
    user = request_user(request)
    if not (user.has_perm("cases.view_settlement") or user.is_superuser):
        raise PermissionDenied(
            _("you may not do this (%(perm)s)") % {"perm": "cases.view_settlement"}
        )
    if status not in SettlementStatus.values:
        return Status(422, {"detail": {"status": [_("Unknown choice.")]}})
    rows = _visible_settlements(user).filter(status=status).order_by("requested_at", "id")[:500]
    return [_settlement_out(s, user) for s in rows]


@settlement_router.get(
    "/{int:settlement_id}",
    response={200: SettlementOut, 404: ErrorOut},
    summary="A settlement, with whether I may decide it",
)
def settlement_show(request: HttpRequest, settlement_id: int) -> Any:
    user = request_user(request)
    return _settlement_out(_settlement(user, settlement_id), user)


def _decide(request: HttpRequest, settlement_id: int, payload: DecisionIn, approve: bool) -> Any:
    user = request_user(request)
    settlement = _settlement(user, settlement_id)
    if not (user.is_superuser or user.has_perm(APPROVE_PERMISSION)):
        raise PermissionDenied(_("you may not do this (%(perm)s)") % {"perm": APPROVE_PERMISSION})
    try:
        settlement_decide(actor=user, settlement=settlement, approve=approve, note=payload.note)
    except ValidationError as err:
        return _invalid(err)
    return _settlement_out(_settlement(user, settlement_id), user)


@settlement_router.post(
    "/{int:settlement_id}/approve",
    response={200: SettlementOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Approve a settlement within my role's limit (never my own request)",
)
def settlement_approve(request: HttpRequest, settlement_id: int, payload: DecisionIn) -> Any:
    return _decide(request, settlement_id, payload, approve=True)


@settlement_router.post(
    "/{int:settlement_id}/reject",
    response={200: SettlementOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Reject a settlement within my role's limit",
)
def settlement_reject(request: HttpRequest, settlement_id: int, payload: DecisionIn) -> Any:
    return _decide(request, settlement_id, payload, approve=False)


# --- receipts -------------------------------------------------------------------------


class ReceiptIn(Schema):
    payment: int


class ReceiptOut(Schema):
    id: int
    number: str
    payment: int
    case_id: int | None
    created_at: dt.datetime
    created_by: str | None
    sha256: str
    pdf: str


def _receipt_out(r: Receipt) -> ReceiptOut:
    return ReceiptOut(
        id=r.pk,
        number=r.number,
        payment=r.payment_id,
        case_id=r.case_id,
        created_at=r.created_at,
        created_by=_username(r.created_by),
        sha256=r.sha256,
        pdf=f"/api/receipts/{r.pk}/pdf",
    )


def _receipt(user: Any, receipt_id: int) -> Receipt:
    receipt = Receipt.objects.select_related("created_by").filter(pk=receipt_id).first()
    if receipt is None:
        raise Http404(f"no receipt {receipt_id}")
    payment_get_for_user(user, receipt.payment_id)
    return receipt


@receipt_router.post(
    "",
    response={201: ReceiptOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Make a receipt (PDF) for a posted payment; each request makes a new one",
)
def receipt_new(request: HttpRequest, payload: ReceiptIn) -> Any:
    user = request_user(request)
    payment = payment_get_for_user(user, payload.payment)
    try:
        receipt = receipt_create(actor=user, payment=payment)
    except ValidationError as err:
        return _invalid(err)
    return Status(201, _receipt_out(_receipt(user, receipt.pk)))


@receipt_router.get(
    "/{int:receipt_id}",
    response={200: ReceiptOut, 404: ErrorOut},
    summary="A receipt's number, payment and SHA-256",
)
def receipt_show(request: HttpRequest, receipt_id: int) -> Any:
    return _receipt_out(_receipt(request_user(request), receipt_id))


@receipt_router.get(
    "/{int:receipt_id}/pdf",
    response={404: ErrorOut},
    summary="Download the receipt's PDF (as it was made; X-Content-SHA256 gives its hash)",
    openapi_extra={
        "responses": {
            200: {
                "description": "The PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def receipt_pdf(request: HttpRequest, receipt_id: int) -> HttpResponse:
    receipt = _receipt(request_user(request), receipt_id)
    response = HttpResponse(bytes(receipt.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{receipt.number}.pdf"'
    response["X-Content-SHA256"] = receipt.sha256
    return response
