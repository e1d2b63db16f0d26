"""Settlements: routed to the role whose limit covers the discount, decided by a second
person within their limit; paid by the deadline they close the case as settled with the
rest waived, else they lapse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.accounts.models import Team
from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, CaseArchive, Settlement, SettlementLimit, WaiverLine
from cuishou.cases.settlements import (
    settlement_approver_role,
    settlement_decide,
    settlement_request,
)
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.engine.batch import batch_run
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.payments.services import payment_post, reversal_approve, reversal_request
from cuishou.portfolio.models import Loan
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


def people():  # type: ignore[no-untyped-def]
    lead = UserFactory(role="team_lead")
    team = Team.objects.create(name="Team A", lead=lead)
    collector = UserFactory(role="collector")
    collector.team = team
    collector.save(update_fields=["team"])
    return collector, lead


def open_case(collector, *, principal: str = "10000.00"):  # type: ignore[no-untyped-def]
    """A loan of one installment (``principal`` + 500.00 interest) 40 days overdue; the
    run of yesterday opens its case, assigned to ``collector``."""
    loan = LoanFactory(
        client=ClientFactory(), debtor=DebtorFactory(), disbursed_on=TODAY - 200 * DAY
    )
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=TODAY - 40 * DAY,
        principal_due=Decimal(principal),
        interest_due=Decimal("500.00"),
    )
    batch_run(as_of=TODAY - DAY)
    case = Case.objects.get(debtor=loan.debtor)
    Case.objects.filter(pk=case.pk).update(assignee=collector)
    case.refresh_from_db()
    return loan, case


def ask(collector, case, *, principal: str, penalty: Decimal | None = None):  # type: ignore[no-untyped-def]
    return settlement_request(
        actor=collector,
        case=case,
        penalty=penalty,
        principal=Decimal(principal),
        deadline=TODAY,
        reason="hardship, lump sum offered",
    )


def test_the_default_limits_route_by_percent_and_amount() -> None:
    balance = Decimal("100000.00")
    assert settlement_approver_role(discount=Decimal("5000.00"), balance=balance) == "team_lead"
    # 5,000.01 is above the team lead's amount though 5 % of the balance.
    assert settlement_approver_role(discount=Decimal("5000.01"), balance=balance) == "risk_manager"
    assert settlement_approver_role(discount=Decimal("30000.00"), balance=balance) == (
        "risk_manager"
    )
    assert settlement_approver_role(discount=Decimal("30000.01"), balance=balance) == (
        "legal_officer"
    )
    SettlementLimit.objects.filter(role="legal_officer").delete()
    assert settlement_approver_role(discount=Decimal("60000.00"), balance=balance) == ""


def test_within_the_limit_the_team_lead_approves_and_the_requester_never_does() -> None:
    collector, lead = people()
    _loan, case = open_case(collector)
    settlement = ask(collector, case, principal="500.00")  # under 10 % of ~10,500
    assert settlement.approver_role == "team_lead"
    assert settlement.settled_amount == settlement.balance - Decimal("500.00")
    with pytest.raises(PermissionDenied):
        settlement_decide(actor=collector, settlement=settlement, approve=True)

    settlement_decide(actor=lead, settlement=settlement, approve=True, note="ok")

    settlement.refresh_from_db()
    assert settlement.status == "approved" and settlement.approved_on == TODAY
    assert settlement.decided_by == lead
    assert AuditEvent.objects.filter(action="settlement.approve", case_id=case.pk).exists()


def test_above_the_limit_it_goes_to_the_next_role_up() -> None:
    collector, lead = people()
    _loan, case = open_case(collector)
    settlement = ask(collector, case, principal="2000.00")  # ~19 %: above the team lead
    assert settlement.approver_role == "risk_manager"
    with pytest.raises(PermissionDenied) as error:
        settlement_decide(actor=lead, settlement=settlement, approve=True)
    assert "decided by Risk manager (风控经理)" in str(error.value)  # the role by its name

    risk = UserFactory(role="risk_manager")
    settlement_decide(actor=risk, settlement=settlement, approve=False, note="too much")
    settlement.refresh_from_db()
    assert settlement.status == "rejected"
    assert AuditEvent.objects.filter(action="settlement.reject", case_id=case.pk).exists()


def test_a_risk_manager_never_approves_the_settlement_they_asked_for() -> None:
    collector, _lead = people()
    _loan, case = open_case(collector)
    risk = UserFactory(role="risk_manager")
    settlement = ask(risk, case, principal="500.00")
    with pytest.raises(PermissionDenied):
        settlement_decide(actor=risk, settlement=settlement, approve=True)


def test_a_discount_above_what_is_owed_is_refused_naming_the_field() -> None:
    collector, _lead = people()
    _loan, case = open_case(collector)
    with pytest.raises(ValidationError) as error:
        ask(collector, case, principal="0", penalty=case.penalty + Decimal("1.00"))
    assert "penalty" in error.value.message_dict
    assert not Settlement.objects.exists()


def test_paid_by_the_deadline_the_case_closes_as_settled_with_the_rest_waived() -> None:
    collector, lead = people()
    loan, case = open_case(collector)
    settlement = ask(collector, case, principal="500.00", penalty=case.penalty)
    settlement_decide(actor=lead, settlement=settlement, approve=True)
    payment_post(actor=collector, loan=loan, amount=settlement.settled_amount, value_date=TODAY)

    run = batch_run(as_of=TODAY)

    settlement.refresh_from_db()
    case.refresh_from_db()
    assert settlement.status == "paid" and settlement.completed_on == TODAY
    assert run.counts["settlements_paid"] == 1
    assert (case.status, case.closure, case.closed_on) == ("closed", "settled", TODAY)
    archive = CaseArchive.objects.get(case=case)
    assert archive.closure == "settled" and len(archive.sha256) == 64
    waived = sum(w.amount for w in WaiverLine.objects.filter(settlement=settlement))
    assert waived == settlement.waived_amount and waived >= Decimal("500.00")
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.balance == Decimal("0") and loan.penalty == Decimal("0")
    assert loan_figures_as_of(loan_id=loan.pk, as_of=TODAY).balance == Decimal("0")
    # History before the settlement day is unchanged: yesterday the debt was owed.
    assert loan_figures_as_of(loan_id=loan.pk, as_of=TODAY - DAY).balance == settlement.balance
    actions = set(AuditEvent.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert {"settlement.request", "settlement.approve", "settlement.paid", "case.close"} <= actions
    # The next night leaves it closed and at 0.
    batch_run(as_of=TODAY + DAY)
    case.refresh_from_db()
    assert case.status == "closed"
    assert Loan.objects.get(pk=loan.pk).balance == Decimal("0")


def test_a_partly_paid_settlement_lapses_after_the_deadline_and_collection_continues() -> None:
    collector, lead = people()
    loan, case = open_case(collector)
    settlement = ask(collector, case, principal="500.00")
    settlement_decide(actor=lead, settlement=settlement, approve=True)
    payment_post(actor=collector, loan=loan, amount=Decimal("100.00"), value_date=TODAY)
    batch_run(as_of=TODAY)
    settlement.refresh_from_db()
    assert settlement.status == "approved"

    run = batch_run(as_of=TODAY + DAY)

    settlement.refresh_from_db()
    case.refresh_from_db()
    assert settlement.status == "lapsed" and run.counts["settlements_lapsed"] == 1
    assert settlement.paid_amount == Decimal("100.00")
    assert case.status == "open" and not WaiverLine.objects.exists()
    assert AuditEvent.objects.filter(action="settlement.lapse", case_id=case.pk).exists()


def bounce(payment):  # type: ignore[no-untyped-def]
    """Reverse ``payment`` the way finance does: one asks, a second person approves."""
    asker, approver = UserFactory(role="finance"), UserFactory(role="finance")
    request = reversal_request(actor=asker, payment=payment, reason="退票 bounced transfer")
    reversal_approve(actor=approver, request=request, note="bank confirmed")


def settle(collector, lead, loan, case, *, deadline: dt.date):  # type: ignore[no-untyped-def]
    """Ask for and approve a settlement, pay its settled amount today and run the night:
    the case closes as settled. Returns the settlement and the payment."""
    settlement = settlement_request(
        actor=collector,
        case=case,
        principal=Decimal("500.00"),
        penalty=case.penalty,
        deadline=deadline,
        reason="hardship, lump sum offered",
    )
    settlement_decide(actor=lead, settlement=settlement, approve=True)
    payment = payment_post(
        actor=collector, loan=loan, amount=settlement.settled_amount, value_date=TODAY
    )
    batch_run(as_of=TODAY)
    case.refresh_from_db()
    assert (case.status, case.closure) == ("closed", "settled")
    return settlement, payment


def test_a_bounced_settlement_payment_reopens_the_case_and_undoes_the_waivers() -> None:
    collector, lead = people()
    loan, case = open_case(collector)
    owed = Loan.objects.get(pk=loan.pk).balance
    settlement, payment = settle(collector, lead, loan, case, deadline=TODAY + 5 * DAY)
    waived = list(WaiverLine.objects.filter(settlement=settlement))
    assert waived and not any(w.is_reversed for w in waived)

    bounce(payment)
    run = batch_run(as_of=TODAY + DAY)

    case.refresh_from_db()
    settlement.refresh_from_db()
    assert run.counts["settlements_unpaid"] == 1
    assert (case.status, case.closure, case.closed_on) == ("open", "", None)
    assert case.status_reason.startswith(f"settlement {settlement.pk} no longer paid")
    assert f"payment {payment.pk} reversed" in case.status_reason
    # Not paid any more, still approved: the debtor may pay again by the deadline.
    assert (settlement.status, settlement.completed_on) == ("approved", None)
    assert (settlement.paid_amount, settlement.waived_amount) == (Decimal("0"), Decimal("0"))
    assert all(w.is_reversed for w in WaiverLine.objects.filter(settlement=settlement))
    # The loan owes again all it owed before the settlement (no payment stands).
    loan = Loan.objects.get(pk=loan.pk)
    installment = loan.installments.get()
    assert (installment.principal_paid, installment.interest_paid) == (Decimal("0"), Decimal("0"))
    assert loan_figures_as_of(loan_id=loan.pk, as_of=TODAY + DAY).balance >= owed
    assert case.balance == loan.balance and case.balance >= owed
    reopen = AuditEvent.objects.get(action="case.reopen", case_id=case.pk)
    assert reopen.before == {"status": "closed", "closure": "settled"}
    assert reopen.after["settlement"] == settlement.pk
    event = AuditEvent.objects.get(action="settlement.unpaid", case_id=case.pk)
    assert event.before["status"] == "paid" and event.after["status"] == "approved"
    assert len(event.after["waivers_undone"]) == len(waived)

    # Paid again before the deadline, it settles again with new waiver lines.
    tomorrow = dt.datetime.combine(TODAY + DAY, dt.time(10), tzinfo=SHANGHAI)
    with time_machine.travel(tomorrow, tick=False):
        payment_post(
            actor=collector, loan=loan, amount=settlement.settled_amount, value_date=TODAY + DAY
        )
    batch_run(as_of=TODAY + 2 * DAY)
    case.refresh_from_db()
    settlement.refresh_from_db()
    assert (settlement.status, settlement.completed_on) == ("paid", TODAY + 2 * DAY)
    assert (case.status, case.closure) == ("closed", "settled")
    assert Loan.objects.get(pk=loan.pk).balance == Decimal("0")
    assert WaiverLine.objects.filter(settlement=settlement, is_reversed=False).count() == len(
        waived
    )


def test_a_bounce_after_the_deadline_reopens_the_case_and_the_settlement_lapses() -> None:
    collector, lead = people()
    loan, case = open_case(collector)
    settlement, payment = settle(collector, lead, loan, case, deadline=TODAY)

    bounce(payment)
    run = batch_run(as_of=TODAY + DAY)

    case.refresh_from_db()
    settlement.refresh_from_db()
    assert run.counts["settlements_unpaid"] == 1 and run.counts["settlements_lapsed"] == 1
    assert case.status == "open" and settlement.status == "lapsed"
    assert Loan.objects.get(pk=loan.pk).balance > 0


def test_a_bounce_that_leaves_the_settled_amount_paid_keeps_the_case_settled() -> None:
    collector, lead = people()
    loan, case = open_case(collector)
    settlement, _payment = settle(collector, lead, loan, case, deadline=TODAY + 5 * DAY)
    # A second transfer of the same day, more than the settled amount needed, bounces.
    extra = payment_post(actor=collector, loan=loan, amount=Decimal("100.00"), value_date=TODAY)

    bounce(extra)
    run = batch_run(as_of=TODAY + DAY)

    case.refresh_from_db()
    settlement.refresh_from_db()
    assert run.counts["settlements_unpaid"] == 0
    assert (case.status, case.closure, settlement.status) == ("closed", "settled", "paid")
    assert not WaiverLine.objects.filter(settlement=settlement, is_reversed=True).exists()
