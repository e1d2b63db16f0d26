from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentChannel(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    COUNTER = "counter", _("Bank counter")
    ONLINE = "online", _("Online")
    DEDUCTION = "deduction", _("Deduction")


class PaymentStatus(models.TextChoices):
    POSTED = "posted", _("Posted")
    REVERSED = "reversed", _("Reversed")


class AllocationComponent(models.TextChoices):
    """What a part of a payment paid, in the default waterfall's order."""

    PENALTY = "penalty", _("Penalty interest")
    INTEREST = "interest", _("Interest")
    PRINCIPAL = "principal", _("Principal")
    CREDIT = "credit", _("Credit (overpayment held)")


class ReversalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved (reversed)")
    REJECTED = "rejected", _("Rejected")


class Waterfall(models.TextChoices):
    """The order a payment pays a loan's debts in (per product). Within a step the
    oldest installment comes first; what is not yet due comes last, installment by
    installment, interest then principal; an overpayment is held as credit."""

    DEFAULT = "default", _("Penalty, overdue interest, overdue principal, then current")
    BY_INSTALLMENT = (
        "by_installment",
        _("Penalty, then each overdue installment in full (interest, principal), then current"),
    )
    INTEREST_FIRST = (
        "interest_first",
        _("Overdue interest, overdue principal, penalty last, then current"),
    )
    PRINCIPAL_FIRST = (
        "principal_first",
        _("Overdue principal, overdue interest, penalty last, then current"),
    )


class StatementLineStatus(models.TextChoices):
    """Where a bank-statement credit stands after reconciliation."""

    MATCHED = "matched", _("Matched")
    QUEUED = "queued", _("Queued (several candidates)")
    UNMATCHED = "unmatched", _("Unmatched")
    IGNORED = "ignored", _("Ignored")
