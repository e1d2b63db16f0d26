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


def require_aware(value: dt.datetime, *, field: str = "at") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: a time needs a UTC offset (e.g. 2026-11-16T09:00:00+08:00)")
    return value
