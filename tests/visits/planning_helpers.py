"""Steps the planning tests share: issue the world's cases, confirm, allocate."""

from __future__ import annotations

import datetime as dt

from cuishou.core.timeutil import today_shanghai
from cuishou.visits.allocation import visit_cases_allocate
from cuishou.visits.issuing import IssueItem, visit_issue_confirm, visit_issue_create
from cuishou.visits.models import VisitIssue


def next_weekday(after: dt.date | None = None) -> dt.date:
    """The first Monday–Friday after ``after`` (default: today in Shanghai)."""
    day = (after or today_shanghai()) + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def next_saturday() -> dt.date:
    day = today_shanghai() + dt.timedelta(days=1)
    while day.weekday() != 5:
        day += dt.timedelta(days=1)
    return day


def confirmed_issue(world, cases=None) -> VisitIssue:
    cases = world.cases if cases is None else cases
    issue = visit_issue_create(
        actor=world.risk, team_lead=world.lead, items=[IssueItem(case=c) for c in cases]
    )
    visit_issue_confirm(
        actor=world.lead,
        issue=issue,
        counted=issue.declared_count,
        counted_amount=issue.declared_amount,
    )
    issue.refresh_from_db()
    return issue


def allocated(world, day: dt.date | None = None) -> VisitIssue:
    issue = confirmed_issue(world)
    visit_cases_allocate(actor=world.lead, issue=issue, day=day or next_weekday())
    return issue
