"""The case page's query count does not grow with the size of the file."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuishou.audit.services import audit_record
from tests.factories import (
    AddressFactory,
    CaseFactory,
    ContactPointFactory,
    InstallmentFactory,
    LoanFactory,
    RelatedPersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _queries(client, case) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:case-detail", args=[case.pk]))
    assert response.status_code == 200
    return len(captured)


def _grow(case, loans: int, periods: int, people: int) -> None:  # type: ignore[no-untyped-def]
    for n in range(loans):
        loan = LoanFactory(client=case.client, debtor=case.debtor)
        for seq in range(1, periods + 1):
            InstallmentFactory(loan=loan, seq=seq, due_on=dt.date(2026, seq % 12 + 1, 10))
        audit_record(actor="test", action="loan.update", target=loan, summary=f"loan {n}")
    for _n in range(people):
        person = RelatedPersonFactory(debtor=case.debtor)
        ContactPointFactory(debtor=case.debtor, related_person=person)
        AddressFactory(debtor=case.debtor)
    audit_record(actor="test", action="case.assign", target=case, case_id=case.pk)


def test_a_big_case_file_takes_as_many_queries_as_a_small_one(client):
    risk = UserFactory(username="risk", role="risk_manager")
    client.force_login(risk)
    small, big = CaseFactory(), CaseFactory()
    _grow(small, loans=1, periods=1, people=1)
    _grow(big, loans=4, periods=12, people=6)
    assert _queries(client, big) == _queries(client, small)
