"""The demo's field-visit day: two field teams of two visitors led by the demo team lead,
starting from an office on People's Square in Shanghai, and one visit issue of the
Shanghai visit-stage cases (topped up by escalating a few overdue Shanghai cases to a
visit, as a collector would), issued by the risk manager, checked by the lead and
allocated, so that `cuishou plan-visits --date <tomorrow>` and the desk pages have
something real to work on. Built through the services, so every step is audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Exists, OuterRef

from cuishou.accounts.models import User
from cuishou.audit.services import audit_record, model_snapshot
from cuishou.cases.choices import Stage
from cuishou.cases.closure import escalate_locked
from cuishou.cases.models import Case
from cuishou.portfolio.models import Address
from cuishou.visits.allocation import visit_cases_allocate
from cuishou.visits.issuing import IssueItem, visit_issue_confirm, visit_issue_create
from cuishou.visits.models import FieldTeam

CITY = "上海市"
OFFICE = ("上海市黄浦区西藏中路18号 (外访部)", Decimal("31.231500"), Decimal("121.474200"))
TEAMS = (("外访一组", ("visitor1", "visitor2")), ("外访二组", ("visitor3", "visitor4")))
VISIT_CASES = 12


def _teams(admin: User, users: dict[str, User]) -> list[FieldTeam]:
    teams = []
    for name, members in TEAMS:
        team = FieldTeam.objects.create(
            name=name,
            lead=users["lead"],
            city=CITY,
            base=OFFICE[0],
            base_lat=OFFICE[1],
            base_lon=OFFICE[2],
        )
        team.members.set([users[m] for m in members])
        audit_record(
            actor=admin,
            action="visit.team_create",
            target=team,
            summary=f"{name}: {', '.join(members)}",
            after={
                **model_snapshot(team, ["name", "lead_id", "city", "base", "base_lat", "base_lon"]),
                "members": list(members),
            },
        )
        teams.append(team)
    return teams


def _shanghai_cases(stages: list[str]) -> list[Case]:
    in_city = Address.objects.filter(
        debtor_id=OuterRef("debtor_id"), city=CITY, lat__isnull=False, kind="residence"
    )
    return list(
        Case.objects.filter(status="open", stage__in=stages, balance__gt=0)
        .annotate(here=Exists(in_city))
        .filter(here=True)
        .select_related("assignee")
        .order_by("-balance", "pk")
    )


def demo_visits(*, admin: User, users: dict[str, User], today: dt.date) -> str:
    """Teams, an issue confirmed and allocated for tomorrow; the issue's number ("" when
    the portfolio has no Shanghai case to visit)."""
    _teams(admin, users)
    cases = _shanghai_cases([Stage.VISIT])[:VISIT_CASES]
    if len(cases) < VISIT_CASES:
        for case in _shanghai_cases([Stage.PHONE, Stage.WRITTEN])[: VISIT_CASES - len(cases)]:
            escalate_locked(
                actor=case.assignee or admin,
                case=case,
                stage=Stage.VISIT,
                reason="演示：多次电话未果，申请外访 (demo: calls failed, a visit is asked for)",
            )
            cases.append(case)
    if not cases:
        return ""
    issue = visit_issue_create(
        actor=users["risk"],
        team_lead=users["lead"],
        items=[IssueItem(case=c) for c in cases],
        note="演示批次 (demo)",
    )
    visit_issue_confirm(
        actor=users["lead"],
        issue=issue,
        counted=issue.declared_count,
        counted_amount=issue.declared_amount,
    )
    visit_cases_allocate(actor=users["lead"], issue=issue, day=today + dt.timedelta(days=1))
    return issue.number
