"""Writes to the portfolio: clients, and (in ``importer``) whole portfolio files; what the
compliance engine reads about reaching a debtor — consent and opt-outs per channel, the
workplace numbers and the employer's ban on calls at work, the first-party switch."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record, model_snapshot
from cuishou.cases.models import Case
from cuishou.core.timeutil import require_aware
from cuishou.engine.marks import recompute_mark_add
from cuishou.portfolio.choices import (
    CONSENT_CHANNELS,
    ConsentSource,
    ConsentState,
    PolicyPack,
)
from cuishou.portfolio.importer import ImportResult, import_portfolio
from cuishou.portfolio.models import (
    Client,
    ContactConsent,
    ContactPoint,
    Debtor,
    Loan,
    PenaltyPause,
)

__all__ = [
    "ImportResult",
    "client_add",
    "contact_consent_record",
    "debtor_employer_forbids_set",
    "import_portfolio",
    "penalty_pause_create",
    "penalty_pause_end",
]

_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def client_add(*, actor: Any, code: str, name: str, pack: str = PolicyPack.CN) -> Client:
    """Create a client (委托方). Raises ValidationError for a bad or taken code."""
    code = (code or "").strip()
    name = (name or "").strip()
    if not _CODE_RE.match(code):
        raise ValidationError(
            _("a client code is 1–32 letters, digits, '.', '_' or '-': %(code)r") % {"code": code},
            code="client_code",
        )
    if not name:
        raise ValidationError(_("a client needs a name"), code="client_name")
    if pack not in PolicyPack.values:
        raise ValidationError(
            _("unknown policy pack %(pack)r (use %(choices)s)")
            % {"pack": pack, "choices": " or ".join(PolicyPack.values)},
            code="client_pack",
        )
    with transaction.atomic():
        if Client.objects.filter(code=code).exists():
            raise ValidationError(
                _("client %(code)s already exists") % {"code": code}, code="client_exists"
            )
        client = Client.objects.create(code=code, name=name, policy_pack=pack)
        audit_record(
            actor=actor,
            action="client.create",
            target=client,
            summary=f"{code} {name}",
            after=model_snapshot(client, ["code", "name", "policy_pack"]),
        )
    return client


def _debtor_case_id(loan: Loan) -> int | None:
    """The loan's debtor's case with the loan's client, if there is one."""
    return (
        Case.objects.filter(client_id=loan.client_id, debtor_id=loan.debtor_id)
        .values_list("pk", flat=True)
        .first()
    )


def _pause_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("a penalty pause needs a reason"), code="pause_reason")
    limit = PenaltyPause._meta.get_field("reason").max_length or 200
    if len(reason) > limit:
        raise ValidationError(
            _("the reason is longer than %(n)d characters") % {"n": limit}, code="pause_reason"
        )
    return reason


def _pause_dates(pause: PenaltyPause) -> str:
    if pause.ends_on is None:
        return _("from %(start)s, open-ended") % {"start": pause.starts_on.isoformat()}
    return _("%(start)s to %(end)s") % {
        "start": pause.starts_on.isoformat(),
        "end": pause.ends_on.isoformat(),
    }


def penalty_pause_create(
    *,
    actor: Any,
    loan: Loan,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    reason: str,
) -> PenaltyPause:
    """Pause (停息) the loan's penalty accrual on days ``starts_on`` … ``ends_on`` (inclusive;
    open-ended without ``ends_on``). Refuses a pause overlapping another of the same loan.
    A pause starting before today marks the debtor's history for rewriting from then."""
    reason = _pause_reason(reason)
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError(
            _("a pause cannot end (%(end)s) before it starts (%(start)s)")
            % {"end": ends_on.isoformat(), "start": starts_on.isoformat()},
            code="pause_dates",
        )
    with transaction.atomic():
        # The loan row serialises pauses of one loan, so two overlapping ones cannot both pass.
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        overlapping = PenaltyPause.objects.filter(loan_id=locked.pk).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on)
        )
        if ends_on is not None:
            overlapping = overlapping.filter(starts_on__lte=ends_on)
        existing = overlapping.order_by("starts_on").first()
        if existing is not None:
            raise ValidationError(
                _("loan %(contract)s already has a penalty pause %(dates)s that overlaps")
                % {"contract": locked.contract_no, "dates": _pause_dates(existing)},
                code="pause_overlap",
            )
        pause = PenaltyPause.objects.create(
            loan=locked,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
            created_by_id=actor.pk if isinstance(actor, models.Model) else None,
        )
        audit_record(
            actor=actor,
            action="loan.penalty_pause",
            target=locked,
            case_id=_debtor_case_id(locked),
            summary=f"penalty paused {starts_on.isoformat()}–"
            f"{ends_on.isoformat() if ends_on else ''}: {reason}",
            after={
                "pause_id": pause.pk,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "reason": reason,
            },
        )
        recompute_mark_add(
            client_id=locked.client_id,
            debtor_id=locked.debtor_id,
            from_date=starts_on,
            reason=f"penalty pause {pause.pk} from {starts_on.isoformat()}",
        )
    return pause


def penalty_pause_end(
    *, actor: Any, pause: PenaltyPause, ends_on: dt.date, reason: str
) -> PenaltyPause:
    """End an open-ended penalty pause on ``ends_on`` (the last paused day). Penalty
    accrues again from the day after; when that day is past, the debtor's history is
    marked for rewriting from it."""
    reason = _pause_reason(reason)
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=pause.loan_id)
        locked = PenaltyPause.objects.select_for_update().get(pk=pause.pk)
        if locked.ends_on is not None:
            raise ValidationError(
                _("this penalty pause already ends on %(end)s") % {"end": locked.ends_on},
                code="pause_ended",
            )
        if ends_on < locked.starts_on:
            raise ValidationError(
                _("a pause cannot end (%(end)s) before it starts (%(start)s)")
                % {"end": ends_on.isoformat(), "start": locked.starts_on.isoformat()},
                code="pause_dates",
            )
        locked.ends_on = ends_on
        locked.save(update_fields=["ends_on"])
        audit_record(
            actor=actor,
            action="loan.penalty_pause_end",
            target=loan,
            case_id=_debtor_case_id(loan),
            summary=f"penalty pause {locked.starts_on.isoformat()}– ends "
            f"{ends_on.isoformat()}: {reason}",
            before={"pause_id": locked.pk, "ends_on": None},
            after={"pause_id": locked.pk, "ends_on": ends_on, "reason": reason},
        )
        first_accrual_day = ends_on + dt.timedelta(days=1)
        recompute_mark_add(
            client_id=loan.client_id,
            debtor_id=loan.debtor_id,
            from_date=first_accrual_day,
            reason=f"penalty pause {locked.pk} ended {ends_on.isoformat()}",
        )
    pause.ends_on = ends_on
    return locked


# --- reaching the debtor: consent per channel, the employer's ban on calls at work -------
# (The workplace mark and the first-party switch are set in the admin, audited there;
# an import may add the workplace mark: ``portfolio.admin``, ``importer.writer``.)


def _user(actor: Any) -> Any:
    return actor if isinstance(actor, models.Model) else None


def contact_consent_record(
    *,
    actor: Any,
    contact_point: ContactPoint,
    channel: str,
    state: str,
    source: str,
    at: dt.datetime | None = None,
    note: str = "",
    case_id: int | None = None,
) -> ContactConsent:
    """Add an entry to the contact point's consent history for ``channel``: consent given
    or withdrawn (an opt-out) at ``at`` (now by default), from ``source``. The latest
    entry decides; nothing is overwritten. Audited (``contact.opt_out`` or
    ``contact.consent``). Raises ValidationError naming the field."""
    errors: dict[str, list[str]] = {}
    takes = CONSENT_CHANNELS.get(contact_point.kind, ())
    if channel not in takes:
        errors["channel"] = [
            _("A %(kind)s takes %(channels)s, not %(channel)s.")
            % {
                "kind": contact_point.get_kind_display(),
                "channels": ", ".join(takes),
                "channel": channel,
            }
        ]
    if state not in ConsentState.values:
        errors["state"] = [_("Say whether consent was given or withdrawn.")]
    if source not in ConsentSource.values:
        errors["source"] = [_("Say where the consent or opt-out came from.")]
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = [_("A note has at most %(n)d characters.") % {"n": 200}]
    at = require_aware(at or timezone.now(), field="at")
    if at > timezone.now() + dt.timedelta(minutes=5):
        errors["at"] = [_("A consent or an opt-out is recorded when it was given, not ahead.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        entry = ContactConsent.objects.create(
            contact_point=contact_point,
            channel=channel,
            state=state,
            at=at,
            source=source,
            note=note,
            recorded_by=_user(actor),
        )
        contact_consent_audit(actor=actor, entry=entry, case_id=case_id)
    return entry


def contact_consent_audit(*, actor: Any, entry: ContactConsent, case_id: int | None) -> None:
    """The audit event of a consent entry (``contact.opt_out`` or ``contact.consent``),
    written by ``contact_consent_record`` and by the admin."""
    withdrawn = entry.state == ConsentState.WITHDRAWN
    audit_record(
        actor=actor,
        action="contact.opt_out" if withdrawn else "contact.consent",
        target=entry.contact_point,
        case_id=case_id,
        summary=f"{entry.channel} {entry.state} ({entry.source})"
        + (f": {entry.note}" if entry.note else ""),
        after={
            "consent_id": entry.pk,
            "channel": entry.channel,
            "state": entry.state,
            "source": entry.source,
            "at": entry.at,
            "note": entry.note,
        },
    )


def debtor_employer_forbids_set(
    *,
    actor: Any,
    debtor: Debtor,
    since: dt.date | None,
    case_id: int | None = None,
) -> Debtor:
    """Record the debtor's answer that the employer forbids calls at work, from ``since``
    (or, with None, that it no longer holds). Audited (``debtor.employer_forbids``);
    saying it again changes nothing."""
    with transaction.atomic():
        locked = Debtor.objects.select_for_update().get(pk=debtor.pk)
        before = locked.employer_forbids_calls_since
        # Said again, the first day stands; "no longer" clears it.
        if (before is not None) == (since is not None):
            debtor.employer_forbids_calls_since = before
            return locked
        locked.employer_forbids_calls_since = since
        locked.save(update_fields=["employer_forbids_calls_since", "updated_at"])
        audit_record(
            actor=actor,
            action="debtor.employer_forbids",
            target=locked,
            case_id=case_id,
            summary="employer forbids calls at work" if since else "employer allows calls at work",
            before={"employer_forbids_calls_since": before},
            after={"employer_forbids_calls_since": since},
        )
    debtor.employer_forbids_calls_since = since
    return locked
