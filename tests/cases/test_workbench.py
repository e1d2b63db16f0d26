"""The collector's day: contact attempts, what their outcomes imply, disputes, promises
kept or broken, and the queue's order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cuishou.audit.models import AuditEvent
from cuishou.cases.contacts import contact_attempt_log, dispute_resolve
from cuishou.cases.models import Case, Dispute, PromiseToPay
from cuishou.cases.promises import promise_create, promises_decide
from cuishou.cases.queue import queue_for
from cuishou.compliance.check import ContactBlocked
from cuishou.payments.models import Payment
from cuishou.portfolio.models import ContactPoint, RelatedPerson
from tests.factories import (
    CaseFactory,
    ContactPointFactory,
    LoanFactory,
    RelatedPersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 11, 20)


@pytest.fixture
def collector():  # type: ignore[no-untyped-def]
    return UserFactory(username="li", role="collector")


@pytest.fixture
def case(collector):  # type: ignore[no-untyped-def]
    case = CaseFactory(assignee=collector, balance=D("6000.00"))
    ContactPointFactory(debtor=case.debtor, value="13800138000", is_primary=True)
    return case


def _phone(case: Case) -> ContactPoint:
    return ContactPoint.objects.get(debtor=case.debtor, value="13800138000")


def test_a_right_party_call_is_recorded_with_its_audit_event(collector, case) -> None:
    follow_up = timezone.now() + dt.timedelta(days=2)
    attempt = contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=_phone(case),
        notes="答应周五前还款",
        next_follow_up_at=follow_up,
    )
    assert (attempt.outcome, attempt.actor, attempt.next_follow_up_at) == (
        "rpc",
        collector,
        follow_up,
    )
    event = AuditEvent.objects.get(action="contact.attempt")
    assert event.case_id == case.pk and event.after["outcome"] == "rpc"


def test_a_wrong_number_marks_the_number_invalid_and_it_cannot_be_called_again(collector, case):
    phone = _phone(case)
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="nobody",
        outcome="wrong_number",
        contact_point=phone,
    )
    phone.refresh_from_db()
    assert phone.status == "invalid"
    with pytest.raises(ValidationError) as err:
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=phone,
        )
    assert "contact_point" in err.value.message_dict


@pytest.mark.parametrize(
    ("party", "outcome", "field"),
    [
        ("debtor", "no_answer", "party"),  # nobody answered
        ("nobody", "rpc", "party"),  # somebody was reached
        ("related", "third_party", "related_person"),  # which related person?
    ],
)
def test_an_inconsistent_attempt_is_refused_naming_the_field(
    collector, case, party, outcome, field
):
    with pytest.raises(ValidationError) as err:
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party=party,
            outcome=outcome,
            contact_point=_phone(case),
        )
    assert field in err.value.message_dict
    assert not case.contact_attempts.exists()


def test_a_collector_cannot_log_on_a_case_that_is_not_theirs(case) -> None:
    other = UserFactory(username="wang", role="collector")
    with pytest.raises(PermissionDenied):
        contact_attempt_log(
            actor=other,
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=_phone(case),
        )


def test_a_dispute_pauses_collection_until_it_is_resolved(collector, case) -> None:
    lead = UserFactory(username="zhao", role="risk_manager")
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="debtor",
        outcome="disputes",
        contact_point=_phone(case),
        notes="称第3期已还",
    )
    case.refresh_from_db()
    dispute = Dispute.objects.get(case=case)
    assert (case.status, dispute.status, dispute.reason) == ("paused", "open", "称第3期已还")

    # While paused, a collection call is blocked, names the rule, and the refusal is audited
    with pytest.raises(ContactBlocked) as blocked:
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party="debtor",
            outcome="rpc",
            contact_point=_phone(case),
        )
    assert blocked.value.decision.rule_ids == ["house.dispute_pause"]
    assert AuditEvent.objects.filter(action="contact.blocked", case_id=case.pk).count() == 1
    assert case.contact_attempts.count() == 1

    # but the debtor may be called about the dispute
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=_phone(case),
        purpose="dispute",
    )
    dispute_resolve(actor=lead, dispute=dispute, resolution="核实第3期未还，已告知")
    case.refresh_from_db()
    assert case.status == "open"
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="debtor",
        outcome="rpc",
        contact_point=_phone(case),
    )


def test_a_third_party_who_refuses_is_never_contacted_again(collector, case) -> None:
    person = RelatedPersonFactory(debtor=case.debtor, relation="friend")
    number = ContactPointFactory(debtor=case.debtor, related_person=person, value="13900139000")
    for minutes in (30, 20, 10):  # the debtor is unreachable: a third party may be asked
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party="nobody",
            outcome="no_answer",
            contact_point=_phone(case),
            attempted_at=timezone.now() - dt.timedelta(minutes=minutes),
        )
    contact_attempt_log(
        actor=collector,
        case=case,
        channel="call",
        party="related",
        outcome="refuses",
        contact_point=number,
        related_person=person,
    )
    assert RelatedPerson.objects.get(pk=person.pk).refused_contact
    with pytest.raises(ValidationError) as err:
        contact_attempt_log(
            actor=collector,
            case=case,
            channel="call",
            party="related",
            outcome="third_party",
            contact_point=number,
            related_person=person,
        )
    assert "related_person" in err.value.message_dict


def _pay(case: Case, amount: str, value_date: dt.date) -> Payment:
    loan = case.debtor.loans.filter(client=case.client).first() or LoanFactory(
        client=case.client, debtor=case.debtor
    )
    return Payment.objects.create(loan=loan, amount=D(amount), value_date=value_date)


def test_a_promise_is_kept_by_payments_covering_each_instalment(collector, case) -> None:
    promise = promise_create(
        actor=collector,
        case=case,
        promised_on=DAY,
        instalments=[
            (DAY + dt.timedelta(days=5), D("500.00")),
            (DAY + dt.timedelta(days=35), D("500.00")),
        ],
    )
    _pay(case, "500.00", DAY + dt.timedelta(days=3))
    assert promises_decide(as_of=DAY + dt.timedelta(days=6)) == {
        "promises_kept": 0,
        "promises_broken": 0,
    }
    promise.refresh_from_db()
    assert promise.status == "pending"
    assert [i.status for i in promise.instalments.all()] == ["kept", "pending"]

    _pay(case, "500.00", DAY + dt.timedelta(days=30))
    assert promises_decide(as_of=DAY + dt.timedelta(days=31))["promises_kept"] == 1
    promise.refresh_from_db()
    assert (promise.status, promise.decided_as_of) == ("kept", DAY + dt.timedelta(days=31))
    # Deciding again changes nothing and records nothing
    before = AuditEvent.objects.count()
    assert promises_decide(as_of=DAY + dt.timedelta(days=31))["promises_kept"] == 0
    assert AuditEvent.objects.count() == before


def test_a_promise_is_broken_when_its_day_passes_short_and_a_late_posted_payment_keeps_it(
    collector, case
) -> None:
    promise = promise_create(
        actor=collector,
        case=case,
        promised_on=DAY,
        instalments=[(DAY + dt.timedelta(days=2), D("800.00"))],
    )
    _pay(case, "300.00", DAY + dt.timedelta(days=1))  # short
    promises_decide(as_of=DAY + dt.timedelta(days=2))  # its day is not over yet
    assert PromiseToPay.objects.get(pk=promise.pk).status == "pending"
    assert promises_decide(as_of=DAY + dt.timedelta(days=3))["promises_broken"] == 1
    assert PromiseToPay.objects.get(pk=promise.pk).status == "broken"

    # A payment posted later with a value date within the promise keeps it
    _pay(case, "500.00", DAY + dt.timedelta(days=2))
    assert promises_decide(as_of=DAY + dt.timedelta(days=4))["promises_kept"] == 1
    assert PromiseToPay.objects.get(pk=promise.pk).status == "kept"


def test_a_new_promise_replaces_the_pending_one_and_bad_instalments_are_named(collector, case):
    first = promise_create(
        actor=collector, case=case, promised_on=DAY, instalments=[(DAY, D("100.00"))]
    )
    promise_create(actor=collector, case=case, promised_on=DAY, instalments=[(DAY, D("200.00"))])
    assert PromiseToPay.objects.get(pk=first.pk).status == "cancelled"
    with pytest.raises(ValidationError) as err:
        promise_create(
            actor=collector,
            case=case,
            promised_on=DAY,
            instalments=[(DAY - dt.timedelta(days=1), D("0")), (DAY, D("9999999"))],
        )
    messages = err.value.message_dict["instalments"]
    assert any("instalment 1: the amount must be more than 0" in m for m in messages)
    assert any("instalment 1: the date is before the promise" in m for m in messages)


def test_the_queue_puts_a_promise_due_today_and_broken_promises_first(collector) -> None:
    big = CaseFactory(assignee=collector, balance=D("90000.00"), dpd=100)
    due_today = CaseFactory(assignee=collector, balance=D("1000.00"), dpd=5)
    promise_create(
        actor=collector, case=due_today, promised_on=DAY, instalments=[(DAY, D("100.00"))]
    )
    small = CaseFactory(assignee=collector, balance=D("500.00"), dpd=3)
    CaseFactory(assignee=collector, status="paused")
    order = [item.case.pk for item in queue_for(collector, today=DAY)]
    assert order == [due_today.pk, big.pk, small.pk]
