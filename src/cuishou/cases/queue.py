"""The collector's queue: today's cases in priority order, promises due today, call-backs.

The priority score (higher first) is computed when the queue is read, so it is always
current (docs/workflow.md):

- balance: 1 point per 250 yuan, at most 400;
- days past due: 1 point a day, at most 180;
- broken promises in the last 90 days: 150 each, at most 3;
- time since the last contact: 5 points a day, at most 150 (never contacted: 150);
- a promise instalment due today: 500; a call-back due today or earlier: 300.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Subquery
from django.utils import timezone

from cuishou.cases.choices import CaseStatus, PromiseStatus
from cuishou.cases.models import Case, ContactAttempt, PromiseInstalment, PromiseToPay
from cuishou.core.timeutil import SHANGHAI, today_shanghai

BALANCE_PER_POINT = Decimal("250")
BROKEN_WINDOW_DAYS = 90


@dataclass(frozen=True)
class QueueItem:
    case: Case
    priority: int
    last_contact_at: dt.datetime | None
    follow_up_at: dt.datetime | None
    promise_due_today: bool
    broken_promises: int


def priority_score(
    *,
    balance: Decimal,
    dpd: int,
    broken_promises: int,
    last_contact_at: dt.datetime | None,
    promise_due_today: bool,
    follow_up_due: bool,
    now: dt.datetime,
) -> int:
    score = min(400, int(max(balance, Decimal(0)) / BALANCE_PER_POINT))
    score += min(max(dpd, 0), 180)
    score += 150 * min(broken_promises, 3)
    if last_contact_at is None:
        score += 150
    else:
        score += 5 * min(max((now - last_contact_at).days, 0), 30)
    score += 500 if promise_due_today else 0
    score += 300 if follow_up_due else 0
    return score


def queue_for(user: Any, *, today: dt.date | None = None) -> list[QueueItem]:
    """``user``'s open cases, highest priority first."""
    today = today or today_shanghai()
    now = timezone.now()
    end_of_today = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)
    latest = ContactAttempt.objects.filter(case=OuterRef("pk")).order_by("-attempted_at", "-id")
    broken = (
        PromiseToPay.objects.filter(
            case=OuterRef("pk"),
            status=PromiseStatus.BROKEN,
            decided_as_of__gte=today - dt.timedelta(days=BROKEN_WINDOW_DAYS),
        )
        .order_by()
        .values("case")
        .annotate(n=Count("pk"))
        .values("n")
    )
    due_today = PromiseInstalment.objects.filter(
        promise__case=OuterRef("pk"),
        promise__status=PromiseStatus.PENDING,
        status=PromiseStatus.PENDING,
        due_on=today,
    )
    cases = (
        Case.objects.filter(assignee=user, status=CaseStatus.OPEN)
        .select_related("client", "debtor")
        .annotate(
            last_contact_at=Subquery(latest.values("attempted_at")[:1]),
            follow_up_at=Subquery(latest.values("next_follow_up_at")[:1]),
            broken_recent=Subquery(broken),
            promise_today=Exists(due_today),
        )
    )
    items = []
    for case in cases:
        follow_up = getattr(case, "follow_up_at", None)
        last = getattr(case, "last_contact_at", None)
        broken_n = int(getattr(case, "broken_recent", None) or 0)
        promise_today = bool(getattr(case, "promise_today", False))
        items.append(
            QueueItem(
                case=case,
                priority=priority_score(
                    balance=case.balance,
                    dpd=case.dpd,
                    broken_promises=broken_n,
                    last_contact_at=last,
                    promise_due_today=promise_today,
                    follow_up_due=follow_up is not None and follow_up < end_of_today,
                    now=now,
                ),
                last_contact_at=last,
                follow_up_at=follow_up,
                promise_due_today=promise_today,
                broken_promises=broken_n,
            )
        )
    items.sort(key=lambda i: (-i.priority, -i.case.balance, i.case.pk))
    return items


@dataclass(frozen=True)
class QueueCounts:
    cases: int
    promises_due_today: int
    call_backs_due: int
    paused: int


def queue_counts(user: Any, items: list[QueueItem], *, today: dt.date | None = None) -> QueueCounts:
    today = today or today_shanghai()
    end_of_today = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)
    return QueueCounts(
        cases=len(items),
        promises_due_today=sum(1 for i in items if i.promise_due_today),
        call_backs_due=sum(
            1 for i in items if i.follow_up_at is not None and i.follow_up_at < end_of_today
        ),
        paused=Case.objects.filter(assignee=user, status=CaseStatus.PAUSED).count(),
    )
