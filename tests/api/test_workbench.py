"""The workbench through the API: the queue, logging a contact with a promise, a blocked
contact, and the same scope as the pages."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from cuishou.cases.models import ContactAttempt
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from tests.api.client import logged_in
from tests.factories import CaseFactory, ClientFactory, ContactPointFactory, UserFactory

pytestmark = pytest.mark.django_db


def _post(c: Client, url: str, body: dict) -> object:  # type: ignore[type-arg]
    return c.post(url, json.dumps(body, default=str), content_type="application/json")


def test_a_collector_logs_a_promise_and_sees_it_in_the_queue() -> None:
    li = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=li, balance=Decimal("6000.00"))
    phone = ContactPointFactory(debtor=case.debtor)
    due = today_shanghai()
    c = logged_in(li)
    response = _post(
        c,
        f"/api/workbench/cases/{case.pk}/contacts",
        {
            "channel": "call",
            "party": "debtor",
            "outcome": "ptp",
            "contact_point_id": phone.pk,
            "notes": "今天还",
            "promise": [{"due_on": due.isoformat(), "amount": "800.00"}],
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "ptp"
    promises = c.get(f"/api/workbench/cases/{case.pk}/promises").json()
    assert [(p["amount"], p["status"]) for p in promises] == [("800.00", "pending")]
    queue = c.get("/api/workbench/queue").json()
    assert [(q["case_id"], q["promise_due_today"]) for q in queue] == [(case.pk, True)]


def test_bad_input_is_422_naming_the_field_and_a_paused_case_is_409_with_the_rule() -> None:
    li = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=li)
    phone = ContactPointFactory(debtor=case.debtor)
    c = logged_in(li)
    body = {
        "channel": "call",
        "party": "debtor",
        "outcome": "no_answer",
        "contact_point_id": phone.pk,
    }
    response = _post(c, f"/api/workbench/cases/{case.pk}/contacts", body)
    assert response.status_code == 422 and "party" in response.json()["detail"]
    case.status = "paused"
    case.save()
    body.update(outcome="rpc")
    response = _post(c, f"/api/workbench/cases/{case.pk}/contacts", body)
    assert response.status_code == 409
    assert response.json()["rules"] == ["house.dispute_pause"]


def test_the_api_keeps_the_pages_scope() -> None:
    li = UserFactory(username="li", role="collector")
    wang = UserFactory(username="wang", role="collector")
    theirs = CaseFactory(assignee=wang)
    client_user = UserFactory(username="bank", role="client", client=ClientFactory(code="BK"))
    for user, expected in ((li, 404), (client_user, 404)):
        response = _post(
            logged_in(user),
            f"/api/workbench/cases/{theirs.pk}/contacts",
            {"channel": "letter", "party": "nobody", "outcome": "no_answer"},
        )
        assert response.status_code == expected
    # a client user sees its own client's cases but does not contact debtors
    own = CaseFactory(client=client_user.client)
    response = _post(
        logged_in(client_user),
        f"/api/workbench/cases/{own.pk}/contacts",
        {"channel": "letter", "party": "nobody", "outcome": "no_answer"},
    )
    assert response.status_code == 403
    assert logged_in(li).get(f"/api/workbench/cases/{theirs.pk}/contacts").status_code == 404


def test_a_number_from_another_file_is_refused_naming_the_field() -> None:
    li = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=li)
    elsewhere = ContactPointFactory()  # another debtor's number
    response = _post(
        logged_in(li),
        f"/api/workbench/cases/{case.pk}/contacts",
        {
            "channel": "call",
            "party": "nobody",
            "outcome": "no_answer",
            "contact_point_id": elsewhere.pk,
        },
    )
    assert response.status_code == 422
    assert "contact_point" in response.json()["detail"]
    assert not case.contact_attempts.exists()


def test_the_api_goes_through_the_compliance_engine_quiet_hours_and_language() -> None:
    li = UserFactory(username="li", role="collector")
    case = CaseFactory(assignee=li)
    phone = ContactPointFactory(debtor=case.debtor)
    c = logged_in(li)
    body = {"channel": "call", "party": "debtor", "outcome": "rpc", "contact_point_id": phone.pk}
    late = dt.datetime.combine(today_shanghai(), dt.time(22, 30), tzinfo=SHANGHAI)
    with time_machine.travel(late, tick=False):
        response = _post(c, f"/api/workbench/cases/{case.pk}/contacts", body)
    assert response.status_code == 409 and response.json()["rules"] == ["cn.quiet_hours"]
    body["notes"] = "告诉他不还钱就让你全家不得安宁"
    response = _post(c, f"/api/workbench/cases/{case.pk}/contacts", body)
    assert response.status_code == 409 and response.json()["rules"] == ["cn.prohibited_language"]
    assert not ContactAttempt.objects.filter(case=case).exists()
