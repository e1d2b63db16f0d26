"""Stage changes by people and closing a case, with the approvals they need.

- **Escalate** (``case_escalate``) to written, visit or legal, with a reason: the stage is
  set by hand (a floor the nightly run never goes below) and a visit request or a legal
  review is created for the people who take it from there.
- **De-escalate** (``case_deescalate_request``) to an earlier stage: a request that a team
  lead or risk manager approves (``approval_decide``). The nightly run may move the case
  forward again when its bucket's stage is later (docs/workflow.md).
- **Close** (``case_close``): settled, returned to the client, or paid in full (only when
  nothing is owed); **write-off** is a request a risk manager approves. Closing archives
  the case file (``CaseArchive``, with its SHA-256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.models import AuditEvent
from cuishou.audit.services import audit_record, jsonable
from cuishou.cases.choices import (
    CLOSED_STATUSES,
    STAGE_ORDER,
    CaseStatus,
    Closure,
    RequestKind,
    RequestStatus,
    Stage,
)
from cuishou.cases.models import (
    ApprovalRequest,
    Case,
    CaseArchive,
    LegalReview,
    VisitRequest,
)
from cuishou.cases.selectors import case_file_get, case_require_in_scope, user_may_contact
from cuishou.cases.services import case_stage_set
from cuishou.core.timeutil import today_shanghai

ESCALATIONS = (Stage.WRITTEN, Stage.VISIT, Stage.LEGAL)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why.")]})
    return reason


def _rank(stage: str) -> int:
    return STAGE_ORDER.index(stage)


@transaction.atomic
def case_escalate(*, actor: Any, case: Case, stage: str, reason: str) -> Case:
    """Move the case to a later stage by hand; a visit creates a visit request, legal a
    legal review."""
    case_require_in_scope(actor, case)
    if not user_may_contact(actor):
        raise PermissionDenied(_("This role does not work cases."))
    reason = _reason(reason)
    if stage not in ESCALATIONS:
        raise ValidationError({"stage": [_("Escalate to written, visit or legal.")]})
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        raise ValidationError({"case": [_("The case is closed.")]})
    if _rank(stage) <= _rank(locked.stage):
        raise ValidationError(
            {"stage": [_("An escalation goes to a later stage; ask for a de-escalation instead.")]}
        )
    return escalate_locked(actor=actor, case=locked, stage=stage, reason=reason)


def escalate_locked(*, actor: Any, case: Case, stage: str, reason: str, rule: str = "hand") -> Case:
    """Set the (locked, open) case's stage to ``stage`` as a floor and hand it over: a
    visit request for a visit, a legal review for legal. Shared by people escalating and
    by a strategy's escalation point in the nightly run; checks are the caller's."""
    updated = case_stage_set(actor=actor, case=case, stage=stage, reason=reason, rule=rule)
    now = timezone.now()
    requester = actor if getattr(actor, "pk", None) else None
    if stage == Stage.VISIT:
        handover: Any = VisitRequest.objects.create(
            case=case, reason=reason, created_at=now, requested_by=requester
        )
        action = "visit.request"
    elif stage == Stage.LEGAL:
        handover = LegalReview.objects.create(
            case=case, reason=reason, created_at=now, requested_by=requester
        )
        action = "legal.review"
    else:
        return updated
    audit_record(
        actor=actor,
        action=action,
        target=handover,
        case_id=case.pk,
        summary=reason,
        after={"stage": stage, "reason": reason},
    )
    return updated


@transaction.atomic
def case_deescalate_request(*, actor: Any, case: Case, stage: str, reason: str) -> ApprovalRequest:
    case_require_in_scope(actor, case)
    reason = _reason(reason)
    if stage not in Stage.values or _rank(stage) >= _rank(case.stage):
        raise ValidationError({"stage": [_("A de-escalation goes to an earlier stage.")]})
    return _request(
        actor=actor, case=case, kind=RequestKind.DE_ESCALATE, stage=stage, reason=reason
    )


@transaction.atomic
def case_write_off_request(*, actor: Any, case: Case, reason: str) -> ApprovalRequest:
    case_require_in_scope(actor, case)
    reason = _reason(reason)
    if case.status in CLOSED_STATUSES:
        raise ValidationError({"case": [_("The case is closed.")]})
    return _request(actor=actor, case=case, kind=RequestKind.WRITE_OFF, stage="", reason=reason)


def _request(*, actor: Any, case: Case, kind: str, stage: str, reason: str) -> ApprovalRequest:
    if ApprovalRequest.objects.filter(case=case, kind=kind, status=RequestStatus.PENDING).exists():
        raise ValidationError({"case": [_("Such a request is already waiting for approval.")]})
    request = ApprovalRequest.objects.create(
        case=case,
        kind=kind,
        stage=stage,
        reason=reason,
        requested_at=timezone.now(),
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="approval.request",
        target=request,
        case_id=case.pk,
        summary=reason,
        after={"kind": kind, "stage": stage, "reason": reason},
    )
    return request


_APPROVER_PERMISSION = {
    RequestKind.DE_ESCALATE: "cases.approve_deescalation",
    RequestKind.WRITE_OFF: "cases.approve_write_off",
}


@transaction.atomic
def approval_decide(
    *, actor: Any, request: ApprovalRequest, approve: bool, note: str = ""
) -> ApprovalRequest:
    """Approve (and apply) or reject a request. Nobody approves their own request."""
    locked = ApprovalRequest.objects.select_for_update().select_related("case").get(pk=request.pk)
    if not actor.has_perm(_APPROVER_PERMISSION[RequestKind(locked.kind)]):
        raise PermissionDenied(_("This role may not decide this request."))
    case_require_in_scope(actor, locked.case)
    if locked.status != RequestStatus.PENDING:
        raise ValidationError({"request": [_("This request is already decided.")]})
    if locked.requested_by_id is not None and locked.requested_by_id == getattr(actor, "pk", None):
        raise PermissionDenied(_("Somebody else approves your own request."))
    locked.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    locked.decided_at = timezone.now()
    locked.decided_by = actor
    locked.decision_note = (note or "").strip()
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        action="approval.decide",
        target=locked,
        case_id=locked.case_id,
        summary=locked.decision_note or locked.status,
        before={"status": RequestStatus.PENDING.value},
        after={"status": locked.status, "kind": locked.kind, "note": locked.decision_note},
    )
    if approve and locked.kind == RequestKind.DE_ESCALATE:
        case_stage_set(
            actor=actor,
            case=locked.case,
            stage=locked.stage,
            reason=_("approved de-escalation: %(reason)s") % {"reason": locked.reason},
        )
    elif approve and locked.kind == RequestKind.WRITE_OFF:
        _close(actor=actor, case=locked.case, closure=Closure.WRITTEN_OFF, reason=locked.reason)
    request.status = locked.status
    return locked


@transaction.atomic
def case_close(*, actor: Any, case: Case, closure: str, reason: str) -> Case:
    """Close the case as settled, returned to the client or paid in full (a write-off
    goes through ``case_write_off_request``)."""
    case_require_in_scope(actor, case)
    if not actor.has_perm("cases.close_case"):
        raise PermissionDenied(_("This role may not close cases."))
    reason = _reason(reason)
    if closure == Closure.WRITTEN_OFF:
        raise ValidationError({"closure": [_("A write-off needs a risk manager's approval.")]})
    if closure not in Closure.values:
        raise ValidationError({"closure": [_("Unknown way of closing.")]})
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if closure == Closure.PAID_IN_FULL and locked.balance != 0:
        raise ValidationError(
            {"closure": [_("Something is still owed (%(balance)s).") % {"balance": locked.balance}]}
        )
    return _close(actor=actor, case=locked, closure=closure, reason=reason)


def cases_close_paid_off(*, case_ids: list[int], as_of: dt.date, actor: Any) -> int:
    """Close the given cases as paid in full as of ``as_of`` (the nightly run passes the
    ones whose debtor owes the client nothing any more), each archived and audited.
    Returns how many were closed."""
    reason = f"paid in full as of {as_of.isoformat()}"
    with transaction.atomic():
        for case in Case.objects.filter(pk__in=case_ids).select_related("debtor").order_by("pk"):
            _close(actor=actor, case=case, closure=Closure.PAID_IN_FULL, reason=reason, on=as_of)
    return len(case_ids)


def _close(*, actor: Any, case: Case, closure: str, reason: str, on: dt.date | None = None) -> Case:
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        raise ValidationError({"case": [_("The case is closed.")]})
    before = {"status": locked.status, "stage": locked.stage}
    archive = _archive(locked, closure)
    locked.status = CaseStatus.WRITTEN_OFF if closure == Closure.WRITTEN_OFF else CaseStatus.CLOSED
    locked.closure = closure
    locked.closed_on = on or today_shanghai()
    locked.status_reason = reason[:200]
    locked.save(update_fields=["status", "closure", "closed_on", "status_reason", "updated_at"])
    audit_record(
        actor=actor,
        action="case.close",
        target=locked,
        case_id=locked.pk,
        summary=reason,
        before=before,
        after={
            "status": locked.status,
            "closure": closure,
            "reason": reason,
            "archive_sha256": archive.sha256,
        },
    )
    case.status, case.closure = locked.status, locked.closure
    return locked


def _archive(case: Case, closure: str) -> CaseArchive:
    """The whole file as JSON: the case, its debtor, loans and schedules, contact points,
    related persons, addresses, contacts, promises, disputes and its audit events'
    hashes (which tie the archive to the chain)."""
    file = case_file_get(case)

    def rows(qs: Any, *fields: str) -> list[dict[str, Any]]:
        return [dict(zip(fields, r, strict=True)) for r in qs.values_list(*fields)]

    content = jsonable(
        {
            "case": {
                "id": case.pk,
                "client": case.client_id,
                "debtor": case.debtor_id,
                "stage": case.stage,
                "status": case.status,
                "bucket": case.bucket,
                "dpd": case.dpd,
                "overdue_amount": case.overdue_amount,
                "balance": case.balance,
                "opened_on": case.opened_on,
                "closure": closure,
            },
            "debtor": {
                "name": case.debtor.name,
                "id_number": case.debtor.id_number,
                "mobile": case.debtor.mobile,
            },
            "loans": [
                {
                    "contract_no": loan.contract_no,
                    "principal": loan.principal,
                    "balance": loan.balance,
                    "installments": [
                        [
                            i.seq,
                            i.due_on,
                            i.principal_due,
                            i.interest_due,
                            i.principal_paid,
                            i.interest_paid,
                        ]
                        for i in loan.installments.all()
                    ],
                }
                for loan in file.loans
            ],
            "contacts": [[c.kind, c.value, c.status] for c in file.contacts],
            "related_persons": [
                [p.name, p.relation, p.refused_contact] for p in file.related_persons
            ],
            "addresses": [[a.kind, a.text] for a in file.addresses],
            "attempts": rows(
                case.contact_attempts.order_by("attempted_at", "id"),
                "attempted_at",
                "channel",
                "party",
                "outcome",
                "notes",
                "actor_id",
            ),
            "promises": rows(
                case.promises.order_by("id"), "promised_on", "amount", "status", "decided_as_of"
            ),
            "disputes": rows(case.disputes.order_by("id"), "opened_at", "reason", "status"),
            "audit": list(
                AuditEvent.objects.filter(case_id=case.pk)
                .order_by("seq")
                .values_list("seq", "hash")
            ),
        }
    )
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return CaseArchive.objects.create(
        case=case,
        closure=closure,
        created_at=timezone.now(),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        content=content,
    )
