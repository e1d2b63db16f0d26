"""Reading payments: one payment as plain JSON values, recent payments, pending reversals,
statement imports and the reconciliation queue."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cuishou.core.money import format_money
from cuishou.payments.choices import AllocationComponent, ReversalStatus, StatementLineStatus
from cuishou.payments.models import Payment, PaymentReversal, StatementImport, StatementLine


def payment_json(payment: Payment) -> dict[str, Any]:
    """The payment with its allocation lines (amounts as ``"0.00"``), what
    ``cuishou payments post`` prints and the API returns."""
    lines = list(payment.allocations.select_related("installment").order_by("id"))
    credit = sum(
        (line.amount for line in lines if line.component == AllocationComponent.CREDIT),
        start=payment.amount - payment.amount,
    )
    return {
        "payment": payment.pk,
        "replayed": bool(getattr(payment, "replayed", False)),
        "client": payment.loan.client.code,
        "contract_no": payment.loan.contract_no,
        "amount": format_money(payment.amount),
        "value_date": payment.value_date.isoformat(),
        "channel": payment.channel,
        "reference": payment.reference,
        "idempotency_key": payment.idempotency_key,
        "status": payment.status,
        "waterfall": payment.loan.product.waterfall,
        "allocations": [
            {
                "component": line.component,
                "seq": line.installment.seq if line.installment is not None else None,
                "amount": format_money(line.amount),
                "reversed": line.is_reversed,
            }
            for line in lines
        ],
        "credit": format_money(credit),
    }


def payments_recent(*, limit: int = 50) -> QuerySet[Payment]:
    return Payment.objects.select_related("loan", "loan__client", "posted_by").order_by(
        "-posted_at", "-id"
    )[:limit]


def reversals_pending() -> QuerySet[PaymentReversal]:
    return (
        PaymentReversal.objects.filter(status=ReversalStatus.PENDING)
        .select_related("payment", "payment__loan", "payment__loan__client", "requested_by")
        .order_by("requested_at", "id")
    )


def statement_imports_recent(*, limit: int = 20) -> QuerySet[StatementImport]:
    return StatementImport.objects.select_related("client", "actor").order_by("-started_at", "-id")[
        :limit
    ]


def statement_lines_of(statement: StatementImport, *, limit: int = 500) -> QuerySet[StatementLine]:
    return (
        statement.lines.select_related("loan")
        .prefetch_related("payments")
        .order_by("line_no")[:limit]
    )


def statement_queue(*, limit: int = 100) -> QuerySet[StatementLine]:
    """Credits waiting for a person (queued first, then unmatched), oldest first."""
    return (
        StatementLine.objects.filter(
            status__in=[StatementLineStatus.QUEUED, StatementLineStatus.UNMATCHED]
        )
        .select_related("client", "statement")
        .order_by("status", "date", "id")[:limit]
    )
