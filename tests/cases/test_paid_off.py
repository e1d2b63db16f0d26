"""A case closes by itself when the debtor owes nothing, and reopens when that payment
bounces; a case that still owes is only cured."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, CaseArchive
from cuishou.engine.batch import batch_run
from cuishou.engine.models import CaseSnapshot
from cuishou.engine.services import snapshots_rewrite
from cuishou.payments.services import payment_post, payment_reverse
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = dt.date.fromisoformat


def loan_due(*dues: str):  # type: ignore[no-untyped-def]
    """A loan with one 1,000.00 + 50.00 installment per due date, all unpaid."""
    loan = LoanFactory(client=ClientFactory(), debtor=DebtorFactory(), disbursed_on=D("2026-05-01"))
    for seq, due in enumerate(dues, start=1):
        InstallmentFactory(
            loan=loan,
            seq=seq,
            due_on=D(due),
            principal_due=Decimal("1000.00"),
            interest_due=Decimal("50.00"),
        )
    return loan


def test_paying_everything_closes_the_case_as_paid_in_full_with_an_archive() -> None:
    loan = loan_due("2026-10-10")
    batch_run(as_of=D("2026-11-10"))
    case = Case.objects.get(debtor=loan.debtor)
    assert case.status == "open"

    payment_post(
        actor=UserFactory(), loan=loan, amount=Decimal("1050.00"), value_date=D("2026-11-11")
    )
    run = batch_run(as_of=D("2026-11-11"))

    case.refresh_from_db()
    assert (case.status, case.closure, case.closed_on) == (
        "closed",
        "paid_in_full",
        D("2026-11-11"),
    )
    assert case.balance == Decimal("0") and case.status_reason == "paid in full as of 2026-11-11"
    assert run.counts["cases_paid_off"] == 1 and run.counts["cases_cured"] == 0
    archive = CaseArchive.objects.get(case=case)
    assert archive.closure == "paid_in_full" and len(archive.sha256) == 64
    event = AuditEvent.objects.get(action="case.close", case_id=case.pk)
    assert event.actor_label == "engine"
    assert event.after["archive_sha256"] == archive.sha256
    # Over: no snapshot row from the day it closed, and the next night leaves it alone.
    assert not CaseSnapshot.objects.filter(case=case, as_of=D("2026-11-11")).exists()
    again = batch_run(as_of=D("2026-11-12"))
    assert again.counts["cases_paid_off"] == 0
    assert CaseArchive.objects.filter(case=case).count() == 1
    # History rewritten later still has the day before it closed.
    snapshots_rewrite(day=D("2026-11-10"))
    assert CaseSnapshot.objects.get(case=case, as_of=D("2026-11-10")).dpd == 31


def test_a_bounced_payment_reopens_the_paid_off_case() -> None:
    loan = loan_due("2026-10-10")
    batch_run(as_of=D("2026-11-10"))
    payment = payment_post(
        actor=UserFactory(), loan=loan, amount=Decimal("1050.00"), value_date=D("2026-11-11")
    )
    batch_run(as_of=D("2026-11-11"))

    payment_reverse(actor=UserFactory(), payment=payment, reason="退票")
    run = batch_run(as_of=D("2026-11-13"))

    case = Case.objects.get(debtor=loan.debtor)
    assert (case.status, case.closure, case.closed_on) == ("open", "", None)
    assert (case.dpd, case.bucket, case.balance) == (34, "M2", Decimal("1050.00"))
    assert run.counts["cases_reopened"] == 1
    reopen = AuditEvent.objects.get(action="case.reopen", case_id=case.pk)
    assert reopen.before == {"status": "closed", "closure": "paid_in_full"}
    assert CaseSnapshot.objects.filter(case=case, as_of=D("2026-11-13")).exists()


def test_paying_what_is_overdue_but_not_the_rest_cures_the_case() -> None:
    loan = loan_due("2026-10-10", "2026-12-10")
    batch_run(as_of=D("2026-11-10"))
    payment_post(
        actor=UserFactory(), loan=loan, amount=Decimal("1050.00"), value_date=D("2026-11-11")
    )
    run = batch_run(as_of=D("2026-11-11"))

    case = Case.objects.get(debtor=loan.debtor)
    assert (case.status, case.closure, case.balance) == ("cured", "", Decimal("1000.00"))
    assert run.counts["cases_cured"] == 1 and run.counts["cases_paid_off"] == 0
    assert not CaseArchive.objects.filter(case=case).exists()


def test_a_settled_case_stays_closed_when_the_debtor_is_overdue() -> None:
    loan = loan_due("2026-10-10")
    batch_run(as_of=D("2026-11-10"))
    Case.objects.filter(debtor=loan.debtor).update(
        status="closed", closure="settled", closed_on=D("2026-11-10")
    )

    run = batch_run(as_of=D("2026-11-12"))

    case = Case.objects.get(debtor=loan.debtor)
    assert (case.status, case.closure) == ("closed", "settled")
    assert run.counts["cases_reopened"] == 0 and run.counts["cases_opened"] == 0
