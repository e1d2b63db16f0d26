"""The field-visit settings, each with its default (override in Django settings)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings


def far_metres() -> int:
    """An arrival, a photo or a phone this far (or farther) from the address is flagged."""
    return int(getattr(settings, "CUISHOU_VISIT_FAR_METRES", 300))


def time_tolerance() -> dt.timedelta:
    """A capture time this far outside the stop (arrival to departure) is flagged."""
    return dt.timedelta(minutes=int(getattr(settings, "CUISHOU_VISIT_TIME_TOLERANCE_MIN", 30)))


def max_photo_bytes() -> int:
    return int(getattr(settings, "CUISHOU_EVIDENCE_MAX_PHOTO_BYTES", 20 * 1024 * 1024))


def max_recording_bytes() -> int:
    return int(getattr(settings, "CUISHOU_EVIDENCE_MAX_RECORDING_BYTES", 500 * 1024 * 1024))


def max_document_bytes() -> int:
    return int(getattr(settings, "CUISHOU_EVIDENCE_MAX_DOCUMENT_BYTES", 20 * 1024 * 1024))


def special_staff_balance() -> Decimal:
    """An out-of-town hukou address with a balance above this goes back to the risk
    department for special staff; at or below it the case gets a letter instead."""
    return Decimal(str(getattr(settings, "CUISHOU_VISIT_SPECIAL_BALANCE", "50000.00")))


def visit_hours() -> tuple[dt.time, dt.time]:
    """No visit outside these local hours (the CN pack's quiet hours decide too)."""
    return (dt.time(8), dt.time(22))
