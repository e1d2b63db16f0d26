"""Sending a document: by SMS, e-mail, post (print batches and tracking numbers) or in
person (handed over on a field visit), and its delivery status afterwards.

Every send goes through the compliance engine's one check (``contact_check``) first,
with the document's text: a refused send is recorded as a ``blocked`` send with the
rules and why (audited as ``dispatch.blocked``) and ``ContactBlocked`` is raised; nothing
leaves. The template must still be sendable (approved, newest, unchanged). An allowed
send is recorded ``queued`` before it goes out, then ``sent`` with the provider's
reference or ``failed`` with the reason (after retries for passing failures): nothing is
marked sent that was not. A hand-over is recorded as it happened (the visit's own check
covers the visit).

Delivery status moves only forward (``choices.DELIVERY_MOVES``); each change is audited
on the case, so the case timeline shows sent, delivered, failed, signed and returned.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.choices import Party
from cuishou.cases.selectors import case_require_in_scope
from cuishou.compliance.check import ContactBlocked, Decision, contact_check
from cuishou.core.masking import mask_recipient
from cuishou.core.timeutil import require_aware, today_shanghai
from cuishou.notices.channels import email_send, sms_provider, with_retries
from cuishou.notices.choices import (
    CHECK_CHANNEL,
    DELIVERY_MOVES,
    LETTER_KINDS,
    DeliveryStatus,
    SendChannel,
    TemplateKind,
)
from cuishou.notices.models import Dispatch, Document, PrintBatch
from cuishou.notices.templates import template_require_sendable

RECEIPT_PERMISSION = "notices.add_signedreceipt"
SEND_PERMISSION = "notices.add_dispatch"
BATCH_PERMISSION = "notices.add_printbatch"
# Kinds sent as a notice (allowed after a request to stop contact, where the rules allow).
_NOTICE_KINDS = frozenset(
    {TemplateKind.LEGAL_NOTICE, TemplateKind.LAWYER_LETTER, TemplateKind.VALIDATION_NOTICE}
)


def _may_send(actor: Any, document: Document) -> None:
    if not actor.has_perm(SEND_PERMISSION):
        raise PermissionDenied(_("This role may not send notices."))
    case_require_in_scope(actor, document.case)


def _channel_errors(
    document: Document, channel: str, contact_point: Any, address: Any
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    letter = document.kind in LETTER_KINDS
    if channel not in SendChannel.values:
        errors["channel"] = [_("Unknown channel.")]
    elif channel == SendChannel.SMS and document.kind != TemplateKind.SMS:
        errors["channel"] = [_("Only an SMS text goes by SMS.")]
    elif channel == SendChannel.EMAIL and document.kind == TemplateKind.SMS:
        errors["channel"] = [_("An SMS text goes by SMS.")]
    elif channel in (SendChannel.POST, SendChannel.IN_PERSON) and not letter:
        errors["channel"] = [_("Only a letter goes by post or by hand.")]
    if errors:
        return errors
    case = document.case
    if channel in (SendChannel.SMS, SendChannel.EMAIL):
        kind = "phone" if channel == SendChannel.SMS else "email"
        if contact_point is None:
            errors["contact_point"] = [_("Say which number or address to send to.")]
        elif contact_point.debtor_id != case.debtor_id:
            errors["contact_point"] = [_("That contact point is not in this case's file.")]
        elif contact_point.kind != kind:
            errors["contact_point"] = [_("That contact point cannot take this channel.")]
        elif (contact_point.related_person_id or None) != (document.related_person_id or None):
            errors["contact_point"] = [_("That number or address is not the recipient's.")]
    if channel == SendChannel.POST:
        if address is None:
            errors["address"] = [_("Say which address to post it to.")]
        elif address.debtor_id != case.debtor_id:
            errors["address"] = [_("That address is not in this case's file.")]
        elif not address.is_valid:
            errors["address"] = [_("That address is marked invalid.")]
    return errors


def _party(document: Document) -> str:
    return Party.RELATED if document.related_person_id else Party.DEBTOR


def _snapshot(d: Dispatch) -> dict[str, Any]:
    return {
        "number": d.document.number,
        "kind": d.document.kind,
        "channel": d.channel,
        "status": d.status,
        "attempts": d.attempts,
        "reason": d.reason,
        "rules": d.compliance_rules,
        "provider_ref": d.provider_ref,
        "tracking_number": d.tracking_number,
    }


def send_check(
    *, document: Document, channel: str, contact_point: Any, at: dt.datetime
) -> Decision:
    """The compliance decision on sending ``document`` through ``channel`` now."""
    return contact_check(
        case=document.case,
        channel=CHECK_CHANNEL[SendChannel(channel)],
        party=_party(document),
        at=at,
        contact_point=contact_point,
        related_person=document.related_person,
        purpose="notice" if document.kind in _NOTICE_KINDS else "collect",
        text=f"{document.subject}\n{document.text}".strip(),
    )


def document_send(
    *,
    actor: Any,
    document: Document,
    channel: str,
    contact_point: Any = None,
    address: Any = None,
    at: dt.datetime | None = None,
) -> Dispatch:
    """Check with compliance and send (SMS, e-mail) or queue for the print batch (post).
    Raises ContactBlocked (after recording the blocked send), ValidationError,
    PermissionDenied. Returns the send, ``sent`` or ``failed`` (``queued`` for post)."""
    _may_send(actor, document)
    if channel == SendChannel.IN_PERSON:
        raise ValidationError({"channel": [_("A hand-over is recorded, not sent.")]})
    errors = _channel_errors(document, channel, contact_point, address)
    if errors:
        raise ValidationError(errors)
    template_require_sendable(document.template)
    at = require_aware(at or timezone.now())
    recipient = (
        contact_point.value
        if contact_point is not None
        else (address.text if address is not None else "")
    )
    decision = send_check(document=document, channel=channel, contact_point=contact_point, at=at)
    now = timezone.now()
    base = {
        "document": document,
        "case_id": document.case_id,
        "channel": channel,
        "contact_point": contact_point,
        "address": address,
        "recipient": recipient,
        "created_at": now,
        "status_at": now,
        "created_by": actor if getattr(actor, "pk", None) else None,
    }
    if not decision.allowed:
        with transaction.atomic():
            blocked = Dispatch.objects.create(
                **base,
                status=DeliveryStatus.BLOCKED,
                reason=decision.message,
                compliance_rules=decision.rule_ids,
            )
            audit_record(
                actor=actor,
                action="dispatch.blocked",
                target=blocked,
                case_id=document.case_id,
                summary=decision.message,
                after=_snapshot(blocked),
            )
        raise ContactBlocked(decision)
    with transaction.atomic():
        dispatch = Dispatch.objects.create(
            **base, status=DeliveryStatus.QUEUED, compliance_rules=decision.applied_ids
        )
        audit_record(
            actor=actor,
            action="dispatch.queue",
            target=dispatch,
            case_id=document.case_id,
            # The summary is shown in lists: the number or address masked (the full one
            # is in the send's record, ``after``).
            summary=f"{document.number} {channel} {mask_recipient(channel, recipient)}",
            after=_snapshot(dispatch),
        )
    if channel == SendChannel.POST:
        return dispatch
    if channel == SendChannel.SMS:
        provider = sms_provider()
        outcome = with_retries(
            lambda: provider.send(to=recipient, text=document.text, reference=document.number)
        )
    else:
        attachment = None
        if document.pdf is not None:
            attachment = (f"{document.number}.pdf", bytes(document.pdf), "application/pdf")
        outcome = with_retries(
            lambda: email_send(
                to=recipient,
                subject=document.subject or document.number,
                body=document.text,
                reference=document.number,
                attachment=attachment,
            )
        )
    return _went_out(
        actor=actor,
        dispatch=dispatch,
        ok=outcome.ok,
        attempts=outcome.attempts,
        provider_ref=outcome.provider_ref,
        reason=outcome.reason,
    )


def _went_out(
    *, actor: Any, dispatch: Dispatch, ok: bool, attempts: int, provider_ref: str, reason: str
) -> Dispatch:
    with transaction.atomic():
        d = (
            Dispatch.objects.select_for_update(of=("self",))
            .select_related("document")
            .get(pk=dispatch.pk)
        )
        d.status = DeliveryStatus.SENT if ok else DeliveryStatus.FAILED
        d.attempts, d.provider_ref, d.reason = attempts, provider_ref[:100], reason
        d.status_at = timezone.now()
        d.save(update_fields=["status", "attempts", "provider_ref", "reason", "status_at"])
        audit_record(
            actor=actor,
            action="dispatch.status",
            target=d,
            case_id=d.case_id,
            summary=f"{d.document.number} {d.channel} {d.status}",
            after=_snapshot(d),
        )
    return d


def dispatch_status_set(
    *, actor: Any, dispatch: Dispatch, status: str, reason: str = "", tracking_number: str = ""
) -> Dispatch:
    """Move a send's delivery status forward (delivered, failed, returned, signed).

    ``actor`` None or a name is the system (``"sms-provider"``: a delivery report); a
    person needs the send
    permission (the receipt permission for ``signed``) and the case in their scope. A
    letter marked returned by hand says why."""
    if actor is not None and not isinstance(actor, str):
        needed = RECEIPT_PERMISSION if status == DeliveryStatus.SIGNED else SEND_PERMISSION
        if not actor.has_perm(needed):
            raise PermissionDenied(_("This role may not record delivery."))
        case_require_in_scope(actor, dispatch.document.case)
        if status == DeliveryStatus.RETURNED and not reason.strip():
            raise ValidationError({"reason": [_("Say why the letter came back.")]})
    with transaction.atomic():
        d = (
            Dispatch.objects.select_for_update(of=("self",))
            .select_related("document")
            .get(pk=dispatch.pk)
        )
        if status not in DELIVERY_MOVES.get(d.status, frozenset()):
            raise ValidationError(
                {
                    "status": [
                        _("A send that is %(old)s cannot become %(new)s.")
                        % {
                            "old": d.get_status_display(),
                            "new": DeliveryStatus(status).label
                            if status in DeliveryStatus.values
                            else status,
                        }
                    ]
                }
            )
        before = _snapshot(d)
        d.status, d.status_at = status, timezone.now()
        fields = ["status", "status_at"]
        if reason:
            d.reason = reason.strip()[:2000]
            fields.append("reason")
        if tracking_number:
            d.tracking_number = tracking_number.strip()[:64]
            fields.append("tracking_number")
        d.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="dispatch.status",
            target=d,
            case_id=d.case_id,
            summary=f"{d.document.number} {d.channel} {d.status}",
            before=before,
            after=_snapshot(d),
        )
    return d


def document_hand_over(
    *,
    actor: Any,
    document: Document,
    recipient_name: str,
    place: str = "",
    at: dt.datetime | None = None,
) -> Dispatch:
    """Record a letter handed over in person on a field visit (delivered on the spot)."""
    _may_send(actor, document)
    errors = _channel_errors(document, SendChannel.IN_PERSON, None, None)
    if not (recipient_name or "").strip():
        errors["recipient_name"] = [_("Say who took it.")]
    if errors:
        raise ValidationError(errors)
    at = require_aware(at or timezone.now())
    with transaction.atomic():
        d = Dispatch.objects.create(
            document=document,
            case_id=document.case_id,
            channel=SendChannel.IN_PERSON,
            recipient=f"{recipient_name.strip()} {place.strip()}".strip()[:300],
            status=DeliveryStatus.DELIVERED,
            created_at=at,
            status_at=at,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="dispatch.hand_over",
            target=d,
            case_id=document.case_id,
            summary=f"{document.number} handed to {recipient_name}",
            after={**_snapshot(d), "recipient": d.recipient, "at": at},
        )
    return d


# --- post: print batches and tracking numbers --------------------------------------------


def print_batch_create(*, actor: Any, dispatches: Sequence[Dispatch]) -> PrintBatch:
    """One PDF of the queued letters (each starts on a new page; the stored, hashed PDFs
    page for page) and the mailing list (CSV); the letters are sent (to the post)."""
    from pypdf import PdfWriter

    if not actor.has_perm(BATCH_PERMISSION):
        raise PermissionDenied(_("This role may not make print batches."))
    ids = [d.pk for d in dispatches]
    with transaction.atomic():
        rows = list(
            Dispatch.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("document", "address", "case")
            .order_by("pk")
        )
        for d in rows:
            case_require_in_scope(actor, d.case)
        bad = [
            d.document.number
            for d in rows
            if d.channel != SendChannel.POST
            or d.status != DeliveryStatus.QUEUED
            or d.document.pdf is None
        ]
        if bad or not rows or len(rows) != len(set(ids)):
            raise ValidationError(
                {
                    "dispatches": [
                        _("Only queued letters for the post: %(bad)s") % {"bad": ", ".join(bad)}
                    ]
                }
            )
        writer = PdfWriter()
        out = io.StringIO()
        mailing = csv.writer(out)
        mailing.writerow(["document_number", "recipient", "address", "tracking_number"])
        for d in rows:
            writer.append(io.BytesIO(bytes(d.document.pdf or b"")))
            mailing.writerow([d.document.number, d.document.recipient_name, d.recipient, ""])
        buffer = io.BytesIO()
        writer.write(buffer)
        pdf = buffer.getvalue()
        now = timezone.now()
        batch = PrintBatch.objects.create(
            number=f"P{today_shanghai():%Y%m%d}-{secrets.token_hex(3).upper()}",
            created_at=now,
            created_by=actor if getattr(actor, "pk", None) else None,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            mailing_list=out.getvalue(),
            letters=len(rows),
        )
        audit_record(
            actor=actor,
            action="print_batch.create",
            target=batch,
            summary=f"{batch.number}: {len(rows)} letters",
            after={"number": batch.number, "letters": len(rows), "sha256": batch.sha256},
        )
        for d in rows:
            d.print_batch = batch
            d.status, d.status_at = DeliveryStatus.SENT, now
            d.save(update_fields=["print_batch", "status", "status_at"])
            audit_record(
                actor=actor,
                action="dispatch.status",
                target=d,
                case_id=d.case_id,
                summary=f"{d.document.number} post sent in {batch.number}",
                after={**_snapshot(d), "print_batch": batch.number},
            )
    return batch


def tracking_numbers_record(*, actor: Any, batch: PrintBatch, text: str) -> int:
    """Record tracking numbers from lines ``document number, tracking number`` (CSV, the
    mailing list's columns also work). All lines or none; the error names the line."""
    if not actor.has_perm(BATCH_PERMISSION):
        raise PermissionDenied(_("This role may not record tracking numbers."))
    by_number = {d.document.number: d for d in batch.dispatches.select_related("document").all()}
    pairs: list[tuple[Dispatch, str]] = []
    errors = []
    for n, row in enumerate(csv.reader(io.StringIO(text or "")), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0] == "document_number":
            continue
        number, tracking = cells[0].upper(), cells[-1]
        if len(cells) < 2:
            errors.append(
                _("line %(n)d: write the document number and the tracking number") % {"n": n}
            )
        elif number not in by_number:
            errors.append(
                _("line %(n)d: %(number)s is not in this batch") % {"n": n, "number": number}
            )
        else:
            pairs.append((by_number[number], tracking))
    if errors:
        raise ValidationError({"tracking": errors})
    with transaction.atomic():
        for d, tracking in pairs:
            Dispatch.objects.filter(pk=d.pk).update(tracking_number=tracking[:64])
            audit_record(
                actor=actor,
                action="dispatch.tracking",
                target=d,
                case_id=d.case_id,
                summary=f"{d.document.number} tracking {tracking}",
                after={"number": d.document.number, "tracking_number": tracking},
            )
    return len(pairs)


# What an SMS provider's delivery report may say, and what the send becomes.
_REPORTED = {"delivered": DeliveryStatus.DELIVERED, "failed": DeliveryStatus.FAILED}


def sms_delivery_report(*, provider_ref: str, status: str, reason: str = "") -> Dispatch:
    """The provider says an SMS it took (``provider_ref``, the id it answered) was
    delivered or failed. The same report twice changes nothing; a report for an SMS that
    is already further on (signed, say) is refused."""
    new = _REPORTED.get((status or "").strip().lower())
    if new is None:
        raise ValidationError({"status": [_("A delivery report says delivered or failed.")]})
    send = (
        Dispatch.objects.filter(channel=SendChannel.SMS, provider_ref=provider_ref)
        .select_related("document")
        .first()
        if provider_ref
        else None
    )
    if send is None:
        raise Dispatch.DoesNotExist(_("No SMS has the provider id %(id)s.") % {"id": provider_ref})
    if send.status == new:
        return send
    if new not in DELIVERY_MOVES.get(send.status, frozenset()):
        raise DeliveryConflictError(
            _("The SMS %(id)s is %(status)s already.")
            % {"id": provider_ref, "status": send.get_status_display().lower()}
        )
    failed = new == DeliveryStatus.FAILED
    return dispatch_status_set(
        actor="sms-provider", dispatch=send, status=new, reason=reason if failed else ""
    )


class DeliveryConflictError(Exception):
    """A delivery report for a send that is already further on."""
