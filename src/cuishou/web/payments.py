"""The payments page (finance): post a payment, see the latest with their allocation,
ask for a reversal, and approve or reject another person's request.

The posting form carries an idempotency key made when the form is shown, so a form sent
twice (a double click, a reload after a timeout) posts once."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cuishou.payments.choices import PaymentChannel
from cuishou.payments.models import Payment, PaymentReversal
from cuishou.payments.selectors import payment_json, payments_recent, reversals_pending
from cuishou.payments.services import (
    payment_post,
    reversal_approve,
    reversal_reject,
    reversal_request,
)
from cuishou.portfolio.models import Client
from cuishou.portfolio.selectors import LoanNotFoundError, loan_get


class PaymentPostForm(forms.Form):
    client = forms.ModelChoiceField(
        label=gettext_lazy("Client (委托方)"),
        queryset=Client.objects.filter(is_active=True).order_by("code"),
        empty_label=None,
    )
    contract_no = forms.CharField(label=gettext_lazy("Contract number"), max_length=64)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), max_digits=16, decimal_places=2, min_value=Decimal("0.01")
    )
    value_date = forms.DateField(
        label=gettext_lazy("Value date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=PaymentChannel.choices)
    reference = forms.CharField(label=gettext_lazy("Reference"), max_length=100, required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)


def _page(request: HttpRequest, form: PaymentPostForm, status: int = 200) -> HttpResponse:
    shown = request.GET.get("payment", "")
    posted = None
    if shown.isdigit():
        payment = Payment.objects.select_related("loan__client", "loan__product").filter(
            pk=int(shown)
        )
        posted = payment_json(payment[0]) if payment else None
    return render(
        request,
        "web/payments.html",
        {
            "form": form,
            "posted": posted,
            "payments": payments_recent(),
            "pending": reversals_pending(),
            "may_approve": request.user.has_perm("payments.approve_reversal"),
            "may_request": request.user.has_perm("payments.add_paymentreversal"),
            "may_post": request.user.has_perm("payments.add_payment"),
        },
        status=status,
    )


@permission_required("payments.view_payment", raise_exception=True)
@require_http_methods(["GET", "POST"])
def payments(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, PaymentPostForm(initial={"idempotency_key": uuid.uuid4().hex}))
    if not request.user.has_perm("payments.add_payment"):
        raise PermissionDenied
    form = PaymentPostForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=422)
    data: dict[str, Any] = form.cleaned_data
    try:
        loan = loan_get(client_code=data["client"].code, contract_no=data["contract_no"].strip())
        payment = payment_post(
            actor=request.user,
            loan=loan,
            amount=data["amount"],
            value_date=data["value_date"],
            channel=data["channel"],
            reference=data["reference"],
            idempotency_key=data["idempotency_key"],
        )
    except LoanNotFoundError as exc:
        form.add_error("contract_no", str(exc))
        return _page(request, form, status=422)
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, form, status=422)
    if payment.replayed:  # type: ignore[attr-defined]
        messages.info(
            request,
            _("This form was already sent: payment %(id)s was posted once.") % {"id": payment.pk},
        )
    else:
        messages.success(
            request,
            _("Payment %(id)s posted: %(amount)s on %(contract)s.")
            % {"id": payment.pk, "amount": payment.amount, "contract": loan.contract_no},
        )
    return redirect(f"{reverse('web:payments')}?payment={payment.pk}")


@permission_required("payments.add_paymentreversal", raise_exception=True)
@require_POST
def payment_reversal_request(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(Payment, pk=pk)
    try:
        reversal_request(actor=request.user, payment=payment, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Reversal of payment %(id)s asked for: a second person approves it.")
            % {"id": payment.pk},
        )
    return redirect("web:payments")


@permission_required("payments.approve_reversal", raise_exception=True)
@require_POST
def payment_reversal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    reversal = get_object_or_404(PaymentReversal, pk=pk)
    note = request.POST.get("note", "")
    try:
        if request.POST.get("decision") == "approve":
            reversal_approve(actor=request.user, request=reversal, note=note)
            messages.success(request, _("Payment %(id)s reversed.") % {"id": reversal.payment_id})
        else:
            reversal_reject(actor=request.user, request=reversal, note=note)
            messages.success(
                request,
                _("Reversal of payment %(id)s rejected: it stays posted.")
                % {"id": reversal.payment_id},
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("web:payments")
