"""Base model pieces shared by the domain apps (no domain logic here)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


def MoneyField(verbose_name: str, **kwargs: object) -> models.DecimalField:  # noqa: N802
    """A Decimal money column: 16 digits, 2 places, default 0.00."""
    kwargs.setdefault("default", Decimal("0.00"))
    return models.DecimalField(
        verbose_name,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        **kwargs,  # type: ignore[arg-type]
    )


def RateField(verbose_name: str, **kwargs: object) -> models.DecimalField:  # noqa: N802
    """An annual rate as a fraction (0.18 = 18 %), six decimal places."""
    return models.DecimalField(verbose_name, max_digits=9, decimal_places=6, **kwargs)  # type: ignore[arg-type]
