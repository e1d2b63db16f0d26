"""Issuing visit cases to a team lead with the phone records, and the lead's check of
the count and the amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import ContactAttempt, VisitRequest
from cuishou.core.timeutil import today_shanghai
from cuishou.visits.choices import IssueStatus, VisitCaseStatus, VisitPurpose
from cuishou.visits.issuing import IssueItem, visit_issue_confirm, visit_issue_create
from cuishou.visits.models import VisitCase
from tests.factories import CaseFactory


def issue_all(world, **kwargs):
    return visit_issue_create(
        actor=world.risk,
        team_lead=world.lead,
        items=[IssueItem(case=c) for c in world.cases],
        **kwargs,
    )


def test_the_risk_manager_issues_numbered_cases_with_their_phone_records(world):
    case = world.cases[0]
    ContactAttempt.objects.create(
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        notes="says he will pay next week",
        attempted_at=timezone.now() - dt.timedelta(days=2),
    )
    request = VisitRequest.objects.create(case=case, reason="no payment", created_at=timezone.now())

    issue = issue_all(world)

    assert issue.number.startswith("VI-") and issue.status == IssueStatus.ISSUED
    assert issue.declared_count == 4
    assert issue.declared_amount == Decimal("200000.00")
    vc = issue.cases.get(case=case)
    assert vc.amount == case.balance and vc.status == VisitCaseStatus.ISSUED
    assert vc.visit_request == request
    assert vc.phone_records[0]["outcome"] == "rpc"
    assert vc.phone_records[0]["notes"] == "says he will pay next week"
    request.refresh_from_db()
    assert request.status == "done"
    assert AuditEvent.objects.filter(action="visit.case_issue").count() == 4
    # A second issue numbers on.
    other = CaseFactory(client=world.bank, stage="visit")
    second = visit_issue_create(
        actor=world.risk, team_lead=world.lead, items=[IssueItem(case=other)]
    )
    assert second.number > issue.number


def test_a_case_open_in_another_visit_case_is_refused_and_nothing_is_written(world):
    issue_all(world)
    fresh = CaseFactory(client=world.bank, stage="visit")

    with pytest.raises(ValidationError, match=f"case {world.cases[1].pk} is already open"):
        visit_issue_create(
            actor=world.risk,
            team_lead=world.lead,
            items=[IssueItem(case=fresh), IssueItem(case=world.cases[1])],
        )
    assert not VisitCase.objects.filter(case=fresh).exists()


def test_a_phone_stage_case_needs_a_visit_request_unless_it_is_a_fraud_check(world):
    phone_case = CaseFactory(client=world.bank, stage="phone")
    with pytest.raises(ValidationError, match="not at the visit stage"):
        visit_issue_create(
            actor=world.risk, team_lead=world.lead, items=[IssueItem(case=phone_case)]
        )

    issue = visit_issue_create(
        actor=world.risk,
        team_lead=world.lead,
        items=[
            IssueItem(
                case=phone_case,
                purpose=VisitPurpose.INVESTIGATE,
                due_by=today_shanghai() + dt.timedelta(days=3),
            )
        ],
    )
    assert issue.cases.get().purpose == VisitPurpose.INVESTIGATE


def test_only_the_risk_department_issues_and_only_to_a_team_lead(world):
    with pytest.raises(PermissionDenied):
        visit_issue_create(
            actor=world.lead, team_lead=world.lead, items=[IssueItem(case=world.cases[0])]
        )
    with pytest.raises(ValidationError, match="team lead"):
        visit_issue_create(
            actor=world.risk, team_lead=world.visitors[0], items=[IssueItem(case=world.cases[0])]
        )


def test_the_lead_confirms_a_matching_count_and_the_cases_are_confirmed(world):
    issue = issue_all(world)

    visit_issue_confirm(
        actor=world.lead, issue=issue, counted=4, counted_amount="200,000.00", note="all there"
    )

    issue.refresh_from_db()
    assert issue.status == IssueStatus.CONFIRMED and issue.confirmed_by == world.lead
    assert set(issue.cases.values_list("status", flat=True)) == {VisitCaseStatus.CONFIRMED}


def test_a_mismatch_is_flagged_and_the_cases_wait_for_a_recount(world):
    issue = issue_all(world)

    visit_issue_confirm(actor=world.lead, issue=issue, counted=3, counted_amount="180000")

    issue.refresh_from_db()
    assert issue.status == IssueStatus.MISMATCH and issue.counted == 3
    assert set(issue.cases.values_list("status", flat=True)) == {VisitCaseStatus.ISSUED}
    assert AuditEvent.objects.filter(action="visit.issue_mismatch").exists()

    visit_issue_confirm(actor=world.lead, issue=issue, counted=4, counted_amount="200000")
    issue.refresh_from_db()
    assert issue.status == IssueStatus.CONFIRMED


def test_only_the_lead_it_was_issued_to_confirms_and_bad_amounts_are_named(world):
    issue = issue_all(world)
    with pytest.raises(PermissionDenied):
        visit_issue_confirm(actor=world.risk, issue=issue, counted=4, counted_amount="200000")
    with pytest.raises(ValidationError, match="counted_amount"):
        visit_issue_confirm(actor=world.lead, issue=issue, counted=4, counted_amount="lots")
    issue.refresh_from_db()
    assert issue.status == IssueStatus.ISSUED
