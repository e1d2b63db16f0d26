"""Money is Decimal, rounded half up to the fen at defined points only."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import overload

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY_MAX_DIGITS = 16
MONEY_DECIMAL_PLACES = 2


def to_fen(value: Decimal) -> Decimal:
    """Round a Decimal half up to two places (the fen)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_amount(text: str) -> Decimal:
    """Parse ``1,234.50`` style text; at most two decimal places. Raises ValueError."""
    cleaned = text.strip().replace(",", "").replace("，", "")
    if not cleaned:
        raise ValueError("empty amount")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a number: {text!r}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"more than 2 decimal places: {text!r}")
    return value


def fen_to_decimal(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def decimal_to_fen(value: Decimal) -> int:
    return int(to_fen(value) * 100)


def format_money(value: Decimal | None) -> str:
    """Two decimals as a string, the form JSON output uses (``"6000.00"``)."""
    if value is None:
        return "0.00"
    return f"{to_fen(value):.2f}"


def format_money_display(value: Decimal | int | str | None) -> str:
    """``1234.5`` → ``1,234.50`` (two decimals, thousands separated); empty for none."""
    if value is None or value == "":
        return ""
    return f"{to_fen(Decimal(str(value))):,.2f}"


@overload
def format_rate(rate: Decimal) -> str: ...
@overload
def format_rate(rate: None) -> None: ...
def format_rate(rate: Decimal | None) -> str | None:
    """A rate without trailing zeros, the form JSON output uses: ``0.180000`` → ``"0.18"``."""
    return None if rate is None else str(rate.normalize())
