"""Changes to a case are recorded in the chain with actor, time and before/after."""

from __future__ import annotations

import pytest

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_verify
from cuishou.cases.services import case_assign
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_assigning_a_case_records_who_had_it_and_who_has_it_now():
    lead = UserFactory(username="lead", role="team_lead")
    first, second = UserFactory(role="collector"), UserFactory(role="collector")
    case = CaseFactory(assignee=first)

    case_assign(actor=lead, case=case, assignee=second, reason="rebalance queues")

    case.refresh_from_db()
    assert case.assignee == second
    event = AuditEvent.objects.get(action="case.assign")
    assert (event.actor_id, event.actor_label) == (lead.pk, "lead")
    assert event.case_id == case.pk and event.object_type == "cases.case"
    assert event.before == {"assignee_id": first.pk}
    assert event.after == {"assignee_id": second.pk}
    assert event.summary == "rebalance queues"
    assert event.at is not None
    assert audit_verify().ok


def test_assigning_to_the_current_assignee_records_nothing():
    collector = UserFactory(role="collector")
    case = CaseFactory(assignee=collector)
    case_assign(actor=None, case=case, assignee=collector, reason="again")
    assert not AuditEvent.objects.exists()


def test_unassigning_is_recorded():
    collector = UserFactory(role="collector")
    case = CaseFactory(assignee=collector)
    case_assign(actor="allocation", case=case, assignee=None, reason="left the company")
    event = AuditEvent.objects.get(action="case.assign")
    assert event.after == {"assignee_id": None} and event.actor_label == "allocation"
