"""Base model pieces shared by the domain apps (no domain logic here)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


def MoneyField(verbose_name: str | _StrPromise, **kwargs: Any) -> models.DecimalField:  # noqa: N802
    """A Decimal money column: 16 digits, 2 places, default 0.00."""
    kwargs.setdefault("default", Decimal("0.00"))
    return models.DecimalField(
        verbose_name,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        **kwargs,
    )


def RateField(verbose_name: str | _StrPromise, **kwargs: Any) -> models.DecimalField:  # noqa: N802
    """An annual rate as a fraction (0.18 = 18 %), six decimal places."""
    return models.DecimalField(verbose_name, max_digits=9, decimal_places=6, **kwargs)
