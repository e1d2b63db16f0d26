"""A receipt for a posted payment: a PDF with Chinese text, kept with its SHA-256; a
second request makes a new receipt rather than rendering the first again."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zlib
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case, Receipt
from cuishou.cases.receipts import receipt_create
from cuishou.engine.batch import batch_run
from cuishou.payments.services import payment_post
from tests.factories import (
    ClientFactory,
    DebtorFactory,
    InstallmentFactory,
    LoanFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def pdf_fonts(pdf: bytes) -> list[bytes]:
    """The base font names in a PDF (its objects sit in compressed streams)."""
    streams = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return re.findall(rb"/BaseFont\s*/([^\s/<>\[\]]+)", pdf + b"".join(streams))


D = dt.date.fromisoformat


def test_a_receipt_renders_with_chinese_text_and_a_new_request_makes_a_new_one() -> None:
    loan = LoanFactory(
        client=ClientFactory(), debtor=DebtorFactory(name="张三"), disbursed_on=D("2026-05-01")
    )
    InstallmentFactory(
        loan=loan,
        seq=1,
        due_on=D("2026-10-10"),
        principal_due=Decimal("1000.00"),
        interest_due=Decimal("50.00"),
    )
    batch_run(as_of=D("2026-11-10"))
    finance = UserFactory(role="finance")
    payment = payment_post(
        actor=finance, loan=loan, amount=Decimal("300.00"), value_date=D("2026-11-11")
    )

    first = receipt_create(actor=finance, payment=payment)
    second = receipt_create(actor=finance, payment=payment)

    pdf = bytes(first.pdf)
    assert pdf.startswith(b"%PDF")
    assert first.sha256 == hashlib.sha256(pdf).hexdigest()
    # The Noto CJK font is embedded: the Chinese text (还款回执, the debtor's name) is set.
    assert any(b"CJK" in font for font in pdf_fonts(pdf))
    assert first.number != second.number and first.pk != second.pk
    assert Receipt.objects.filter(payment=payment).count() == 2
    assert first.case == Case.objects.get(debtor=loan.debtor)
    event = AuditEvent.objects.filter(action="receipt.create").order_by("seq").first()
    assert event is not None and event.after["sha256"] == first.sha256

    with pytest.raises(PermissionDenied):
        receipt_create(actor=UserFactory(role="compliance_officer"), payment=payment)
