"""Documents: a notice rendered for a case from an approved template, with a unique
number and a QR code (the verification address with the number), kept with its SHA-256.

A letter (``LETTER_KINDS``) is rendered to PDF with WeasyPrint and the Noto CJK fonts and
hashed as PDF; an SMS or e-mail text is hashed as text. A document is never rendered
again in place: a new render is a new document with a new number. The rendered text is
checked again here for prohibited language (and, for a third party, the debt) — the
figures and names that filled the template are text too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.services import audit_record
from cuishou.cases.models import Case
from cuishou.cases.receipts import render_pdf
from cuishou.cases.selectors import case_require_in_scope
from cuishou.compliance.language import debt_disclosure, prohibited_language
from cuishou.core.timeutil import today_shanghai
from cuishou.notices.choices import LETTER_KINDS, Audience, TemplateKind
from cuishou.notices.context import notice_context, office_of
from cuishou.notices.models import Document, NoticeTemplate
from cuishou.notices.sandbox import render_text
from cuishou.notices.templates import template_require_sendable

RENDER_PERMISSION = "notices.add_document"


def document_number(day: dt.date | None = None) -> str:
    """``N`` + the day + 10 random hex digits (a collision is retried by the caller)."""
    return f"N{(day or today_shanghai()):%Y%m%d}-{secrets.token_hex(5).upper()}"


def document_numbers(n: int, day: dt.date | None = None) -> list[str]:
    """``n`` distinct numbers that no stored document has (one query per round)."""
    out: set[str] = set()
    while len(out) < n:
        fresh = {document_number(day) for _ in range(n - len(out))} - out
        taken = set(Document.objects.filter(number__in=fresh).values_list("number", flat=True))
        out |= fresh - taken
    return sorted(out)


def verify_url(number: str) -> str:
    """The public verification address of a document (what its QR code holds)."""
    return settings.CUISHOU_PUBLIC_URL + reverse("notices:verify", args=[number])


def qr_data_uri(number: str) -> str:
    import segno

    return str(segno.make(verify_url(number), error="m").svg_data_uri(scale=4, border=1))


def number_from_scan(text: str) -> str:
    """The document number in what a scanner read (the QR's address) or a person typed."""
    text = (text or "").strip()
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    return text.upper()


def letter_html(
    *, number: str, subject: str, text: str, language: str, office: dict[str, Any]
) -> str:
    return render_to_string(
        "notices/letter_pdf.html",
        {
            "number": number,
            "subject": subject,
            "paragraphs": [p.strip("\n") for p in text.split("\n\n") if p.strip()],
            "language": language,
            "office": office,
            "qr": qr_data_uri(number),
            "verify_url": verify_url(number),
        },
    )


def _check_text(text: str, audience: str) -> None:
    hits = prohibited_language(text)
    errors = []
    if hits:
        errors.append(
            _("The rendered text has prohibited language: %(found)s")
            % {"found": "; ".join(f"“{h.found_in(text)}”" for h in hits)}
        )
    if audience == Audience.THIRD_PARTY:
        told = debt_disclosure(text)
        if told:
            errors.append(
                _("The rendered text mentions the debt, and it goes to a third party: %(found)s")
                % {"found": "; ".join(f"“{h.found_in(text)}”" for h in told)}
            )
    if errors:
        raise ValidationError({"text": errors})


def document_render(
    *,
    actor: Any,
    case: Case,
    template: NoticeTemplate,
    related_person: Any = None,
    recipient_name: str = "",
    as_of: dt.date | None = None,
    visitors: Sequence[str] = (),
) -> Document:
    """Render ``template`` for ``case`` into a new document (PDF for a letter)."""
    if not actor.has_perm(RENDER_PERMISSION):
        raise PermissionDenied(_("This role may not make notices."))
    case_require_in_scope(actor, case)
    template_require_sendable(template)
    if related_person is not None:
        if related_person.debtor_id != case.debtor_id:
            raise ValidationError(
                {"related_person": [_("That person is not in this case's file.")]}
            )
        if related_person.is_third_party and template.audience != Audience.THIRD_PARTY:
            raise ValidationError(
                {"template": [_("This template is for the debtor: a third party never gets it.")]}
            )
    signer = None
    if template.kind == TemplateKind.LAWYER_LETTER:
        if not actor.has_role(Role.LEGAL_OFFICER):
            raise PermissionDenied(_("A lawyer's letter is made and signed by a legal officer."))
        signer = actor
    if template.kind == TemplateKind.INTRODUCTION and not visitors:
        raise ValidationError({"visitors": [_("Name the field visitors it introduces.")]})
    today = today_shanghai()
    as_of = as_of or today
    if template.audience == Audience.THIRD_PARTY:
        recipient = recipient_name or (related_person.name if related_person is not None else "")
    else:
        recipient = recipient_name or case.debtor.name
    for _attempt in range(5):
        number = document_number(today)
        if not Document.objects.filter(number=number).exists():
            break
    context, figures = notice_context(
        case=case,
        audience=template.audience,
        number=number,
        as_of=as_of,
        today=today,
        recipient=recipient,
        collector=case.assignee,
        signer=signer,
        visitors=visitors,
    )
    subject = render_text(template.subject, context).strip()
    text = render_text(template.body, context).strip()
    _check_text(f"{subject}\n{text}", template.audience)
    html, pdf = "", None
    if template.kind in LETTER_KINDS:
        html = letter_html(
            number=number,
            subject=subject,
            text=text,
            language=template.language,
            office=office_of(case.client),
        )
        pdf = render_pdf(html)
        digest = hashlib.sha256(pdf).hexdigest()
    else:
        digest = hashlib.sha256(f"{subject}\n{text}".encode()).hexdigest()
    with transaction.atomic():
        document = Document.objects.create(
            number=number,
            case=case,
            template=template,
            kind=template.kind,
            language=template.language,
            audience=template.audience,
            related_person=related_person,
            recipient_name=recipient or "—",
            subject=subject,
            text=text,
            html=html,
            pdf=pdf,
            sha256=digest,
            as_of=as_of,
            figures=_plain(figures),
            signed_by=signer,
            created_at=timezone.now(),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="document.render",
            target=document,
            case_id=case.pk,
            summary=f"{document.number} {template.key} v{template.version}",
            after={
                "number": number,
                "kind": template.kind,
                "language": template.language,
                "template": template.key,
                "version": template.version,
                "sha256": digest,
                "as_of": as_of,
                "balance": figures.get("balance", {}).get("total"),
            },
        )
    return document


def _plain(value: Any) -> Any:
    from cuishou.audit.services import jsonable

    return jsonable(value)
