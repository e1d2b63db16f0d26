"""Repayment plans: agreed installments that sum exactly, kept when paid on time, broken
when one is missed past the grace days (collection resumes on the ladder)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, RepaymentPlan
from cuishou.cases.plans import plan_cancel, plan_create
from cuishou.cases.queue import queue_for
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

D = dt.date.fromisoformat


def overdue_case(collector):  # type: ignore[no-untyped-def]
    """A loan of one 1,000.00 + 50.00 installment due 2026-09-01; the run of 2026-10-01
    opens its case (dpd 30, phone), assigned to ``collector``."""
    loan = LoanFactory(client=ClientFactory(), debtor=DebtorFactory(), disbursed_on=D("2026-05-01"))
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=D("2026-09-01"),
        principal_due=Decimal("1000.00"),
        interest_due=Decimal("50.00"),
    )
    batch_run(as_of=D("2026-10-01"))
    case = Case.objects.get(debtor=loan.debtor)
    Case.objects.filter(pk=case.pk).update(assignee=collector)
    case.refresh_from_db()
    return loan, case


def halves(amount: Decimal) -> tuple[Decimal, Decimal]:
    first = (amount / 2).quantize(Decimal("0.01"))
    return first, amount - first


def agree(collector, case):  # type: ignore[no-untyped-def]
    first, second = halves(case.overdue_amount + case.penalty)
    plan = plan_create(
        actor=collector,
        case=case,
        installments=[(D("2026-10-05"), first), (D("2026-10-20"), second)],
        consent_note="debtor agreed on the phone, recorded call",
        agreed_on=D("2026-10-01"),
    )
    return plan, first, second


def test_a_plan_paid_on_time_is_kept() -> None:
    collector = UserFactory(role="collector")
    loan, case = overdue_case(collector)
    plan, first, second = agree(collector, case)
    assert plan.amount == case.overdue_amount + case.penalty
    assert sum(i.amount for i in plan.installments.all()) == plan.amount

    payment_post(actor=collector, loan=loan, amount=first, value_date=D("2026-10-05"))
    payment_post(actor=collector, loan=loan, amount=second, value_date=D("2026-10-21"))
    run = batch_run(as_of=D("2026-10-22"))

    plan.refresh_from_db()
    assert plan.status == "kept" and plan.decided_as_of == D("2026-10-22")
    assert [i.status for i in plan.installments.all()] == ["paid", "paid"]
    assert run.counts["plans_kept"] == 1
    assert AuditEvent.objects.filter(action="plan.kept", case_id=case.pk).exists()


def test_a_missed_installment_breaks_the_plan_after_the_grace_and_collection_resumes() -> None:
    collector = UserFactory(role="collector")
    loan, case = overdue_case(collector)
    assert case.stage == "phone"
    plan, first, _second = agree(collector, case)

    # On the plan, the ladder (M2 → written) leaves the case where it is.
    batch_run(as_of=D("2026-10-04"))
    case.refresh_from_db()
    assert (case.bucket, case.stage) == ("M2", "phone")
    assert queue_for(collector, today=D("2026-10-04"))[0].on_plan

    payment_post(actor=collector, loan=loan, amount=first, value_date=D("2026-10-05"))
    batch_run(as_of=D("2026-10-23"))  # 3 grace days after 10-20: still running
    plan.refresh_from_db()
    assert plan.status == "active"

    run = batch_run(as_of=D("2026-10-24"))
    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == "broken" and run.counts["plans_broken"] == 1
    assert [i.status for i in plan.installments.all()] == ["paid", "missed"]
    assert case.status == "open" and case.stage == "written"
    event = AuditEvent.objects.get(action="plan.broken", case_id=case.pk)
    assert event.after["missed_installments"] == [2]
    assert not queue_for(collector, today=D("2026-10-24"))[0].on_plan


def test_the_installments_must_add_up_exactly_to_what_the_plan_covers() -> None:
    collector = UserFactory(role="collector")
    _loan, case = overdue_case(collector)
    first, second = halves(case.overdue_amount + case.penalty)
    with pytest.raises(ValidationError) as error:
        plan_create(
            actor=collector,
            case=case,
            installments=[(D("2026-10-05"), first), (D("2026-10-20"), second - Decimal("0.01"))],
            consent_note="agreed",
            agreed_on=D("2026-10-01"),
        )
    assert list(error.value.message_dict) == ["installments"]
    with pytest.raises(ValidationError):
        plan_create(
            actor=collector,
            case=case,
            installments=[(D("2026-10-05"), first + second)],
            consent_note="",
            agreed_on=D("2026-10-01"),
        )
    assert not RepaymentPlan.objects.exists()


def test_one_active_plan_a_case_and_only_working_roles_agree_one() -> None:
    collector = UserFactory(role="collector")
    _loan, case = overdue_case(collector)
    plan, _first, _second = agree(collector, case)
    with pytest.raises(ValidationError):
        agree(collector, case)
    with pytest.raises(PermissionDenied):
        plan_create(
            actor=UserFactory(role="finance"),
            case=case,
            installments=[(D("2026-10-05"), plan.amount)],
            consent_note="agreed",
            agreed_on=D("2026-10-01"),
        )
    plan_cancel(actor=collector, plan=plan, reason="debtor withdrew")
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    assert AuditEvent.objects.filter(action="plan.cancel", case_id=case.pk).exists()
    agree(collector, case)  # a new one once the old is cancelled


def test_a_strategy_escalation_point_leaves_a_case_on_a_plan_alone() -> None:
    from cuishou.cases.models import Strategy
    from cuishou.cases.strategies import strategies_escalate
    from tests.factories import CaseFactory

    bank = ClientFactory(code="PL")
    strategy = Strategy.objects.create(
        client=bank, name="两周无果外访", escalate_after_days=14, escalate_to="visit"
    )
    opened = D("2026-11-01")
    quiet = CaseFactory(client=bank, strategy=strategy, stage="phone", opened_on=opened)
    on_plan = CaseFactory(client=bank, strategy=strategy, stage="phone", opened_on=opened)
    plan = RepaymentPlan.objects.create(
        case=on_plan,
        agreed_on=D("2026-10-25"),
        amount=Decimal("100.00"),
        consent_note="agreed",
        grace_days=3,
    )

    assert strategies_escalate(as_of=D("2026-11-15")) == 1

    assert Case.objects.get(pk=quiet.pk).stage == "visit"
    assert Case.objects.get(pk=on_plan.pk).stage == "phone"
    plan.status = "cancelled"
    plan.save(update_fields=["status"])
    assert strategies_escalate(as_of=D("2026-11-15")) == 1  # off the plan: escalated
