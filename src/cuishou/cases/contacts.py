"""Writes of the collector's day: contact attempts and disputes.

Every contact goes through ``cuishou.compliance.check.contact_check`` first; a refused
one is audited (``contact.blocked``) and nothing else is written. An allowed one is a
``ContactAttempt`` with its audit event, plus what its outcome implies: a wrong number
marks that contact point invalid; a third party who refuses is never contacted again;
``disputes`` opens a Dispute, which pauses collection on the case until resolved. One
allowed under a compliance override records ``override:<rule id>`` among its rules, names
the override and its approver in its audit event, and counts a use of the override.

What the person reached said about being contacted is recorded with the attempt: an
opt-out of a channel (or consent to it again) goes on the number or address used when it
takes that channel, else on each of that person's numbers or addresses that do
(``ContactConsent``, from a call, a visit, a reply or a letter); the debtor's "my employer
forbids calls at work" goes on the debtor from the attempt's day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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
from cuishou.portfolio.choices import (
    CONSENT_CHANNELS,
    ConsentSource,
    ConsentState,
    ContactKind,
    ContactStatus,
)
from cuishou.portfolio.models import ContactPoint, RelatedPerson
from cuishou.portfolio.services import contact_consent_record, debtor_employer_forbids_set

NOTES_MAX = 4000
# Channels that go to a phone number or an e-mail address.
_CHANNEL_KIND = {Channel.CALL: ContactKind.PHONE, Channel.SMS: ContactKind.PHONE}
_CHANNEL_KIND[Channel.EMAIL] = ContactKind.EMAIL
# Where what the person said came from, by the attempt's channel.
_CONSENT_SOURCE = {
    Channel.CALL: ConsentSource.CALL,
    Channel.SMS: ConsentSource.REPLY,
    Channel.EMAIL: ConsentSource.REPLY,
    Channel.LETTER: ConsentSource.WRITTEN,
    Channel.VISIT: ConsentSource.VISIT,
}


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
    opt_outs: Sequence[str] = (),
    consents: Sequence[str] = (),
    employer_forbids_calls: bool = False,
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
    for name, channels in (("opt_outs", opt_outs), ("consents", consents)):
        if set(channels) - {"call", "sms", "email"}:
            bad(name, _("Say calls, SMS or e-mail."))
        elif channels and party == Party.NOBODY:
            bad(name, _("Nobody was reached, so nobody said so."))
    if set(opt_outs) & set(consents):
        bad("consents", _("A channel is opted out of or consented to, not both."))
    if employer_forbids_calls and party != Party.DEBTOR:
        bad("employer_forbids_calls", _("Only the debtor can say the employer forbids calls."))
    return errors


def _consent_points(
    case: Case,
    channel: str,
    contact_point: ContactPoint | None,
    person: RelatedPerson | None,
) -> list[ContactPoint]:
    """The numbers or addresses an opt-out of (or consent to) ``channel`` said on this
    attempt applies to: the one used when it takes the channel, else each of the person's
    that does (the debtor's own, or the related person's)."""
    if contact_point is not None and channel in CONSENT_CHANNELS.get(contact_point.kind, ()):
        return [contact_point]
    kinds = [kind for kind, takes in CONSENT_CHANNELS.items() if channel in takes]
    points = ContactPoint.objects.filter(debtor_id=case.debtor_id, kind__in=kinds)
    points = points.filter(related_person=person) if person else points.filter(related_person=None)
    return list(points.order_by("pk"))


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
    opt_outs: Sequence[str] = (),
    consents: Sequence[str] = (),
    employer_forbids_calls: bool = False,
) -> ContactAttempt:
    """Check the contact with compliance, then record it and what its outcome implies.

    Raises ValidationError (field → reasons) for an inconsistent attempt,
    PermissionDenied outside the actor's scope, ContactBlocked when compliance refuses
    (the refusal is audited). ``promise_instalments`` ((due date, amount), …) records
    the promise of a ``ptp`` outcome in the same transaction; ``opt_outs`` and
    ``consents`` (channels: call, sms, email) what the person reached said about being
    contacted, ``employer_forbids_calls`` the debtor's answer about calls at work."""
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
        opt_outs=opt_outs,
        consents=consents,
        employer_forbids_calls=employer_forbids_calls,
    )
    if errors:
        raise ValidationError(errors)
    person = related_person if party == Party.RELATED else None
    said = [(ch, ConsentState.WITHDRAWN) for ch in opt_outs] + [
        (ch, ConsentState.GIVEN) for ch in consents
    ]
    targets = {ch: _consent_points(case, ch, contact_point, person) for ch, _state in said}
    for channel_said, found in targets.items():
        if not found:
            errors.setdefault("opt_outs" if channel_said in opt_outs else "consents", []).append(
                _("There is no number or address on file for %(channel)s.")
                % {"channel": Channel(channel_said).label}
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
        for channel_said, state in said:
            for point in targets[channel_said]:
                contact_consent_record(
                    actor=actor,
                    contact_point=point,
                    channel=channel_said,
                    state=state,
                    source=_CONSENT_SOURCE[Channel(channel)],
                    at=attempted_at,
                    note=f"contact attempt #{attempt.pk}",
                    case_id=case.pk,
                )
        if employer_forbids_calls:
            debtor_employer_forbids_set(
                actor=actor,
                debtor=case.debtor,
                since=attempted_at.astimezone(ZoneInfo(_debtor_zone(case))).date(),
                case_id=case.pk,
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


def _debtor_zone(case: Case) -> str:
    from cuishou.compliance.check import debtor_zone
    from cuishou.compliance.packs import pack_get

    return debtor_zone(case.debtor, pack_get(case.client.policy_pack))[0]


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
