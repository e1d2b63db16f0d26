"""Reads of written collection: templates, a case's documents and sends, a document by
its number, campaigns."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from cuishou.cases.models import Case
from cuishou.cases.selectors import case_visible_queryset
from cuishou.notices.choices import DeliveryStatus, SendChannel, TemplateStatus
from cuishou.notices.models import Campaign, Dispatch, Document, NoticeTemplate, PrintBatch


def template_list() -> QuerySet[NoticeTemplate]:
    """Every version, newest first within each key, with its author and approver."""
    return NoticeTemplate.objects.select_related("created_by", "decided_by").order_by(
        "key", "-version"
    )


def templates_sendable() -> list[NoticeTemplate]:
    """The approved versions that are the newest of their key."""
    latest: dict[str, NoticeTemplate] = {}
    for t in NoticeTemplate.objects.order_by("key", "-version"):
        latest.setdefault(t.key, t)
    return [t for t in latest.values() if t.status == TemplateStatus.APPROVED]


def document_by_number(number: str) -> Document | None:
    return (
        Document.objects.select_related("case", "template")
        .filter(number=(number or "").strip().upper())
        .first()
    )


def document_get_for_user(user: Any, number: str) -> Document:
    """The document if its case is in ``user``'s scope; otherwise Http404."""
    document = document_by_number(number)
    if document is None or not case_visible_queryset(user).filter(pk=document.case_id).exists():
        raise Http404("No such document")
    return document


def case_documents(case: Case) -> list[Document]:
    """The case's documents, newest first, each with its sends and receipts (no PDF)."""
    return list(
        Document.objects.filter(case=case)
        .defer("pdf", "html")
        .select_related("template", "created_by", "related_person")
        .prefetch_related("dispatches", "receipts")
        .order_by("-created_at", "-id")
    )


def case_dispatches(case: Case) -> QuerySet[Dispatch]:
    return Dispatch.objects.filter(case=case).select_related("document").order_by("-created_at")


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("template", "client", "created_by").order_by(
        "-created_at", "-id"
    )


def post_queue_for_user(user: Any) -> QuerySet[Dispatch]:
    """The letters waiting for the print batch on the cases ``user`` may see, oldest first."""
    return (
        Dispatch.objects.filter(
            channel=SendChannel.POST,
            status=DeliveryStatus.QUEUED,
            case__in=case_visible_queryset(user),
        )
        .select_related("document", "case__debtor")
        .order_by("created_at", "id")
    )


def print_batches_for_user(user: Any) -> QuerySet[PrintBatch]:
    """Print batches holding a letter on a case ``user`` may see, newest first."""
    return (
        PrintBatch.objects.filter(dispatches__case__in=case_visible_queryset(user))
        .distinct()
        .defer("pdf", "mailing_list")
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def print_batch_get_for_user(user: Any, number: str) -> PrintBatch:
    batch = PrintBatch.objects.filter(number=number).first()
    if batch is None or not print_batches_for_user(user).filter(pk=batch.pk).exists():
        raise Http404
    return batch
