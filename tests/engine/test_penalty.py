"""Hand-computed loan figures (docs/engine.md): dpd and bucket edges, penalty interest with
grace days, both day-count bases, 复利 on and off, the cost cap, backdated and reversed
allocations, pauses and penalty paid.

Every example states its arithmetic. Each is checked three ways: the plain-Python
reference model (tests/engine/reference.py) gives the hand figures, the engine's read-only
``loan_figures_as_of`` gives them, and ``portfolio_recompute`` stores them on the loan.

Unless an example says otherwise: penalty rate 0.36 a year on a 360-day basis, so 1,000.00
unpaid bears 1,000.00 × 0.36 ÷ 360 = 1.00 a day (100,000 fen × 1 day = 100,000 fen-days →
100 fen); no 复利; no grace days; a loan of 10,000.00 disbursed 2026-01-01 with a 24 % cost
cap, far from binding (as of 2026-10-31: 10,000 × 0.24 × 303 ÷ 360 = 2,020.00).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

import pytest

from cuishou.cases.models import Case
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.engine.services import portfolio_recompute
from tests.engine import reference as ref
from tests.engine.reference import (
    INTEREST,
    PENALTY,
    PRINCIPAL,
    Alloc,
    Inst,
    Pause,
    RefLoan,
    Terms,
    build_loan,
    post_allocation,
)
from tests.factories import ClientFactory, DebtorFactory, ProductFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 10, 1)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def D(text: str) -> Decimal:  # noqa: N802
    return Decimal(text)


@dataclass(frozen=True)
class Want:
    """The hand figures. ``penalty_accrued`` is the accrual after the cap (what the penalty
    owed is taken from); it defaults to ``penalty + penalty_paid``."""

    dpd: int
    bucket: str
    overdue_principal: str
    overdue_interest: str
    outstanding_principal: str
    penalty: str
    balance: str
    penalty_paid: str = "0.00"
    penalty_capped: bool = False
    penalty_accrued: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            money = isinstance(value, str) and f.name != "bucket"
            out[f.name] = D(value) if money else value
        if out["penalty_accrued"] is None:
            out["penalty_accrued"] = out["penalty"] + out["penalty_paid"]
        return out


def loan_of(
    *installments: Inst,
    terms: Terms | None = None,
    allocations: tuple[Alloc, ...] = (),
    pauses: tuple[Pause, ...] = (),
    principal: str = "10000.00",
    disbursed_on: dt.date = dt.date(2026, 1, 1),
    penalty_annual_rate: str | None = None,
) -> RefLoan:
    return RefLoan(
        principal=D(principal),
        disbursed_on=disbursed_on,
        installments=installments,
        terms=terms or Terms(),
        allocations=allocations,
        pauses=pauses,
        penalty_annual_rate=None if penalty_annual_rate is None else D(penalty_annual_rate),
    )


def inst(
    due: dt.date = DUE, p: str = "1000.00", i: str = "0.00", p_paid: str = "0", i_paid: str = "0"
) -> Inst:
    return Inst(
        due_on=due,
        principal_due=D(p),
        interest_due=D(i),
        principal_paid=D(p_paid),
        interest_paid=D(i_paid),
    )


def reference_figures(loan: RefLoan, as_of: dt.date) -> dict[str, Any]:
    f = ref.figures(loan, as_of)
    return {
        "dpd": f.dpd,
        "bucket": f.bucket,
        "overdue_principal": f.overdue_principal,
        "overdue_interest": f.overdue_interest,
        "outstanding_principal": f.outstanding_principal,
        "penalty": f.penalty,
        "balance": f.balance,
        "penalty_paid": f.penalty_paid,
        "penalty_capped": f.penalty_capped,
        "penalty_accrued": f.penalty_after_cap,
    }


def engine_figures(loan_id: int, as_of: dt.date) -> dict[str, Any]:
    f = loan_figures_as_of(loan_id=loan_id, as_of=as_of)
    return {name: getattr(f, name) for name in Want.__dataclass_fields__}


def stored_figures(loan: Any) -> dict[str, Any]:
    return ref.stored(loan) | {"computed_as_of": loan.computed_as_of}


def expected_stored(want: dict[str, Any], as_of: dt.date) -> dict[str, Any]:
    return {k: want[k] for k in ref.STORED_FIELDS} | {"computed_as_of": as_of}


def check(loan: RefLoan, as_of: dt.date, want: Want) -> None:
    expected = want.as_dict()
    assert reference_figures(loan, as_of) == expected, "the reference model disagrees"
    row = build_loan(loan)
    assert engine_figures(row.pk, as_of) == expected
    portfolio_recompute(as_of=as_of)
    assert stored_figures(row) == expected_stored(expected, as_of)


# -- dpd and bucket edges ---------------------------------------------------------------

AS_OF = day("2026-11-15")


@pytest.mark.parametrize(
    ("dpd", "bucket", "penalty", "balance"),
    [
        # Due on the day itself: not overdue yet; balance is the principal owed.
        (0, "M0", "0.00", "1000.00"),
        # 1 accrual day (the day after due … as of) × 1.00; balance 1000 + 50 + 1.
        (1, "M1", "1.00", "1051.00"),
        (30, "M1", "30.00", "1080.00"),
        (31, "M2", "31.00", "1081.00"),
        (180, "M6", "180.00", "1230.00"),
        # Cap: 10,000 × 0.24 × 318 ÷ 360 = 2,120.00 − 50 interest ≫ 181.00.
        (181, "M7+", "181.00", "1231.00"),
    ],
)
def test_dpd_and_bucket_edges(dpd, bucket, penalty, balance):
    loan = loan_of(inst(AS_OF - dt.timedelta(days=dpd), p="1000.00", i="50.00"))
    overdue = ("1000.00", "50.00") if dpd else ("0.00", "0.00")
    check(loan, AS_OF, Want(dpd, bucket, *overdue, "1000.00", penalty, balance))


def test_an_installment_paid_in_full_is_not_overdue():
    # Paid per the lender's file (no dated allocation): taken as paid by its due date.
    loan = loan_of(
        inst(day("2026-11-14"), p="1000.00", i="50.00", p_paid="1000.00", i_paid="50.00"),
        inst(day("2026-12-14"), p="1000.00", i="50.00"),
    )
    check(loan, AS_OF, Want(0, "M0", "0.00", "0.00", "1000.00", "0.00", "1000.00"))


def test_dpd_counts_from_the_oldest_installment_with_anything_unpaid():
    # #1 (08-01) paid; #2 (09-01) interest unpaid; #3 (10-01) unpaid. dpd from 09-01: 75.
    # Penalty on principal only: #2 has none unpaid; #3: 1000 × 45 days (10-02 … 11-15).
    loan = loan_of(
        inst(day("2026-08-01"), p="1000.00", i="50.00", p_paid="1000.00", i_paid="50.00"),
        inst(day("2026-09-01"), p="1000.00", i="50.00", p_paid="1000.00"),
        inst(day("2026-10-01"), p="1000.00", i="50.00"),
    )
    # Balance: 1000 principal + 100 interest + 45.00.
    check(loan, AS_OF, Want(75, "M3", "1000.00", "100.00", "1000.00", "45.00", "1145.00"))


# -- grace days -------------------------------------------------------------------------

GRACE = Terms(grace_days=5)


def paid_on(value_date: dt.date, p: str = "1000.00", i: str = "50.00") -> tuple[Alloc, ...]:
    return (
        Alloc(PRINCIPAL, D(p), value_date, seq=1),
        Alloc(INTEREST, D(i), value_date, seq=1),
    )


@pytest.mark.parametrize(
    ("loan", "as_of", "want"),
    [
        pytest.param(
            loan_of(inst(i="50.00"), terms=GRACE, allocations=paid_on(day("2026-10-06"))),
            day("2026-10-20"),
            Want(0, "M0", "0.00", "0.00", "0.00", "0.00", "0.00"),
            id="paid in full on due + grace: no penalty at all",
        ),
        pytest.param(
            loan_of(inst(i="50.00"), terms=GRACE, allocations=paid_on(day("2026-10-07"))),
            day("2026-10-20"),
            # Paid a day past grace: accrues from 10-02 through 10-07 (the payment day
            # still bears penalty): 6 days × 1.00. Only the penalty is left.
            Want(0, "M0", "0.00", "0.00", "0.00", "6.00", "6.00"),
            id="paid the day after grace: the whole period from the day after due",
        ),
        pytest.param(
            loan_of(inst(i="50.00"), terms=GRACE),
            day("2026-10-06"),
            # D − due = 5 = grace: nothing yet, but overdue and M1.
            Want(5, "M1", "1000.00", "50.00", "1000.00", "0.00", "1050.00"),
            id="unpaid on the last grace day: nothing accrued yet",
        ),
        pytest.param(
            loan_of(inst(i="50.00"), terms=GRACE),
            day("2026-10-07"),
            # D − due = 6 > 5: 10-02 … 10-07 = 6 days × 1.00.
            Want(6, "M1", "1000.00", "50.00", "1000.00", "6.00", "1056.00"),
            id="unpaid the first day past grace: grace days included",
        ),
        pytest.param(
            loan_of(
                inst(i="50.00"),
                terms=GRACE,
                allocations=(Alloc(PRINCIPAL, D("1000.00"), day("2026-10-03"), seq=1),),
            ),
            day("2026-10-20"),
            # Not paid in full by 10-06 (interest open), so it accrues, on principal only:
            # 10-02 and 10-03 bear 1000 (unpaid at the end of 10-01 and 10-02), later
            # days 0 → 2.00. dpd from 10-01 for the interest: 19.
            Want(19, "M1", "0.00", "50.00", "0.00", "2.00", "52.00"),
            id="principal paid within grace, interest not: principal days only",
        ),
        pytest.param(
            loan_of(
                inst(i="50.00"),
                terms=replace(GRACE, compound_penalty=True),
                allocations=(Alloc(PRINCIPAL, D("1000.00"), day("2026-10-03"), seq=1),),
            ),
            day("2026-10-20"),
            # 复利: 10-02, 10-03 bear 105,000 fen; 10-04 … 10-20 (17 days) bear 5,000:
            # 210,000 + 85,000 = 295,000 fen-days × 0.36 ÷ 360 = 295 fen.
            Want(19, "M1", "0.00", "50.00", "0.00", "2.95", "52.95"),
            id="the same with 复利: the unpaid interest bears penalty too",
        ),
    ],
)
def test_grace_days(loan, as_of, want):
    check(loan, as_of, want)


# -- day-count basis and rounding -------------------------------------------------------

AS_OF_30 = day("2026-10-31")  # 30 accrual days after DUE: 10-02 … 10-31


@pytest.mark.parametrize(
    ("loan", "as_of", "want"),
    [
        pytest.param(
            loan_of(inst(), terms=Terms(penalty_annual_rate=D("0.18"), day_count_basis=360)),
            AS_OF_30,
            # 100,000 fen × 30 days = 3,000,000 × 0.18 ÷ 360 = 1,500 fen.
            Want(30, "M1", "1000.00", "0.00", "1000.00", "15.00", "1015.00"),
            id="basis 360",
        ),
        pytest.param(
            loan_of(inst(), terms=Terms(penalty_annual_rate=D("0.18"), day_count_basis=365)),
            AS_OF_30,
            # 3,000,000 × 0.18 ÷ 365 = 1,479.45 fen → 1,479.
            Want(30, "M1", "1000.00", "0.00", "1000.00", "14.79", "1014.79"),
            id="basis 365",
        ),
        pytest.param(
            loan_of(inst(p="10.00"), terms=Terms(penalty_annual_rate=D("0.18"))),
            day("2026-10-02"),
            # 1,000 fen × 1 day × 0.18 ÷ 360 = 0.5 fen → half up → 1 fen.
            Want(1, "M1", "10.00", "0.00", "10.00", "0.01", "10.01"),
            id="a half fen rounds up",
        ),
        pytest.param(
            loan_of(
                inst(p="5.00"), terms=Terms(penalty_annual_rate=D("0.365"), day_count_basis=365)
            ),
            day("2026-10-02"),
            # 500 fen × 1 day × 0.365 ÷ 365 = 0.5 fen → 1 fen.
            Want(1, "M1", "5.00", "0.00", "5.00", "0.01", "5.01"),
            id="a half fen rounds up on basis 365",
        ),
        pytest.param(
            loan_of(
                inst(p="10.00"),
                inst(p="10.00"),
                terms=Terms(penalty_annual_rate=D("0.18")),
            ),
            day("2026-10-02"),
            # Two installments of 1,000 fen, 1 day each: 2,000 fen-days → 1.0 fen. Rounding
            # per installment would give 2 fen; the spec rounds once per loan.
            Want(1, "M1", "20.00", "0.00", "20.00", "0.01", "20.01"),
            id="rounded once per loan, not per installment",
        ),
        pytest.param(
            loan_of(inst(p="10.00"), terms=Terms(penalty_annual_rate=D("0.18"))),
            day("2026-10-04"),
            # 1,000 fen × 3 days = 3,000 fen-days → 1.5 fen → 2 fen (per day: 3 fen).
            Want(3, "M1", "10.00", "0.00", "10.00", "0.02", "10.02"),
            id="rounded once per loan, not per day",
        ),
        pytest.param(
            loan_of(inst(), penalty_annual_rate="0.72"),
            AS_OF_30,
            # The loan's own rate wins over the product's 0.36: 2.00 a day × 30.
            Want(30, "M1", "1000.00", "0.00", "1000.00", "60.00", "1060.00"),
            id="the loan's own penalty rate",
        ),
        pytest.param(
            loan_of(inst(p_paid="400.00")),
            AS_OF_30,
            # 400 paid per the file (undated → by the due date): 600 × 30 × 0.001 = 18.00.
            Want(30, "M1", "600.00", "0.00", "600.00", "18.00", "618.00"),
            id="paid without a dated allocation counts from the due date",
        ),
    ],
)
def test_day_count_basis_and_rounding(loan, as_of, want):
    check(loan, as_of, want)


# -- 复利 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compound", "want"),
    [
        # Principal only: 1000 × 30 days × 0.001 = 30.00; balance 1000 + 100 + 30.
        (False, Want(30, "M1", "1000.00", "100.00", "1000.00", "30.00", "1130.00")),
        # Principal and interest: 1100 × 30 × 0.001 = 33.00.
        (True, Want(30, "M1", "1000.00", "100.00", "1000.00", "33.00", "1133.00")),
    ],
)
def test_compound_penalty(compound, want):
    loan = loan_of(inst(i="100.00"), terms=Terms(compound_penalty=compound))
    check(loan, AS_OF_30, want)


@pytest.mark.parametrize(
    ("compound", "penalty"),
    # Principal paid, 50.00 interest open for 30 days: nothing without 复利; with it
    # 5,000 fen × 30 = 150,000 fen-days × 0.36 ÷ 360 = 150 fen.
    [(False, "0.00"), (True, "1.50")],
)
def test_unpaid_interest_alone_bears_penalty_only_with_compound(compound, penalty):
    loan = loan_of(inst(i="50.00", p_paid="1000.00"), terms=Terms(compound_penalty=compound))
    balance = str(D("50.00") + D(penalty))
    check(loan, AS_OF_30, Want(30, "M1", "0.00", "50.00", "0.00", penalty, balance))


# -- the cost cap -----------------------------------------------------------------------

SEP1 = day("2026-09-01")


@pytest.mark.parametrize(
    ("loan", "as_of", "want"),
    [
        pytest.param(
            loan_of(
                inst(i="20.00"),
                terms=Terms(penalty_annual_rate=D("0.72"), annual_cost_cap=D("0.36")),
                principal="1000.00",
                disbursed_on=SEP1,
            ),
            day("2026-10-11"),
            # Cap: 1000 × 0.36 × 40 days ÷ 360 = 40.00; charges: 20.00 interest due, so
            # room 20.00. Penalty: 2.00 a day × 10 = 20.00 = the room: not cut.
            Want(10, "M1", "1000.00", "20.00", "1000.00", "20.00", "1040.00"),
            id="exactly at the cap: not capped",
        ),
        pytest.param(
            loan_of(
                inst(i="20.00"),
                terms=Terms(penalty_annual_rate=D("0.72"), annual_cost_cap=D("0.36")),
                principal="1000.00",
                disbursed_on=SEP1,
            ),
            day("2026-10-12"),
            # Cap 41.00, room 21.00; accrued 22.00 → cut to 21.00, capped.
            Want(11, "M1", "1000.00", "20.00", "1000.00", "21.00", "1041.00", penalty_capped=True),
            id="one day later: cut to the room left",
        ),
        pytest.param(
            loan_of(
                inst(i="20.00"),
                terms=Terms(
                    penalty_annual_rate=D("0.73"), day_count_basis=365, annual_cost_cap=D("0.24")
                ),
                principal="1000.00",
                disbursed_on=SEP1,
            ),
            day("2026-12-13"),
            # Cap: 1000 × 0.24 × 103 ÷ 365 = 67.726… → rounded down 67.72; room 47.72.
            # Accrued: 2.00 a day (0.73 ÷ 365 × 1000) × 73 days = 146.00 → 47.72.
            Want(73, "M3", "1000.00", "20.00", "1000.00", "47.72", "1067.72", penalty_capped=True),
            id="the cap is rounded down to the fen",
        ),
        pytest.param(
            loan_of(
                inst(i="100.00"),
                principal="1000.00",
                disbursed_on=day("2026-09-25"),
            ),
            day("2026-10-11"),
            # Cap: 1000 × 0.24 × 16 ÷ 360 = 10.66; the interest due alone (100.00) is past
            # it: the room is 0, not negative. Accrued 10.00 → 0, capped.
            Want(10, "M1", "1000.00", "100.00", "1000.00", "0.00", "1100.00", penalty_capped=True),
            id="no room left: penalty 0, never negative",
        ),
        pytest.param(
            loan_of(
                inst(p="500.00", i="10.00"),
                inst(day("2026-10-21"), p="500.00", i="10.00"),
                terms=Terms(penalty_annual_rate=D("1.26"), annual_cost_cap=D("0.36")),
                principal="1000.00",
                disbursed_on=SEP1,
            ),
            day("2026-10-21"),
            # Cap: 1000 × 0.36 × 50 ÷ 360 = 50.00; interest of installments due on or
            # before the day: 10 + 10 (the second is due today) → room 30.00. Accrued:
            # 50,000 fen × 20 days × 1.26 ÷ 360 = 3,500 fen → cut to 30.00. The second
            # installment is not overdue yet.
            Want(20, "M1", "500.00", "10.00", "1000.00", "30.00", "1040.00", penalty_capped=True),
            id="interest due on the day itself counts against the cap",
        ),
        pytest.param(
            loan_of(
                inst(i="20.00"),
                terms=Terms(penalty_annual_rate=D("0.72"), annual_cost_cap=D("0.36")),
                allocations=(Alloc(PENALTY, D("5.00"), day("2026-10-10")),),
                principal="1000.00",
                disbursed_on=SEP1,
            ),
            day("2026-10-12"),
            # Capped accrual 21.00 − 5.00 paid = 16.00 owed.
            Want(
                11,
                "M1",
                "1000.00",
                "20.00",
                "1000.00",
                "16.00",
                "1036.00",
                penalty_paid="5.00",
                penalty_capped=True,
            ),
            id="penalty paid comes off the capped accrual",
        ),
    ],
)
def test_cost_cap(loan, as_of, want):
    check(loan, as_of, want)


def test_a_capped_loan_stays_capped_as_the_penalty_grows_past_the_cap():
    loan = loan_of(
        inst(i="20.00"),
        terms=Terms(penalty_annual_rate=D("0.72"), annual_cost_cap=D("0.36")),
        principal="1000.00",
        disbursed_on=SEP1,
    )
    row = build_loan(loan)
    # 10-31: cap 1000 × 0.36 × 60 ÷ 360 = 60.00, room 40.00; accrued 30 × 2.00 = 60.00.
    portfolio_recompute(as_of=AS_OF_30)
    row.refresh_from_db()
    assert (row.penalty, row.penalty_capped, row.balance) == (D("40.00"), True, D("1060.00"))


# -- backdated and reversed allocations -------------------------------------------------


def test_a_backdated_payment_reduces_the_penalty_from_its_value_date():
    loan = loan_of(inst())
    row = build_loan(loan)
    portfolio_recompute(as_of=AS_OF_30)
    # Unpaid 10-02 … 10-31: 30.00.
    assert ref.stored(row) == {
        "dpd": 30,
        "bucket": "M1",
        "overdue_principal": D("1000.00"),
        "overdue_interest": D("0.00"),
        "penalty": D("30.00"),
        "penalty_capped": False,
        "balance": D("1030.00"),
    }

    # Posted on 10-31 with value date 10-11: 10-02 … 10-11 still bear 1000 (10-11 is the
    # payment day, unpaid at the end of 10-10) = 10.00; nothing after.
    paid = Alloc(PRINCIPAL, D("1000.00"), day("2026-10-11"), seq=1)
    post_allocation(row, paid)
    later = ref.with_allocation(loan, paid)
    portfolio_recompute(as_of=AS_OF_30)
    want = Want(0, "M0", "0.00", "0.00", "0.00", "10.00", "10.00")
    assert stored_figures(row) == expected_stored(want.as_dict(), AS_OF_30)
    assert reference_figures(later, AS_OF_30) == want.as_dict()
    assert engine_figures(row.pk, AS_OF_30) == want.as_dict()

    # History as of earlier days, the payment known: 10-05 has 4 days, still overdue;
    # 10-11 (the value date) has nothing overdue and 10 days of penalty.
    for as_of, w in [
        (day("2026-10-05"), Want(4, "M1", "1000.00", "0.00", "1000.00", "4.00", "1004.00")),
        (day("2026-10-11"), Want(0, "M0", "0.00", "0.00", "0.00", "10.00", "10.00")),
    ]:
        assert reference_figures(later, as_of) == w.as_dict()
        assert engine_figures(row.pk, as_of) == w.as_dict(), as_of


def test_a_partial_backdated_payment_lowers_the_base_from_its_value_date():
    # 400 with value date 10-11: 10 days × 1.00 + 20 days (10-12 … 10-31) × 0.60 = 22.00.
    loan = loan_of(inst(), allocations=(Alloc(PRINCIPAL, D("400.00"), day("2026-10-11"), seq=1),))
    check(loan, AS_OF_30, Want(30, "M1", "600.00", "0.00", "600.00", "22.00", "622.00"))


def test_a_payment_value_dated_after_the_day_does_not_count_yet():
    # Paid 11-05, seen as of 10-31: everything as if unpaid (30.00); as of 11-10:
    # 10-02 … 11-05 = 35 days × 1.00, nothing overdue.
    loan = loan_of(inst(), allocations=(Alloc(PRINCIPAL, D("1000.00"), day("2026-11-05"), seq=1),))
    check(loan, AS_OF_30, Want(30, "M1", "1000.00", "0.00", "1000.00", "30.00", "1030.00"))
    row_figures = reference_figures(loan, day("2026-11-10"))
    assert row_figures == Want(0, "M0", "0.00", "0.00", "0.00", "35.00", "35.00").as_dict()


def test_a_reversed_allocation_counts_nowhere():
    # The reversed principal line and the reversed penalty line change nothing: 30.00.
    loan = loan_of(
        inst(),
        allocations=(
            Alloc(PRINCIPAL, D("1000.00"), day("2026-10-11"), seq=1, is_reversed=True),
            Alloc(PENALTY, D("10.00"), day("2026-10-20"), is_reversed=True),
        ),
    )
    check(loan, AS_OF_30, Want(30, "M1", "1000.00", "0.00", "1000.00", "30.00", "1030.00"))


def test_a_credit_line_counts_nowhere():
    loan = loan_of(inst(), allocations=(Alloc("credit", D("500.00"), day("2026-10-11")),))
    check(loan, AS_OF_30, Want(30, "M1", "1000.00", "0.00", "1000.00", "30.00", "1030.00"))


# -- pauses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pauses", "terms", "penalty"),
    [
        # 10-11 … 10-20 inclusive: 10 days off → 20.00.
        ((Pause(day("2026-10-11"), day("2026-10-20")),), Terms(), "20.00"),
        # Open-ended from 10-21: 10-02 … 10-20 = 19 days.
        ((Pause(day("2026-10-21")),), Terms(), "19.00"),
        # One day, the as-of day itself: 29.00.
        ((Pause(day("2026-10-31"), day("2026-10-31")),), Terms(), "29.00"),
        # After the day: no effect.
        ((Pause(day("2026-11-05")),), Terms(), "30.00"),
        # Two pauses: 10-02 … 10-03 and 10-30 … open: 30 − 2 − 2 = 26.00.
        (
            (Pause(day("2026-10-02"), day("2026-10-03")), Pause(day("2026-10-30"))),
            Terms(),
            "26.00",
        ),
        # Grace 5, a pause inside the grace days: past grace the whole period accrues
        # except the paused days: 30 − 2 = 28.00.
        ((Pause(day("2026-10-02"), day("2026-10-03")),), Terms(grace_days=5), "28.00"),
    ],
)
def test_a_pause_stops_accrual_for_its_days(pauses, terms, penalty):
    loan = loan_of(inst(), terms=terms, pauses=pauses)
    balance = str(D("1000.00") + D(penalty))
    check(loan, AS_OF_30, Want(30, "M1", "1000.00", "0.00", "1000.00", penalty, balance))


# -- waiver lines -----------------------------------------------------------------------


def _as_waiver_lines(loan: Any, keep: set[tuple[str, str]]) -> None:
    """Turn the loan's allocation lines into the waiver lines of a settlement (same
    installment, component, amount, value date and reversal), except those whose
    (component, amount) is in ``keep``; the installments' paid fields stay as they are,
    as a settlement adds its waivers to them."""
    from cuishou.cases.models import Settlement, WaiverLine
    from cuishou.payments.models import PaymentAllocation

    case = Case.objects.create(
        client=loan.client, debtor=loan.debtor, stage="phone", status="closed",
        bucket="M1", dpd=0, overdue_amount=D("0"), balance=D("0"),
        opened_on=day("2026-10-02"), closed_on=day("2026-10-31"),
    )  # fmt: skip
    settlement = Settlement.objects.create(
        case=case, balance=D("1"), penalty_waived=D("0"), interest_waived=D("0"),
        principal_waived=D("0"), discount=D("0"), settled_amount=D("1"),
        deadline=day("2026-10-31"), reason="test", status="completed",
        requested_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    for line in PaymentAllocation.objects.filter(loan=loan):
        if (line.component, str(line.amount)) in keep:
            continue
        WaiverLine.objects.create(
            settlement=settlement, loan=loan, installment=line.installment,
            component=line.component, amount=line.amount, value_date=line.value_date,
            is_reversed=line.is_reversed,
        )  # fmt: skip
        line.delete()


def test_waiver_lines_count_exactly_like_payment_allocations():
    # Two installments of 1,000.00 due 10-01 and 10-11 (1.00 a day each while unpaid).
    # The first: 300 paid 10-06 (kept as a payment) and 700 waived 10-21; the second:
    # 1,000 waived 10-16 (waiver lines only); 4.00 penalty waived 10-26; a reversed
    # waiver of 500 that counts nowhere.
    second = day("2026-10-11")
    allocations = (
        Alloc(PRINCIPAL, D("300.00"), day("2026-10-06"), seq=1),
        Alloc(PRINCIPAL, D("700.00"), day("2026-10-21"), seq=1),
        Alloc(PRINCIPAL, D("1000.00"), day("2026-10-16"), seq=2),
        Alloc(PENALTY, D("4.00"), day("2026-10-26")),
        Alloc(PRINCIPAL, D("500.00"), day("2026-10-12"), seq=2, is_reversed=True),
    )
    loan = loan_of(inst(), inst(second), allocations=allocations)
    paid = build_loan(loan)
    waived = build_loan(loan)
    _as_waiver_lines(waived, keep={(PRINCIPAL, "300.00")})
    # As of 10-31: first 10-02 … 10-06 × 1.00 + 10-07 … 10-21 × 0.70 = 5 + 10.50;
    # second 10-12 … 10-16 × 1.00 = 5; 20.50 accrued, 4.00 paid: 16.50 owed.
    want = Want(0, "M0", "0.00", "0.00", "0.00", "16.50", "16.50", penalty_paid="4.00")
    assert reference_figures(loan, AS_OF_30) == want.as_dict()
    for as_of in (day("2026-10-05"), day("2026-10-14"), day("2026-10-20"), AS_OF_30):
        expected = reference_figures(loan, as_of)
        assert engine_figures(waived.pk, as_of) == expected, as_of
        assert engine_figures(paid.pk, as_of) == expected, as_of
    portfolio_recompute(as_of=AS_OF_30)
    for row in (paid, waived):
        assert stored_figures(row) == expected_stored(want.as_dict(), AS_OF_30)


# -- penalty paid -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allocations", "as_of", "want"),
    [
        pytest.param(
            (Alloc(PENALTY, D("12.50"), day("2026-10-20")),),
            AS_OF_30,
            # 30.00 accrued − 12.50 paid.
            Want(30, "M1", "1000.00", "0.00", "1000.00", "17.50", "1017.50", penalty_paid="12.50"),
            id="penalty paid reduces what is owed",
        ),
        pytest.param(
            (Alloc(PENALTY, D("12.50"), day("2026-10-20")),),
            day("2026-10-15"),
            # Before its value date: 14 days accrued, nothing paid yet.
            Want(14, "M1", "1000.00", "0.00", "1000.00", "14.00", "1014.00"),
            id="a penalty payment counts from its value date",
        ),
        pytest.param(
            (Alloc(PENALTY, D("40.00"), day("2026-10-20")),),
            AS_OF_30,
            # 30.00 − 40.00 → 0, never below.
            Want(
                30,
                "M1",
                "1000.00",
                "0.00",
                "1000.00",
                "0.00",
                "1000.00",
                penalty_paid="40.00",
                penalty_accrued="30.00",
            ),
            id="paid more than accrued: owes nothing, not a negative penalty",
        ),
    ],
)
def test_penalty_paid(allocations, as_of, want):
    check(loan_of(inst(), allocations=allocations), as_of, want)


# -- per case ---------------------------------------------------------------------------


def test_a_case_sums_the_penalty_and_balance_of_the_debtors_loans():
    client = ClientFactory(code="PEN")
    debtor = DebtorFactory()
    product = ProductFactory(client=client, penalty_annual_rate=D("0.36"))
    # Loan 1: 1000 unpaid 30 days → 30.00; loan 2: 500 unpaid 10 days (due 10-21) → 5.00.
    build_loan(loan_of(inst()), product=product, debtor=debtor)
    build_loan(loan_of(inst(day("2026-10-21"), p="500.00")), product=product, debtor=debtor)

    portfolio_recompute(as_of=AS_OF_30)

    case = Case.objects.get()
    assert (case.dpd, case.bucket) == (30, "M1")
    assert (case.overdue_amount, case.penalty, case.balance) == (
        D("1500.00"),
        D("35.00"),
        D("1535.00"),
    )
