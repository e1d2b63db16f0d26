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
