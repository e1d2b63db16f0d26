"""Signed receipts (回执): a photo or scan of a document signed for, uploaded against its
number (typed, or the address its QR code holds, as a scanner reads it), kept as
evidence with its SHA-256. The document's latest send becomes ``signed`` (on the case
timeline)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import audit_record
from cuishou.cases.selectors import case_require_in_scope
from cuishou.notices.choices import DELIVERY_MOVES, DeliveryStatus
from cuishou.notices.documents import number_from_scan
from cuishou.notices.models import Dispatch, SignedReceipt
from cuishou.notices.selectors import document_by_number
from cuishou.notices.sends import RECEIPT_PERMISSION as RECEIPT_PERMISSION_CODE
from cuishou.notices.sends import dispatch_status_set

RECEIPT_PERMISSION = RECEIPT_PERMISSION_CODE
MAX_BYTES = 10 * 1024 * 1024
_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"}


def receipt_upload(
    *,
    actor: Any,
    reference: str,
    content: bytes,
    file_name: str,
    content_type: str,
    signer_name: str,
    signed_on: dt.date,
    signer_relation: str = "",
) -> SignedReceipt:
    """Keep the scan of a signed receipt for the document ``reference`` names (its number
    or its QR code's address) and mark the document's latest send signed."""
    if not actor.has_perm(RECEIPT_PERMISSION):
        raise PermissionDenied(_("This role may not record signed receipts."))
    number = number_from_scan(reference)
    document = document_by_number(number)
    errors: dict[str, list[str]] = {}
    if document is None:
        errors["reference"] = [_("No document has the number %(number)s.") % {"number": number}]
    if not content:
        errors["file"] = [_("Attach the photo or scan of the signed receipt.")]
    elif len(content) > MAX_BYTES:
        errors["file"] = [_("The file is larger than 10 MB.")]
    elif content_type not in _TYPES:
        errors["file"] = [_("A photo (JPEG, PNG, WebP, HEIC) or a PDF.")]
    if not (signer_name or "").strip():
        errors["signer_name"] = [_("Say who signed.")]
    if signed_on > timezone.localdate():
        errors["signed_on"] = [_("The signing date is in the future.")]
    if errors:
        raise ValidationError(errors)
    assert document is not None
    case_require_in_scope(actor, document.case)
    send = (
        Dispatch.objects.filter(document=document)
        .exclude(status__in=[DeliveryStatus.BLOCKED, DeliveryStatus.FAILED])
        .order_by("-created_at", "-id")
        .first()
    )
    with transaction.atomic():
        receipt = SignedReceipt.objects.create(
            document=document,
            dispatch=send,
            file_name=(file_name or "receipt")[:255],
            content_type=content_type,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            signer_name=signer_name.strip()[:100],
            signer_relation=(signer_relation or "").strip()[:100],
            signed_on=signed_on,
            matched_by="qr" if "/" in (reference or "") else "number",
            uploaded_at=timezone.now(),
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="receipt.upload",
            target=receipt,
            case_id=document.case_id,
            summary=f"{document.number} signed by {receipt.signer_name}",
            after={
                "number": document.number,
                "sha256": receipt.sha256,
                "signer": receipt.signer_name,
                "relation": receipt.signer_relation,
                "signed_on": signed_on,
                "matched_by": receipt.matched_by,
            },
        )
        if send is not None and DeliveryStatus.SIGNED in DELIVERY_MOVES.get(send.status, ()):
            dispatch_status_set(actor=actor, dispatch=send, status=DeliveryStatus.SIGNED)
    return receipt
