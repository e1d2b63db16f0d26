"""Very large loans: the money columns hold 16 digits, and a loan at the top of that range
must not make the run fail (PostgreSQL raises on a 64-bit overflow) or drift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuishou.engine.selectors import loan_figures_as_of
from cuishou.engine.services import portfolio_recompute
from tests.engine.reference import Inst, RefLoan, Terms, build_loan, expected_stored, figures
from tests.engine.reference import stored as stored_figures

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("cap", [Decimal("1.000000"), Decimal("0.240000")])
def test_a_loan_of_nearly_a_hundred_million_runs_and_matches_the_reference(cap: Decimal) -> None:
    # Given a 99,999,999.99 loan four years old, nothing repaid, cost cap 100 % or 24 %
    ref = RefLoan(
        principal=Decimal("99999999.99"),
        disbursed_on=dt.date(2022, 11, 1),
        installments=(
            Inst(dt.date(2023, 1, 1), Decimal("49999999.99"), Decimal("3000000.00")),
            Inst(dt.date(2023, 6, 1), Decimal("50000000.00"), Decimal("3000000.00")),
        ),
        terms=Terms(annual_cost_cap=cap, penalty_annual_rate=Decimal("0.36")),
    )
    loan = build_loan(ref)
    as_of = dt.date(2026, 12, 10)
    # When the run computes it
    portfolio_recompute(as_of=as_of)
    # Then it does not fail, and the figures are the reference model's to the fen
    expected = figures(ref, as_of)
    assert stored_figures(loan) == expected_stored(expected)
    assert loan_figures_as_of(loan_id=loan.pk, as_of=as_of).penalty == expected.penalty
