"""A plain-Python reference model of docs/engine.md, and a builder of the same situation in
the database.

The model is written to be obviously right rather than fast: it walks the calendar one
accrual day at a time, asks "what was unpaid at the end of the day before?" by summing the
allocation lines whose value date had passed, and converts to money exactly as the spec
says (fen × days summed per loan, then rounded half up once). Amounts are kept in integer
fen and exact fractions; nothing here imports the engine.

Inputs are plain dataclasses:

- ``Inst``: an installment's due date and amounts, and what the lender's file says was paid
  *without* a dated allocation (taken as paid on or before the due date);
- ``Alloc``: one allocation line (principal / interest of installment ``seq``, or penalty,
  or credit), its value date, reversed or not;
- ``Pause``: a penalty pause (inclusive, open-ended when ``ends_on`` is None);
- ``Terms``: the product's terms; ``RefLoan``: the loan.

``build_loan`` creates the same loan in the database (factories for client, debtor,
product and loan; ``Installment``, ``Payment``, ``PaymentAllocation`` and ``PenaltyPause``
rows directly). An installment's paid fields are the undated part plus every allocation
line that is not reversed, because the paid fields are the totals known today.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

ZERO = Decimal("0.00")

PRINCIPAL = "principal"
INTEREST = "interest"
PENALTY = "penalty"
CREDIT = "credit"

# Written out on purpose (not imported from the code under test).
BUCKETS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "M0"),
    (1, 30, "M1"),
    (31, 60, "M2"),
    (61, 90, "M3"),
    (91, 120, "M4"),
    (121, 150, "M5"),
    (151, 180, "M6"),
)
STAGES = ("reminder", "phone", "written", "visit", "legal")
DEFAULT_LADDER: dict[str, str] = {
    "M1": "phone",
    "M2": "written",
    "M3": "visit",
    "M4": "legal",
    "M5": "legal",
    "M6": "legal",
    "M7+": "legal",
}


def D(text: str | int) -> Decimal:  # noqa: N802
    return Decimal(text)


def fen(amount: Decimal) -> int:
    """Yuan with at most two places → integer fen (exact)."""
    value = amount * 100
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(value)


def yuan(fen_amount: int) -> Decimal:
    return (Decimal(fen_amount) / 100).quantize(Decimal("0.01"))


def round_half_up(x: Fraction) -> int:
    """Nearest integer, halves away from zero (x is never negative here)."""
    if x < 0:
        raise ValueError("negative")
    return math.floor(x + Fraction(1, 2))


def bucket_of(dpd: int) -> str:
    for low, high, name in BUCKETS:
        if low <= dpd <= high:
            return name
    return "M7+"


def days(a: dt.date, b: dt.date) -> int:
    """b − a in days."""
    return (b - a).days


@dataclass(frozen=True)
class Terms:
    """The product's terms."""

    penalty_annual_rate: Decimal = Decimal("0.36")
    day_count_basis: int = 360
    compound_penalty: bool = False
    grace_days: int = 0
    annual_cost_cap: Decimal = Decimal("0.24")
    annual_rate: Decimal = Decimal("0.18")


@dataclass(frozen=True)
class Inst:
    due_on: dt.date
    principal_due: Decimal
    interest_due: Decimal = ZERO
    # Paid according to the lender's file, not explained by any dated allocation.
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO


@dataclass(frozen=True)
class Alloc:
    component: str  # principal | interest | penalty | credit
    amount: Decimal
    value_date: dt.date
    seq: int | None = None  # 1-based installment, for principal and interest
    is_reversed: bool = False


@dataclass(frozen=True)
class Pause:
    starts_on: dt.date
    ends_on: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


@dataclass(frozen=True)
class RefLoan:
    principal: Decimal
    disbursed_on: dt.date
    installments: tuple[Inst, ...]
    terms: Terms = field(default_factory=Terms)
    allocations: tuple[Alloc, ...] = ()
    pauses: tuple[Pause, ...] = ()
    penalty_annual_rate: Decimal | None = None  # the loan's own rate; None → the product's


@dataclass(frozen=True)
class Figures:
    """What the spec says a loan's figures are as of a day."""

    dpd: int
    bucket: str
    overdue_principal: Decimal
    overdue_interest: Decimal
    outstanding_principal: Decimal
    penalty_accrued: Decimal  # round_half_up(fen_days × rate ÷ basis), before the cap
    penalty_after_cap: Decimal  # the accrual cut to the room left under the cost cap
    penalty_capped: bool
    penalty_paid: Decimal
    penalty: Decimal  # owed
    balance: Decimal
    fen_days: int  # Σ fen × days, before conversion (for explaining a mismatch)


# -- the model ---------------------------------------------------------------------------


def _allocated_by(loan: RefLoan, seq: int, component: str, day: dt.date) -> int:
    """Fen allocated to installment ``seq``'s ``component`` with value date ≤ ``day``."""
    return sum(
        fen(a.amount)
        for a in loan.allocations
        if not a.is_reversed and a.seq == seq and a.component == component and a.value_date <= day
    )


def _allocated_total(loan: RefLoan, seq: int, component: str) -> int:
    return sum(
        fen(a.amount)
        for a in loan.allocations
        if not a.is_reversed and a.seq == seq and a.component == component
    )


def paid_now(loan: RefLoan, seq: int) -> tuple[int, int]:
    """The installment's paid fields as stored (fen): undated part + live allocations."""
    inst = loan.installments[seq - 1]
    return (
        fen(inst.principal_paid) + _allocated_total(loan, seq, PRINCIPAL),
        fen(inst.interest_paid) + _allocated_total(loan, seq, INTEREST),
    )


def unpaid(loan: RefLoan, seq: int, day: dt.date) -> tuple[int, int]:
    """unpaid(i, day) = due − paid_now + Σ allocations to i with value date > day (fen),
    principal and interest."""
    inst = loan.installments[seq - 1]
    p_now, i_now = paid_now(loan, seq)
    later_p = _allocated_total(loan, seq, PRINCIPAL) - _allocated_by(loan, seq, PRINCIPAL, day)
    later_i = _allocated_total(loan, seq, INTEREST) - _allocated_by(loan, seq, INTEREST, day)
    return (
        fen(inst.principal_due) - p_now + later_p,
        fen(inst.interest_due) - i_now + later_i,
    )


def penalty_rate(loan: RefLoan) -> Decimal:
    if loan.penalty_annual_rate is not None:
        return loan.penalty_annual_rate
    return loan.terms.penalty_annual_rate


def penalty_fen_days(loan: RefLoan, as_of: dt.date) -> int:
    """Σ over installments and accrual days of the base (fen) the day bears."""
    g = loan.terms.grace_days
    total = 0
    for seq, inst in enumerate(loan.installments, start=1):
        due = inst.due_on
        if days(due, as_of) <= g:
            continue  # within the grace days: nothing yet
        p, i = unpaid(loan, seq, due + dt.timedelta(days=g))
        if p + i == 0:
            continue  # paid in full by the end of day due + g: nothing at all
        t = due + dt.timedelta(days=1)
        while t <= as_of:
            if not any(pause.covers(t) for pause in loan.pauses):
                p, i = unpaid(loan, seq, t - dt.timedelta(days=1))
                total += p + (i if loan.terms.compound_penalty else 0)
            t += dt.timedelta(days=1)
    return total


def figures(loan: RefLoan, as_of: dt.date) -> Figures:
    terms = loan.terms
    overdue_p = overdue_i = outstanding_p = 0
    oldest: dt.date | None = None
    contractual_interest = 0
    for seq, inst in enumerate(loan.installments, start=1):
        p, i = unpaid(loan, seq, as_of)
        assert p >= 0 and i >= 0, "paid more than due: not a valid schedule"
        outstanding_p += p
        if inst.due_on < as_of:
            overdue_p += p
            overdue_i += i
            if p + i > 0 and (oldest is None or inst.due_on < oldest):
                oldest = inst.due_on
        if inst.due_on <= as_of:
            contractual_interest += fen(inst.interest_due)
    dpd = 0 if oldest is None else days(oldest, as_of)

    fd = penalty_fen_days(loan, as_of)
    basis = terms.day_count_basis
    accrued = round_half_up(Fraction(fd) * Fraction(penalty_rate(loan)) / basis)

    cap = math.floor(
        Fraction(fen(loan.principal))
        * Fraction(terms.annual_cost_cap)
        * days(loan.disbursed_on, as_of)
        / basis
    )
    room = max(cap - contractual_interest, 0)
    after_cap = min(accrued, room)
    capped = accrued > room

    paid = sum(
        fen(a.amount)
        for a in loan.allocations
        if not a.is_reversed and a.component == PENALTY and a.value_date <= as_of
    )
    owed = max(after_cap - paid, 0)
    return Figures(
        dpd=dpd,
        bucket=bucket_of(dpd),
        overdue_principal=yuan(overdue_p),
        overdue_interest=yuan(overdue_i),
        outstanding_principal=yuan(outstanding_p),
        penalty_accrued=yuan(accrued),
        penalty_after_cap=yuan(after_cap),
        penalty_capped=capped,
        penalty_paid=yuan(paid),
        penalty=yuan(owed),
        balance=yuan(outstanding_p + overdue_i + owed),
        fen_days=fd,
    )


@dataclass(frozen=True)
class CaseFigures:
    dpd: int
    bucket: str
    overdue_amount: Decimal
    penalty: Decimal
    balance: Decimal
    grace_days: int

    @property
    def anything_overdue(self) -> bool:
        return self.overdue_amount > 0


def case_figures(loans: Iterable[RefLoan], as_of: dt.date) -> CaseFigures:
    """A debtor's figures with one client: worst dpd and the sums of the loans."""
    loans = list(loans)
    each = [figures(loan, as_of) for loan in loans]
    dpd = max((f.dpd for f in each), default=0)
    return CaseFigures(
        dpd=dpd,
        bucket=bucket_of(dpd),
        overdue_amount=sum((f.overdue_principal + f.overdue_interest for f in each), ZERO),
        penalty=sum((f.penalty for f in each), ZERO),
        balance=sum((f.balance for f in each), ZERO),
        grace_days=max((loan.terms.grace_days for loan in loans), default=0),
    )


def table_stage(dpd: int, grace: int, rules: Mapping[str, str] | None = None) -> str:
    """The stage the strategy table gives (the client's rules, else the default ladder)."""
    bucket = bucket_of(dpd)
    if rules and bucket in rules:
        return rules[bucket]
    if dpd <= grace:
        return "reminder"
    return DEFAULT_LADDER[bucket]


def stage_after(current: str, set_by_hand: bool, table: str) -> str:
    """A hand-set stage is a floor (moved forward only); otherwise the table's stage."""
    if set_by_hand and STAGES.index(table) <= STAGES.index(current):
        return current
    return table


# -- the same loan in the database -------------------------------------------------------


def build_loan(
    ref: RefLoan,
    *,
    client: Any = None,
    debtor: Any = None,
    product: Any = None,
    contract_no: str | None = None,
) -> Any:
    """Create ``ref`` in the database and return the ``Loan``. A product is made from
    ``ref.terms`` unless one is given (then its terms must match ``ref.terms``)."""
    from tests.factories import ClientFactory, DebtorFactory, LoanFactory, ProductFactory

    terms = ref.terms
    if product is None:
        product = ProductFactory(
            client=client or ClientFactory(),
            annual_rate=terms.annual_rate,
            penalty_annual_rate=terms.penalty_annual_rate,
            day_count_basis=terms.day_count_basis,
            compound_penalty=terms.compound_penalty,
            grace_days=terms.grace_days,
            annual_cost_cap=terms.annual_cost_cap,
        )
    extra = {"contract_no": contract_no} if contract_no else {}
    loan = LoanFactory(
        client=product.client,
        product=product,
        debtor=debtor or DebtorFactory(),
        principal=ref.principal,
        annual_rate=terms.annual_rate,
        penalty_annual_rate=ref.penalty_annual_rate,
        disbursed_on=ref.disbursed_on,
        **extra,
    )
    from cuishou.portfolio.models import Installment, PenaltyPause

    rows = []
    for seq, inst in enumerate(ref.installments, start=1):
        p_paid, i_paid = paid_now(ref, seq)
        rows.append(
            Installment.objects.create(
                loan=loan,
                seq=seq,
                due_on=inst.due_on,
                principal_due=inst.principal_due,
                interest_due=inst.interest_due,
                principal_paid=yuan(p_paid),
                interest_paid=yuan(i_paid),
            )
        )
    for alloc in ref.allocations:
        _allocation_row(loan, rows, alloc)
    for pause in ref.pauses:
        PenaltyPause.objects.create(
            loan=loan, starts_on=pause.starts_on, ends_on=pause.ends_on, reason="test"
        )
    return loan


def _allocation_row(loan: Any, installments: Sequence[Any], alloc: Alloc) -> None:
    from django.utils import timezone

    from cuishou.payments.models import Payment, PaymentAllocation

    payment = Payment.objects.create(
        loan=loan,
        amount=alloc.amount,
        value_date=alloc.value_date,
        status="reversed" if alloc.is_reversed else "posted",
        reversed_at=timezone.now() if alloc.is_reversed else None,
    )
    PaymentAllocation.objects.create(
        payment=payment,
        loan=loan,
        installment=installments[alloc.seq - 1] if alloc.seq else None,
        component=alloc.component,
        amount=alloc.amount,
        value_date=alloc.value_date,
        is_reversed=alloc.is_reversed,
    )


def post_allocation(loan: Any, alloc: Alloc) -> None:
    """Add one allocation line to a loan already in the database (a payment posted
    today, possibly with an earlier value date), bumping the installment's paid field."""
    from cuishou.portfolio.models import Installment

    installments = list(Installment.objects.filter(loan=loan).order_by("seq"))
    _allocation_row(loan, installments, alloc)
    if alloc.is_reversed or alloc.seq is None:
        return
    column = {PRINCIPAL: "principal_paid", INTEREST: "interest_paid"}[alloc.component]
    row = installments[alloc.seq - 1]
    # Added in Python (exact Decimal): SQLite would add the column as a float.
    paid = yuan(fen(getattr(row, column)) + fen(alloc.amount))
    Installment.objects.filter(pk=row.pk).update(**{column: paid})


def with_allocation(ref: RefLoan, alloc: Alloc) -> RefLoan:
    """``ref`` with one more allocation line (the reference twin of ``post_allocation``)."""
    return RefLoan(
        principal=ref.principal,
        disbursed_on=ref.disbursed_on,
        installments=ref.installments,
        terms=ref.terms,
        allocations=(*ref.allocations, alloc),
        pauses=ref.pauses,
        penalty_annual_rate=ref.penalty_annual_rate,
    )


STORED_FIELDS = (
    "dpd",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "penalty",
    "penalty_capped",
    "balance",
)


def stored(loan: Any) -> dict[str, Any]:
    """The loan's figures as the run stored them (read fresh from the database)."""
    loan.refresh_from_db()
    return {name: getattr(loan, name) for name in STORED_FIELDS}


def expected_stored(f: Figures) -> dict[str, Any]:
    return {name: getattr(f, name) for name in STORED_FIELDS}
