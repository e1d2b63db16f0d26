"""The portfolio run: loan dpd, bucket, overdue amounts and balance; cases opened, updated,
cured and reopened. Expected figures are worked out by hand in each test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.cases.models import Case
from cuishou.engine.batch import batch_run
from cuishou.engine.services import portfolio_recompute
from cuishou.payments.services import payment_post, payment_reverse
from cuishou.portfolio.choices import bucket_for_dpd
from cuishou.portfolio.models import Installment, Loan
from cuishou.portfolio.selectors import loan_state
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 15)


def D(text: str) -> Decimal:  # noqa: N802
    return Decimal(text)


def schedule(loan: Loan, *rows: tuple[str, str, str, str, str]) -> None:
    """rows: (due_on, principal_due, interest_due, principal_paid, interest_paid)."""
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


def figures(loan: Loan) -> tuple[int, str, Decimal, Decimal, Decimal, Decimal]:
    loan.refresh_from_db()
    return (
        loan.dpd,
        loan.bucket,
        loan.overdue_principal,
        loan.overdue_interest,
        loan.penalty,
        loan.balance,
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [
                ("2026-08-10", "1500.00", "75.00", "0", "0"),
                ("2026-09-10", "1500.00", "75.00", "0", "0"),
                ("2026-10-10", "1500.00", "75.00", "0", "0"),
                ("2026-11-10", "1500.00", "75.00", "0", "0"),
            ],
            # 2026-08-10 → 2026-11-15: 21 + 30 + 31 + 15 = 97 days; all four periods overdue.
            (97, "M4", "6000.00", "300.00", "0.00", "6300.00"),
            id="nothing paid counts from the first due date",
        ),
        pytest.param(
            [("2026-05-19", "3000.00", "150.00", "1000.00", "150.00")],
            # 2026-05-19 → 2026-11-15 is 180 days: still M6 (M7+ starts at 181).
            (180, "M6", "2000.00", "0.00", "0.00", "2000.00"),
            id="a partly paid installment counts what is left",
        ),
        pytest.param(
            [
                ("2026-09-15", "700.00", "35.00", "700.00", "0"),
                ("2026-10-15", "700.00", "35.00", "0", "0"),
            ],
            # dpd from 2026-09-15 (its interest is unpaid): 61 days.
            (61, "M3", "700.00", "70.00", "0.00", "770.00"),
            id="unpaid interest alone makes an installment overdue",
        ),
        pytest.param(
            [
                ("2026-10-16", "900.00", "45.00", "0", "0"),
                ("2026-11-16", "900.00", "45.00", "0", "0"),
            ],
            # The balance holds the 900.00 not yet due, but not its interest.
            (30, "M1", "900.00", "45.00", "0.00", "1845.00"),
            id="the balance includes principal not yet due but not its interest",
        ),
        pytest.param(
            [
                ("2026-08-01", "0.10", "33.33", "0", "0"),
                ("2026-09-01", "0.10", "33.33", "0", "0"),
                ("2026-10-01", "0.10", "33.33", "0", "0"),
            ],
            (106, "M4", "0.30", "99.99", "0.00", "100.29"),
            id="amounts add up to the fen",
        ),
        pytest.param([], (0, "M0", "0.00", "0.00", "0.00", "0.00"), id="no schedule, nothing owed"),
    ],
)
def test_loan_figures(rows, expected):
    loan = LoanFactory()
    schedule(loan, *rows)
    portfolio_recompute(as_of=AS_OF)
    dpd, bucket, *amounts = expected
    assert figures(loan) == (dpd, bucket, *map(D, amounts))
    assert loan.computed_as_of == AS_OF


def test_an_installment_due_on_the_day_itself_is_not_overdue_yet():
    loan = LoanFactory(principal=D("1200.00"))
    schedule(
        loan,
        ("2026-10-15", "600.00", "30.00", "600.00", "30.00"),
        ("2026-11-15", "600.00", "30.00", "0", "0"),
    )
    portfolio_recompute(as_of=AS_OF)
    # Balance: the 600.00 principal still owed; its interest is not due before today.
    assert figures(loan) == (0, "M0", D("0.00"), D("0.00"), D("0.00"), D("600.00"))
    assert not Case.objects.exists()

    portfolio_recompute(as_of=AS_OF + dt.timedelta(days=1))
    assert figures(loan) == (1, "M1", D("600.00"), D("30.00"), D("0.00"), D("630.00"))


@pytest.mark.parametrize("dpd", [1, 30, 31, 60, 61, 90, 91, 120, 121, 150, 151, 180, 181, 700])
def test_buckets_follow_the_same_bands_as_bucket_for_dpd(dpd):
    loan = LoanFactory()
    schedule(loan, ((AS_OF - dt.timedelta(days=dpd)).isoformat(), "100.00", "0", "0", "0"))
    portfolio_recompute(as_of=AS_OF)
    loan.refresh_from_db()
    assert (loan.dpd, loan.bucket) == (dpd, bucket_for_dpd(dpd))


def test_a_case_is_opened_per_debtor_and_client_from_the_worst_loan():
    client = ClientFactory(code="HX")
    debtor = DebtorFactory()
    recent = LoanFactory(client=client, debtor=debtor, principal=D("1000.00"))
    schedule(
        recent, ("2026-11-05", "500.00", "10.00", "0", "0"), ("2026-12-05", "500", "10", "0", "0")
    )
    old = LoanFactory(client=client, debtor=debtor, principal=D("2000.00"))
    schedule(old, ("2026-08-17", "2000.00", "100.00", "0", "50.00"))
    current = LoanFactory(client=client, debtor=DebtorFactory())
    schedule(current, ("2026-12-01", "100.00", "1.00", "0", "0"))

    counts = portfolio_recompute(as_of=AS_OF)

    case = Case.objects.get()
    assert (case.client, case.debtor) == (client, debtor)
    # Worst loan: 2026-08-17 → 2026-11-15 = 90 days, M3, so the ladder starts at a visit.
    assert (case.status, case.stage, case.bucket, case.dpd) == ("open", "visit", "M3", 90)
    # Overdue: 500 + 10 (recent) + 2000 + 50 (old); balance: 1000 + 10 + 2000 + 50.
    assert case.overdue_amount == D("2560.00")
    assert case.balance == D("3060.00")
    assert case.penalty == D("0.00")
    assert (case.opened_on, case.computed_as_of) == (AS_OF, AS_OF)
    assert counts["cases_opened"] == 1 and counts["loans"] == 3


@pytest.mark.parametrize(
    ("dpd", "stage"),
    [(5, "phone"), (30, "phone"), (45, "written"), (75, "visit"), (100, "legal"), (400, "legal")],
)
def test_new_cases_start_on_the_default_ladder(dpd, stage):
    loan = LoanFactory()
    schedule(loan, ((AS_OF - dt.timedelta(days=dpd)).isoformat(), "100.00", "0", "0", "0"))
    portfolio_recompute(as_of=AS_OF)
    assert Case.objects.get().stage == stage


def test_no_case_within_the_grace_days():
    product = ProductFactory(grace_days=3)
    within = LoanFactory(client=product.client, product=product)
    schedule(within, ((AS_OF - dt.timedelta(days=3)).isoformat(), "100.00", "0", "0", "0"))
    beyond = LoanFactory(client=product.client, product=product)
    schedule(beyond, ((AS_OF - dt.timedelta(days=4)).isoformat(), "100.00", "0", "0", "0"))

    portfolio_recompute(as_of=AS_OF)

    within.refresh_from_db()
    assert (within.dpd, within.bucket) == (3, "M1")  # overdue, but within grace
    assert list(Case.objects.values_list("debtor_id", flat=True)) == [beyond.debtor_id]


def test_opened_cases_are_audited_one_event_each():
    for days in (10, 40):
        loan = LoanFactory()
        schedule(loan, ((AS_OF - dt.timedelta(days=days)).isoformat(), "100.00", "5", "0", "0"))
    portfolio_recompute(as_of=AS_OF)

    events = list(AuditEvent.objects.filter(action="case.open").order_by("case_id"))
    cases = list(Case.objects.order_by("pk"))
    assert [e.case_id for e in events] == [c.pk for c in cases]
    assert {e.actor_label for e in events} == {"engine"}
    assert events[0].after["overdue_amount"] == "105.00"
    assert audit_verify().ok


def test_a_second_run_changes_no_case_and_keeps_a_stage_set_since():
    loan = LoanFactory()
    schedule(loan, ("2026-10-01", "100.00", "5.00", "0", "0"))
    portfolio_recompute(as_of=AS_OF)
    case = Case.objects.get()
    assert case.stage == "written"  # 45 days, M2
    Case.objects.filter(pk=case.pk).update(stage="legal", stage_set_by_hand=True)
    events = AuditEvent.objects.count()

    counts = portfolio_recompute(as_of=AS_OF + dt.timedelta(days=20))

    case.refresh_from_db()
    assert (case.stage, case.dpd, case.bucket) == ("legal", 65, "M3")
    assert case.computed_as_of == AS_OF + dt.timedelta(days=20)
    assert counts["cases_opened"] == 0 and Case.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_a_case_with_nothing_overdue_is_cured_and_reopened_when_overdue_again():
    loan = LoanFactory()
    schedule(
        loan,
        ("2026-10-01", "100.00", "5.00", "0", "0"),
        ("2026-12-01", "100.00", "5.00", "0", "0"),
    )
    portfolio_recompute(as_of=AS_OF)
    case = Case.objects.get()

    # The debtor pays the overdue period.
    Installment.objects.filter(loan=loan, seq=1).update(
        principal_paid=D("100.00"), interest_paid=D("5.00")
    )
    counts = portfolio_recompute(as_of=dt.date(2026, 11, 20))

    case.refresh_from_db()
    assert (case.status, case.status_reason) == ("cured", "nothing overdue as of 2026-11-20")
    assert (case.bucket, case.dpd, case.overdue_amount, case.balance) == (
        "M0",
        0,
        D("0.00"),
        D("100.00"),
    )
    assert counts["cases_cured"] == 1
    cure = AuditEvent.objects.get(action="case.cure")
    assert cure.case_id == case.pk
    assert cure.before == {"status": "open", "bucket": "M2", "dpd": 45}

    # The next period goes unpaid: the same case file opens again.
    counts = portfolio_recompute(as_of=dt.date(2026, 12, 10))
    case.refresh_from_db()
    assert (case.status, case.bucket, case.dpd) == ("open", "M1", 9)
    assert counts["cases_reopened"] == 1 and Case.objects.count() == 1
    assert AuditEvent.objects.get(action="case.reopen").case_id == case.pk
    assert audit_verify().ok


def test_a_run_for_one_client_leaves_the_others_alone():
    mine = LoanFactory(client=ClientFactory(code="A"))
    schedule(mine, ("2026-10-01", "100.00", "0", "0", "0"))
    theirs = LoanFactory(client=ClientFactory(code="B"))
    schedule(theirs, ("2026-10-01", "100.00", "0", "0", "0"))

    portfolio_recompute(as_of=AS_OF, client=mine.client)

    assert figures(mine)[0] == 45
    theirs.refresh_from_db()
    assert (theirs.computed_as_of, theirs.dpd) == (None, 0)
    assert list(Case.objects.values_list("client__code", flat=True)) == ["A"]


def _portfolio(n: int) -> None:
    client = ClientFactory(code="Q")
    for k in range(n):
        loan = LoanFactory(client=client)
        schedule(loan, ((AS_OF - dt.timedelta(days=10 + k)).isoformat(), "100.00", "0", "0", "0"))


def test_the_number_of_queries_does_not_grow_with_the_portfolio():
    _portfolio(3)
    with CaptureQueriesContext(connection) as small:
        portfolio_recompute(as_of=AS_OF)
    Case.objects.all().delete()
    _portfolio(30)
    with CaptureQueriesContext(connection) as large:
        portfolio_recompute(as_of=AS_OF)
    assert Case.objects.count() == 33
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_loan_whose_figures_did_not_change_is_not_rewritten_but_shows_the_last_run() -> None:
    # Given a loan paid on time and one overdue, computed by the run of 15 November
    client = ClientFactory(code="UC")
    paid = LoanFactory(client=client, contract_no="PAID")
    schedule(paid, ("2026-10-10", "1000.00", "50.00", "1000.00", "50.00"))
    late = LoanFactory(client=client, contract_no="LATE")
    schedule(late, ("2026-10-10", "1000.00", "50.00", "0", "0"))
    batch_run(as_of=AS_OF)
    written_at = Loan.objects.get(pk=paid.pk).updated_at

    # When the next night runs
    run = batch_run(as_of=AS_OF + dt.timedelta(days=1))

    # Then only the overdue loan (one more day past due) is written again
    assert (run.counts["loans"], run.counts["loans_changed"]) == (2, 1)
    paid.refresh_from_db()
    assert (paid.computed_as_of, paid.updated_at) == (AS_OF, written_at)
    assert Loan.objects.get(pk=late.pk).computed_as_of == AS_OF + dt.timedelta(days=1)
    # and loan show says the paid loan's figures hold as of the last run
    state = loan_state(client_code="UC", contract_no="PAID")
    assert state["computed_as_of"] == "2026-11-16"
    assert (state["dpd"], state["balance"]) == (0, "0.00")


def test_a_loan_paid_off_outside_the_ledger_goes_to_zero_and_is_then_left_alone() -> None:
    # Given an overdue loan computed by the run of 15 November
    client = ClientFactory(code="PO")
    loan = LoanFactory(client=client, contract_no="PO-1")
    schedule(loan, ("2026-10-10", "1000.00", "50.00", "0", "0"))
    batch_run(as_of=AS_OF)
    assert figures(loan)[:2] == (36, "M2")

    # When a later file says it was paid in full (no payment through cuishou: no ledger)
    paid_in_full = {"principal_paid": D("1000.00"), "interest_paid": D("50.00")}
    Installment.objects.filter(loan=loan).update(**paid_in_full)
    run = batch_run(as_of=AS_OF + dt.timedelta(days=1))

    # Then the next night recomputes it from its stored figures and writes zeros
    assert figures(loan) == (0, "M0", D("0"), D("0"), D("0"), D("0"))
    assert (run.counts["loans"], run.counts["loans_recomputed"]) == (1, 1)
    closed = Case.objects.get(debtor=loan.debtor)
    assert (closed.status, closed.closure, closed.balance) == ("closed", "paid_in_full", D("0"))

    # and the night after, with nothing unpaid and nothing stored, it is not recomputed
    run = batch_run(as_of=AS_OF + dt.timedelta(days=2))
    assert (run.counts["loans"], run.counts["loans_recomputed"]) == (1, 0)
    assert figures(loan) == (0, "M0", D("0"), D("0"), D("0"), D("0"))


def test_the_grace_days_of_a_paid_off_loan_still_count_for_its_debtor() -> None:
    # Given a debtor with a paid-off loan of a product with 3 grace days, and a loan of a
    # product without grace that is 2 days overdue
    client = ClientFactory(code="GR")
    debtor = DebtorFactory()
    graced = ProductFactory(client=client, name="graced", grace_days=3)
    plain = ProductFactory(client=client, name="plain", grace_days=0)
    paid = LoanFactory(client=client, debtor=debtor, product=graced, contract_no="GR-1")
    schedule(paid, ("2026-10-10", "1000.00", "50.00", "1000.00", "50.00"))
    late = LoanFactory(client=client, debtor=debtor, product=plain, contract_no="GR-2")
    schedule(late, ("2026-11-12", "1000.00", "50.00", "0", "0"))
    batch_run(as_of=AS_OF - dt.timedelta(days=1))  # the paid loan's figures are stored: zero

    # When the night of 15 November runs (the paid-off loan is not recomputed)
    run = batch_run(as_of=AS_OF)

    # Then the debtor's longest grace (3 days) still keeps the case from opening at 3 dpd
    assert run.counts["loans_recomputed"] == 1
    assert figures(late)[0] == 3
    assert not Case.objects.filter(debtor=debtor).exists()
    # and a day later, past every grace, it opens
    batch_run(as_of=AS_OF + dt.timedelta(days=1))
    assert Case.objects.get(debtor=debtor).dpd == 4


def test_a_current_loan_left_out_of_the_run_still_counts_in_its_debtors_case() -> None:
    # Given a debtor with an overdue loan and a current one (next due in December)
    client = ClientFactory(code="LO")
    debtor = DebtorFactory()
    late = LoanFactory(client=client, debtor=debtor, contract_no="LO-1")
    schedule(late, ("2026-10-10", "1000.00", "50.00", "0", "0"))
    current = LoanFactory(client=client, debtor=debtor, contract_no="LO-2")
    schedule(current, ("2026-12-10", "2000.00", "100.00", "0", "0"))
    batch_run(as_of=AS_OF - dt.timedelta(days=1))  # both computed and stored

    # When the next night runs
    run = batch_run(as_of=AS_OF)

    # Then only the overdue loan is recomputed: the current one's stored figures hold
    assert run.counts["loans_recomputed"] == 1
    assert figures(current) == (0, "M0", D("0"), D("0"), D("0"), D("2000.00"))
    # and the case and its snapshot owe both loans' balances
    assert figures(late)[5] == D("1050.00")  # the factory's product bears no penalty
    case = Case.objects.get(debtor=debtor)
    assert (case.dpd, case.balance) == (36, D("3050.00"))
    assert case.snapshots.get(as_of=AS_OF).balance == D("3050.00")


def test_a_current_loan_changed_outside_the_ledger_is_recomputed() -> None:
    # Given a current loan computed by the run of 14 November
    client = ClientFactory(code="CH")
    loan = LoanFactory(client=client, contract_no="CH-1")
    schedule(
        loan,
        ("2026-10-10", "1000.00", "50.00", "1000.00", "50.00"),
        ("2026-12-10", "1000.00", "50.00", "0", "0"),
        ("2027-01-10", "1000.00", "50.00", "0", "0"),
    )
    batch_run(as_of=AS_OF - dt.timedelta(days=1))
    assert figures(loan)[5] == D("2000.00")

    # When a later file says part of December's principal was paid (no ledger row)
    Installment.objects.filter(loan=loan, seq=2).update(principal_paid=D("400.00"))
    run = batch_run(as_of=AS_OF)

    # Then the run sees the stored balance no longer holds and writes the new one
    assert run.counts["loans_recomputed"] == 1
    assert figures(loan) == (0, "M0", D("0"), D("0"), D("0"), D("1600.00"))

    # and when a file moves January's due date into the past, the loan is overdue
    Installment.objects.filter(loan=loan, seq=3).update(due_on=dt.date(2026, 11, 1))
    batch_run(as_of=AS_OF + dt.timedelta(days=1))
    assert figures(loan)[:4] == (15, "M1", D("1000.00"), D("50.00"))


def test_a_reversed_prepayment_puts_a_current_loans_balance_back() -> None:
    # Given a current loan that prepaid 500.00 of December's installment
    client = ClientFactory(code="RP")
    product = ProductFactory(client=client, name="rp")
    loan = LoanFactory(client=client, product=product, contract_no="RP-1")
    schedule(loan, ("2026-12-10", "2000.00", "100.00", "0", "0"))
    payment = payment_post(
        actor=UserFactory(), loan=loan, amount=D("500.00"), value_date=AS_OF - dt.timedelta(days=3)
    )
    batch_run(as_of=AS_OF - dt.timedelta(days=1))
    balance_after_payment = figures(loan)[5]
    assert balance_after_payment < D("2000.00")

    # When the payment bounces and is reversed
    payment_reverse(actor=UserFactory(), payment=payment, reason="bounced")
    batch_run(as_of=AS_OF)

    # Then the loan owes its whole principal again
    assert figures(loan) == (0, "M0", D("0"), D("0"), D("0"), D("2000.00"))


def test_a_stale_bucket_is_put_right_though_the_figures_did_not_change() -> None:
    # Given an overdue loan and its case computed as of the day (dpd 36, M2)
    client = ClientFactory(code="BK")
    debtor = DebtorFactory()
    loan = LoanFactory(client=client, debtor=debtor, contract_no="BK-1")
    schedule(loan, ("2026-10-10", "1000.00", "50.00", "0", "0"))
    batch_run(as_of=AS_OF)
    assert figures(loan)[:2] == (36, "M2")
    # whose stored buckets someone overwrote (the figures themselves still hold)
    Loan.objects.filter(pk=loan.pk).update(bucket="M7+")
    Case.objects.filter(debtor=debtor).update(bucket="M0")
    before = Loan.objects.values_list("updated_at", flat=True).get(pk=loan.pk)

    # When the same day is run again
    run = batch_run(as_of=AS_OF)

    # Then the figures are not rewritten, but both buckets are the dpd's again
    assert run.counts["loans_changed"] == 0
    assert Loan.objects.values_list("updated_at", flat=True).get(pk=loan.pk) == before
    assert figures(loan)[:2] == (36, "M2")
    assert Case.objects.get(debtor=debtor).bucket == "M2"
