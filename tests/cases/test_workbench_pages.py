"""The workbench pages: the queue, logging a contact with a promise, a blocked contact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuishou.cases.models import ContactAttempt, PromiseToPay
from cuishou.core.timeutil import today_shanghai
from tests.factories import CaseFactory, ContactPointFactory, UserFactory

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
