"""Case stages (docs/engine.md, "Per case"): the default ladder by bucket, a client's
strategy table (``cases.StageRule``) over it, a hand-set stage as a floor, and an audit
event for every stage change the engine makes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.cases.models import Case, StageRule
from cuishou.cases.services import case_stage_set
from cuishou.engine.services import portfolio_recompute
from tests.engine.reference import (
    PRINCIPAL,
    Alloc,
    Inst,
    RefLoan,
    Terms,
    build_loan,
    post_allocation,
)
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 6, 1)


def after(days: int) -> dt.date:
    """The day ``days`` days after DUE: the dpd of a loan unpaid since DUE."""
    return DUE + dt.timedelta(days=days)


def overdue_loan(client: Any = None, *, grace: int = 0, second_due: dt.date | None = None) -> Any:
    """A loan with 1,000.00 due on DUE, unpaid (and optionally a second installment)."""
    installments = [Inst(DUE, Decimal("1000.00"))]
    if second_due is not None:
        installments.append(Inst(second_due, Decimal("1000.00")))
    loan = RefLoan(
        principal=Decimal("10000.00"),
        disbursed_on=dt.date(2026, 1, 1),
        installments=tuple(installments),
        terms=Terms(grace_days=grace),
    )
    return build_loan(loan, client=client or ClientFactory())


def stage_events(case: Case) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="case.stage", case_id=case.pk).order_by("seq"))


def engine_stage_events(case: Case) -> list[AuditEvent]:
    return [e for e in stage_events(case) if e.actor_label == "engine"]


@pytest.mark.parametrize(
    ("dpd", "stage"),
    [
        (1, "phone"),
        (30, "phone"),
        (31, "written"),
        (60, "written"),
        (61, "visit"),
        (90, "visit"),
        (91, "legal"),
        (180, "legal"),
        (181, "legal"),
    ],
)
def test_a_new_case_starts_on_the_default_ladder_by_bucket(dpd, stage):
    overdue_loan()
    portfolio_recompute(as_of=after(dpd))
    assert Case.objects.get().stage == stage


def test_an_engine_set_stage_follows_the_ladder_as_the_case_ages_and_each_move_is_audited():
    loan = overdue_loan()
    portfolio_recompute(as_of=after(20))
    case = Case.objects.get()
    assert case.stage == "phone"

    counts = portfolio_recompute(as_of=after(35))  # M2
    case.refresh_from_db()
    assert case.stage == "written"
    assert counts["stage_changes"] == 1
    [event] = engine_stage_events(case)
    assert (event.before["stage"], event.after["stage"], event.after["bucket"]) == (
        "phone",
        "written",
        "M2",
    )
    assert "rule" in event.after  # the rule that made the change

    portfolio_recompute(as_of=after(36))  # still M2: no move, no event
    assert len(engine_stage_events(case)) == 1

    portfolio_recompute(as_of=after(95))  # M4, straight past M3
    case.refresh_from_db()
    assert case.stage == "legal"
    assert [(e.before["stage"], e.after["stage"]) for e in engine_stage_events(case)] == [
        ("phone", "written"),
        ("written", "legal"),
    ]
    assert loan.debtor_id == case.debtor_id
    assert audit_verify().ok


def test_a_client_strategy_table_overrides_the_ladder_bucket_by_bucket():
    client = ClientFactory(code="STRICT")
    StageRule.objects.create(client=client, bucket="M1", stage="written")
    StageRule.objects.create(client=client, bucket="M2", stage="legal")
    overdue_loan(client)
    other = overdue_loan()  # another client: the default ladder

    portfolio_recompute(as_of=after(10))
    assert Case.objects.get(client=client).stage == "written"
    assert Case.objects.get(client=other.client).stage == "phone"

    portfolio_recompute(as_of=after(45))
    assert Case.objects.get(client=client).stage == "legal"
    assert Case.objects.get(client=other.client).stage == "written"

    # M3 has no rule in the table: the default ladder's stage for M3.
    portfolio_recompute(as_of=after(75))
    assert Case.objects.get(client=client).stage == "visit"


def test_a_rule_added_later_moves_the_open_case():
    client = ClientFactory(code="LATER")
    overdue_loan(client)
    portfolio_recompute(as_of=after(10))
    case = Case.objects.get()
    assert case.stage == "phone"

    StageRule.objects.create(client=client, bucket="M1", stage="visit")
    portfolio_recompute(as_of=after(11))

    case.refresh_from_db()
    assert case.stage == "visit"
    [event] = engine_stage_events(case)
    assert (event.before["stage"], event.after["stage"]) == ("phone", "visit")


def test_the_stage_event_names_the_rule_that_made_it():
    client = ClientFactory(code="RULES")
    StageRule.objects.create(client=client, bucket="M1", stage="visit")
    overdue_loan(client)
    portfolio_recompute(as_of=after(10))  # opened at visit by the client's M1 row
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(stage="phone")  # so the table moves it
    portfolio_recompute(as_of=after(11))  # the client's table: M1 → visit
    portfolio_recompute(as_of=after(31))  # M2 has no row: the default ladder, written

    case.refresh_from_db()
    assert case.stage == "written"
    by_table, by_ladder = engine_stage_events(case)
    assert (by_table.after["stage"], by_ladder.after["stage"]) == ("visit", "written")
    assert (by_table.after["rule"], by_ladder.after["rule"]) == ("client", "default")


def test_a_hand_set_stage_is_never_moved_back_and_moved_forward_when_the_table_says_so():
    user = UserFactory()
    overdue_loan()
    portfolio_recompute(as_of=after(10))
    case = Case.objects.get()
    case_stage_set(actor=user, case=case, stage="visit", reason="debtor moved, go and see")

    # M2 (ladder: written) and M3 (ladder: visit) are not later than the hand-set visit.
    for days in (10, 11, 45, 75):
        portfolio_recompute(as_of=after(days))
        case.refresh_from_db()
        assert case.stage == "visit", days
    assert engine_stage_events(case) == []

    # M4: the ladder says legal, later than visit: the engine moves it forward.
    counts = portfolio_recompute(as_of=after(100))
    case.refresh_from_db()
    assert case.stage == "legal"
    assert counts["stage_changes"] == 1
    [event] = engine_stage_events(case)
    assert (event.before["stage"], event.after["stage"]) == ("visit", "legal")


def test_a_hand_set_stage_below_the_table_is_raised_to_it():
    user = UserFactory()
    overdue_loan()
    portfolio_recompute(as_of=after(45))
    case = Case.objects.get()
    assert case.stage == "written"
    case_stage_set(actor=user, case=case, stage="reminder", reason="promised to pay Friday")

    portfolio_recompute(as_of=after(46))  # still M2: the table says written

    case.refresh_from_db()
    assert case.stage == "written"
    [event] = engine_stage_events(case)
    assert (event.before["stage"], event.after["stage"]) == ("reminder", "written")


def test_a_hand_set_stage_stays_when_the_bucket_improves():
    user = UserFactory()
    loan = overdue_loan(second_due=after(40))
    portfolio_recompute(as_of=after(75))  # M3: visit
    case = Case.objects.get()
    case_stage_set(actor=user, case=case, stage="legal", reason="lawyer engaged")

    # The first installment is paid: dpd now counts from the second (due day 40).
    post_allocation(loan, Alloc(PRINCIPAL, Decimal("1000.00"), after(75), seq=1))
    portfolio_recompute(as_of=after(76))  # dpd 36, M2: the ladder says written

    case.refresh_from_db()
    assert (case.bucket, case.stage) == ("M2", "legal")
    assert engine_stage_events(case) == []


def test_an_engine_set_stage_follows_the_table_back_when_the_bucket_improves():
    # docs/engine.md: the stage comes from the strategy table; only a hand-set stage is
    # a floor. So an engine-set stage follows the table down as well (here M3 → M2).
    loan = overdue_loan(second_due=after(40))
    portfolio_recompute(as_of=after(75))
    case = Case.objects.get()
    assert case.stage == "visit"

    post_allocation(loan, Alloc(PRINCIPAL, Decimal("1000.00"), after(75), seq=1))
    portfolio_recompute(as_of=after(76))  # dpd from day 40: 36 → M2

    case.refresh_from_db()
    assert (case.bucket, case.stage) == ("M2", "written")
    [event] = engine_stage_events(case)
    assert (event.before["stage"], event.after["stage"]) == ("visit", "written")


def test_within_the_grace_days_the_ladder_says_reminder():
    # Grace 5. Opened at dpd 40 (M2); the oldest period is then paid, and the next one
    # is 2 days overdue: still overdue (the case stays open) but within grace.
    loan = overdue_loan(grace=5, second_due=after(38))
    portfolio_recompute(as_of=after(40))
    case = Case.objects.get()
    assert case.stage == "written"

    post_allocation(loan, Alloc(PRINCIPAL, Decimal("1000.00"), after(40), seq=1))
    portfolio_recompute(as_of=after(40))

    case.refresh_from_db()
    assert (case.status, case.dpd, case.stage) == ("open", 2, "reminder")


def test_every_engine_stage_change_is_one_audit_event():
    clients = [ClientFactory(code=f"EV{k}") for k in range(3)]
    for client in clients:
        overdue_loan(client)
    portfolio_recompute(as_of=after(10))  # three new cases at phone (case.open events)
    before = AuditEvent.objects.filter(action="case.stage").count()

    counts = portfolio_recompute(as_of=after(40))  # all three → written

    events = AuditEvent.objects.filter(action="case.stage").count() - before
    assert counts["stage_changes"] == events == 3
    assert set(Case.objects.values_list("stage", flat=True)) == {"written"}
    assert audit_verify().ok
