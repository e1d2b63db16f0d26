"""The desk pages: issuing, the lead's check and allocation, the plan of a day with the
drawing and stops moved by hand, the risk manager's approval; who may see what."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuishou.visits.choices import IssueStatus, RouteStatus, VisitCaseStatus
from cuishou.visits.models import Route, VisitCase, VisitIssue
from cuishou.visits.planning import route_submit, visits_plan
from tests.visits.planning_helpers import allocated, next_weekday


def browser(user) -> Browser:
    b = Browser(headers={"accept-language": "en"})
    b.force_login(user)
    return b


def test_the_risk_manager_issues_cases_from_the_page(world):
    b = browser(world.risk)
    page = b.get(reverse("visits:desk-issue-new"))
    assert page.status_code == 200
    for case in world.cases:
        assert f'data-case="{case.pk}"' in page.content.decode()

    response = b.post(
        reverse("visits:desk-issue-new"),
        {
            "team_lead": world.lead.pk,
            "case": [world.cases[0].pk, world.cases[1].pk],
            f"purpose_{world.cases[1].pk}": "evidence",
        },
    )

    issue = VisitIssue.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "visits:desk-issue", args=[issue.pk]
    )
    assert issue.declared_count == 2
    assert VisitCase.objects.get(case=world.cases[1]).purpose == "evidence"
    listing = b.get(reverse("visits:desk-issues")).content.decode()
    assert issue.number in listing


def test_issuing_without_a_lead_says_why(world):
    response = browser(world.risk).post(
        reverse("visits:desk-issue-new"), {"case": [world.cases[0].pk]}
    )
    assert response.status_code == 400
    assert "team lead" in response.content.decode()
    assert not VisitIssue.objects.exists()


def test_the_lead_checks_and_a_mismatch_shows_on_the_risk_managers_list(world):
    from cuishou.visits.issuing import IssueItem, visit_issue_create

    issue = visit_issue_create(
        actor=world.risk, team_lead=world.lead, items=[IssueItem(case=c) for c in world.cases]
    )
    lead = browser(world.lead)
    lead.post(
        reverse("visits:desk-issue-confirm", args=[issue.pk]),
        {"counted": "3", "counted_amount": "200000"},
    )
    issue.refresh_from_db()
    assert issue.status == IssueStatus.MISMATCH
    listing = browser(world.risk).get(reverse("visits:desk-issues")).content.decode()
    assert 'data-status="mismatch"' in listing and "does not match" in listing

    lead.post(
        reverse("visits:desk-issue-confirm", args=[issue.pk]),
        {"counted": "4", "counted_amount": "200,000.00"},
    )
    page = lead.get(reverse("visits:desk-issue", args=[issue.pk])).content.decode()
    assert "Allocate to the teams" in page
    lead.post(
        reverse("visits:desk-issue-allocate", args=[issue.pk]),
        {"day": next_weekday().isoformat()},
    )
    assert VisitCase.objects.filter(status=VisitCaseStatus.ALLOCATED).count() == 4


def test_the_plan_page_shows_routes_drawings_and_moves_a_stop(world):
    day = next_weekday()
    allocated(world, day)
    lead = browser(world.lead)

    lead.post(reverse("visits:desk-plan-run"), {"day": day.isoformat()})
    page = lead.get(reverse("visits:desk-plan"), {"day": day.isoformat()}).content.decode()

    assert page.count('class="route-map"') == 2
    assert page.count('<g class="base">') == 2
    assert page.count('<g class="stop"') == 4
    for case in world.cases:
        assert case.debtor.name in page
    route = Route.objects.filter(day=day).order_by("team__name").first()
    second = route.stops.get(seq=2)
    lead.post(reverse("visits:desk-stop-move", args=[route.pk, second.pk]), {"direction": "up"})
    second.refresh_from_db()
    assert second.seq == 1
    lead.post(reverse("visits:desk-route-submit", args=[route.pk]))
    route.refresh_from_db()
    assert route.status == RouteStatus.SUBMITTED


def test_the_risk_manager_approves_and_rejects_with_a_reason(world):
    day = next_weekday()
    allocated(world, day)
    visits_plan(actor=world.lead, day=day, seconds=1)
    first, second = Route.objects.filter(day=day).order_by("team__name")
    route_submit(actor=world.lead, route=first)
    route_submit(actor=world.lead, route=second)
    risk = browser(world.risk)

    page = risk.get(reverse("visits:desk-approvals")).content.decode()
    assert page.count('class="route-map"') == 2
    risk.post(reverse("visits:desk-route-decide", args=[first.pk]), {"decision": "approve"})
    risk.post(reverse("visits:desk-route-decide", args=[second.pk]), {"decision": "reject"})
    second.refresh_from_db()
    assert second.status == RouteStatus.SUBMITTED  # no reason: refused
    risk.post(
        reverse("visits:desk-route-decide", args=[second.pk]),
        {"decision": "reject", "reason": "stop 2 is after dark"},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == RouteStatus.APPROVED
    assert (second.status, second.decision_note) == (RouteStatus.REJECTED, "stop 2 is after dark")
    lead_page = browser(world.lead).get(reverse("visits:desk-plan"), {"day": day.isoformat()})
    assert "stop 2 is after dark" in lead_page.content.decode()


def test_the_lead_cannot_approve(world):
    day = next_weekday()
    allocated(world, day)
    visits_plan(actor=world.lead, day=day, seconds=1)
    route = Route.objects.filter(day=day).first()
    route_submit(actor=world.lead, route=route)
    lead = browser(world.lead)
    assert lead.get(reverse("visits:desk-approvals")).status_code == 403
    lead.post(reverse("visits:desk-route-decide", args=[route.pk]), {"decision": "approve"})
    route.refresh_from_db()
    assert route.status == RouteStatus.SUBMITTED


@pytest.mark.parametrize("name", ["desk-issues", "desk-issue-new", "desk-plan", "desk-approvals"])
def test_a_visitor_gets_403_on_the_desk_pages(world, name):
    assert browser(world.visitors[0]).get(reverse(f"visits:{name}")).status_code == 403


def test_the_nav_shows_field_visits_to_the_desk_roles_only(world):
    assert "Field visits" in browser(world.lead).get(reverse("visits:desk-issues")).content.decode()
    assert "Field visits" not in browser(world.visitors[0]).get("/").content.decode()


def _queries(b: Browser, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert b.get(url, params).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_pages_take_a_fixed_number_of_queries(world):
    from cuishou.visits.issuing import IssueItem, visit_issue_create
    from tests.factories import CaseFactory

    day = next_weekday()
    allocated(world, day)
    visits_plan(actor=world.lead, day=day, seconds=1)
    first, second = Route.objects.filter(day=day).order_by("team__name")
    route_submit(actor=world.lead, route=first)
    risk = browser(world.risk)
    issues_1 = _queries(risk, reverse("visits:desk-issues"))
    approvals_1 = _queries(risk, reverse("visits:desk-approvals"))

    # More issues, more submitted routes with their stops: the same number of queries.
    for _n in range(3):
        visit_issue_create(
            actor=world.risk,
            team_lead=world.lead,
            items=[IssueItem(case=CaseFactory(client=world.bank, stage="visit"))],
        )
    route_submit(actor=world.lead, route=second)

    assert _queries(risk, reverse("visits:desk-issues")) == issues_1
    assert _queries(risk, reverse("visits:desk-approvals")) == approvals_1
    assert issues_1 <= 12 and approvals_1 <= 16


def test_a_phone_stage_case_is_added_for_an_anti_fraud_check_by_its_contract_number(world):
    from tests.factories import CaseFactory, DebtorFactory, LoanFactory, make_id_number

    debtor = DebtorFactory(name="赵欺诈", id_number=make_id_number(900))
    LoanFactory(client=world.bank, debtor=debtor, contract_no="HT-XC-001")
    suspect = CaseFactory(client=world.bank, debtor=debtor, stage="phone")
    b = browser(world.risk)
    form = {
        "team_lead": world.lead.pk,
        "case": [world.cases[0].pk],
        "other_contracts": "HT-XC-001\nHT-NOPE-9",
        "other_purpose": "investigate",
        "other_due": "2026-12-31",
    }
    refused = b.post(reverse("visits:desk-issue-new"), form)
    assert refused.status_code == 400
    assert "No open case in your scope has the contract number HT-NOPE-9." in (
        refused.content.decode()
    )
    assert not VisitIssue.objects.exists()
    not_for_collection = b.post(
        reverse("visits:desk-issue-new"),
        {**form, "other_contracts": "HT-XC-001", "other_purpose": "collect"},
    )
    assert not_for_collection.status_code == 400 and not VisitIssue.objects.exists()

    b.post(reverse("visits:desk-issue-new"), {**form, "other_contracts": "HT-XC-001"})

    issue = VisitIssue.objects.get()
    assert issue.declared_count == 2
    added = VisitCase.objects.get(case=suspect)
    assert (added.purpose, str(added.due_by)) == ("investigate", "2026-12-31")
