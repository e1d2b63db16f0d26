"""The case page: agree a plan, ask for a settlement, see it wait for the right role;
the approver decides it on the settlements page; a receipt is made and downloaded."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.urls import reverse

from cuishou.accounts.models import Team
from cuishou.cases.models import Case, Receipt, RepaymentPlan, Settlement
from cuishou.core.timeutil import today_shanghai
from cuishou.engine.batch import batch_run
from cuishou.payments.services import payment_post
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = today_shanghai()
DAY = dt.timedelta(days=1)


@pytest.fixture
def setup():  # type: ignore[no-untyped-def]
    lead = UserFactory(role="team_lead")
    collector = UserFactory(role="collector")
    collector.team = Team.objects.create(name="Team P", lead=lead)
    collector.save(update_fields=["team"])
    loan = LoanFactory(
        client=ClientFactory(), debtor=DebtorFactory(name="李四"), disbursed_on=TODAY - 200 * DAY
    )
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=TODAY - 40 * DAY,
        principal_due=Decimal("10000.00"),
        interest_due=Decimal("500.00"),
    )
    batch_run(as_of=TODAY - DAY)
    case = Case.objects.get(debtor=loan.debtor)
    Case.objects.filter(pk=case.pk).update(assignee=collector)
    case.refresh_from_db()
    return collector, lead, loan, case


def test_a_collector_agrees_a_plan_on_the_case_page(client, setup) -> None:  # type: ignore[no-untyped-def]
    collector, _lead, _loan, case = setup
    client.force_login(collector)
    page = client.get(reverse("web:case-detail", args=[case.pk]))
    assert 'id="plans"' in page.content.decode()
    amount = case.overdue_amount + case.penalty
    first = (amount / 2).quantize(Decimal("0.01"))
    lines = (
        f"{(TODAY + 5 * DAY).isoformat()} {first}\n"
        f"{(TODAY + 20 * DAY).isoformat()} {amount - first}"
    )

    response = client.post(
        reverse("web:plan-new", args=[case.pk]),
        {"covers": "overdue", "installments": lines, "consent_note": "agreed on the phone"},
        follow=True,
    )

    plan = RepaymentPlan.objects.get(case=case)
    assert plan.status == "active" and plan.installments.count() == 2
    assert f'data-plan="{plan.pk}"' in response.content.decode()


def test_a_plan_that_does_not_add_up_says_so(client, setup) -> None:  # type: ignore[no-untyped-def]
    collector, _lead, _loan, case = setup
    client.force_login(collector)
    response = client.post(
        reverse("web:plan-new", args=[case.pk]),
        {"installments": f"{TODAY.isoformat()} 1.00", "consent_note": "ok"},
        follow=True,
    )
    errors = [m for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1 and "installments" in str(errors[0])
    assert not RepaymentPlan.objects.exists()


def test_a_settlement_is_asked_on_the_case_page_and_decided_by_the_lead(client, setup) -> None:  # type: ignore[no-untyped-def]
    collector, lead, _loan, case = setup
    client.force_login(collector)
    client.post(
        reverse("web:settlement-new", args=[case.pk]),
        {"principal": "500.00", "deadline": TODAY.isoformat(), "reason": "lump sum"},
    )
    settlement = Settlement.objects.get(case=case)
    assert settlement.approver_role == "team_lead"
    page = client.get(reverse("web:case-detail", args=[case.pk])).content.decode()
    assert f'data-settlement="{settlement.pk}"' in page

    client.force_login(lead)
    listing = client.get(reverse("web:settlement-list")).content.decode()
    assert f'data-settlement="{settlement.pk}"' in listing
    client.post(reverse("web:settlement-decide", args=[settlement.pk]), {"decision": "approve"})
    settlement.refresh_from_db()
    assert settlement.status == "approved" and settlement.decided_by == lead


def test_a_receipt_is_made_from_the_case_page_and_downloaded(client, setup) -> None:  # type: ignore[no-untyped-def]
    collector, _lead, loan, _case = setup
    payment = payment_post(actor=collector, loan=loan, amount=Decimal("200.00"), value_date=TODAY)
    client.force_login(collector)
    response = client.post(reverse("web:receipt-new", args=[payment.pk]))
    receipt = Receipt.objects.get(payment=payment)
    assert response.status_code == 302 and response.url == reverse(
        "web:receipt-download", args=[receipt.pk]
    )
    download = client.get(response.url)
    assert download["Content-Type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == receipt.sha256
    # Somebody outside the case's scope gets nothing.
    client.force_login(UserFactory(role="collector"))
    assert client.get(reverse("web:receipt-download", args=[receipt.pk])).status_code == 404
