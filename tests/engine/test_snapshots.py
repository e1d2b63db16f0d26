"""Daily case snapshots (docs/engine.md, "Snapshots"): one row per case whose debtor has
anything overdue on the day (not closed or written off), with the day's bucket, dpd,
stage, overdue amount and balance; re-running a day replaces its rows; rewriting a past
day after a backdated change gives what a run on that day would have written had the
change been known."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cuishou.cases.models import Case
from cuishou.engine.models import CaseSnapshot
from cuishou.engine.services import portfolio_recompute, snapshots_rewrite
from cuishou.payments.models import Payment, PaymentAllocation
from cuishou.portfolio.models import Installment
from tests.engine import reference as ref
from tests.engine.reference import (
    INTEREST,
    PRINCIPAL,
    Alloc,
    Inst,
    RefLoan,
    build_loan,
    post_allocation,
    with_allocation,
)
from tests.factories import ClientFactory, DebtorFactory

pytestmark = pytest.mark.django_db

D = Decimal
JUN1 = dt.date(2026, 6, 1)
JUL1 = dt.date(2026, 7, 1)
DAY_X = dt.date(2026, 7, 15)  # the past day whose history is rewritten
DAY_Y = dt.date(2026, 7, 20)  # the day the backdated payment is posted


def two_periods(p: str = "1000.00", i: str = "50.00") -> RefLoan:
    """1,000.00 + 50.00 due 06-01 and 07-01; penalty 1.00 a day per 1,000.00 unpaid."""
    return RefLoan(
        principal=D("10000.00"),
        disbursed_on=dt.date(2026, 1, 1),
        installments=(Inst(JUN1, D(p), D(i)), Inst(JUL1, D(p), D(i))),
    )


SNAPSHOT_VALUES = ("bucket", "dpd", "stage", "overdue_amount", "balance")


def rows(day: dt.date, **filters: Any) -> list[dict[str, Any]]:
    return list(
        CaseSnapshot.objects.filter(as_of=day, **filters)
        .order_by("case_id")
        .values("case_id", "client_id", *SNAPSHOT_VALUES)
    )


def row_of(case: Case, day: dt.date) -> dict[str, Any] | None:
    found = list(CaseSnapshot.objects.filter(as_of=day, case=case).values(*SNAPSHOT_VALUES))
    assert len(found) <= 1
    return found[0] if found else None


def expected_row(loans: list[RefLoan], day: dt.date, stage: str) -> dict[str, Any]:
    f = ref.case_figures(loans, day)
    return {
        "bucket": f.bucket,
        "dpd": f.dpd,
        "stage": stage,
        "overdue_amount": f.overdue_amount,
        "balance": f.balance,
    }


def paid_in_full(seq: int, value_date: dt.date) -> list[Alloc]:
    return [
        Alloc(PRINCIPAL, D("1000.00"), value_date, seq=seq),
        Alloc(INTEREST, D("50.00"), value_date, seq=seq),
    ]


def test_one_row_per_case_with_something_overdue():
    client = ClientFactory(code="SNAP")
    overdue = two_periods()
    # A: overdue since 06-01; two loans, summed into one row.
    a = DebtorFactory()
    build_loan(overdue, client=client, debtor=a)
    small = RefLoan(D("500.00"), dt.date(2026, 1, 1), (Inst(JUL1, D("500.00")),))
    build_loan(small, client=client, debtor=a)
    # B: nothing due yet.
    b = DebtorFactory()
    build_loan(
        RefLoan(D("1000.00"), dt.date(2026, 1, 1), (Inst(dt.date(2026, 8, 1), D("1000.00")),)),
        client=client,
        debtor=b,
    )
    # C: overdue at first, then paid (the case is cured).
    c = DebtorFactory()
    c_loan = build_loan(overdue, client=client, debtor=c)
    # E: overdue, but the case is closed.
    e = DebtorFactory()
    build_loan(overdue, client=client, debtor=e)

    portfolio_recompute(as_of=dt.date(2026, 7, 5))
    for alloc in paid_in_full(1, dt.date(2026, 7, 6)) + paid_in_full(2, dt.date(2026, 7, 6)):
        post_allocation(c_loan, alloc)
    Case.objects.filter(debtor=e).update(status="closed", closed_on=dt.date(2026, 7, 6))

    portfolio_recompute(as_of=DAY_X)

    case_a = Case.objects.get(debtor=a)
    assert Case.objects.get(debtor=c).status == "cured"
    assert not Case.objects.filter(debtor=b).exists()
    assert [r["case_id"] for r in rows(DAY_X)] == [case_a.pk]
    # A on 07-15: dpd 44 (M2, written). Overdue: 2 × 1,050 + 500 = 2,600.00. Penalty:
    # 44 + 14 days on the first loan + 14 × 0.50 on the second = 65.00. Balance: 2,500
    # principal + 100 interest + 65.00.
    want = {
        "bucket": "M2",
        "dpd": 44,
        "stage": "written",
        "overdue_amount": D("2600.00"),
        "balance": D("2665.00"),
    }
    assert row_of(case_a, DAY_X) == want
    assert want == expected_row([overdue, small], DAY_X, "written")
    assert rows(DAY_X)[0]["client_id"] == client.pk


def test_a_row_per_day_and_a_rerun_replaces_the_day():
    loan = build_loan(two_periods())
    for day in (dt.date(2026, 7, 13), dt.date(2026, 7, 14), DAY_X):
        portfolio_recompute(as_of=day)
    case = Case.objects.get()
    assert [r["dpd"] for d in (13, 14, 15) for r in rows(dt.date(2026, 7, d))] == [42, 43, 44]

    portfolio_recompute(as_of=DAY_X)
    assert CaseSnapshot.objects.filter(as_of=DAY_X).count() == 1

    # Paid on the day itself: the day's row is replaced, not added to.
    for alloc in paid_in_full(1, DAY_X):
        post_allocation(loan, alloc)
    portfolio_recompute(as_of=DAY_X)

    assert CaseSnapshot.objects.filter(case=case).count() == 3
    later = two_periods()
    for alloc in paid_in_full(1, DAY_X):
        later = with_allocation(later, alloc)
    case.refresh_from_db()
    # dpd from 07-01 now: 14, M1; the stage follows the table (phone).
    assert row_of(case, DAY_X) == expected_row([later], DAY_X, case.stage)
    assert row_of(case, DAY_X)["dpd"] == 14


def _twin_worlds(allocations: list[Alloc]) -> tuple[Case | None, Case]:
    """The same loan under two clients. KNOWN has the payment from the start; LATE has
    it posted on DAY_Y with its earlier value date, after DAY_X was run. Both are run on
    DAY_X and DAY_Y; then DAY_X is rewritten. Returns the two cases (KNOWN's may not
    exist when nothing was overdue on DAY_X)."""
    known_ref = two_periods()
    for alloc in allocations:
        known_ref = with_allocation(known_ref, alloc)
    known = build_loan(known_ref, client=ClientFactory(code="KNOWN"))
    late = build_loan(two_periods(), client=ClientFactory(code="LATE"))

    portfolio_recompute(as_of=DAY_X)
    for alloc in allocations:
        post_allocation(late, alloc)
    portfolio_recompute(as_of=DAY_Y)
    snapshots_rewrite(day=DAY_X)

    return (
        Case.objects.filter(debtor=known.debtor).first(),
        Case.objects.get(debtor=late.debtor),
    )


def test_rewriting_a_past_day_after_a_backdated_payment_gives_what_the_day_would_have_had():
    # Period 1 paid on 07-10. As of 07-15: dpd from 07-01 = 14 (M1, phone); overdue
    # 1,050.00; penalty 06-02 … 07-10 = 39 days + 07-02 … 07-15 = 14 days → 53.00;
    # balance 1,000 + 50 + 53 = 1,103.00. Without the payment the day had dpd 44 (M2).
    payment = paid_in_full(1, dt.date(2026, 7, 10))
    known, late = _twin_worlds(payment)

    assert known is not None
    want = {
        "bucket": "M1",
        "dpd": 14,
        "stage": "phone",
        "overdue_amount": D("1050.00"),
        "balance": D("1103.00"),
    }
    assert row_of(known, DAY_X) == want
    assert row_of(late, DAY_X) == want
    # And today's rows agree as well.
    assert row_of(late, DAY_Y) == row_of(known, DAY_Y)


def test_rewriting_a_past_day_drops_the_row_when_nothing_was_overdue_after_all():
    # Both periods paid on 07-01: nothing overdue on 07-15.
    payment = paid_in_full(1, JUL1) + paid_in_full(2, JUL1)
    known, late = _twin_worlds(payment)

    assert known is None  # never overdue beyond grace on a run day: no case
    assert row_of(late, DAY_X) is None
    assert late.status == "cured"


def test_rewriting_a_past_day_after_a_reversal_adds_the_row():
    # LATE had period 1 paid (07-10) when 07-15 was run; on 07-20 the payment bounces.
    # KNOWN never had it. The rewritten 07-15 is KNOWN's: dpd 44, M2.
    known = build_loan(two_periods(), client=ClientFactory(code="KNOWN"))
    late_ref = two_periods()
    for alloc in paid_in_full(1, dt.date(2026, 7, 10)):
        late_ref = with_allocation(late_ref, alloc)
    late = build_loan(late_ref, client=ClientFactory(code="LATE"))

    portfolio_recompute(as_of=DAY_X)
    late_case = Case.objects.get(debtor=late.debtor)
    assert row_of(late_case, DAY_X)["dpd"] == 14
    reverse_payments(late)
    portfolio_recompute(as_of=DAY_Y)
    written = snapshots_rewrite(day=DAY_X)

    known_case = Case.objects.get(debtor=known.debtor)
    assert written == 2
    assert row_of(late_case, DAY_X) == row_of(known_case, DAY_X)
    assert row_of(late_case, DAY_X) == expected_row([two_periods()], DAY_X, "written")


def test_rewriting_a_day_replaces_its_rows_and_leaves_other_days_alone():
    build_loan(two_periods())
    portfolio_recompute(as_of=DAY_X)
    portfolio_recompute(as_of=DAY_Y)
    before = rows(DAY_Y)

    assert snapshots_rewrite(day=DAY_X) == 1
    assert snapshots_rewrite(day=DAY_X) == 1

    assert CaseSnapshot.objects.filter(as_of=DAY_X).count() == 1
    assert rows(DAY_Y) == before


def reverse_payments(loan: Any) -> None:
    """Reverse every payment of the loan: lines marked reversed, paid fields lowered."""
    for line in PaymentAllocation.objects.filter(loan=loan, is_reversed=False):
        if line.installment_id is not None:
            column = "principal_paid" if line.component == PRINCIPAL else "interest_paid"
            row = Installment.objects.get(pk=line.installment_id)
            paid = getattr(row, column) - line.amount  # exact Decimal, not SQLite's float
            Installment.objects.filter(pk=row.pk).update(**{column: paid})
    PaymentAllocation.objects.filter(loan=loan).update(is_reversed=True)
    Payment.objects.filter(loan=loan).update(status="reversed")
