"""A signed receipt is uploaded against the document's number or its QR code's address;
the send becomes signed, on the case timeline."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.core.timeutil import today_shanghai
from cuishou.notices.documents import document_render, verify_url
from cuishou.notices.receipts import receipt_upload
from cuishou.notices.sends import document_hand_over
from tests.notices.conftest import approved, default_spec

SCAN = b"\x89PNG\r\n\x1a\n" + b"signed" * 100


def _handed(world):
    doc = document_render(
        actor=world.chen,
        case=world.case,
        template=approved(world.ren, world.gu, **default_spec("collection-notice-zh")),
    )
    return doc, document_hand_over(actor=world.chen, document=doc, recipient_name="张三")


@pytest.mark.parametrize("by", ["number", "qr"])
def test_a_receipt_matches_by_number_or_qr_and_the_send_is_signed(world, by):
    doc, send = _handed(world)
    reference = doc.number.lower() if by == "number" else verify_url(doc.number)
    receipt = receipt_upload(
        actor=world.chen,
        reference=reference,
        content=SCAN,
        file_name="scan.png",
        content_type="image/png",
        signer_name="张三",
        signed_on=today_shanghai(),
    )
    assert receipt.document == doc and receipt.matched_by == by
    assert receipt.sha256 == hashlib.sha256(SCAN).hexdigest()
    send.refresh_from_db()
    assert send.status == "signed"
    assert AuditEvent.objects.filter(action="dispatch.status", case_id=world.case.pk).exists()
    assert AuditEvent.objects.filter(action="receipt.upload", case_id=world.case.pk).exists()


def test_an_unknown_number_is_refused_by_name(world):
    _handed(world)
    with pytest.raises(ValidationError, match="N20000101-DEADBEEF"):
        receipt_upload(
            actor=world.chen,
            reference="N20000101-DEADBEEF",
            content=SCAN,
            file_name="scan.png",
            content_type="image/png",
            signer_name="张三",
            signed_on=today_shanghai(),
        )
