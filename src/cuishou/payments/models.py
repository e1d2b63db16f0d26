"""Payments and the line-by-line allocation the nightly engine reads.

An allocation line says what part of a payment paid (penalty, an installment's interest
or principal, or credit held), with the payment's value date. The engine computes every
figure "as of" a date from these lines, so a payment posted today with last week's value
date changes last week's history too. A reversed payment's lines are marked reversed and
count nowhere.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.core.models import MoneyField
from cuishou.payments.choices import (
    AllocationComponent,
    PaymentChannel,
    PaymentStatus,
    ReversalStatus,
    StatementLineStatus,
)


class Payment(models.Model):
    loan = models.ForeignKey(
        "portfolio.Loan", verbose_name=_("loan"), on_delete=models.PROTECT, related_name="payments"
    )
    amount = MoneyField(_("amount"))
    value_date = models.DateField(_("value date"))
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=PaymentChannel.choices,
        default=PaymentChannel.BANK_TRANSFER,
    )
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.POSTED
    )
    posted_at = models.DateTimeField(_("posted at"), auto_now_add=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reversed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reversal_reason = models.CharField(_("reversal reason"), max_length=200, blank=True)
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=100,
        blank=True,
        default="",
        db_default="",
        help_text=_("A retried request with the same key posts nothing new."),
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-value_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payment_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="payment_idempotency_key_unique",
            ),
        ]
        permissions = [
            ("approve_reversal", _("Can approve the reversal of a payment")),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.amount} {self.value_date}"


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="allocations"
    )
    # Denormalised from the payment so the engine reads one table.
    # Indexed by (loan, value date) below, which serves every lookup by loan.
    loan = models.ForeignKey(
        "portfolio.Loan",
        verbose_name=_("loan"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    installment = models.ForeignKey(
        "portfolio.Installment",
        verbose_name=_("installment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocations",
        help_text=_("Empty for penalty and credit, which belong to the loan."),
    )
    component = models.CharField(_("component"), max_length=16, choices=AllocationComponent.choices)
    amount = MoneyField(_("amount"))
    value_date = models.DateField(_("value date"))
    is_reversed = models.BooleanField(_("reversed"), default=False)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        ordering = ["payment", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="allocation_amount_positive"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(component__in=["interest", "principal"], installment__isnull=False)
                    | models.Q(component__in=["penalty", "credit"], installment__isnull=True)
                ),
                name="allocation_installment_matches_component",
            ),
        ]
        indexes = [models.Index(fields=["loan", "value_date"], name="allocation_loan_date_idx")]

    def __str__(self) -> str:
        return f"{self.component} {self.amount}"


class PaymentReversal(models.Model):
    """A request to reverse a payment (a bounced transfer, a posting error), with its
    reason, and the decision of a second person: approved (the payment is reversed) or
    rejected. At most one request per payment is pending."""

    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        on_delete=models.PROTECT,
        related_name="reversal_requests",
    )
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReversalStatus.choices,
        default=ReversalStatus.PENDING,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_label = models.CharField(_("requested by (name)"), max_length=150, blank=True)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("payment reversal")
        verbose_name_plural = _("payment reversals")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(status="pending"),
                name="reversal_one_pending_per_payment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.status}"


class StatementImport(models.Model):
    """One bank statement read for a client (银行流水对账): the file, who, the counts and
    the report (the bad lines of a refused file). A dry run is never stored."""

    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="statement_imports",
    )
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("imported by (name)"), max_length=150, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    refused = models.BooleanField(
        _("refused"), default=False, help_text=_("The file had bad lines: nothing was posted.")
    )
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error_count = models.PositiveIntegerField(_("bad lines"), default=0)
    report = models.TextField(_("report"), blank=True)

    class Meta:
        verbose_name = _("statement import")
        verbose_name_plural = _("statement imports")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.started_at:%Y-%m-%d})"


class StatementLine(models.Model):
    """One credit of a bank statement and what reconciliation made of it: matched to a
    loan (and posted), queued for a person (several candidates), unmatched, or ignored.
    ``candidates`` lists the loans a person chooses from, each with its reasons."""

    statement = models.ForeignKey(
        StatementImport,
        verbose_name=_("statement import"),
        on_delete=models.PROTECT,
        related_name="lines",
    )
    # No separate index: the (client, txn_id) unique constraint serves lookups by client.
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    line_no = models.PositiveIntegerField(_("line"))
    txn_id = models.CharField(_("transaction id (流水号)"), max_length=64)
    date = models.DateField(_("date"))
    amount = MoneyField(_("amount"))
    payer_name = models.CharField(_("payer name"), max_length=200, blank=True)
    payer_account = models.CharField(_("payer account"), max_length=64, blank=True)
    memo = models.CharField(_("memo"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=StatementLineStatus.choices, db_index=True
    )
    loan = models.ForeignKey(
        "portfolio.Loan",
        verbose_name=_("matched loan"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    payments = models.ManyToManyField(
        Payment, verbose_name=_("payments"), blank=True, related_name="statement_lines"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    candidates = models.JSONField(_("candidates"), default=list, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # never looked up by; the audit log says who did what
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "line_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "txn_id"], name="statement_line_txn_unique_per_client"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="statement_line_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.txn_id} {self.amount}"
