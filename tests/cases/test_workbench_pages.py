"""The workbench pages: the queue, logging a contact with a promise, a blocked contact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuishou.cases.models import Case, ContactAttempt, PromiseToPay
from cuishou.core.timeutil import today_shanghai
from tests.factories import CaseFactory, ContactPointFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def collector(client):  # type: ignore[no-untyped-def]
    user = UserFactory(username="li", role="collector")
    client.force_login(user)
    return user


def test_the_queue_lists_my_cases_in_priority_order_with_counts(client, collector) -> None:
    low = CaseFactory(assignee=collector, balance=Decimal("500.00"), dpd=2)
    high = CaseFactory(assignee=collector, balance=Decimal("80000.00"), dpd=90)
    CaseFactory(balance=Decimal("99999.00"))  # someone else's
    page = client.get("/queue/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.index(f"#{high.pk}") < page.index(f"#{low.pk}")
    assert 'data-count="cases">2<' in page


def test_logging_a_promise_from_the_case_page(client, collector) -> None:
    case = CaseFactory(assignee=collector, balance=Decimal("6000.00"))
    phone = ContactPointFactory(debtor=case.debtor)
    due = today_shanghai() + dt.timedelta(days=3)
    response = client.post(
        f"/cases/{case.pk}/contact/",
        {
            "channel": "call",
            "contact_point": phone.pk,
            "party": "debtor",
            "outcome": "ptp",
            "notes": "周五前还",
            "promise_amount": "1500.00",
            "promise_date": due.isoformat(),
        },
    )
    assert response.status_code == 302
    promise = PromiseToPay.objects.get(case=case)
    assert (promise.amount, promise.instalments.get().due_on) == (Decimal("1500.00"), due)
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "周五前还" in page and "1,500.00" in page


def test_a_ptp_without_an_amount_and_a_blocked_contact_say_why(client, collector) -> None:
    case = CaseFactory(assignee=collector, status="paused")
    phone = ContactPointFactory(debtor=case.debtor)
    post = {"channel": "call", "contact_point": phone.pk, "party": "debtor", "outcome": "ptp"}
    response = client.post(f"/cases/{case.pk}/contact/", post, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "A promise needs an amount and a date." in response.content.decode()
    post.update(outcome="rpc")
    response = client.post(f"/cases/{case.pk}/contact/", post, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert "collection is paused" in response.content.decode()
    assert not ContactAttempt.objects.exists()


def test_escalating_from_the_case_page_and_a_refusal_shown(client, collector) -> None:
    case = CaseFactory(assignee=collector, stage="phone")
    response = client.post(
        f"/cases/{case.pk}/action/",
        {"action": "escalate", "stage": "visit", "reason": "失联"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Stage changed." in page and "visit requested: 失联" in page
    response = client.post(
        f"/cases/{case.pk}/action/",
        {"action": "escalate", "stage": "written", "reason": "x"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "An escalation goes to a later stage" in response.content.decode()


def test_a_risk_manager_approves_a_write_off_from_the_case_page(client, collector) -> None:
    case = CaseFactory(assignee=collector, balance=Decimal("300.00"))
    client.post(
        f"/cases/{case.pk}/action/",
        {"action": "write_off", "reason": "债务人身故"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Write-off requested" in page and 'value="approve"' not in page  # not hers to approve
    risk = UserFactory(username="risk", role="risk_manager")
    client.force_login(risk)
    page = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    request_id = page.split('data-approval="', 1)[1].split('"', 1)[0]
    response = client.post(
        f"/cases/{case.pk}/action/",
        {"action": "approve", "request": request_id, "reason": "同意核销"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    page = response.content.decode()
    assert "Request approved." in page and "Closed: Written off" in page


def test_a_team_lead_previews_and_runs_allocation_for_their_team(client) -> None:
    lead = UserFactory(username="lead", role="team_lead")
    team = TeamFactory(name="电催一组", lead=lead)
    mine = UserFactory(username="mine", role="collector", team=team)
    other = UserFactory(username="other", role="collector")  # not in the lead's team
    cases = [CaseFactory(balance=Decimal("1000.00")) for _ in range(3)]
    client.force_login(lead)
    page = client.get("/allocation/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "3 open cases: allocating now would give 3 to someone" in page
    assert "mine" in page and ">other<" not in page
    response = client.post("/allocation/", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "3 cases allocated" in response.content.decode()
    assert {Case.objects.get(pk=c.pk).assignee_id for c in cases} == {mine.pk}

    # and reassigns one by hand, with a reason, from the case page
    response = client.post(
        f"/cases/{cases[0].pk}/reassign/",
        {"assignee": mine.pk, "reason": "熟悉该客户"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "Case reassigned." in response.content.decode()
    assert Case.objects.get(pk=cases[0].pk).assignment_pinned
    assert other.pk not in {Case.objects.get(pk=c.pk).assignee_id for c in cases}


def test_a_collector_cannot_open_the_allocation_page(client, collector) -> None:
    assert client.get("/allocation/").status_code == 403
