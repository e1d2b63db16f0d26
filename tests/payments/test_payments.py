"""Posting and reversing payments: the default waterfall worked out by hand, the
installments' paid totals, the recompute marks a backdated value date leaves, the audit
events, and the read-only admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.engine.models import RecomputeMark
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.payments.choices import PaymentStatus
from cuishou.payments.models import Payment, PaymentAllocation
from cuishou.payments.services import payment_post, payment_reverse
from cuishou.portfolio.models import Installment, Loan
from tests.factories import (
    CaseFactory,
    InstallmentFactory,
    LoanFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """Today in Asia/Shanghai is 2026-11-20 for the services and the marks."""
    monkeypatch.setattr("cuishou.payments.services.today_shanghai", lambda: TODAY)
    monkeypatch.setattr("cuishou.engine.marks.today_shanghai", lambda: TODAY)
    return TODAY


def D(text: str) -> Decimal:  # noqa: N802
    return Decimal(text)


def make_loan(*rows: tuple[str, str, str, str, str], penalty_rate: str = "0") -> Loan:
    """A loan of 6000.00 disbursed 2026-05-01 with installments (due_on, principal_due,
    interest_due, principal_paid, interest_paid), periods from 1. The product's penalty
    rate is 0 unless given (day-count basis 360, no grace days, cost cap 24 %)."""
    product = ProductFactory(penalty_annual_rate=D(penalty_rate))
    loan = LoanFactory(product=product, client=product.client)
    for seq, (due, p_due, i_due, p_paid, i_paid) in enumerate(rows, start=1):
        InstallmentFactory(
            loan=loan,
            seq=seq,
            due_on=dt.date.fromisoformat(due),
            principal_due=D(p_due),
            interest_due=D(i_due),
            principal_paid=D(p_paid),
            interest_paid=D(i_paid),
        )
    return loan


# On 2026-11-20 periods 1–3 are overdue and period 4 is not due yet; nothing paid.
FOUR = (
    ("2026-08-10", "1500.00", "75.00", "0", "0"),
    ("2026-09-10", "1500.00", "75.00", "0", "0"),
    ("2026-10-10", "1500.00", "75.00", "0", "0"),
    ("2026-12-10", "1500.00", "75.00", "0", "0"),
)


@pytest.fixture
def loan() -> Loan:
    return make_loan(*FOUR)


@pytest.fixture
def clerk():  # type: ignore[no-untyped-def]
    return UserFactory(username="finance1")


def lines(payment: Payment) -> list[tuple[str, int | None, str]]:
    """(component, period or None, amount) of each allocation line, in waterfall order."""
    return [
        (a.component, a.installment.seq if a.installment else None, f"{a.amount:.2f}")
        for a in PaymentAllocation.objects.filter(payment=payment)
        .select_related("installment")
        .order_by("id")
    ]


def paid(loan: Loan) -> list[tuple[int, str, str]]:
    """(period, principal paid, interest paid) of each installment."""
    return [
        (i.seq, f"{i.principal_paid:.2f}", f"{i.interest_paid:.2f}")
        for i in Installment.objects.filter(loan=loan).order_by("seq")
    ]


# --- the waterfall ---------------------------------------------------------------------


def test_overdue_interest_is_paid_before_any_principal_oldest_first(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("200.00"), value_date=TODAY)

    # 75 + 75 of periods 1 and 2, the 50 left to period 3's interest; no principal.
    assert lines(payment) == [
        ("interest", 1, "75.00"),
        ("interest", 2, "75.00"),
        ("interest", 3, "50.00"),
    ]
    assert paid(loan) == [
        (1, "0.00", "75.00"),
        (2, "0.00", "75.00"),
        (3, "0.00", "50.00"),
        (4, "0.00", "0.00"),
    ]


def test_overdue_principal_follows_all_overdue_interest_oldest_first(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("3000.00"), value_date=TODAY)

    # 225 interest of periods 1–3, then principal: 1500 of period 1, the 1275 left to 2.
    assert lines(payment) == [
        ("interest", 1, "75.00"),
        ("interest", 2, "75.00"),
        ("interest", 3, "75.00"),
        ("principal", 1, "1500.00"),
        ("principal", 2, "1275.00"),
    ]
    assert paid(loan) == [
        (1, "1500.00", "75.00"),
        (2, "1275.00", "75.00"),
        (3, "0.00", "75.00"),
        (4, "0.00", "0.00"),
    ]


def test_overpayment_pays_the_future_installment_then_is_held_as_credit(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("7000.00"), value_date=TODAY)

    # Overdue: 225 interest + 4500 principal = 4725; period 4 (not due yet): 75 + 1500;
    # 7000 - 4725 - 1575 = 700 held as credit.
    assert lines(payment) == [
        ("interest", 1, "75.00"),
        ("interest", 2, "75.00"),
        ("interest", 3, "75.00"),
        ("principal", 1, "1500.00"),
        ("principal", 2, "1500.00"),
        ("principal", 3, "1500.00"),
        ("interest", 4, "75.00"),
        ("principal", 4, "1500.00"),
        ("credit", None, "700.00"),
    ]
    assert paid(loan) == [(n, "1500.00", "75.00") for n in (1, 2, 3, 4)]
    total = sum(a.amount for a in PaymentAllocation.objects.filter(payment=payment))
    assert total == D("7000.00")


def test_backdated_payment_treats_the_installment_due_that_day_as_current(loan, clerk):
    # Value date 2026-09-10: only period 1 is overdue; period 2 falls due that very day,
    # so after period 1 is settled it takes interest then principal, then period 3.
    payment = payment_post(
        actor=clerk, loan=loan, amount=D("3300.00"), value_date=dt.date(2026, 9, 10)
    )

    # 75 + 1500 (period 1), 75 + 1500 (period 2), 75 + 75 (period 3): 3300.
    assert lines(payment) == [
        ("interest", 1, "75.00"),
        ("principal", 1, "1500.00"),
        ("interest", 2, "75.00"),
        ("principal", 2, "1500.00"),
        ("interest", 3, "75.00"),
        ("principal", 3, "75.00"),
    ]
    assert {a.value_date for a in PaymentAllocation.objects.filter(payment=payment)} == {
        dt.date(2026, 9, 10)
    }


def test_what_the_lenders_file_already_paid_is_not_paid_again(clerk):
    loan = make_loan(
        ("2026-08-10", "1500.00", "75.00", "1500.00", "75.00"),  # settled before import
        ("2026-09-10", "1500.00", "75.00", "1000.00", "75.00"),  # 500 principal open
        ("2026-10-10", "1500.00", "75.00", "0", "30.00"),  # 45 interest open
    )

    payment = payment_post(actor=clerk, loan=loan, amount=D("600.00"), value_date=TODAY)

    assert lines(payment) == [
        ("interest", 3, "45.00"),
        ("principal", 2, "500.00"),
        ("principal", 3, "55.00"),
    ]
    assert paid(loan) == [
        (1, "1500.00", "75.00"),
        (2, "1500.00", "75.00"),
        (3, "55.00", "75.00"),
    ]


def test_a_payment_on_a_settled_loan_is_all_credit(clerk):
    loan = make_loan(("2026-08-10", "1500.00", "75.00", "1500.00", "75.00"))

    payment = payment_post(actor=clerk, loan=loan, amount=D("10.50"), value_date=TODAY)

    assert lines(payment) == [("credit", None, "10.50")]


# Penalty 0.36 a year on basis 360 is 0.1 % a day: 1.00 a day on 1000.00 of principal.
# Due 2026-10-10, nothing paid: accrual days 10-11 … 11-20 are 41, so 41.00 as of 11-20.
PENALTY_LOAN = (("2026-10-10", "1000.00", "50.00", "0", "0"),)


def test_penalty_owed_as_of_the_value_date_is_paid_first(clerk):
    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")

    payment = payment_post(actor=clerk, loan=loan, amount=D("100.00"), value_date=TODAY)

    assert lines(payment) == [
        ("penalty", None, "41.00"),
        ("interest", 1, "50.00"),
        ("principal", 1, "9.00"),
    ]
    assert paid(loan) == [(1, "9.00", "50.00")]


def test_a_backdated_payment_pays_the_penalty_owed_on_its_value_date(clerk):
    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")

    # As of 2026-10-20: ten accrual days (10-11 … 10-20), 10.00.
    payment = payment_post(
        actor=clerk, loan=loan, amount=D("30.00"), value_date=dt.date(2026, 10, 20)
    )

    assert lines(payment) == [("penalty", None, "10.00"), ("interest", 1, "20.00")]


def test_penalty_already_paid_by_a_later_dated_payment_is_not_collected_again(clerk):
    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")
    payment_post(actor=clerk, loan=loan, amount=D("41.00"), value_date=TODAY)  # all penalty

    # Dated before it: 10.00 was owed on 2026-10-20, but the 41.00 paid since covers it.
    earlier = payment_post(
        actor=clerk, loan=loan, amount=D("30.00"), value_date=dt.date(2026, 10, 20)
    )

    assert lines(earlier) == [("interest", 1, "30.00")]


def test_a_reversed_penalty_line_is_owed_again(clerk):
    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")
    first = payment_post(actor=clerk, loan=loan, amount=D("41.00"), value_date=TODAY)
    payment_reverse(actor=clerk, payment=first, reason="bounced")

    again = payment_post(actor=clerk, loan=loan, amount=D("41.00"), value_date=TODAY)

    assert lines(again) == [("penalty", None, "41.00")]


# --- reversal --------------------------------------------------------------------------


def test_reversal_restores_the_installments_exactly_and_voids_the_lines(clerk):
    loan = make_loan(
        ("2026-08-10", "1500.00", "75.00", "200.00", "75.00"),
        ("2026-09-10", "1500.00", "75.00", "0", "10.00"),
        ("2026-12-10", "1500.00", "75.00", "0", "0"),
    )
    before = paid(loan)
    first = payment_post(actor=clerk, loan=loan, amount=D("300.00"), value_date=TODAY)
    second = payment_post(actor=clerk, loan=loan, amount=D("5000.00"), value_date=TODAY)
    after_both = paid(loan)

    payment_reverse(actor=clerk, payment=first, reason="bounced: insufficient funds")

    # The second payment's lines still count; the first payment's are taken back exactly.
    first_by_period = {
        (a.installment.seq, a.component): a.amount
        for a in PaymentAllocation.objects.filter(payment=first, installment__isnull=False)
    }
    expected = [
        (
            seq,
            f"{D(p) - first_by_period.get((seq, 'principal'), D(0)):.2f}",
            f"{D(i) - first_by_period.get((seq, 'interest'), D(0)):.2f}",
        )
        for seq, p, i in after_both
    ]
    assert paid(loan) == expected
    payment_reverse(actor=clerk, payment=second, reason="posted to the wrong loan")
    assert paid(loan) == before

    first.refresh_from_db()
    assert first.status == PaymentStatus.REVERSED
    assert first.reversed_by == clerk and first.reversed_at is not None
    assert first.reversal_reason == "bounced: insufficient funds"
    assert not PaymentAllocation.objects.filter(is_reversed=False).exists()


def test_a_payment_cannot_be_reversed_twice(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("200.00"), value_date=TODAY)
    payment_reverse(actor=clerk, payment=payment, reason="duplicate")
    after_first = paid(loan)

    with pytest.raises(ValidationError, match=rf"payment {payment.pk} was already reversed on"):
        payment_reverse(actor=clerk, payment=payment, reason="again")

    assert paid(loan) == after_first == [(n, "0.00", "0.00") for n in (1, 2, 3, 4)]
    assert AuditEvent.objects.filter(action="payment.reverse").count() == 1


def test_a_reversal_needs_a_reason(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("200.00"), value_date=TODAY)

    with pytest.raises(ValidationError, match="needs a reason"):
        payment_reverse(actor=clerk, payment=payment, reason="  ")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.POSTED


# --- refused input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "greater than 0"),
        ("-5.00", "greater than 0"),
        ("10.005", "more than 2 decimal places"),
    ],
)
def test_a_bad_amount_is_refused_and_nothing_is_posted(loan, clerk, amount, message):
    with pytest.raises(ValidationError, match=message):
        payment_post(actor=clerk, loan=loan, amount=D(amount), value_date=TODAY)
    assert not Payment.objects.exists()
    assert paid(loan) == [(n, "0.00", "0.00") for n in (1, 2, 3, 4)]


def test_a_value_date_in_the_future_is_refused(loan, clerk):
    with pytest.raises(ValidationError, match="2026-11-21 is in the future"):
        payment_post(actor=clerk, loan=loan, amount=D("100.00"), value_date=dt.date(2026, 11, 21))
    assert not Payment.objects.exists()


def test_a_value_date_before_disbursement_is_refused(loan, clerk):
    with pytest.raises(ValidationError, match="before the loan was disbursed on 2026-05-01"):
        payment_post(actor=clerk, loan=loan, amount=D("100.00"), value_date=dt.date(2026, 4, 1))
    assert not Payment.objects.exists()


# --- recompute marks -------------------------------------------------------------------


def test_a_backdated_payment_marks_the_debtors_history_from_its_value_date(loan, clerk):
    payment = payment_post(
        actor=clerk, loan=loan, amount=D("100.00"), value_date=dt.date(2026, 11, 13)
    )

    mark = RecomputeMark.objects.get()
    assert (mark.client_id, mark.debtor_id, mark.from_date) == (
        loan.client_id,
        loan.debtor_id,
        dt.date(2026, 11, 13),
    )
    assert f"payment {payment.pk}" in mark.reason


def test_a_payment_dated_today_needs_no_history_rewrite(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("100.00"), value_date=TODAY)
    assert not RecomputeMark.objects.exists()

    payment_reverse(actor=clerk, payment=payment, reason="duplicate")
    assert not RecomputeMark.objects.exists()


def test_reversing_a_backdated_payment_marks_from_its_value_date(loan, clerk):
    payment = payment_post(
        actor=clerk, loan=loan, amount=D("100.00"), value_date=dt.date(2026, 10, 1)
    )
    payment_reverse(actor=clerk, payment=payment, reason="bounced")

    assert list(RecomputeMark.objects.values_list("from_date", flat=True)) == [
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 1),
    ]


def test_the_engine_sees_a_backdated_payment_from_its_value_date_on(clerk):
    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")
    payment_post(actor=clerk, loan=loan, amount=D("1091.00"), value_date=dt.date(2026, 11, 13))

    before = loan_figures_as_of(loan_id=loan.pk, as_of=dt.date(2026, 11, 12))
    on = loan_figures_as_of(loan_id=loan.pk, as_of=dt.date(2026, 11, 13))

    # The day before: 1000.00 principal and 50.00 interest overdue, 33 days of penalty.
    assert (before.overdue_principal, before.overdue_interest, before.penalty) == (
        D("1000.00"),
        D("50.00"),
        D("33.00"),
    )
    # From the value date: 34.00 penalty paid (day 11-13 still bears it), 1050.00 of the
    # schedule, 7.00 held as credit; nothing owed.
    assert (on.overdue_principal, on.overdue_interest, on.penalty, on.dpd) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        0,
    )


# --- audit -----------------------------------------------------------------------------


def test_post_and_reverse_are_audited_on_the_debtors_case(loan, clerk):
    case = CaseFactory(client=loan.client, debtor=loan.debtor)

    payment = payment_post(
        actor=clerk, loan=loan, amount=D("3000.00"), value_date=dt.date(2026, 11, 13)
    )
    payment_reverse(actor=clerk, payment=payment, reason="bounced")

    post, reverse = AuditEvent.objects.filter(object_id=str(payment.pk)).order_by("seq")
    assert (post.action, post.object_type, post.case_id) == (
        "payment.post",
        "payments.payment",
        case.pk,
    )
    assert post.actor_label == "finance1"
    assert "3000.00" in post.summary and "2026-11-13" in post.summary
    assert post.after["amount"] == "3000.00"
    assert [(a["component"], a["seq"], a["amount"]) for a in post.after["allocations"]] == [
        ("interest", 1, "75.00"),
        ("interest", 2, "75.00"),
        ("interest", 3, "75.00"),
        ("principal", 1, "1500.00"),
        ("principal", 2, "1275.00"),
    ]
    assert (reverse.action, reverse.case_id) == ("payment.reverse", case.pk)
    assert reverse.after == {"status": "reversed", "reason": "bounced"}
    assert audit_verify().ok


def test_a_loan_without_a_case_is_audited_without_one(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("10.00"), value_date=TODAY)

    event = AuditEvent.objects.get(action="payment.post")
    assert event.case_id is None and event.object_id == str(payment.pk)


# --- admin -----------------------------------------------------------------------------


def test_the_admin_shows_payments_and_their_lines_but_never_changes_them(loan, clerk):
    payment = payment_post(actor=clerk, loan=loan, amount=D("7000.00"), value_date=TODAY)
    browser = HttpClient()
    browser.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listing = browser.get("/admin/payments/payment/")
    assert listing.status_code == 200 and loan.contract_no in listing.content.decode()
    page = browser.get(f"/admin/payments/payment/{payment.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "700.00" in body  # the credit line is shown
    assert 'name="_save"' not in body  # nothing to save

    assert browser.get("/admin/payments/payment/add/").status_code == 403
    assert browser.get(f"/admin/payments/payment/{payment.pk}/delete/").status_code == 403
    browser.post(f"/admin/payments/payment/{payment.pk}/change/", {"amount": "1.00"})
    payment.refresh_from_db()
    assert payment.amount == D("7000.00")


def test_penalty_a_later_settlement_waived_is_not_collected_by_a_backdated_payment(clerk):
    from django.utils import timezone

    from cuishou.cases.models import Settlement, WaiverLine

    loan = make_loan(*PENALTY_LOAN, penalty_rate="0.36")
    case = CaseFactory(client=loan.client, debtor=loan.debtor)
    settlement = Settlement.objects.create(
        case=case,
        deadline=TODAY,
        reason="hardship",
        status="completed",
        requested_at=timezone.now(),
        balance=D("1091.00"),
        penalty_waived=D("41.00"),
        interest_waived=D("0"),
        principal_waived=D("0"),
        discount=D("41.00"),
        settled_amount=D("1050.00"),
    )
    # The settlement forgave the 41.00 of penalty owed on its day.
    WaiverLine.objects.create(
        settlement=settlement, loan=loan, component="penalty", amount=D("41.00"), value_date=TODAY
    )

    # Dated before it: 10.00 was owed on 2026-10-20, but it was waived since.
    earlier = payment_post(
        actor=clerk, loan=loan, amount=D("30.00"), value_date=dt.date(2026, 10, 20)
    )

    assert lines(earlier) == [("interest", 1, "30.00")]
