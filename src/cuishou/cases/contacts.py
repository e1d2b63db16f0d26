"""Writes of the collector's day: contact attempts and disputes.

Every contact goes through ``cuishou.compliance.check.contact_require`` first; a refused
one is audited (``contact.blocked``) and nothing else is written. An allowed one is a
``ContactAttempt`` with its audit event, plus what its outcome implies: a wrong number
marks that contact point invalid; a third party who refuses is never contacted again;
``disputes`` opens a Dispute, which pauses collection on the case until resolved. One
allowed under a compliance override records ``override:<rule id>`` among its rules, names
the override and its approver in its audit event, and counts a use of the override.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.choices import (
    CLOSED_STATUSES,
    REACHED_OUTCOMES,
    CaseStatus,
    Channel,
    DisputeStatus,
    Outcome,
    Party,
)
from cuishou.cases.models import Case, ContactAttempt, Dispute
from cuishou.cases.promises import promise_create
from cuishou.cases.selectors import case_work_require
from cuishou.compliance.check import ContactBlocked, Decision, contact_check
from cuishou.compliance.overrides import override_uses_record
from cuishou.core.timeutil import require_aware
from cuishou.portfolio.choices import ContactKind, ContactStatus
from cuishou.portfolio.models import ContactPoint, RelatedPerson

NOTES_MAX = 4000
# Channels that go to a phone number or an e-mail address.
_CHANNEL_KIND = {Channel.CALL: ContactKind.PHONE, Channel.SMS: ContactKind.PHONE}
_CHANNEL_KIND[Channel.EMAIL] = ContactKind.EMAIL


def _validate(
    *,
    case: Case,
    channel: str,
    party: str,
    outcome: str,
    contact_point: ContactPoint | None,
    related_person: RelatedPerson | None,
    attempted_at: dt.datetime,
    next_follow_up_at: dt.datetime | None,
    notes: str,
) -> dict[str, list[str]]:
    """Field → reasons; empty when the attempt is consistent."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if channel not in Channel.values:
        bad("channel", _("Unknown channel."))
    if outcome not in Outcome.values:
        bad("outcome", _("Unknown outcome."))
    if party not in Party.values:
        bad("party", _("Say who was reached."))
    if errors:
        return errors
    if outcome in REACHED_OUTCOMES and party == Party.NOBODY:
        bad("party", _("This outcome means somebody was reached: say who."))
    if outcome not in REACHED_OUTCOMES and party != Party.NOBODY:
        bad("party", _("Nobody was reached with this outcome."))
    if outcome == Outcome.THIRD_PARTY and party != Party.RELATED:
        bad("party", _("A third party reached is a related person: say which."))
    if party == Party.RELATED:
        if related_person is None:
            bad("related_person", _("Say which related person was reached."))
        elif related_person.debtor_id != case.debtor_id:
            bad("related_person", _("That person is not in this case's file."))
    elif related_person is not None and party == Party.DEBTOR:
        bad("related_person", _("The debtor was reached, not a related person."))
    kind = _CHANNEL_KIND.get(Channel(channel))
    if kind is not None:
        if contact_point is None:
            bad("contact_point", _("Say which number or address was used."))
        elif contact_point.debtor_id != case.debtor_id:
            bad("contact_point", _("That contact point is not in this case's file."))
        elif contact_point.kind != kind:
            bad("contact_point", _("That contact point cannot take this channel."))
        elif contact_point.status in (ContactStatus.INVALID, ContactStatus.DO_NOT_CONTACT):
            bad(
                "contact_point",
                _("That contact point is marked %(status)s.")
                % {"status": contact_point.get_status_display()},
            )
    elif contact_point is not None and contact_point.debtor_id != case.debtor_id:
        bad("contact_point", _("That contact point is not in this case's file."))
    if outcome == Outcome.WRONG_NUMBER and (
        contact_point is None or contact_point.kind != ContactKind.PHONE
    ):
        bad("outcome", _("A wrong number needs the number that was called."))
    if next_follow_up_at is not None and next_follow_up_at <= attempted_at:
        bad("next_follow_up_at", _("The next follow-up must be after this attempt."))
    if len(notes) > NOTES_MAX:
        bad("notes", _("Notes are limited to %(n)d characters.") % {"n": NOTES_MAX})
    return errors


def contact_attempt_log(
    *,
    actor: Any,
    case: Case,
    channel: str,
    party: str,
    outcome: str,
    contact_point: ContactPoint | None = None,
    related_person: RelatedPerson | None = None,
    notes: str = "",
    next_follow_up_at: dt.datetime | None = None,
    attempted_at: dt.datetime | None = None,
    purpose: str = "collect",
    promise_instalments: Sequence[tuple[dt.date, Decimal]] | None = None,
) -> ContactAttempt:
    """Check the contact with compliance, then record it and what its outcome implies.

    Raises ValidationError (field → reasons) for an inconsistent attempt,
    PermissionDenied outside the actor's scope, ContactBlocked when compliance refuses
    (the refusal is audited). ``promise_instalments`` ((due date, amount), …) records
    the promise of a ``ptp`` outcome in the same transaction."""
    case_work_require(actor, case)
    attempted_at = require_aware(attempted_at or timezone.now(), field="attempted_at")
    if next_follow_up_at is not None:
        require_aware(next_follow_up_at, field="next_follow_up_at")
    notes = (notes or "").strip()
    errors = _validate(
        case=case,
        channel=channel,
        party=party,
        outcome=outcome,
        contact_point=contact_point,
        related_person=related_person,
        attempted_at=attempted_at,
        next_follow_up_at=next_follow_up_at,
        notes=notes,
    )
    if errors:
        raise ValidationError(errors)
    if (
        related_person is not None
        and RelatedPerson.objects.filter(pk=related_person.pk, refused_contact=True).exists()
    ):
        errors["related_person"] = [_("This person refused further contact.")]
        raise ValidationError(errors)
    decision = contact_check(
        case=case,
        channel=channel,
        party=party,
        at=attempted_at,
        actor=actor,
        contact_point=contact_point,
        related_person=related_person,
        purpose=purpose,
        notes=notes,
    )
    if not decision.allowed:
        audit_record(
            actor=actor,
            action="contact.blocked",
            object_type="cases.case",
            object_id=case.pk,
            case_id=case.pk,
            summary=decision.message,
            after={
                "channel": channel,
                "party": party,
                "rules": decision.rule_ids,
                **_overrides(decision),
            },
        )
        raise ContactBlocked(decision)
    with transaction.atomic():
        attempt = ContactAttempt.objects.create(
            case=case,
            channel=channel,
            contact_point=contact_point,
            party=party,
            related_person=related_person if party == Party.RELATED else None,
            outcome=outcome,
            notes=notes,
            next_follow_up_at=next_follow_up_at,
            attempted_at=attempted_at,
            actor=actor,
            compliance_rules=decision.applied_ids,
        )
        override_uses_record(decision=decision, at=attempted_at)
        audit_record(
            actor=actor,
            action="contact.attempt",
            target=attempt,
            case_id=case.pk,
            summary=f"{channel} {party} {outcome}",
            after={
                "channel": channel,
                "party": party,
                "outcome": outcome,
                "contact_point_id": contact_point.pk if contact_point else None,
                "related_person_id": attempt.related_person_id,
                "next_follow_up_at": next_follow_up_at,
                "notes": notes,
                **_overrides(decision),
            },
        )
        if outcome == Outcome.WRONG_NUMBER and contact_point is not None:
            _contact_point_invalidate(actor=actor, case=case, contact_point=contact_point)
        if outcome == Outcome.REFUSES and related_person is not None and party == Party.RELATED:
            person = RelatedPerson.objects.select_for_update().get(pk=related_person.pk)
            if not person.refused_contact:
                person.refused_contact = True
                person.save(update_fields=["refused_contact", "updated_at"])
                audit_record(
                    actor=actor,
                    action="related.refused",
                    target=person,
                    case_id=case.pk,
                    summary="refused further contact",
                    after={"refused_contact": True},
                )
        if promise_instalments:
            promise_create(
                actor=actor, case=case, instalments=promise_instalments, contact_attempt=attempt
            )
        if outcome == Outcome.DISPUTES:
            dispute_open(
                actor=actor,
                case=case,
                reason=notes or _("Disputed on contact."),
                contact_attempt=attempt,
            )
    return attempt


def _overrides(decision: Decision) -> dict[str, Any]:
    """The audit event's ``overrides`` (rule, override, approver) when any lifted a rule."""
    return {"overrides": [o.record() for o in decision.overridden]} if decision.overridden else {}


def _contact_point_invalidate(*, actor: Any, case: Case, contact_point: ContactPoint) -> None:
    point = ContactPoint.objects.select_for_update().get(pk=contact_point.pk)
    if point.status == ContactStatus.INVALID:
        return
    before = point.status
    point.status = ContactStatus.INVALID
    point.save(update_fields=["status", "updated_at"])
    contact_point.status = point.status
    audit_record(
        actor=actor,
        action="contact.invalid",
        target=point,
        case_id=case.pk,
        summary="wrong number",
        before={"status": before},
        after={"status": ContactStatus.INVALID.value},
    )


@transaction.atomic
def dispute_open(
    *, actor: Any, case: Case, reason: str, contact_attempt: ContactAttempt | None = None
) -> Dispute:
    """Record the debtor's dispute and pause collection on the case."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say what the debtor disputes.")]})
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status in CLOSED_STATUSES:
        raise ValidationError({"case": [_("The case is closed.")]})
    dispute = Dispute.objects.create(
        case=locked,
        contact_attempt=contact_attempt,
        reason=reason,
        opened_at=timezone.now(),
        opened_by=actor if getattr(actor, "pk", None) else None,
    )
    before = locked.status
    if locked.status != CaseStatus.PAUSED:
        locked.status = CaseStatus.PAUSED
        locked.status_reason = f"dispute #{dispute.pk}"
        locked.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        actor=actor,
        action="dispute.open",
        target=dispute,
        case_id=locked.pk,
        summary=reason,
        before={"status": before},
        after={"status": locked.status, "reason": reason},
    )
    case.status, case.status_reason = locked.status, locked.status_reason
    return dispute


@transaction.atomic
def dispute_resolve(*, actor: Any, dispute: Dispute, resolution: str) -> Dispute:
    """Close the dispute with its resolution; collection resumes when no other dispute on
    the case is open."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": [_("Say how the dispute was resolved.")]})
    locked = Dispute.objects.select_for_update().select_related("case").get(pk=dispute.pk)
    if locked.status != DisputeStatus.OPEN:
        raise ValidationError({"dispute": [_("This dispute is already resolved.")]})
    case_work_require(actor, locked.case)
    locked.status = DisputeStatus.RESOLVED
    locked.resolution = resolution
    locked.resolved_at = timezone.now()
    locked.resolved_by = actor if getattr(actor, "pk", None) else None
    locked.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    case = Case.objects.select_for_update().get(pk=locked.case_id)
    before = case.status
    others_open = Dispute.objects.filter(case=case, status=DisputeStatus.OPEN).exists()
    if case.status == CaseStatus.PAUSED and not others_open:
        case.status = CaseStatus.OPEN
        case.status_reason = f"dispute #{locked.pk} resolved"
        case.save(update_fields=["status", "status_reason", "updated_at"])
    audit_record(
        actor=actor,
        action="dispute.resolve",
        target=locked,
        case_id=case.pk,
        summary=resolution,
        before={"status": before},
        after={"status": case.status, "resolution": resolution},
    )
    dispute.status, dispute.resolution = locked.status, locked.resolution
    return locked
