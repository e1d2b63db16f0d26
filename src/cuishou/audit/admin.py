"""The audit log in the admin: read-only, never added to, changed or deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cuishou.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_id", "case_id")
    list_filter = ("action", "object_type")
    search_fields = ("=seq", "actor_label", "action", "object_id", "summary", "=case_id")
    date_hierarchy = "at"
    ordering = ("-seq",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
