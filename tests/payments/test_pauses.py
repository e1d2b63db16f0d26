"""Penalty pauses (停息): created and ended through the portfolio services, never
overlapping, audited, and marking the debtor's history when they reach into the past."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.engine.models import RecomputeMark
from cuishou.portfolio.models import Loan, PenaltyPause
from cuishou.portfolio.services import penalty_pause_create, penalty_pause_end
from tests.factories import CaseFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    monkeypatch.setattr("cuishou.engine.marks.today_shanghai", lambda: TODAY)
    return TODAY


@pytest.fixture
def loan() -> Loan:
    return LoanFactory()


@pytest.fixture
def lead():  # type: ignore[no-untyped-def]
    return UserFactory(username="risk1")


def test_a_backdated_pause_is_stored_audited_and_marks_history_from_its_start(loan, lead):
    case = CaseFactory(client=loan.client, debtor=loan.debtor)

    pause = penalty_pause_create(
        actor=lead,
        loan=loan,
        starts_on=d("2026-10-01"),
        ends_on=d("2026-10-31"),
        reason="hardship: hospital stay",
    )

    assert (pause.starts_on, pause.ends_on, pause.created_by) == (
        d("2026-10-01"),
        d("2026-10-31"),
        lead,
    )
    event = AuditEvent.objects.get(action="loan.penalty_pause")
    assert (event.object_type, event.object_id, event.case_id) == (
        "portfolio.loan",
        str(loan.pk),
        case.pk,
    )
    assert event.after["starts_on"] == "2026-10-01" and event.after["ends_on"] == "2026-10-31"
    mark = RecomputeMark.objects.get()
    assert (mark.debtor_id, mark.client_id, mark.from_date) == (
        loan.debtor_id,
        loan.client_id,
        d("2026-10-01"),
    )


def test_a_pause_from_today_needs_no_history_rewrite(loan, lead):
    penalty_pause_create(actor=lead, loan=loan, starts_on=TODAY, reason="complaint under review")

    assert PenaltyPause.objects.filter(loan=loan, ends_on=None).exists()
    assert not RecomputeMark.objects.exists()


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [
        ("2026-10-31", "2026-11-05"),  # starts on the existing pause's last day
        ("2026-09-15", "2026-10-01"),  # ends on its first day
        ("2026-10-10", "2026-10-12"),  # inside it
        ("2026-09-01", None),  # open-ended, starting before it
    ],
)
def test_an_overlapping_pause_is_refused_naming_the_existing_dates(loan, lead, starts_on, ends_on):
    penalty_pause_create(
        actor=lead, loan=loan, starts_on=d("2026-10-01"), ends_on=d("2026-10-31"), reason="a"
    )

    with pytest.raises(ValidationError, match="2026-10-01 to 2026-10-31"):
        penalty_pause_create(
            actor=lead,
            loan=loan,
            starts_on=d(starts_on),
            ends_on=d(ends_on) if ends_on else None,
            reason="b",
        )
    assert PenaltyPause.objects.filter(loan=loan).count() == 1


def test_an_open_ended_pause_refuses_any_later_one(loan, lead):
    penalty_pause_create(actor=lead, loan=loan, starts_on=d("2026-10-01"), reason="dispute")

    with pytest.raises(ValidationError, match="from 2026-10-01, open-ended"):
        penalty_pause_create(
            actor=lead, loan=loan, starts_on=d("2027-01-01"), ends_on=d("2027-01-31"), reason="x"
        )


def test_adjacent_pauses_and_pauses_of_other_loans_do_not_overlap(loan, lead):
    penalty_pause_create(
        actor=lead, loan=loan, starts_on=d("2026-10-01"), ends_on=d("2026-10-31"), reason="a"
    )
    penalty_pause_create(
        actor=lead, loan=loan, starts_on=d("2026-11-01"), ends_on=d("2026-11-10"), reason="b"
    )
    penalty_pause_create(
        actor=lead, loan=LoanFactory(), starts_on=d("2026-10-15"), reason="another loan"
    )

    assert PenaltyPause.objects.filter(loan=loan).count() == 2


def test_a_pause_needs_a_reason_and_an_end_not_before_its_start(loan, lead):
    with pytest.raises(ValidationError, match="needs a reason"):
        penalty_pause_create(actor=lead, loan=loan, starts_on=d("2026-10-01"), reason=" ")
    with pytest.raises(ValidationError, match=r"cannot end \(2026-09-30\) before it starts"):
        penalty_pause_create(
            actor=lead, loan=loan, starts_on=d("2026-10-01"), ends_on=d("2026-09-30"), reason="a"
        )
    assert not PenaltyPause.objects.exists()
    assert not AuditEvent.objects.filter(action="loan.penalty_pause").exists()


def test_ending_a_pause_marks_history_from_the_first_day_that_accrues_again(loan, lead):
    pause = penalty_pause_create(
        actor=lead, loan=loan, starts_on=d("2026-11-01"), reason="complaint"
    )
    RecomputeMark.objects.all().delete()

    penalty_pause_end(actor=lead, pause=pause, ends_on=d("2026-11-10"), reason="resolved")

    pause.refresh_from_db()
    assert pause.ends_on == d("2026-11-10")
    assert list(RecomputeMark.objects.values_list("from_date", flat=True)) == [d("2026-11-11")]
    event = AuditEvent.objects.get(action="loan.penalty_pause_end")
    assert event.before["ends_on"] is None and event.after["ends_on"] == "2026-11-10"


def test_ending_a_pause_today_needs_no_history_rewrite(loan, lead):
    pause = penalty_pause_create(actor=lead, loan=loan, starts_on=TODAY, reason="complaint")

    # Paused through today (a pause can end on its first day); tomorrow accrues again.
    penalty_pause_end(actor=lead, pause=pause, ends_on=TODAY, reason="withdrawn")

    assert not RecomputeMark.objects.exists()


def test_a_pause_can_be_ended_once_and_not_before_it_starts(loan, lead):
    pause = penalty_pause_create(
        actor=lead, loan=loan, starts_on=d("2026-11-01"), reason="complaint"
    )

    with pytest.raises(ValidationError, match=r"cannot end \(2026-10-31\) before it starts"):
        penalty_pause_end(actor=lead, pause=pause, ends_on=d("2026-10-31"), reason="x")
    penalty_pause_end(actor=lead, pause=pause, ends_on=d("2026-11-05"), reason="resolved")
    with pytest.raises(ValidationError, match="already ends on 2026-11-05"):
        penalty_pause_end(actor=lead, pause=pause, ends_on=d("2026-11-06"), reason="again")

    pause.refresh_from_db()
    assert pause.ends_on == d("2026-11-05")
