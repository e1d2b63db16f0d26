"""Receipts (回执) for posted payments, as PDF, on request.

``receipt_create`` renders the payment, its allocation lines and the loan's remaining
balance (as of today, by the engine's own SQL) with WeasyPrint and the system's Noto CJK
fonts, gives it a unique number (``R`` + the day + a random part) and keeps the PDF with
its SHA-256 as evidence. A receipt is never rendered again in place: a new request makes a
new receipt with a new number.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.models import Case, Receipt
from cuishou.cases.selectors import case_visible_queryset
from cuishou.core.timeutil import today_shanghai
from cuishou.engine.selectors import loan_figures_as_of

RECEIPT_PERMISSION = "cases.add_receipt"


def payment_get_for_user(user: Any, pk: int) -> Any:
    """The payment if ``user`` may see it (``payments.view_payment``, or its case is in
    their scope), for its receipts; otherwise Http404."""
    from cuishou.payments.models import Payment  # payments imports this app's models

    payment = Payment.objects.select_related("loan").filter(pk=pk).first()
    if payment is None:
        raise Http404("No such payment")
    visible = user.has_perm("payments.view_payment") or (
        case_visible_queryset(user)
        .filter(client_id=payment.loan.client_id, debtor_id=payment.loan.debtor_id)
        .exists()
    )
    if not visible:
        raise Http404("No such payment")
    return payment


def _number() -> str:
    return f"R{today_shanghai():%Y%m%d}-{secrets.token_hex(4).upper()}"


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy import, only when a receipt is made

    return bytes(HTML(string=html).write_pdf())


def receipt_create(*, actor: Any, payment: Any) -> Receipt:
    """Render and keep a new receipt for ``payment`` (posted, in the actor's scope)."""
    if not getattr(actor, "has_perm", None) or not actor.has_perm(RECEIPT_PERMISSION):
        raise PermissionDenied(_("This role may not make receipts."))
    loan = payment.loan
    case = Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id).first()
    if case is not None and not case_visible_queryset(actor).filter(pk=case.pk).exists():
        raise PermissionDenied(_("This case is not in your scope."))
    if payment.status != "posted":
        raise ValidationError({"payment": [_("A reversed payment gets no receipt.")]})
    today = today_shanghai()
    figures = loan_figures_as_of(loan_id=loan.pk, as_of=today)
    number = _number()
    now = timezone.now()
    html = render_to_string(
        "web/receipt_pdf.html",
        {
            "number": number,
            "payment": payment,
            "loan": loan,
            "debtor": loan.debtor,
            "client": loan.client,
            "lines": list(
                payment.allocations.filter(is_reversed=False)
                .select_related("installment")
                .order_by("id")
            ),
            "balance": figures.balance,
            "as_of": today,
            "issued_at": timezone.localtime(now),
        },
    )
    pdf = render_pdf(html)
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        receipt = Receipt.objects.create(
            payment=payment,
            case=case,
            number=number,
            created_at=now,
            created_by=actor if getattr(actor, "pk", None) else None,
            sha256=digest,
            pdf=pdf,
        )
        audit_record(
            actor=actor,
            action="receipt.create",
            target=receipt,
            case_id=case.pk if case else None,
            summary=f"receipt {number} for payment {payment.pk}",
            after={
                "number": number,
                "payment_id": payment.pk,
                "amount": payment.amount,
                "balance": figures.balance,
                "sha256": digest,
            },
        )
    return receipt
