"""Documents: rendered from an approved template with the case's figures, numbered,
with a QR code, hashed, never re-rendered in place; verifiable by number."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.core.timeutil import today_shanghai
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.notices.documents import document_render, verify_url
from cuishou.notices.models import Document
from cuishou.portfolio.models import Loan
from tests.notices.conftest import approved, default_spec
from tests.notices.pdf import pdf_text, squeeze


def _balance(world) -> str:
    loan = Loan.objects.get(contract_no="HT-ACME-1")
    return f"{loan_figures_as_of(loan_id=loan.pk, as_of=today_shanghai()).balance:,.2f}"


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("collection-notice-zh", ["催款通知书", "张三", "HT-ACME-1", "剩余欠款总额", "艾克米银行"]),
        ("collection-notice-en", ["Collection notice", "张三", "HT-ACME-1", "Whole balance"]),
        ("legal-notice-zh", ["法律告知书", "民法典", "HT-ACME-1"]),
    ],
)
def test_a_letter_pdf_shows_the_case_figures_in_its_language(world, key, words):
    template = approved(world.ren, world.gu, **default_spec(key))
    doc = document_render(actor=world.chen, case=world.case, template=template)

    text = squeeze(pdf_text(bytes(doc.pdf)))
    for word in words:
        assert squeeze(word) in text, word
    assert _balance(world) in text
    assert doc.number in text
    assert doc.sha256 == hashlib.sha256(bytes(doc.pdf)).hexdigest()
    assert doc.figures["balance"]["total"] == str(
        loan_figures_as_of(
            loan_id=Loan.objects.get(contract_no="HT-ACME-1").pk, as_of=today_shanghai()
        ).balance
    )


def test_the_validation_notice_itemizes_the_debt_and_the_parts_add_up(world):
    template = approved(world.ren, world.gu, **default_spec("validation-notice-en"))
    doc = document_render(actor=world.chen, case=world.case, template=template)
    item = {k: v for k, v in doc.figures["itemization"].items()}
    from decimal import Decimal

    owed, interest, fees, paid, total = (
        Decimal(item[k]) for k in ("owed", "interest", "fees", "payments", "total")
    )
    assert owed + interest + fees - paid == total
    text = squeeze(pdf_text(bytes(doc.pdf)))
    assert squeeze(f"Total amount of the debt now: {total:,.2f}") in text
    assert squeeze("How can you dispute the debt?") in text
    assert "cfpb.gov" in text


def test_each_render_is_a_new_document_with_a_new_number(world):
    template = approved(world.ren, world.gu, **default_spec("collection-notice-zh"))
    a = document_render(actor=world.chen, case=world.case, template=template)
    b = document_render(actor=world.chen, case=world.case, template=template)
    assert a.number != b.number and a.sha256 != b.sha256
    a.refresh_from_db()
    assert hashlib.sha256(bytes(a.pdf)).hexdigest() == a.sha256  # the first is as it was
    assert Document.objects.filter(case=world.case).count() == 2


def test_the_qr_code_points_to_the_verification_page_which_shows_the_hash(world, client):
    template = approved(world.ren, world.gu, **default_spec("collection-notice-en"))
    doc = document_render(actor=world.chen, case=world.case, template=template)
    assert doc.number in verify_url(doc.number)
    assert "data:image/svg+xml" in doc.html  # the QR code is in the letter

    page = client.get(f"/notices/verify/{doc.number}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    body = page.content.decode()
    assert doc.sha256 in body and "张三" not in body  # no personal data on the public page
    assert client.get("/notices/verify/N20000101-00000000/").status_code == 404


def test_a_lawyers_letter_is_signed_by_the_legal_officer(world):
    template = approved(world.ren, world.gu, **default_spec("lawyer-letter-zh"))
    with pytest.raises(PermissionDenied, match="legal officer"):
        document_render(actor=world.chen, case=world.case, template=template)
    doc = document_render(actor=world.wang, case=world.case, template=template)
    assert doc.signed_by == world.wang
    assert squeeze("法务：王律师") in squeeze(pdf_text(bytes(doc.pdf)))


def test_a_letter_of_introduction_names_the_visitors_and_not_the_debt(world):
    template = approved(world.ren, world.gu, **default_spec("introduction-zh"))
    doc = document_render(
        actor=world.chen, case=world.case, template=template, visitors=["陈明", "刘强"]
    )
    text = squeeze(pdf_text(bytes(doc.pdf)))
    assert "陈明、刘强" in text
    assert "张三" not in text and "欠款" not in text and doc.figures == {}


def test_a_third_party_never_gets_a_text_meant_for_the_debtor(world):
    template = approved(world.ren, world.gu, **default_spec("sms-reminder-zh"))
    with pytest.raises(ValidationError, match="third party never gets it"):
        document_render(
            actor=world.chen, case=world.case, template=template, related_person=world.colleague
        )


def test_an_unapproved_template_renders_nothing(world):
    from cuishou.notices.templates import template_create

    draft = template_create(actor=world.ren, **default_spec("collection-notice-zh"))
    with pytest.raises(ValidationError, match="not approved"):
        document_render(actor=world.chen, case=world.case, template=draft)
    assert not Document.objects.exists()
