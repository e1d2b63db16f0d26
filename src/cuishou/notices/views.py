"""Pages of written collection. Thin: validate, call one service or selector, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cuishou.notices.selectors import document_by_number, document_get_for_user


def verify(request: HttpRequest, number: str) -> HttpResponse:
    """Public: what the QR code opens. Says whether the number is one of ours and shows
    the document's kind, date and SHA-256, nothing about the person or the debt."""
    document = document_by_number(number)
    return render(
        request,
        "notices/verify.html",
        {"number": number, "document": document},
        status=200 if document is not None else 404,
    )


@login_required
def document_pdf(request: HttpRequest, number: str) -> HttpResponse:
    document = document_get_for_user(request.user, number)
    if document.pdf is None:
        response = HttpResponse(document.text, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{document.number}.pdf"'
    response["X-Content-SHA256"] = document.sha256
    return response
