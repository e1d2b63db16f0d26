"""Escalation, de-escalation with approval, closing, write-off with approval, archives."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.cases.closure import (
    approval_decide,
    case_close,
    case_deescalate_request,
    case_escalate,
    case_write_off_request,
)
from cuishou.cases.models import Case, CaseArchive, LegalReview, VisitRequest
from tests.factories import CaseFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():  # type: ignore[no-untyped-def]
    lead = UserFactory(username="lead", role="team_lead")
    team = TeamFactory(name="电催一组", lead=lead)
    return {
        "collector": UserFactory(username="li", role="collector", team=team),
        "lead": lead,
        "risk": UserFactory(username="risk", role="risk_manager"),
    }


def test_escalating_to_visit_and_legal_hands_the_case_over(people) -> None:
    case = CaseFactory(assignee=people["collector"], stage="phone")
    case_escalate(actor=people["collector"], case=case, stage="visit", reason="电话失联")
    case.refresh_from_db()
    assert (case.stage, case.stage_set_by_hand) == ("visit", True)
    assert VisitRequest.objects.get(case=case).reason == "电话失联"
    case_escalate(actor=people["collector"], case=case, stage="legal", reason="有还款能力拒不还款")
    assert LegalReview.objects.filter(case=case, status="open").count() == 1
    with pytest.raises(ValidationError) as err:
        case_escalate(actor=people["collector"], case=case, stage="written", reason="x")
    assert "stage" in err.value.message_dict


def test_a_de_escalation_waits_for_approval_by_someone_else(people) -> None:
    case = CaseFactory(assignee=people["collector"], stage="legal")
    request = case_deescalate_request(
        actor=people["collector"], case=case, stage="phone", reason="已达成还款意向"
    )
    assert Case.objects.get(pk=case.pk).stage == "legal"  # nothing moves before approval
    with pytest.raises(PermissionDenied):
        approval_decide(actor=people["collector"], request=request, approve=True)
    approval_decide(actor=people["risk"], request=request, approve=True, note="同意")
    assert Case.objects.get(pk=case.pk).stage == "phone"
    with pytest.raises(ValidationError):
        approval_decide(actor=people["risk"], request=request, approve=True)


def test_closing_archives_the_file_with_its_hash(people) -> None:
    case = CaseFactory(assignee=people["collector"], balance=Decimal("0.00"))
    with pytest.raises(PermissionDenied):
        case_close(actor=people["collector"], case=case, closure="paid_in_full", reason="x")
    case_close(actor=people["lead"], case=case, closure="paid_in_full", reason="已结清")
    case.refresh_from_db()
    assert (case.status, case.closure) == ("closed", "paid_in_full")
    archive = CaseArchive.objects.get(case=case)
    text = json.dumps(archive.content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest() == archive.sha256
    event = AuditEvent.objects.get(action="case.close", case_id=case.pk)
    assert event.after["archive_sha256"] == archive.sha256


def test_paid_in_full_needs_a_zero_balance_and_a_write_off_needs_a_risk_manager(people) -> None:
    case = CaseFactory(assignee=people["collector"], balance=Decimal("120.00"))
    with pytest.raises(ValidationError) as err:
        case_close(actor=people["lead"], case=case, closure="paid_in_full", reason="x")
    assert "Something is still owed (120.00)." in err.value.message_dict["closure"]
    request = case_write_off_request(actor=people["lead"], case=case, reason="债务人身故，无遗产")
    with pytest.raises(PermissionDenied):
        approval_decide(actor=people["lead"], request=request, approve=True)
    approval_decide(actor=people["risk"], request=request, approve=True)
    case.refresh_from_db()
    assert (case.status, case.closure) == ("written_off", "written_off")
    assert CaseArchive.objects.filter(case=case, closure="written_off").exists()
