"""Payments over HTTP: post (with an ``Idempotency-Key`` header: a retried request posts
once), read, and the two-person reversal (ask, then approve or reject). Posting needs
``payments.add_payment``; deciding a reversal ``payments.approve_reversal``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Header, Router, Schema, Status

from cuishou.api.auth import request_user
from cuishou.api.schemas import ErrorOut
from cuishou.payments.choices import PaymentChannel
from cuishou.payments.models import Payment, PaymentReversal
from cuishou.payments.selectors import payment_json
from cuishou.payments.services import (
    payment_post,
    reversal_approve,
    reversal_reject,
    reversal_request,
)
from cuishou.portfolio.selectors import LoanNotFoundError, loan_get

router = Router(tags=["payments"])


class PaymentIn(Schema):
    client: str
    contract_no: str
    amount: Decimal
    value_date: dt.date
    channel: str = PaymentChannel.BANK_TRANSFER.value
    reference: str = ""


class AllocationOut(Schema):
    component: str
    seq: int | None
    amount: str
    reversed: bool


class PaymentOut(Schema):
    payment: int
    replayed: bool
    client: str
    contract_no: str
    amount: str
    value_date: str
    channel: str
    reference: str
    idempotency_key: str
    status: str
    waterfall: str
    allocations: list[AllocationOut]
    credit: str


class ReversalIn(Schema):
    reason: str


class DecisionIn(Schema):
    note: str = ""


class ReversalOut(Schema):
    id: int
    payment: int
    reason: str
    status: str
    requested_by: str
    decided_by: str | None


def _reversal_out(r: PaymentReversal) -> dict[str, Any]:
    return {
        "id": r.pk,
        "payment": r.payment_id,
        "reason": r.reason,
        "status": r.status,
        "requested_by": r.requested_label,
        "decided_by": r.decided_by.get_username() if r.decided_by is not None else None,
    }


def _need(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(_("you may not do this (%(perm)s)") % {"perm": permission})


@router.post(
    "",
    response={200: PaymentOut, 201: PaymentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Post a payment (allocated by the product's waterfall)",
)
def payment_create(
    request: HttpRequest,
    payload: PaymentIn,
    idempotency_key: str = Header("", alias="Idempotency-Key"),
) -> Any:
    user = request_user(request)
    _need(user, "payments.add_payment")
    try:
        loan = loan_get(client_code=payload.client, contract_no=payload.contract_no)
    except LoanNotFoundError as exc:
        raise Http404(str(exc)) from exc
    try:
        payment = payment_post(
            actor=user,
            loan=loan,
            amount=payload.amount,
            value_date=payload.value_date,
            channel=payload.channel,
            reference=payload.reference,
            idempotency_key=idempotency_key,
        )
    except ValidationError as err:
        return Status(422, {"detail": err.messages})
    out = payment_json(payment)
    return Status(200 if out["replayed"] else 201, out)


def _payment(payment_id: int) -> Payment:
    payment = (
        Payment.objects.select_related("loan", "loan__client", "loan__product")
        .filter(pk=payment_id)
        .first()
    )
    if payment is None:
        raise Http404(_("no payment %(id)s") % {"id": payment_id})
    return payment


@router.get(
    "/{int:payment_id}",
    response={200: PaymentOut, 403: ErrorOut, 404: ErrorOut},
    summary="A payment with its allocation",
)
def payment_show(request: HttpRequest, payment_id: int) -> Any:
    _need(request_user(request), "payments.view_payment")
    return payment_json(_payment(payment_id))


@router.post(
    "/{int:payment_id}/reversals",
    response={201: ReversalOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Ask for a payment to be reversed (a second person approves)",
)
def reversal_create(request: HttpRequest, payment_id: int, payload: ReversalIn) -> Any:
    user = request_user(request)
    _need(user, "payments.add_paymentreversal")
    try:
        reversal = reversal_request(actor=user, payment=_payment(payment_id), reason=payload.reason)
    except ValidationError as err:
        return Status(422, {"detail": err.messages})
    return Status(201, _reversal_out(reversal))


def _reversal(reversal_id: int) -> PaymentReversal:
    reversal = PaymentReversal.objects.select_related("payment").filter(pk=reversal_id).first()
    if reversal is None:
        raise Http404(_("no reversal request %(id)s") % {"id": reversal_id})
    return reversal


@router.post(
    "/reversals/{int:reversal_id}/approve",
    response={200: PaymentOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Approve a reversal: the payment is reversed",
)
def reversal_approve_view(request: HttpRequest, reversal_id: int, payload: DecisionIn) -> Any:
    user = request_user(request)
    try:
        payment = reversal_approve(actor=user, request=_reversal(reversal_id), note=payload.note)
    except ValidationError as err:
        return Status(422, {"detail": err.messages})
    return payment_json(_payment(payment.pk))


@router.post(
    "/reversals/{int:reversal_id}/reject",
    response={200: ReversalOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Reject a reversal: the payment stays posted",
)
def reversal_reject_view(request: HttpRequest, reversal_id: int, payload: DecisionIn) -> Any:
    user = request_user(request)
    try:
        reversal = reversal_reject(actor=user, request=_reversal(reversal_id), note=payload.note)
    except ValidationError as err:
        return Status(422, {"detail": err.messages})
    return _reversal_out(reversal)
