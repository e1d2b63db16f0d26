"""Back office: client notice profiles are edited here (audited); templates, documents,
sends, receipts and campaigns are shown read-only (they change only through the
services, which audit every step)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cuishou.audit.services import audit_record, model_snapshot
from cuishou.core.admin import ReadOnlyAdmin
from cuishou.notices.models import (
    Campaign,
    ClientNoticeProfile,
    Dispatch,
    Document,
    NoticeTemplate,
    PrintBatch,
    SignedReceipt,
    SmsOutbox,
)


@admin.register(ClientNoticeProfile)
class ClientNoticeProfileAdmin(admin.ModelAdmin):
    list_display = ("client", "office_name", "office_phone", "deadline_days", "dispute_days")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="notice_profile.change" if change else "notice_profile.create",
            target=obj,
            summary=obj.office_name,
            after=model_snapshot(obj),
        )


_ReadOnly = ReadOnlyAdmin


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(_ReadOnly):
    list_display = ("key", "version", "kind", "language", "audience", "status", "decided_by")
    list_filter = ("kind", "language", "status")
    search_fields = ("key", "name")


@admin.register(Document)
class DocumentAdmin(_ReadOnly):
    list_display = ("number", "case", "kind", "language", "recipient_name", "created_at")
    list_filter = ("kind",)
    search_fields = ("number",)
    exclude = ("pdf",)


@admin.register(Dispatch)
class DispatchAdmin(_ReadOnly):
    list_display = ("document", "channel", "recipient", "status", "attempts", "status_at")
    list_filter = ("channel", "status")
    search_fields = ("document__number", "tracking_number")


@admin.register(SignedReceipt)
class SignedReceiptAdmin(_ReadOnly):
    list_display = ("document", "signer_name", "signed_on", "matched_by", "uploaded_at")
    exclude = ("content",)


@admin.register(PrintBatch)
class PrintBatchAdmin(_ReadOnly):
    list_display = ("number", "letters", "created_at", "created_by")
    exclude = ("pdf",)


@admin.register(Campaign)
class CampaignAdmin(_ReadOnly):
    list_display = ("name", "channel", "status", "total", "sent", "blocked", "failed")


@admin.register(SmsOutbox)
class SmsOutboxAdmin(_ReadOnly):
    list_display = ("to", "reference", "created_at")
