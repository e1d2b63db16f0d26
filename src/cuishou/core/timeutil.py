"""Times are stored in UTC and shown in Asia/Shanghai unless the debtor's zone applies."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    return timezone.now()


def today_shanghai() -> dt.date:
    return timezone.now().astimezone(SHANGHAI).date()


def is_date(value: object) -> bool:
    """A calendar day: a ``date`` that is not a ``datetime`` (which is a date subclass)."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def require_date(value: object, *, field: str = "as_of") -> dt.date:
    """``value`` when it is a calendar day, else TypeError naming the field."""
    if not is_date(value):
        raise TypeError(f"{field} must be a datetime.date, not {value!r}")
    assert isinstance(value, dt.date)
    return value


def require_aware(value: dt.datetime, *, field: str = "at") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: a time needs a UTC offset (e.g. 2026-11-16T09:00:00+08:00)")
    return value
