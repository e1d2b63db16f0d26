"""The checks an agreed schedule of (due date, amount) rows must pass — a promise to pay's
instalments and a repayment plan's installments alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class ScheduleWords:
    """What the messages call the schedule: translated strings, ``item`` and
    ``too_many`` with ``%(n)d``."""

    empty: str
    too_many: str
    item: str
    before: str


def schedule_errors(
    rows: Sequence[tuple[dt.date, Decimal]],
    starts_on: dt.date,
    *,
    limit: int,
    words: ScheduleWords,
) -> list[str]:
    """Every problem of ``rows``: none, more than ``limit``, an amount not above 0 or with
    more than 2 decimals, a date before ``starts_on``, dates not strictly increasing."""
    if not rows:
        return [words.empty]
    errors: list[str] = []
    if len(rows) > limit:
        errors.append(words.too_many % {"n": limit})
    previous: dt.date | None = None
    for n, (due_on, amount) in enumerate(rows, start=1):
        where = words.item % {"n": n}
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            errors.append(_("%(where)s: the amount must be more than 0.") % {"where": where})
        elif amount != amount.quantize(Decimal("0.01")):
            errors.append(_("%(where)s: at most 2 decimal places.") % {"where": where})
        if due_on < starts_on:
            errors.append(words.before % {"where": where})
        if previous is not None and due_on <= previous:
            errors.append(
                _("%(where)s: each date must come after the one before.") % {"where": where}
            )
        previous = due_on
    return errors
