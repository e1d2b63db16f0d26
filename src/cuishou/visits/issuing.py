"""Issuing visit cases (下发): the risk department hands a numbered batch of cases to a
team lead with the phone records attached; the team lead counts the cases and the amount
and confirms them, or flags a mismatch that the risk manager sees.

A case comes from the visit stage (its open visit request, from an escalation or the
nightly run's ladder) or is sent for an anti-fraud check (协查) or to gather evidence for
litigation at any stage. A case already open in another visit case is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, audit_record, audit_record_many
from cuishou.cases.choices import CLOSED_STATUSES, HandOverStatus, Stage
from cuishou.cases.models import Case, ContactAttempt, VisitRequest
from cuishou.cases.selectors import case_require_in_scope
from cuishou.core.timeutil import SHANGHAI, today_shanghai
from cuishou.visits.choices import (
    OPEN_VISIT_CASE,
    IssueStatus,
    VisitCaseStatus,
    VisitPurpose,
)
from cuishou.visits.models import VisitCase, VisitIssue

ISSUE_PERMISSION = "visits.add_visitissue"
CONFIRM_PERMISSION = "visits.change_visitissue"
MAX_CASES = 500
# The phone records attached to a visit case: the newest this many contact attempts.
MAX_PHONE_RECORDS = 200


@dataclass(frozen=True)
class IssueItem:
    """One case to issue, why, and by when (协查 and evidence visits are often due)."""

    case: Case
    purpose: str = VisitPurpose.COLLECT
    due_by: dt.date | None = None
    visit_request: VisitRequest | None = None


def user_is_team_lead(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_perm(CONFIRM_PERMISSION)
        and user.has_perm("visits.add_route")
    )


def phone_records(case: Case) -> list[dict[str, Any]]:
    """The case's contact attempts as a JSON snapshot (newest first): time, channel,
    party, outcome, notes. What the risk department hands over (电催记录)."""
    rows = ContactAttempt.objects.filter(case=case).order_by("-attempted_at", "-id")[
        :MAX_PHONE_RECORDS
    ]
    return [
        {
            "at": a.attempted_at.astimezone(SHANGHAI).isoformat(timespec="minutes"),
            "channel": a.channel,
            "party": a.party,
            "outcome": a.outcome,
            "notes": a.notes,
        }
        for a in rows
    ]


def _next_number(day: dt.date) -> str:
    prefix = f"VI-{day:%Y%m%d}-"
    last = (
        VisitIssue.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:03d}"


def _item_errors(item: IssueItem, case: Case, today: dt.date) -> list[str]:
    label = _("case %(id)s") % {"id": case.pk}
    errors: list[str] = []
    if item.purpose not in VisitPurpose.values:
        errors.append(
            _("%(case)s: unknown purpose %(purpose)r.") % {"case": label, "purpose": item.purpose}
        )
    if case.status in CLOSED_STATUSES:
        errors.append(_("%(case)s: the case is closed.") % {"case": label})
    if item.due_by is not None and item.due_by < today:
        errors.append(_("%(case)s: the due date is in the past.") % {"case": label})
    if item.visit_request is not None and (
        item.visit_request.case_id != case.pk or item.visit_request.status != HandOverStatus.OPEN
    ):
        errors.append(
            _("%(case)s: the visit request is not an open one of this case.") % {"case": label}
        )
    return errors


@transaction.atomic
def visit_issue_create(
    *,
    actor: Any,
    team_lead: Any,
    items: Sequence[IssueItem],
    note: str = "",
) -> VisitIssue:
    """Issue ``items`` to ``team_lead`` as one numbered batch. Each case gets a visit
    case with its balance and a snapshot of its phone records; its open visit requests
    are marked taken (done). A collection visit needs a visit-stage case or an open
    visit request; 协查 and evidence visits may be of any open case."""
    if not actor.has_perm(ISSUE_PERMISSION):
        raise PermissionDenied(_("Only the risk department issues visit cases."))
    if team_lead is None or not user_is_team_lead(team_lead):
        raise ValidationError({"team_lead": [_("Issue the cases to an active team lead.")]})
    if not items:
        raise ValidationError({"cases": [_("Choose at least one case to issue.")]})
    if len(items) > MAX_CASES:
        raise ValidationError(
            {"cases": [_("At most %(n)d cases in one issue.") % {"n": MAX_CASES}]}
        )
    ids = [item.case.pk for item in items]
    if len(set(ids)) != len(ids):
        raise ValidationError({"cases": [_("A case is listed twice.")]})
    for item in items:
        case_require_in_scope(actor, item.case)
    # Lock the cases in id order (a consistent order for concurrent issues).
    cases = {c.pk: c for c in Case.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    open_requests: dict[int, list[VisitRequest]] = {}
    for vr in (
        VisitRequest.objects.select_for_update()
        .filter(case_id__in=ids, status=HandOverStatus.OPEN)
        .order_by("-created_at", "-id")
    ):
        open_requests.setdefault(vr.case_id, []).append(vr)
    already = dict(
        VisitCase.objects.filter(case_id__in=ids, status__in=OPEN_VISIT_CASE).values_list(
            "case_id", "issue__number"
        )
    )
    today = today_shanghai()
    errors: list[str] = []
    for item in items:
        case = cases[item.case.pk]
        errors += _item_errors(item, case, today)
        if case.pk in already:
            errors.append(
                _("case %(id)s is already open in visit issue %(number)s.")
                % {"id": case.pk, "number": already[case.pk]}
            )
        if (
            item.purpose == VisitPurpose.COLLECT
            and case.stage != Stage.VISIT
            and case.pk not in open_requests
        ):
            errors.append(
                _(
                    "case %(id)s is not at the visit stage and has no open visit request; "
                    "issue it for an anti-fraud check or evidence, or escalate it first."
                )
                % {"id": case.pk}
            )
    if errors:
        raise ValidationError({"cases": errors})

    now = timezone.now()
    total = sum((cases[i].balance for i in ids), Decimal("0.00"))
    issue = VisitIssue.objects.create(
        number=_next_number(now.astimezone(SHANGHAI).date()),
        issued_by=actor,
        team_lead=team_lead,
        issued_at=now,
        declared_count=len(items),
        declared_amount=total,
        note=note.strip(),
    )
    visit_cases = []
    for item in items:
        case = cases[item.case.pk]
        requests = open_requests.get(case.pk, [])
        request = item.visit_request or (requests[0] if requests else None)
        visit_cases.append(
            VisitCase(
                issue=issue,
                case=case,
                visit_request=request,
                purpose=item.purpose,
                amount=case.balance,
                due_by=item.due_by,
                phone_records=phone_records(case),
            )
        )
    VisitCase.objects.bulk_create(visit_cases)
    taken = [vr.pk for reqs in open_requests.values() for vr in reqs]
    if taken:
        VisitRequest.objects.filter(pk__in=taken).update(status=HandOverStatus.DONE)
    audit_record(
        actor=actor,
        action="visit.issue",
        target=issue,
        summary=_("%(number)s: %(n)d cases, %(amount)s, to %(lead)s")
        % {"number": issue.number, "n": len(items), "amount": total, "lead": team_lead},
        after={
            "number": issue.number,
            "team_lead_id": team_lead.pk,
            "declared_count": len(items),
            "declared_amount": total,
        },
    )
    audit_record_many(
        actor=actor,
        entries=[
            AuditEntry(
                action="visit.case_issue",
                object_type="visits.visitcase",
                object_id=str(vc.pk),
                case_id=vc.case_id,
                summary=f"{issue.number} {vc.get_purpose_display()}",
                after={
                    "issue": issue.number,
                    "purpose": vc.purpose,
                    "amount": vc.amount,
                    "due_by": vc.due_by,
                    "visit_request_id": vc.visit_request_id,
                    "phone_records": len(vc.phone_records),
                    "visit_requests_taken": [vr.pk for vr in open_requests.get(vc.case_id, [])],
                },
            )
            for vc in visit_cases
        ],
    )
    return issue


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: [_("Enter an amount like 12345.67.")]}) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(
            {field: [_("Enter an amount of at least 0 with at most 2 decimals.")]}
        )
    return amount.quantize(Decimal("0.01"))


@transaction.atomic
def visit_issue_confirm(
    *, actor: Any, issue: VisitIssue, counted: int, counted_amount: Any, note: str = ""
) -> VisitIssue:
    """The team lead's check (核对): the number of cases and the amount counted. Equal to
    what was issued: the issue and its cases are confirmed. Different: the issue is
    flagged as a mismatch for the risk manager and the cases stay issued until a count
    matches."""
    if not actor.has_perm(CONFIRM_PERMISSION):
        raise PermissionDenied(_("Only a team lead checks issued visit cases."))
    locked = VisitIssue.objects.select_for_update().get(pk=issue.pk)
    if locked.team_lead_id != actor.pk:
        raise PermissionDenied(_("This issue was issued to another team lead."))
    if locked.status == IssueStatus.CONFIRMED:
        raise ValidationError({"issue": [_("This issue is confirmed already.")]})
    try:
        count = int(counted)
    except (TypeError, ValueError):
        raise ValidationError({"counted": [_("Enter the number of cases counted.")]}) from None
    if count < 0:
        raise ValidationError({"counted": [_("Enter the number of cases counted.")]})
    amount = _money(counted_amount, "counted_amount")
    before = {
        "status": locked.status,
        "counted": locked.counted,
        "counted_amount": locked.counted_amount,
    }
    matches = count == locked.declared_count and amount == locked.declared_amount
    now = timezone.now()
    locked.counted, locked.counted_amount = count, amount
    locked.note = note.strip()
    locked.status = IssueStatus.CONFIRMED if matches else IssueStatus.MISMATCH
    fields = ["counted", "counted_amount", "note", "status"]
    if matches:
        locked.confirmed_at, locked.confirmed_by = now, actor
        fields += ["confirmed_at", "confirmed_by"]
    locked.save(update_fields=fields)
    moved = 0
    if matches:
        moved = VisitCase.objects.filter(issue=locked, status=VisitCaseStatus.ISSUED).update(
            status=VisitCaseStatus.CONFIRMED
        )
    audit_record(
        actor=actor,
        action="visit.issue_confirm" if matches else "visit.issue_mismatch",
        target=locked,
        summary=(
            _("%(number)s checked: %(n)d cases, %(amount)s")
            if matches
            else _("%(number)s does not match: counted %(n)d cases, %(amount)s")
        )
        % {"number": locked.number, "n": count, "amount": amount},
        before=before,
        after={
            "status": locked.status,
            "counted": count,
            "counted_amount": amount,
            "declared_count": locked.declared_count,
            "declared_amount": locked.declared_amount,
            "cases_confirmed": moved,
            "note": locked.note,
        },
    )
    return locked
