"""The collector's queue: today's cases in priority order, promises due today, call-backs.

The priority score (higher first) is computed when the queue is read, so it is always
current (docs/workflow.md):

- balance: 1 point per 250 yuan, at most 400;
- days past due: 1 point a day, at most 180;
- broken promises in the last 90 days: 150 each, at most 3;
- time since the last contact: 5 points a day, at most 150 (never contacted: 150);
- a promise instalment due today: 500; a call-back due today or earlier: 300;
- an action of the case's strategy cadence due today or earlier (``cases.cadence``): 200.

A case on an active repayment plan ranks lower: its balance, days past due, broken
promises and cadence count nothing (the overdue amount is under an agreement); only the
time since the last contact, a call-back, and a plan installment due today (500) count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Subquery
from django.utils import timezone

from cuishou.cases.cadence import NextAction, next_actions
from cuishou.cases.choices import CaseStatus, InstallmentStatus, PlanStatus, PromiseStatus
from cuishou.cases.models import (
    Case,
    ContactAttempt,
    PlanInstallment,
    PromiseInstalment,
    PromiseToPay,
    RepaymentPlan,
)
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
    next_action: NextAction | None = None
    cadence_due: bool = False
    on_plan: bool = False


def priority_score(
    *,
    balance: Decimal,
    dpd: int,
    broken_promises: int,
    last_contact_at: dt.datetime | None,
    promise_due_today: bool,
    follow_up_due: bool,
    now: dt.datetime,
    cadence_due: bool = False,
    on_plan: bool = False,
    plan_due_today: bool = False,
) -> int:
    if on_plan:
        score = (
            150 if last_contact_at is None else 5 * min(max((now - last_contact_at).days, 0), 30)
        )
        score += 500 if plan_due_today else 0
        score += 300 if follow_up_due else 0
        return score
    score = min(400, int(max(balance, Decimal(0)) / BALANCE_PER_POINT))
    score += min(max(dpd, 0), 180)
    score += 150 * min(broken_promises, 3)
    if last_contact_at is None:
        score += 150
    else:
        score += 5 * min(max((now - last_contact_at).days, 0), 30)
    score += 500 if promise_due_today else 0
    score += 300 if follow_up_due else 0
    score += 200 if cadence_due else 0
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
    active_plan = RepaymentPlan.objects.filter(case=OuterRef("pk"), status=PlanStatus.ACTIVE)
    plan_today = PlanInstallment.objects.filter(
        plan__case=OuterRef("pk"),
        plan__status=PlanStatus.ACTIVE,
        status=InstallmentStatus.PENDING,
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
            on_plan=Exists(active_plan),
            plan_today=Exists(plan_today),
        )
    )
    rows = list(cases.select_related("strategy"))
    last_by_channel = _last_attempts([c.pk for c in rows if c.strategy_id is not None])
    items = []
    for case in rows:
        follow_up = getattr(case, "follow_up_at", None)
        last = getattr(case, "last_contact_at", None)
        broken_n = int(getattr(case, "broken_recent", None) or 0)
        promise_today = bool(getattr(case, "promise_today", False))
        planned = next_actions(
            cadence=case.strategy.cadence if case.strategy is not None else None,
            opened_on=case.opened_on,
            last_attempts=last_by_channel.get(case.pk, {}),
            follow_up_on=None
            if follow_up is None
            else timezone.localtime(follow_up, SHANGHAI).date(),
        )
        cadence_due = any(a.is_due(today) and not a.call_back for a in planned)
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
                    cadence_due=cadence_due,
                    on_plan=bool(getattr(case, "on_plan", False)),
                    plan_due_today=bool(getattr(case, "plan_today", False)),
                ),
                last_contact_at=last,
                follow_up_at=follow_up,
                promise_due_today=promise_today,
                broken_promises=broken_n,
                next_action=planned[0] if planned else None,
                cadence_due=cadence_due,
                on_plan=bool(getattr(case, "on_plan", False)),
            )
        )
    items.sort(key=lambda i: (-i.priority, -i.case.balance, i.case.pk))
    return items


def _last_attempts(case_ids: list[int]) -> dict[int, dict[str, dt.date]]:
    """case → channel → the (Shanghai) day of the latest attempt on it."""
    out: dict[int, dict[str, dt.date]] = {}
    rows = (
        ContactAttempt.objects.filter(case_id__in=case_ids)
        .order_by()
        .values_list("case_id", "channel")
        .annotate(last=Max("attempted_at"))
    )
    for case_id, channel, last in rows:
        out.setdefault(case_id, {})[channel] = timezone.localtime(last, SHANGHAI).date()
    return out


def case_next_actions(case: Case) -> list[NextAction]:
    """The case's next actions (cadence and call-back), earliest first."""
    latest = case.contact_attempts.order_by("-attempted_at", "-id").first()
    follow_up = latest.next_follow_up_at if latest is not None else None
    return next_actions(
        cadence=case.strategy.cadence if case.strategy_id is not None and case.strategy else None,
        opened_on=case.opened_on,
        last_attempts=_last_attempts([case.pk]).get(case.pk, {}),
        follow_up_on=None if follow_up is None else timezone.localtime(follow_up, SHANGHAI).date(),
    )


@dataclass(frozen=True)
class QueueCounts:
    cases: int
    promises_due_today: int
    call_backs_due: int
    paused: int
    actions_due: int = 0  # cases with a cadence action due today or earlier


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
        actions_due=sum(1 for i in items if i.cadence_due),
    )
