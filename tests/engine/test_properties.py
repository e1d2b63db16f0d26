"""Properties of the engine over random portfolios (hypothesis).

Random schedules, payments (dated allocation lines, undated paid amounts, reversed lines,
penalty payments), pauses and product terms; then:

- the engine's figures (stored by ``portfolio_recompute`` and read by
  ``loan_figures_as_of``) equal the reference model's (tests/engine/reference.py), per
  loan and per case, for random dates; dpd, amounts and balances are never negative;
- running a date twice is a no-op: no loan, case or snapshot value changes and no audit
  event is written;
- running day by day gives the same numbers as jumping straight to the date;
- penalty never falls as the date moves on while the loan is not capped;
- a past day rewritten after payments posted late (``snapshots_rewrite``) has the snapshot
  rows a run of that day would have written had the payments been known.

Each example runs in its own transaction, rolled back after it
(``hypothesis.extra.django.TestCase``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.engine.models import CaseSnapshot
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.engine.services import portfolio_recompute, snapshots_rewrite
from cuishou.portfolio.models import Loan
from tests.engine import reference as ref
from tests.engine.reference import (
    CREDIT,
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
    yuan,
)
from tests.factories import ClientFactory, DebtorFactory

BASE = dt.date(2026, 1, 1)
# CUISHOU_ENGINE_EXAMPLES=500 for a longer hunt; the suite's default stays fast.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("CUISHOU_ENGINE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def plus(day: dt.date, n: int) -> dt.date:
    return day + dt.timedelta(days=n)


rates = st.one_of(
    st.sampled_from(["0", "0.18", "0.24", "0.36", "0.365", "0.5"]).map(Decimal),
    st.integers(0, 1_000_000).map(lambda n: Decimal(n) / 1_000_000),
)
terms_strategy = st.builds(
    Terms,
    penalty_annual_rate=rates,
    day_count_basis=st.sampled_from([360, 365]),
    compound_penalty=st.booleans(),
    grace_days=st.integers(0, 10),
    # Mostly caps that leave room for penalty; now and then a tight one.
    annual_cost_cap=st.integers(0, 3).flatmap(
        lambda k: (
            st.integers(0, 3_000_000).map(lambda n: Decimal(n) / 1_000_000)
            if k == 0
            else st.sampled_from(["0.24", "0.36", "1.00"]).map(Decimal)
        )
    ),
)


def value_offsets(grace: int) -> st.SearchStrategy[int]:
    """Days from the due date to a value date, often right at the edges that matter: the
    due date, the day after, the last grace day and the first day past grace."""
    return st.one_of(
        st.sampled_from([0, 1, grace, grace + 1, -1]),
        st.integers(-15, 150),
    )


@st.composite
def paid_lines(
    draw: st.DrawFn,
    due_fen: int,
    due: dt.date,
    disbursed: dt.date,
    seq: int,
    component: str,
    payday: dt.date | None,
    grace: int,
) -> tuple[int, list[Alloc]]:
    """What was paid of one component: the undated part (fen) and dated lines. With a
    ``payday`` the component is paid in full and every line is dated that day; without
    one, anything goes."""
    if payday is not None:
        total = due_fen
    else:
        total = draw(st.one_of(st.just(0), st.just(due_fen), st.integers(0, due_fen)))
    undated = draw(st.one_of(st.just(0), st.just(total), st.integers(0, total)))
    rest = total - undated
    amounts: list[int] = []
    if rest > 1 and draw(st.booleans()):
        first = draw(st.integers(1, rest - 1))
        amounts = [first, rest - first]
    elif rest > 0:
        amounts = [rest]
    lines = []
    for amount in amounts:
        value_date = payday or plus(due, draw(value_offsets(grace)))
        lines.append(Alloc(component, yuan(amount), max(disbursed, value_date), seq=seq))
    if draw(st.integers(0, 9)) == 0:  # now and then a reversed line
        lines.append(
            Alloc(
                component,
                yuan(draw(st.integers(1, max(due_fen, 1)))),
                plus(due, draw(value_offsets(grace))),
                seq=seq,
                is_reversed=True,
            )
        )
    return undated, lines


@st.composite
def ref_loans(draw: st.DrawFn) -> RefLoan:
    terms = draw(terms_strategy)
    grace = terms.grace_days
    disbursed = plus(BASE, draw(st.integers(0, 20)))
    gap = draw(st.sampled_from([7, 14, 30]))
    installments: list[Inst] = []
    allocations: list[Alloc] = []
    count = draw(st.integers(0, 9).flatmap(lambda k: st.just(0) if k == 0 else st.integers(1, 5)))
    for seq in range(1, count + 1):
        due = plus(disbursed, gap * seq + draw(st.integers(0, 3)))
        # Half the installments are paid in full on one day (often at an edge).
        payday = None
        if draw(st.booleans()):
            edge = st.sampled_from([grace, grace + 1, 0, 1])
            payday = max(disbursed, plus(due, draw(st.one_of(edge, value_offsets(grace)))))
        p_due = draw(st.one_of(st.integers(10_000, 300_000), st.integers(0, 2_000)))
        # Interest of a period: up to 3 % of its principal (a little more on tiny ones).
        i_due = draw(st.integers(0, max(p_due * 3 // 100, 100)))
        p_undated, p_lines = draw(paid_lines(p_due, due, disbursed, seq, PRINCIPAL, payday, grace))
        i_undated, i_lines = draw(paid_lines(i_due, due, disbursed, seq, INTEREST, payday, grace))
        installments.append(Inst(due, yuan(p_due), yuan(i_due), yuan(p_undated), yuan(i_undated)))
        allocations += p_lines + i_lines
    for _ in range(draw(st.integers(0, 2))):
        allocations.append(
            Alloc(
                PENALTY,
                yuan(draw(st.integers(1, 5_000))),
                plus(disbursed, draw(st.integers(0, 300))),
                is_reversed=draw(st.integers(0, 4)) == 0,
            )
        )
    if draw(st.integers(0, 9)) == 0:
        allocations.append(Alloc(CREDIT, yuan(draw(st.integers(1, 5_000))), plus(disbursed, 40)))
    pauses: list[Pause] = []
    anchor = installments[0].due_on if installments else disbursed
    start = plus(anchor, draw(st.integers(-5, 120)))
    for k in range(draw(st.integers(0, 2))):
        if k == 1 and draw(st.booleans()):
            pauses.append(Pause(start))  # open-ended, last
            break
        end = plus(start, draw(st.integers(0, 40)))
        pauses.append(Pause(start, end))
        start = plus(end, draw(st.integers(1, 60)))
    scheduled = sum(ref.fen(i.principal_due) for i in installments)
    principal = yuan(max(scheduled, 100) + draw(st.integers(0, 100_000)))
    return RefLoan(
        principal=principal,
        disbursed_on=disbursed,
        installments=tuple(installments),
        terms=terms,
        allocations=tuple(allocations),
        pauses=tuple(pauses),
        penalty_annual_rate=draw(st.one_of(st.none(), rates)),
    )


@dataclass(frozen=True)
class Portfolio:
    """Loans of one client; ``debtor`` says which of a few debtors owns each."""

    loans: tuple[tuple[int, RefLoan], ...]

    def build(self, code: str) -> tuple[Any, list[Any], list[Any]]:
        client = ClientFactory(code=code)
        debtors = [DebtorFactory() for _ in range(1 + max((d for d, _ in self.loans), default=0))]
        rows = [build_loan(loan, client=client, debtor=debtors[d]) for d, loan in self.loans]
        return client, debtors, rows

    def of_debtor(self, index: int) -> list[RefLoan]:
        return [loan for d, loan in self.loans if d == index]


portfolios = st.lists(st.tuples(st.integers(0, 1), ref_loans()), min_size=1, max_size=3).map(
    lambda loans: Portfolio(tuple(loans))
)
days_on = st.integers(0, 420)


def engine_figures(loan_id: int, as_of: dt.date) -> dict[str, Any]:
    f = loan_figures_as_of(loan_id=loan_id, as_of=as_of)
    return {name: getattr(f, name) for name in FIGURE_FIELDS}


FIGURE_FIELDS = (
    "dpd",
    "bucket",
    "overdue_principal",
    "overdue_interest",
    "outstanding_principal",
    "penalty_accrued",
    "penalty_paid",
    "penalty",
    "penalty_capped",
    "balance",
)


def reference_figures(loan: RefLoan, as_of: dt.date) -> dict[str, Any]:
    f = ref.figures(loan, as_of)
    values = {name: getattr(f, name) for name in FIGURE_FIELDS}
    # The engine's ``penalty_accrued`` is the accrual after the cap.
    values["penalty_accrued"] = f.penalty_after_cap
    return values


def loan_state() -> list[dict[str, Any]]:
    return list(
        Loan.objects.order_by("pk").values("pk", "computed_as_of", "status", *ref.STORED_FIELDS)
    )


CASE_SKIP = {"created_at", "updated_at"}


def case_state() -> list[dict[str, Any]]:
    names = [f.attname for f in Case._meta.concrete_fields if f.name not in CASE_SKIP]
    return list(Case.objects.order_by("pk").values(*names))


def snapshot_state() -> list[dict[str, Any]]:
    return list(
        CaseSnapshot.objects.order_by("as_of", "case_id").values(
            "as_of", "case_id", "client_id", "bucket", "dpd", "stage", "overdue_amount", "balance"
        )
    )


def whole_state() -> dict[str, Any]:
    return {
        "loans": loan_state(),
        "cases": case_state(),
        "snapshots": snapshot_state(),
        "audit_events": AuditEvent.objects.count(),
    }


def as_of_for(portfolio: Portfolio, offset: int) -> dt.date:
    """A day ``offset`` days after the latest disbursement (never before it)."""
    latest = max(loan.disbursed_on for _, loan in portfolio.loans)
    return plus(latest, offset)


class EngineEqualsReference(TestCase):
    @PROPERTY_SETTINGS
    @given(portfolio=portfolios, offset=days_on, other=days_on)
    def test_loan_and_case_figures_equal_the_reference(
        self, portfolio: Portfolio, offset: int, other: int
    ) -> None:
        client, debtors, rows = portfolio.build("P")
        as_of = as_of_for(portfolio, offset)

        portfolio_recompute(as_of=as_of)

        for (_, loan), row in zip(portfolio.loans, rows, strict=True):
            want = reference_figures(loan, as_of)
            assert ref.stored(row) == {k: want[k] for k in ref.STORED_FIELDS}
            assert row.computed_as_of == as_of
            assert engine_figures(row.pk, as_of) == want
            # Any other day, read without a run.
            other_day = as_of_for(portfolio, other)
            assert engine_figures(row.pk, other_day) == reference_figures(loan, other_day)
            for name in FIGURE_FIELDS:
                if name not in ("bucket", "penalty_capped"):
                    assert want[name] >= 0, name

        for index, debtor in enumerate(debtors):
            expected = ref.case_figures(portfolio.of_debtor(index), as_of)
            case = Case.objects.filter(client=client, debtor=debtor).first()
            if expected.dpd <= expected.grace_days:
                assert case is None  # a first run opens cases beyond grace only
                continue
            assert case is not None
            assert (case.status, case.dpd, case.bucket) == ("open", expected.dpd, expected.bucket)
            assert (case.overdue_amount, case.penalty, case.balance) == (
                expected.overdue_amount,
                expected.penalty,
                expected.balance,
            )
            assert case.stage == ref.table_stage(expected.dpd, expected.grace_days)
            snap = CaseSnapshot.objects.get(as_of=as_of, case=case)
            assert (snap.bucket, snap.dpd, snap.stage, snap.overdue_amount, snap.balance) == (
                expected.bucket,
                expected.dpd,
                case.stage,
                expected.overdue_amount,
                expected.balance,
            )
        assert CaseSnapshot.objects.filter(as_of=as_of).count() == Case.objects.count()


class RunningTwiceIsANoOp(TestCase):
    @PROPERTY_SETTINGS
    @given(portfolio=portfolios, first=days_on, step=st.integers(0, 120))
    def test_a_second_run_of_the_same_day_changes_nothing(
        self, portfolio: Portfolio, first: int, step: int
    ) -> None:
        portfolio.build("T")
        # An earlier run first, so the second date finds cases to update, cure or re-stage.
        portfolio_recompute(as_of=as_of_for(portfolio, first))
        as_of = as_of_for(portfolio, first + step)
        portfolio_recompute(as_of=as_of)
        before = whole_state()

        portfolio_recompute(as_of=as_of)

        assert whole_state() == before


class DayByDayEqualsJumping(TestCase):
    @PROPERTY_SETTINGS
    @given(portfolio=portfolios, start=days_on, span=st.integers(1, 12))
    def test_day_by_day_gives_the_numbers_of_a_jump(
        self, portfolio: Portfolio, start: int, span: int
    ) -> None:
        # The same portfolio twice, under two clients: one run every day, one jump.
        daily, daily_debtors, daily_rows = portfolio.build("DAILY")
        jump, jump_debtors, jump_rows = portfolio.build("JUMP")
        first = as_of_for(portfolio, start)
        last = plus(first, span)
        for n in range(span + 1):
            portfolio_recompute(as_of=plus(first, n), client=daily)
        portfolio_recompute(as_of=first, client=jump)
        portfolio_recompute(as_of=last, client=jump)

        # The figures agree; the day stored with them may not: a run leaves a loan whose
        # figures did not change alone, so day by day it keeps the day they last changed.
        assert [ref.stored(r) for r in daily_rows] == [ref.stored(r) for r in jump_rows]
        assert all(r.computed_as_of <= last for r in [*daily_rows, *jump_rows])
        for (_, loan), row in zip(portfolio.loans, jump_rows, strict=True):
            assert ref.stored(row) == {
                k: v for k, v in reference_figures(loan, last).items() if k in ref.STORED_FIELDS
            }

        # Cases follow a path (a case opened and cured on the way exists only in the
        # daily run), so compare the cases both runs have.
        for a, b in zip(daily_debtors, jump_debtors, strict=True):
            case_a = Case.objects.filter(client=daily, debtor=a).first()
            case_b = Case.objects.filter(client=jump, debtor=b).first()
            if case_a is None or case_b is None:
                assert case_b is None, "the jump opened a case the daily run did not"
                continue
            fields = ("dpd", "bucket", "overdue_amount", "penalty", "balance", "computed_as_of")
            if case_a.status == "closed" or case_b.status == "closed":
                # Paid off: closed on the day it was (daily) or on the jump's last day.
                assert (case_a.status, case_a.closure) == (case_b.status, case_b.closure)
                fields = fields[:-1]
            assert [getattr(case_a, f) for f in fields] == [getattr(case_b, f) for f in fields]
            if case_a.status == case_b.status == "open":
                assert case_a.stage == case_b.stage
                snap_a = CaseSnapshot.objects.filter(as_of=last, case=case_a)
                snap_b = CaseSnapshot.objects.filter(as_of=last, case=case_b)
                keys = ("bucket", "dpd", "stage", "overdue_amount", "balance")
                assert list(snap_a.values(*keys)) == list(snap_b.values(*keys))


class PenaltyIsMonotone(TestCase):
    @PROPERTY_SETTINGS
    @given(portfolio=portfolios, start=days_on, steps=st.lists(st.integers(0, 60), max_size=6))
    def test_penalty_never_falls_while_not_capped(
        self, portfolio: Portfolio, start: int, steps: list[int]
    ) -> None:
        _, _, rows = portfolio.build("M")
        days = [as_of_for(portfolio, start)]
        for step in steps:
            days.append(plus(days[-1], step))
        for row in rows:
            seen = [loan_figures_as_of(loan_id=row.pk, as_of=d) for d in days]
            for earlier, later in itertools.pairwise(seen):
                if not later.penalty_capped:
                    assert earlier.penalty_accrued <= later.penalty_accrued, (
                        earlier.as_of,
                        later.as_of,
                    )

        # The stored penalty too, for loans without penalty payments (whose owed figure
        # would drop when a payment's value date passes).
        plain = [
            row
            for (_, loan), row in zip(portfolio.loans, rows, strict=True)
            if not any(a.component == PENALTY and not a.is_reversed for a in loan.allocations)
        ]
        previous: dict[int, Decimal] = {}
        for d in days:
            portfolio_recompute(as_of=d)
            for row in plain:
                row.refresh_from_db()
                if not row.penalty_capped and row.pk in previous:
                    assert previous[row.pk] <= row.penalty, d
                previous[row.pk] = row.penalty


class RewriteEqualsAKnownRun(TestCase):
    @PROPERTY_SETTINGS
    @given(portfolio=portfolios, x=days_on, gap=st.integers(1, 60), data=st.data())
    def test_a_rewritten_day_equals_the_run_that_knew_the_payments(
        self, portfolio: Portfolio, x: int, gap: int, data: st.DataObject
    ) -> None:
        # KNOWN has every allocation line from the start. LATE gets some of them only
        # after day X was run (posted on day Y with their own value dates); then X is
        # rewritten. X's rows must be what KNOWN's run of X wrote.
        late_lines: list[list[Alloc]] = []
        early: list[tuple[int, RefLoan]] = []
        for debtor, loan in portfolio.loans:
            mask = data.draw(st.lists(st.booleans(), min_size=len(loan.allocations)))
            flags = [*mask, *[False] * len(loan.allocations)][: len(loan.allocations)]
            late_lines.append([a for a, m in zip(loan.allocations, flags, strict=True) if m])
            kept = tuple(a for a, m in zip(loan.allocations, flags, strict=True) if not m)
            early.append((debtor, replace(loan, allocations=kept)))
        known, known_debtors, _ = portfolio.build("KNOWN")
        late_client, late_debtors, late_rows = Portfolio(tuple(early)).build("LATE")
        day_x = as_of_for(portfolio, x)
        day_y = plus(day_x, gap)

        portfolio_recompute(as_of=day_x)
        keys = ("bucket", "dpd", "stage", "overdue_amount", "balance")
        known_x = {
            i: list(CaseSnapshot.objects.filter(as_of=day_x, case=c).values(*keys))
            for i, debtor in enumerate(known_debtors)
            if (c := Case.objects.filter(client=known, debtor=debtor).first()) is not None
        }
        for row, lines in zip(late_rows, late_lines, strict=True):
            for line in lines:
                post_allocation(row, line)
        portfolio_recompute(as_of=day_y)
        snapshots_rewrite(day=day_x)

        for i, debtor in enumerate(late_debtors):
            case = Case.objects.filter(client=late_client, debtor=debtor).first()
            if case is None or i not in known_x:
                continue  # compare the cases both worlds had on day X
            got = list(CaseSnapshot.objects.filter(as_of=day_x, case=case).values(*keys))
            assert got == known_x[i]
            expected = ref.case_figures(portfolio.of_debtor(i), day_x)
            if got:
                assert got[0] | {"stage": None} == {
                    "bucket": expected.bucket,
                    "dpd": expected.dpd,
                    "stage": None,
                    "overdue_amount": expected.overdue_amount,
                    "balance": expected.balance,
                }
            else:
                assert not expected.anything_overdue
